// peer-certificate.test.ts — goal: the pinning rules that decide who the far end of a TLS
// connection is, one table row per rule: the node id comes from the certificate's subject, the key
// from its Ed25519 public key, and the pair is accepted only when the membership names that key for
// that id (and, for a dialer, when it is the node and key it dialed).
// Method: real certificates from src/tls/node-cert.ts parsed by node:crypto, a table membership;
// the TLS handshake itself is exercised on real sockets in tls.test.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createNodeCertificate } from '../../src/tls/node-cert.js';
import { checkDialer, checkListener, generateNodeIdentity, nodeCommonName } from '../../src/transport/index.js';
import type { NodeIdentity } from '../../src/transport/index.js';
import { Membership } from './helpers.js';

async function certificateOf(identity: NodeIdentity, commonName = nodeCommonName(identity.nodeId)): Promise<X509Certificate> {
  return new X509Certificate((await createNodeCertificate(identity.privateKey, { commonName })).certPem);
}

const node1 = generateNodeIdentity(1);
const node2 = generateNodeIdentity(2);
const membership = new Membership();
membership.add(node1);
membership.add(node2);

describe('the listener authenticates a dialer by its certificate and the membership', () => {
  test('a member with its own key is accepted as the node its certificate names', async () => {
    const peer = checkDialer(await certificateOf(node2), 1, membership.isMember);
    assert.equal(peer.nodeId, 2);
    assert.deepEqual(peer.publicKey, node2.publicKey);
  });

  test('refusals name what was wrong', async () => {
    const impostor = generateNodeIdentity(2);
    const cases: [string, X509Certificate | undefined, string, RegExp][] = [
      ['no certificate', undefined, 'TRANSPORT_NO_CERTIFICATE', /the client presented no certificate/],
      ['a subject that names no node', await certificateOf(node2, 'somebody'), 'TRANSPORT_CERTIFICATE_SUBJECT', /subject "CN=somebody" does not name a node/],
      ['node id 0', await certificateOf(node2, 'quorumgate node 0'), 'TRANSPORT_CERTIFICATE_SUBJECT', /does not name a node/],
      ['this node\'s own id', await certificateOf(node2, nodeCommonName(1)), 'TRANSPORT_HANDSHAKE_FAILED', /claims this node's own id 1/],
      ['another key for a member\'s id', await certificateOf(impostor), 'TRANSPORT_NOT_MEMBER', /node 2 with key [0-9a-f]{64} is not a member/],
      ['a node id the membership does not have', await certificateOf(generateNodeIdentity(9)), 'TRANSPORT_NOT_MEMBER', /node 9 with key/],
    ];
    for (const [what, certificate, code, reason] of cases) {
      assert.throws(() => checkDialer(certificate, 1, membership.isMember), (error: Error & { code?: string }) => {
        assert.equal(error.code, code, what);
        assert.match(error.message, reason, what);
        return true;
      }, what);
    }
  });
});

describe('a dialer authenticates the listener it dialed', () => {
  test('the dialed node with the key from the peer list is accepted; another key, another node or a non-member is not', async () => {
    const expected = { nodeId: 2, publicKey: node2.publicKey };
    const own = await certificateOf(node2);
    const otherKey = await certificateOf(generateNodeIdentity(2));
    const otherNode = await certificateOf(node2, nodeCommonName(3));
    assert.equal(checkListener(own, expected, membership.isMember).nodeId, 2);
    assert.throws(() => checkListener(undefined, expected, membership.isMember), /the server presented no certificate/);
    assert.throws(() => checkListener(otherKey, expected, membership.isMember), /node 2 presented key [0-9a-f]{64}, expected/);
    assert.throws(() => checkListener(otherNode, expected, membership.isMember), /dialed node 2, but node 3 answered/);
    const removed = new Membership();
    removed.add(node1);
    assert.throws(() => checkListener(own, expected, removed.isMember), /node 2 with key [0-9a-f]{64} is not a member/);
  });
});
