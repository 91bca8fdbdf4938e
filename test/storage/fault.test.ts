// fault.test.ts — goal: the fault-injecting store loses exactly the writes that were not yet
// synced when it "crashes", so runtime tests can combine it with crashes and prove that nothing
// acknowledged is lost; and its planted defect (ackBeforeSync) really does lose acknowledged
// writes, so those tests can fail. Method: FaultLogStore over the memory and the LevelDB stores;
// await some saves (acknowledged), start others without awaiting (unsynced), crash, reopen the
// location and compare what survived with what was acknowledged. Without a crash, the wrapper
// runs the shared LogStore contract suite like any adapter.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DurableStorage, FaultLogStore, LevelLogStore, MemoryDisk, MemoryLogStore, StorageCrashedError,
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

    test('the planted ackBeforeSync defect loses acknowledged writes (the negative control)', async () => {
      const open = await backend.location();
      const store = new FaultLogStore(await open(), { syncDelayMs: 50, ackBeforeSync: true });
      await store.save({ entries: [entry(1, 1)] }); // acknowledged at once, not yet durable
      await store.crash();
      const reopened = await open();
      const state = await reopened.load();
      await reopened.close();
      assert.deepEqual(state.entries, [], 'the acknowledged entry must be lost, or the defect is not planted');
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
