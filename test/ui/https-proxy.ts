// https-proxy.ts — what an operator puts in front of a node for browsers: an HTTPS reverse proxy with an
// ECDSA P-256 certificate, forwarding to the node's API over HTTPS pinned to its node key.
//
// Chromium does not accept Ed25519 certificates in TLS (it offers no ed25519 signature algorithm:
// ERR_SSL_VERSION_OR_CIPHER_MISMATCH), so a browser cannot open the node-key HTTPS API directly; the
// dashboard test reaches each node through one of these, and pins the proxy's key in Chromium with
// --ignore-certificate-errors-spki-list (the SHA-256 of the certificate's SubjectPublicKeyInfo).
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request, type Agent, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** BrowserProxy is one running proxy: its https:// origin, and the base64 SHA-256 of its certificate's SPKI. */
export interface BrowserProxy {
  readonly url: string;
  readonly spkiSha256: string;
  close(): Promise<void>;
}

/** proxyCertificate makes a self-signed ECDSA P-256 certificate for 127.0.0.1 in `dir` with openssl. */
export function proxyCertificate(dir: string): { certPem: string; keyPem: string; spkiSha256: string } {
  const cert = join(dir, 'proxy-cert.pem');
  const key = join(dir, 'proxy-key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const certPem = readFileSync(cert, 'utf8');
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return { certPem, keyPem: readFileSync(key, 'utf8'), spkiSha256: createHash('sha256').update(spki).digest('base64') };
}

/** startProxy forwards every request to `target` (an https:// node API) through the pinned `agent`; 502 when the node does not answer. */
export async function startProxy(target: string, agent: Agent, cert: { certPem: string; keyPem: string; spkiSha256: string }): Promise<BrowserProxy> {
  const origin = new URL(target);
  const server: Server = createServer({ cert: cert.certPem, key: cert.keyPem, minVersion: 'TLSv1.3' }, (incoming, outgoing) => {
    const upstream = request({ host: origin.hostname, port: origin.port, path: incoming.url, method: incoming.method, headers: { ...incoming.headers, host: origin.host }, agent }, (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
      // The watch stream sends no byte until an entry or a keep-alive: pass its headers on at once, as the node does.
      outgoing.flushHeaders();
      answer.pipe(outgoing);
    });
    upstream.on('error', () => {
      if (!outgoing.headersSent) outgoing.writeHead(502, { 'content-type': 'text/plain' });
      outgoing.end('the node does not answer');
    });
    outgoing.on('close', () => upstream.destroy());
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spkiSha256: cert.spkiSha256,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
