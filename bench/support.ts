// support.ts — load generation and statistics shared by the benchmarks.
import { Agent, request } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import type { LocalCluster } from '../cluster/local-cluster.js';

/** percentile returns the p-th percentile (nearest rank) of values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** SendOutcome is one request's result. */
export interface SendOutcome {
  readonly ok: boolean;
}

/** ClosedLoopResult summarizes a closed-loop run. */
export interface ClosedLoopResult {
  readonly perSecond: number;
  readonly latenciesMs: number[];
  readonly errors: number;
}

/**
 * runClosedLoop runs `proposers` loops that each send one request and wait for its answer, for
 * `seconds` after `warmupSeconds`; only acknowledged requests in the measured window count.
 */
export async function runClosedLoop(init: {
  proposers: number;
  seconds: number;
  warmupSeconds: number;
  send: (id: string) => Promise<SendOutcome>;
}): Promise<ClosedLoopResult> {
  const start = performance.now();
  const measureFrom = start + init.warmupSeconds * 1000;
  const measureTo = measureFrom + init.seconds * 1000;
  const latenciesMs: number[] = [];
  let acked = 0;
  let errors = 0;
  let counter = 0;
  const loop = async (proposer: number): Promise<void> => {
    while (performance.now() < measureTo) {
      const sentAt = performance.now();
      const outcome = await init.send(`p${proposer}-${++counter}`);
      const doneAt = performance.now();
      if (sentAt < measureFrom || doneAt > measureTo) continue;
      if (outcome.ok) {
        acked += 1;
        latenciesMs.push(doneAt - sentAt);
      } else {
        errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: init.proposers }, (_, p) => loop(p)));
  return { perSecond: acked / init.seconds, latenciesMs, errors };
}

/**
 * LOAD_AGENT keeps the load generator's connections open between requests (one per client in a
 * closed loop), like etcd's and quorumgate's own clients do.
 */
const LOAD_AGENT = new Agent({ keepAlive: true });

/** JsonAnswer is an HTTP answer: its status and its body, parsed as JSON when it is JSON. */
export interface JsonAnswer {
  readonly status: number;
  readonly body: unknown;
}

/**
 * postJson is the load generator's request: POST a JSON body to `url` over a kept-alive connection
 * and read the whole answer, or reject after `timeoutMs`. Every benchmark sends its writes through
 * it, to either system: node:http costs the client about a quarter of the CPU that fetch (undici)
 * does per request, and the client shares the machine's cores with the clusters it measures.
 */
