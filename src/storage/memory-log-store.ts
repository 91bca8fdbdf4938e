// memory-log-store.ts — MemoryLogStore, the in-memory LogStore: the fake that tests and the
// simulator use, held to the same contract suite as the LevelDB adapter. Its "disk" (MemoryDisk)
// outlives the store, so a test can close a store and reopen the same disk, as after a restart.
import type { Entry, HardState, Snapshot } from '../raft/index.js';
import { EMPTY_CONF_STATE_VALUE, EMPTY_HARD_STATE_VALUE } from './constants.js';
import { StorageClosedError, StorageCorruptionError } from './errors.js';
import type { LogBounds, LogStore, PersistedState, SaveBatch, WriteOp } from './log-store.js';
import { planCompact, planSave } from './log-store.js';

/** MemoryDisk is what a MemoryLogStore persists to; it survives a store's close(). */
export class MemoryDisk {
  hardState: HardState = EMPTY_HARD_STATE_VALUE;
  snapshot: Snapshot = { metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE_VALUE }, data: new Uint8Array(0) };
  readonly entries = new Map<number, Entry>();
  /** writes counts atomic writes (saves and compactions), for tests. */
  writes = 0;
  /** syncedWrites counts the writes that asked for an fsync (all but `sync: false` saves), for tests. */
  syncedWrites = 0;
}

/** MemoryLogStore implements LogStore in memory; every write is atomic (applied synchronously). */
export class MemoryLogStore implements LogStore {
  private readonly disk: MemoryDisk;
  private bounds: LogBounds;
  private closed = false;

  constructor(disk: MemoryDisk = new MemoryDisk()) {
    this.disk = disk;
    const index = disk.snapshot.metadata.index;
    let lastIndex = index;
    while (disk.entries.has(lastIndex + 1)) lastIndex++;
    this.bounds = { snapshotIndex: index, lastIndex };
  }

  async load(): Promise<PersistedState> {
    this.checkOpen('load');
    const entries: Entry[] = [];
    for (let index = this.bounds.snapshotIndex + 1; index <= this.bounds.lastIndex; index++) {
      const entry = this.disk.entries.get(index);
      if (entry === undefined) throw new StorageCorruptionError(`log/${index}`, 'missing entry', { index });
      entries.push(entry);
    }
    return { hardState: this.disk.hardState, snapshot: this.disk.snapshot, entries };
  }

  async save(batch: SaveBatch): Promise<void> {
    this.checkOpen('save');
    const plan = planSave(this.bounds, batch);
    this.apply(plan.ops, batch.sync !== false);
    this.bounds = plan.bounds;
  }

  async compact(snapshot: Snapshot): Promise<void> {
    this.checkOpen('compact');
    const plan = planCompact(this.bounds, snapshot);
    this.apply(plan.ops, true);
    this.bounds = plan.bounds;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** apply writes the ops; memory has no page cache, so `sync` is only counted (FaultLogStore models its loss). */
  private apply(ops: readonly WriteOp[], sync: boolean): void {
    for (const op of ops) {
      switch (op.kind) {
        case 'putEntry':
          this.disk.entries.set(op.entry.index, { ...op.entry, data: op.entry.data.slice() });
          break;
        case 'deleteEntry':
          this.disk.entries.delete(op.index);
          break;
        case 'putHardState':
          this.disk.hardState = { ...op.hardState };
          break;
        case 'putSnapshot':
          this.disk.snapshot = { metadata: op.snapshot.metadata, data: op.snapshot.data.slice() };
          break;
      }
    }
    this.disk.writes++;
    if (sync) this.disk.syncedWrites++;
  }

  private checkOpen(operation: string): void {
    if (this.closed) throw new StorageClosedError(operation);
  }
}
