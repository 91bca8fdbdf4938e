// contract.ts — the LogStore contract: one suite that every LogStore adapter runs against itself
// (memory.test.ts, leveldb.test.ts), so the in-memory fake cannot drift from the LevelDB adapter.
// Goal: what a node relies on after a restart — every acknowledged save comes back exactly,
// conflicting suffixes are gone, snapshots replace and compact the log, misuse is refused by name.
// Method: each test writes through one store, closes it, opens a new store on the same location
// (a restart) and compares what load() and DurableStorage return; a seeded fast-check model test
// runs random Ready sequences against MemoryStorage (the core's reference) and compares after
// every restart.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryStorage, SnapshotOutOfDateError } from '../../src/raft/index.js';
import type { ConfState, Entry, HardState, Snapshot } from '../../src/raft/index.js';
import { DurableStorage, StorageAssertionError, StorageClosedError } from '../../src/storage/index.js';
import type { LogStore, PersistedState } from '../../src/storage/index.js';

/** StoreLocation is one persistent place a store lives (a directory, a MemoryDisk). */
export interface StoreLocation {
  /** open opens a new store instance on this location (as a restarted process would). */
  open(): Promise<LogStore>;
  cleanup(): Promise<void>;
}

/** StoreHarness creates fresh locations for one adapter. */
export interface StoreHarness {
  readonly name: string;
  create(): Promise<StoreLocation>;
}

const CONF: ConfState = { voters: [1, 2, 3], learners: [4], votersOutgoing: [], learnersNext: [], autoLeave: false };

/** entry builds an entry whose data names its index and term, so mix-ups are visible. */
export function entry(index: number, term: number, sizeBytes = 8): Entry {
  const data = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) data[i] = (index * 31 + term * 7 + i) & 0xff;
  return { index, term, type: 0, data };
}

function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let index = from; index <= to; index++) out.push(entry(index, term));
  return out;
}

function snapshotAt(index: number, term: number, sizeBytes = 16): Snapshot {
  const data = new Uint8Array(sizeBytes);
  for (let i = 0; i < sizeBytes; i++) data[i] = (i * 13 + index) & 0xff;
  return { metadata: { index, term, confState: CONF }, data };
}

/** summary renders a persisted state as plain comparable values. */
export function summary(state: PersistedState): unknown {
  return {
    hardState: { ...state.hardState },
    snapshot: { metadata: state.snapshot.metadata, data: Buffer.from(state.snapshot.data).toString('hex') },
    entries: state.entries.map((e) => [e.index, e.term, e.type, Buffer.from(e.data).toString('hex')]),
  };
}

async function reopened(location: StoreLocation): Promise<PersistedState> {
  const store = await location.open();
  try {
    return await store.load();
  } finally {
    await store.close();
  }
}

async function withStore(harness: StoreHarness, body: (location: StoreLocation, store: LogStore) => Promise<void>): Promise<void> {
  const location = await harness.create();
  const store = await location.open();
  try {
    await body(location, store);
  } finally {
    await store.close();
    await location.cleanup();
  }
}

