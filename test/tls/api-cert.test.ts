// Goal: the API certificate for browsers (src/tls/api-cert.ts) is a P-256 certificate that stands for exactly
// one node key — the Ed25519 key that signed it and that it names — and only while it is valid; a leaf signed
// by another key than it names, an expired or not-yet-valid one, one that does not name a node's API, an
// ECDSA self-signed one and a key of another kind are each refused with a message saying why.
// Method: real certificates issued with the code under test, or made by openssl (a self-signed ECDSA leaf),
// parsed by node:crypto; a table of refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AuthorityKeyIdentifier, Extension, KeyIdentifier, id_ce_authorityKeyIdentifier } from '@peculiar/asn1-x509';
import {
  API_CERT_BACKDATE_MS, API_CERT_VALIDITY_DAYS, apiCertificateNodeKey, certificateFingerprints, createApiCertificate, presentedNodeKey,
} from '../../src/tls/api-cert.js';
import type { ApiCertificateNames } from '../../src/tls/api-cert.js';
import { CertificateKeyError, createNodeCertificate, sameKey } from '../../src/tls/node-cert.js';
import { issueCertificate } from '../../src/tls/x509.js';
import { generateNodeIdentity, type NodeIdentity } from '../../src/transport/keys.js';

const NOW = new Date('2026-12-06T12:00:00Z');
const DAY_MS = 86_400_000;
const NAMES: ApiCertificateNames = { nodeCommonName: 'quorumgate node 2', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] };
const node = generateNodeIdentity(2);
const other = generateNodeIdentity(3);
const apiKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

test('the API certificate is a P-256 leaf issued by the node key, names the node\'s API and its addresses, and stands for the node key', () => {
  const cert = new X509Certificate(createApiCertificate(node.privateKey, apiKey, NAMES, NOW));
  assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.ok(cert.checkPrivateKey(apiKey));
  assert.equal(cert.issuer, 'CN=quorumgate node 2');
  assert.equal(cert.subject, 'CN=quorumgate node 2 API');
  assert.equal(cert.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1');
  assert.equal(cert.ca, false);
  assert.match(cert.keyUsage?.join(',') ?? '', /1\.3\.6\.1\.5\.5\.7\.3\.1/, 'extended key usage: TLS server');
  assert.ok(cert.verify(createPublicKey(node.privateKey)), 'signed by the node key');
  assert.equal(new Date(cert.validFrom).getTime(), NOW.getTime() - API_CERT_BACKDATE_MS);
  assert.equal(new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime(), API_CERT_VALIDITY_DAYS * DAY_MS);
  assert.ok(sameKey(apiCertificateNodeKey(cert, NOW), node.publicKey));
  assert.ok(sameKey(presentedNodeKey(cert, NOW), node.publicKey));
});

test('the node certificate stands for its own key as before', async () => {
  const cert = new X509Certificate((await createNodeCertificate(node.privateKey, { commonName: 'quorumgate node 2' })).certPem);
  assert.ok(sameKey(presentedNodeKey(cert, NOW), node.publicKey));
});

test('a leaf signed by another node key stands for that key, not this node\'s (the pin check then refuses it)', () => {
  const cert = new X509Certificate(createApiCertificate(other.privateKey, apiKey, NAMES, NOW));
  const key = presentedNodeKey(cert, NOW);
  assert.ok(sameKey(key, other.publicKey));
  assert.ok(!sameKey(key, node.publicKey));
});

test('the fingerprints are those a browser and Chromium\'s SPKI pin use', () => {
  const pem = createApiCertificate(node.privateKey, apiKey, NAMES, NOW);
  const fingerprints = certificateFingerprints(pem);
  const cert = new X509Certificate(pem);
  assert.equal(fingerprints.sha256, createHash('sha256').update(cert.raw).digest('hex').toUpperCase().match(/../g)!.join(':'));
  assert.equal(fingerprints.spkiSha256, createHash('sha256').update(createPublicKey(apiKey).export({ format: 'der', type: 'spki' })).digest('base64'));
  assert.equal(fingerprints.notAfter, new Date(cert.validTo).toISOString());
});

/** forged issues a P-256 leaf signed by `signWith`, naming `names` as its issuing key (or none), with the given names. */
function forged(options: { signWith: NodeIdentity; names: NodeIdentity | 'none'; issuer?: string; subject?: string }): X509Certificate {
  const aki = options.names === 'none' ? [] : [new Extension({
    extnID: id_ce_authorityKeyIdentifier, critical: false,
    extnValue: new OctetString(AsnConvert.serialize(new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(new Uint8Array(options.names.publicKey).buffer) }))),
  })];
  return new X509Certificate(issueCertificate({
    issuerKey: options.signWith.privateKey, issuerCommonName: options.issuer ?? 'quorumgate node 2', subjectCommonName: options.subject ?? 'quorumgate node 2 API',
    subjectSpki: createPublicKey(apiKey).export({ format: 'der', type: 'spki' }), notBefore: NOW, notAfter: new Date(NOW.getTime() + DAY_MS), extensions: aki,
  }));
}

