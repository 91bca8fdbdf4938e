// bootstrapped-disk.ts — an in-memory Raft disk bootstrapped as a new cluster's founders would be, for tests
// that start a RaftRuntime without a real data directory.
import { bootstrapStorage } from '../../src/raft/index.js';
import type { ConfState, NodeId } from '../../src/raft/index.js';
import { DurableStorage, MemoryDisk, MemoryLogStore } from '../../src/storage/index.js';
import { LogApplier } from '../../src/node/log-applier.js';
import { MemberDirectory } from '../../src/node/member-directory.js';
import type { PeerAddress } from '../../src/node/ports.js';
import { encodeRuntimeSnapshot } from '../../src/node/runtime-snapshot.js';

/** bootstrappedDisk returns a MemoryDisk holding the bootstrap of `conf` with `founders` as its members. */
export async function bootstrappedDisk(conf: ConfState, founders: ReadonlyMap<NodeId, PeerAddress>): Promise<MemoryDisk> {
  const disk = new MemoryDisk();
  const bootstrap = await DurableStorage.open(new MemoryLogStore(disk));
  const directory = new MemberDirectory();
  directory.seed(founders);
  const initial = encodeRuntimeSnapshot({ members: directory.toState(), lastTimeMs: 0, application: new LogApplier().snapshot() });
  await bootstrap.bootstrap((scratch) => bootstrapStorage(scratch, conf, initial));
  await bootstrap.close();
  return disk;
}
