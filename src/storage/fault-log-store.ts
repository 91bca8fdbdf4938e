// fault-log-store.ts — FaultLogStore, a LogStore wrapper that models the one disk fault Raft must
// survive: a crash loses every write that was not yet synced.
//
// Each write waits `syncDelayMs` (its time in the page cache) before it reaches the wrapped store
// and its promise resolves; writes reach the store in order. crash() loses every write still
// waiting, as a power cut would, and closes the store. A correct node only acts on a write after
// its promise resolves, so a crash never loses anything it acknowledged; the planted defect
// `ackBeforeSync` resolves writes at once (as a node that forgot fsync would) so tests can show
// that they detect the loss. For real processes, kill -9 during the delay has the same effect.
import type { Snapshot } from '../raft/index.js';
import { StorageClosedError, StorageCrashedError, assert } from './errors.js';
import type { LogStore, PersistedState, SaveBatch } from './log-store.js';

/** FaultLogStoreInit configures the fault model. */
export interface FaultLogStoreInit {
  /** syncDelayMs: how long each write stays unsynced before it is durable (>= 0). */
  readonly syncDelayMs: number;
  /** ackBeforeSync: planted defect for negative tests; save() resolves before the write is durable. */
  readonly ackBeforeSync?: boolean;
  /** maxPendingWrites bounds the queue of unsynced writes (default 1024). */
  readonly maxPendingWrites?: number;
}

interface PendingWrite {
  readonly run: () => Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

const DEFAULT_MAX_PENDING_WRITES = 1024;

/** FaultLogStore wraps a LogStore and loses unsynced writes on crash(). */
export class FaultLogStore implements LogStore {
  private readonly inner: LogStore;
  private readonly init: FaultLogStoreInit;
  private readonly pending: PendingWrite[] = [];
  private pumping = false;
  private crashed = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(inner: LogStore, init: FaultLogStoreInit) {
    assert(Number.isFinite(init.syncDelayMs) && init.syncDelayMs >= 0, 'syncDelayMs must be >= 0');
    this.inner = inner;
    this.init = init;
  }

  /** pendingWrites is the number of writes not yet durable. */
  pendingWrites(): number {
    return this.pending.length;
  }

  async load(): Promise<PersistedState> {
    this.checkUsable('load');
    return this.inner.load();
  }

  save(batch: SaveBatch): Promise<void> {
    return this.enqueue('save', () => this.inner.save(batch));
  }

  compact(snapshot: Snapshot): Promise<void> {
    return this.enqueue('compact', () => this.inner.compact(snapshot));
  }

  /** close waits for pending writes to become durable (an orderly shutdown), then closes the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    const bound = (this.init.maxPendingWrites ?? DEFAULT_MAX_PENDING_WRITES) + 1;
    for (let round = 0; round < bound && (this.pending.length > 0 || this.pumping); round++) {
      await new Promise((resolve) => setTimeout(resolve, this.init.syncDelayMs + 1));
    }
    this.closed = true;
    await this.inner.close();
  }

  /**
   * crash simulates a power cut: every write not yet durable is lost (its promise rejects with
   * StorageCrashedError unless it was already acknowledged by the ackBeforeSync defect), and the
   * wrapped store is closed. Returns the number of writes lost.
   */
  async crash(): Promise<number> {
    if (this.crashed || this.closed) return 0;
    this.crashed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const lost = this.pending.splice(0, this.pending.length);
    for (const write of lost) write.reject(new StorageCrashedError('write lost before it was synced'));
    this.closed = true;
    await this.inner.close();
    return lost.length;
  }

  private enqueue(operation: string, run: () => Promise<void>): Promise<void> {
    this.checkUsable(operation);
    const limit = this.init.maxPendingWrites ?? DEFAULT_MAX_PENDING_WRITES;
    assert(this.pending.length < limit, () => `FaultLogStore: more than ${limit} unsynced writes`);
    const acknowledged = new Promise<void>((resolve, reject) => {
      if (this.init.ackBeforeSync === true) {
        // The planted defect: acknowledge now; a later crash silently loses the write.
        this.pending.push({ run, resolve: () => undefined, reject: () => undefined });
        resolve();
      } else {
        this.pending.push({ run, resolve, reject });
      }
    });
    this.schedule();
    return acknowledged;
  }

  private schedule(): void {
    if (this.pumping || this.crashed || this.pending.length === 0) return;
    this.pumping = true;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flushOne();
    }, this.init.syncDelayMs);
  }

  private async flushOne(): Promise<void> {
    const write = this.pending[0];
    if (write === undefined || this.crashed) {
      this.pumping = false;
      return;
    }
    try {
      await write.run();
      if (this.crashed) return;
      this.pending.shift();
      write.resolve();
    } catch (error) {
      if (this.crashed) return;
      this.pending.shift();
      write.reject(error as Error);
    }
    this.pumping = false;
    this.schedule();
  }

  private checkUsable(operation: string): void {
    if (this.crashed) throw new StorageCrashedError(`${operation} after the crash`);
    if (this.closed) throw new StorageClosedError(operation);
  }
}
