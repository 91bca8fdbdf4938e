// applied-monotone.ts — the `applied-monotone` checker: a node's applied and commit indexes never go
// backwards while its process lives, and its term never goes backwards at all.
//
// Rules, over each node's status samples (`up` ones only) in time order:
// - Lifetimes. A node's process is replaced only by a restarting fault: the kill families (`kill`,
//   `kill-leader`, `kill-minority`, `kill-majority`: kill -9 then restart), `lose-unsynced` (kill, drop
//   unsynced writes, restart), `membership` (remove, then add back), and any fault that could not start
//   (the harness then restarts whatever is down). Each such fault touching the node, from its `start` to its `end` (Infinity when never
//   undone), is a restart window. Samples inside a window are not compared with anything (the old
//   process may still answer, the new one may already): a restarted node legitimately comes back with
//   applied reset to its snapshot and replays. Two consecutive samples outside windows belong to one
//   lifetime when no window lies between them.
// - Within one lifetime: applied and commit never decrease.
// - Term never decreases on a node, across restarts too: the hard state (term, vote) is synced before
//   the node acts on it, so even `lose-unsynced` cannot lose it. The one exception is a `membership`
//   window: a node removed and added back starts from empty storage, so its term may restart there.
import type { CheckerVerdict, FaultEvent, History, NodeSample } from '../history.js';
import { faultIntervals, formatMs, verdictOf, type FaultInterval } from './common.js';

/** RESTART_FAULTS are the fault families that replace a node's process. */
export const RESTART_FAULTS: ReadonlySet<string> = new Set(['kill', 'kill-leader', 'kill-minority', 'kill-majority', 'lose-unsynced', 'membership']);
/** FRESH_STORAGE_FAULTS may give a node new, empty storage (its term restarts). */
export const FRESH_STORAGE_FAULTS: ReadonlySet<string> = new Set(['membership']);

/** checkAppliedMonotone is the `applied-monotone` checker (rules above). */
export function checkAppliedMonotone(history: History): CheckerVerdict {
  const windows = restartWindows(history.faults);
  const byNode = new Map<number, NodeSample[]>();
  for (const sample of history.samples) {
    if (!sample.up) continue;
    byNode.set(sample.node, [...(byNode.get(sample.node) ?? []), sample]);
  }
  const problems: string[] = [];
  let compared = 0;
  let lifetimes = 0;
  for (const [node, samples] of [...byNode].sort((a, b) => a[0] - b[0])) {
    samples.sort((a, b) => a.t - b.t);
    const mine = windows.filter((window) => window.nodes.includes(node));
    const result = checkNode(node, samples, mine);
    problems.push(...result.problems);
    compared += result.compared;
    lifetimes += result.lifetimes;
  }
  const summary = `${history.samples.length} samples of ${byNode.size} node(s), ${lifetimes} process lifetime(s), ${compared} consecutive pairs compared`;
  return verdictOf('applied-monotone', summary, problems);
}

function restartWindows(faults: readonly FaultEvent[]): FaultInterval[] {
  return faultIntervals(faults).filter((interval) => RESTART_FAULTS.has(interval.fault) || interval.detail.startsWith('could not start'));
}

function checkNode(node: number, samples: readonly NodeSample[], windows: readonly FaultInterval[]): { problems: string[]; compared: number; lifetimes: number } {
  const problems: string[] = [];
  const inside = (t: number): boolean => windows.some((window) => t >= window.startMs && t <= window.endMs);
  const between = (a: number, b: number, filter: (window: FaultInterval) => boolean): boolean =>
    windows.some((window) => filter(window) && window.startMs <= b && window.endMs >= a);
  let previous: NodeSample | undefined;
  let lastTermSample: NodeSample | undefined;
  let compared = 0;
  let lifetimes = 0;
  for (const sample of samples) {
    // Term: compared with the last sample that reported one, across restarts.
    if (sample.term !== undefined) {
      if (lastTermSample !== undefined && sample.term < lastTermSample.term!
        && !between(lastTermSample.t, sample.t, (window) => FRESH_STORAGE_FAULTS.has(window.fault))) {
        problems.push(`n${node}: term went back from ${lastTermSample.term} at ${formatMs(lastTermSample.t)} to ${sample.term} at ${formatMs(sample.t)}`);
      }
      lastTermSample = sample;
    }
    if (inside(sample.t)) {
      previous = undefined;
      continue;
    }
    if (previous === undefined || between(previous.t, sample.t, () => true)) {
      lifetimes += 1;
      previous = sample;
      continue;
    }
    compared += 1;
    for (const field of ['applied', 'commit'] as const) {
      const before = previous[field];
      const after = sample[field];
      if (before !== undefined && after !== undefined && after < before) {
        problems.push(`n${node}: ${field} index went back from ${before} at ${formatMs(previous.t)} to ${after} at ${formatMs(sample.t)} within one process lifetime`);
      }
    }
    previous = sample;
  }
  return { problems, compared, lifetimes };
}
