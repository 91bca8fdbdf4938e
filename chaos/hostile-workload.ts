// hostile-workload.ts — the chaos harness's hostile workload (`npm run chaos -- --hostile`): while the
// faults run, the adversary of chaos/hostile.ts floods every node's API and Raft port in windows that
// alternate with quiet ones (the quiet windows are the latency baseline), and every node's RSS, log
// size and event-loop lag are sampled once a second. What it did goes into history.hostile for the
// hostile checkers (chaos/checkers/hostile.ts, leader-changes.ts).
import { sleepMs } from '../src/dataplane/exec.js';
import type { HostileBounds, HostileRecord } from './history.js';
import { FLOOD_KINDS, Floods, sampleResources, type FloodTarget } from './hostile.js';
import type { WorkloadContext } from './workloads.js';

/**
 * CHAOS_HOSTILE_BOUNDS are the limits of the hostile checkers in a chaos run. They are looser than
 * bench:hostile's goals (RSS growth 50 MB, log 10 KB/s, p99 2×) because a chaos run also kills,
 * restarts and partitions nodes (a restarted node catches up under the flood, and faults log), the
 * adversary shares the harness's process and the machine's two cores with the workloads, and the p99
 * of the few dozen writes a short run makes away from faults is close to their maximum (a first run,
 * seed 3, 40 s: 280 ms under the floods from 31 writes against 105 ms from 151 quiet ones).
 */
export const CHAOS_HOSTILE_BOUNDS: HostileBounds = { rssGrowthMb: 150, logBytesPerS: 20 * 1024, p99Factor: 3, p99SlackMs: 250, minSamples: 20 };
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

/** hostileWorkload floods in alternating windows until the workloads stop, then records the counts. */
export async function hostileWorkload(ctx: WorkloadContext, record: HostileRecord): Promise<void> {
  // The reads carry a read token, so the watch streams (and the state reads) are served, not refused 401.
  const readToken = ctx.env.cluster.apiUrl(ctx.env.cluster.nodes[0]!.nodeId).startsWith('https:') ? ctx.env.cluster.readToken(6 * 3600) : undefined;
  const floods = new Floods(() => floodTargets(ctx, readToken), FLOOD_KINDS);
  const sampling = sampleLoop(ctx, record);
  try {
    // The first quiet window lets the workloads start before the first flood.
    while (ctx.running()) {
      await sleepWhile(ctx, QUIET_WINDOW_MS);
      if (!ctx.running()) break;
      const window = { startMs: ctx.t(), endMs: ctx.t() };
      record.windows.push(window);
      floods.start();
      await sleepWhile(ctx, FLOOD_WINDOW_MS);
      await floods.stop();
      window.endMs = ctx.t();
    }
  } finally {
    await floods.stop();
    record.counts = Object.fromEntries(floods.counts);
    await sampling;
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
