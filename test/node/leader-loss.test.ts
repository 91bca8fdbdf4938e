// leader-loss.test.ts — three in-process runtimes on an in-memory network: a follower that loses its
// connection to the leader (the transport reports it unreachable) counts its election clock forward,
// so a crashed leader is replaced well within one election timeout, and a live leader is not unseated
// by one follower's lost connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootstrapStorage } from '../../src/raft/index.js';
import type { ConfState, Message, NodeId, RandomSource } from '../../src/raft/index.js';
import { DurableStorage, MemoryLogStore } from '../../src/storage/index.js';
import { LogApplier } from '../../src/node/log-applier.js';
import { MemberDirectory } from '../../src/node/member-directory.js';
import type { PeerAddress } from '../../src/node/ports.js';
import { RaftRuntime } from '../../src/node/raft-runtime.js';
import { encodeRuntimeSnapshot } from '../../src/node/runtime-snapshot.js';

const TICK_MS = 20;
const ELECTION_TICKS = 20;
/** ELECTION_TIMEOUT_MS: without the hint no follower can campaign sooner than this minus one tick after the leader's last message. */
const ELECTION_TIMEOUT_MS = TICK_MS * ELECTION_TICKS;

/** FixedRandom draws the same value every time, so a node's randomized election timeout is known. */
class FixedRandom implements RandomSource {
  constructor(private readonly value: number) {}
  nextInt(maxExclusive: number): number {
    return Math.min(this.value, maxExclusive - 1);
  }
}

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined };

interface TestCluster {
  readonly runtimes: Map<NodeId, RaftRuntime<unknown>>;
  /** down: nodes whose messages are neither delivered nor sent (a crashed process). */
  readonly down: Set<NodeId>;
  stop(): Promise<void>;
}

