// memory-storage.ts — MemoryStorage, the in-memory Storage the core tests and the simulator use
// (etcd-io/raft's MemoryStorage). The durable adapter in src/storage implements the same
// interface and must pass the same contract tests.
//
// Layout: `entries[0]` is a dummy entry holding the index and term of the last compacted entry
// (the snapshot's), so entries[i] has index entries[0].index + i.
// Invariant: entries[i].index === entries[0].index + i for every i.
import { CompactedError, SnapshotOutOfDateError, UnavailableError, assert } from './errors.js';
import type { ConfState, Entry, HardState, Snapshot, Storage } from './types.js';
import { EntryType } from './types.js';
import { EMPTY_BYTES, EMPTY_HARD_STATE, EMPTY_SNAPSHOT, limitSize } from './util.js';

/** MemoryStorage keeps the stable log, hard state and latest snapshot in memory. */
export class MemoryStorage implements Storage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private currentSnapshot: Snapshot = EMPTY_SNAPSHOT;
  private entryList: Entry[] = [dummyEntry(0, 0)];

  /**
   * withConfState returns a fresh storage whose initial configuration is `confState`, the way a
   * brand-new cluster is bootstrapped: every founding member starts with the same ConfState at
   * index 0, so no bootstrap entries are needed.
   */
  static withConfState(confState: ConfState): MemoryStorage {
    const storage = new MemoryStorage();
    storage.currentSnapshot = { metadata: { index: 0, term: 0, confState }, data: EMPTY_BYTES };
    return storage;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.currentSnapshot.metadata.confState };
  }

  /** setHardState saves the hard state (the caller persists it with the Ready's entries). */
  setHardState(hardState: HardState): void {
    this.hardState = hardState;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new CompactedError(lo, offset + 1);
    assert(lo <= hi, () => `MemoryStorage.entries: lo ${lo} > hi ${hi}`);
    assert(hi <= this.lastIndex() + 1, () => `MemoryStorage.entries: hi ${hi} is out of bound lastIndex ${this.lastIndex()}`);
    if (this.entryList.length === 1) throw new UnavailableError(lo, this.lastIndex());
    return limitSize(this.entryList.slice(lo - offset, hi - offset), maxBytes);
  }

  term(i: number): number {
    const offset = this.offset();
    if (i < offset) throw new CompactedError(i, offset + 1);
    if (i - offset >= this.entryList.length) throw new UnavailableError(i, this.lastIndex());
    return this.entryList[i - offset]!.term;
  }

  lastIndex(): number {
    return this.offset() + this.entryList.length - 1;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  snapshot(): Snapshot {
    return this.currentSnapshot;
  }

  /** applySnapshot replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    const index = snapshot.metadata.index;
    if (index <= this.currentSnapshot.metadata.index) {
      throw new SnapshotOutOfDateError(index, this.currentSnapshot.metadata.index);
    }
    this.currentSnapshot = snapshot;
    this.entryList = [dummyEntry(index, snapshot.metadata.term)];
  }

  /**
   * createSnapshot records the application's snapshot at index `i` (which must be applied, and so
   * within the log) and returns it. Follow with compact() to drop the entries it covers.
   */
  createSnapshot(i: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (i <= this.currentSnapshot.metadata.index) {
      throw new SnapshotOutOfDateError(i, this.currentSnapshot.metadata.index);
    }
    assert(i <= this.lastIndex(), () => `createSnapshot: index ${i} is beyond lastIndex ${this.lastIndex()}`);
    const term = this.entryList[i - this.offset()]!.term;
    this.currentSnapshot = { metadata: { index: i, term, confState }, data };
    return this.currentSnapshot;
  }

  /** compact discards entries up to and including `compactIndex`; the caller must not compact unapplied entries. */
  compact(compactIndex: number): void {
    const offset = this.offset();
    if (compactIndex <= offset) throw new CompactedError(compactIndex, offset + 1);
    assert(compactIndex <= this.lastIndex(), () => `compact: ${compactIndex} is beyond lastIndex ${this.lastIndex()}`);
    const cut = compactIndex - offset;
    const kept = this.entryList.slice(cut);
    kept[0] = dummyEntry(compactIndex, this.entryList[cut]!.term);
    this.entryList = kept;
  }

  /**
   * append adds entries to the stable log; entries that overlap the log replace it from the first
   * overlapping index on (a new leader overwriting a divergent suffix). Entries already compacted
   * are ignored. The entries must be contiguous and must not leave a gap after the log.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    for (let i = 1; i < entries.length; i++) {
      assert(entries[i]!.index === entries[i - 1]!.index + 1, 'MemoryStorage.append: entries are not contiguous');
    }
    const first = this.firstIndex();
    const last = entries[0]!.index + entries.length - 1;
    if (last < first) return;
    const fresh = first > entries[0]!.index ? entries.slice(first - entries[0]!.index) : entries;
    const offset = fresh[0]!.index - this.offset();
    assert(offset <= this.entryList.length,
      () => `MemoryStorage.append: missing log entry [last: ${this.lastIndex()}, append at: ${fresh[0]!.index}]`);
    // Truncate any conflicting suffix, then append in place: appends are O(new entries), not
    // O(log). Readers only ever get copies (entries() slices), so mutating here is safe.
    this.entryList.length = offset;
    for (const entry of fresh) this.entryList.push(entry);
  }

  private offset(): number {
    return this.entryList[0]!.index;
  }
}

function dummyEntry(index: number, term: number): Entry {
  return { index, term, type: EntryType.Normal, data: EMPTY_BYTES };
}
