// raft-cluster.test.ts — goal: the storage and transport adapters carry the real Raft core: three
// RawNodes, each persisting to its own LevelDB through DurableStorage and talking over the
// authenticated Transport, elect a leader, commit proposals in the same order everywhere, and a
// node that was down while the leader compacted its log catches up through a snapshot streamed
// in chunks, then restarts from its own disk. This is the adapters' integration test, not the
// runtime's (src/node has its own); the ready loop here is the minimal one of types.ts.
// Method: in-process nodes on 127.0.0.1 with real TCP and real fsync; a 10 ms tick; assertions
// on what each node applied.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { EntryType, RaftError, RawNode, SeededRandom, bootstrapStorage, decodeConfChange } from '../../src/raft/index.js';
import type { ConfState, Message } from '../../src/raft/index.js';
import { DurableStorage, LevelLogStore } from '../../src/storage/index.js';
import { Transport, generateNodeIdentity } from '../../src/transport/index.js';
import type { NodeIdentity, PeerAddress } from '../../src/transport/index.js';
import { CLUSTER_ID, Membership, sleep, waitFor } from './helpers.js';

const directories: string[] = [];
after(async () => {
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
});

/** ClusterNode is one in-process node: core, durable storage, transport and a ready loop. */
class ClusterNode {
  readonly applied: string[] = [];
  appliedIndex = 0;
  confState: ConfState | undefined;
  snapshotsApplied = 0;
  private readonly inbox: Message[] = [];
  private running = true;
  private loopDone: Promise<void> = Promise.resolve();
  raw!: RawNode;
  storage!: DurableStorage;
  transport!: Transport;
  port = 0;

  constructor(readonly identity: NodeIdentity, readonly directory: string, private readonly membership: Membership) {}

  async start(voters: readonly number[], port: number, bootstrap: boolean): Promise<void> {
    this.storage = await DurableStorage.open(await LevelLogStore.open(this.directory, { snapshotChunkBytes: 64 * 1024 }));
    if (bootstrap && this.storage.isEmpty()) await this.storage.bootstrap((scratch) => { bootstrapStorage(scratch, { voters, learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }); });
    const snapshot = this.storage.snapshot();
    this.appliedIndex = snapshot.metadata.index;
    this.confState = snapshot.metadata.confState;
    if (snapshot.data.byteLength > 0) this.restore(snapshot.data);
    this.raw = new RawNode({ id: this.identity.nodeId, storage: this.storage, random: new SeededRandom(this.identity.nodeId * 7919), applied: this.appliedIndex, electionTicks: 10, heartbeatTicks: 1 });
    this.transport = new Transport({
      logger: pino({ level: 'silent' }), identity: this.identity, clusterId: CLUSTER_ID, isMember: this.membership.isMember,
      onMessage: (message) => this.inbox.push(message),
      onUnreachable: (id) => this.raw.reportUnreachable(id),
      onSnapshotStatus: (id, ok) => this.raw.reportSnapshot(id, ok),
    }, { listenHost: '127.0.0.1', listenPort: port, maxFrameBytes: 1 << 20, snapshotChunkBytes: 128 * 1024, reconnectBaseMs: 20, reconnectMaxMs: 200 });
    this.port = (await this.transport.start()).port;
    this.running = true;
    this.loopDone = this.loop();
  }

  setPeers(peers: ReadonlyMap<number, PeerAddress>): void {
    this.transport.setPeers(peers);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loopDone;
    await this.transport.stop();
    await this.storage.close();
  }

  /** appState is the application's state: the applied values, so a snapshot is their JSON. */
  private restore(data: Uint8Array): void {
    this.applied.splice(0, this.applied.length, ...(JSON.parse(Buffer.from(data).toString()) as string[]));
    this.snapshotsApplied++;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      for (const message of this.inbox.splice(0, this.inbox.length)) {
        try {
          this.raw.step(message);
        } catch (error) {
          if (!(error instanceof RaftError)) throw error;
        }
      }
      this.raw.tick();
      for (let round = 0; round < 100 && this.raw.hasReady(); round++) await this.handleReady();
      await sleep(10);
    }
  }

  private async handleReady(): Promise<void> {
    const ready = this.raw.ready();
    await this.storage.save({ entries: ready.entries, ...(ready.hardState ? { hardState: ready.hardState } : {}), ...(ready.snapshot ? { snapshot: ready.snapshot } : {}) });
    this.transport.send(ready.messages);
    if (ready.snapshot !== undefined) {
      this.restore(ready.snapshot.data);
      this.appliedIndex = ready.snapshot.metadata.index;
      this.confState = ready.snapshot.metadata.confState;
    }
    for (const entry of ready.committedEntries) {
      if (entry.type === EntryType.ConfChange) this.confState = this.raw.applyConfChange(decodeConfChange(entry.data));
      else if (entry.data.byteLength > 0) this.applied.push(Buffer.from(entry.data).toString());
      this.appliedIndex = entry.index;
    }
    this.raw.advance();
  }

  /** compact snapshots the applied state and compacts the log up to it. */
  async compact(): Promise<number> {
    this.running = false;
    await this.loopDone;
    const index = this.appliedIndex;
    await this.storage.createSnapshot(index, this.confState!, Buffer.from(JSON.stringify(this.applied)));
    this.running = true;
    this.loopDone = this.loop();
    return index;
  }

  isLeader(): boolean {
    return this.raw.status().softState.role === 'leader';
  }
}

