// Goal: the API certificate's key and certificate (src/tls/api-cert-store.ts) are kept in the node's data
// directory across restarts — the key owner-only, created once; the certificate the same bytes while it fits
// (so a browser's accepted exception holds) — and the certificate is issued again, with the same key (so an
// SPKI pin holds), when it has fewer than API_CERT_RENEW_BEFORE_DAYS left, when the node's addresses or node
// key change, or when the stored file is unreadable. A key others may read, or that is not a P-256 key, stops
// the node with a message saying how to fix it.
// Method: real files in a temporary directory; time is an input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_CERT_RENEW_BEFORE_DAYS, API_CERT_VALIDITY_DAYS, certificateFingerprints, presentedNodeKey } from '../../src/tls/api-cert.js';
import type { ApiCertificateNames } from '../../src/tls/api-cert.js';
import { ApiCertificateError, apiCertificateFiles, loadApiCertificate } from '../../src/tls/api-cert-store.js';
import { sameKey } from '../../src/tls/node-cert.js';
import { generateNodeIdentity } from '../../src/transport/keys.js';

const NOW = new Date('2026-12-06T12:00:00Z');
const DAY_MS = 86_400_000;
const NAMES: ApiCertificateNames = { nodeCommonName: 'quorumgate node 1', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] };
const node = generateNodeIdentity(1);
const later = (days: number): Date => new Date(NOW.getTime() + days * DAY_MS);

test('the first start creates an owner-only P-256 key and a certificate; the next start keeps both, byte for byte', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qg-api-store-'));
  const first = loadApiCertificate(dir, node.privateKey, NAMES, NOW);
  assert.equal(first.issuedBecause, 'a new key');
  const { keyFile, certFile } = apiCertificateFiles(dir);
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'api-tls')).mode & 0o777, 0o700);
  assert.equal(readFileSync(certFile, 'utf8'), first.certPem);
  assert.ok(sameKey(presentedNodeKey(new X509Certificate(first.certPem), NOW), node.publicKey));
  const again = loadApiCertificate(dir, node.privateKey, NAMES, later(10));
  assert.equal(again.issuedBecause, undefined);
  assert.equal(again.certPem, first.certPem);
  assert.equal(again.keyPem, first.keyPem);
});

test('renewal: with fewer than API_CERT_RENEW_BEFORE_DAYS left the same key is certified anew (the SPKI pin holds, the fingerprint changes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qg-api-store-'));
  const first = loadApiCertificate(dir, node.privateKey, NAMES, NOW);
  const stillFine = later(API_CERT_VALIDITY_DAYS - API_CERT_RENEW_BEFORE_DAYS - 2);
  assert.equal(loadApiCertificate(dir, node.privateKey, NAMES, stillFine).issuedBecause, undefined);
  const due = later(API_CERT_VALIDITY_DAYS - API_CERT_RENEW_BEFORE_DAYS + 2);
  const renewed = loadApiCertificate(dir, node.privateKey, NAMES, due);
  assert.match(renewed.issuedBecause ?? '', /^the stored certificate expires in 2[0-9] days \(renewed when fewer than 30 are left\)$/);
  assert.equal(renewed.keyPem, first.keyPem);
  assert.equal(certificateFingerprints(renewed.certPem).spkiSha256, certificateFingerprints(first.certPem).spkiSha256);
  assert.notEqual(certificateFingerprints(renewed.certPem).sha256, certificateFingerprints(first.certPem).sha256);
  assert.ok(presentedNodeKey(new X509Certificate(renewed.certPem), later(API_CERT_VALIDITY_DAYS + 100)));
  // A node stopped past its certificate's expiry renews it at its next start.
  const expiredDir = mkdtempSync(join(tmpdir(), 'qg-api-store-'));
  loadApiCertificate(expiredDir, node.privateKey, NAMES, NOW);
  assert.match(loadApiCertificate(expiredDir, node.privateKey, NAMES, later(API_CERT_VALIDITY_DAYS + 5)).issuedBecause ?? '', /expired at/);
});

test('new addresses, another node key, or an unreadable certificate file: issued again with the same key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qg-api-store-'));
  const first = loadApiCertificate(dir, node.privateKey, NAMES, NOW);
  const moved = loadApiCertificate(dir, node.privateKey, { ...NAMES, ipAddresses: ['10.0.0.7'] }, NOW);
  assert.equal(moved.issuedBecause, 'the addresses changed (the stored certificate names DNS:localhost, IP Address:127.0.0.1; now DNS:localhost, IP Address:10.0.0.7)');
  assert.equal(new X509Certificate(moved.certPem).subjectAltName, 'DNS:localhost, IP Address:10.0.0.7');
  const rotated = generateNodeIdentity(1);
  const reissued = loadApiCertificate(dir, rotated.privateKey, { ...NAMES, ipAddresses: ['10.0.0.7'] }, NOW);
  assert.equal(reissued.issuedBecause, 'the stored certificate was issued by another node key');
  assert.ok(sameKey(presentedNodeKey(new X509Certificate(reissued.certPem), NOW), rotated.publicKey));
  writeFileSync(apiCertificateFiles(dir).certFile, 'not a certificate');
  assert.match(loadApiCertificate(dir, node.privateKey, NAMES, NOW).issuedBecause ?? '', /^the stored certificate is unreadable/);
  assert.equal(loadApiCertificate(dir, node.privateKey, NAMES, NOW).keyPem, first.keyPem);
});

test('a key file others may read, one that is not PEM, or one that is not P-256 stops the start with how to fix it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qg-api-store-'));
  loadApiCertificate(dir, node.privateKey, NAMES, NOW);
  const { keyFile } = apiCertificateFiles(dir);
  chmodSync(keyFile, 0o644);
  assert.throws(() => loadApiCertificate(dir, node.privateKey, NAMES, NOW), (error: unknown) => {
    assert.ok(error instanceof ApiCertificateError);
    assert.equal(error.message, `API certificate key ${keyFile}: permissions 644 let others read the private key; run "chmod 600 ${keyFile}"`);
    return true;
  });
  writeFileSync(keyFile, 'garbage', { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  assert.throws(() => loadApiCertificate(dir, node.privateKey, NAMES, NOW), /is not a PEM private key .*move it aside and the node makes a new one/);
  writeFileSync(keyFile, generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }));
  assert.throws(() => loadApiCertificate(dir, node.privateKey, NAMES, NOW), /expected an ECDSA P-256 key, found ed25519 key/);
});
