// api-tls.test.ts — goal: the API's HTTPS set-up (src/api/app.ts) serves several certificates at once and
// presents, per handshake, the one the client can verify: with the node-key preference, a client that offers
// Ed25519 (an OpenSSL client such as qgate or curl) gets the node certificate, one that offers only ECDSA P-256
// (as Chromium does) gets the P-256 certificate; a renewal swaps the certificates for new handshakes without a
// restart, and a renewal that fails keeps the current ones; only TLS 1.3 is spoken.
// Method: buildApp with a stand-in runtime, listening on a loopback port; node:tls clients with restricted
// signature algorithms; the renewal interval shortened to 50 ms.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { connect } from 'node:tls';
import { buildApp, type ApiApp, type ApiTlsCredential } from '../../src/api/index.js';
import type { RuntimeApi } from '../../src/api/deps.js';
import { createApiCertificate } from '../../src/tls/api-cert.js';
import { NODE_KEY_SIGNATURE_ALGORITHMS } from '../../src/node/api-tls.js';
import { createNodeCertificate } from '../../src/tls/node-cert.js';
import { generateNodeIdentity } from '../../src/transport/keys.js';

const NAMES = { nodeCommonName: 'quorumgate node 1', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] };
const node = generateNodeIdentity(1);
const apiKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const apiKeyPem = apiKey.export({ format: 'pem', type: 'pkcs8' }).toString();

/** runtime answers /healthz as a one-node leader (nothing else is asked here). */
const runtime = {
  status: () => ({ id: 1, role: 'leader', leader: 1, term: 1, commit: 0, applied: 0, snapshotIndex: 0, lastIndex: 0, voters: [1], learners: [], removed: false }),
} as unknown as RuntimeApi<unknown>;

/** handshake connects with `options` and returns the certificate the server presented and the TLS version. */
function handshake(port: number, options: { sigalgs?: string; maxVersion?: 'TLSv1.2' }): Promise<{ cert: X509Certificate; version: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => {
      const cert = socket.getPeerX509Certificate();
      const version = socket.getProtocol() ?? '';
      socket.destroy();
      if (cert === undefined) reject(new Error('no certificate')); else resolve({ cert, version });
    });
    socket.once('error', reject);
  });
}

describe('the API serves a node certificate and a P-256 certificate, and renews them in place', () => {
  let app: ApiApp;
  let port: number;
  let renewed: ApiTlsCredential[] | Error | undefined;
  let first: string;
  let nodeCredential: ApiTlsCredential;

  before(async () => {
    const nodeCertificate = await createNodeCertificate(node.privateKey, { commonName: NAMES.nodeCommonName, ipAddresses: ['127.0.0.1'] });
    nodeCredential = { certPem: nodeCertificate.certPem, keyPem: nodeCertificate.keyPem };
    first = createApiCertificate(node.privateKey, apiKey, NAMES, new Date(Date.now() - 86_400_000));
    app = await buildApp({ runtime }, undefined, {
      credentials: [{ certPem: first, keyPem: apiKeyPem }, nodeCredential],
      signatureAlgorithms: NODE_KEY_SIGNATURE_ALGORITHMS,
      renewal: {
        intervalMs: 50,
        renew: () => {
          const next = renewed;
          renewed = undefined;
          if (next instanceof Error) throw next;
          return next;
        },
      },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as { port: number }).port;
  });

  after(async () => {
    await app?.close();
  });

  test('a client offering Ed25519 gets the node certificate; one offering only ECDSA P-256 gets the P-256 one', async () => {
    for (const sigalgs of [undefined, 'ed25519', 'ecdsa_secp256r1_sha256:ed25519']) {
      const ed = await handshake(port, sigalgs === undefined ? {} : { sigalgs });
      assert.equal(ed.cert.publicKey.asymmetricKeyType, 'ed25519', `offering ${sigalgs ?? 'OpenSSL\'s defaults'}`);
      assert.equal(ed.cert.subject, 'CN=quorumgate node 1');
    }
    const ec = await handshake(port, { sigalgs: 'ecdsa_secp256r1_sha256' });
    assert.equal(ec.cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(ec.cert.subject, 'CN=quorumgate node 1 API');
    assert.equal(ec.version, 'TLSv1.3');
  });

  test('TLS 1.2 is refused', async () => {
    await assert.rejects(handshake(port, { maxVersion: 'TLSv1.2' }), /protocol version|unsupported protocol|alert/i);
  });

  test('a renewal swaps the certificate for new handshakes, without a restart; a failed one keeps the current certificate', async () => {
    renewed = new Error('disk full');
    while (renewed !== undefined) await new Promise((resolve) => setTimeout(resolve, 25));
    assert.equal((await handshake(port, { sigalgs: 'ecdsa_secp256r1_sha256' })).cert.toString(), new X509Certificate(first).toString());
    const next = createApiCertificate(node.privateKey, apiKey, NAMES, new Date());
    renewed = [{ certPem: next, keyPem: apiKeyPem }, nodeCredential];
    const deadline = Date.now() + 5_000;
    let presented = '';
    while (Date.now() < deadline && presented !== new X509Certificate(next).fingerprint256) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      presented = (await handshake(port, { sigalgs: 'ecdsa_secp256r1_sha256' })).cert.fingerprint256;
    }
    assert.equal(presented, new X509Certificate(next).fingerprint256);
    assert.equal((await handshake(port, { sigalgs: 'ed25519' })).cert.subject, 'CN=quorumgate node 1', 'the node certificate is still served');
  });
});
