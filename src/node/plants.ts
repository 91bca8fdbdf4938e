// plants.ts — planted bugs for the chaos suite's self-test (issue #7): each one breaks a promise of
// DESIGN.md on purpose, so a chaos run can show that its checkers catch it. They are switched on only
// by the environment variable QUORUMGATE_PLANT of a node process, which a production deployment never
// sets; a node running one logs a loud warning at start.
//   ack-before-fsync  storage acknowledges a write before it is durable (a crash loses acknowledged entries)
//   local-reads       "linearizable" reads answer from local state without a ReadIndex round
//   no-replay-check   apply skips the per-signer sequence and duplicate-body checks
//   delete-then-add   a flow swap deletes the old flows first and adds the new ones after the new
//                     μmboxes started (KalKi's break-before-make)
import { StartupError } from './startup-error.js';

export const PLANTS = ['ack-before-fsync', 'local-reads', 'no-replay-check', 'delete-then-add'] as const;
export type Plant = (typeof PLANTS)[number];

/** plantFromEnv reads QUORUMGATE_PLANT; unset or empty means none; an unknown name is a start-up error. */
export function plantFromEnv(env: NodeJS.ProcessEnv = process.env): Plant | undefined {
  const value = env.QUORUMGATE_PLANT;
  if (value === undefined || value === '') return undefined;
  if (!(PLANTS as readonly string[]).includes(value)) {
    throw new StartupError('FAULT_CONFIG', `QUORUMGATE_PLANT must be one of ${PLANTS.join(', ')}, got "${value}"`);
  }
  return value as Plant;
}
