// hostile.ts — the adversary at the edge (issue 15): floods of a node's HTTP API and of its Raft port,
// shared by the chaos harness's hostile workload (`npm run chaos -- --hostile`) and `npm run bench:hostile`.
//
// API floods: `deep-json` posts issue 15's 2 MB body of a million nested brackets to POST /v1/commands;
// `oversized` posts a body over the 2 MiB limit (declared and sent); `slow-watch` holds GET
// /v1/watch?from=0 streams whose socket is never read; `status-poll` asks GET /v1/status and GET
// /v1/state back to back. Raft-port floods are protocol-agnostic (written while the port moved from a
// hand-made handshake to TLS 1.3, #14): `raft-garbage` writes random bytes and hangs up,
// `raft-half-handshake` writes a TLS-ClientHello-sized record of junk and goes silent, `raft-idle` holds
// hundreds of sockets that send nothing, spread over many loopback source addresses (a node admits a
// few unauthenticated connections per source). Everything is bounded: a fixed number of lanes per node, each one request
// or socket at a time, and every socket closed at stop().
//
// The adversary connects from its own loopback addresses (ADVERSARY_PREFIX), never the workloads'
// 127.0.0.1, so per-source limits on the nodes hit it and not the clients it must not hurt.
import net from 'node:net';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { sleepMs } from '../src/dataplane/exec.js';
import { nodeFetch } from './client.js';

/** FLOOD_KINDS lists every flood. */
export const FLOOD_KINDS = ['deep-json', 'oversized', 'slow-watch', 'status-poll', 'raft-garbage', 'raft-half-handshake', 'raft-idle'] as const;
export type FloodKind = (typeof FLOOD_KINDS)[number];

/** ADVERSARY_PREFIX: the adversary's source addresses are ADVERSARY_PREFIX + 1..ADVERSARY_SOURCES. */
export const ADVERSARY_PREFIX = '127.0.66.';
const ADVERSARY_SOURCES = 32;

/** LANES is how many concurrent requests or sockets each flood keeps per node. */
const LANES: Readonly<Record<FloodKind, number>> = {
  'deep-json': 2, 'oversized': 2, 'slow-watch': 16, 'status-poll': 4, 'raft-garbage': 4, 'raft-half-handshake': 16, 'raft-idle': 200,
};
/** DEEP_JSON_BODY is issue 15's body: 2 MB of nested brackets, under the body limit. */
const DEEP_JSON_BODY = Buffer.from(`{"envelope":"AAAA","x":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`);
const OVERSIZED_BYTES = 3 * 1024 * 1024;
const SOCKET_TIMEOUT_MS = 10_000;

/** FloodTarget is one node as the adversary sees it. */
export interface FloodTarget {
  readonly node: number;
  readonly apiHost: string;
  readonly apiPort: number;
  readonly raftHost: string;
  readonly raftPort: number;
  /** apiTls: the API is HTTPS (the gateway mode's default). */
  readonly apiTls?: boolean;
  /**
   * readToken: a read token the reads carry (slow-watch, status-poll). Without one a gateway node answers
   * GET /v1/watch and /v1/state 401 before streaming anything, and the flood measures idle sockets
   * instead (bench:hostile's slow-watch row of 21:26 UTC predates read tokens). The adversary of these
   * floods is a holder of a read token, e.g. a dashboard or a buggy client.
   */
  readonly readToken?: string;
}

/** FloodCounts is what one flood did: attempts, HTTP answers by status, and connection outcomes. */
export interface FloodCounts {
  attempts: number;
  /** answers counts HTTP answers by status code (API floods). */
  answers: Record<string, number>;
  /** refused: connections refused or reset before an answer (a node down, a per-source limit). */
  refused: number;
  /** closedByNode: sockets the node closed (Raft floods: the node dropped the stranger). */
  closedByNode: number;
  /** errors lists up to 5 unexpected errors. */
  errors: string[];
}

function emptyCounts(): FloodCounts {
  return { attempts: 0, answers: {}, refused: 0, closedByNode: 0, errors: [] };
}

