// unsynced-commit.test.ts — goal: the runtime fsyncs a Ready only when the core says mustSync (new
// entries, a snapshot, a new term or vote), as etcd does, and the writes it makes without fsync —
// Readies that only raise the commit index — may be lost by a crash without losing anything
// acknowledged. What exactly holds across a crash and restart of a node:
//  - every proposal acknowledged to a client is, after recovery, in every node's applied log at
//    the index it was acknowledged with, and all nodes applied the same log;
//  - the restarted node's commit index is the one on its disk (raised to its snapshot if below):
//    never below the commit index of any synced write it completed, and never above what it had
//    before the crash; it may be lower than that (the lost commit-only writes), and it is;
//  - within one lifetime nothing goes backwards (the chaos checker applied-monotone's rule).
// Method: three in-process runtimes on an in-memory network, each persisting through a
// FaultLogStore over a MemoryDisk that outlives the process; proposers write to the leader while
// a seeded schedule crashes one node, the leader, or every node at once (a power cut), and
// restarts them from their disks. Both loss models run: 'suffix' (LevelDB's order: a later fsync
// keeps the unsynced writes before it) and 'all' (no unsynced write ever reaches the disk). A
// negative control plants a store that writes everything unsynced and must be caught.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom, bootstrapStorage } from '../../src/raft/index.js';
import type { ConfState, Message, NodeId, Snapshot } from '../../src/raft/index.js';
import { DurableStorage, FaultLogStore, MemoryDisk, MemoryLogStore } from '../../src/storage/index.js';
import type { LogStore, PersistedState, SaveBatch } from '../../src/storage/index.js';
import { LogApplier } from '../../src/node/log-applier.js';
import { MemberDirectory } from '../../src/node/member-directory.js';
import type { PeerAddress } from '../../src/node/ports.js';
import { RaftRuntime } from '../../src/node/raft-runtime.js';
import { encodeRuntimeSnapshot } from '../../src/node/runtime-snapshot.js';

const IDS: readonly NodeId[] = [1, 2, 3];
const CONF: ConfState = { voters: [...IDS], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
const FOUNDERS = new Map<NodeId, PeerAddress>(IDS.map((id) => [id, { host: '127.0.0.1', port: 7000 + id, publicKey: id.toString(16).padStart(64, '0') }]));
const TIMING = { tickMs: 10, electionTicks: 10, heartbeatTicks: 1, proposalTimeoutMs: 1_000, snapshotEveryEntries: 40 };
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined };

/**
 * SyncWitness sits between DurableStorage and the fault store and remembers the highest commit
 * index of a synced save that completed: the floor below which a restart must never go. `lie`
 * plants the defect of the negative control: every save is written unsynced.
 */
