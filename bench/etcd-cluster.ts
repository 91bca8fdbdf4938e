// etcd-cluster.ts — a 3-member etcd cluster on loopback, the reference system of bench:etcd.
//
// Each member is a real `etcd` process (Debian package `etcd-server`, 3.4) with its own data
// directory and log file under one temporary directory, OS-chosen free ports for client and peer
// traffic, and the same heartbeat and election timeout as the quorumgate cluster it is compared with.
// Clients talk to it over its v3 JSON gateway (gRPC-gateway over HTTP/1.1), so no client library is
// needed: `POST /v3/kv/put` with base64 key and value (the load generator's writes go through
// bench/support.ts postJson, as quorumgate's do), `POST /v3/kv/range`, and `POST /v3/maintenance/status`
// to learn which member leads.
//
// The cluster is torn down by destroy(): every member is killed and the directory deleted. Callers
// use try/finally; a start that fails tears down what it started before throwing.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort } from '../cluster/local-cluster.js';
import { postJson } from './support.js';

/** ETCD_HOST is the loopback address every member listens on. */
const ETCD_HOST = '127.0.0.1';
/** MAX_MEMBERS bounds the cluster size this helper starts (odd sizes up to 7 are what etcd recommends). */
const MAX_MEMBERS = 7;
/** STATUS_TIMEOUT_MS bounds one status request. */
const STATUS_TIMEOUT_MS = 1_000;
/** POLL_INTERVAL_MS is the pause between polls while waiting for the cluster. */
const POLL_INTERVAL_MS = 50;
/** LOG_TAIL_BYTES is how much of a member's log an error quotes. */
const LOG_TAIL_BYTES = 2_000;
/** EXIT_WAIT_MS bounds the wait for a killed member to exit. */
const EXIT_WAIT_MS = 5_000;

/** EtcdClusterErrorCode names what went wrong with the reference cluster. */
export type EtcdClusterErrorCode = 'ETCD_NOT_INSTALLED' | 'ETCD_BAD_OPTIONS' | 'ETCD_START_FAILED' | 'ETCD_TIMEOUT' | 'ETCD_UNKNOWN_MEMBER';

/** EtcdClusterError is an expected failure of the reference cluster, with a stable code. */
export class EtcdClusterError extends Error {
  override readonly name = 'EtcdClusterError';
  readonly code: EtcdClusterErrorCode;
  constructor(code: EtcdClusterErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** EtcdClusterInit configures EtcdCluster.start(). */
export interface EtcdClusterInit {
  /** members: cluster size (default 3). */
  readonly members?: number;
  /** heartbeatIntervalMs: etcd --heartbeat-interval (quorumgate: tickMs × heartbeatTicks). */
  readonly heartbeatIntervalMs: number;
  /** electionTimeoutMs: etcd --election-timeout (quorumgate: tickMs × electionTicks). */
  readonly electionTimeoutMs: number;
  /** preVote: etcd --pre-vote (default true, as quorumgate always uses PreVote). */
  readonly preVote?: boolean;
  /** parentDir: where the temporary cluster directory is made (default the OS temp dir). */
  readonly parentDir?: string;
  /** etcdBinary: path of the etcd program (default: found on PATH, then /usr/bin/etcd). */
  readonly etcdBinary?: string;
  /** startTimeoutMs: how long start() waits for a healthy cluster with a leader (default 30 s). */
  readonly startTimeoutMs?: number;
}

/** EtcdMember is one member's fixed facts. */
export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
}

/** EtcdStatus is what one member says about itself and the cluster (maintenance/status). */
export interface EtcdStatus {
  /** memberId is this member's id (decimal string: etcd ids are 64-bit). */
  readonly memberId: string;
  /** leaderId is the id of the member it follows, '0' for none. */
  readonly leaderId: string;
  readonly raftTerm: number;
  readonly raftIndex: number;
}

/** EtcdPutOutcome is one put's result as a client sees it. */
export interface EtcdPutOutcome {
  readonly ok: boolean;
  /** error: etcd's message or the transport error, when not ok. */
  readonly error?: string;
}

/** findEtcdBinary locates the etcd program or says how to install it. */
export function findEtcdBinary(explicit?: string): string {
  const candidates = explicit !== undefined
    ? [explicit]
    : [...(process.env.PATH ?? '').split(delimiter).filter((d) => d.length > 0).map((d) => join(d, 'etcd')), '/usr/bin/etcd'];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // Not here (or not executable): try the next candidate.
      continue;
    }
  }
  throw new EtcdClusterError('ETCD_NOT_INSTALLED',
    `etcd not found (looked at ${explicit ?? 'PATH and /usr/bin/etcd'}); install the Debian package etcd-server (scripts/setup.sh does) and retry`);
}

