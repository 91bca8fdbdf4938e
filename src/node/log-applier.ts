// log-applier.ts — a minimal replicated state machine for testing and benchmarking the Raft
// runtime on its own: it records, in order, the id of every payload it applies and a running
// hash over them. Used by the `log` application mode (cluster tests, bench:raft); the gateway's
// real state machine is src/state.
import { createHash } from 'node:crypto';
import type { AppliedEntry, RuntimeApplier } from './ports.js';

import type { LogApplyResult } from '../api/index.js';

export type { LogApplyResult } from '../api/index.js';

/** LogApplierState is the applier's snapshot form. */
interface LogApplierState {
  readonly ids: string[];
  readonly indexes: number[];
  readonly hash: string;
}

/** MAX_LOG_APPLIER_IDS bounds the ids kept (the hash still covers every payload ever applied). */
export const MAX_LOG_APPLIER_IDS = 2_000_000;

/** LogApplier applies opaque payloads by recording their id (the payload as UTF-8, truncated to 64 bytes). */
export class LogApplier implements RuntimeApplier<LogApplyResult> {
  private ids: string[] = [];
  private indexes: number[] = [];
  private hash = '';
  private total = 0;

  apply(entry: AppliedEntry): LogApplyResult {
    const id = Buffer.from(entry.payload.subarray(0, 64)).toString('utf8');
    this.hash = createHash('sha256').update(this.hash).update(entry.payload).digest('hex');
    if (this.ids.length < MAX_LOG_APPLIER_IDS) {
      this.ids.push(id);
      this.indexes.push(entry.index);
    }
    const position = this.total;
    this.total += 1;
    return { index: entry.index, position, hash: this.hash };
  }

  snapshot(): Uint8Array {
    const state: LogApplierState = { ids: this.ids, indexes: this.indexes, hash: this.hash };
    return Buffer.from(JSON.stringify(state), 'utf8');
  }

  restore(data: Uint8Array): void {
    const state = JSON.parse(Buffer.from(data).toString('utf8')) as LogApplierState;
    if (!Array.isArray(state.ids) || !Array.isArray(state.indexes) || state.ids.length !== state.indexes.length || typeof state.hash !== 'string') {
      throw new Error('log applier: snapshot is malformed');
    }
    this.ids = state.ids;
    this.indexes = state.indexes;
    this.hash = state.hash;
    this.total = state.ids.length;
  }

  /** applied returns the ids applied, in order, with their log indexes, from position `from`. */
  applied(from = 0, limit = 10_000): { ids: string[]; indexes: number[]; total: number; hash: string } {
    return { ids: this.ids.slice(from, from + limit), indexes: this.indexes.slice(from, from + limit), total: this.total, hash: this.hash };
  }
}
