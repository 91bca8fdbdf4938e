// leader-changes.ts — the `leader-changes` checker (issue 15: four hostile bodies moved leadership):
// no leader change that no injected fault explains.
//
// A leader change is a new term in which some node reports a leader (the sampler polls every node
// four times a second; Raft elects at most one leader per term, and with pre-vote a term only rises
// for an election or a transfer). The first term with a leader is the cluster's start, not a change.
// A change at time t is explained by a fault interval [start, end] with
// start - EXPLAIN_BEFORE_MS <= t <= end + EXPLAIN_AFTER_MS —
// every fault family counts (a kill, a pause, a partition and a membership change move leaders by
// design; a restart of OVS or Docker loads the machine), and the time after its end covers a
// restarted or healed node's campaign and the election a check-quorum step-down starts. A change with
// no such fault is a problem: something else (a client, a stranger on the Raft port) moved the leader.
import type { CheckerVerdict, History } from '../history.js';
import { faultIntervals, formatMs, verdictOf } from './common.js';

/** EXPLAIN_BEFORE_MS: a change this long before a fault's recorded start is still its doing (the record follows the act). */
export const EXPLAIN_BEFORE_MS = 1_000;
/** EXPLAIN_AFTER_MS: a change this long after a fault's end is still its doing (elections after a heal or restart). */
export const EXPLAIN_AFTER_MS = 10_000;

/** leaderTerms lists each term in which a node reported a leader, with when it was first seen and who led. */
export function leaderTerms(history: History): Array<{ term: number; t: number; leader: number }> {
  const first = new Map<number, { t: number; leader: number }>();
  for (const sample of [...history.samples].sort((a, b) => a.t - b.t)) {
    if (!sample.up || sample.term === undefined || sample.leader === undefined || sample.leader === 0) continue;
    if (!first.has(sample.term)) first.set(sample.term, { t: sample.t, leader: sample.leader });
  }
  return [...first].map(([term, seen]) => ({ term, ...seen })).sort((a, b) => a.term - b.term);
}

/** checkLeaderChanges is the `leader-changes` checker (rules above). */
export function checkLeaderChanges(history: History): CheckerVerdict {
  const terms = leaderTerms(history);
  const intervals = faultIntervals(history.faults);
  const problems: string[] = [];
  let explained = 0;
  for (const change of terms.slice(1)) {
    const cause = intervals.find((i) => change.t >= i.startMs - EXPLAIN_BEFORE_MS && change.t <= i.endMs + EXPLAIN_AFTER_MS);
    if (cause !== undefined) {
      explained += 1;
      continue;
    }
    problems.push(`term ${change.term} (leader n${change.leader}) first seen at ${formatMs(change.t)}: no injected fault within ${EXPLAIN_BEFORE_MS / 1000} s before or ${EXPLAIN_AFTER_MS / 1000} s after explains this leader change`);
  }
  const summary = terms.length === 0
    ? 'no leader seen in the samples'
    : `${Math.max(0, terms.length - 1)} leader changes after the first leader (term ${terms[0]!.term}): ${explained} explained by injected faults, ${problems.length} unexplained`;
  return verdictOf('leader-changes', summary, problems);
}
