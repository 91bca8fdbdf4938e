// leader-changes.ts — the `leader-changes` checker (issue 15: four hostile bodies moved leadership):
// no leader change that no injected fault explains.
//
// A leader change is a new term in which some node reports a leader (the sampler polls every node
// four times a second; Raft elects at most one leader per term, and with pre-vote a term only rises
// for an election or a transfer). The first term with a leader is the cluster's start, not a change.
// The election happened at an unknown time between the last sample that showed an earlier term's
// leader (`since`) and the first that showed the new one (`t`): usually a quarter of a second apart,
// but many seconds when every node was down or too busy to answer (restarted nodes replaying their
// log after a majority was killed). The change is explained by a fault interval [start, end] that
// overlaps that span once widened: start - EXPLAIN_BEFORE_MS <= t and since <= end + EXPLAIN_AFTER_MS —
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

/** LeaderTerm is a term in which a node reported a leader: when it was first seen, who led, and since when an earlier term's leader was last seen. */
export interface LeaderTerm {
  readonly term: number;
  readonly t: number;
  readonly leader: number;
  /** since: the last sample before `t` that showed a leader of an earlier term (`t` itself when none did). */
  readonly since: number;
}

/** leaderTerms lists each term in which a node reported a leader, in term order (see LeaderTerm). */
export function leaderTerms(history: History): LeaderTerm[] {
  const sightings = [...history.samples]
    .filter((s) => s.up && s.term !== undefined && s.leader !== undefined && s.leader !== 0)
    .sort((a, b) => a.t - b.t);
  const terms: LeaderTerm[] = [];
  for (const sample of sightings) {
    const term = sample.term!;
    if (terms.some((known) => known.term === term)) continue;
    const earlier = sightings.filter((s) => s.t < sample.t && s.term! < term);
    const since = earlier.length === 0 ? sample.t : earlier[earlier.length - 1]!.t;
    terms.push({ term, t: sample.t, leader: sample.leader!, since });
  }
  return terms.sort((a, b) => a.term - b.term);
}

/** checkLeaderChanges is the `leader-changes` checker (rules above). */
export function checkLeaderChanges(history: History): CheckerVerdict {
  const terms = leaderTerms(history);
  const intervals = faultIntervals(history.faults);
  const problems: string[] = [];
  let explained = 0;
  for (const change of terms.slice(1)) {
    const cause = intervals.find((i) => change.t >= i.startMs - EXPLAIN_BEFORE_MS && change.since <= i.endMs + EXPLAIN_AFTER_MS);
    if (cause !== undefined) {
      explained += 1;
      continue;
    }
    problems.push(`term ${change.term} (leader n${change.leader}) first seen at ${formatMs(change.t)} (an earlier leader last seen at ${formatMs(change.since)}): no injected fault within ${EXPLAIN_BEFORE_MS / 1000} s before or ${EXPLAIN_AFTER_MS / 1000} s after that span explains this leader change`);
  }
  const summary = terms.length === 0
    ? 'no leader seen in the samples'
    : `${Math.max(0, terms.length - 1)} leader changes after the first leader (term ${terms[0]!.term}): ${explained} explained by injected faults, ${problems.length} unexplained`;
  return verdictOf('leader-changes', summary, problems);
}
