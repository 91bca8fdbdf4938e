// fault-log-store.ts — FaultLogStore, a LogStore wrapper that models the one disk fault Raft must
// survive: a crash loses every write that was not yet synced.
//
// Writes reach the wrapped store in order, one pass of the queue every `syncDelayMs` (their time
// in the page cache). A synced write (every compact, every save without `sync: false`) resolves
// when its pass has reached the store; an unsynced save resolves at once, as a LevelDB write
// without fsync returns once it is in the page cache. One pass writes every unsynced write at the
// head of the queue and the first synced write after them: an fsync makes everything written
// before it durable (LevelDB's write-ahead log). crash() loses every write still queued, as a
// power cut would, and closes the store: synced ones reject, unsynced ones were already
// acknowledged and are silently lost. `unsyncedLoss: 'all'` is the worst case: no unsynced write
// ever reaches the store, not even when a later synced one does (LevelDB can do that across a
// switch of its log file); a correct node must survive it too, since the runtime writes unsynced
// only a Ready whose one durable change is a higher commit index.
//
// A correct node only acts on a synced write after its promise resolves, so a crash never loses
// anything it acknowledged; a caller that writes everything with `sync: false` (a node that forgot
// fsync) loses acknowledged writes, which is how tests show that they detect the loss. For real
// processes, kill -9 during the delay has the same effect.
import type { Snapshot } from '../raft/index.js';
import { StorageClosedError, StorageCrashedError, assert } from './errors.js';
import type { LogStore, PersistedState, SaveBatch } from './log-store.js';

/** FaultLogStoreInit configures the fault model. */
export interface FaultLogStoreInit {
  /** syncDelayMs: how long each write stays unsynced before it is durable (>= 0). */
  readonly syncDelayMs: number;
  /** maxPendingWrites bounds the queue of unsynced writes (default 1024). */
  readonly maxPendingWrites?: number;
  /**
   * unsyncedLoss: what a crash loses of the writes made with `sync: false`. 'suffix' (default):
   * those still queued (not yet written back and not followed by a completed sync). 'all': every
   * one of them, ever: they never reach the wrapped store.
   */
  readonly unsyncedLoss?: 'suffix' | 'all';
}

interface PendingWrite {
  readonly run: () => Promise<void>;
  /** synced: the write is an fsync (a pass ends with it). */
  readonly synced: boolean;
  /** acknowledged: its promise already resolved (an unsynced write); a crash loses it silently. */
  readonly acknowledged: boolean;
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
  /** failure: an acknowledged unsynced write that the wrapped store then refused; every later call fails with it. */
  private failure: Error | undefined;
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
    if (batch.sync === false) {
      const run = this.init.unsyncedLoss === 'all' ? async () => undefined : () => this.inner.save(batch);
      return this.enqueue('save', run, false);
    }
    return this.enqueue('save', () => this.inner.save(batch), true);
  }

  compact(snapshot: Snapshot): Promise<void> {
    return this.enqueue('compact', () => this.inner.compact(snapshot), true);
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
   * StorageCrashedError unless it was already acknowledged: an unsynced write), and the wrapped
   * store is closed. Returns the number of writes lost.
   */
  async crash(): Promise<number> {
    if (this.crashed || this.closed) return 0;
    this.crashed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const lost = this.pending.splice(0, this.pending.length);
    for (const write of lost) {
      if (!write.acknowledged) write.reject(new StorageCrashedError('write lost before it was synced'));
    }
    this.closed = true;
    await this.inner.close();
    return lost.length;
  }

  private enqueue(operation: string, run: () => Promise<void>, synced: boolean): Promise<void> {
    this.checkUsable(operation);
    const limit = this.init.maxPendingWrites ?? DEFAULT_MAX_PENDING_WRITES;
    assert(this.pending.length < limit, () => `FaultLogStore: more than ${limit} unsynced writes`);
    const acknowledged = new Promise<void>((resolve, reject) => {
      if (!synced) {
        // Acknowledged now (an unsynced write); a later crash silently loses it.
        this.pending.push({ run, synced, acknowledged: true, resolve: () => undefined, reject: () => undefined });
        resolve();
      } else {
        this.pending.push({ run, synced, acknowledged: false, resolve, reject });
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
      void this.flushPass();
    }, this.init.syncDelayMs);
  }

  /** flushPass writes the unsynced writes at the head of the queue and the first synced one after them. */
  private async flushPass(): Promise<void> {
    const bound = this.pending.length;
    for (let written = 0; written < bound && !this.crashed; written++) {
      const write = this.pending[0];
      if (write === undefined) break;
      try {
        await write.run();
        if (this.crashed) return;
        this.pending.shift();
        write.resolve();
      } catch (error) {
        if (this.crashed) return;
        this.pending.shift();
        if (write.acknowledged) this.failure ??= error as Error;
        else write.reject(error as Error);
      }
      if (write.synced) break;
    }
    this.pumping = false;
    this.schedule();
  }

  private checkUsable(operation: string): void {
    if (this.crashed) throw new StorageCrashedError(`${operation} after the crash`);
    if (this.closed) throw new StorageClosedError(operation);
    if (this.failure !== undefined) throw this.failure;
  }
}
