// https-fetch.ts — HTTPS to quorumgate nodes with the node's key pinned (docs/api.md "Transport").
//
// A node serves certificates that stand for its Ed25519 node key; there is no CA to ask. The client
// connects with TLS 1.3 and reads which node key the certificate stands for (src/tls/api-cert.ts
// presentedNodeKey): the key itself in the self-signed node certificate, or, in the P-256 certificate the
// node issues for browsers, the node key that signed it — accepted only when that signature verifies, the
// certificate names the node's API and is within its validity period. The client goes on only when that key
// is the one the genesis or a members file names for the endpoint, before any request byte (a token
// included) is sent. Anything else is a TlsPinError naming the endpoint and both keys (or why the
// certificate stands for none). With a CA file instead (an operator's CA-issued certificates), standard
// verification applies.
// The answer is a WHATWG Response, so callers use it as they use fetch's.
import assert from 'node:assert/strict';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { presentedNodeKey } from '../tls/api-cert.js';
import { CertificateKeyError } from '../tls/node-cert.js';
import type { FetchFunction } from './client.js';

/** NodePins are the node keys a client accepts: per endpoint origin when known, else any member's. */
export interface NodePins {
  /** byOrigin maps "https://host:port" to the hex key of the node there (a members file says so). */
  readonly byOrigin: ReadonlyMap<string, string>;
  /** members are the hex keys of every member (the genesis): a node without its own pin must have one of them. */
  readonly members: ReadonlySet<string>;
  /** source names where the pins come from, for error messages (e.g. "genesis.json"). */
  readonly source: string;
}

/** TlsPinError is a node whose certificate does not stand for the pinned key. */
export class TlsPinError extends Error {
  override readonly name = 'TlsPinError';
  constructor(readonly endpoint: string, readonly presentedKey: string, readonly expected: string) {
    super(`${endpoint}: certificate mismatch: the node presented key ${presentedKey}, but ${expected}`);
  }
}

/** pinCheck returns the reason a certificate key is refused for `origin`, or undefined when it is pinned. */
export function pinCheck(pins: NodePins, origin: string, presented: string): string | undefined {
  const own = pins.byOrigin.get(origin);
  if (own !== undefined) return own === presented ? undefined : `${pins.source} names key ${own} for this endpoint`;
  if (pins.members.has(presented)) return undefined;
  if (pins.members.size === 0) return `${pins.source} names no node key to pin`;
  return `${pins.source} names only the member keys ${[...pins.members].join(', ')}`;
}

/** TlsTrust is how a client trusts nodes: pinned node keys, or a CA (PEM) for CA-issued certificates. */
export type TlsTrust = { kind: 'pins'; pins: NodePins } | { kind: 'ca'; caPem: string };

/** connectPinned opens a TLS 1.3 connection and checks the node's key before handing the socket over. */
function connectPinned(host: string, port: number, trust: TlsTrust, done: (error: Error | null, socket?: TLSSocket) => void): void {
  const origin = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const socket = tlsConnect({
    host, port, minVersion: 'TLSv1.3', ALPNProtocols: ['http/1.1'],
    ...(host.match(/^[0-9.]+$|:/) ? {} : { servername: host }),
    // Pinned nodes present self-signed certificates: the chain is not what is trusted, the key is.
    ...(trust.kind === 'ca' ? { ca: trust.caPem, rejectUnauthorized: true } : { rejectUnauthorized: false }),
  });
  socket.once('error', (error) => done(error));
  socket.once('secureConnect', () => {
    if (trust.kind === 'ca') return done(null, socket);
    let presented: string;
    try {
      const certificate = socket.getPeerX509Certificate();
      if (certificate === undefined) throw new CertificateKeyError('the node presented no certificate');
      presented = Buffer.from(presentedNodeKey(certificate, new Date())).toString('hex');
    } catch (error) {
      socket.destroy();
      const detail = error instanceof CertificateKeyError ? error.message : String(error);
      return done(new TlsPinError(origin, `(none usable: ${detail})`, `${trust.pins.source} names Ed25519 node keys, to be presented in a node certificate or a P-256 certificate signed by the key`));
    }
    const refused = pinCheck(trust.pins, origin, presented);
    if (refused !== undefined) {
      socket.destroy();
      return done(new TlsPinError(origin, presented, refused));
    }
    done(null, socket);
  });
}

/** toResponse turns a Node response into a WHATWG Response (its body streams as it arrives). */
function toResponse(message: IncomingMessage): Response {
  const headers = new Headers();
  for (const [name, value] of Object.entries(message.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const status = message.statusCode ?? 500;
  const body = status === 204 || status === 304 ? null : (Readable.toWeb(message) as ReadableStream<Uint8Array>);
  return new Response(body, { status, headers });
}

/**
 * PinnedAgent is an HTTPS agent whose connections are checked as `trust` says before use, and kept alive
 * between requests (so the check costs one handshake per connection, not per request).
 */
export class PinnedAgent extends HttpsAgent {
  constructor(private readonly trust: TlsTrust) {
    super({ keepAlive: true });
  }

  override createConnection(options: RequestOptions, callback?: (error: Error | null, socket: Duplex) => void): undefined {
    assert.ok(callback !== undefined, 'Node calls createConnection with a callback');
    const host = (options.hostname ?? options.host ?? 'localhost').replace(/^\[|\]$/g, '');
    connectPinned(host, Number(options.port ?? 443), this.trust, (error, socket) => callback(error, socket as Duplex));
    return undefined;
  }
}

/**
 * pinnedFetch is a FetchFunction for https:// endpoints that trusts nodes as `trust` says (http:// URLs
 * go to the global fetch: a node serves plain HTTP only on loopback). Bodies are strings (JSON).
 */
export function pinnedFetch(trust: TlsTrust): FetchFunction {
  const agent = new PinnedAgent(trust);
  return (target, init) => {
    const url = new URL(target);
    if (url.protocol !== 'https:') return fetch(target, init);
    return new Promise<Response>((resolve, reject) => {
      const headers = new Headers(init.headers);
      const request = httpsRequest(url, { method: init.method ?? 'GET', headers: Object.fromEntries(headers.entries()), agent }, (message) => resolve(toResponse(message)));
      const signal = init.signal ?? undefined;
      const abort = (): void => {
        request.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      if (signal?.aborted === true) abort();
      signal?.addEventListener('abort', abort, { once: true });
      request.once('error', reject);
      request.end(typeof init.body === 'string' ? init.body : undefined);
    });
  };
}
