// api-cert-store.ts — the API certificate's P-256 key and certificate (api-cert.ts) in the node's data directory.
//
// Both are kept across restarts: a browser's accepted exception is for this certificate, and an SPKI pin is
// for this key. The key is written once (mode 0600, refused like an ssh key when others may read it); the
// certificate is issued again only when it no longer fits — its key, its issuer, its names changed, or it has
// fewer than API_CERT_RENEW_BEFORE_DAYS left (then the same key is certified anew, so an SPKI pin holds).
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { API_CERT_RENEW_BEFORE_DAYS, apiCertificateNodeKey, apiCommonName, createApiCertificate, daysLeft } from './api-cert.js';
import type { ApiCertificateNames } from './api-cert.js';
import { CertificateKeyError, sameKey } from './node-cert.js';

/** API_TLS_DIRECTORY is the data directory's sub-directory holding the API certificate's key and certificate. */
export const API_TLS_DIRECTORY = 'api-tls';
const KEY_FILE = 'key.pem';
const CERT_FILE = 'cert.pem';

/** ApiCertificateError says why the API certificate's key cannot be used (the node does not start). */
export class ApiCertificateError extends Error {
  readonly code = 'API_CERTIFICATE';
  constructor(readonly file: string, detail: string, options?: { cause?: unknown }) {
    super(`API certificate key ${file}: ${detail}`, options);
    this.name = 'ApiCertificateError';
  }
}

/** StoredApiCertificate is the API certificate in force and its key (PEM), and why it was issued now (undefined: kept from before). */
export interface StoredApiCertificate {
  readonly certPem: string;
  readonly keyPem: string;
  readonly issuedBecause: string | undefined;
  readonly certFile: string;
}

/** apiCertificateFiles are where node data directory `dataDir` keeps the API key and certificate. */
export function apiCertificateFiles(dataDir: string): { keyFile: string; certFile: string } {
  return { keyFile: join(dataDir, API_TLS_DIRECTORY, KEY_FILE), certFile: join(dataDir, API_TLS_DIRECTORY, CERT_FILE) };
}

/**
 * loadApiCertificate returns the API certificate of `dataDir` for Ed25519 node private key `nodeKey` and
 * `names` at `now`, creating the key the first time and issuing the certificate again when it no longer fits.
 */
export function loadApiCertificate(dataDir: string, nodeKey: KeyObject, names: ApiCertificateNames, now: Date): StoredApiCertificate {
  const { keyFile, certFile } = apiCertificateFiles(dataDir);
  mkdirSync(join(dataDir, API_TLS_DIRECTORY), { recursive: true, mode: 0o700 });
  const created = !existsSync(keyFile);
  if (created) writeAtomically(keyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 0o600);
  const apiKey = readApiKey(keyFile);
  const current = existsSync(certFile) ? readFileSync(certFile, 'utf8') : undefined;
  const reason = created ? 'a new key' : current === undefined ? 'no certificate yet' : reissueReason(current, apiKey, nodeKey, names, now);
  const keyPem = apiKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  if (reason === undefined && current !== undefined) return { certPem: current, keyPem, issuedBecause: undefined, certFile };
  const certPem = createApiCertificate(nodeKey, apiKey, names, now);
  writeAtomically(certFile, certPem, 0o644);
  return { certPem, keyPem, issuedBecause: reason, certFile };
}

/**
 * reissueReason says why certificate `certPem` does not fit (undefined when it does): another key, not issued
 * by this node key, other names, unreadable, expired or due for renewal.
 */
export function reissueReason(certPem: string, apiKey: KeyObject, nodeKey: KeyObject, names: ApiCertificateNames, now: Date): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch (error) {
    return `the stored certificate is unreadable (${(error as Error).message})`;
  }
  if (!cert.checkPrivateKey(apiKey)) return 'the stored certificate is for another key';
  let issuer: Uint8Array;
  try {
    issuer = apiCertificateNodeKey(cert, now);
  } catch (error) {
    if (error instanceof CertificateKeyError) return error.message;
    throw error;
  }
  const nodePublic = createPublicKey(nodeKey).export({ format: 'der', type: 'spki' });
  if (!sameKey(issuer, new Uint8Array(nodePublic.subarray(nodePublic.length - 32)))) return 'the stored certificate was issued by another node key';
  if (cert.subject.trim() !== `CN=${apiCommonName(names.nodeCommonName)}`) return `the stored certificate names "${cert.subject.trim()}", not "CN=${apiCommonName(names.nodeCommonName)}"`;
  const wanted = alternativeNames(new X509Certificate(createApiCertificate(nodeKey, apiKey, names, now)));
  if (alternativeNames(cert) !== wanted) return `the addresses changed (the stored certificate names ${alternativeNames(cert) || 'none'}; now ${wanted})`;
  const left = daysLeft(cert, now);
  if (left < API_CERT_RENEW_BEFORE_DAYS) return `the stored certificate expires in ${Math.max(0, Math.floor(left))} days (renewed when fewer than ${API_CERT_RENEW_BEFORE_DAYS} are left)`;
  return undefined;
}

function readApiKey(keyFile: string): KeyObject {
  const mode = statSync(keyFile).mode;
  if ((mode & 0o077) !== 0) throw new ApiCertificateError(keyFile, `permissions ${(mode & 0o777).toString(8)} let others read the private key; run "chmod 600 ${keyFile}"`);
  let key: KeyObject;
  try {
    key = createPrivateKey(readFileSync(keyFile, 'utf8'));
  } catch (error) {
    throw new ApiCertificateError(keyFile, `is not a PEM private key (${(error as Error).message}); move it aside and the node makes a new one (browsers then need the new certificate accepted)`, { cause: error });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new ApiCertificateError(keyFile, `expected an ECDSA P-256 key, found ${key.asymmetricKeyType ?? 'another kind of'} key${key.asymmetricKeyDetails?.namedCurve === undefined ? '' : ` on ${key.asymmetricKeyDetails.namedCurve}`}`);
  }
  return key;
}

/** alternativeNames is a certificate's subjectAltName as node:crypto prints it ("" when it has none). */
function alternativeNames(cert: X509Certificate): string {
  return cert.subjectAltName ?? '';
}

/** writeAtomically writes `text` to a temporary file with `mode` and renames it over `file`: a crash leaves the old file or the new one. */
function writeAtomically(file: string, text: string, mode: number): void {
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, text, { mode });
  chmodSync(temporary, mode);
  renameSync(temporary, file);
}