/** sourceAddress picks the adversary address of lane `lane`. */
function sourceAddress(lane: number): string {
  return `${ADVERSARY_PREFIX}${1 + (lane % ADVERSARY_SOURCES)}`;
}

/**
 * Floods runs the chosen floods against the targets until stop(). `targets` is read again for every
 * attempt, so a restarted node (same ports) is flooded again.
 */
export class Floods {
  readonly counts = new Map<FloodKind, FloodCounts>();
  private running = false;
  private readonly lanes: Array<Promise<void>> = [];
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly targets: () => readonly FloodTarget[], private readonly kinds: readonly FloodKind[]) {
    for (const kind of kinds) this.counts.set(kind, emptyCounts());
  }

  /** start begins every flood on every target. */
  start(): void {
    if (this.running) return;
    this.running = true;
    for (const target of this.targets()) {
      for (const kind of this.kinds) {
        for (let lane = 0; lane < LANES[kind]; lane++) this.lanes.push(this.lane(kind, target.node, lane));
      }
    }
  }

  /** stop ends every flood and closes every socket it holds. */
  async stop(): Promise<void> {
    this.running = false;
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(this.lanes.splice(0));
  }

  private async lane(kind: FloodKind, node: number, lane: number): Promise<void> {
    const counts = this.counts.get(kind)!;
    // Lanes start spread over a second, so a flood begins as a ramp rather than one burst.
    await sleepMs((lane * 997) % 1_000);
    while (this.running) {
      const target = this.targets().find((t) => t.node === node);
      if (target === undefined) return;
      counts.attempts += 1;
      const answersBefore = answerCount(counts);
      try {
        await this.once(kind, target, lane, counts);
      } catch (error) {
        if (counts.errors.length < 5) counts.errors.push(`${kind} n${node}: ${(error as Error).message}`);
      }
      // A refused or closed socket is retried after a pause: a flood is steady, not a spin. The status poller asks
      // again at once after an answer (a 429 included: it ignores Retry-After), and pauses when it got none.
      const answered = answerCount(counts) > answersBefore;
      if (this.running) await sleepMs(kind === 'status-poll' && answered ? 0 : kind === 'raft-idle' || kind === 'slow-watch' ? 1_000 : 50);
    }
  }

  private once(kind: FloodKind, target: FloodTarget, lane: number, counts: FloodCounts): Promise<void> {
    switch (kind) {
      case 'deep-json':
        return this.http(target, lane, counts, `POST /v1/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${DEEP_JSON_BODY.length}\r\nConnection: close\r\n\r\n`, DEEP_JSON_BODY);
      case 'oversized':
        return this.http(target, lane, counts, `POST /v1/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${OVERSIZED_BYTES}\r\nConnection: close\r\n\r\n`, Buffer.alloc(OVERSIZED_BYTES, 0x41));
      case 'status-poll':
        return this.http(target, lane, counts, `GET ${lane % 2 === 0 ? '/v1/status' : '/v1/state?consistency=stale'} HTTP/1.1\r\nHost: x\r\n${authorization(target)}Connection: close\r\n\r\n`, undefined);
      case 'slow-watch':
        return this.hold(target.apiHost, target.apiPort, lane, counts, Buffer.from(`GET /v1/watch?from=0 HTTP/1.1\r\nHost: x\r\n${authorization(target)}\r\n`), true, undefined, target.apiTls);
      case 'raft-garbage':
        return this.hold(target.raftHost, target.raftPort, lane, counts, randomBytes(1 + (lane * 1_031) % 4_096), false, 2_000);
      case 'raft-half-handshake':
        return this.hold(target.raftHost, target.raftPort, lane, counts, halfClientHello(), false);
      case 'raft-idle':
        return this.hold(target.raftHost, target.raftPort, lane, counts, Buffer.alloc(0), false);
    }
  }

  /** http sends one request on a fresh connection and records the status of the answer. */
  private http(target: FloodTarget, lane: number, counts: FloodCounts, head: string, body: Buffer | undefined): Promise<void> {
    return new Promise((resolve) => {
      const socket = this.connect(target.apiHost, target.apiPort, lane, target.apiTls);
      let received = '';
      let settled = false;
      const finish = (refused: boolean): void => {
        if (settled) return;
        settled = true;
        const status = /^HTTP\/1\.1 (\d{3})/.exec(received)?.[1];
        if (status !== undefined) counts.answers[status] = (counts.answers[status] ?? 0) + 1;
        else if (refused) counts.refused += 1;
        socket.destroy();
        resolve();
      };
      socket.on('data', (chunk: Buffer) => {
        if (received.length < 64) received += chunk.toString('latin1');
      });
      // The node refuses a hostile body before it is all sent: EPIPE or a reset is its answer arriving early.
      socket.on('error', () => finish(true));
      socket.on('close', () => finish(received === ''));
      socket.setTimeout(SOCKET_TIMEOUT_MS, () => finish(true));
      socket.on('connect', () => {
        socket.write(head);
        if (body !== undefined) socket.write(body);
      });
    });
  }

  /**
   * hold connects, writes `first`, then keeps the socket until the node closes it (counted), the flood
   * stops, or `maxMs` passes. `pause`: read the first bytes the node sends (an HTTP answer's status is
   * counted), then nothing more (a slow watch client).
   */
  private hold(host: string, port: number, lane: number, counts: FloodCounts, first: Buffer, pause: boolean, maxMs?: number, secure = false): Promise<void> {
    return new Promise((resolve) => {
      const socket = this.connect(host, port, lane, secure);
      let connected = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        clearTimeout(timer);
        socket.destroy();
        resolve();
      };
      socket.on('connect', () => {
        connected = true;
        if (first.length > 0) socket.write(first);
        if (maxMs !== undefined) timer = setTimeout(finish, maxMs);
      });
      if (pause) {
        socket.once('data', (chunk: Buffer) => {
          socket.pause();
          const status = /^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1', 0, 64))?.[1];
          if (status !== undefined) counts.answers[status] = (counts.answers[status] ?? 0) + 1;
        });
      }
      socket.on('error', () => undefined);
      socket.on('close', () => {
        if (!connected) counts.refused += 1;
        else if (this.running) counts.closedByNode += 1;
        finish();
      });
    });
  }

  private connect(host: string, port: number, lane: number, secure = false): net.Socket {
    // An HTTPS API is flooded over TLS (an attacker checks no certificate); writes wait for the handshake.
    const options = { host, port, localAddress: sourceAddress(lane) };
    const socket = secure ? tls.connect({ ...options, rejectUnauthorized: false }) : net.connect(options);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    return socket;
  }
}

