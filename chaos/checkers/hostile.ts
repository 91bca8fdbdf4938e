// hostile.ts — the checkers of the hostile workload (`--hostile`, chaos/hostile.ts; issue 15). Without
// it in the run they pass and say so.
//
// `hostile-bounds`: no node process's RSS rises more than bounds.rssGrowthMb above its baseline (its
// first sample taken WARMUP_MS or more after its first, so that a restarted process's start-up and
// catch-up are not counted); no node's log grows faster than bounds.logBytesPerS averaged over the run
// (growth summed over consecutive samples; a rotation's drop is not counted back); no flood was
// answered 500 (a request the node could not handle).
// `hostile-latency`: the p99 of the acknowledged register writes made while the adversary flooded is
// at most bounds.p99Factor × the p99 of those made in the quiet windows between its floods, plus
// bounds.p99SlackMs. Only writes that began and ended inside one kind of window count, and none that
// overlapped a fault (or the RECOVERY_MS after it): faults move latency far more than any flood. With
// fewer than bounds.minSamples writes on either side, the comparison is not made (the summary says so).
import { percentile } from '../../bench/support.js';
import type { CheckerVerdict, History } from '../history.js';
import { faultIntervals, formatMs, verdictOf } from './common.js';

/** WARMUP_MS: the first seconds of a node process are its start-up, not growth. */
export const WARMUP_MS = 5_000;
/** RECOVERY_MS: writes this long after a fault ends still feel it. */
export const RECOVERY_MS = 2_000;

/** checkHostileBounds is the `hostile-bounds` checker (rules above). */
export function checkHostileBounds(history: History): CheckerVerdict {
  const record = history.hostile;
  if (record === undefined) return verdictOf('hostile-bounds', 'no hostile workload in this run', []);
  const problems: string[] = [];
  const byProcess = new Map<string, typeof record.resources>();
  for (const sample of record.resources) byProcess.set(`${sample.node}/${sample.pid}`, [...(byProcess.get(`${sample.node}/${sample.pid}`) ?? []), sample]);
  let maxGrowthMb = 0;
  for (const [key, samples] of byProcess) {
    const sorted = [...samples].sort((a, b) => a.t - b.t);
    const warm = sorted.filter((s) => s.t >= sorted[0]!.t + WARMUP_MS);
    if (warm.length < 2) continue;
    const peak = warm.reduce((best, s) => (s.rssBytes > best.rssBytes ? s : best));
    const growthMb = (peak.rssBytes - warm[0]!.rssBytes) / (1024 * 1024);
    maxGrowthMb = Math.max(maxGrowthMb, growthMb);
    if (growthMb > record.bounds.rssGrowthMb) {
      const [node, pid] = key.split('/');
      problems.push(`n${node} (pid ${pid}): RSS rose ${growthMb.toFixed(0)} MB, from ${(warm[0]!.rssBytes / 1048576).toFixed(0)} MB at ${formatMs(warm[0]!.t)} to ${(peak.rssBytes / 1048576).toFixed(0)} MB at ${formatMs(peak.t)} (bound ${record.bounds.rssGrowthMb} MB)`);
    }
  }
  const rates = logRates(record.resources);
  for (const [node, rate] of rates) {
    if (rate > record.bounds.logBytesPerS) problems.push(`n${node}: its log grew ${(rate / 1024).toFixed(1)} KB/s over the run (bound ${(record.bounds.logBytesPerS / 1024).toFixed(1)} KB/s)`);
  }
  for (const [kind, counts] of Object.entries(record.counts)) {
    const internal = counts.answers['500'] ?? 0;
    if (internal > 0) problems.push(`${kind}: ${internal} requests answered 500 (a request a node could not handle)`);
  }
  const attempts = Object.values(record.counts).reduce((sum, c) => sum + c.attempts, 0);
  const summary = `${attempts} hostile attempts (${record.floods.join(', ')}) in ${record.windows.length} windows; largest RSS growth ${maxGrowthMb.toFixed(0)} MB (bound ${record.bounds.rssGrowthMb}); ` +
    `log growth up to ${(Math.max(0, ...rates.values()) / 1024).toFixed(1)} KB/s (bound ${(record.bounds.logBytesPerS / 1024).toFixed(1)})`;
  return verdictOf('hostile-bounds', summary, problems);
}

/** logRates is each node's log growth in bytes per second over its samples (drops at rotation ignored). */
export function logRates(resources: NonNullable<History['hostile']>['resources']): Map<number, number> {
  const byNode = new Map<number, typeof resources>();
  for (const sample of resources) byNode.set(sample.node, [...(byNode.get(sample.node) ?? []), sample]);
  const rates = new Map<number, number>();
  for (const [node, samples] of byNode) {
    const sorted = [...samples].sort((a, b) => a.t - b.t);
    if (sorted.length < 2) continue;
    let grown = 0;
    for (let i = 1; i < sorted.length; i++) grown += Math.max(0, sorted[i]!.logBytes - sorted[i - 1]!.logBytes);
    const seconds = (sorted[sorted.length - 1]!.t - sorted[0]!.t) / 1000;
    if (seconds > 0) rates.set(node, grown / seconds);
  }
  return rates;
}

/** checkHostileLatency is the `hostile-latency` checker (rules above). */
export function checkHostileLatency(history: History): CheckerVerdict {
  const record = history.hostile;
  if (record === undefined) return verdictOf('hostile-latency', 'no hostile workload in this run', []);
  const faults = faultIntervals(history.faults);
  const quietOfFaults = (from: number, to: number): boolean => faults.every((f) => to < f.startMs || from > f.endMs + RECOVERY_MS);
  const inWindow = (from: number, to: number): boolean => record.windows.some((w) => from >= w.startMs && to <= w.endMs);
  const outsideWindows = (from: number, to: number): boolean => record.windows.every((w) => to < w.startMs || from > w.endMs);
  const flooded: number[] = [];
  const quiet: number[] = [];
  for (const op of history.register) {
    if (op.kind !== 'write' || op.outcome !== 'ok' || op.completeMs === null || !quietOfFaults(op.invokeMs, op.completeMs)) continue;
    const latency = op.completeMs - op.invokeMs;
    if (inWindow(op.invokeMs, op.completeMs)) flooded.push(latency);
    else if (outsideWindows(op.invokeMs, op.completeMs) && op.invokeMs >= (record.windows[0]?.startMs ?? 0)) quiet.push(latency);
  }
  const { p99Factor, p99SlackMs, minSamples } = record.bounds;
  if (flooded.length < minSamples || quiet.length < minSamples) {
    return verdictOf('hostile-latency', `not compared: ${flooded.length} writes under the adversary and ${quiet.length} in quiet windows, away from faults (at least ${minSamples} each needed)`, []);
  }
  const p99Flooded = percentile(flooded, 99);
  const p99Quiet = percentile(quiet, 99);
  const bound = p99Factor * p99Quiet + p99SlackMs;
  const summary = `write p99 ${p99Flooded.toFixed(0)} ms under the adversary (${flooded.length} writes) vs ${p99Quiet.toFixed(0)} ms in quiet windows (${quiet.length}); bound ${p99Factor}× + ${p99SlackMs} ms = ${bound.toFixed(0)} ms`;
  return verdictOf('hostile-latency', summary, p99Flooded > bound ? [`write p99 under the adversary ${p99Flooded.toFixed(0)} ms exceeds ${bound.toFixed(0)} ms (${p99Factor}× the quiet p99 ${p99Quiet.toFixed(0)} ms + ${p99SlackMs} ms)`] : []);
}
