// fault.test.ts — goal: the fault-injecting store loses exactly the writes that were not yet
// synced when it "crashes", so runtime tests can combine it with crashes and prove that nothing
// acknowledged is lost; and that what it acknowledged without a sync (the planted ack-before-fsync
// writes everything so, test/node/plants.test.ts) really is lost, so those tests can fail. Method: FaultLogStore over the memory and the LevelDB stores;
// await some saves (acknowledged), start others without awaiting (unsynced), crash, reopen the
// location and compare what survived with what was acknowledged. Without a crash, the wrapper
// runs the shared LogStore contract suite like any adapter.
//
// Unsynced writes (a Ready that only raises the commit index, written with `sync: false`): they
// are acknowledged at once and a crash may lose them — those still queued ('suffix', LevelDB's
// order), or every one of them ('all', the worst case). What must hold after the restart:
// everything synced is there; the commit index is the last stored one, lower than the lost one,
// but never below the snapshot (the core could not start otherwise); DurableStorage refuses an
// unsynced batch that carries anything but a higher commit index.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawNode, SeededRandom } from '../../src/raft/index.js';
import type { ConfState } from '../../src/raft/index.js';
import {
  DurableStorage, FaultLogStore, LevelLogStore, MemoryDisk, MemoryLogStore, StorageAssertionError, StorageCrashedError,
} from '../../src/storage/index.js';
import type { LogStore } from '../../src/storage/index.js';
import { entry, runLogStoreContract } from './contract.js';

const directories: string[] = [];
after(async () => {
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
});

const backends: { name: string; location: () => Promise<() => Promise<LogStore>> }[] = [
  { name: 'memory', location: async () => { const disk = new MemoryDisk(); return async () => new MemoryLogStore(disk); } },
  {
    name: 'leveldb',
    location: async () => {
      const directory = await mkdtemp(join(tmpdir(), 'qg-fault-'));
      directories.push(directory);
      return async () => LevelLogStore.open(directory);
    },
  },
];

// Without a crash the wrapper is an ordinary LogStore: it passes the shared contract.
runLogStoreContract({
  name: 'fault wrapper over memory, no crash',
  async create() {
    const disk = new MemoryDisk();
    return { open: async () => new FaultLogStore(new MemoryLogStore(disk), { syncDelayMs: 0 }), cleanup: async () => undefined };
  },
});

