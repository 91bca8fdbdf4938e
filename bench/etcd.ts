// etcd.ts — quorumgate against etcd on the same machine in the same run (npm run bench:etcd).
//
// Two 3-node clusters on loopback, each node a separate process that fsyncs its log: quorumgate
// (LocalCluster, gateway mode) and etcd 3.4 (EtcdCluster), with the same heartbeat (100 ms) and the
// same election timeout (1000 ms; quorumgate's tickMs × electionTicks), PreVote on for both.
// One load generator (bench/support.ts runClosedLoop: N clients, each sends one write and waits
// for its answer; every write to either system is a postJson over a kept-alive node:http
// connection) writes, per acknowledged request:
//  - to quorumgate: an admin-signed `putDevice` command whose PutDevice payload encodes to exactly
//    256 bytes (the device's tags carry a write counter and padding). It is the cheapest realistic
//    gateway write: the receiving node verifies the Ed25519 signature at the edge, every node
//    verifies it again in apply, and the state machine updates the device and its policy state.
//    Each client has its own admin key (a signer's seq must grow, so concurrent clients cannot share
//    one), 64 admins per domain (the per-domain limit), each domain with a one-type policy;
//  - to etcd: a plain v3 put of a 256-byte value, once through the JSON gateway (`etcd`) and once
//    through its gRPC API with the `etcd3` client (`etcd_grpc`), against the same etcd cluster.
// Each client overwrites its own device or key. Writes go to the leader, as etcd's clients do.
// Measured, interleaved per step (quorumgate, etcd JSON, etcd gRPC) so machine load drifts alike for all:
//  - throughput_per_s at each client count (--levels, default 1,16,64,256) over --seconds each,
//    after a 1 s warm-up; latency p50/p99 per level (`latency_ms` is the 64-client level);
//  - failover_ms: kill -9 the leader, then the time until a write is acknowledged again. Probes to
//    the survivors start every 25 ms on up to 64 lanes (one signer per lane), each with a timeout of
//    two election timeouts, so a probe that a system holds until its request timeout (etcd does this
//    with a proposal forwarded to the dead leader) does not hide when writes work again.
// Prints the three side by side with the ratios and writes bench/results/etcd.json, including the load
// average (the machine is shared, so figures are noisy). The ratios that count (issue #18) compare
// quorumgate with the faster etcd API at each level: `ratio.*_best` and `ratio.cpu_per_write_*`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { noop } from 'cockatiel';
import { Command, InvalidArgumentError, Option } from 'commander';
import { Etcd3 } from 'etcd3';
import { LocalCluster } from '../cluster/local-cluster.js';
import {
  clusterIdOf, generateKeyPair, keyIdHex, keyPairFromSeed, signCommand,
  type DeviceSpec, type Genesis, type KeyPair, type Payload,
} from '../src/commands/index.js';
import { packagePath } from '../src/wire/index.js';
import { EtcdCluster, findEtcdBinary, putAt } from './etcd-cluster.js';
import { BatchingClient, percentile, postJson, runClosedLoop, waitForAllApplied, type ClosedLoopResult, type SendOutcome } from './support.js';

/** VALUE_BYTES is the size of every written value (etcd) and PutDevice payload (quorumgate). */
export const VALUE_BYTES = 256;
/** DEFAULT_LEVELS are the client counts measured unless --levels says otherwise. */
export const DEFAULT_LEVELS: readonly number[] = [1, 16, 64, 256];
/** MAX_CLIENTS bounds --levels (and so the admin keys and open connections the bench creates). */
export const MAX_CLIENTS = 1_024;
/** ADMINS_PER_DOMAIN is quorumgate's limit of admin keys per domain (MAX_ADMIN_KEYS_PER_DOMAIN). */
const ADMINS_PER_DOMAIN = 64;
/** PROBE_LANES bounds the failover probes in flight at once. */
const PROBE_LANES = 64;
/** PROBE_INTERVAL_MS is the pause between starting two failover probes. */
const PROBE_INTERVAL_MS = 25;
/** WARMUP_SECONDS precedes each measured level. */
const WARMUP_SECONDS = 1;
/** IDLE_SECONDS is how long each idle cluster's CPU use is measured before the load starts. */
const IDLE_SECONDS = 3;
/** LATENCY_LEVEL is the client count whose latency is the headline `latency_ms`. */
const LATENCY_LEVEL = 64;
/** DEVICE_TYPE is the single device type of the bench domains' policy. */
const DEVICE_TYPE = 'bench-sensor';
/**
 * WRITE_TIMEOUT_MS bounds one measured write: above quorumgate's proposal timeout (5 s here) and
 * etcd's request timeout (5 s + 2 election timeouts), so a slow write is answered by the system
 * (acknowledged, or refused as indeterminate) rather than abandoned by the client.
 */
const WRITE_TIMEOUT_MS = 10_000;
/** COMMAND_LIFETIME_MS is how long a signed bench command stays valid. */
const COMMAND_LIFETIME_MS = 600_000;

// ---------------------------------------------------------------------------------------------------
// Pure helpers: options, statistics, payload sizing, the report.

/** parseLevels reads --levels: a comma-separated list of distinct client counts in 1..MAX_CLIENTS. */
export function parseLevels(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  const levels = parts.map((part, i) => {
    if (!/^\d+$/.test(part) || Number(part) < 1 || Number(part) > MAX_CLIENTS) {
      throw new InvalidArgumentError(`--levels item ${i + 1}: expected an integer from 1 to ${MAX_CLIENTS}, got "${part}"`);
    }
    return Number(part);
  });
  if (new Set(levels).size !== levels.length) throw new InvalidArgumentError(`--levels: expected distinct client counts, got "${text}"`);
  return levels;
}

/** parsePositiveInteger reads an integer option of at least `minimum`. */
export function parsePositiveInteger(name: string, minimum: number): (text: string) => number {
  return (text) => {
    if (!/^\d+$/.test(text.trim()) || Number(text) < minimum) {
      throw new InvalidArgumentError(`${name}: expected an integer of at least ${minimum}, got "${text}"`);
    }
    return Number(text);
  };
}

/** Percentiles are a sample's median and 99th percentile (nearest rank), rounded to 0.1 ms. */
export interface Percentiles {
  readonly p50: number | null;
  readonly p99: number | null;
}

/** summarize returns the p50 and p99 of a sample; null for an empty sample. */
export function summarize(values: readonly number[]): Percentiles {
  if (values.length === 0) return { p50: null, p99: null };
  return { p50: round1(percentile(values, 50)), p99: round1(percentile(values, 99)) };
}

