// watch.ts — the watch stream's clients (GET /v1/watch, server-sent events), bounded.
//
// 300 clients that never read took a node from 166 to 435 MB in 20 s (issue 15): every event was
// written to every client's socket whether or not it read, and each client added a listener to the
// applier. Here one WatchHub listens to the applier for all clients; it admits at most maxClients
// clients per node and maxClientsPerAddress per client address (429 OVERLOADED beyond); each client
// is written only while its socket's buffer is under WRITE_HIGH_WATER_BYTES (the rest waits, then
// 'drain'), and a client whose waiting events and unsent bytes exceed maxBufferedBytes is sent an
// `error` event and dropped. A replay (`?from=`) is written as the client reads, not all at once.
// Each event is formatted once for all clients (a weak map keyed by the event, which lives as long as
// the applier remembers it): with 16 clients per node, formatting per client made every applied entry
// cost 16 JSON encodings and 16 copies of its text in the clients' queues (bench:hostile's slow-watch
// flood, BENCHMARKS.md).
import type { ServerResponse } from 'node:http';
import type { AppliedEvent } from './ports.js';
import { ApiError } from './errors.js';

/** WatchLimits bound the watch stream; every field has a default in DEFAULT_WATCH_LIMITS. */
export interface WatchLimits {
  /** maxClients: watch clients one node serves at once. */
  readonly maxClients: number;
  /** maxClientsPerAddress: watch clients one client address may hold at once. */
  readonly maxClientsPerAddress: number;
  /** maxBufferedBytes: a client's unsent bytes (socket buffer and waiting events) before it is dropped. */
  readonly maxBufferedBytes: number;
  /** keepAliveMs: how often an idle stream gets a comment line, so proxies and clients see it alive. */
  readonly keepAliveMs: number;
}

/** DEFAULT_WATCH_LIMITS: 64 clients, 8 per address, 1 MiB each (64 MiB at most for the stream). */
export const DEFAULT_WATCH_LIMITS: WatchLimits = { maxClients: 64, maxClientsPerAddress: 8, maxBufferedBytes: 1024 * 1024, keepAliveMs: 15_000 };

/** WRITE_HIGH_WATER_BYTES: events are written to a client while its socket buffers less than this. */
const WRITE_HIGH_WATER_BYTES = 64 * 1024;
/** WRITE_BATCH_BYTES: frames are joined into writes of about this size (a TLS record carries at most 16 KiB). */
const WRITE_BATCH_BYTES = 16 * 1024;

/** DROP_GRACE_MS: a dropped client's socket is destroyed if it has not closed this long after its error event. */
const DROP_GRACE_MS = 1000;

/** WatchSource is what the hub reads: the applier's events, its recent ones, and how an event is written. */
export interface WatchSource {
  on: (e: 'applied', l: (event: AppliedEvent) => void) => void;
  off: (e: 'applied', l: (event: AppliedEvent) => void) => void;
  recentFrom: (from: number) => { events: AppliedEvent[]; complete: boolean };
  /** prime prepares a replay's events for format (e.g. one read of the log for their readings). */
  prime: (events: readonly AppliedEvent[]) => void;
  /** format is the `data:` of an event (one line of JSON). */
  format: (event: AppliedEvent) => string;
}

/** WatchHub admits, feeds and drops the watch clients of one node. */
export class WatchHub {
  private readonly clients = new Set<WatchClient>();
  /** frames: each event's `event: applied` frame, made once and shared by every client's queue. */
  private readonly frames = new WeakMap<AppliedEvent, string>();
  private readonly perAddress = new Map<string, number>();
  private keepAlive: NodeJS.Timeout | undefined;
  private readonly onApplied = (event: AppliedEvent): void => {
    for (const client of [...this.clients]) client.push(event);
  };

  constructor(private readonly source: WatchSource, readonly limits: WatchLimits = DEFAULT_WATCH_LIMITS) {}

  /** size is how many clients are watching. */
  get size(): number {
    return this.clients.size;
  }

  /** admit throws ApiError('OVERLOADED') when a client from `address` may not watch now. */
  admit(address: string): void {
    if (this.clients.size >= this.limits.maxClients) {
      throw new ApiError('OVERLOADED', `watch: expected at most ${this.limits.maxClients} watch clients on this node, got one more; retry later or watch another node`);
    }
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (fromAddress >= this.limits.maxClientsPerAddress) {
      throw new ApiError('OVERLOADED', `watch: expected at most ${this.limits.maxClientsPerAddress} watch clients from ${address}, got one more`);
    }
  }

