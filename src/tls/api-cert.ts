// api-cert.ts — the API certificate a browser can use: an ECDSA P-256 key certified by the node's Ed25519 key.
//
// Chromium has no Ed25519 in TLS, so the node certificate (node-cert.ts) cannot serve a browser. The node
// therefore also holds a P-256 key (kept in its data directory: api-cert-store.ts) and issues itself a
// certificate for it, signed with its node key: issuer "CN=quorumgate node <id>", subject "CN=quorumgate
// node <id> API", and an Authority Key Identifier that is the node's raw 32-byte Ed25519 key (RFC 5280 lets the
// issuer choose how it derives the identifier). A browser sees an unknown issuer, which an operator accepts
// after checking the certificate's fingerprint (or pins with its SPKI hash); a quorumgate client keeps pinning
// the node key: it accepts such a leaf only when the node key it names verifies its signature, that key is
// the pinned one, and the leaf is within its validity period (presentedNodeKey). No CA is involved.
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AuthorityKeyIdentifier, Certificate, ExtendedKeyUsage, Extension, KeyIdentifier, KeyUsage, KeyUsageFlags,
  id_ce_authorityKeyIdentifier, id_ce_extKeyUsage, id_ce_keyUsage, id_kp_serverAuth,
} from '@peculiar/asn1-x509';
import { CertificateKeyError, certificateEd25519Key, ed25519PublicKey } from './node-cert.js';
import { ID_ED25519, issueCertificate, spkiSha256, wholeSeconds } from './x509.js';

/** API_CERT_VALIDITY_DAYS is how long an API certificate is valid (browsers cap only publicly trusted ones). */
export const API_CERT_VALIDITY_DAYS = 365;
/** API_CERT_RENEW_BEFORE_DAYS: a certificate with fewer days left is renewed (same key, so an SPKI pin still holds). */
export const API_CERT_RENEW_BEFORE_DAYS = 30;
/** API_CERT_BACKDATE_MS: notBefore lies this far in the past, so a client whose clock is a little behind accepts a new certificate. */
export const API_CERT_BACKDATE_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const NODE_ISSUER_PATTERN = /^CN=quorumgate node ([1-9][0-9]{0,15})$/;
const P256_CURVE = 'prime256v1';

/** ApiCertificateNames names the node that issues the certificate and the addresses the certificate is for. */
export interface ApiCertificateNames {
  /** nodeCommonName: the issuer, the node certificate's common name ("quorumgate node 2"). */
  readonly nodeCommonName: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

/** apiCommonName is the subject common name of node `nodeCommonName`'s API certificate. */
export function apiCommonName(nodeCommonName: string): string {
  return `${nodeCommonName} API`;
}

/**
 * createApiCertificate issues the API certificate for the P-256 public key `apiKey`, signed with the Ed25519
 * node private key `nodeKey`, valid from an hour before `now` for `validityDays`; returns it as PEM.
 */
export function createApiCertificate(nodeKey: KeyObject, apiKey: KeyObject, names: ApiCertificateNames, now: Date, validityDays = API_CERT_VALIDITY_DAYS): string {
  if (nodeKey.type !== 'private' || nodeKey.asymmetricKeyType !== 'ed25519') throw new CertificateKeyError('the API certificate is signed with the node\'s Ed25519 private key');
  assertP256(apiKey, 'the API key');
  assert.ok(NODE_ISSUER_PATTERN.test(`CN=${names.nodeCommonName}`), `the issuer names a node: ${names.nodeCommonName}`);
  assert.ok(validityDays > 0, 'an API certificate is valid for at least a day');
  const nodePublic = createPublicKey(nodeKey);
  const notBefore = wholeSeconds(new Date(now.getTime() - API_CERT_BACKDATE_MS));
  const extensions = [
    new Extension({ extnID: id_ce_keyUsage, critical: true, extnValue: new OctetString(AsnConvert.serialize(new KeyUsage(KeyUsageFlags.digitalSignature))) }),
    new Extension({ extnID: id_ce_extKeyUsage, critical: false, extnValue: new OctetString(AsnConvert.serialize(new ExtendedKeyUsage([id_kp_serverAuth]))) }),
    new Extension({
      extnID: id_ce_authorityKeyIdentifier, critical: false,
      extnValue: new OctetString(AsnConvert.serialize(new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(certificateEd25519KeyOf(nodePublic)) }))),
    }),
  ];
  return issueCertificate({
    issuerKey: nodeKey, issuerCommonName: names.nodeCommonName, subjectCommonName: apiCommonName(names.nodeCommonName),
    subjectSpki: createPublicKey(apiKey).export({ format: 'der', type: 'spki' }),
    notBefore, notAfter: new Date(notBefore.getTime() + validityDays * DAY_MS),
    dnsNames: names.dnsNames, ipAddresses: names.ipAddresses, extensions,
  });
}

