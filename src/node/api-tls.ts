// api-tls.ts — the certificates a node's API serves HTTPS with (docs/api.md "Transport", docs/dashboard.md).
//
// `apiTls: node-key` (the default) serves two: the node certificate made from the Ed25519 node key (what
// qgate pinned from the start), and an ECDSA P-256 certificate issued by that key for browsers, which have no
// Ed25519 in TLS (src/tls/api-cert.ts). A client that offers Ed25519 (qgate, curl, any OpenSSL client) gets the
// node certificate, whose key it can pin from the genesis alone; one that does not (Chromium, Firefox) gets the
// P-256 certificate. Clients that pin the node key accept either. The P-256 key and certificate live in the data directory and
// are kept across restarts; the node checks twice a day whether the certificate needs renewing. An operator's
// own certificate (`apiTls: {certFile, keyFile}`) and `off` (loopback only) are served as configured.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { ApiTls, ApiTlsCredential } from '../api/index.js';
import { privateKeyObject } from '../commands/index.js';
import { certificateFingerprints } from '../tls/api-cert.js';
import type { ApiCertificateNames } from '../tls/api-cert.js';
import { loadApiCertificate } from '../tls/api-cert-store.js';
import type { StoredApiCertificate } from '../tls/api-cert-store.js';
import { createNodeCertificate } from '../tls/node-cert.js';
import { isLoopbackHost, isSpecificAddress, type NodeConfig } from './config.js';
import { StartupError } from './startup-error.js';

/** NODE_KEY_SIGNATURE_ALGORITHMS: Ed25519 first (the node certificate), then ECDSA P-256 (the browsers' certificate). */
export const NODE_KEY_SIGNATURE_ALGORITHMS = 'ed25519:ecdsa_secp256r1_sha256';

/** API_CERT_CHECK_INTERVAL_MS is how often a running node checks whether its API certificate needs renewing. */
export const API_CERT_CHECK_INTERVAL_MS = 12 * 60 * 60 * 1000;

/**
 * apiTls is what the API serves: the node-key pair of certificates (the default), the operator's files, or
 * nothing (`off`, loopback only: config.ts refuses it elsewhere).
 */
export async function apiTls(config: NodeConfig, seed: Uint8Array, logger: Logger): Promise<ApiTls | undefined> {
  const choice = config.apiTls ?? 'node-key';
  if (choice === 'off') {
    if (!isLoopbackHost(config.api.host)) throw new StartupError('API_TLS', `refusing to serve the API without TLS on the non-loopback address ${config.api.host}`);
    return undefined;
  }
  if (choice === 'node-key') return nodeKeyTls(config, seed, logger);
  try {
    return { credentials: [{ certPem: readFileSync(choice.certFile, 'utf8'), keyPem: readFileSync(choice.keyFile, 'utf8') }] };
  } catch (error) {
    throw new StartupError('API_TLS', `cannot read the API certificate or key (apiTls.certFile ${choice.certFile}, apiTls.keyFile ${choice.keyFile}): ${(error as Error).message}`, error);
  }
}

/**
 * apiCertificateNames are the names the API certificates carry: the listen address when it is a specific one,
 * else the loopback addresses and this host's name (an operator who opens another address sees a name
 * warning in a browser, or binds that address, or gives a certificate of their own).
 */
export function apiCertificateNames(nodeId: number, host: string): ApiCertificateNames {
  const specific = isSpecificAddress(host);
  return {
    nodeCommonName: `quorumgate node ${nodeId}`,
    dnsNames: specific ? ['localhost'] : [...new Set(['localhost', hostname()])],
    ipAddresses: specific ? [host] : ['127.0.0.1', '::1'],
  };
}

async function nodeKeyTls(config: NodeConfig, seed: Uint8Array, logger: Logger): Promise<ApiTls> {
  const nodeKey = privateKeyObject(seed);
  const names = apiCertificateNames(config.nodeId, config.api.host);
  const nodeCertificate = await createNodeCertificate(nodeKey, { commonName: names.nodeCommonName, dnsNames: names.dnsNames, ipAddresses: names.ipAddresses });
  const nodeCredential: ApiTlsCredential = { certPem: nodeCertificate.certPem, keyPem: nodeCertificate.keyPem };
  const load = (): StoredApiCertificate => {
    try {
      return loadApiCertificate(config.dataDir, nodeKey, names, new Date());
    } catch (error) {
      throw new StartupError('API_TLS', (error as Error).message, error);
    }
  };
  let current = load();
  report(logger, current);
  return {
    credentials: [{ certPem: current.certPem, keyPem: current.keyPem }, nodeCredential],
    signatureAlgorithms: NODE_KEY_SIGNATURE_ALGORITHMS,
    renewal: {
      intervalMs: API_CERT_CHECK_INTERVAL_MS,
      renew: () => {
        const next = load();
        if (next.certPem === current.certPem) return undefined;
        current = next;
        report(logger, current);
        return [{ certPem: current.certPem, keyPem: current.keyPem }, nodeCredential];
      },
    },
  };
}

/** report logs the browser certificate's fingerprints, so that an operator can compare them with what a browser shows. */
function report(logger: Logger, stored: StoredApiCertificate): void {
  const fingerprints = certificateFingerprints(stored.certPem);
  logger.info({ apiCertificate: { file: stored.certFile, ...fingerprints, issued: stored.issuedBecause ?? 'kept from before' } },
    'API certificate for browsers (P-256, issued by the node key)');
}
