// memory.test.ts — goal: the in-memory LogStore keeps the LogStore contract, so tests that use it
// in place of LevelDB test what production does. Method: the shared suite of contract.ts, with a
// MemoryDisk per location (reopening the same disk is a restart).
import { MemoryDisk, MemoryLogStore } from '../../src/storage/index.js';
import { runLogStoreContract } from './contract.js';

runLogStoreContract({
  name: 'memory',
  async create() {
    const disk = new MemoryDisk();
    return { open: async () => new MemoryLogStore(disk), cleanup: async () => undefined };
  },
});
