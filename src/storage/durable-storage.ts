// durable-storage.ts — DurableStorage: the Raft core's Storage backed by a LogStore.
//
// The core reads its stable log synchronously, so DurableStorage keeps it in a MemoryStorage (as
// etcd keeps a MemoryStorage behind its WAL) and writes through: save() first writes the Ready
// with one atomic LogStore write, and only then updates the in-memory view. A failed write leaves
// the view untouched (the caller must then stop: a node that cannot persist must not send the
// messages that depend on it).
//
// The write is fsynced unless the Ready's mustSync is false (etcd's MustSync): then its one
// durable change is a higher commit index, and save() asserts exactly that (no entries, no
// snapshot, the term and vote already stored). Such a write may be lost by a crash, so the view's
// entries, term and vote are always durable but its commit index may be ahead of the disk's. That
// is safe: every entry at or below a commit index is durable on a majority, and the restarted node
// learns the commit index again from its leader. It only goes back across a restart, and never
// below the stored snapshot (open(): a snapshot only ever holds committed state).
import { MemoryStorage } from '../raft/index.js';
import type { ConfState, Entry, HardState, Snapshot, Storage } from '../raft/index.js';
import { StorageError, assert } from './errors.js';
import type { LogStore, SaveBatch } from './log-store.js';

/** DurableStorage implements the core's Storage over a LogStore; build it with DurableStorage.open(store). */
export class DurableStorage implements Storage {
  /** view is the in-memory log the core reads; it only ever reflects durable state. */
  private view: MemoryStorage;
  private readonly store: LogStore;
  /** busy: a write is in flight. Invariant: writes never overlap (the ready loop is sequential). */
  private busy = false;

  private constructor(store: LogStore, memory: MemoryStorage) {
    this.store = store;
    this.view = memory;
  }

  /**
   * memory is the in-memory view (read-only use). Give the core the DurableStorage itself, not
   * this object: bootstrap() replaces the view.
   */
  get memory(): MemoryStorage {
    return this.view;
  }

  /** open loads and validates the store (throws StorageCorruptionError on damage) and builds the view. */
  static async open(store: LogStore): Promise<DurableStorage> {
    const state = await store.load();
    const snapshot = state.snapshot;
    const memory = MemoryStorage.withConfState(snapshot.metadata.confState);
    if (snapshot.metadata.index > 0) memory.applySnapshot(snapshot);
    memory.append(state.entries);
    memory.setHardState(withCommitAtLeast(state.hardState, snapshot.metadata.index));
    assert(memory.lastIndex() === snapshot.metadata.index + state.entries.length, 'open: view disagrees with the stored log');
    return new DurableStorage(store, memory);
  }

  /** isEmpty says whether nothing was ever stored: no log, no snapshot, no configuration, no hard state. */
  isEmpty(): boolean {
    const { hardState, confState } = this.view.initialState();
    return this.view.lastIndex() === 0 && hardState.term === 0 && hardState.commit === 0
      && confState.voters.length === 0 && confState.learners.length === 0;
  }

  /**
   * bootstrap makes a founding member's first state durable in one synced write. `prepare`
   * fills a scratch MemoryStorage the way the core wants a founding member to start (pass
   * `(scratch) => bootstrapStorage(scratch, ...)` from src/raft); whatever it leaves there (a
   * snapshot, entries, a hard state) is persisted and becomes the view. Refused unless the store
   * is empty.
   */
  async bootstrap(prepare: (scratch: MemoryStorage) => void): Promise<void> {
    if (!this.isEmpty()) throw new StorageError('STORAGE_NOT_EMPTY', 'storage: bootstrap refused: the store already holds state');
    const scratch = new MemoryStorage();
    prepare(scratch);
    const snapshot = scratch.snapshot();
    const first = scratch.firstIndex();
    const last = scratch.lastIndex();
    const entries = last >= first ? scratch.entries(first, last + 1, Number.MAX_SAFE_INTEGER) : [];
    const { hardState, confState } = scratch.initialState();
    const hasConfiguration = confState.voters.length > 0 || confState.learners.length > 0;
    await this.save({
      entries,
      hardState,
      ...(snapshot.metadata.index > 0 || hasConfiguration ? { snapshot } : {}),
    });
    assert(this.view.lastIndex() === last, 'bootstrap: the view disagrees with the prepared storage');
  }

