// node-cert.ts — X.509 certificates derived from a node's Ed25519 key, and the pinning check that
// replaces a certificate authority: a peer is who the agreed membership (or the genesis) says it is
// when the public key in its certificate is that member's key. The certificate is only a carrier
// for the key in TLS 1.3; its self-signature and validity dates are not what is trusted.
import { X509Certificate, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { issueCertificate, wholeSeconds } from './x509.js';

// DER SubjectPublicKeyInfo prefix (RFC 8410) for a raw 32-byte Ed25519 key.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const ED25519_PUBLIC_KEY_BYTES = 32;
const CERT_VALIDITY_YEARS = 20;

/** NodeCertificate is a PEM certificate and its PEM private key, ready for node:tls. */
export interface NodeCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  /** publicKey: the raw 32-byte Ed25519 key the certificate carries. */
  readonly publicKey: Uint8Array;
}

/** NodeCertificateOptions names the certificate's subject and the addresses it is for. */
export interface NodeCertificateOptions {
  /** commonName, e.g. "quorumgate node 2". */
  readonly commonName: string;
  /** dnsNames and ipAddresses go into subjectAltName (browsers and standard clients check them). */
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  /** now: the issue time (an input, for reproducible tests); defaults to the wall clock. */
  readonly now?: Date;
}

/** CertificateKeyError says why a certificate's key cannot be used to pin a peer. */
export class CertificateKeyError extends Error {
  readonly code = 'CERTIFICATE_KEY_INVALID';
  constructor(detail: string) {
    super(detail);
    this.name = 'CertificateKeyError';
  }
}

/**
 * createNodeCertificate makes a self-signed certificate for an Ed25519 private key. Its serial
 * number is derived from the public key and the issue time, so two calls at the same `now` give
 * the same certificate.
 */
export async function createNodeCertificate(privateKey: KeyObject, options: NodeCertificateOptions): Promise<NodeCertificate> {
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new CertificateKeyError(`node key must be Ed25519, got ${privateKey.asymmetricKeyType ?? 'a symmetric key'}`);
  }
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  const notBefore = wholeSeconds(options.now ?? new Date());
  const notAfter = new Date(notBefore.getTime());
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CERT_VALIDITY_YEARS);
  const certPem = issueCertificate({
    issuerKey: privateKey, issuerCommonName: options.commonName, subjectCommonName: options.commonName, subjectSpki: spki,
    notBefore, notAfter, ...(options.dnsNames ? { dnsNames: options.dnsNames } : {}), ...(options.ipAddresses ? { ipAddresses: options.ipAddresses } : {}),
  });
  return {
    certPem,
    keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKey: new Uint8Array(spki.subarray(ED25519_SPKI_PREFIX.length)),
  };
}

/**
 * certificateEd25519Key returns the raw 32-byte Ed25519 public key a certificate carries (PEM, DER
 * or a parsed certificate), or throws CertificateKeyError when it carries another kind of key.
 */
export function certificateEd25519Key(cert: X509Certificate | string | Buffer): Uint8Array {
  const parsed = cert instanceof X509Certificate ? cert : new X509Certificate(cert);
  const key = parsed.publicKey;
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new CertificateKeyError(`certificate "${parsed.subject}" carries a ${key.asymmetricKeyType ?? 'non-asymmetric'} key, not an Ed25519 node key`);
  }
  const der = key.export({ format: 'der', type: 'spki' });
  if (der.length !== ED25519_SPKI_PREFIX.length + ED25519_PUBLIC_KEY_BYTES) {
    throw new CertificateKeyError(`certificate "${parsed.subject}" has a malformed Ed25519 key`);
  }
  return new Uint8Array(der.subarray(ED25519_SPKI_PREFIX.length));
}

/** sameKey compares two raw keys in constant time for equal lengths. */
export function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** ed25519PublicKey turns a raw 32-byte Ed25519 public key into a KeyObject (to verify a signature with it). */
export function ed25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== ED25519_PUBLIC_KEY_BYTES) throw new CertificateKeyError(`an Ed25519 public key is ${ED25519_PUBLIC_KEY_BYTES} bytes, got ${raw.length}`);
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}