/** runLogStoreContract registers the contract suite for one adapter. */
export function runLogStoreContract(harness: StoreHarness): void {
  describe(`LogStore contract: ${harness.name}`, () => {
    test('a fresh store loads an empty log, hard state and snapshot', async () => {
      await withStore(harness, async (_location, store) => {
        const state = await store.load();
        assert.deepEqual(state.entries, []);
        assert.deepEqual(state.hardState, { term: 0, vote: 0, commit: 0 });
        assert.equal(state.snapshot.metadata.index, 0);
      });
    });

    test('saved entries and hard state come back unchanged after a restart', async () => {
      await withStore(harness, async (location, store) => {
        await store.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 2, commit: 1 } });
        await store.save({ entries: entries(4, 5, 2), hardState: { term: 2, vote: 0, commit: 4 } });
        await store.close();
        const state = await reopened(location);
        assert.deepEqual(summary(state), summary({
          hardState: { term: 2, vote: 0, commit: 4 }, snapshot: (await reopened(location)).snapshot, entries: [...entries(1, 3, 1), ...entries(4, 5, 2)],
        }));
        assert.equal(state.entries.length, 5);
      });
    });

    test('an unsynced save (a commit-only hard state) is read back like any other after an orderly close', async () => {
      await withStore(harness, async (location, store) => {
        await store.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 2, commit: 1 } });
        await store.save({ entries: [], hardState: { term: 1, vote: 2, commit: 3 }, sync: false });
        await store.close();
        const state = await reopened(location);
        assert.deepEqual(state.hardState, { term: 1, vote: 2, commit: 3 });
        assert.equal(state.entries.length, 3);
      });
    });

    test('entries that conflict replace the log from their first index and delete the suffix after them', async () => {
      await withStore(harness, async (location, store) => {
        await store.save({ entries: entries(1, 6, 1) });
        await store.save({ entries: entries(3, 4, 2), hardState: { term: 2, vote: 1, commit: 2 } });
        await store.close();
        const state = await reopened(location);
        assert.deepEqual(state.entries.map((e) => [e.index, e.term]), [[1, 1], [2, 1], [3, 2], [4, 2]]);
        const next = await location.open();
        await next.save({ entries: entries(5, 5, 3) });
        await next.close();
        assert.deepEqual((await reopened(location)).entries.map((e) => [e.index, e.term]), [[1, 1], [2, 1], [3, 2], [4, 2], [5, 3]]);
      });
    });

    test('a snapshot in a save replaces the whole log; entries after it in the same save are kept', async () => {
      await withStore(harness, async (location, store) => {
        await store.save({ entries: entries(1, 5, 1) });
        await store.save({ snapshot: snapshotAt(8, 3), entries: entries(9, 10, 3), hardState: { term: 3, vote: 0, commit: 8 } });
        await store.close();
        const state = await reopened(location);
        assert.equal(state.snapshot.metadata.index, 8);
        assert.deepEqual(state.snapshot.metadata.confState, CONF);
        assert.deepEqual(Buffer.from(state.snapshot.data), Buffer.from(snapshotAt(8, 3).data));
        assert.deepEqual(state.entries.map((e) => e.index), [9, 10]);
      });
    });

    test('compact stores the snapshot, deletes the entries it covers and keeps the rest', async () => {
      await withStore(harness, async (location, store) => {
        await store.save({ entries: entries(1, 10, 2), hardState: { term: 2, vote: 1, commit: 10 } });
        await store.compact(snapshotAt(6, 2));
        await store.save({ entries: entries(4, 5, 2) }); // already compacted: ignored
        await store.close();
        const state = await reopened(location);
        assert.equal(state.snapshot.metadata.index, 6);
        assert.deepEqual(state.entries.map((e) => e.index), [7, 8, 9, 10]);
        const again = await location.open();
        await again.compact(snapshotAt(10, 2, 40));
        await again.close();
        const final = await reopened(location);
        assert.equal(final.snapshot.metadata.index, 10);
        assert.equal(final.snapshot.data.byteLength, 40);
        assert.deepEqual(final.entries, []);
      });
    });

    test('an out-of-date snapshot is refused with SnapshotOutOfDateError and changes nothing', async () => {
      await withStore(harness, async (location, store) => {
        await store.save({ snapshot: snapshotAt(5, 1), entries: entries(6, 7, 1) });
        await assert.rejects(store.save({ snapshot: snapshotAt(5, 1), entries: [] }), SnapshotOutOfDateError);
        await assert.rejects(store.compact(snapshotAt(4, 1)), SnapshotOutOfDateError);
        await store.close();
        assert.deepEqual((await reopened(location)).entries.map((e) => e.index), [6, 7]);
      });
    });

    test('a save that would leave a gap, or non-contiguous entries, is a caller bug (assertion)', async () => {
      await withStore(harness, async (_location, store) => {
        await store.save({ entries: entries(1, 2, 1) });
        await assert.rejects(store.save({ entries: entries(4, 4, 1) }), StorageAssertionError);
        await assert.rejects(store.save({ entries: [entry(3, 1), entry(5, 1)] }), StorageAssertionError);
        assert.deepEqual((await store.load()).entries.map((e) => e.index), [1, 2]);
      });
    });

    test('large entries (4 MiB) and a large snapshot (3 MiB) survive a restart byte for byte', async () => {
      await withStore(harness, async (location, store) => {
        const big = entry(1, 1, 4 * 1024 * 1024);
        await store.save({ entries: [big, entry(2, 1)] });
        await store.save({ snapshot: snapshotAt(10, 2, 3 * 1024 * 1024 + 17), entries: [entry(11, 2, 1024 * 1024)] });
        await store.close();
        const state = await reopened(location);
        assert.ok(Buffer.from(state.snapshot.data).equals(Buffer.from(snapshotAt(10, 2, 3 * 1024 * 1024 + 17).data)));
        assert.ok(Buffer.from(state.entries[0]!.data).equals(Buffer.from(entry(11, 2, 1024 * 1024).data)));
      });
    });

    test('a closed store refuses further use with StorageClosedError', async () => {
      const location = await harness.create();
      const store = await location.open();
      await store.close();
      await assert.rejects(async () => store.save({ entries: entries(1, 1, 1) }), StorageClosedError);
      await location.cleanup();
    });

    test('DurableStorage shows the core exactly the durable log, across bootstrap, saves, snapshots and restarts', async () => {
      await withStore(harness, async (location, store) => {
        const durable = await DurableStorage.open(store);
        assert.equal(durable.isEmpty(), true);
        // A founding member prepared like the core's bootstrapStorage: founding entries, hard state.
        await durable.bootstrap((scratch) => {
          scratch.append([entry(1, 1)]);
          scratch.setHardState({ term: 1, vote: 0, commit: 1 });
        });
        assert.deepEqual(durable.initialState().hardState, { term: 1, vote: 0, commit: 1 });
        assert.equal(durable.lastIndex(), 1);
        await durable.save({ entries: entries(2, 5, 1), hardState: { term: 1, vote: 1, commit: 3 } });
        assert.equal(durable.lastIndex(), 5);
        assert.equal(durable.term(4), 1);
        const snap = await durable.createSnapshot(3, CONF, new Uint8Array([1, 2, 3]));
        assert.equal(snap.metadata.term, 1);
        assert.equal(durable.firstIndex(), 4);
        assert.throws(() => durable.entries(3, 4, 100), { code: 'RAFT_COMPACTED' });
        await durable.close();
        const restarted = await DurableStorage.open(await location.open());
        assert.equal(restarted.isEmpty(), false);
        assert.equal(restarted.firstIndex(), 4);
        assert.equal(restarted.lastIndex(), 5);
        assert.deepEqual(restarted.initialState(), { hardState: { term: 1, vote: 1, commit: 3 }, confState: CONF });
        assert.deepEqual(Array.from(restarted.snapshot().data), [1, 2, 3]);
        assert.deepEqual(restarted.entries(4, 6, 1 << 20).map((e) => e.index), [4, 5]);
        await assert.rejects(restarted.bootstrap(() => undefined), /already holds state/);
        await restarted.close();
      });
    });

    test('DurableStorage takes an index-0 configuration on an empty store, and only there', async () => {
      await withStore(harness, async (location, store) => {
        const durable = await DurableStorage.open(store);
        const initial = { metadata: { index: 0, term: 0, confState: CONF }, data: new Uint8Array(0) };
        await durable.save({ entries: [entry(1, 1)], snapshot: initial });
        assert.deepEqual(durable.initialState().confState, CONF);
        assert.equal(durable.lastIndex(), 1);
        await assert.rejects(durable.save({ entries: [], snapshot: initial }), { code: 'RAFT_SNAPSHOT_OUT_OF_DATE' });
        await durable.close();
        const restarted = await DurableStorage.open(await location.open());
        assert.deepEqual(restarted.initialState().confState, CONF);
        assert.equal(restarted.lastIndex(), 1);
        await restarted.close();
      });
    });

    test('DurableStorage bootstrap from a founding snapshot persists the configuration', async () => {
      await withStore(harness, async (location, store) => {
        const durable = await DurableStorage.open(store);
        await durable.bootstrap((scratch) => {
          scratch.applySnapshot({ metadata: { index: 1, term: 1, confState: CONF }, data: new Uint8Array([5]) });
          scratch.setHardState({ term: 1, vote: 0, commit: 1 });
        });
        await durable.close();
        const restarted = await DurableStorage.open(await location.open());
        assert.deepEqual(restarted.initialState(), { hardState: { term: 1, vote: 0, commit: 1 }, confState: CONF });
        assert.equal(restarted.firstIndex(), 2);
        assert.deepEqual(Array.from(restarted.snapshot().data), [5]);
        await restarted.close();
      });
    });

    test('random Ready sequences with restarts match the core\'s MemoryStorage (seeded model test)', async () => {
      const step = fc.record({
        kind: fc.constantFrom('append', 'append', 'append', 'snapshot', 'compact', 'restart'),
        back: fc.nat({ max: 4 }),
        count: fc.integer({ min: 1, max: 4 }),
        termBump: fc.boolean(),
      });
      await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        const location = await harness.create();
        let store = await location.open();
        const model = MemoryStorage.withConfState(CONF);
        let term = 1;
        let hardState: HardState = { term: 1, vote: 0, commit: 0 };
        try {
          await store.save({ entries: [], snapshot: { metadata: { index: 0, term: 0, confState: CONF }, data: new Uint8Array(0) } });
          for (const s of steps) {
            if (s.termBump) term++;
            const last = model.lastIndex();
            const first = model.firstIndex();
            if (s.kind === 'append') {
              const from = Math.max(first, last + 1 - s.back);
              const batch = entries(from, from + s.count - 1, term);
              hardState = { term, vote: 0, commit: Math.min(hardState.commit, from - 1) };
              await store.save({ entries: batch, hardState });
              model.append(batch);
              model.setHardState(hardState);
            } else if (s.kind === 'snapshot') {
              const snapshot = snapshotAt(last + 1 + s.back, term);
              hardState = { term, vote: 0, commit: snapshot.metadata.index };
              await store.save({ snapshot, entries: [], hardState });
              model.applySnapshot(snapshot);
              model.setHardState(hardState);
            } else if (s.kind === 'compact' && last >= first) {
              const index = Math.min(last, first + s.back);
              const snapshot = { ...snapshotAt(index, model.term(index)) };
              hardState = { ...hardState, commit: Math.max(hardState.commit, index) };
              await store.compact(snapshot);
              await store.save({ entries: [], hardState });
              model.createSnapshot(index, CONF, snapshot.data);
              model.compact(index);
              model.setHardState(hardState);
            } else if (s.kind === 'restart') {
              await store.close();
              store = await location.open();
            }
            const state = await store.load();
            const expected = model.lastIndex() >= model.firstIndex() ? model.entries(model.firstIndex(), model.lastIndex() + 1, Number.MAX_SAFE_INTEGER) : [];
            assert.equal(state.snapshot.metadata.index, model.snapshot().metadata.index);
            assert.deepEqual(summary(state), summary({ hardState: model.initialState().hardState, snapshot: model.snapshot(), entries: expected }));
          }
        } finally {
          await store.close();
          await location.cleanup();
        }
      }), { numRuns: 40, seed: 20261121 });
    });
  });
}