/**
 * apiCertificateNodeKey returns the raw Ed25519 node key that certified a P-256 API certificate, after checking
 * that the certificate names a node as its issuer and itself as that node's API, that its Authority Key
 * Identifier is an Ed25519 key, that this key verifies the certificate's signature, and that `now` is within
 * its validity period. Any failure is a CertificateKeyError saying which. Whether the key is the one to trust is
 * the caller's pin check.
 */
export function apiCertificateNodeKey(cert: X509Certificate, now: Date): Uint8Array {
  const subject = cert.subject.trim();
  assertP256(cert.publicKey, `certificate "${subject}"`);
  const parsed = AsnConvert.parse(cert.raw, Certificate);
  if (parsed.signatureAlgorithm.algorithm !== ID_ED25519) {
    throw new CertificateKeyError(`certificate "${subject}" is signed with algorithm ${parsed.signatureAlgorithm.algorithm}, not by an Ed25519 node key`);
  }
  const issuer = cert.issuer.trim();
  if (!NODE_ISSUER_PATTERN.test(issuer) || subject !== apiCommonName(issuer)) {
    throw new CertificateKeyError(`certificate "${subject}" issued by "${issuer}" does not name a node's API (expected issuer "CN=quorumgate node <id>" and subject "CN=quorumgate node <id> API")`);
  }
  const nodeKey = authorityKey(parsed, subject);
  if (!cert.verify(ed25519PublicKey(nodeKey))) {
    throw new CertificateKeyError(`certificate "${subject}" is not signed by the node key ${Buffer.from(nodeKey).toString('hex')} it names`);
  }
  const { notBefore, notAfter } = parsed.tbsCertificate.validity;
  if (now.getTime() < notBefore.getTime().getTime()) throw new CertificateKeyError(`certificate "${subject}" is not valid before ${notBefore.getTime().toISOString()}`);
  if (now.getTime() > notAfter.getTime().getTime()) throw new CertificateKeyError(`certificate "${subject}" expired at ${notAfter.getTime().toISOString()}`);
  return nodeKey;
}

/**
 * presentedNodeKey is the node key a node's API certificate stands for: the key itself in an Ed25519 node
 * certificate, or the certifying node key of a valid P-256 API certificate. Anything else is a CertificateKeyError.
 */
export function presentedNodeKey(cert: X509Certificate, now: Date): Uint8Array {
  const type = cert.publicKey.asymmetricKeyType;
  if (type === 'ed25519') return certificateEd25519Key(cert);
  if (type === 'ec') return apiCertificateNodeKey(cert, now);
  throw new CertificateKeyError(`certificate "${cert.subject.trim()}" carries a ${type ?? 'non-asymmetric'} key: neither an Ed25519 node key nor a P-256 key certified by one`);
}

/** CertificateFingerprints is what an operator compares with what a browser shows. */
export interface CertificateFingerprints {
  /** sha256: the certificate's SHA-256 fingerprint, colon-separated hex (as browsers show it). */
  readonly sha256: string;
  /** spkiSha256: base64 SHA-256 of the public key (Chromium's --ignore-certificate-errors-spki-list; stays across renewals). */
  readonly spkiSha256: string;
  readonly notAfter: string;
}

/** certificateFingerprints reads the fingerprints of a PEM certificate. */
export function certificateFingerprints(certPem: string): CertificateFingerprints {
  const cert = new X509Certificate(certPem);
  return { sha256: cert.fingerprint256, spkiSha256: spkiSha256(cert.publicKey.export({ format: 'der', type: 'spki' })), notAfter: new Date(cert.validTo).toISOString() };
}

/** daysLeft is how many (fractional) days a certificate has before it expires at `now`. */
export function daysLeft(cert: X509Certificate, now: Date): number {
  return (new Date(cert.validTo).getTime() - now.getTime()) / DAY_MS;
}

function authorityKey(parsed: Certificate, subject: string): Uint8Array {
  const extension = parsed.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_authorityKeyIdentifier);
  const identifier = extension === undefined ? undefined : AsnConvert.parse(extension.extnValue.buffer, AuthorityKeyIdentifier).keyIdentifier;
  const raw = identifier === undefined ? new Uint8Array() : new Uint8Array(identifier.buffer);
  if (raw.length !== 32) throw new CertificateKeyError(`certificate "${subject}" does not name the Ed25519 node key that issued it (its Authority Key Identifier must be that 32-byte key)`);
  return raw;
}

function certificateEd25519KeyOf(publicKey: KeyObject): ArrayBuffer {
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return new Uint8Array(der.subarray(der.length - 32)).buffer;
}

function assertP256(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== P256_CURVE) {
    throw new CertificateKeyError(`${what} must be an ECDSA P-256 key, got ${key.asymmetricKeyType ?? 'a symmetric key'}${key.asymmetricKeyDetails?.namedCurve === undefined ? '' : ` on ${key.asymmetricKeyDetails.namedCurve}`}`);
  }
}
