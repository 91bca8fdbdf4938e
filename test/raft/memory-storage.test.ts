// memory-storage.test.ts — MemoryStorage behaves as the Storage contract in src/raft/types.ts
// says (etcd-io/raft's storage_test.go cases): term/entries bounds with named errors,
// size-limited reads, append with truncation, compaction, snapshots.
//
// Method: table tests over a storage holding entries 3..5 (a snapshot at index 3, term 3).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AssertionError, CompactedError, ENTRY_OVERHEAD_BYTES, MemoryStorage, SnapshotOutOfDateError, UnavailableError,
} from '../../src/raft/index.js';
import { bytes, confState } from './support/network.js';
import { entry, entryTerms } from './support/raft-helpers.js';

/** storage345 holds [3:3 (dummy), 4:4, 5:5], as etcd's tests do. */
function storage345(): MemoryStorage {
  const storage = new MemoryStorage();
  storage.applySnapshot({ metadata: { index: 3, term: 3, confState: confState([1, 2, 3]) }, data: bytes('snap') });
  storage.append([entry(4, 4), entry(5, 5)]);
  return storage;
}

describe('MemoryStorage', () => {
  test('term(i): compacted below the snapshot, the snapshot term at its index, unavailable past the end', () => {
    const s = storage345();
    assert.throws(() => s.term(2), CompactedError);
    assert.equal(s.term(3), 3);
    assert.equal(s.term(4), 4);
    assert.equal(s.term(5), 5);
    assert.throws(() => s.term(6), UnavailableError);
  });

  test('entries(lo, hi, maxBytes): bounds, and the size limit keeps at least one entry', () => {
    const s = storage345();
    s.append([entry(6, 6)]);
    assert.throws(() => s.entries(2, 6, Infinity), CompactedError);
    assert.throws(() => s.entries(3, 4, Infinity), CompactedError);
    assert.deepEqual(entryTerms(s.entries(4, 5, Infinity)), ['4:4']);
    assert.deepEqual(entryTerms(s.entries(4, 6, Infinity)), ['4:4', '5:5']);
    assert.deepEqual(entryTerms(s.entries(4, 7, Infinity)), ['4:4', '5:5', '6:6']);
    assert.deepEqual(entryTerms(s.entries(4, 7, 0)), ['4:4'], 'at least one entry');
    assert.deepEqual(entryTerms(s.entries(4, 7, 2 * ENTRY_OVERHEAD_BYTES)), ['4:4', '5:5']);
    assert.deepEqual(entryTerms(s.entries(4, 7, 2 * ENTRY_OVERHEAD_BYTES + 1)), ['4:4', '5:5']);
    assert.deepEqual(entryTerms(s.entries(4, 7, 3 * ENTRY_OVERHEAD_BYTES)), ['4:4', '5:5', '6:6']);
    assert.throws(() => s.entries(4, 8, Infinity), AssertionError, 'reading past the end is a caller bug');
  });

  test('firstIndex and lastIndex follow the snapshot and appends', () => {
    const s = storage345();
    assert.equal(s.firstIndex(), 4);
    assert.equal(s.lastIndex(), 5);
    s.append([entry(6, 5)]);
    assert.equal(s.lastIndex(), 6);
    s.compact(4);
    assert.equal(s.firstIndex(), 5);
  });

  test('compact drops entries up to the index and keeps the term of the last compacted one', () => {
    const cases: { index: number; error?: typeof CompactedError; first: number; term: number }[] = [
      { index: 2, error: CompactedError, first: 4, term: 3 },
      { index: 3, error: CompactedError, first: 4, term: 3 },
      { index: 4, first: 5, term: 4 },
      { index: 5, first: 6, term: 5 },
    ];
    for (const c of cases) {
      const s = storage345();
      if (c.error !== undefined) assert.throws(() => s.compact(c.index), c.error);
      else s.compact(c.index);
      assert.equal(s.firstIndex(), c.first);
      assert.equal(s.term(c.first - 1), c.term);
    }
    assert.throws(() => storage345().compact(6), AssertionError, 'compacting past the end is a caller bug');
  });

  test('createSnapshot records state at an index; an older one is out of date', () => {
    const s = storage345();
    const cs = confState([1, 2, 3]);
    const snap = s.createSnapshot(4, cs, bytes('data'));
    assert.deepEqual([snap.metadata.index, snap.metadata.term], [4, 4]);
    assert.deepEqual(s.snapshot(), snap);
    assert.throws(() => s.createSnapshot(4, cs, bytes('again')), SnapshotOutOfDateError);
    assert.throws(() => s.createSnapshot(3, cs, bytes('older')), SnapshotOutOfDateError);
  });

  test('append: overlapping entries replace the suffix; compacted ones are ignored; a gap is a bug', () => {
    const cases: { entries: [number, number][]; want: string[] }[] = [
      { entries: [[1, 1], [2, 2]], want: ['4:4', '5:5'] },
      { entries: [[3, 3], [4, 4], [5, 5]], want: ['4:4', '5:5'] },
      { entries: [[3, 3], [4, 6], [5, 6]], want: ['4:6', '5:6'] },
      { entries: [[3, 3], [4, 4], [5, 5], [6, 5]], want: ['4:4', '5:5', '6:5'] },
      { entries: [[2, 3], [3, 3], [4, 5]], want: ['4:5'] },
      { entries: [[4, 5]], want: ['4:5'] },
      { entries: [[6, 5]], want: ['4:4', '5:5', '6:5'] },
    ];
    for (const c of cases) {
      const s = storage345();
      s.append(c.entries.map(([i, t]) => entry(i, t)));
      assert.deepEqual(entryTerms(s.entries(4, s.lastIndex() + 1, Infinity)), c.want, JSON.stringify(c.entries));
    }
    assert.throws(() => storage345().append([entry(7, 5)]), AssertionError);
  });

  test('applySnapshot replaces the log; an older or equal snapshot is refused', () => {
    const s = new MemoryStorage();
    const cs = confState([1, 2, 3]);
    s.applySnapshot({ metadata: { index: 4, term: 4, confState: cs }, data: bytes('a') });
    assert.equal(s.firstIndex(), 5);
    assert.equal(s.lastIndex(), 4);
    assert.throws(() => s.applySnapshot({ metadata: { index: 3, term: 3, confState: cs }, data: bytes('b') }), SnapshotOutOfDateError);
    assert.deepEqual(s.initialState().confState, cs);
  });

  test('initialState returns the saved hard state and the snapshot configuration', () => {
    const s = MemoryStorage.withConfState(confState([1, 2], [3]));
    s.setHardState({ term: 5, vote: 2, commit: 0 });
    assert.deepEqual(s.initialState(), { hardState: { term: 5, vote: 2, commit: 0 }, confState: confState([1, 2], [3]) });
  });
});