/** initialClusterFlag builds etcd's --initial-cluster value: name=peerUrl pairs joined by commas. */
export function initialClusterFlag(members: readonly Pick<EtcdMember, 'name' | 'peerUrl'>[]): string {
  return members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
}

/** memberArguments is the etcd command line of one member (used for the first start and restarts alike). */
export function memberArguments(member: EtcdMember, all: readonly EtcdMember[], init: EtcdClusterInit, token: string): string[] {
  return [
    '--name', member.name,
    '--data-dir', member.dataDir,
    '--listen-client-urls', member.clientUrl,
    '--advertise-client-urls', member.clientUrl,
    '--listen-peer-urls', member.peerUrl,
    '--initial-advertise-peer-urls', member.peerUrl,
    '--initial-cluster', initialClusterFlag(all),
    '--initial-cluster-token', token,
    // On a restart the data directory already holds the membership, and etcd ignores this flag.
    '--initial-cluster-state', 'new',
    '--heartbeat-interval', String(init.heartbeatIntervalMs),
    '--election-timeout', String(init.electionTimeoutMs),
    `--pre-vote=${String(init.preVote ?? true)}`,
    '--logger', 'zap',
    '--log-outputs', 'stderr',
    '--log-level', 'warn',
  ];
}

function validateInit(init: EtcdClusterInit): number {
  const members = init.members ?? 3;
  if (!Number.isInteger(members) || members < 1 || members > MAX_MEMBERS) {
    throw new EtcdClusterError('ETCD_BAD_OPTIONS', `members: expected an integer from 1 to ${MAX_MEMBERS}, got ${String(members)}`);
  }
  if (!Number.isInteger(init.heartbeatIntervalMs) || init.heartbeatIntervalMs < 1) {
    throw new EtcdClusterError('ETCD_BAD_OPTIONS', `heartbeatIntervalMs: expected a positive integer, got ${String(init.heartbeatIntervalMs)}`);
  }
  // etcd refuses to start with an election timeout below five heartbeat intervals; say so up front.
  if (!Number.isInteger(init.electionTimeoutMs) || init.electionTimeoutMs < 5 * init.heartbeatIntervalMs) {
    throw new EtcdClusterError('ETCD_BAD_OPTIONS',
      `electionTimeoutMs: expected an integer of at least 5 × heartbeatIntervalMs (${5 * init.heartbeatIntervalMs}), got ${String(init.electionTimeoutMs)}`);
  }
  return members;
}

/** EtcdCluster runs and controls the member processes of one temporary etcd cluster. */
export class EtcdCluster {
  readonly dir: string;
  readonly members: readonly EtcdMember[];
  private readonly init: EtcdClusterInit;
  private readonly binary: string;
  private readonly token: string;
  private readonly processes = new Map<string, ChildProcess>();
  private destroyed = false;

  private constructor(dir: string, members: EtcdMember[], init: EtcdClusterInit, binary: string) {
    this.dir = dir;
    this.members = members;
    this.init = init;
    this.binary = binary;
    this.token = `qg-bench-${process.pid}-${Date.now()}`;
  }

  /**
   * start creates the directory, starts every member and waits until all are healthy and agree on a
   * leader. On failure it tears down what it started and throws EtcdClusterError.
   */
  static async start(init: EtcdClusterInit): Promise<EtcdCluster> {
    const size = validateInit(init);
    const binary = findEtcdBinary(init.etcdBinary);
    const dir = mkdtempSync(join(init.parentDir ?? tmpdir(), 'qg-etcd-'));
    const members: EtcdMember[] = [];
    for (let i = 1; i <= size; i++) {
      const name = `etcd${i}`;
      members.push({
        name,
        clientUrl: `http://${ETCD_HOST}:${await freePort()}`,
        peerUrl: `http://${ETCD_HOST}:${await freePort()}`,
        dataDir: join(dir, name, 'data'),
        logFile: join(dir, name, 'etcd.log'),
      });
      mkdirSync(join(dir, name), { recursive: true });
    }
    const cluster = new EtcdCluster(dir, members, init, binary);
    try {
      for (const member of members) cluster.startMember(member.name);
      await cluster.waitForLeader(init.startTimeoutMs ?? 30_000);
      return cluster;
    } catch (error) {
      const logs = members.map((m) => `--- ${m.name} (${m.logFile}):\n${cluster.logTail(m.name)}`).join('\n');
      await cluster.destroy();
      throw new EtcdClusterError('ETCD_START_FAILED', `etcd cluster did not start: ${(error as Error).message}\n${logs}`, { cause: error });
    }
  }

