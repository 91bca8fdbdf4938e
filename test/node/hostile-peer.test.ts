// hostile-peer.test.ts — a running cluster refuses what is not from a member and keeps working.
//
// Goal: issue 3's promise that a frame from a non-member, a malformed frame or an oversized one is
// refused, never crashes a node, and does not disturb the cluster.
// Method: a real 3-node cluster (separate processes). An impostor with its own key claims to be
// a member and sends a Vote with a huge term; raw TCP clients send garbage and an oversized frame
// length where the TLS 1.3 handshake should be. Each connection must be closed by the node; afterwards every node is alive, the term has
// not jumped, and a proposal commits.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { pino } from 'pino';
import type { LocalCluster } from '../../cluster/local-cluster.js';
import { MessageType } from '../../src/raft/index.js';
import type { Message } from '../../src/raft/index.js';
import { Transport, generateNodeIdentity } from '../../src/transport/index.js';
import { createTestCluster, propose } from './cluster-support.js';

const clusters: LocalCluster[] = [];
after(async () => {
  for (const cluster of clusters) await cluster.destroy();
});

/** rawExchange writes bytes to a port and resolves when the node closes the connection (or after timeoutMs). */
function rawExchange(port: number, bytes: Buffer, timeoutMs: number): Promise<'closed' | 'still-open'> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(bytes));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('still-open');
    }, timeoutMs);
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
  });
}

describe('hostile peers against a running cluster', { timeout: 60_000 }, () => {
  test('a non-member, a malformed frame and an oversized frame are refused; the cluster keeps working', async () => {
    const cluster = await createTestCluster({ nodes: 3 });
    clusters.push(cluster);
    const leader = await cluster.waitForLeader();
    const before = (await cluster.status(leader))!;
    const target = cluster.nodes.find((n) => n.nodeId !== leader)!;

    // An impostor: node id 2's number, but its own key. It tries to force an election at term 10^6.
    const impostorIdentity = generateNodeIdentity(2);
    const impostor = new Transport({
      logger: pino({ level: 'silent' }),
      identity: impostorIdentity,
      clusterId: Buffer.from(cluster.clusterId, 'hex'),
      isMember: () => true,
      onMessage: () => undefined,
      onUnreachable: () => undefined,
    }, { listenHost: '127.0.0.1', listenPort: 0 });
    await impostor.start();
    impostor.setPeers(new Map([[target.nodeId, { host: '127.0.0.1', port: target.raftPort, publicKey: Buffer.from(target.publicKey, 'hex') }]]));
    const vote: Message = {
      type: MessageType.Vote, to: target.nodeId, from: 2, term: 1_000_000, logTerm: 1_000_000, index: 1_000_000,
      entries: [], commit: 0, reject: false, rejectHint: 0, context: new Uint8Array(),
    };
    for (let i = 0; i < 5; i++) {
      impostor.send([vote]);
      await new Promise((r) => setTimeout(r, 200));
    }
    const impostorStats = impostor.stats();
    await impostor.stop();
    assert.equal(impostorStats.connectionsEstablished, 0, 'the node must not accept the impostor');
    assert.equal(impostorStats.peers[target.nodeId]?.connected ?? false, false);

    // Garbage where the TLS handshake should be, and a frame header announcing 1 GiB (plus a byte:
    // TLS reads a 5-byte record header before it can refuse).
    assert.equal(await rawExchange(target.raftPort, Buffer.from('GET / HTTP/1.1\r\n\r\n'), 5_000), 'closed');
    const oversized = Buffer.alloc(5);
    oversized.writeUInt32BE(1024 * 1024 * 1024);
    assert.equal(await rawExchange(target.raftPort, oversized, 5_000), 'closed');

    for (const node of cluster.nodes) assert.ok(cluster.pid(node.nodeId), `node ${node.nodeId} must still be running`);
    const after = (await cluster.status(target.nodeId))!;
    assert.ok(after.term < 1_000_000, `the impostor's vote must not move the term (term is ${after.term})`);
    assert.ok(after.term <= before.term + 1, `no disruption expected: term went from ${before.term} to ${after.term}`);
    const outcome = await propose(cluster, target.nodeId, 'still-working');
    assert.equal(outcome.kind, 'ack');
  });
});
