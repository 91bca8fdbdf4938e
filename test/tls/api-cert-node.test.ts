// api-cert-node.test.ts — goal: a real gateway node with the default `apiTls: node-key` serves, on its API
// port, its Ed25519 node certificate to a client that offers only Ed25519 and a P-256 certificate issued by
// its node key to a client that offers only ECDSA (a browser); the P-256 key is kept owner-only in the data
// directory, the node logs the certificate's fingerprints, and after a restart it serves the same certificate
// (so a browser's accepted exception and an SPKI pin keep holding); the pinned client reads through it.
// Method: LocalCluster with one gateway node (a real process), node:tls clients with restricted signature
// algorithms, the files in the node's data directory, its log.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { LocalCluster } from '../../cluster/local-cluster.js';
import { presentedNodeKey } from '../../src/tls/api-cert.js';
import { apiCertificateFiles } from '../../src/tls/api-cert-store.js';

/** presented is the certificate the node's API presents to a client offering only `sigalgs`. */
function presented(url: string, sigalgs: string): Promise<X509Certificate> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), rejectUnauthorized: false, sigalgs, minVersion: 'TLSv1.3' }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.destroy();
      if (cert === undefined) reject(new Error('no certificate')); else resolve(cert);
    });
    socket.once('error', reject);
  });
}

describe('a node serves the API certificate for browsers beside its node certificate, and keeps it across a restart', { timeout: 180_000 }, () => {
  let cluster: LocalCluster;
  let url: string;

  before(async () => {
    cluster = await LocalCluster.create({ dir: join(mkdtempSync(join(tmpdir(), 'qg-api-cert-node-')), 'cluster'), nodes: 1, application: 'quorumgate' });
    cluster.start(1);
    await cluster.waitForLeader(60_000);
    url = cluster.apiUrl(1);
  });

  after(async () => {
    await cluster?.destroy();
  });

  test('Ed25519-only clients get the node certificate, ECDSA-only clients the P-256 one from the data directory; both stand for the node key', async () => {
    const nodeKey = cluster.nodes[0]!.publicKey;
    const ed = await presented(url, 'ed25519');
    assert.equal(ed.subject, 'CN=quorumgate node 1');
    assert.equal(Buffer.from(presentedNodeKey(ed, new Date())).toString('hex'), nodeKey);
    const ec = await presented(url, 'ecdsa_secp256r1_sha256');
    assert.equal(ec.subject, 'CN=quorumgate node 1 API');
    assert.equal(ec.issuer, 'CN=quorumgate node 1');
    assert.equal(Buffer.from(presentedNodeKey(ec, new Date())).toString('hex'), nodeKey);
    const stored = cluster.apiCertificate(1);
    assert.ok(stored !== undefined);
    assert.equal(ec.fingerprint256, stored.sha256);
    assert.match(ec.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    assert.equal(statSync(apiCertificateFiles(join(cluster.nodeDir(1), 'data')).keyFile).mode & 0o777, 0o600);
    const log = readFileSync(join(cluster.nodeDir(1), 'node.log'), 'utf8');
    assert.ok(log.includes(`"sha256":"${stored.sha256}"`) && log.includes(`"spkiSha256":"${stored.spkiSha256}"`) && log.includes('"issued":"a new key"'), 'the node logs the fingerprints');
    assert.equal((await cluster.fetch(`${url}/healthz`)).status, 200, 'the pinned client reads through it');
  });

  test('after a restart the node serves the same P-256 certificate', async () => {
    const before = (await presented(url, 'ecdsa_secp256r1_sha256')).fingerprint256;
    await cluster.stop(1);
    cluster.start(1);
    await cluster.waitForLeader(60_000);
    assert.equal((await presented(url, 'ecdsa_secp256r1_sha256')).fingerprint256, before);
    assert.match(readFileSync(join(cluster.nodeDir(1), 'node.log'), 'utf8'), /"issued":"kept from before"/);
  });
});
