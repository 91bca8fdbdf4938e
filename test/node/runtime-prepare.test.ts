// runtime-prepare.test.ts — goal: a follower's runtime hands every entry it receives from its leader to the
// applier's prepare (a gateway verifies its signatures ahead, issue #18) before it applies that entry — when
// the append carries a batch; a lone entry is left to apply — and
// prepare never stands in for apply: each entry is still applied once, in order, on every node, with the
// same results. The leader, whose entries come from its own proposals, prepares nothing from the network.
// Method: three in-process runtimes on an in-memory network over DurableStorage and MemoryLogStore, with a
// LogApplier that records prepare and apply calls; proposals sent to the leader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../../src/raft/index.js';
import type { ConfState, Message, NodeId } from '../../src/raft/index.js';
import { DurableStorage, MemoryLogStore } from '../../src/storage/index.js';
import { LogApplier } from '../../src/node/log-applier.js';
import type { AppliedEntry, PeerAddress } from '../../src/node/ports.js';
import { RaftRuntime } from '../../src/node/raft-runtime.js';
import { bootstrappedDisk } from '../support/bootstrapped-disk.js';

const IDS: readonly NodeId[] = [1, 2, 3];
const CONF: ConfState = { voters: [...IDS], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
const FOUNDERS = new Map<NodeId, PeerAddress>(IDS.map((id) => [id, { host: '127.0.0.1', port: 7000 + id, publicKey: id.toString(16).padStart(64, '0') }]));
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined };

/** PreparingApplier records, in order, what it was asked to prepare and to apply. */
class PreparingApplier extends LogApplier {
  readonly calls: string[] = [];
  prepare(payload: Uint8Array): void {
    this.calls.push(`prepare ${Buffer.from(payload).toString('utf8')}`);
  }
  override apply(entry: AppliedEntry): ReturnType<LogApplier['apply']> {
    if (entry.payload.length > 0) this.calls.push(`apply ${Buffer.from(entry.payload).toString('utf8')}`);
    return super.apply(entry);
  }
}

test('followers prepare each entry of a received batch before applying it, not a lone entry; every node applies the same log', async () => {
  const runtimes = new Map<NodeId, RaftRuntime<unknown>>();
  const appliers = new Map<NodeId, PreparingApplier>();
  const deliver = (messages: readonly Message[]): void => {
    for (const message of messages) setImmediate(() => runtimes.get(message.to)?.receive(message));
  };
  for (const id of IDS) {
    const disk = await bootstrappedDisk(CONF, FOUNDERS);
    const applier = new PreparingApplier();
    const runtime = new RaftRuntime<unknown>({
      id, store: await DurableStorage.open(new MemoryLogStore(disk)), applier,
      transport: { send: deliver, setPeers: () => undefined },
      clock: { nowMs: () => Date.now(), monotonicMs: () => performance.now() },
      random: new SeededRandom(id), logger: quiet, founders: FOUNDERS,
    }, { tickMs: 10, electionTicks: 10, heartbeatTicks: 1, proposalTimeoutMs: 2_000 });
    runtimes.set(id, runtime);
    appliers.set(id, applier);
  }
  try {
    for (const runtime of runtimes.values()) runtime.start();
    runtimes.get(1)!.campaign();
    const deadline = performance.now() + 5_000;
    while (runtimes.get(1)!.status().role !== 'leader') {
      assert.ok(performance.now() < deadline, 'node 1 did not become leader');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const payloads = Array.from({ length: 20 }, (_, i) => `write-${i}`);
    await Promise.all(payloads.map((p) => runtimes.get(1)!.propose(new Uint8Array(Buffer.from(p)))));
    while (IDS.some((id) => appliers.get(id)!.applied().total < payloads.length)) {
      assert.ok(performance.now() < deadline + 5_000, 'not every node applied every write');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const leaderCalls = appliers.get(1)!.calls;
    assert.deepEqual(leaderCalls.filter((c) => c.startsWith('prepare')), [], 'the leader prepares nothing from the network');
    for (const id of [2, 3] as const) {
      const calls = appliers.get(id)!.calls;
      for (const p of payloads) {
        const prepared = calls.indexOf(`prepare ${p}`);
        const applied = calls.indexOf(`apply ${p}`);
        assert.ok(prepared >= 0 && applied > prepared, `node ${id}: ${p} prepared at ${prepared}, applied at ${applied}`);
        assert.equal(calls.filter((c) => c === `apply ${p}`).length, 1, `node ${id}: ${p} applied once`);
      }
    }
    // A lone entry (one client) is not prepared: apply verifies it, as before.
    await runtimes.get(1)!.propose(new Uint8Array(Buffer.from('alone')));
    while (IDS.some((id) => appliers.get(id)!.applied().total < payloads.length + 1)) {
      assert.ok(performance.now() < deadline + 10_000, 'not every node applied the lone write');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (const id of [2, 3] as const) {
      assert.ok(appliers.get(id)!.calls.includes('apply alone'));
      assert.ok(!appliers.get(id)!.calls.includes('prepare alone'), `node ${id} prepared a lone entry`);
    }
    const hashes = IDS.map((id) => appliers.get(id)!.applied().hash);
    assert.equal(new Set(hashes).size, 1, 'every node applied the same log');
  } finally {
    for (const runtime of runtimes.values()) await runtime.stop();
  }
});
