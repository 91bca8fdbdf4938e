// forwarding-store.ts — a RaftRuntime store that hands every call to a real DurableStorage, for tests that
// change one behaviour of save() (hold it, drop part of it) by overriding that method alone.
import type { ConfState, Entry, HardState, Snapshot } from '../../src/raft/index.js';
import type { DurableStorage, SaveBatch } from '../../src/storage/index.js';
import type { RaftLogStore } from '../../src/node/ports.js';

/** ForwardingStore forwards every RaftLogStore call to `inner`; subclasses override save(). */
export class ForwardingStore implements RaftLogStore {
  constructor(protected readonly inner: DurableStorage) {}
  initialState(): { hardState: HardState; confState: ConfState } { return this.inner.initialState(); }
  entries(lo: number, hi: number, maxBytes: number): Entry[] { return this.inner.entries(lo, hi, maxBytes); }
  term(index: number): number { return this.inner.term(index); }
  lastIndex(): number { return this.inner.lastIndex(); }
  firstIndex(): number { return this.inner.firstIndex(); }
  snapshot(): Snapshot { return this.inner.snapshot(); }
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<unknown> { return this.inner.createSnapshot(index, confState, data); }
  save(batch: SaveBatch): Promise<void> { return this.inner.save(batch); }
}
