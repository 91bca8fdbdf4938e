// gateway-applier.ts — the gateway's replicated state machine as the runtime drives it.
//
// Wraps src/state's StateMachine (pure, deterministic) and tells the rest of the node what each
// applied entry did: the watch stream, the data plane (which re-plans when device states
// change) and the membership controller listen to `applied` events. Listeners run after the
// entry is applied and must not throw; they never influence the state.
import { EventEmitter } from 'node:events';
import { verifyInBackground } from '../commands/index.js';
import type { ApplyResult, StateMachine } from '../state/index.js';
import type { AppliedEntry, RuntimeApplier } from './ports.js';
import type { AppliedEvent } from '../api/index.js';

/** AppliedEvent describes one applied entry. */
export type { AppliedEvent } from '../api/index.js';

/**
 * changesPlans says whether an applied entry may change what the data plane and the device half read of the
 * state (devices, plans, policies, images, pending commands). A rejected entry changes none of it, nor does a
 * telemetry batch whose readings and alerts moved no device (no effect but skipped events, alerts and
 * discoveries): at thousands of readings a second, re-reading every device after each such batch was half a
 * node's time.
 */
export function changesPlans(event: AppliedEvent): boolean {
  if (!event.result.ok) return false;
  if (event.result.kind !== 'telemetry') return true;
  return event.result.effects.some((effect) => effect.kind !== 'telemetrySkipped' && effect.kind !== 'discovery' && effect.kind !== 'alert');
}

/** RECENT_EVENTS bounds the in-memory history that watch clients can resume from. */
export const RECENT_EVENTS = 4096;

/** GatewayApplier implements the runtime's applier port over the StateMachine. */
export class GatewayApplier extends EventEmitter implements RuntimeApplier<ApplyResult> {
  readonly machine: StateMachine;
  private readonly recent: AppliedEvent[] = [];

  constructor(machine: StateMachine) {
    super();
    this.machine = machine;
  }

  apply(entry: AppliedEntry): ApplyResult {
    const result = this.machine.apply({ index: entry.index, term: entry.term, timeMs: entry.timeMs, payload: entry.payload });
    const event: AppliedEvent = { index: entry.index, term: entry.term, timeMs: entry.timeMs, result };
    this.recent.push(event);
    if (this.recent.length > RECENT_EVENTS) this.recent.shift();
    this.emit('applied', event);
    return result;
  }

  /**
   * prepare verifies a received entry's signatures ahead, in the thread pool, against the current trust
   * state (crypto.ts verifyInBackground): while the entry waits for its fsync and its commit, so that apply
   * finds them in the verification memo. apply still checks every signature (a hit needs the same key,
   * body and signature bytes) and verifies on the spot what was not verified ahead.
   */
  prepare(payload: Uint8Array): Promise<void> {
    // The runtime does not wait: the promise (it never rejects) is for tests.
    return verifyInBackground(this.machine.signatureChecks(payload));
  }

  snapshot(): Uint8Array {
    return this.machine.snapshot();
  }

  restore(data: Uint8Array): void {
    this.machine.restore(data);
    this.recent.length = 0;
    this.emit('restored', this.machine.lastApplied().index);
  }

  /** recentFrom returns the remembered events with index >= `from` (oldest first); `complete` is false when older ones were forgotten. */
  recentFrom(from: number): { events: AppliedEvent[]; complete: boolean } {
    const first = this.recent[0];
    const complete = first === undefined || first.index <= from;
    return { events: this.recent.filter((event) => event.index >= from), complete };
  }
}