/** answerCount is how many HTTP answers a flood has had. */
function answerCount(counts: FloodCounts): number {
  return Object.values(counts.answers).reduce((sum, n) => sum + n, 0);
}

/** authorization is the header line of a target's read token ('' without one). */
function authorization(target: FloodTarget): string {
  return target.readToken === undefined ? '' : `Authorization: Bearer ${target.readToken}\r\n`;
}

/** halfClientHello is a TLS handshake record header announcing a ClientHello, followed by junk, cut short. */
function halfClientHello(): Buffer {
  const length = 512;
  const record = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, length >> 8, length & 0xff, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), randomBytes(300)]);
  return record;
}

/** summarizeCounts renders flood counts as one line per flood. */
export function summarizeCounts(counts: ReadonlyMap<FloodKind, FloodCounts>): string[] {
  return [...counts].map(([kind, c]) => {
    const answers = Object.entries(c.answers).sort().map(([status, n]) => `${status}×${n}`).join(' ');
    return `${kind}: ${c.attempts} attempts${answers === '' ? '' : `, answers ${answers}`}, ${c.refused} refused, ${c.closedByNode} closed by the node${c.errors.length > 0 ? `; errors: ${c.errors.join('; ')}` : ''}`;
  });
}

/** ResourceSample is one reading of a node process: its resident memory, its log files and its event loop. */
export interface ResourceSample {
  readonly t: number;
  readonly node: number;
  /** pid identifies the process lifetime (a restarted node is a new process, measured from its own start). */
  readonly pid: number;
  readonly rssBytes: number;
  /** logBytes: the node's log files together (node.log and its rotations). */
  readonly logBytes: number;
  /** loopDelayMaxMs: the longest event-loop delay since the previous scrape of its /metrics, if it answered. */
  readonly loopDelayMaxMs?: number;
  /** heapUsedBytes, heapTotalBytes, externalBytes: V8's heap and external memory, from the same scrape. */
  readonly heapUsedBytes?: number;
  readonly heapTotalBytes?: number;
  readonly externalBytes?: number;
}

