// hostile-workload.ts — the chaos harness's hostile workload (`npm run chaos -- --hostile`): while the
// faults run, the adversary of chaos/hostile.ts floods every node's API and Raft port in windows that
// alternate with quiet ones (the quiet windows are the latency baseline), and every node's RSS, log
// size and event-loop lag are sampled once a second. The adversary runs in a child process
// (adversary-process.ts), as bench:hostile's does. What it did goes into history.hostile for the
// hostile checkers (chaos/checkers/hostile.ts, leader-changes.ts).
import { sleepMs } from '../src/dataplane/exec.js';
import type { HostileBounds, HostileRecord } from './history.js';
import { AdversaryProcess } from './adversary-process.js';
import { FLOOD_KINDS, sampleResources, type FloodCounts, type FloodKind, type FloodTarget } from './hostile.js';
import type { WorkloadContext } from './workloads.js';

/**
 * CHAOS_HOSTILE_BOUNDS are the limits of the hostile checkers in a chaos run. They are looser than
 * bench:hostile's goals (RSS growth 50 MB, log 10 KB/s, p99 2×) because a chaos run also kills,
 * restarts and partitions nodes (a restarted node catches up under the flood, and faults log), the
 * adversary (a process of its own) shares the machine's two cores with the workloads, and the p99
 * of the few dozen writes a short run makes away from faults is close to their maximum (a first run,
 * seed 3, 40 s: 280 ms under the floods from 31 writes against 105 ms from 151 quiet ones).
 */
export const CHAOS_HOSTILE_BOUNDS: HostileBounds = { rssGrowthMb: 150, logBytesPerS: 20 * 1024, p99Factor: 3, p99SlackMs: 250, minSamples: 20 };
/**
 * ADVERSARY_NICENESS: the adversary process runs at the lowest CPU priority (AdversaryProcess.spawn). Run at
 * the nodes' priority it took the cores the nodes needed: the hostile smoke (seed 3) then measured write p99
 * 631 ms under the floods against 115 ms quiet, the machine's contention as much as the nodes' work.
 */
export const ADVERSARY_NICENESS = 19;
/** FLOOD_WINDOW_MS and QUIET_WINDOW_MS: the adversary floods this long, then rests this long, in turn. */
export const FLOOD_WINDOW_MS = 8_000;
export const QUIET_WINDOW_MS = 6_000;
const SAMPLE_EVERY_MS = 1_000;

/** floodTargets is every node of the run's cluster as the adversary sees it. */
function floodTargets(ctx: WorkloadContext, readToken: string | undefined): FloodTarget[] {
  return ctx.env.cluster.nodes.map((n) => ({
    node: n.nodeId, apiHost: ctx.env.cluster.hostOf(n.nodeId), apiPort: n.apiPort, raftHost: ctx.env.cluster.hostOf(n.nodeId), raftPort: n.raftPort,
    apiTls: ctx.env.cluster.apiUrl(n.nodeId).startsWith('https:'), ...(readToken === undefined ? {} : { readToken }),
  }));
}

/** startHostileRecord creates the run's hostile record (history.hostile). */
export function startHostileRecord(): HostileRecord {
  return { floods: [...FLOOD_KINDS], windows: [], counts: {}, resources: [], bounds: CHAOS_HOSTILE_BOUNDS };
}

/**
 * hostileWorkload floods in alternating windows until the workloads stop, then records the counts. The
 * adversary runs in a child process (adversary-process.ts): its sockets and handshakes do not hold the event
 * loop of the harness's writers and readers, whose latencies the hostile checkers compare.
 */
export async function hostileWorkload(ctx: WorkloadContext, record: HostileRecord): Promise<void> {
  // The reads carry a read token, so the watch streams (and the state reads) are served, not refused 401.
  const readToken = ctx.env.cluster.apiUrl(ctx.env.cluster.nodes[0]!.nodeId).startsWith('https:') ? ctx.env.cluster.readToken(6 * 3600) : undefined;
  const adversary = await AdversaryProcess.spawn({ niceness: ADVERSARY_NICENESS });
  const totals = new Map<FloodKind, FloodCounts>();
  const sampling = sampleLoop(ctx, record);
  try {
    // The first quiet window lets the workloads start before the first flood.
    while (ctx.running()) {
      await sleepWhile(ctx, QUIET_WINDOW_MS);
      if (!ctx.running()) break;
      const window = { startMs: ctx.t(), endMs: ctx.t() };
      record.windows.push(window);
      // The targets are read at each window's start: a node added by a membership fault is flooded from the
      // next window on (a restarted node keeps its ports).
      await adversary.start(floodTargets(ctx, readToken), FLOOD_KINDS);
      try {
        await sleepWhile(ctx, FLOOD_WINDOW_MS);
      } finally {
        addCounts(totals, await adversary.stop());
        window.endMs = ctx.t();
      }
    }
  } finally {
    await adversary.close();
    record.counts = Object.fromEntries(totals);
    await sampling;
  }
}

/** addCounts adds one window's flood counts to the run's totals (errors: the first 5 of the run). */
export function addCounts(totals: Map<FloodKind, FloodCounts>, window: ReadonlyMap<FloodKind, FloodCounts>): void {
  for (const [kind, counts] of window) {
    const total = totals.get(kind) ?? { attempts: 0, answers: {}, refused: 0, closedByNode: 0, errors: [] };
    total.attempts += counts.attempts;
    for (const [status, n] of Object.entries(counts.answers)) total.answers[status] = (total.answers[status] ?? 0) + n;
    total.refused += counts.refused;
    total.closedByNode += counts.closedByNode;
    total.errors = [...total.errors, ...counts.errors].slice(0, 5);
    totals.set(kind, total);
  }
}

async function sampleLoop(ctx: WorkloadContext, record: HostileRecord): Promise<void> {
  while (ctx.running()) {
    const started = ctx.t();
    const nodes = ctx.env.cluster.nodes.map((n) => ({ node: n.nodeId, pid: ctx.env.cluster.pid(n.nodeId), dir: ctx.env.cluster.nodeDir(n.nodeId), apiUrl: ctx.env.cluster.apiUrl(n.nodeId) }));
    record.resources.push(...await sampleResources(started, nodes));
    await sleepMs(Math.max(0, SAMPLE_EVERY_MS - (ctx.t() - started)));
  }
}

/** sleepWhile sleeps up to `ms`, waking early when the workloads stop. */
async function sleepWhile(ctx: WorkloadContext, ms: number): Promise<void> {
  const until = ctx.t() + ms;
  while (ctx.running() && ctx.t() < until) await sleepMs(Math.min(200, until - ctx.t()));
}
