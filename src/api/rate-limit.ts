// rate-limit.ts — how fast one client may read (issue 15): a token bucket per client address for the
// API's reads (GET and HEAD under /v1/), answered 429 RATE_LIMITED with Retry-After once it is empty.
//
// Why per address, before the read token is checked: verifying a token is part of what a read costs, so a
// limit keyed by token would be paid for by the node before it applies (and a client sending garbage
// tokens would get a fresh bucket each time). Why at connection time too: a read on a new HTTPS connection
// costs the node its TLS handshake, three to five times the read itself (bench/hostile-read-cost.ts on this
// machine: 1.1–1.4 ms of CPU per read on a new connection, 0.27–0.41 ms on a kept-alive one), and a 429 does
// not give that back. So while an address's bucket is empty its new connections are closed as they are
// accepted, before any TLS byte is exchanged; connections already open keep working and are answered 429.
// A client that honours Retry-After never meets a closed connection. The defaults are far above what the
// dashboard, qgate, the chaos harness and the tests ask of one node (docs/api.md "Rate limits").
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.js';

/** ReadRateLimits bounds the reads of one client address on one node. */
export interface ReadRateLimits {
  /** readsPerSecond: the sustained rate (tokens added per second); 0 turns the limit off. */
  readonly readsPerSecond: number;
  /** burst: the bucket's size, the reads a client may make at once after a pause. */
  readonly burst: number;
  /** maxClients bounds the addresses remembered (idle ones are forgotten first). */
  readonly maxClients: number;
}

/** DEFAULT_READ_RATE_LIMITS: 200 reads per second and address, 400 at once (see docs/api.md "Rate limits"). */
export const DEFAULT_READ_RATE_LIMITS: ReadRateLimits = { readsPerSecond: 200, burst: 400, maxClients: 4096 };

/** Bucket is one address's tokens at `atMs`. Invariant: 0 <= tokens <= burst. */
interface Bucket {
  tokens: number;
  atMs: number;
}

/**
 * ClientBuckets holds a token bucket per client address. take() spends one token; waitMs() says how
 * long until the next one without spending. Bounded: at maxClients, buckets that have refilled (equal
 * to a new one) are dropped, else the fullest one.
 */
export class ClientBuckets {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly limits: ReadRateLimits) {
    if (!(limits.readsPerSecond >= 0 && Number.isFinite(limits.readsPerSecond))) throw new RangeError(`readsPerSecond: expected a finite number >= 0, got ${limits.readsPerSecond}`);
    if (!(Number.isInteger(limits.burst) && limits.burst >= 1)) throw new RangeError(`burst: expected an integer >= 1, got ${limits.burst}`);
    if (!(Number.isInteger(limits.maxClients) && limits.maxClients >= 1)) throw new RangeError(`maxClients: expected an integer >= 1, got ${limits.maxClients}`);
  }

  /** enabled is false when the limit is off (readsPerSecond 0). */
  get enabled(): boolean {
    return this.limits.readsPerSecond > 0;
  }

  /** size is how many addresses are remembered. */
  get size(): number {
    return this.buckets.size;
  }

  /** take spends one token of `client`'s bucket: 0 when it had one, else the milliseconds until it will. */
  take(client: string, nowMs: number): number {
    if (!this.enabled) return 0;
    const bucket = this.refilled(client, nowMs);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return this.waitOf(bucket);
  }

  /** waitMs is how long until `client` has a token (0: it has one now); it spends nothing. */
  waitMs(client: string, nowMs: number): number {
    if (!this.enabled) return 0;
    const bucket = this.buckets.get(client);
    if (bucket === undefined) return 0;
    const tokens = this.tokensAt(bucket, nowMs);
    return tokens >= 1 ? 0 : this.waitOf({ tokens, atMs: nowMs });
  }

  /** tokensAt is what `bucket` holds at `nowMs`, refilled and capped at the burst (a clock that steps back adds nothing). */
  private tokensAt(bucket: Bucket, nowMs: number): number {
    return Math.min(this.limits.burst, bucket.tokens + (Math.max(0, nowMs - bucket.atMs) / 1000) * this.limits.readsPerSecond);
  }

  private waitOf(bucket: Bucket): number {
    return Math.ceil(((1 - bucket.tokens) / this.limits.readsPerSecond) * 1000);
  }

  /** refilled is `client`'s bucket brought to `nowMs` (a new, full one for an address not seen). */
  private refilled(client: string, nowMs: number): Bucket {
    let bucket = this.buckets.get(client);
    if (bucket === undefined) {
      if (this.buckets.size >= this.limits.maxClients) this.forget(nowMs);
      bucket = { tokens: this.limits.burst, atMs: nowMs };
      this.buckets.set(client, bucket);
      return bucket;
    }
    bucket.tokens = this.tokensAt(bucket, nowMs);
    bucket.atMs = Math.max(bucket.atMs, nowMs);
    return bucket;
  }

  /**
   * forget drops the buckets that have refilled (a new bucket is the same), or else the fullest one: an
   * address that spent its tokens keeps its empty bucket, however many others come.
   */
  private forget(nowMs: number): void {
    let fullest: { client: string; tokens: number } | undefined;
    for (const [client, bucket] of this.buckets) {
      const tokens = this.tokensAt(bucket, nowMs);
      if (tokens >= this.limits.burst) this.buckets.delete(client);
      else if (fullest === undefined || tokens > fullest.tokens) fullest = { client, tokens };
    }
    if (this.buckets.size >= this.limits.maxClients && fullest !== undefined) this.buckets.delete(fullest.client);
  }
}

/** isRead says whether a request is a read the limit counts: GET or HEAD of a /v1/ path. */
export function isRead(method: string, url: string): boolean {
  return (method === 'GET' || method === 'HEAD') && url.startsWith('/v1/');
}

/**
 * installReadRateLimit adds the limit to `app`: an onRequest hook (add it before the read-token check)
 * answering 429 RATE_LIMITED with Retry-After, and a connection listener that closes, before TLS, new
 * connections of an address whose bucket is empty.
 */
export function installReadRateLimit(app: FastifyInstance, limits: ReadRateLimits, nowMs: () => number): void {
  const buckets = new ClientBuckets(limits);
  if (!buckets.enabled) return;
  app.addHook('onRequest', async (request, reply) => {
    if (!isRead(request.method, request.url)) return;
    const client = request.ip;
    const waitMs = buckets.take(client, nowMs());
    if (waitMs === 0) return;
    const retryAfterS = Math.max(1, Math.ceil(waitMs / 1000));
    void reply.header('retry-after', String(retryAfterS));
    throw new ApiError('RATE_LIMITED',
      `reads: expected at most ${limits.readsPerSecond} per second from one address (${limits.burst} at once), got more from ${client}; retry after ${retryAfterS} s`,
      { retryAfterMs: waitMs });
  });
  // Before the TLS server's own listener, so that no handshake starts for a refused connection.
  app.server.prependListener('connection', (socket: Socket) => {
    if (socket.remoteAddress !== undefined && buckets.waitMs(socket.remoteAddress, nowMs()) > 0) socket.destroy();
  });
}
