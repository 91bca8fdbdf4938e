// Goal: a node's TLS certificate carries exactly its Ed25519 node key, so pinning the key from the
// membership authenticates the peer; a TLS 1.3 handshake between two such certificates succeeds and
// each side reads the other's key; any other kind of certificate is refused with a clear error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { connect, createServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { CertificateKeyError, certificateEd25519Key, createNodeCertificate, sameKey } from '../../src/tls/node-cert.js';
import { generateNodeIdentity } from '../../src/transport/keys.js';

test('the certificate carries the node key and names the given addresses', async () => {
  const id = generateNodeIdentity(1);
  const cert = await createNodeCertificate(id.privateKey, { commonName: 'quorumgate node 1', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'] });
  assert.ok(sameKey(cert.publicKey, id.publicKey));
  const parsed = new X509Certificate(cert.certPem);
  assert.ok(sameKey(certificateEd25519Key(parsed), id.publicKey));
  assert.match(parsed.subject, /CN=quorumgate node 1/);
  assert.match(parsed.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
  assert.match(parsed.subjectAltName ?? '', /DNS:localhost/);
  assert.ok(parsed.verify(parsed.publicKey), 'self-signed with the node key');
});

test('the same key and time give the same certificate; another key gives another', async () => {
  const id = generateNodeIdentity(1);
  const now = new Date('2026-12-06T00:00:00Z');
  const a = await createNodeCertificate(id.privateKey, { commonName: 'n1', now });
  const b = await createNodeCertificate(id.privateKey, { commonName: 'n1', now });
  assert.equal(a.certPem, b.certPem);
  const other = await createNodeCertificate(generateNodeIdentity(2).privateKey, { commonName: 'n1', now });
  assert.ok(!sameKey(certificateEd25519Key(other.certPem), id.publicKey));
});

test('a certificate for a non-Ed25519 key is refused, and so is a non-Ed25519 private key', async () => {
  const rsa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await assert.rejects(createNodeCertificate(rsa.privateKey, { commonName: 'x' }), CertificateKeyError);
});

test('two nodes complete a mutually authenticated TLS 1.3 handshake and read each other\'s key', async () => {
  const server = generateNodeIdentity(1);
  const client = generateNodeIdentity(2);
  const sc = await createNodeCertificate(server.privateKey, { commonName: 'n1', ipAddresses: ['127.0.0.1'] });
  const cc = await createNodeCertificate(client.privateKey, { commonName: 'n2' });
  const seen: Uint8Array[] = [];
  const srv = createServer({ cert: sc.certPem, key: sc.keyPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, (socket) => {
    const peer = socket.getPeerX509Certificate();
    if (peer) seen.push(certificateEd25519Key(peer));
    socket.end('ok');
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  try {
    const port = (srv.address() as AddressInfo).port;
    const { version, key, body } = await new Promise<{ version: string; key: Uint8Array; body: string }>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, cert: cc.certPem, key: cc.keyPem, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, () => {
        const peer = socket.getPeerX509Certificate();
        if (!peer) return reject(new Error('no peer certificate'));
        let body = '';
        socket.on('data', (chunk) => { body += chunk.toString(); });
        socket.on('end', () => resolve({ version: socket.getProtocol() ?? '', key: certificateEd25519Key(peer), body }));
      });
      socket.on('error', reject);
    });
    assert.equal(version, 'TLSv1.3');
    assert.ok(sameKey(key, server.publicKey));
    assert.equal(body, 'ok');
    assert.equal(seen.length, 1);
    assert.ok(sameKey(seen[0]!, client.publicKey));
  } finally {
    srv.close();
  }
});
