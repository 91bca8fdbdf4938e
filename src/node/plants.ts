// plants.ts — planted bugs for the chaos suite's self-test (issue #7): each one breaks a promise of
// DESIGN.md on purpose, so a chaos run can show that its checkers catch it. They are switched on only
// by the environment variable QUORUMGATE_PLANT of a node process, which a production deployment never
// sets; a node running one logs a loud warning at start.
//   ack-before-fsync  storage acknowledges a write before it is durable (a crash loses acknowledged entries)
//   local-reads       "linearizable" reads answer from local state without a ReadIndex round
//   no-replay-check   apply skips the per-signer sequence and duplicate-body checks
//   delete-then-add   a flow swap deletes the old flows first and adds the new ones after the new
//                     μmboxes started (KalKi's break-before-make)
//
// Each is applied here, in the composition root, as a wrapper around a production part: no core type
// (src/raft, src/state, src/storage, src/api) names a plant. ack-before-fsync wraps the log store,
// local-reads wraps the runtime the API reads through, no-replay-check derives the state machine
// through its two protected replay lookups (the one seam it needed: the checks are inside apply), and
// delete-then-add is handed to the data plane (src/dataplane keeps that one; see dataplane-link.ts).
import type { RuntimeApi } from '../api/index.js';
import type { Snapshot } from '../raft/index.js';
import { StateMachine } from '../state/index.js';
import type { LogStore, PersistedState, SaveBatch } from '../storage/index.js';
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

/**
 * AckBeforeFsyncStore (ack-before-fsync) acknowledges every save at once and hands it on without
 * waiting: under the fault model (FaultLogStore, which gateway-node puts below it) each synced write
 * still takes its own sync delay, so under load a backlog of acknowledged writes builds up and a crash
 * loses all of it — a node that forgot fsync. A write that then fails makes every later call fail.
 */
export class AckBeforeFsyncStore implements LogStore {
  private failure: Error | undefined;
  constructor(private readonly inner: LogStore) {}
  load(): Promise<PersistedState> {
    return this.inner.load();
  }
  save(batch: SaveBatch): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    this.inner.save(batch).catch((error: unknown) => { this.failure ??= error as Error; });
    return Promise.resolve();
  }
  compact(snapshot: Snapshot): Promise<void> {
    return this.inner.compact(snapshot);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * withLocalReads (local-reads) returns the runtime as the API sees it, except that readIndex()
 * resolves at once without a ReadIndex round through the leader: a "linearizable" read then answers
 * from whatever this node has applied, possibly stale.
 */
export function withLocalReads<Result>(runtime: RuntimeApi<Result>): RuntimeApi<Result> {
  return {
    status: () => runtime.status(),
    counters: () => runtime.counters(),
    propose: (payload) => runtime.propose(payload),
    readIndex: () => Promise.resolve(runtime.status().applied),
    addMember: (id, address, asVoter) => runtime.addMember(id, address, asVoter),
    removeMember: (id) => runtime.removeMember(id),
    transferLeadership: (to) => runtime.transferLeadership(to),
  };
}

/**
 * ReplayBlindStateMachine (no-replay-check) forgets every signer's sequence and every remembered
 * body: a replayed or reordered command is verified as if it were new.
 */
export class ReplayBlindStateMachine extends StateMachine {
  protected override lastSequence(): number {
    return 0;
  }
  protected override earlierResult(): undefined {
    return undefined;
  }
}