  /**
   * open starts streaming to `raw` (headers already sent), from `from` when still remembered; only the
   * events `visible` accepts (all by default: a reader of every domain).
   */
  open(raw: ServerResponse, address: string, from: number | undefined, visible: (event: AppliedEvent) => boolean = () => true): void {
    let backlog: AppliedEvent[] = [];
    if (from !== undefined) {
      const { events, complete } = this.source.recentFrom(from);
      if (!complete) raw.write(`event: gap\ndata: ${JSON.stringify({ reason: `entries before ${events[0]?.index ?? 'now'} are no longer remembered` })}\n\n`);
      backlog = events.filter(visible);
      this.source.prime(backlog);
    }
    const client = new WatchClient(raw, address, backlog, this, visible);
    if (this.clients.size === 0) {
      this.source.on('applied', this.onApplied);
      this.keepAlive = setInterval(() => this.sendKeepAlive(), this.limits.keepAliveMs);
      this.keepAlive.unref();
    }
    this.clients.add(client);
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    client.pump();
  }

  /** @internal frame is an event's frame on the stream, formatted on first use and then shared. */
  frame(event: AppliedEvent): string {
    let frame = this.frames.get(event);
    if (frame === undefined) {
      frame = `event: applied\nid: ${event.index}\ndata: ${this.source.format(event)}\n\n`;
      this.frames.set(event, frame);
    }
    return frame;
  }

  /** @internal remove forgets a client that left or was dropped. */
  remove(client: WatchClient): void {
    if (!this.clients.delete(client)) return;
    const left = (this.perAddress.get(client.address) ?? 1) - 1;
    if (left <= 0) this.perAddress.delete(client.address);
    else this.perAddress.set(client.address, left);
    if (this.clients.size === 0) {
      this.source.off('applied', this.onApplied);
      if (this.keepAlive !== undefined) clearInterval(this.keepAlive);
      this.keepAlive = undefined;
    }
  }

  private sendKeepAlive(): void {
    for (const client of this.clients) client.keepAlive();
  }
}

/** WatchClient is one watch stream: its replay, the live events waiting for its socket, and its bound. */
class WatchClient {
  private backlogAt = 0;
  private readonly waiting: string[] = [];
  private waitingBytes = 0;
  private closed = false;

  constructor(
    private readonly raw: ServerResponse, readonly address: string, private readonly backlog: readonly AppliedEvent[], private readonly hub: WatchHub,
    private readonly visible: (event: AppliedEvent) => boolean,
  ) {
    raw.on('drain', () => this.pump());
    raw.on('close', () => {
      this.closed = true;
      hub.remove(this);
    });
  }

  /** push queues a live event, or drops the client when its unsent bytes would pass the bound. */
  push(event: AppliedEvent): void {
    if (this.closed || !this.visible(event)) return;
    const frame = this.hub.frame(event);
    const unsentBytes = this.raw.writableLength + this.waitingBytes + frame.length;
    if (unsentBytes > this.hub.limits.maxBufferedBytes) {
      this.drop(`the client read too slowly: ${unsentBytes} bytes would wait for it, at most ${this.hub.limits.maxBufferedBytes} may`);
      return;
    }
    this.waiting.push(frame);
    this.waitingBytes += frame.length;
    this.pump();
  }

  /**
   * pump writes the replay, then waiting live events, while the socket's buffer has room, in writes of up to
   * WRITE_BATCH_BYTES: one write per event made a stream opened with from=0 cost its node 4,096 writes through
   * HTTP chunking and TLS at once (bench:hostile slow-watch, 2026-12-07).
   */
  pump(): void {
    // Bounded: each pass writes at least one event, and the buffer limit ends the loop.
    while (!this.closed && this.raw.writableLength < WRITE_HIGH_WATER_BYTES) {
      const batch = this.nextBatch();
      if (batch === '') return;
      this.raw.write(batch);
    }
  }

  /** nextBatch takes the next frames (replay first, then waiting live events) up to WRITE_BATCH_BYTES, '' when none wait. */
  private nextBatch(): string {
    const frames: string[] = [];
    let bytes = 0;
    // Bounded: each pass takes one frame, and the batch size ends the loop.
    while (bytes < WRITE_BATCH_BYTES) {
      const replayed = this.backlog[this.backlogAt];
      let frame: string | undefined;
      if (replayed !== undefined) {
        this.backlogAt += 1;
        frame = this.hub.frame(replayed);
      } else {
        frame = this.waiting.shift();
        if (frame === undefined) break;
        this.waitingBytes -= frame.length;
      }
      frames.push(frame);
      bytes += frame.length;
    }
    return frames.join('');
  }

  keepAlive(): void {
    if (!this.closed && this.raw.writableLength === 0) this.raw.write(': keep-alive\n\n');
  }

  /** drop sends an error event (it waits behind what the client did not read) and ends the stream. */
  private drop(reason: string): void {
    this.closed = true;
    this.hub.remove(this);
    this.waiting.length = 0;
    this.waitingBytes = 0;
    this.raw.end(`event: error\ndata: ${JSON.stringify({ code: 'SLOW_CONSUMER', message: `watch: dropped: ${reason}` })}\n\n`);
    setTimeout(() => this.raw.destroy(), DROP_GRACE_MS).unref();
  }
}