/** startCluster starts nodes 1..3; `draws` is each node's fixed random draw (its timeout is ELECTION_TICKS + draw ticks). */
async function startCluster(draws: ReadonlyMap<NodeId, number>): Promise<TestCluster> {
  const ids: NodeId[] = [1, 2, 3];
  const founders = new Map<NodeId, PeerAddress>(ids.map((id) => [id, { host: '127.0.0.1', port: 7000 + id, publicKey: id.toString(16).padStart(64, '0') }]));
  const runtimes = new Map<NodeId, RaftRuntime<unknown>>();
  const down = new Set<NodeId>();
  const confState: ConfState = { voters: ids, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  for (const id of ids) {
    const storage = await DurableStorage.open(new MemoryLogStore());
    const directory = new MemberDirectory();
    directory.seed(founders);
    const initial = encodeRuntimeSnapshot({ members: directory.toState(), lastTimeMs: 0, application: new LogApplier().snapshot() });
    await storage.bootstrap((scratch) => bootstrapStorage(scratch, confState, initial));
    const runtime = new RaftRuntime<unknown>({
      id,
      store: storage,
      transport: {
        send: (messages: readonly Message[]) => {
          for (const message of messages) {
            setImmediate(() => {
              if (down.has(message.from) || down.has(message.to)) return;
              runtimes.get(message.to)?.receive(message);
            });
          }
        },
        setPeers: () => undefined,
      },
      applier: new LogApplier(),
      clock: { nowMs: () => Date.now(), monotonicMs: () => performance.now() },
      random: new FixedRandom(draws.get(id) ?? 0),
      logger: quiet,
      founders,
    }, { tickMs: TICK_MS, electionTicks: ELECTION_TICKS, heartbeatTicks: 1 });
    runtimes.set(id, runtime);
  }
  for (const runtime of runtimes.values()) runtime.start();
  return {
    runtimes,
    down,
    stop: async () => {
      for (const runtime of runtimes.values()) await runtime.stop();
    },
  };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

async function electNodeOne(cluster: TestCluster): Promise<void> {
  cluster.runtimes.get(1)!.campaign();
  await waitFor('every node to follow node 1', () => [...cluster.runtimes.values()].every((r) => r.status().leader === 1), 5_000);
}

/**
 * crashLeaderOne stops node 1 (elected first), has the survivors' transports report it unreachable in
 * `reportOrder`, and waits for a new leader; returns node 2's term before the crash and the time taken.
 */
async function crashLeaderOne(cluster: TestCluster, reportOrder: readonly NodeId[]): Promise<{ termBefore: number; electedMs: number }> {
  await electNodeOne(cluster);
  const termBefore = cluster.runtimes.get(2)!.status().term;
  cluster.down.add(1);
  await cluster.runtimes.get(1)!.stop();
  const lostAt = performance.now();
  for (const id of reportOrder) cluster.runtimes.get(id)!.reportUnreachable(1);
  await waitFor('a new leader', () => [2, 3].some((id) => cluster.runtimes.get(id)!.status().role === 'leader'), 5_000);
  return { termBefore, electedMs: performance.now() - lostAt };
}

test('followers that lose the connection to a crashed leader elect a new one within one election timeout', async () => {
  // Node 2 times out 3 ticks after its lease, node 3 at the last possible tick: node 2 campaigns
  // first, once node 3's lease has ended too (node 3 has ticked at least once since its hint).
  const cluster = await startCluster(new Map([[1, 0], [2, 3], [3, ELECTION_TICKS - 1]]));
  try {
    const { termBefore: term, electedMs } = await crashLeaderOne(cluster, [3, 2]);
    // Without the hint neither follower could even campaign before ELECTION_TIMEOUT_MS - 1 tick.
    assert.ok(electedMs < ELECTION_TIMEOUT_MS - TICK_MS, `new leader after ${electedMs.toFixed(0)} ms, election timeout ${ELECTION_TIMEOUT_MS} ms`);
    assert.equal(cluster.runtimes.get(2)!.status().role, 'leader');
    assert.equal(cluster.runtimes.get(2)!.status().term, term + 1);
  } finally {
    await cluster.stop();
  }
});

test('one follower losing its connection to a live leader does not unseat it', async () => {
  const cluster = await startCluster(new Map([[1, 0], [2, 0], [3, ELECTION_TICKS - 1]]));
  try {
    await electNodeOne(cluster);
    const term = cluster.runtimes.get(1)!.status().term;
    // Repeated reports in one term count the clock forward once.
    for (let i = 0; i < 3; i++) cluster.runtimes.get(2)!.reportUnreachable(1);
    await new Promise((resolve) => setTimeout(resolve, 2 * ELECTION_TIMEOUT_MS));
    for (const runtime of cluster.runtimes.values()) {
      const status = runtime.status();
      assert.equal(status.leader, 1, `node ${status.id} follows ${status.leader}`);
      assert.equal(status.term, term, `node ${status.id} is in term ${status.term}`);
    }
  } finally {
    await cluster.stop();
  }
});

test('survivors with the same election timeout, told at the same instant, do not split the vote', async () => {
  // Nodes 2 and 3 draw the same randomized timeout and tick in step (one process): counted forward
  // together they would campaign in the same tick and split the vote (each then waits a new T to 2T).
  // They take turns by rank instead: node 2 campaigns alone and wins in the next term.
  for (const draw of [0, ELECTION_TICKS / 2, ELECTION_TICKS - 1]) {
    const cluster = await startCluster(new Map([[1, 0], [2, draw], [3, draw]]));
    try {
      const { termBefore: term, electedMs } = await crashLeaderOne(cluster, [2, 3]);
      assert.ok(electedMs < ELECTION_TIMEOUT_MS, `draw ${draw}: new leader after ${electedMs.toFixed(0)} ms, election timeout ${ELECTION_TIMEOUT_MS} ms`);
      assert.equal(cluster.runtimes.get(2)!.status().role, 'leader', `draw ${draw}: the survivor of rank 0 leads`);
      assert.equal(cluster.runtimes.get(2)!.status().term, term + 1, `draw ${draw}: one election, no split vote`);
    } finally {
      await cluster.stop();
    }
  }
});