/** ratioOf divides quorumgate's figure by etcd's, to 3 decimals; null when either is missing or etcd's is 0. */
export function ratioOf(quorumgate: number | null | undefined, etcd: number | null | undefined): number | null {
  if (quorumgate === null || quorumgate === undefined || etcd === null || etcd === undefined || etcd === 0) return null;
  return Math.round((quorumgate / etcd) * 1000) / 1000;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

/** stringFieldBytes is the protobuf size of one string field with a field number below 16. */
function stringFieldBytes(text: string): number {
  const length = Buffer.byteLength(text, 'utf8');
  let varint = 1;
  for (let rest = length >>> 7; rest > 0; rest >>>= 7) varint += 1;
  return 1 + varint + length;
}

/** putDevicePayloadBytes is the size of a device's encoded PutDevice message (proto/commands.proto). */
export function putDevicePayloadBytes(device: DeviceSpec): number {
  const strings = [device.id, device.type, device.group, ...device.tags, device.nodeId, device.port, ...device.addresses];
  return strings.reduce((sum, s) => sum + stringFieldBytes(s), 0);
}

/** writeTag names write number `write` with a fixed width, so every write's payload has the same size. */
export function writeTag(write: number): string {
  assert.ok(Number.isSafeInteger(write) && write >= 0, `write number ${write}`);
  return `w-${write.toString(16).padStart(14, '0')}`;
}

/**
 * benchDevice is the device a client writes: its id and port name the client, its first tag the
 * write, and padding tags (identifiers of at most 64 characters) bring the PutDevice payload to
 * exactly `payloadBytes`.
 */
export function benchDevice(client: number, write: number, nodeId: string, payloadBytes = VALUE_BYTES): DeviceSpec {
  const device: DeviceSpec = {
    id: `bench-c${client}`, type: DEVICE_TYPE, group: 'bench', tags: [writeTag(write)], nodeId, port: `p${client}`, addresses: ['10.0.0.1'],
  };
  // A padding tag of n characters costs n + 2 bytes (tag byte, one-byte length) for n <= 64.
  for (let pad = 0; pad < 32; pad++) {
    const remaining = payloadBytes - putDevicePayloadBytes(device);
    if (remaining === 0) return device;
    const prefix = `pad${pad}-`;
    assert.ok(remaining >= prefix.length + 3, `cannot pad a PutDevice payload by ${remaining} bytes`);
    // Leave at least a minimal tag's worth when this one cannot take the whole remainder.
    const length = remaining <= 66 ? remaining - 2 : Math.min(64, remaining - 2 - (prefix.length + 3));
    device.tags.push(prefix.padEnd(length, 'x'));
  }
  throw new Error(`benchDevice: could not reach ${payloadBytes} payload bytes within 32 tags`);
}

/** benchPolicy is the one-type policy of a bench domain: no sensors, no rules, verdicts only. */
export function benchPolicy(domain: string): string {
  return JSON.stringify({
    domain, version: 1,
    deviceTypes: [{ name: DEVICE_TYPE, states: [{ name: 'normal', verdict: 'allow' }, { name: 'suspicious', verdict: 'allow' }, { name: 'attack', verdict: 'quarantine' }] }],
  });
}

/** SystemFigures are one system's measurements. */
export interface SystemFigures {
  /** throughputPerSecond: acknowledged writes per second, keyed by client count. */
  readonly throughputPerSecond: ReadonlyMap<number, number>;
  readonly latenciesMs: ReadonlyMap<number, readonly number[]>;
  readonly errors: ReadonlyMap<number, number>;
  /** resources: log syncs and CPU per level (diagnostic). */
  readonly resources?: ReadonlyMap<number, LevelResources>;
  /** idleCpuCores: CPU the idle cluster uses, summed over members (diagnostic). */
  readonly idleCpuCores?: number | null;
  readonly failoversMs: readonly number[];
}

/** systemReport is one system's part of etcd.json. */
export function systemReport(figures: SystemFigures, latencyLevel: number): Omit<SystemReport, 'error_samples'> {
  const byLevel = <T>(f: (level: number) => T): Record<string, T> =>
    Object.fromEntries([...figures.throughputPerSecond.keys()].map((level) => [String(level), f(level)]));
  return {
    throughput_per_s: byLevel((level) => Math.round(figures.throughputPerSecond.get(level) ?? 0)),
    latency_ms: summarize(figures.latenciesMs.get(latencyLevel) ?? []),
    latency_clients: latencyLevel,
    latency_by_clients_ms: byLevel((level) => summarize(figures.latenciesMs.get(level) ?? [])),
    errors_by_clients: byLevel((level) => figures.errors.get(level) ?? 0),
    resources_by_clients: byLevel((level) => figures.resources?.get(level) ?? null),
    idle_cluster_cpu_cores: figures.idleCpuCores ?? null,
    failover_ms: { ...summarize(figures.failoversMs), samples: figures.failoversMs.map(round1) },
  };
}

/** latencyLevelOf is the headline latency level: 64 clients if measured, else the largest measured. */
export function latencyLevelOf(levels: readonly number[]): number {
  assert.ok(levels.length > 0, 'no levels');
  return levels.includes(LATENCY_LEVEL) ? LATENCY_LEVEL : Math.max(...levels);
}

/** ratios compares the two systems: quorumgate ÷ etcd (throughput: higher is better; failover: lower). */
export function ratios(quorumgate: SystemFigures, etcd: SystemFigures): { throughput_64: number | null; failover_p99: number | null } {
  return {
    throughput_64: ratioOf(quorumgate.throughputPerSecond.get(64), etcd.throughputPerSecond.get(64)),
    failover_p99: ratioOf(summarize(quorumgate.failoversMs).p99, summarize(etcd.failoversMs).p99),
  };
}

/** BestRatios compare quorumgate with the better of etcd's two APIs at each figure (issue #18's goals). */
export interface BestRatios {
  /** throughput_64_best: quorumgate's writes/s at 64 clients ÷ the faster etcd API's (higher is better). */
  readonly throughput_64_best: number | null;
  /** p50_1_best: quorumgate's p50 at 1 client ÷ the lower etcd p50 (lower is better). */
  readonly p50_1_best: number | null;
  /** cpu_per_write_64 / cpu_per_write_1: cluster CPU ms per write ÷ the lower etcd figure (lower is better). */
  readonly cpu_per_write_64: number | null;
  readonly cpu_per_write_1: number | null;
  /** failover_p99_best: quorumgate's failover p99 ÷ the lower etcd p99 (lower is better). */
  readonly failover_p99_best: number | null;
}

/** bestRatios compares quorumgate with whichever etcd API is better on each figure. */
export function bestRatios(quorumgate: SystemFigures, etcdApis: readonly SystemFigures[]): BestRatios {
  const best = (values: ReadonlyArray<number | null | undefined>, pick: (a: number, b: number) => number): number | null => {
    const present = values.filter((v): v is number => v !== null && v !== undefined);
    return present.length === 0 ? null : present.reduce((a, b) => pick(a, b));
  };
  const cpuPerWrite = (f: SystemFigures, level: number): number | null => f.resources?.get(level)?.cluster_cpu_ms_per_write ?? null;
  const p50At = (f: SystemFigures, level: number): number | null => summarize(f.latenciesMs.get(level) ?? []).p50;
  return {
    throughput_64_best: ratioOf(quorumgate.throughputPerSecond.get(64), best(etcdApis.map((f) => f.throughputPerSecond.get(64)), Math.max)),
    p50_1_best: ratioOf(p50At(quorumgate, 1), best(etcdApis.map((f) => p50At(f, 1)), Math.min)),
    cpu_per_write_64: ratioOf(cpuPerWrite(quorumgate, 64), best(etcdApis.map((f) => cpuPerWrite(f, 64)), Math.min)),
    cpu_per_write_1: ratioOf(cpuPerWrite(quorumgate, 1), best(etcdApis.map((f) => cpuPerWrite(f, 1)), Math.min)),
    failover_p99_best: ratioOf(summarize(quorumgate.failoversMs).p99, best(etcdApis.map((f) => summarize(f.failoversMs).p99), Math.min)),
  };
}

/** BEST_GOALS are issue #18's bounds on the best-API ratios. */
export const BEST_GOALS = { throughput_64_best: 1.0, p50_1_best: 1.5, cpu_per_write_64: 1.5, cpu_per_write_1: 1.5, failover_p99_best: 1.0 } as const;

/** bestGoals says, per best-API ratio, whether issue #18's goal is met (null when not measured). */
export function bestGoals(r: BestRatios): Record<keyof BestRatios, boolean | null> {
  const atMost = (value: number | null, bound: number): boolean | null => (value === null ? null : value <= bound);
  return {
    throughput_64_best: r.throughput_64_best === null ? null : r.throughput_64_best >= BEST_GOALS.throughput_64_best,
    p50_1_best: atMost(r.p50_1_best, BEST_GOALS.p50_1_best),
    cpu_per_write_64: atMost(r.cpu_per_write_64, BEST_GOALS.cpu_per_write_64),
    cpu_per_write_1: atMost(r.cpu_per_write_1, BEST_GOALS.cpu_per_write_1),
    failover_p99_best: atMost(r.failover_p99_best, BEST_GOALS.failover_p99_best),
  };
}

/** MemberCounters are a member's cumulative counters, read from its Prometheus /metrics. */
export interface MemberCounters {
  readonly cpuSeconds: number;
  /** logSyncs: quorumgate: fsynced LevelDB batches of the Raft log (one per Ready with mustSync); etcd: WAL fsyncs. */
  readonly logSyncs: number;
  readonly logSyncSeconds: number;
}

/** COUNTER_METRICS names, per system, the Prometheus series behind MemberCounters. */
export const COUNTER_METRICS = {
  quorumgate: { cpuSeconds: 'quorumgate_process_process_cpu_seconds_total', logSyncs: 'quorumgate_storage_synced_saves_total', logSyncSeconds: 'quorumgate_storage_synced_save_seconds_total' },
  etcd: { cpuSeconds: 'process_cpu_seconds_total', logSyncs: 'etcd_disk_wal_fsync_duration_seconds_count', logSyncSeconds: 'etcd_disk_wal_fsync_duration_seconds_sum' },
} as const;

/** parseCounters reads MemberCounters out of Prometheus text; undefined if a series is missing. */
export function parseCounters(text: string, names: { readonly cpuSeconds: string; readonly logSyncs: string; readonly logSyncSeconds: string }): MemberCounters | undefined {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    // Unlabelled samples only: "name value" (the three series have no labels in either system).
    const match = /^([A-Za-z_:][A-Za-z0-9_:]*) (\S+)$/.exec(line.trim());
    if (match !== null && Number.isFinite(Number(match[2]))) values.set(match[1]!, Number(match[2]));
  }
  const cpuSeconds = values.get(names.cpuSeconds);
  const logSyncs = values.get(names.logSyncs);
  const logSyncSeconds = values.get(names.logSyncSeconds);
  if (cpuSeconds === undefined || logSyncs === undefined || logSyncSeconds === undefined) return undefined;
  return { cpuSeconds, logSyncs, logSyncSeconds };
}