for (const backend of backends) {
  describe(`FaultLogStore over ${backend.name}`, () => {
    test('a crash loses the unsynced writes and keeps every acknowledged one', async () => {
      const open = await backend.location();
      const store = new FaultLogStore(await open(), { syncDelayMs: 5 });
      await store.save({ entries: [entry(1, 1), entry(2, 1)], hardState: { term: 1, vote: 1, commit: 1 } });
      await store.save({ entries: [entry(3, 1)], hardState: { term: 1, vote: 1, commit: 2 } });
      const unsynced = [store.save({ entries: [entry(4, 1)] }), store.save({ entries: [entry(5, 1)], hardState: { term: 1, vote: 1, commit: 5 } })];
      const outcomes = Promise.allSettled(unsynced);
      assert.equal(store.pendingWrites(), 2);
      assert.equal(await store.crash(), 2);
      for (const outcome of await outcomes) {
        assert.equal(outcome.status, 'rejected');
        assert.ok(outcome.status === 'rejected' && outcome.reason instanceof StorageCrashedError);
      }
      await assert.rejects(async () => store.save({ entries: [entry(4, 1)] }), StorageCrashedError);
      const reopened = await open();
      const state = await reopened.load();
      await reopened.close();
      assert.deepEqual(state.entries.map((e) => e.index), [1, 2, 3]);
      assert.deepEqual(state.hardState, { term: 1, vote: 1, commit: 2 });
    });

    test('DurableStorage shows the core nothing from a write the crash lost', async () => {
      const open = await backend.location();
      const store = new FaultLogStore(await open(), { syncDelayMs: 5 });
      const durable = await DurableStorage.open(store);
      await durable.save({ entries: [entry(1, 1)], hardState: { term: 1, vote: 0, commit: 0 } });
      const lost = assert.rejects(durable.save({ entries: [entry(2, 1)] }), StorageCrashedError);
      await store.crash();
      await lost;
      assert.equal(durable.lastIndex(), 1);
    });

    test('an unsynced save is acknowledged at once and a crash loses it; the synced writes before it stay', async () => {
      const open = await backend.location();
      const store = new FaultLogStore(await open(), { syncDelayMs: 50 });
      await store.save({ entries: [entry(1, 1), entry(2, 1)], hardState: { term: 1, vote: 1, commit: 1 } });
      const started = performance.now();
      await store.save({ entries: [], hardState: { term: 1, vote: 1, commit: 2 }, sync: false });
      assert.ok(performance.now() - started < 40, 'an unsynced save must not wait for the sync delay');
      assert.equal(store.pendingWrites(), 1);
      assert.equal(await store.crash(), 1);
      const state = await reopenAndLoad(open);
      assert.deepEqual(state.entries.map((e) => e.index), [1, 2]);
      assert.deepEqual(state.hardState, { term: 1, vote: 1, commit: 1 }, 'the commit index goes back to the last stored one');
    });

    test('a synced write makes the unsynced writes before it durable (LevelDB keeps them in order)', async () => {
      const open = await backend.location();
      const store = new FaultLogStore(await open(), { syncDelayMs: 5 });
      await store.save({ entries: [entry(1, 1), entry(2, 1)], hardState: { term: 1, vote: 1, commit: 1 } });
      await store.save({ entries: [], hardState: { term: 1, vote: 1, commit: 2 }, sync: false });
      await store.save({ entries: [entry(3, 1)] });
      const lost = store.save({ entries: [], hardState: { term: 1, vote: 1, commit: 3 }, sync: false });
      await lost;
      assert.equal(await store.crash(), 1);
      const state = await reopenAndLoad(open);
      assert.deepEqual(state.entries.map((e) => e.index), [1, 2, 3]);
      assert.deepEqual(state.hardState, { term: 1, vote: 1, commit: 2 });
    });

    test("unsyncedLoss 'all' loses every unsynced write, even one a later synced write followed", async () => {
      const open = await backend.location();
      const store = new FaultLogStore(await open(), { syncDelayMs: 2, unsyncedLoss: 'all' });
      await store.save({ entries: [entry(1, 1), entry(2, 1)], hardState: { term: 1, vote: 1, commit: 1 } });
      await store.save({ entries: [], hardState: { term: 1, vote: 1, commit: 2 }, sync: false });
      await store.save({ entries: [entry(3, 1)] });
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(await store.crash(), 0);
      const state = await reopenAndLoad(open);
      assert.deepEqual(state.entries.map((e) => e.index), [1, 2, 3]);
      assert.deepEqual(state.hardState, { term: 1, vote: 1, commit: 1 });
    });

    test('a restart after losing a commit-only write comes back with the older commit index, never below the snapshot, and the core starts', async () => {
      const open = await backend.location();
      const store = new FaultLogStore(await open(), { syncDelayMs: 1, unsyncedLoss: 'all' });
      const durable = await DurableStorage.open(store);
      const conf: ConfState = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
      await durable.save({ entries: [], snapshot: { metadata: { index: 0, term: 0, confState: conf }, data: new Uint8Array(0) } });
      await durable.save({ entries: [entry(1, 1), entry(2, 1), entry(3, 1), entry(4, 1), entry(5, 1)], hardState: { term: 1, vote: 1, commit: 2 } });
      await durable.save({ entries: [], hardState: { term: 1, vote: 1, commit: 5 }, sync: false });
      assert.equal(durable.initialState().hardState.commit, 5, 'the view shows the unsynced commit index');
      await durable.createSnapshot(4, conf, new Uint8Array([4])); // synced: survives the crash
      await store.crash();
      const restarted = await DurableStorage.open(await open());
      try {
        assert.deepEqual(restarted.initialState().hardState, { term: 1, vote: 1, commit: 4 }, 'commit 2 was stored, raised to the snapshot at 4');
        assert.equal(restarted.lastIndex(), 5);
        const node = new RawNode({ id: 1, storage: restarted, random: new SeededRandom(1), applied: 4, electionTicks: 10, heartbeatTicks: 1 });
        assert.equal(node.status().hardState.commit, 4);
      } finally {
        await restarted.close();
      }
    });

    test('DurableStorage refuses an unsynced batch that carries anything but a higher commit index', async () => {
      const open = await backend.location();
      const durable = await DurableStorage.open(new FaultLogStore(await open(), { syncDelayMs: 0 }));
      await durable.save({ entries: [entry(1, 1), entry(2, 1)], hardState: { term: 1, vote: 1, commit: 1 } });
      const refused: { what: string; batch: Parameters<DurableStorage['save']>[0] }[] = [
        { what: 'entries', batch: { entries: [entry(3, 1)], sync: false } },
        { what: 'a new term', batch: { entries: [], hardState: { term: 2, vote: 0, commit: 1 }, sync: false } },
        { what: 'a new vote', batch: { entries: [], hardState: { term: 1, vote: 2, commit: 1 }, sync: false } },
        { what: 'a lower commit', batch: { entries: [], hardState: { term: 1, vote: 1, commit: 0 }, sync: false } },
      ];
      for (const { what, batch } of refused) {
        await assert.rejects(durable.save(batch), StorageAssertionError, `an unsynced batch with ${what} must be refused`);
      }
      await durable.save({ entries: [], hardState: { term: 1, vote: 1, commit: 2 }, sync: false });
      assert.equal(durable.initialState().hardState.commit, 2);
      await durable.close();
    });

    test('close() waits for pending writes to become durable', async () => {
      const open = await backend.location();
      const store = new FaultLogStore(await open(), { syncDelayMs: 5 });
      const pending = store.save({ entries: [entry(1, 1), entry(2, 1)] });
      await store.close();
      await pending;
      const reopened = await open();
      assert.equal((await reopened.load()).entries.length, 2);
      await reopened.close();
    });
  });
}

async function reopenAndLoad(open: () => Promise<LogStore>): Promise<Awaited<ReturnType<LogStore['load']>>> {
  const reopened = await open();
  try {
    return await reopened.load();
  } finally {
    await reopened.close();
  }
}
