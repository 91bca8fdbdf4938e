// liveness-after-heal.ts — the `liveness-after-heal` checker: once every fault is undone, the cluster
// elects a leader and commits a new update within the bounds.
//
// Rules: final.leaderAtMs - run.healedAtMs <= final.bounds.leaderMs, and final.probeCommitAtMs -
// run.healedAtMs <= final.bounds.commitMs; a null time (never happened within the harness's wait) or a
// missing final observation fails.
import type { CheckerVerdict, History } from '../history.js';
import { verdictOf } from './common.js';

/** checkLivenessAfterHeal is the `liveness-after-heal` checker (rules above). */
export function checkLivenessAfterHeal(history: History): CheckerVerdict {
  const final = history.final;
  if (final === null) return verdictOf('liveness-after-heal', 'no final observation was recorded', ['the run has no final observation']);
  const healed = history.run.healedAtMs;
  const problems: string[] = [];
  const measure = (what: string, atMs: number | null, boundMs: number): string => {
    if (atMs === null) {
      problems.push(`no ${what} after healing (bound ${boundMs} ms)`);
      return `${what}: never`;
    }
    const afterMs = atMs - healed;
    if (afterMs > boundMs) problems.push(`${what} ${afterMs} ms after healing, bound ${boundMs} ms`);
    return `${what} after ${afterMs} ms (bound ${boundMs})`;
  };
  const leader = measure('leader', final.leaderAtMs, final.bounds.leaderMs);
  const commit = measure('commit', final.probeCommitAtMs, final.bounds.commitMs);
  return verdictOf('liveness-after-heal', `${leader}; ${commit}`, problems);
}
