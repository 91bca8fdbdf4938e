// stand-in-runtime.ts — a Raft runtime for API tests that applies every proposal at once, as a one-node
// cluster would, and exports the applied entries as the real runtime does.
import type { RuntimeApi } from '../../src/api/deps.js';
import type { GatewayApplier } from '../../src/node/gateway-applier.js';
import type { Committed, RuntimeCounters, RuntimeStatus } from '../../src/node/raft-runtime.js';
import type { ApplyResult } from '../../src/state/index.js';

/** StandInRuntime applies every proposal at once, as a one-node cluster would, and keeps the applied entries. */
export class StandInRuntime implements RuntimeApi<ApplyResult> {
  readonly entries: Array<{ index: number; term: number; timeMs: number; payload: Uint8Array }> = [];
  protected index = 0;
  constructor(private readonly applier: GatewayApplier, private readonly clock: () => number) {}
  status(): RuntimeStatus {
    return { id: 1, role: 'leader', leader: 1, term: 2, commit: this.index, applied: this.index, snapshotIndex: 0, lastIndex: this.index, voters: [1], learners: [], removed: false };
  }
  counters(): RuntimeCounters {
    return { readies: 0, saves: 0, syncedSaves: 0, savedEntries: 0, saveMs: 0, syncedSaveMs: 0, appliedEntries: this.index, sentMessages: 0, droppedMessages: 0, pendingProposals: 0, pendingReads: 0 };
  }
  async propose(payload: Uint8Array): Promise<Committed<ApplyResult>> {
    this.index += 1;
    const timeMs = this.clock();
    // As in the real runtime, the entry is in the log (and exportable) before the applier sees it.
    this.entries.push({ index: this.index, term: 2, timeMs, payload });
    return { index: this.index, term: 2, timeMs, result: this.applier.apply({ index: this.index, term: 2, timeMs, payload }) };
  }
  async readIndex(): Promise<number> {
    return this.index;
  }
  appliedEnvelopes(from: number, limit: number): { firstIndex: number; entries: Array<{ index: number; term: number; timeMs: number; payload: Uint8Array }> } {
    return { firstIndex: 1, entries: this.entries.filter((e) => e.index >= from).slice(0, limit) };
  }
  addMember(): void {}
  removeMember(): void {}
  transferLeadership(): void {}
}