  /** member returns a member by name. */
  member(name: string): EtcdMember {
    const found = this.members.find((m) => m.name === name);
    if (found === undefined) {
      throw new EtcdClusterError('ETCD_UNKNOWN_MEMBER', `no etcd member "${name}" (members: ${this.members.map((m) => m.name).join(', ')})`);
    }
    return found;
  }

  /** running says whether the member's process is alive (started and not yet exited). */
  running(name: string): boolean {
    const child = this.processes.get(name);
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  /** pid returns the process id of a running member, or undefined. */
  pid(name: string): number | undefined {
    this.member(name);
    return this.running(name) ? this.processes.get(name)?.pid : undefined;
  }

  /** startMember starts (or restarts, on its existing data) one member, unless it runs already. */
  startMember(name: string): void {
    assert.ok(!this.destroyed, 'startMember after destroy');
    const member = this.member(name);
    if (this.running(name)) return;
    const log = openSync(member.logFile, 'a');
    try {
      const child = spawn(this.binary, memberArguments(member, this.members, this.init, this.token), {
        stdio: ['ignore', log, log],
      });
      // A spawn failure (e.g. the binary vanished) surfaces as an exit; start() then times out with the log.
      child.on('error', () => undefined);
      this.processes.set(name, child);
    } finally {
      closeSync(log);
    }
  }

  /** kill crashes a member with SIGKILL (kill -9) and waits until its process has exited. */
  async kill(name: string): Promise<void> {
    this.member(name);
    const child = this.processes.get(name);
    if (child === undefined || !this.running(name)) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), EXIT_WAIT_MS).unref());
    if ((await Promise.race([exited, timer])) === 'timeout') {
      throw new EtcdClusterError('ETCD_TIMEOUT', `etcd member ${name} (pid ${String(child.pid)}) did not exit within ${EXIT_WAIT_MS} ms of SIGKILL`);
    }
  }

  /** status asks one member for maintenance/status; undefined when it does not answer in time. */
  async status(name: string, timeoutMs = STATUS_TIMEOUT_MS): Promise<EtcdStatus | undefined> {
    const body = await this.post(this.member(name).clientUrl, '/v3/maintenance/status', {}, timeoutMs);
    if (body === undefined) return undefined;
    return parseStatus(body);
  }

  /**
   * waitForLeader waits until every running member answers and all name the same leader, which is
   * itself running; returns the leader's member name.
   */
  async waitForLeader(timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = this.members.filter((m) => this.running(m.name));
      if (running.length === 0) throw new EtcdClusterError('ETCD_START_FAILED', 'no etcd member is running');
      const statuses = await Promise.all(running.map(async (m) => ({ member: m, status: await this.status(m.name) })));
      const leader = agreedLeader(statuses.map((s) => ({ name: s.member.name, status: s.status })));
      if (leader !== undefined) return leader;
      const last = statuses.map((s) => `${s.member.name}: ${s.status === undefined ? 'no answer' : `leader ${s.status.leaderId}`}`).join(', ');
      if (Date.now() > deadline) throw new EtcdClusterError('ETCD_TIMEOUT', `no agreed etcd leader within ${timeoutMs} ms (${last})`);
      await sleep(POLL_INTERVAL_MS);
    }
  }

  /**
   * waitForCaughtUp waits until every member runs, agrees on the leader and reports the same raft
   * index (the cluster is idle and the restarted member has caught up).
   */
  async waitForCaughtUp(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const statuses = await Promise.all(this.members.map(async (m) => ({ name: m.name, status: this.running(m.name) ? await this.status(m.name) : undefined })));
      const leader = agreedLeader(statuses);
      if (leader !== undefined && statuses.every((s) => s.status !== undefined && s.status.raftIndex === statuses[0]!.status!.raftIndex)) return;
      if (Date.now() > deadline) throw new EtcdClusterError('ETCD_TIMEOUT', `etcd members did not catch up within ${timeoutMs} ms`);
      await sleep(POLL_INTERVAL_MS);
    }
  }

  /** put writes one key through a member's JSON gateway; not ok on any error or after timeoutMs. */
  async put(name: string, key: string, value: Uint8Array, timeoutMs: number): Promise<EtcdPutOutcome> {
    return putAt(this.member(name).clientUrl, key, value, timeoutMs);
  }

  /** get reads one key (linearizable) through a member; undefined when absent. */
  async get(name: string, key: string, timeoutMs = STATUS_TIMEOUT_MS): Promise<Uint8Array | undefined> {
    const body = await this.post(this.member(name).clientUrl, '/v3/kv/range', { key: base64(key) }, timeoutMs);
    if (body === undefined) throw new EtcdClusterError('ETCD_TIMEOUT', `etcd member ${name} did not answer a range request within ${timeoutMs} ms`);
    const kvs = (body as { kvs?: Array<{ value?: string }> }).kvs;
    const value = kvs?.[0]?.value;
    return value === undefined ? undefined : new Uint8Array(Buffer.from(value, 'base64'));
  }

  /** logTail returns the end of a member's log (for error messages). */
  logTail(name: string): string {
    try {
      const text = readFileSync(this.member(name).logFile, 'utf8');
      return text.slice(-LOG_TAIL_BYTES);
    } catch (error) {
      return `(no log: ${(error as Error).message})`;
    }
  }

  /** destroy kills every member and deletes the cluster directory; safe to call twice. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const failures: string[] = [];
    for (const member of this.members) {
      try {
        await this.kill(member.name);
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    if (failures.length > 0) throw new EtcdClusterError('ETCD_TIMEOUT', failures.join('; '));
  }

  private async post(baseUrl: string, path: string, body: unknown, timeoutMs: number): Promise<unknown> {
    try {
      const response = await fetch(`${baseUrl}${path}`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs),
      });
      const parsed = (await response.json()) as unknown;
      return response.ok ? parsed : undefined;
    } catch {
      // A member that is down, starting or electing does not answer: the caller polls again.
      return undefined;
    }
  }
}

/** putAt writes one key at a client URL through etcd's JSON gateway. */
export async function putAt(clientUrl: string, key: string, value: Uint8Array, timeoutMs: number): Promise<EtcdPutOutcome> {
  try {
    const body = { key: base64(key), value: Buffer.from(value).toString('base64') };
    const answer = await postJson(`${clientUrl}/v3/kv/put`, body, timeoutMs);
    const parsed = (typeof answer.body === 'object' && answer.body !== null ? answer.body : {}) as { header?: unknown; error?: string; message?: string };
    // The gateway answers errors with a non-2xx status and {error, code, message}.
    if (answer.status === 200 && parsed.header !== undefined && parsed.error === undefined) return { ok: true };
    return { ok: false, error: parsed.message ?? parsed.error ?? `HTTP ${answer.status}` };
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
}

/** parseStatus reads the JSON of maintenance/status; undefined if it lacks the fields. */
export function parseStatus(body: unknown): EtcdStatus | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as { header?: { member_id?: unknown }; leader?: unknown; raftTerm?: unknown; raftIndex?: unknown };
  const memberId = record.header?.member_id;
  if (typeof memberId !== 'string') return undefined;
  // The gateway omits zero values (proto3 JSON), so a missing leader means none.
  const leaderId = typeof record.leader === 'string' ? record.leader : '0';
  return { memberId, leaderId, raftTerm: Number(record.raftTerm ?? 0), raftIndex: Number(record.raftIndex ?? 0) };
}

/**
 * agreedLeader returns the name of the leader that every answering member names, provided all of
 * them answered, the leader is one of them and it names itself; otherwise undefined.
 */
export function agreedLeader(statuses: ReadonlyArray<{ name: string; status: EtcdStatus | undefined }>): string | undefined {
  if (statuses.length === 0 || statuses.some((s) => s.status === undefined)) return undefined;
  const leaderId = statuses[0]!.status!.leaderId;
  if (leaderId === '0' || statuses.some((s) => s.status!.leaderId !== leaderId)) return undefined;
  return statuses.find((s) => s.status!.memberId === leaderId)?.name;
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