const LOG_FILES = ['node.log', 'node.log.1', 'node.log.2', 'node.log.3'];

/** rssBytesOf reads VmRSS of a process from /proc, undefined when it is gone. */
export function rssBytesOf(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** logBytesOf sums the sizes of a node's log files in `dir`. */
export function logBytesOf(dir: string): number {
  let total = 0;
  for (const name of LOG_FILES) {
    const path = join(dir, name);
    if (existsSync(path)) total += statSync(path).size;
  }
  return total;
}

/** NodeMetrics are the figures bench:hostile reads from a node's /metrics (prom-client's process metrics). */
export interface NodeMetrics {
  /** loopDelayMaxMs: the event-loop lag maximum (reset by each scrape). */
  readonly loopDelayMaxMs?: number;
  readonly heapUsedBytes?: number;
  readonly heapTotalBytes?: number;
  readonly externalBytes?: number;
}

const METRIC_NAMES: Readonly<Record<keyof NodeMetrics, string>> = {
  loopDelayMaxMs: 'quorumgate_process_nodejs_eventloop_lag_max_seconds', heapUsedBytes: 'quorumgate_process_nodejs_heap_size_used_bytes',
  heapTotalBytes: 'quorumgate_process_nodejs_heap_size_total_bytes', externalBytes: 'quorumgate_process_nodejs_external_memory_bytes',
};

/** metricsOf scrapes a node's /metrics once; a figure it does not find (or a node that does not answer) is left out. */
export async function metricsOf(apiUrl: string): Promise<NodeMetrics> {
  let text: string;
  try {
    const response = await nodeFetch(`${apiUrl}/metrics`, { signal: AbortSignal.timeout(1_000) });
    text = await response.text();
  } catch {
    return {};
  }
  const out: Record<string, number> = {};
  for (const [field, name] of Object.entries(METRIC_NAMES)) {
    const match = new RegExp(`^${name}\\s+([0-9.eE+-]+)$`, 'm').exec(text);
    if (match !== null) out[field] = field === 'loopDelayMaxMs' ? Number(match[1]) * 1000 : Number(match[1]);
  }
  return out;
}

/** loopDelayMaxMsOf scrapes prom-client's event-loop lag maximum from a node's /metrics (reset by each scrape). */
export async function loopDelayMaxMsOf(apiUrl: string): Promise<number | undefined> {
  return (await metricsOf(apiUrl)).loopDelayMaxMs;
}

/** SampledNode is what sampleResources needs of a node. */
export interface SampledNode {
  readonly node: number;
  readonly pid: number | undefined;
  readonly dir: string;
  readonly apiUrl: string;
}

/** sampleResources reads every running node once. */
export async function sampleResources(t: number, nodes: readonly SampledNode[]): Promise<ResourceSample[]> {
  const samples = await Promise.all(nodes.map(async (n): Promise<ResourceSample | undefined> => {
    if (n.pid === undefined) return undefined;
    const rssBytes = rssBytesOf(n.pid);
    if (rssBytes === undefined) return undefined;
    return { t, node: n.node, pid: n.pid, rssBytes, logBytes: logBytesOf(n.dir), ...await metricsOf(n.apiUrl) };
  }));
  return samples.filter((s): s is ResourceSample => s !== undefined);
}
