// run.ts — one chaos run: set up, run the workloads while the seeded fault schedule hits the cluster,
// heal, observe the end state, tear down, and check the history.
import { mkdirSync } from 'node:fs';
import { sleepMs } from '../src/dataplane/exec.js';
import { partitionerOf, setUp, tearDown } from './environment.js';
import type { Environment, Topology } from './environment.js';
import { FaultSchedule, seedRandom } from './faults.js';
import type { FaultFamily } from './faults.js';
import { Adversary, ProbeTraffic, registerProcess, sampler, stateChanger, updatesProcess } from './workloads.js';
import type { WorkloadContext } from './workloads.js';
import { getJson, nodeFetch, submit } from './client.js';
import { hostileWorkload, startHostileRecord } from './hostile-workload.js';
import type { AppliedEntry, FinalNodeView, FinalObservation, History } from './history.js';
import { hostPaths } from '../src/dataplane/index.js';
import { sha256, toHex } from '../src/commands/index.js';

/** RunOptions are one run's parameters. */
export interface RunOptions {
  readonly nodes: number;
  readonly faults: readonly FaultFamily[];
  readonly durationMs: number;
  readonly seed: number;
  readonly plant?: string;
  /** topology: where the nodes live (default `loopback`; `wan`: a network namespace per host, cluster/wan.ts). */
  readonly topology?: Topology;
  /** hostile adds the hostile workload (chaos/hostile-workload.ts) and its checkers' record. */
  readonly hostile?: boolean;
  /** dir receives the cluster's data and the run's report. */
  readonly dir: string;
  readonly log: (line: string) => void;
}

/** BOUNDS are what the liveness and convergence checkers hold a run to, after healing. */
export const BOUNDS = { leaderMs: 15_000, commitMs: 20_000, convergeMs: 45_000 };

const REGISTER_PROCESSES = 4;
const UPDATE_PROCESSES = 2;
/** SYNC_DELAY_MS keeps writes unsynced this long when a run can lose them (lose-unsynced, ack-before-fsync). */
const SYNC_DELAY_MS = 40;


/** runOnce performs one run and returns its history (the caller checks and reports it). */
export async function runOnce(options: RunOptions): Promise<History> {
  mkdirSync(options.dir, { recursive: true });
  const nodeEnv: Record<string, string> = {};
  if (options.plant !== undefined) nodeEnv.QUORUMGATE_PLANT = options.plant;
  if (options.faults.includes('lose-unsynced') || options.plant === 'ack-before-fsync') nodeEnv.QUORUMGATE_STORAGE_SYNC_DELAY_MS = String(SYNC_DELAY_MS);
  const env = await setUp({ dir: options.dir, nodes: options.nodes, registerProcesses: REGISTER_PROCESSES, updateProcesses: UPDATE_PROCESSES, nodeEnv, log: options.log, ...(options.topology !== undefined ? { topology: options.topology } : {}) });
  const startedAtMs = Date.now();
  const t = (): number => Date.now() - startedAtMs;
  const history: History = {
    version: 1,
    run: {
      seed: options.seed, nodes: options.nodes, nodeIds: env.cluster.nodes.map((n) => n.nodeId), faults: [...options.faults], durationMs: options.durationMs,
      ...(options.plant !== undefined ? { plant: options.plant } : {}), ...(env.topology === 'wan' ? { topology: 'wan' as const } : {}), startedAtMs, healedAtMs: 0, endedAtMs: 0,
    },
    keys: { clusterId: toHex(env.clusterId), keys: env.publicKeys },
    faults: [], register: [], updates: [], adversary: [], stateChanges: [], probes: [], samples: [], final: null,
  };
  const probes = new ProbeTraffic(env, options.dir);
  const partitioner = partitionerOf(env);
  try {
    await partitioner.install();
    await probes.start();
    let running = true;
    let sampling = true;
    const ctx: WorkloadContext = { env, history, seed: options.seed, t, running: () => running, log: options.log };
    const adversary = new Adversary(ctx);
    const samplerDone = sampler(ctx, () => !sampling);
    const workloads = [
      ...env.registerSigners.map((signer, i) => registerProcess(ctx, i, signer, adversary)),
      ...env.updateSigners.map((signer, i) => updatesProcess(ctx, i, signer, adversary)),
      stateChanger(ctx),
      adversary.run(env.updateSigners[0]!),
    ];
    if (options.hostile === true) {
      history.hostile = startHostileRecord();
      workloads.push(hostileWorkload(ctx, history.hostile));
    }
    const schedule = new FaultSchedule({
      env, partitioner, rng: seedRandom(options.seed, 'faults'), t,
      record: (event) => history.faults.push(event), log: options.log,
    }, options.faults);
    await schedule.run(options.durationMs);
    await schedule.heal();
    history.run.healedAtMs = t();
    options.log(`t=${(t() / 1000).toFixed(1)}s healed: every node runs, no partition, engines up`);
    await sleepMs(2_000);
    running = false;
    await Promise.all(workloads);
    history.final = await observeEnd(env, t);
    sampling = false;
    await samplerDone;
    history.probes.push(...await probes.stop(startedAtMs));
    history.run.endedAtMs = t();
    return history;
  } finally {
    probes.kill();
    await tearDown(env.cluster, hostPaths(), env.wan).catch((error: unknown) => options.log(`tear-down: ${(error as Error).message}`));
  }
}