/** LevelResources says where a level's time went: the leader's log syncs and the cluster's CPU. */
export interface LevelResources {
  readonly leader_log_syncs_per_s: number | null;
  readonly leader_mean_log_sync_ms: number | null;
  /** cluster_cpu_cores: CPU seconds per second, summed over the members. */
  readonly cluster_cpu_cores: number | null;
  readonly cluster_cpu_ms_per_write: number | null;
}

/**
 * levelResources turns counters read before and after a level (warm-up included, over `elapsedS`)
 * into rates; a member that did not answer makes the figures it feeds null.
 */
export function levelResources(init: {
  leaderBefore: MemberCounters | undefined; leaderAfter: MemberCounters | undefined;
  before: ReadonlyArray<MemberCounters | undefined>; after: ReadonlyArray<MemberCounters | undefined>;
  elapsedS: number; writesPerSecond: number;
}): LevelResources {
  const { leaderBefore, leaderAfter, elapsedS } = init;
  assert.ok(elapsedS > 0, `elapsed ${elapsedS} s`);
  const syncs = leaderBefore && leaderAfter ? leaderAfter.logSyncs - leaderBefore.logSyncs : undefined;
  const syncSeconds = leaderBefore && leaderAfter ? leaderAfter.logSyncSeconds - leaderBefore.logSyncSeconds : undefined;
  const complete = init.before.length === init.after.length && [...init.before, ...init.after].every((c) => c !== undefined);
  const cpuSeconds = complete ? init.after.reduce((sum, c, i) => sum + c!.cpuSeconds - init.before[i]!.cpuSeconds, 0) : undefined;
  const cores = cpuSeconds === undefined ? undefined : cpuSeconds / elapsedS;
  return {
    leader_log_syncs_per_s: syncs === undefined ? null : round1(syncs / elapsedS),
    leader_mean_log_sync_ms: syncs === undefined || syncSeconds === undefined || syncs === 0 ? null : Math.round((syncSeconds / syncs) * 1e5) / 100,
    cluster_cpu_cores: cores === undefined ? null : Math.round(cores * 100) / 100,
    cluster_cpu_ms_per_write: cores === undefined || init.writesPerSecond === 0 ? null : Math.round((cores * 1e5) / init.writesPerSecond) / 100,
  };
}

