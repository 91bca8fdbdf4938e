// index.ts — the public surface of the chaos checkers: checkHistory runs every checker over one
// recorded history. Each checker is a pure function of the history (chaos/history.ts).
import type { CheckerVerdict, History } from '../history.js';
import { checkAppliedMonotone } from './applied-monotone.js';
import { verdictOf } from './common.js';
import { checkConvergence } from './convergence.js';
import { checkLivenessAfterHeal } from './liveness-after-heal.js';
import { checkNothingLost } from './nothing-lost.js';
import { checkProbes } from './probes.js';
import { checkRegisterLinearizability } from './register-linearizability.js';
import { checkValidEnvelopes } from './valid-envelopes.js';
import { checkLeaderChanges } from './leader-changes.js';
import { checkHostileBounds, checkHostileLatency } from './hostile.js';

export {
  checkAppliedMonotone, checkConvergence, checkHostileBounds, checkHostileLatency, checkLeaderChanges, checkLivenessAfterHeal, checkNothingLost, checkProbes,
  checkRegisterLinearizability, checkValidEnvelopes,
};
export { MAX_PROBLEMS, bodyHashOfEnvelope } from './common.js';

/** CHECKERS lists every checker by the name its verdict carries, in the order they run. */
export const CHECKERS: ReadonlyArray<{ readonly name: string; readonly check: (history: History) => CheckerVerdict }> = [
  { name: 'linearizability', check: (history) => checkRegisterLinearizability(history) },
  { name: 'nothing-lost', check: checkNothingLost },
  { name: 'valid-envelopes', check: checkValidEnvelopes },
  { name: 'applied-monotone', check: checkAppliedMonotone },
  { name: 'convergence', check: checkConvergence },
  { name: 'probes', check: checkProbes },
  { name: 'liveness-after-heal', check: checkLivenessAfterHeal },
  { name: 'leader-changes', check: checkLeaderChanges },
  { name: 'hostile-bounds', check: checkHostileBounds },
  { name: 'hostile-latency', check: checkHostileLatency },
];

/**
 * checkHistory runs every checker. A checker that throws (a history it cannot read) fails with the
 * error as its problem, so one broken checker never hides the others' verdicts.
 */
export function checkHistory(history: History): CheckerVerdict[] {
  return CHECKERS.map(({ name, check }) => {
    try {
      return check(history);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return verdictOf(name, `the checker crashed: ${message}`, [`checker error: ${error instanceof Error && error.stack ? error.stack.split('\n').slice(0, 3).join(' | ') : message}`]);
    }
  });
}