describe('Raft over LevelDB storage and the authenticated transport', () => {
  test('3 nodes elect, replicate, compact, and a node that missed it all catches up by a chunked snapshot', async () => {
    const membership = new Membership();
    const nodes: ClusterNode[] = [];
    for (let id = 1; id <= 3; id++) {
      const directory = await mkdtemp(join(tmpdir(), `qg-cluster-${id}-`));
      directories.push(directory);
      const identity = generateNodeIdentity(id);
      membership.add(identity);
      nodes.push(new ClusterNode(identity, directory, membership));
    }
    for (const node of nodes) await node.start([1, 2, 3], 0, true);
    const peers = (): Map<number, PeerAddress> => new Map(nodes.map((n) => [n.identity.nodeId, { host: '127.0.0.1', port: n.port, publicKey: n.identity.publicKey }]));
    for (const node of nodes) node.setPeers(peers());
    try {
      await waitFor('a leader', () => nodes.some((n) => n.isLeader()), 10_000);
      const leader = (): ClusterNode => nodes.find((n) => n.isLeader())!;
      const propose = async (values: string[]): Promise<void> => {
        for (const value of values) {
          await waitFor('a leader to propose to', () => nodes.some((n) => n.isLeader()), 10_000);
          leader().raw.propose(Buffer.from(value));
        }
      };
      const first = Array.from({ length: 50 }, (_, i) => `a${i}`);
      await propose(first);
      await waitFor('all nodes to apply the first 50', () => nodes.every((n) => n.applied.length === 50), 10_000);
      for (const node of nodes) assert.deepEqual(node.applied, first);

      // Node 3 goes down; the others commit more, and every live node compacts its log.
      const node3 = nodes[2]!;
      await node3.stop();
      if (node3.isLeader()) await waitFor('a new leader', () => nodes.slice(0, 2).some((n) => n.isLeader()), 10_000);
      const second = Array.from({ length: 200 }, (_, i) => `b${i}-${'x'.repeat(2000)}`);
      await propose(second);
      await waitFor('nodes 1 and 2 to apply 250', () => nodes.slice(0, 2).every((n) => n.applied.length === 250), 15_000);
      for (const node of nodes.slice(0, 2)) await node.compact();
      assert.ok(leader().storage.firstIndex() > 200, 'the leader compacted past what node 3 has');

      // Node 3 restarts from its own disk; the leader can only send it a snapshot (~400 KiB, in 128 KiB chunks).
      await node3.start([1, 2, 3], node3.port, false);
      node3.setPeers(peers());
      await propose(['c0']);
      await waitFor('node 3 to catch up', () => node3.applied.length === 251, 15_000);
      assert.equal(node3.snapshotsApplied, 1);
      assert.ok(node3.transport.stats().snapshotsReceived >= 1);
      assert.ok(nodes.slice(0, 2).reduce((sum, n) => sum + n.transport.stats().snapshotsSent, 0) >= 1);
      assert.deepEqual(node3.applied, [...first, ...second, 'c0']);
      const appliedAt3 = node3.appliedIndex;

      // And node 3's catch-up is durable: after another restart it starts from its own snapshot.
      await node3.stop();
      await node3.start([1, 2, 3], node3.port, false);
      node3.setPeers(peers());
      assert.ok(node3.storage.snapshot().metadata.index > 200);
      assert.ok(node3.storage.lastIndex() >= appliedAt3 - 1);
      await propose(['d0']);
      // Every node applies d0 in its own time (a follower may learn the commit before another applies it).
      await waitFor('every node applies d0 after node 3 restarts', () => nodes.every((n) => n.applied.at(-1) === 'd0'), 10_000);
      for (const node of nodes) assert.deepEqual(node.applied, [...first, ...second, 'c0', 'd0']);
    } finally {
      for (const node of nodes) await node.stop().catch(() => undefined);
    }
  });
});
