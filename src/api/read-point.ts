// read-point.ts — the consistency of reads (docs/api.md "Reads"), shared by every route file that
// reads the agreed state: a linearizable read waits for a ReadIndex through the leader, a stale one
// answers from this node's applied state at once.
import { Type } from '@sinclair/typebox';
import type { StateMachine } from '../state/index.js';
import type { ApiDeps } from './deps.js';
import { runtimeToApiError } from './errors.js';

/** Consistency is how fresh a read must be. */
export type Consistency = 'linearizable' | 'stale';

/** ConsistencyField is the `consistency` query parameter every read accepts (default linearizable). */
export const ConsistencyField = Type.Union([Type.Literal('linearizable'), Type.Literal('stale')], { default: 'linearizable' });

/** ConsistencyQuery is the query string of a read that takes nothing else. */
export const ConsistencyQuery = Type.Object({ consistency: ConsistencyField }, { additionalProperties: false });

/** GatewayDeps is the gateway part of the API's dependencies. */
export type GatewayDeps = NonNullable<ApiDeps['gateway']>;

/**
 * readPointFor returns the function that waits for a read point: with `linearizable` a ReadIndex
 * through the leader (the Raft thesis, section 6.4), then this node's applied index, which the answer
 * reflects.
 */
export function readPointFor(gateway: GatewayDeps): (consistency: Consistency) => Promise<number> {
  const machine = (): StateMachine => gateway.applier.machine;
  return async (consistency) => {
    if (consistency === 'stale') return machine().lastApplied().index;
    try {
      await gateway.runtime.readIndex();
    } catch (error) {
      throw runtimeToApiError(error);
    }
    return machine().lastApplied().index;
  };
}