class SyncWitness implements LogStore {
  syncedCommit = 0;
  constructor(private readonly inner: LogStore, private readonly lie: boolean) {}
  load(): Promise<PersistedState> {
    return this.inner.load();
  }
  async save(batch: SaveBatch): Promise<void> {
    await this.inner.save(this.lie ? { ...batch, sync: false } : batch);
    if (batch.sync !== false && batch.hardState !== undefined) this.syncedCommit = Math.max(this.syncedCommit, batch.hardState.commit);
  }
  compact(snapshot: Snapshot): Promise<void> {
    return this.inner.compact(snapshot);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

interface Node {
  runtime: RaftRuntime<unknown>;
  fault: FaultLogStore;
  witness: SyncWitness;
  applier: LogApplier;
}

interface Options {
  readonly unsyncedLoss: 'suffix' | 'all';
  readonly lie: boolean;
  readonly seed: number;
  readonly faults: number;
  /** electionTicks overrides TIMING's (a longer timeout keeps a loaded machine from electing mid-measurement). */
  readonly electionTicks?: number;
}

/** Cluster runs the three nodes; a node in `down` neither sends nor receives (a dead process). */
class Cluster {
  readonly nodes = new Map<NodeId, Node>();
  readonly disks = new Map<NodeId, MemoryDisk>(IDS.map((id) => [id, new MemoryDisk()]));
  readonly down = new Set<NodeId>();
  /** problems: broken rules seen while running (a restart's commit index out of its bounds). */
  readonly problems: string[] = [];
  restarts = 0;
  /** regressions: restarts that came back with a commit index below the one before the crash. */
  regressions = 0;

  constructor(private readonly options: Options) {}

  async bootstrap(): Promise<void> {
    for (const id of IDS) {
      const storage = await DurableStorage.open(new MemoryLogStore(this.disks.get(id)!));
      const directory = new MemberDirectory();
      directory.seed(FOUNDERS);
      const initial = encodeRuntimeSnapshot({ members: directory.toState(), lastTimeMs: 0, application: new LogApplier().snapshot() });
      await storage.bootstrap((scratch) => bootstrapStorage(scratch, CONF, initial));
      await storage.close();
    }
    for (const id of IDS) await this.startNode(id);
  }

  async startNode(id: NodeId): Promise<Node> {
    const fault = new FaultLogStore(new MemoryLogStore(this.disks.get(id)!), { syncDelayMs: 3, unsyncedLoss: this.options.unsyncedLoss });
    const witness = new SyncWitness(fault, this.options.lie);
    const storage = await DurableStorage.open(witness);
    const applier = new LogApplier();
    const runtime = new RaftRuntime<unknown>({
      id,
      store: storage,
      transport: { send: (messages: readonly Message[]) => this.deliver(messages), setPeers: () => undefined },
      applier,
      clock: { nowMs: () => Date.now(), monotonicMs: () => performance.now() },
      random: new SeededRandom(this.options.seed * 31 + id + this.restarts * 7),
      logger: quiet,
      founders: FOUNDERS,
    }, { ...TIMING, electionTicks: this.options.electionTicks ?? TIMING.electionTicks });
    runtime.on('fatal', () => undefined); // a crash fails the write in flight; the node is already dead
    const node = { runtime, fault, witness, applier };
    this.nodes.set(id, node);
    this.down.delete(id);
    runtime.start();
    return node;
  }

  /** crash kills nodes as a power cut would: unsynced writes are lost, the process is gone. */
  async crash(ids: readonly NodeId[]): Promise<void> {
    const before = new Map<NodeId, { commit: number; syncedCommit: number }>();
    for (const id of ids) {
      const node = this.nodes.get(id)!;
      this.down.add(id);
      before.set(id, { commit: node.runtime.status().commit, syncedCommit: node.witness.syncedCommit });
      await node.fault.crash();
      await node.runtime.stop();
    }
    await sleep(20);
    for (const id of ids) {
      const { commit, syncedCommit } = before.get(id)!;
      const disk = this.disks.get(id)!;
      this.restarts += 1;
      const restarted = (await this.startNode(id)).runtime.status().commit;
      const expected = Math.max(disk.hardState.commit, disk.snapshot.metadata.index);
      if (restarted !== expected) this.problems.push(`n${id} restarted with commit ${restarted}, its disk says ${expected}`);
      if (restarted < syncedCommit) this.problems.push(`n${id} restarted with commit ${restarted}, below ${syncedCommit} that it had synced`);
      if (restarted > commit) this.problems.push(`n${id} restarted with commit ${restarted}, above ${commit} before the crash`);
      if (restarted < commit) this.regressions += 1;
    }
  }

  leader(): Node | undefined {
    for (const [id, node] of this.nodes) {
      const status = node.runtime.status();
      if (!this.down.has(id) && status.role === 'leader') return node;
    }
    return undefined;
  }

  async stop(): Promise<void> {
    for (const node of this.nodes.values()) await node.runtime.stop();
  }

  private deliver(messages: readonly Message[]): void {
    for (const message of messages) {
      setImmediate(() => {
        if (this.down.has(message.from) || this.down.has(message.to)) return;
        this.nodes.get(message.to)?.runtime.receive(message);
      });
    }
  }
}

async function waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** proposeLoop proposes unique payloads to the current leader until `running()` is false, recording acknowledgements. */
async function proposeLoop(cluster: Cluster, lane: number, running: () => boolean, acknowledged: Map<string, number>): Promise<void> {
  for (let n = 0; running(); n++) {
    const leader = cluster.leader();
    if (leader === undefined) {
      await sleep(5);
      continue;
    }
    const id = `p${lane}.${n}`;
    try {
      const committed = await leader.runtime.propose(Buffer.from(id, 'utf8'));
      acknowledged.set(id, committed.index);
    } catch {
      await sleep(2); // indeterminate or refused: never counted as acknowledged
    }
  }
}

/** runCampaign writes under a seeded crash schedule, recovers, and returns every broken rule. */
async function runCampaign(options: Options): Promise<{ problems: string[]; acknowledged: number; restarts: number; regressions: number }> {
  const cluster = new Cluster(options);
  await cluster.bootstrap();
  const random = new SeededRandom(options.seed);
  const acknowledged = new Map<string, number>();
  let running = true;
  const lanes = [0, 1, 2, 3].map((lane) => proposeLoop(cluster, lane, () => running, acknowledged));
  try {
    for (let fault = 0; fault < options.faults; fault++) {
      await sleep(80 + random.nextInt(120));
      const kind = fault === 1 ? 2 : random.nextInt(3); // at least one power cut
      const leader = cluster.leader();
      const victims = kind === 2 ? [...IDS] : kind === 1 && leader ? [leader.runtime.status().id] : [IDS[random.nextInt(IDS.length)]!];
      await cluster.crash(victims);
    }
    await sleep(150);
    running = false;
    await Promise.all(lanes);
    const problems = [...cluster.problems];
    const divergence = await converged(cluster);
    problems.push(...divergence);
    if (divergence.length === 0) problems.push(...checkAcknowledged(cluster, acknowledged));
    return { problems, acknowledged: acknowledged.size, restarts: cluster.restarts, regressions: cluster.regressions };
  } finally {
    running = false;
    await cluster.stop();
  }
}

/** converged waits until every node applied the same log up to the same index; returns a problem if they never do. */
async function converged(cluster: Cluster): Promise<string[]> {
  const deadline = performance.now() + 5_000;
  for (;;) {
    const statuses = [...cluster.nodes.values()].map((node) => node.runtime.status());
    const hashes = new Set([...cluster.nodes.values()].map((node) => node.applier.applied(0, 0).hash));
    if (cluster.leader() && statuses.every((s) => s.applied === statuses[0]!.applied && s.commit === s.applied) && hashes.size === 1) return [];
    if (performance.now() > deadline) {
      return [`the nodes did not converge: ${statuses.map((s) => `n${s.id} ${s.role} commit ${s.commit} applied ${s.applied}`).join(', ')}; ${hashes.size} distinct state hashes`];
    }
    await sleep(10);
  }
}

/** checkAcknowledged: each acknowledged payload is in every node's applied log at its acknowledged index. */
function checkAcknowledged(cluster: Cluster, acknowledged: ReadonlyMap<string, number>): string[] {
  const problems: string[] = [];
  for (const [id, node] of cluster.nodes) {
    const applied = node.applier.applied(0, Number.MAX_SAFE_INTEGER);
    const at = new Map(applied.ids.map((payload, position) => [payload, applied.indexes[position]!]));
    for (const [payload, index] of acknowledged) {
      if (at.get(payload) !== index) problems.push(`n${id}: acknowledged ${payload} at ${index}, applied at ${at.get(payload) ?? 'nowhere'}`);
    }
  }
  return problems.slice(0, 10);
}

test('a commit-only Ready is written without fsync: one fsync per write at one client on the leader', async () => {
  const cluster = new Cluster({ unsyncedLoss: 'suffix', lie: false, seed: 1, faults: 0, electionTicks: 100 });
  await cluster.bootstrap();
  try {
    await waitFor('a leader', () => cluster.leader() !== undefined, 10_000);
    const leader = cluster.leader()!;
    const disk = cluster.disks.get(leader.runtime.status().id)!;
    await sleep(50);
    const writes = disk.writes;
    const synced = disk.syncedWrites;
    const proposals = 20;
    for (let n = 0; n < proposals; n++) await leader.runtime.propose(Buffer.from(`one-${n}`, 'utf8'));
    await sleep(50); // the last commit-only write reaches the disk
    const syncedPerWrite = (disk.syncedWrites - synced) / proposals;
    const writesPerWrite = (disk.writes - writes) / proposals;
    assert.equal(syncedPerWrite, 1, `the leader fsynced ${syncedPerWrite} times per write (one for the entry, none for its commit)`);
    assert.ok(writesPerWrite >= 1.9, `the commit index is still written (${writesPerWrite} writes per write)`);
    const counters = leader.runtime.counters();
    assert.ok(counters.syncedSaves < counters.saves, 'the runtime counts its unsynced saves');
  } finally {
    await cluster.stop();
  }
});

for (const unsyncedLoss of ['suffix', 'all'] as const) {
  test(`crashes that lose unsynced commit-only writes lose nothing acknowledged (unsyncedLoss '${unsyncedLoss}')`, async (t) => {
    const outcome = await runCampaign({ unsyncedLoss, lie: false, seed: unsyncedLoss === 'all' ? 7 : 3, faults: 8 });
    t.diagnostic(`${outcome.acknowledged} acknowledged, ${outcome.restarts} restarts, ${outcome.regressions} with an older commit index`);
    assert.deepEqual(outcome.problems, []);
    assert.ok(outcome.acknowledged >= 30, `only ${outcome.acknowledged} proposals were acknowledged: the campaign tested too little`);
    assert.ok(outcome.restarts >= 10, `${outcome.restarts} restarts`);
    if (unsyncedLoss === 'all') {
      assert.ok(outcome.regressions > 0, 'no restart came back with an older commit index: the campaign never lost a commit-only write');
    }
  });
}

test('negative control: a store that writes entries without fsync loses acknowledged proposals, and the campaign says so', async (t) => {
  const outcome = await runCampaign({ unsyncedLoss: 'all', lie: true, seed: 7, faults: 3 });
  t.diagnostic(`caught: ${outcome.problems.join('; ')}`);
  assert.ok(outcome.acknowledged > 0);
  assert.ok(outcome.problems.some((problem) => problem.includes('below') && problem.includes('synced')), 'the restart below a synced commit went unnoticed');
  assert.ok(outcome.problems.some((problem) => problem.includes('acknowledged')), 'the lost acknowledged proposals went unnoticed');
});
