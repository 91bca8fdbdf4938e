// durable-log.ts — joins the durable LogStore (src/storage) and the core's in-memory Storage.
//
// The core reads its stable log synchronously (etcd-io/raft's MemoryStorage behind a WAL): this
// adapter loads everything the LogStore holds into a MemoryStorage at start, then, for every
// Ready, writes the batch durably first and only afterwards updates the in-memory view. The
// in-memory log may keep some entries behind the latest snapshot (snapshotKeepEntries) so that
// slightly lagging followers are served entries instead of a snapshot; on disk the snapshot
// replaces them.
import { MemoryStorage } from '../raft/index.js';
import type { ConfState, Storage } from '../raft/index.js';
import type { LogStore } from '../storage/index.js';
import type { RaftLogStore, SaveBatch } from './ports.js';

/** DurableLog implements the runtime's RaftLogStore port over a LogStore. */
export class DurableLog implements RaftLogStore {
  readonly storage: Storage;
  private readonly memory: MemoryStorage;
  private readonly store: LogStore;

  private constructor(store: LogStore, memory: MemoryStorage) {
    this.store = store;
    this.memory = memory;
    this.storage = memory;
  }

  /**
   * open loads a LogStore. A store that has never been written is bootstrapped with `initial`
   * (the founding configuration) unless `initial` is undefined (a node that joins later starts
   * with an empty configuration and learns it from the leader).
   */
  static async open(store: LogStore, initial: ConfState | undefined): Promise<DurableLog> {
    let state = await store.load();
    const fresh = state.snapshot.metadata.index === 0 && state.entries.length === 0 && state.hardState.term === 0;
    const hasConf = state.snapshot.metadata.confState.voters.length > 0;
    if (fresh && !hasConf && initial !== undefined) {
      await store.save({ entries: [], snapshot: { metadata: { index: 0, term: 0, confState: initial }, data: new Uint8Array() } });
      state = await store.load();
    }
    const memory = MemoryStorage.withConfState(state.snapshot.metadata.confState);
    if (state.snapshot.metadata.index > 0) memory.applySnapshot(state.snapshot);
    memory.append(state.entries);
    memory.setHardState(state.hardState);
    return new DurableLog(store, memory);
  }

  async save(batch: SaveBatch): Promise<void> {
    await this.store.save(batch);
    if (batch.snapshot) this.memory.applySnapshot(batch.snapshot);
    this.memory.append(batch.entries);
    if (batch.hardState) this.memory.setHardState(batch.hardState);
  }

  async snapshot(index: number, confState: ConfState, data: Uint8Array, compactIndex: number): Promise<void> {
    const snapshot = this.memory.createSnapshot(index, confState, data);
    await this.store.compact(snapshot);
    if (compactIndex > this.memory.firstIndex() - 1) this.memory.compact(compactIndex);
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