/** selfSignedEcdsa is a P-256 leaf self-signed with ECDSA by openssl, as any web server would present. */
function selfSignedEcdsa(): X509Certificate {
  const dir = mkdtempSync(join(tmpdir(), 'qg-api-cert-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    '-days', '1', '-subj', '/CN=quorumgate node 2 API'], { stdio: 'ignore' });
  return new X509Certificate(readFileSync(join(dir, 'cert.pem')));
}

const REFUSALS: ReadonlyArray<{ rule: string; cert: () => X509Certificate; now?: Date; message: RegExp }> = [
  { rule: 'a leaf that names this node key but was signed by another key', cert: () => forged({ signWith: other, names: node }), message: /is not signed by the node key [0-9a-f]{64} it names/ },
  { rule: 'an expired leaf', cert: () => new X509Certificate(createApiCertificate(node.privateKey, apiKey, NAMES, new Date(NOW.getTime() - 400 * DAY_MS))), message: /expired at 2026-/ },
  { rule: 'a leaf not valid yet', cert: () => new X509Certificate(createApiCertificate(node.privateKey, apiKey, NAMES, new Date(NOW.getTime() + 2 * DAY_MS))), message: /is not valid before 2026-12-08/ },
  { rule: 'a leaf without the issuing node key', cert: () => forged({ signWith: node, names: 'none' }), message: /does not name the Ed25519 node key that issued it/ },
  { rule: 'a leaf whose issuer is not a node', cert: () => forged({ signWith: node, names: node, issuer: 'Example CA' }), message: /does not name a node's API/ },
  { rule: 'a leaf that is not the API of its issuer', cert: () => forged({ signWith: node, names: node, subject: 'quorumgate node 3 API' }), message: /does not name a node's API/ },
  { rule: 'a self-signed ECDSA leaf', cert: selfSignedEcdsa, now: new Date(), message: /is signed with algorithm 1\.2\.840\.10045\.4\.3\.2, not by an Ed25519 node key/ },
];

for (const refusal of REFUSALS) {
  test(`refused: ${refusal.rule}`, () => {
    const cert = refusal.cert();
    assert.throws(() => presentedNodeKey(cert, refusal.now ?? NOW), (error: unknown) => {
      assert.ok(error instanceof CertificateKeyError, String(error));
      assert.match(error.message, refusal.message);
      return true;
    });
  });
}

test('refused: a key of another kind (P-384, RSA) is neither a node key nor an API key', () => {
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
  assert.throws(() => createApiCertificate(node.privateKey, p384, NAMES, NOW), /must be an ECDSA P-256 key, got ec on secp384r1/);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = new X509Certificate(issueCertificate({ issuerKey: node.privateKey, issuerCommonName: 'quorumgate node 2', subjectCommonName: 'quorumgate node 2 API',
    subjectSpki: rsa.publicKey.export({ format: 'der', type: 'spki' }), notBefore: NOW, notAfter: new Date(NOW.getTime() + DAY_MS) }));
  assert.throws(() => presentedNodeKey(cert, NOW), /carries a rsa key: neither an Ed25519 node key nor a P-256 key certified by one/);
});

test('only the Ed25519 node private key issues an API certificate', () => {
  assert.throws(() => createApiCertificate(apiKey, apiKey, NAMES, NOW), CertificateKeyError);
});