  /**
   * save writes a Ready's snapshot, entries and hard state in one atomic write, fsynced unless
   * `batch.sync` is false, then shows them to the core. An unsynced batch may only raise the
   * commit index (assertion: anything else would be a message sent on state a crash can lose).
   */
  async save(batch: SaveBatch): Promise<void> {
    if (batch.entries.length === 0 && batch.hardState === undefined && batch.snapshot === undefined) return;
    if (batch.sync === false) this.assertOnlyCommitMoves(batch);
    await this.exclusive(() => this.store.save(batch));
    if (batch.snapshot !== undefined && batch.snapshot.metadata.index === 0) {
      // The index-0 configuration of an empty store (the store refused it otherwise).
      this.view = MemoryStorage.withConfState(batch.snapshot.metadata.confState);
    } else if (batch.snapshot !== undefined) {
      this.view.applySnapshot(batch.snapshot);
    }
    this.view.append(batch.entries);
    if (batch.hardState !== undefined) this.view.setHardState(batch.hardState);
  }

  /**
   * createSnapshot records the application's state `data` at applied index `index` durably and
   * compacts the log up to it (the entries it covers are deleted in the same write).
   */
  async createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<Snapshot> {
    const snapshot: Snapshot = { metadata: { index, term: this.view.term(index), confState }, data };
    await this.exclusive(() => this.store.compact(snapshot));
    this.view.createSnapshot(index, confState, data);
    this.view.compact(index);
    return snapshot;
  }

  /** close closes the underlying store. */
  async close(): Promise<void> {
    await this.store.close();
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return this.view.initialState();
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.view.entries(lo, hi, maxBytes);
  }

  term(i: number): number {
    return this.view.term(i);
  }

  lastIndex(): number {
    return this.view.lastIndex();
  }

  firstIndex(): number {
    return this.view.firstIndex();
  }

  snapshot(): Snapshot {
    return this.view.snapshot();
  }

  /** assertOnlyCommitMoves: an unsynced batch carries no entry and no snapshot, and keeps the stored term and vote. */
  private assertOnlyCommitMoves(batch: SaveBatch): void {
    const stored = this.view.initialState().hardState;
    assert(batch.entries.length === 0 && batch.snapshot === undefined,
      () => `save: an unsynced batch carries ${batch.entries.length} entries${batch.snapshot === undefined ? '' : ' and a snapshot'}`);
    const hardState = batch.hardState;
    assert(hardState !== undefined && hardState.term === stored.term && hardState.vote === stored.vote && hardState.commit >= stored.commit,
      () => `save: an unsynced batch may only raise the commit index (stored term ${stored.term} vote ${stored.vote} commit ${stored.commit}, `
        + `got ${hardState === undefined ? 'no hard state' : `term ${hardState.term} vote ${hardState.vote} commit ${hardState.commit}`})`);
  }

  private async exclusive(write: () => Promise<void>): Promise<void> {
    assert(!this.busy, 'DurableStorage: overlapping writes (the caller must await each write before the next)');
    this.busy = true;
    try {
      await write();
    } finally {
      this.busy = false;
    }
  }
}

/**
 * withCommitAtLeast raises a loaded hard state's commit index to the snapshot's index. A stored
 * snapshot only ever holds committed entries (taken at the applied index, or sent by a leader),
 * but the hard state that said so may have been written unsynced and lost while the snapshot,
 * written later with an fsync, survived (LevelDB does not sync an old write-ahead log file when it
 * switches to a new one). The core refuses a commit index below its snapshot, so the node could
 * not restart. An empty hard state (a node that never voted nor learned a term) stays empty.
 */
function withCommitAtLeast(hardState: HardState, snapshotIndex: number): HardState {
  if (hardState.term === 0 || hardState.commit >= snapshotIndex) return hardState;
  return { ...hardState, commit: snapshotIndex };
}