interface StatusView {
  id: number;
  role: string;
  leader: number;
  term: number;
  applied: number;
  stateHash?: string;
  auditChain?: string;
  removed: boolean;
  enforced?: Array<{ deviceId: string; desiredGeneration: number; appliedGeneration: number | null; enforcement: string; reason: string | null }>;
}

/** observeEnd waits for a leader, commits a probe update, waits for convergence and reads every node's log and state. */
async function observeEnd(env: Environment, t: () => number): Promise<FinalObservation> {
  const healedAt = t();
  let leaderAtMs: number | null = null;
  while (t() - healedAt < BOUNDS.leaderMs + 5_000) {
    const statuses = await Promise.all(env.cluster.nodes.map((n) => getJson<StatusView>(`${env.cluster.apiUrl(n.nodeId)}/v1/status`, 1_000)));
    const leaders = statuses.filter((s) => s?.role === 'leader');
    if (leaders.length >= 1) {
      const leader = leaders.sort((a, b) => b!.term - a!.term)[0]!;
      const agree = statuses.filter((s) => s?.leader === leader.id && s.term === leader.term).length;
      if (agree * 2 > env.cluster.nodes.length) {
        leaderAtMs = t();
        break;
      }
    }
    await sleepMs(100);
  }
  // A probe update: committed through any node, retried with the same envelope.
  let probeCommitAtMs: number | null = null;
  const signed = env.registerSigners[0]!.sign('kv', { kind: 'putImage', name: 'heal', digest: `sha256:${toHex(sha256(new TextEncoder().encode(`healed ${healedAt}`)))}` });
  const probeStarted = t();
  for (let attempt = 0; t() - probeStarted < BOUNDS.commitMs + 5_000; attempt++) {
    const node = env.cluster.nodes[attempt % env.cluster.nodes.length]!;
    const answer = await submit(env.cluster.apiUrl(node.nodeId), signed.envelope, { timeoutMs: 4_000 });
    if (answer.outcome === 'ok') {
      probeCommitAtMs = t();
      break;
    }
    await sleepMs(200);
  }
  // Convergence: every node reports the same applied index, state hash and audit chain, and enforces its plan.
  const seen = new Map<number, Array<{ t: number; key: string }>>();
  let finalKey: string | undefined;
  const convergeStarted = t();
  while (t() - convergeStarted < BOUNDS.convergeMs + 5_000) {
    const statuses = await Promise.all(env.cluster.nodes.map(async (n) => [n.nodeId, await getJson<StatusView>(`${env.cluster.apiUrl(n.nodeId)}/v1/status`, 1_000)] as const));
    const now = t();
    const keys = statuses.map(([id, s]) => {
      const served = env.devices.filter((d) => d.gateway === id).map((d) => d.id);
      const key = s === undefined ? 'down' : `${s.applied}/${s.stateHash ?? ''}/${s.auditChain ?? ''}/${enforcedAll(s, served) ? 'enforced' : 'pending'}`;
      const list = seen.get(id) ?? [];
      list.push({ t: now, key });
      seen.set(id, list);
      return key;
    });
    if (keys.every((key) => key === keys[0] && key.endsWith('/enforced'))) {
      finalKey = keys[0];
      break;
    }
    await sleepMs(200);
  }
  const nodes: FinalNodeView[] = [];
  for (const { nodeId } of env.cluster.nodes) {
    const url = env.cluster.apiUrl(nodeId);
    const status = await getJson<StatusView>(`${url}/v1/status`, 2_000);
    const devices = await getJson<{ devices: Array<{ id: string; state: string }> }>(`${url}/v1/devices?consistency=stale`, 2_000);
    const log = await auditLog(url);
    const history = seen.get(nodeId) ?? [];
    let convergedAtMs: number | null = null;
    if (finalKey !== undefined) {
      for (let i = history.length - 1; i >= 0 && history[i]!.key === finalKey; i--) convergedAtMs = history[i]!.t;
    }
    nodes.push({
      node: nodeId,
      reachable: status !== undefined,
      applied: status?.applied ?? 0,
      stateHash: status?.stateHash ?? '',
      auditChain: status?.auditChain ?? '',
      deviceStates: Object.fromEntries((devices?.devices ?? []).map((d) => [d.id, d.state])),
      dataplane: status?.enforced ?? null,
      log: log.entries,
      logFrom: log.from,
      convergedAtMs,
    });
  }
  return { leaderAtMs, probeCommitAtMs, nodes, bounds: BOUNDS };
}

/** enforcedAll: the node reports every device it serves enforced at the generation its plan asks for. */
function enforcedAll(status: StatusView, served: readonly string[]): boolean {
  const reports = new Map((status.enforced ?? []).map((d) => [d.deviceId, d]));
  return served.every((id) => {
    const report = reports.get(id);
    return report !== undefined && report.appliedGeneration === report.desiredGeneration;
  });
}

/** auditLog reads a node's whole audit export (NDJSON: a header, then one line per applied entry). */
async function auditLog(url: string): Promise<{ entries: AppliedEntry[]; from: number }> {
  try {
    const response = await nodeFetch(`${url}/v1/audit/log?from=1&limit=100000`, { signal: AbortSignal.timeout(30_000) });
    if (response.status !== 200) return { entries: [], from: Number.MAX_SAFE_INTEGER };
    const lines = (await response.text()).split('\n').filter((line) => line.trim() !== '');
    const entries = lines.slice(1).map((line) => JSON.parse(line) as AppliedEntry);
    return { entries, from: entries[0]?.index ?? 1 };
  } catch {
    return { entries: [], from: Number.MAX_SAFE_INTEGER };
  }
}