export function postJson(url: string, body: unknown, timeoutMs: number, httpsAgent?: HttpsAgent): Promise<JsonAnswer> {
  const text = JSON.stringify(body);
  // An https:// node (the gateway mode) is reached through the cluster's agent, which pins node keys.
  const https = url.startsWith('https:');
  if (https && httpsAgent === undefined) throw new Error(`postJson ${url}: an https:// endpoint needs the cluster's HTTPS agent (LocalCluster.httpsAgent)`);
  return new Promise<JsonAnswer>((resolve, reject) => {
    const req = (https ? httpsRequest : request)(url, {
      method: 'POST',
      agent: https ? httpsAgent : LOAD_AGENT,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      signal: AbortSignal.timeout(timeoutMs),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = raw;
        if ((res.headers['content-type'] ?? '').includes('json')) {
          try {
            parsed = JSON.parse(raw);
          } catch {
            // Not JSON after all: the caller gets the text.
          }
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(text);
  });
}

/** proposeOnce posts one payload of `bytes` bytes (id first) to a node in the bare-log mode. */
export async function proposeOnce(apiUrl: string, id: string, bytes: number, timeoutMs = 10_000): Promise<SendOutcome> {
  const payload = `${id}:`.padEnd(bytes, 'x');
  try {
    const answer = await postJson(`${apiUrl}/v1/raft/propose`, { payload }, timeoutMs);
    return { ok: answer.status >= 200 && answer.status < 300 };
  } catch {
    return { ok: false };
  }
}

/** waitForAllApplied waits until the listed nodes report the same applied index (the cluster is idle and caught up). */
export async function waitForAllApplied(cluster: LocalCluster, ids: readonly number[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all(ids.map((id) => cluster.status(id)));
    if (statuses.every((s) => s !== undefined && s.applied === statuses[0]!.applied && s.leader !== 0)) return;
    if (Date.now() > deadline) {
      const seen = statuses.map((s, i) => (s ? `${ids[i]}: ${s.role} leader ${s.leader} term ${s.term} commit ${s.commit} applied ${s.applied}` : `${ids[i]}: no answer (${cluster.whyNoAnswer(ids[i]!)})`));
      throw new Error(`nodes ${ids.join(',')} did not catch up within ${timeoutMs} ms (${seen.join('; ')})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * BatchingClient coalesces concurrent requests into batch requests (POST `url` with `{ [field]: items }`,
 * answered `{ results: [{ ok }, …] }` in order), as a client library multiplexing many callers over few
 * connections does (etcd's clients share one gRPC connection): each caller still sends one item and waits
 * for its own answer. At most `connections` requests are in flight; while they are, new items queue, and
 * the next free connection takes up to `maxBatch` of them at once.
 */
export class BatchingClient {
  private readonly url: string;
  private readonly field: string;
  private readonly connections: number;
  private readonly maxBatch: number;
  private readonly timeoutMs: number;
  private readonly httpsAgent: HttpsAgent | undefined;
  private readonly queue: { item: string; done: (outcome: SendOutcome) => void }[] = [];
  private inFlight = 0;
  /** batchSizes records the size of every batch sent (for the report). */
  readonly batchSizes: number[] = [];

  constructor(init: { url: string; field: string; connections: number; maxBatch?: number; timeoutMs?: number; httpsAgent?: HttpsAgent }) {
    this.url = init.url;
    this.httpsAgent = init.httpsAgent;
    this.field = init.field;
    this.connections = init.connections;
    this.maxBatch = init.maxBatch ?? 256;
    this.timeoutMs = init.timeoutMs ?? 10_000;
  }

  /** send queues one item and resolves with its own outcome. */
  send(item: string): Promise<SendOutcome> {
    return new Promise((done) => {
      this.queue.push({ item, done });
      this.pump();
    });
  }

  /** meanBatch is the mean size of the batches sent so far (0 before any). */
  meanBatch(): number {
    return this.batchSizes.length === 0 ? 0 : this.batchSizes.reduce((a, b) => a + b, 0) / this.batchSizes.length;
  }

  private pump(): void {
    while (this.inFlight < this.connections && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight += 1;
      this.batchSizes.push(batch.length);
      void this.post(batch).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
  }

  private async post(batch: { item: string; done: (outcome: SendOutcome) => void }[]): Promise<void> {
    let results: { ok?: boolean }[] = [];
    try {
      const answer = await postJson(this.url, { [this.field]: batch.map((p) => p.item) }, this.timeoutMs, this.httpsAgent);
      const body = answer.body as { results?: { ok?: boolean }[] } | undefined;
      if (answer.status === 200 && Array.isArray(body?.results) && body.results.length === batch.length) results = body.results;
    } catch {
      // The whole batch failed (connection, timeout): every item in it is answered not ok.
    }
    batch.forEach((p, i) => p.done({ ok: results[i]?.ok === true }));
  }
}

/** BatchingProposer is a BatchingClient for bare-log proposals (POST /v1/raft/propose/batch) of `bytes` bytes. */
export class BatchingProposer extends BatchingClient {
  private readonly bytes: number;

  constructor(init: { apiUrl: string; bytes: number; connections: number; maxBatch?: number; timeoutMs?: number }) {
    super({ ...init, url: `${init.apiUrl}/v1/raft/propose/batch`, field: 'payloads' });
    this.bytes = init.bytes;
  }

  /** propose sends one payload of `bytes` bytes (id first) and resolves with its own outcome. */
  propose(id: string): Promise<SendOutcome> {
    return this.send(`${id}:`.padEnd(this.bytes, 'x'));
  }
}

/** SUBMIT_ATTEMPTS bounds how often one batch of registrations is posted again after an indeterminate answer. */
const SUBMIT_ATTEMPTS = 6;

/**
 * submitBatch posts signed envelopes to the leader and checks every one applied. An answer that leaves the
 * outcome unknown (a leader change mid-proposal: UNAVAILABLE, or no answer) is retried with the same bytes
 * through the new leader: what already applied is answered `duplicate` with its original result, so a
 * registration is never applied twice. A loaded 2-core machine changed leaders during registration of 10,000
 * devices in two runs of 2026-12-06.
 */
export async function submitBatch(
  cluster: LocalCluster, envelopes: readonly string[], what: string, findLeader: () => Promise<number> = () => cluster.waitForLeader(30_000),
): Promise<void> {
  let last = '';
  for (let attempt = 1; attempt <= SUBMIT_ATTEMPTS; attempt++) {
    const leader = await findLeader();
    let answer: { status: number; body: unknown };
    try {
      answer = await postJson(`${cluster.apiUrl(leader)}/v1/commands/batch`, { envelopes }, 120_000, cluster.httpsAgent());
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      continue;
    }
    const results = (answer.body as { results?: Array<{ ok: boolean; answer?: { result?: { ok?: boolean; code?: string; reason?: string } }; error?: { code?: string; message?: string } }> }).results;
    const refused = results?.find((one) => !one.ok || one.answer?.result?.ok !== true);
    if (answer.status === 200 && results?.length === envelopes.length && refused === undefined) return;
    last = `HTTP ${answer.status}, ${refused === undefined ? JSON.stringify(answer.body).slice(0, 500) : JSON.stringify(refused)}`;
    const unknownOutcome = answer.status >= 500 || (refused !== undefined && !refused.ok && refused.error?.code === 'UNAVAILABLE');
    if (!unknownOutcome) break;
    process.stdout.write(`  ${what}: outcome unknown (${last.slice(0, 160)}); posting the same envelopes again (attempt ${attempt + 1})\n`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
  throw new Error(`registering ${what}: ${last}`);
}

/**
 * ATTACKER_SCRIPT is a brute-force attacker (node -e, the target's address as its argument): it prints its
 * clock as `t0=<ms>` just before its first packet, then sends a UDP datagram to port 9998 every 1 ms and opens
 * a TCP connection to the login port 22 every 5 ms (what the monitor μmbox counts), until it is killed.
 */
export const ATTACKER_SCRIPT = `
const dgram = require('node:dgram'); const net = require('node:net');
const target = process.argv[1];
const socket = dgram.createSocket('udp4');
const t0 = Date.now();
process.stdout.write('t0=' + t0 + '\\n');
let seq = 0;
setInterval(() => socket.send(Buffer.from(String(seq++)), 9998, target, () => {}), 1);
setInterval(() => { const c = net.connect({ host: target, port: 22 }); c.on('error', () => {}); c.on('connect', () => c.destroy()); setTimeout(() => c.destroy(), 500); }, 5);
`;
/**
 * RECEIVER_SCRIPT runs on the victim (node -e, a file as its argument): it listens on UDP 9998 and keeps the
 * time of the last datagram received in the file (written atomically, at most every 5 ms).
 */
export const RECEIVER_SCRIPT = `
const fs = require('node:fs');
const socket = require('node:dgram').createSocket('udp4');
const file = process.argv[1];
let last = 0; let written = 0;
socket.on('message', () => { last = Date.now(); });
socket.bind(9998);
setInterval(() => { if (last !== written) { fs.writeFileSync(file + '.tmp', String(last)); fs.renameSync(file + '.tmp', file); written = last; } }, 5);
`;
