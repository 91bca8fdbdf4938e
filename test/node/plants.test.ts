// plants.test.ts — the planted bugs of the chaos self-test are off unless named exactly, an unknown
// name stops the node at start rather than running without the bug the operator asked for, and each
// wrapper the composition root applies (src/node/plants.ts) really breaks its promise while the part
// it wraps keeps it. Method: QUORUMGATE_PLANT values; then each wrapper against the unwrapped part on
// the same input — the real state machine (a replayed command), the fault-model store over an in-memory
// disk (a crash after an acknowledged write), and a runtime whose readIndex is counted.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AckBeforeFsyncStore, PLANTS, ReplayBlindStateMachine, plantFromEnv, withLocalReads } from '../../src/node/plants.js';
import type { RuntimeApi } from '../../src/api/deps.js';
import { EntryType } from '../../src/raft/index.js';
import { StateMachine, policyEngines } from '../../src/state/index.js';
import { FaultLogStore, MemoryDisk, MemoryLogStore } from '../../src/storage/index.js';
import type { LogStore } from '../../src/storage/index.js';
import { T0_MS, TestCluster } from '../state/fixtures.js';

test('no QUORUMGATE_PLANT (or an empty one) means no planted bug', () => {
  assert.equal(plantFromEnv({}), undefined);
  assert.equal(plantFromEnv({ QUORUMGATE_PLANT: '' }), undefined);
});

test('each known planted bug is read by name', () => {
  for (const plant of PLANTS) assert.equal(plantFromEnv({ QUORUMGATE_PLANT: plant }), plant);
  assert.deepEqual([...PLANTS].sort(), ['ack-before-fsync', 'delete-then-add', 'local-reads', 'no-replay-check']);
});

test('an unknown planted bug is a start-up error that lists the known ones', () => {
  assert.throws(() => plantFromEnv({ QUORUMGATE_PLANT: 'local-read' }), (error: Error & { code?: string }) => {
    assert.equal(error.code, 'FAULT_CONFIG');
    assert.match(error.message, /QUORUMGATE_PLANT must be one of ack-before-fsync, local-reads, no-replay-check, delete-then-add, got "local-read"/);
    return true;
  });
});

describe('the wrappers break their promise; the wrapped parts keep it', () => {
  test('no-replay-check: a replayed command applies again; the real machine rejects it', () => {
    const cluster = new TestCluster();
    const first = cluster.root({ kind: 'createDomain', description: 'one' }, 'one');
    const second = cluster.root({ kind: 'createDomain', description: 'two' }, 'two');
    const run = (machine: StateMachine) => [first, second, first].map((payload, i) => machine.apply({ index: i + 1, term: 1, timeMs: T0_MS + i, payload }));
    const correct = run(new StateMachine(cluster.genesis, policyEngines));
    assert.deepEqual(correct.map((result) => result.ok), [true, true, false], 'the correct machine rejects the replay');
    assert.equal(!correct[2]!.ok && correct[2]!.code, 'duplicate');
    // The replay is not rejected as a duplicate or a stale seq; it fails only because the domain exists.
    const planted = run(new ReplayBlindStateMachine(cluster.genesis, policyEngines));
    assert.equal(!planted[2]!.ok && planted[2]!.code, 'domain_exists', 'the planted machine let the replay through to the payload');
  });

  test('ack-before-fsync: a synced write is acknowledged at once and a crash loses it; without the wrapper it survives', async () => {
    const entry = { index: 1, term: 1, type: EntryType.Normal, data: new Uint8Array([1]) };
    const survivors = async (wrap: (store: LogStore) => LogStore): Promise<number> => {
      const disk = new MemoryDisk();
      const fault = new FaultLogStore(new MemoryLogStore(disk), { syncDelayMs: 50 });
      await wrap(fault).save({ entries: [entry], hardState: { term: 1, vote: 1, commit: 0 } });
      await fault.crash();
      const reopened = new MemoryLogStore(disk);
      const state = await reopened.load();
      await reopened.close();
      return state.entries.length;
    };
    assert.equal(await survivors((store) => store), 1, 'an acknowledged synced write survives the crash');
    assert.equal(await survivors((store) => new AckBeforeFsyncStore(store)), 0, 'the planted store loses what it acknowledged');
  });

  test('local-reads: readIndex answers at once without a ReadIndex round; the rest goes to the runtime', async () => {
    let readIndexCalls = 0;
    let proposals = 0;
    const runtime = {
      status: () => ({ applied: 7 }),
      readIndex: () => { readIndexCalls += 1; return Promise.resolve(9); },
      propose: () => { proposals += 1; return Promise.resolve({ index: 8, term: 1, timeMs: 0, result: undefined }); },
    } as unknown as RuntimeApi<unknown>;
    assert.equal(await runtime.readIndex(), 9);
    const planted = withLocalReads(runtime);
    assert.equal(await planted.readIndex(), 7, 'answers with what this node applied');
    assert.equal(readIndexCalls, 1, 'the wrapper never asked the leader');
    await planted.propose(new Uint8Array());
    assert.equal(proposals, 1);
  });
});