async function readCounters(metricsUrl: string, names: (typeof COUNTER_METRICS)[keyof typeof COUNTER_METRICS], fetchFunction: (url: string, init: RequestInit) => Promise<Response> = (url, init) => fetch(url, init)): Promise<MemberCounters | undefined> {
  try {
    const response = await fetchFunction(metricsUrl, { signal: AbortSignal.timeout(2_000) });
    return response.ok ? parseCounters(await response.text(), names) : undefined;
  } catch {
    // A member that is down has no counters; the figures it feeds are reported as null.
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------
// The two systems behind one interface.

/** BenchSystem is what the load generator and the failover probe need from a cluster. */
export interface BenchSystem {
  readonly name: string;
  /** leader waits for an agreed leader and returns its member name. */
  leader(): Promise<string>;
  /** write sends client `client`'s next write to member `member`. */
  write(client: number, member: string, timeoutMs: number): Promise<SendOutcome>;
  members(): string[];
  kill(member: string): Promise<void>;
  restart(member: string): void;
  /** settled waits until every member runs and has applied the same log. */
  settled(): Promise<void>;
  /** counters reads a member's cumulative CPU and log-sync counters; undefined if it does not answer. */
  counters(member: string): Promise<MemberCounters | undefined>;
}

/** AdminSigner is one client's admin key, the domain it administers and its next seq. */
interface AdminSigner {
  readonly pair: KeyPair;
  readonly id: string;
  readonly domain: string;
  seq: number;
}

/** QuorumgateSystem writes admin-signed putDevice commands to a LocalCluster in gateway mode. */
export class QuorumgateSystem implements BenchSystem {
  readonly name = 'quorumgate';
  private readonly cluster: LocalCluster;
  private readonly clusterId: Uint8Array;
  private readonly signers: AdminSigner[] = [];
  private rootSeq = 0;
  private readonly writes: number[] = [];
  readonly errorSamples: string[] = [];

  constructor(cluster: LocalCluster) {
    this.cluster = cluster;
    this.clusterId = clusterIdOf(JSON.parse(readFileSync(cluster.genesisFile, 'utf8')) as Genesis);
  }

  /** prepare creates the bench domains, one admin key per client and each domain's policy. */
  async prepare(clients: number): Promise<void> {
    const leader = await this.leader();
    const roots = this.cluster.rootKeyFiles().slice(0, 2).map((file) => keyPairFromSeed(Buffer.from((JSON.parse(readFileSync(file, 'utf8')) as { seed: string }).seed, 'hex')));
    const domains = Math.ceil(clients / ADMINS_PER_DOMAIN);
    for (let d = 0; d < domains; d++) await this.submitOrThrow(leader, this.signRoot(roots, `bench-${d}`, { kind: 'createDomain', description: 'bench:etcd' }));
    for (let client = 0; client < clients; client++) {
      const pair = generateKeyPair();
      const signer: AdminSigner = { pair, id: keyIdHex(pair.publicKey), domain: `bench-${Math.floor(client / ADMINS_PER_DOMAIN)}`, seq: 0 };
      await this.submitOrThrow(leader, this.signRoot(roots, signer.domain, { kind: 'addAdminKey', publicKey: pair.publicKey, name: `client-${client}` }));
      this.signers.push(signer);
      this.writes.push(0);
    }
    for (let d = 0; d < domains; d++) {
      await this.submitOrThrow(leader, this.signAdmin(d * ADMINS_PER_DOMAIN, { kind: 'setPolicy', documentJson: benchPolicy(`bench-${d}`) }));
    }
  }

  async leader(): Promise<string> {
    return String(await this.cluster.waitForLeader(15_000));
  }

  members(): string[] {
    return this.cluster.nodes.map((n) => String(n.nodeId));
  }

  async write(client: number, member: string, timeoutMs: number): Promise<SendOutcome> {
    const answer = await this.submit(member, this.nextWrite(client), timeoutMs);
    if (!answer.ok && this.errorSamples.length < 5) this.errorSamples.push(answer.error);
    return { ok: answer.ok };
  }

  /**
   * batchingClient is a client that coalesces concurrent writes to `member` into POST /v1/commands/batch
   * requests over at most `connections` connections (each write still its own signed command and answer).
   */
  batchingClient(member: string, connections: number, timeoutMs: number): BatchingClient {
    return new BatchingClient({ url: `${this.cluster.apiUrl(Number(member))}/v1/commands/batch`, field: 'envelopes', connections, timeoutMs, httpsAgent: this.cluster.httpsAgent() });
  }

  /** writeVia is write() through a batching client. */
  async writeVia(via: BatchingClient, client: number): Promise<SendOutcome> {
    return via.send(this.nextWrite(client));
  }

  /** nextWrite signs the client's next putDevice command (every write differs). */
  private nextWrite(client: number): string {
    this.writes[client] = (this.writes[client] ?? 0) + 1;
    return this.signAdmin(client, { kind: 'putDevice', device: benchDevice(client, this.writes[client]!, 'n1') });
  }

  async kill(member: string): Promise<void> {
    await this.cluster.kill(Number(member));
  }

  restart(member: string): void {
    this.cluster.start(Number(member));
  }

  async settled(): Promise<void> {
    await waitForAllApplied(this.cluster, this.cluster.nodes.map((n) => n.nodeId), 60_000);
  }

  async counters(member: string): Promise<MemberCounters | undefined> {
    return readCounters(`${this.cluster.apiUrl(Number(member))}/metrics`, COUNTER_METRICS.quorumgate, this.cluster.fetch);
  }

  private signRoot(roots: KeyPair[], domain: string, payload: Payload): string {
    this.rootSeq += 1;
    return toBase64(signCommand({ clusterId: this.clusterId, domain, signer: 'root', seq: this.rootSeq, notAfterMs: Date.now() + COMMAND_LIFETIME_MS, payload }, roots));
  }

  private signAdmin(client: number, payload: Payload): string {
    const signer = this.signers[client];
    assert.ok(signer !== undefined, `no signer for client ${client}`);
    signer.seq += 1;
    return toBase64(signCommand({ clusterId: this.clusterId, domain: signer.domain, signer: signer.id, seq: signer.seq, notAfterMs: Date.now() + COMMAND_LIFETIME_MS, payload }, [signer.pair]));
  }

  private async submitOrThrow(member: string, envelope: string): Promise<void> {
    const answer = await this.submit(member, envelope, 10_000);
    if (!answer.ok) throw new Error(`quorumgate set-up command refused: ${answer.error}`);
  }

  private async submit(member: string, envelope: string, timeoutMs: number): Promise<{ ok: true } | { ok: false; error: string }> {
    try {
      const answer = await postJson(`${this.cluster.apiUrl(Number(member))}/v1/commands`, { envelope }, timeoutMs, this.cluster.httpsAgent());
      const body = (typeof answer.body === 'object' && answer.body !== null ? answer.body : {}) as { result?: { ok?: boolean; code?: string; reason?: string }; error?: { code?: string; message?: string } };
      if (answer.status === 200 && body.result?.ok === true) return { ok: true };
      return { ok: false, error: `HTTP ${answer.status}: ${body.error?.message ?? `${body.result?.code ?? ''} ${body.result?.reason ?? ''}`}` };
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  }
}

/**
 * EtcdMembers is what both etcd systems share: the cluster, its leader and members, kills and restarts,
 * and the members' counters. Subclasses say how a put is sent.
 */
abstract class EtcdMembers implements BenchSystem {
  abstract readonly name: 'etcd' | 'etcd_grpc';
  protected readonly cluster: EtcdCluster;
  private readonly writes: number[] = [];
  readonly errorSamples: string[] = [];

  constructor(cluster: EtcdCluster) {
    this.cluster = cluster;
  }

  async leader(): Promise<string> {
    return this.cluster.waitForLeader(15_000);
  }

  members(): string[] {
    return this.cluster.members.map((m) => m.name);
  }

  async write(client: number, member: string, timeoutMs: number): Promise<SendOutcome> {
    // Every write differs, as quorumgate's do: the value starts with the same write tag.
    this.writes[client] = (this.writes[client] ?? 0) + 1;
    const value = Buffer.from(writeTag(this.writes[client]!).padEnd(VALUE_BYTES, 'x'));
    assert.equal(value.length, VALUE_BYTES);
    const error = await this.put(member, `bench/c${client}`, value, timeoutMs);
    if (error !== undefined && this.errorSamples.length < 5) this.errorSamples.push(error);
    return { ok: error === undefined };
  }

  /** put writes one key to `member`; it returns undefined when acknowledged, else the error. */
  protected abstract put(member: string, key: string, value: Buffer, timeoutMs: number): Promise<string | undefined>;

  async kill(member: string): Promise<void> {
    await this.cluster.kill(member);
  }

  restart(member: string): void {
    this.cluster.startMember(member);
  }

  async settled(): Promise<void> {
    await this.cluster.waitForCaughtUp(30_000);
  }

  async counters(member: string): Promise<MemberCounters | undefined> {
    return readCounters(`${this.cluster.member(member).clientUrl}/metrics`, COUNTER_METRICS.etcd);
  }
}

/** EtcdSystem writes plain puts to an EtcdCluster through its JSON gateway. */
export class EtcdSystem extends EtcdMembers {
  readonly name = 'etcd';

  protected async put(member: string, key: string, value: Buffer, timeoutMs: number): Promise<string | undefined> {
    const outcome = await putAt(this.cluster.member(member).clientUrl, key, value, timeoutMs);
    return outcome.ok ? undefined : outcome.error ?? 'unknown';
  }
}

/**
 * EtcdGrpcSystem writes the same puts to the same cluster through etcd's gRPC API, with the `etcd3`
 * client: one client per member (so writes go to the leader, as the JSON side's do), its retries and
 * circuit breaker turned off so each write is one request, and a deadline per write.
 */
export class EtcdGrpcSystem extends EtcdMembers {
  readonly name = 'etcd_grpc';
  private readonly clients = new Map<string, Etcd3>();

  protected async put(member: string, key: string, value: Buffer, timeoutMs: number): Promise<string | undefined> {
    try {
      await this.clientOf(member).put(key).value(value).options({ deadline: Date.now() + timeoutMs }).exec();
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  }

  /** close ends every gRPC channel (the clients hold sockets and timers). */
  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private clientOf(member: string): Etcd3 {
    let client = this.clients.get(member);
    if (client === undefined) {
      client = new Etcd3({ hosts: this.cluster.member(member).clientUrl, faultHandling: { host: () => noop, global: noop } });
      this.clients.set(member, client);
    }
    return client;
  }
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}

// ---------------------------------------------------------------------------------------------------
// Measurements.

/**
 * measureLevel runs the closed loop against the leader and returns throughput, latencies, errors
 * and where the time went (members' counters read before and after).
 */
async function measureLevel(system: BenchSystem, clients: number, seconds: number, timeoutMs: number): Promise<ClosedLoopResult & { resources: LevelResources }> {
  const leader = await system.leader();
  const members = system.members();
  const before = await Promise.all(members.map((m) => system.counters(m)));
  const startedAt = performance.now();
  const result = await runClosedLoop({
    proposers: clients, seconds, warmupSeconds: WARMUP_SECONDS,
    send: (id) => system.write(clientOf(id), leader, timeoutMs),
  });
  const elapsedS = (performance.now() - startedAt) / 1000;
  const after = await Promise.all(members.map((m) => system.counters(m)));
  const at = members.indexOf(leader);
  const resources = levelResources({ leaderBefore: before[at], leaderAfter: after[at], before, after, elapsedS, writesPerSecond: result.perSecond });
  return { ...result, resources };
}

/** DEFAULT_BATCH_CONNECTIONS: in-flight batch requests of quorumgate's batching client. */
const DEFAULT_BATCH_CONNECTIONS = 8;

/** BatchingFigures are quorumgate's figures through its batching client, per client count. */
interface BatchingFigures {
  readonly connections: number;
  readonly throughputPerSecond: Map<number, number>;
  readonly latenciesMs: Map<number, number[]>;
  readonly meanBatch: Map<number, number>;
}

/**
 * measureBatching runs every level's clients against quorumgate once more, through a client that coalesces
 * their signed writes into batch requests; null when options.batchConnections is 0.
 */
async function measureBatching(system: QuorumgateSystem, options: BenchOptions, log: (line: string) => void): Promise<BatchingFigures | null> {
  const connections = options.batchConnections ?? DEFAULT_BATCH_CONNECTIONS;
  if (connections === 0) return null;
  const figures: BatchingFigures = { connections, throughputPerSecond: new Map(), latenciesMs: new Map(), meanBatch: new Map() };
  for (const level of options.levels) {
    const leader = await system.leader();
    const via = system.batchingClient(leader, connections, WRITE_TIMEOUT_MS);
    const result = await runClosedLoop({ proposers: level, seconds: options.seconds, warmupSeconds: WARMUP_SECONDS, send: (id) => system.writeVia(via, clientOf(id)) });
    figures.throughputPerSecond.set(level, result.perSecond);
    figures.latenciesMs.set(level, result.latenciesMs);
    figures.meanBatch.set(level, via.meanBatch());
    const s = summarize(result.latenciesMs);
    log(`quorumgate clients ${String(level).padStart(4)} through a batching client (${connections} connections): ${Math.round(result.perSecond).toString().padStart(6)} writes/s` +
      `  p50 ${s.p50} ms  p99 ${s.p99} ms  errors ${result.errors}  mean batch ${round1(via.meanBatch())}`);
  }
  return figures;
}

/** measureIdle returns the CPU the idle cluster uses (cores, summed over members): ticks, heartbeats, timers. */
async function measureIdle(system: BenchSystem, seconds: number): Promise<number | null> {
  await system.settled();
  const members = system.members();
  const before = await Promise.all(members.map((m) => system.counters(m)));
  const startedAt = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const after = await Promise.all(members.map((m) => system.counters(m)));
  return levelResources({ leaderBefore: undefined, leaderAfter: undefined, before, after, elapsedS: (performance.now() - startedAt) / 1000, writesPerSecond: 0 }).cluster_cpu_cores;
}

/** clientOf reads the client number out of runClosedLoop's request id ("p<client>-<counter>"). */
export function clientOf(requestId: string): number {
  const match = /^p(\d+)-\d+$/.exec(requestId);
  assert.ok(match !== null, `unexpected request id "${requestId}" from runClosedLoop`);
  return Number(match[1]);
}

/**
 * measureFailover kills the leader with SIGKILL and returns the milliseconds until the first write
 * acknowledged by a survivor. Probes start every PROBE_INTERVAL_MS on free lanes (client numbers
 * 0..lanes-1, so each lane is one signer) against the survivors in turn; all stop at the first ack.
 */
async function measureFailover(system: BenchSystem, lanes: number, electionTimeoutMs: number): Promise<number> {
  await system.settled();
  const leader = await system.leader();
  const survivors = system.members().filter((m) => m !== leader);
  // The clock starts when SIGKILL is sent: kill() sends it at once, then waits (LocalCluster polls) for the exit.
  const killedAt = performance.now();
  await system.kill(leader);
  const giveUpAt = killedAt + 20 * electionTimeoutMs;
  const busy = new Set<number>();
  let ackedAt: number | undefined;
  const inFlight: Promise<void>[] = [];
  for (let probe = 0; ackedAt === undefined && performance.now() < giveUpAt; probe++) {
    const lane = [...Array(lanes).keys()].find((l) => !busy.has(l));
    if (lane !== undefined) {
      busy.add(lane);
      inFlight.push(system.write(lane, survivors[probe % survivors.length]!, 2 * electionTimeoutMs).then((outcome) => {
        if (outcome.ok && ackedAt === undefined) ackedAt = performance.now();
        busy.delete(lane);
      }));
    }
    await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
  }
  await Promise.all(inFlight);
  system.restart(leader);
  if (ackedAt === undefined) throw new Error(`${system.name}: no write acknowledged within ${20 * electionTimeoutMs} ms of killing leader ${leader}`);
  return ackedAt - killedAt;
}

// ---------------------------------------------------------------------------------------------------
// The run.

/** BenchOptions configure runBench (the command line's options). */
export interface BenchOptions {
  /** seconds: measured seconds per client count (after a 1 s warm-up). */
  readonly seconds: number;
  /** kills: leader kills per system for the failover figure. */
  readonly kills: number;
  /** levels: client counts, each measured on both systems. */
  readonly levels: readonly number[];
  /** tickMs: quorumgate's tick and heartbeat, and etcd's --heartbeat-interval. */
  readonly tickMs: number;
  /** electionTicks: quorumgate's election timeout in ticks; etcd's --election-timeout is tickMs × this. */
  readonly electionTicks: number;
  /** out: where the JSON report is written. */
  readonly out: string;
  /** batchConnections: connections of quorumgate's batching client (its extra figures); 0 skips them. */
  readonly batchConnections?: number;
  /** cpuProf: profile mode (etcd-profile.ts): quorumgate only, every process profiled, written under this directory. */
  readonly cpuProf?: string;
  /** logStore: quorumgate's Raft log format (node config storage.log): leveldb (the default when absent) or wal. */
  readonly logStore?: 'leveldb' | 'wal';
}

/** SystemReport is one system's part of etcd.json. */
export interface SystemReport {
  readonly throughput_per_s: Record<string, number>;
  readonly latency_ms: Percentiles;
  readonly latency_clients: number;
  readonly latency_by_clients_ms: Record<string, Percentiles>;
  readonly errors_by_clients: Record<string, number>;
  readonly resources_by_clients: Record<string, LevelResources | null>;
  readonly idle_cluster_cpu_cores: number | null;
  readonly failover_ms: Percentiles & { readonly samples: number[] };
  /** error_samples: the first few errors of the throughput phase (failover probes are expected to fail). */
  readonly error_samples: string[];
}

/** EtcdBenchReport is bench/results/etcd.json. */
export interface EtcdBenchReport {
  readonly date: string;
  readonly machine: string;
  readonly load_average: { readonly start: number[]; readonly end: number[] };
  readonly value_bytes: number;
  readonly seconds_per_level: number;
  readonly warmup_seconds: number;
  readonly heartbeat_ms: number;
  /** log_store: quorumgate's Raft log format in this run (node config storage.log). */
  readonly log_store: 'leveldb' | 'wal';
  readonly election_timeout_ms: number;
  readonly kills: number;
  readonly writes: { readonly quorumgate: string; readonly etcd: string; readonly etcd_grpc: string };
  readonly quorumgate: SystemReport;
  /** etcd: through its JSON gateway; etcd_grpc: the same cluster through gRPC. */
  readonly etcd: SystemReport;
  readonly etcd_grpc: SystemReport;
  /** ratio: throughput_64 and failover_p99 against the JSON gateway (as before), and the best-API ratios. */
  readonly ratio: { readonly throughput_64: number | null; readonly failover_p99: number | null } & BestRatios;
  /**
   * quorumgate_batching_client: the same clients and signed writes through a client that coalesces them into
   * batch requests (etcd's JSON gateway has no batch of independent puts, so etcd has no such row). Not part
   * of `ratio` or the goals, which compare one request per write on both sides.
   */
  readonly quorumgate_batching_client: {
    readonly connections: number;
    readonly throughput_per_s: Record<string, number>;
    readonly latency_ms: Percentiles & { readonly clients: number };
    readonly mean_batch: Record<string, number>;
    readonly throughput_64_ratio_to_etcd: number | null;
  } | null;
  readonly goals: {
    readonly throughput_64_at_least_etcd: boolean | null;
    readonly failover_p99_no_slower_than_etcd: boolean | null;
    /** best_api: issue #18's goals against the faster etcd API (BEST_GOALS). */
    readonly best_api: Record<keyof BestRatios, boolean | null>;
  };
}

/** parseOptions reads the command line (argv as in process.argv). */
export function parseOptions(argv: readonly string[]): BenchOptions {
  return new Command('bench:etcd')
    .description('quorumgate against etcd: throughput, latency and failover on the same machine in the same run')
    .option('--seconds <s>', 'measured seconds per client count', parsePositiveInteger('--seconds', 1), 5)
    .option('--kills <k>', 'leader kills per system for the failover figure', parsePositiveInteger('--kills', 1), 5)
    .option('--levels <list>', 'client counts, comma-separated', parseLevels, [...DEFAULT_LEVELS])
    .option('--tick-ms <ms>', 'quorumgate tick = etcd heartbeat interval', parsePositiveInteger('--tick-ms', 1), 100)
    .option('--election-ticks <n>', 'election timeout in ticks (etcd gets tick-ms × this)', parsePositiveInteger('--election-ticks', 5), 10)
    .option('--out <file>', 'the JSON report', packagePath('bench', 'results', 'etcd.json'))
    .option('--batch-connections <n>', 'connections of quorumgate\'s batching client (0: skip its figures)', parsePositiveInteger('--batch-connections', 0), DEFAULT_BATCH_CONNECTIONS)
    .addOption(new Option('--log-store <format>', 'quorumgate\'s Raft log (node config storage.log)').choices(['leveldb', 'wal']).default('leveldb'))
    .option('--cpu-prof <dir>', 'profile mode: quorumgate only, its three nodes (node --cpu-prof) and this client profiled at each level; profiles and a per-write breakdown (summary.json) go to <dir>')
    .parse([...argv])
    .opts<BenchOptions>();
}

type MutableFigures = {
  throughputPerSecond: Map<number, number>; latenciesMs: Map<number, number[]>; errors: Map<number, number>;
  resources: Map<number, LevelResources>; failoversMs: number[]; idleCpuCores: number | null;
};

function emptyFigures(): MutableFigures {
  return { throughputPerSecond: new Map(), latenciesMs: new Map(), errors: new Map(), resources: new Map(), failoversMs: [], idleCpuCores: null };
}

/**
 * runBench starts both clusters, measures them step by step (each level, then each kill, quorumgate
 * first), writes the report to `options.out` and returns it. Both clusters are destroyed at the end,
 * also on failure.
 */
export async function runBench(options: BenchOptions, log: (line: string) => void = console.log): Promise<EtcdBenchReport> {
  const electionTimeoutMs = options.tickMs * options.electionTicks;
  const etcdVersion = execFileSync(findEtcdBinary(), ['--version'], { encoding: 'utf8' }).split('\n')[0]?.trim() ?? 'unknown';
  const loadAtStart = loadavg();
  const qgCluster = await LocalCluster.create({
    dir: mkdtempSync(join(tmpdir(), 'qg-bench-etcd-')), nodes: 3, application: 'quorumgate', ...(options.logStore !== undefined ? { logStore: options.logStore } : {}),
    timing: { tickMs: options.tickMs, electionTicks: options.electionTicks, heartbeatTicks: 1, proposalTimeoutMs: 5_000 },
  });
  let etcdCluster: EtcdCluster | undefined;
  let etcdGrpc: EtcdGrpcSystem | undefined;
  const cleanup = async (): Promise<void> => {
    etcdGrpc?.close();
    await Promise.allSettled([qgCluster.destroy(), etcdCluster?.destroy()]);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    qgCluster.startAll();
    etcdCluster = await EtcdCluster.start({ heartbeatIntervalMs: options.tickMs, electionTimeoutMs, preVote: true });
    const quorumgate = new QuorumgateSystem(qgCluster);
    const etcd = new EtcdSystem(etcdCluster);
    etcdGrpc = new EtcdGrpcSystem(etcdCluster);
    const clients = Math.max(PROBE_LANES, ...options.levels);
    log(`setting up quorumgate: ${Math.ceil(clients / ADMINS_PER_DOMAIN)} domains, ${clients} admin keys, policies`);
    await quorumgate.prepare(clients);
    const figures = { quorumgate: emptyFigures(), etcd: emptyFigures(), etcd_grpc: emptyFigures() };
    const systems = [quorumgate, etcd, etcdGrpc] as const;
    for (const system of systems) {
      figures[system.name].idleCpuCores = await measureIdle(system, IDLE_SECONDS);
      log(`${system.name.padEnd(10)} idle: cluster CPU ${figures[system.name].idleCpuCores} cores`);
    }
    for (const level of options.levels) {
      for (const system of systems) {
        const result = await measureLevel(system, level, options.seconds, Math.max(WRITE_TIMEOUT_MS, 6_000 + 3 * electionTimeoutMs));
        const f = figures[system.name];
        f.throughputPerSecond.set(level, result.perSecond);
        f.latenciesMs.set(level, result.latenciesMs);
        f.errors.set(level, result.errors);
        f.resources.set(level, result.resources);
        const s = summarize(result.latenciesMs);
        const r = result.resources;
        log(`${system.name.padEnd(10)} clients ${String(level).padStart(4)}: ${Math.round(result.perSecond).toString().padStart(6)} writes/s  p50 ${s.p50} ms  p99 ${s.p99} ms  errors ${result.errors}` +
          `  (leader ${r.leader_log_syncs_per_s} log syncs/s of ${r.leader_mean_log_sync_ms} ms; cluster CPU ${r.cluster_cpu_cores} cores, ${r.cluster_cpu_ms_per_write} ms/write)`);
      }
    }
    const batching = await measureBatching(quorumgate, options, log);
    // Failover probes fail by design until a new leader takes writes: report the throughput phase's errors only.
    const errorSamples = { quorumgate: [...quorumgate.errorSamples], etcd: [...etcd.errorSamples], etcd_grpc: [...etcdGrpc.errorSamples] };
    for (let kill = 0; kill < options.kills; kill++) {
      for (const system of systems) {
        const failoverMs = await measureFailover(system, PROBE_LANES, electionTimeoutMs);
        figures[system.name].failoversMs.push(failoverMs);
        log(`${system.name.padEnd(10)} kill ${kill + 1}/${options.kills}: writes acknowledged again after ${failoverMs.toFixed(0)} ms`);
      }
    }
    await Promise.all(systems.map((s) => s.settled()));
    const report = buildReport({ options, electionTimeoutMs, etcdVersion, loadAtStart, figures, errorSamples, batching });
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
    log(`\n${formatTable(options.levels, figures.quorumgate, figures.etcd, figures.etcd_grpc)}`);
    if (report.quorumgate_batching_client !== null) {
      const b = report.quorumgate_batching_client;
      log(`quorumgate through a batching client (${b.connections} connections; not in the goals): ${options.levels.map((level) => `${level} clients ${b.throughput_per_s[String(level)] ?? '-'} w/s`).join(', ')}` +
        `${b.throughput_64_ratio_to_etcd === null ? '' : `; at 64 clients ${b.throughput_64_ratio_to_etcd}× etcd's one-request figure`}`);
    }
    log(`written to ${options.out}`);
    return report;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanup();
  }
}

function buildReport(init: {
  options: BenchOptions; electionTimeoutMs: number; etcdVersion: string; loadAtStart: number[];
  figures: { quorumgate: SystemFigures; etcd: SystemFigures; etcd_grpc: SystemFigures };
  errorSamples: { quorumgate: string[]; etcd: string[]; etcd_grpc: string[] };
  batching: BatchingFigures | null;
}): EtcdBenchReport {
  const { options, figures } = init;
  const latencyLevel = latencyLevelOf(options.levels);
  const ratio = { ...ratios(figures.quorumgate, figures.etcd), ...bestRatios(figures.quorumgate, [figures.etcd, figures.etcd_grpc]) };
  return {
    date: new Date().toISOString(),
    machine: `${cpus().length} cores, Node ${process.version}, ${init.etcdVersion}`,
    load_average: { start: init.loadAtStart.map((l) => round1(l)), end: loadavg().map((l) => round1(l)) },
    value_bytes: VALUE_BYTES,
    seconds_per_level: options.seconds,
    warmup_seconds: WARMUP_SECONDS,
    heartbeat_ms: options.tickMs,
    log_store: options.logStore ?? 'leveldb',
    election_timeout_ms: init.electionTimeoutMs,
    kills: options.kills,
    writes: {
      quorumgate: `admin-signed putDevice (Ed25519), PutDevice payload ${VALUE_BYTES} bytes, one admin key per client, POST /v1/commands to the leader, acknowledged after commit and apply`,
      etcd: `v3 put of a ${VALUE_BYTES}-byte value, POST /v3/kv/put (JSON gateway) to the leader, --pre-vote=true`,
      etcd_grpc: `the same put through etcd's gRPC API (etcd3 client, one channel per member, no retries), to the leader`,
    },
    quorumgate: { ...systemReport(figures.quorumgate, latencyLevel), error_samples: init.errorSamples.quorumgate },
    etcd: { ...systemReport(figures.etcd, latencyLevel), error_samples: init.errorSamples.etcd },
    etcd_grpc: { ...systemReport(figures.etcd_grpc, latencyLevel), error_samples: init.errorSamples.etcd_grpc },
    ratio,
    quorumgate_batching_client: init.batching === null ? null : {
      connections: init.batching.connections,
      throughput_per_s: Object.fromEntries([...init.batching.throughputPerSecond].map(([level, value]) => [String(level), Math.round(value)])),
      latency_ms: { ...summarize(init.batching.latenciesMs.get(latencyLevel) ?? []), clients: latencyLevel },
      mean_batch: Object.fromEntries([...init.batching.meanBatch].map(([level, value]) => [String(level), round1(value)])),
      throughput_64_ratio_to_etcd: ratioOf(init.batching.throughputPerSecond.get(64), figures.etcd.throughputPerSecond.get(64)),
    },
    goals: {
      throughput_64_at_least_etcd: ratio.throughput_64 === null ? null : ratio.throughput_64 >= 1,
      failover_p99_no_slower_than_etcd: ratio.failover_p99 === null ? null : ratio.failover_p99 <= 1,
      best_api: bestGoals(ratio),
    },
  };
}

/** formatTable prints quorumgate and etcd's two APIs side by side, the ratios, and whether each goal is met. */
export function formatTable(levels: readonly number[], quorumgate: SystemFigures, etcd: SystemFigures, etcdGrpc?: SystemFigures): string {
  const cell = (value: number | null | undefined, width: number): string => (value === null || value === undefined ? '-' : String(value)).padStart(width);
  const columns = (f: SystemFigures | undefined, level: number): string => {
    const rate = f?.throughputPerSecond.get(level);
    const s = summarize(f?.latenciesMs.get(level) ?? []);
    const cpu = f?.resources?.get(level)?.cluster_cpu_ms_per_write;
    return `${cell(rate === undefined ? null : Math.round(rate), 7)} ${cell(s.p50, 7)} ${cell(s.p99, 7)} ${cell(cpu, 6)}`;
  };
  const head = (name: string): string => `${name.padEnd(7)} ${'p50'.padStart(7)} ${'p99'.padStart(7)} ${'cpu/w'.padStart(6)}`;
  const apis = etcdGrpc === undefined ? [etcd] : [etcd, etcdGrpc];
  const lines = [`${'clients'.padStart(7)} | ${head('qg w/s')} | ${head('etcd-js')}${etcdGrpc === undefined ? '' : ` | ${head('etcd-gr')}`} | ${'best ratio'.padStart(10)}`];
  for (const level of levels) {
    const bestEtcd = Math.max(...apis.map((f) => f.throughputPerSecond.get(level) ?? 0));
    lines.push(`${cell(level, 7)} | ${columns(quorumgate, level)} | ${columns(etcd, level)}${etcdGrpc === undefined ? '' : ` | ${columns(etcdGrpc, level)}`} | ${cell(ratioOf(quorumgate.throughputPerSecond.get(level), bestEtcd), 10)}`);
  }
  const failover = (f: SystemFigures): string => { const x = summarize(f.failoversMs); return `p50 ${cell(x.p50, 0)} p99 ${cell(x.p99, 0)}`; };
  lines.push(`failover ms (${quorumgate.failoversMs.length} kills) | quorumgate ${failover(quorumgate)} | etcd JSON ${failover(etcd)}${etcdGrpc === undefined ? '' : ` | etcd gRPC ${failover(etcdGrpc)}`}`);
  const ratio = ratios(quorumgate, etcd);
  lines.push(`goals vs etcd's JSON gateway: throughput at 64 clients >= etcd's: ${goalText(ratio.throughput_64, (r) => r >= 1)}; failover p99 <= etcd's: ${goalText(ratio.failover_p99, (r) => r <= 1)}`);
  const best = bestRatios(quorumgate, apis);
  lines.push(`goals vs the faster etcd API: throughput at 64 >= 1.0x: ${goalText(best.throughput_64_best, (r) => r >= BEST_GOALS.throughput_64_best)}; ` +
    `p50 at 1 <= 1.5x: ${goalText(best.p50_1_best, (r) => r <= BEST_GOALS.p50_1_best)}; CPU/write at 64 <= 1.5x: ${goalText(best.cpu_per_write_64, (r) => r <= BEST_GOALS.cpu_per_write_64)}; ` +
    `CPU/write at 1 <= 1.5x: ${goalText(best.cpu_per_write_1, (r) => r <= BEST_GOALS.cpu_per_write_1)}; failover p99 <= 1.0x: ${goalText(best.failover_p99_best, (r) => r <= BEST_GOALS.failover_p99_best)}`);
  return lines.join('\n');
}

function goalText(ratio: number | null, met: (r: number) => boolean): string {
  if (ratio === null) return 'not measured';
  return `${met(ratio) ? 'met' : 'NOT met'} (ratio ${ratio})`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const options = parseOptions(process.argv);
  // The profile mode lives in etcd-profile.ts, which imports this module: load it only when asked.
  const run = options.cpuProf === undefined ? runBench(options) : import('./etcd-profile.js').then(({ runProfile }) => runProfile({ ...options, dir: options.cpuProf! }));
  run.then(() => undefined).catch((error: unknown) => {
    console.error(`bench:etcd: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  });
}
