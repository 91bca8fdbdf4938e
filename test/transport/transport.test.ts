// transport.test.ts — goal: the transport delivers Raft messages between authenticated members
// over real TLS 1.3 connections, refuses everyone and everything else with a logged reason while
// it keeps serving good peers, and never lets a slow or dead peer block the caller.
// Method: real Transports on 127.0.0.1 with OS-chosen ports; hostile peers are played with the
// module's own TlsConnection (an authenticated member sending bad frames), raw sockets, and a TCP
// proxy in the middle that flips or replays bytes of TLS records; assertions read what each node
// delivered, its counters (closedByCode) and its captured pino log lines. The certificate checks
// themselves (no certificate, wrong key, TLS 1.2, ...) are in tls.test.ts.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import {
  TlsConnection, createTlsCredentials, encodeFrame, frameHeader, generateNodeIdentity,
} from '../../src/transport/index.js';
import type { NodeIdentity } from '../../src/transport/index.js';
import type { Message } from '../../src/raft/index.js';
import {
  CLUSTER_ID, Membership, address, closedWith, connectAll, message, sleep, startNode, waitFor,
} from './helpers.js';
import type { TestNode } from './helpers.js';

const running: TestNode[] = [];
const servers: Server[] = [];
after(async () => {
  for (const node of running) await node.transport.stop();
  for (const server of servers) server.close();
});

async function cluster(count: number, init: Parameters<typeof startNode>[2] = {}): Promise<{ nodes: TestNode[]; membership: Membership }> {
  const membership = new Membership();
  const nodes: TestNode[] = [];
  for (let id = 1; id <= count; id++) {
    const node = await startNode(id, membership, init);
    membership.add(node.identity);
    nodes.push(node);
    running.push(node);
  }
  connectAll(nodes);
  return { nodes, membership };
}

/** dialAs opens an authenticated connection to `target` as `identity`, for playing a hostile member. */
async function dialAs(identity: NodeIdentity, target: TestNode, membership: Membership): Promise<{ connection: TlsConnection; closed: Promise<Error | undefined> }> {
  const credentials = await createTlsCredentials(identity.nodeId, identity.privateKey, CLUSTER_ID);
  return new Promise((resolve, reject) => {
    let onClosed: (error: Error | undefined) => void = () => undefined;
    const closed = new Promise<Error | undefined>((r) => { onClosed = r; });
    TlsConnection.dial({ host: '127.0.0.1', port: target.port, keepAliveMs: 5000 }, {
      selfNodeId: identity.nodeId, credentials, isMember: membership.isMember,
      expectedPeer: { nodeId: target.identity.nodeId, publicKey: target.identity.publicKey },
      maxFrameBytes: 1 << 24, handshakeTimeoutMs: 2000,
      onEstablished: (connection) => resolve({ connection, closed }),
      onFrame: () => undefined,
      onClose: (_connection, error) => { onClosed(error); reject(error ?? new Error('closed')); },
    });
  });
}

function bodies(messages: readonly Message[]): unknown[] {
  return messages.map((m) => [m.from, m.to, m.type, m.term, m.commit, m.entries.map((e) => [e.index, Buffer.from(e.data).toString()])]);
}

describe('delivery between members', () => {
  test('three nodes exchange messages in both directions, in order, with every field intact', async () => {
    const { nodes } = await cluster(3);
    for (const from of nodes) {
      for (const to of nodes) {
        if (from === to) continue;
        const a = from.identity.nodeId;
        const b = to.identity.nodeId;
        from.transport.send([
          message(a, b, { type: 3, index: 7, logTerm: 4, entries: [{ term: 5, index: 8, type: 0, data: Buffer.from(`from ${a}`) }] }),
          message(a, b, { commit: 9 }),
        ]);
      }
    }
    await waitFor('4 messages at every node', () => nodes.every((n) => n.received.length === 4));
    for (const node of nodes) {
      const self = node.identity.nodeId;
      for (const other of nodes.filter((n) => n !== node)) {
        const from = other.identity.nodeId;
        assert.deepEqual(bodies(node.received.filter((m) => m.from === from)), [
          [from, self, 3, 5, 3, [[8, `from ${from}`]]],
          [from, self, 8, 5, 9, []],
        ]);
      }
    }
    assert.equal(nodes[0]!.transport.stats().peers[2]!.connected, true);
  });
});

describe('authentication and membership', () => {
  test('a node whose key is not a member is refused: connection closed, logged, nothing delivered', async () => {
    const { nodes, membership } = await cluster(1);
    const [node1] = nodes;
    const rogue = await startNode(9, membership);
    running.push(rogue);
    rogue.transport.setPeers(new Map([[1, address(node1!)]]));
    rogue.transport.send([message(9, 1)]);
    await waitFor('node 1 to refuse node 9', () => closedWith(node1!, 'TRANSPORT_NOT_MEMBER'));
    const line = node1!.logs.find((l) => l.code === 'TRANSPORT_NOT_MEMBER');
    assert.ok(line !== undefined);
    assert.match(line.reason!, /node 9 with key [0-9a-f]{64} is not a member/);
    await waitFor('node 9 to see node 1 unreachable', () => rogue.unreachable.includes(1));
    assert.equal(node1!.received.length, 0);
  });

  test('an impostor using a member\'s node id with another key is refused', async () => {
    const { nodes, membership } = await cluster(2);
    const impostor = generateNodeIdentity(2);
    await assert.rejects(dialAs(impostor, nodes[0]!, membership));
    await waitFor('node 1 to refuse the impostor', () => closedWith(nodes[0]!, 'TRANSPORT_NOT_MEMBER'));
    assert.equal(nodes[0]!.received.length, 0);
  });

  test('a dialer refuses a listener that cannot prove the expected key (misconfigured or intercepted)', async () => {
    const { nodes } = await cluster(2);
    const [node1, node2] = nodes;
    node1!.transport.setPeers(new Map([[2, { ...address(node2!), publicKey: generateNodeIdentity(2).publicKey }]]));
    node1!.transport.send([message(1, 2)]);
    await waitFor('node 1 to refuse node 2', () => closedWith(node1!, 'TRANSPORT_WRONG_KEY'));
    assert.match(node1!.logs.find((l) => l.code === 'TRANSPORT_WRONG_KEY')!.reason!, /node 2 presented key [0-9a-f]{64}, expected [0-9a-f]{64}/);
    assert.equal(node2!.received.length, 0);
  });

  test('a connection from another cluster is refused', async () => {
    const { nodes, membership } = await cluster(1);
    const stranger = await startNode(2, membership, { clusterId: new Uint8Array(32).fill(0xee) });
    membership.add(stranger.identity);
    running.push(stranger);
    stranger.transport.setPeers(new Map([[1, address(nodes[0]!)]]));
    stranger.transport.send([message(2, 1)]);
    await waitFor('node 1 to refuse the other cluster', () => closedWith(nodes[0]!, 'TRANSPORT_WRONG_CLUSTER'));
    assert.match(nodes[0]!.logs.find((l) => l.code === 'TRANSPORT_WRONG_CLUSTER')!.reason!, /another cluster or protocol version/);
    assert.equal(nodes[0]!.received.length, 0);
  });

  test('removing a member closes its established connections at once', async () => {
    const { nodes, membership } = await cluster(2);
    const [node1, node2] = nodes;
    node2!.transport.send([message(2, 1)]);
    await waitFor('first delivery', () => node1!.received.length === 1);
    membership.keys.delete(2);
    node1!.transport.setPeers(new Map());
    await waitFor('node 1 to close node 2\'s connection', () => closedWith(node1!, 'TRANSPORT_NOT_MEMBER'));
    node2!.transport.send([message(2, 1)]);
    await sleep(200);
    assert.equal(node1!.received.length, 1);
  });
});

describe('hostile frames close only their own connection', () => {
  test('a frame that fails to decode closes that connection; good peers keep being served', async () => {
    const { nodes, membership } = await cluster(3);
    const [node1, node2, node3] = nodes;
    const { connection, closed } = await dialAs(node2!.identity, node1!, membership);
    connection.send(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])); // a length-delimited field running past the end
    assert.equal((await closed), undefined);
    await waitFor('node 1 to close the malformed connection', () => closedWith(node1!, 'CODEC_MALFORMED'));
    assert.match(node1!.logs.find((l) => l.code === 'CODEC_MALFORMED')!.reason!, /not a valid Frame encoding/);
    node3!.transport.send([message(3, 1)]);
    await waitFor('node 3\'s message', () => node1!.received.length === 1);
    assert.equal(node1!.received[0]!.from, 3);
  });

  test('a member cannot send as another node, to another node, or a local-only message type', async () => {
    const { nodes, membership } = await cluster(3);
    const [node1, node2] = nodes;
    const cases: [Message, RegExp][] = [
      [message(3, 1), /claiming to be from node 3/],
      [message(2, 3), /for node 3 to node 1/],
      [message(2, 1, { type: 0 }), /local-only/],
      [message(2, 1, { type: 7, snapshot: { metadata: { index: 1, term: 1, confState: { voters: [1], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } }, data: new Uint8Array(1) } }), /must be streamed/],
    ];
    for (const [bad, reason] of cases) {
      const { connection, closed } = await dialAs(node2!.identity, node1!, membership);
      connection.send(encodeFrame({ messages: [message(2, 1, { commit: 99 }), bad] }));
      await closed;
      await waitFor(`refusal ${reason}`, () => node1!.logs.some((l) => l.code === 'TRANSPORT_PROTOCOL' && reason.test(l.reason ?? '')));
    }
    assert.equal(node1!.received.length, 0);
  });

  test('an oversize frame closes the connection before its body is read (authenticated; unauthenticated bytes are not TLS)', async () => {
    const { nodes, membership } = await cluster(2, { init: { maxFrameBytes: 1 << 20, snapshotChunkBytes: 512 * 1024 } });
    const [node1, node2] = nodes;
    const raw = connect({ host: '127.0.0.1', port: node1!.port });
    await new Promise<void>((resolve) => raw.on('connect', () => resolve()));
    raw.on('error', () => undefined);
    raw.write(Buffer.concat([frameHeader(0xffff_fff0), Buffer.alloc(4)])); // TLS reads a 5-byte record header first
    await new Promise<void>((resolve) => raw.on('close', () => resolve()));
    await waitFor('the raw header refused as not TLS', () => closedWith(node1!, 'TRANSPORT_NOT_TLS'));
    const { connection, closed } = await dialAs(node2!.identity, node1!, membership);
    connection.socket.write(frameHeader((1 << 20) + 1));
    await closed;
    await waitFor('authenticated oversize refusal', () => node1!.logs.some((l) => /1048577 bytes exceeds maxFrameBytes 1048576/.test(l.reason ?? '')));
    node2!.transport.send([message(2, 1)]);
    await waitFor('node 2 served again', () => node1!.received.length === 1);
  });

  test('a message larger than maxFrameBytes is dropped and logged by the sender, not sent', async () => {
    const { nodes } = await cluster(2, { init: { maxFrameBytes: 1 << 20, snapshotChunkBytes: 512 * 1024 } });
    const [node1, node2] = nodes;
    node1!.transport.send([message(1, 2, { type: 3, entries: [{ term: 1, index: 1, type: 0, data: new Uint8Array(2 << 20) }] }), message(1, 2)]);
    await waitFor('the small message', () => node2!.received.length === 1);
    assert.equal(node2!.received[0]!.type, 8);
    assert.ok(node1!.logs.some((l) => l.msg === 'transport: message larger than maxFrameBytes dropped'));
    assert.equal(node1!.transport.stats().droppedMessages, 1);
  });
});

const TLS_RECORD_HEADER_BYTES = 5;
const TLS_APPLICATION_DATA = 23;

/** TlsRecordSplitter cuts a byte stream into whole TLS records (5-byte header: type, version, length). */
class TlsRecordSplitter {
  private pending = Buffer.alloc(0);
  push(chunk: Buffer): Buffer[] {
    this.pending = Buffer.concat([this.pending, chunk]);
    const records: Buffer[] = [];
    while (this.pending.length >= TLS_RECORD_HEADER_BYTES && this.pending.length >= TLS_RECORD_HEADER_BYTES + this.pending.readUInt16BE(3)) {
      const length = TLS_RECORD_HEADER_BYTES + this.pending.readUInt16BE(3);
      records.push(Buffer.from(this.pending.subarray(0, length)));
      this.pending = this.pending.subarray(length);
    }
    return records;
  }
}

/**
 * startProxy forwards TCP to `port`; `alter` may rewrite the dialer's application-data TLS records
 * of the first connection (numbered from 1). The dialer's encrypted records before the listener's
 * answer to them are its handshake flight; the ones after are the frames it sends once confirmed.
 */
async function startProxy(port: number, alter: (recordNumber: number, record: Buffer) => Buffer[]): Promise<number> {
  let connections = 0;
  const server = createServer((client: Socket) => {
    const first = connections++ === 0;
    const upstream = connect({ host: '127.0.0.1', port });
    let dialerFlightSeen = false;
    let handshakeDone = false;
    const fromListener = new TlsRecordSplitter();
    const fromDialer = new TlsRecordSplitter();
    let recordNumber = 0;
    upstream.on('data', (chunk: Buffer) => {
      for (const record of fromListener.push(chunk)) {
        if (record[0] === TLS_APPLICATION_DATA && dialerFlightSeen) handshakeDone = true;
        client.write(record);
      }
    });
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('data', (chunk: Buffer) => {
      for (const record of fromDialer.push(chunk)) {
        if (record[0] !== TLS_APPLICATION_DATA || !first) {
          upstream.write(record);
        } else if (!handshakeDone) {
          dialerFlightSeen = true;
          upstream.write(record);
        } else {
          for (const out of alter(++recordNumber, record)) upstream.write(out);
        }
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const bound = server.address();
  assert.ok(bound !== null && typeof bound === 'object');
  return bound.port;
}

describe('TLS records resist tampering and replay', () => {
  // The dialer's application-data records after the handshake: 1, 2, ... (one per frame written).
  test('a flipped ciphertext bit fails authentication and closes the connection; the next connection works', async () => {
    const { nodes } = await cluster(2);
    const [node1, node2] = nodes;
    const proxyPort = await startProxy(node1!.port, (n, frame) => {
      if (n === 1) frame.writeUInt8(frame.readUInt8(10) ^ 0x04, 10);
      return [frame];
    });
    node2!.transport.setPeers(new Map([[1, { ...address(node1!), port: proxyPort }]]));
    node2!.transport.send([message(2, 1, { commit: 1 })]);
    await waitFor('decrypt failure', () => closedWith(node1!, 'TRANSPORT_DECRYPT_FAILED'));
    assert.match(node1!.logs.find((l) => l.code === 'TRANSPORT_DECRYPT_FAILED')!.reason!, /a TLS record failed authentication/);
    assert.equal(node1!.received.length, 0);
    await waitFor('node 2 to notice', () => node2!.unreachable.includes(1));
    await sleep(300);
    node2!.transport.send([message(2, 1, { commit: 2 })]);
    await waitFor('delivery over a fresh connection', () => node1!.received.length === 1);
    assert.equal(node1!.received[0]!.commit, 2);
  });

  test('a replayed record fails authentication (TLS sequence numbers); the original is delivered once', async () => {
    const { nodes } = await cluster(2);
    const [node1, node2] = nodes;
    const proxyPort = await startProxy(node1!.port, (n, frame) => (n === 1 ? [frame, frame] : [frame]));
    node2!.transport.setPeers(new Map([[1, { ...address(node1!), port: proxyPort }]]));
    node2!.transport.send([message(2, 1, { commit: 7 })]);
    await waitFor('replay refused', () => closedWith(node1!, 'TRANSPORT_DECRYPT_FAILED'));
    assert.deepEqual(node1!.received.map((m) => m.commit), [7]);
  });

  test('reordered records fail authentication', async () => {
    const { nodes } = await cluster(2);
    const [node1, node2] = nodes;
    let held: Buffer | undefined;
    const proxyPort = await startProxy(node1!.port, (n, frame) => {
      if (n === 1) { held = frame; return []; }
      if (n === 2) return [frame, held!];
      return [frame];
    });
    node2!.transport.setPeers(new Map([[1, { ...address(node1!), port: proxyPort }]]));
    node2!.transport.send([message(2, 1, { commit: 1 })]);
    await waitFor('node 2 connected', () => node2!.transport.stats().peers[1]?.connected === true);
    await sleep(50); // a separate frame (messages queued together would share one)
    node2!.transport.send([message(2, 1, { commit: 2 })]);
    await waitFor('reorder refused', () => closedWith(node1!, 'TRANSPORT_DECRYPT_FAILED'));
    assert.equal(node1!.received.length, 0);
  });
});

describe('slow and dead peers never block', () => {
  test('a black-hole peer fills only its own bounded queue; drops are counted; other peers get everything at once', async () => {
    const { nodes } = await cluster(2, { init: { maxQueueMessages: 100 } });
    const [node1, node2] = nodes;
    const hole = createServer(() => undefined); // accepts TCP, never answers the TLS handshake
    servers.push(hole);
    await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', () => resolve()));
    const holePort = (hole.address() as { port: number }).port;
    node1!.transport.setPeers(new Map([[2, address(node2!)], [3, { host: '127.0.0.1', port: holePort, publicKey: generateNodeIdentity(3).publicKey }]]));
    node1!.transport.send([message(1, 2, { commit: 0 })]);
    await waitFor('node 1 connected to node 2', () => node2!.received.length === 1);
    // 2000 messages to each peer in batches of 50, yielding between batches as a Raft loop does.
    let elapsedMs = 0;
    for (let batch = 0; batch < 40; batch++) {
      const started = performance.now();
      for (let i = 0; i < 50; i++) node1!.transport.send([message(1, 3, { commit: i }), message(1, 2, { commit: batch * 50 + i })]);
      elapsedMs += performance.now() - started;
      await sleep(1);
    }
    await waitFor('all 2000 messages at node 2', () => node2!.received.length === 2001);
    assert.deepEqual(node2!.received.slice(1).map((m) => m.commit), Array.from({ length: 2000 }, (_, i) => i));
    const peer3 = node1!.transport.stats().peers[3]!;
    assert.equal(peer3.queuedMessages, 100);
    assert.equal(peer3.droppedMessages, 1_900);
    assert.equal(node1!.transport.stats().peers[2]!.droppedMessages, 0);
    assert.deepEqual(node1!.unreachable, [3], 'overflow is reported once per episode');
    assert.ok(elapsedMs < 1000, `send() must not block: 4000 sends took ${elapsedMs.toFixed(0)} ms`);
  });

  test('idle unauthenticated sockets cannot lock members out of a full listener', async () => {
    const { nodes } = await cluster(2, { init: { maxInboundConnections: 3 } });
    const [node1, node2] = nodes;
    const idle: Socket[] = [];
    for (let i = 0; i < 5; i++) {
      const socket = connect({ host: '127.0.0.1', port: node1!.port });
      socket.on('error', () => undefined);
      await new Promise<void>((resolve) => socket.on('connect', () => resolve()));
      idle.push(socket);
    }
    await waitFor('evictions', () => (node1!.transport.stats().closedByCode.TRANSPORT_EVICTED ?? 0) === 2);
    node2!.transport.send([message(2, 1)]);
    await waitFor('the member gets in', () => node1!.received.length === 1);
    for (const socket of idle) socket.destroy();
  });

  test('a peer that stops reading (silent partition) has its connection closed after the write stall timeout, then redialled', async () => {
    const { nodes } = await cluster(2, { init: { writeStallTimeoutMs: 300, maxFrameBytes: 4 << 20, snapshotChunkBytes: 1 << 20 } });
    const [node1, node2] = nodes;
    let stalled = true;
    // The first connection goes through a proxy that stops reading once the dialer has sent more
    // than the TLS handshake takes (a few KiB), i.e. while the big messages flow.
    const proxy = createServer((client: Socket) => {
      const upstream = connect({ host: '127.0.0.1', port: node2!.port });
      upstream.on('data', (chunk) => client.write(chunk));
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.on('close', () => upstream.destroy());
      let forwardedBytes = 0;
      client.on('data', (chunk: Buffer) => {
        upstream.write(chunk);
        forwardedBytes += chunk.length;
        if (stalled && forwardedBytes > 64 * 1024) client.pause();
      });
    });
    servers.push(proxy);
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
    node1!.transport.setPeers(new Map([[2, { ...address(node2!), port: (proxy.address() as { port: number }).port }]]));
    const big = (i: number): Message => message(1, 2, { type: 3, entries: [{ term: 1, index: i, type: 0, data: new Uint8Array(1 << 20) }] });
    for (let i = 1; i <= 64; i++) {
      node1!.transport.send([big(i)]);
      await sleep(2);
    }
    await waitFor('the stalled connection to be closed', () => closedWith(node1!, 'TRANSPORT_WRITE_STALLED'), 5000);
    assert.ok(node1!.unreachable.includes(2));
    stalled = false;
    node1!.transport.setPeers(new Map([[2, address(node2!)]]));
    node1!.transport.send([message(1, 2, { commit: 77 })]);
    await waitFor('delivery after the stall', () => node2!.received.some((m) => m.commit === 77));
  });

  test('a dead peer is reported unreachable and redialled with capped exponential backoff, not in a tight loop', async () => {
    const { nodes } = await cluster(1);
    const node1 = nodes[0]!;
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const deadPort = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    node1.transport.setPeers(new Map([[2, { host: '127.0.0.1', port: deadPort, publicKey: generateNodeIdentity(2).publicKey }]]));
    const until = Date.now() + 1000;
    while (Date.now() < until) {
      node1.transport.send([message(1, 2)]);
      await sleep(5);
    }
    const failures = node1.transport.stats().peers[2]!.connectFailures;
    // reconnectBaseMs 20, max 200, equal jitter: about 10 ms, 20, 40, 80, 100+... → roughly 6..12 dials in 1 s, not ~200.
    assert.ok(failures >= 3 && failures <= 20, `expected backoff, got ${failures} dial failures in 1 s`);
    assert.ok(node1.unreachable.length >= failures - 1);
  });

  test('after a peer restarts on the same address, messages flow again', async () => {
    const { nodes, membership } = await cluster(2);
    const [node1, node2] = nodes;
    node1!.transport.send([message(1, 2, { commit: 1 })]);
    await waitFor('first delivery', () => node2!.received.length === 1);
    await node2!.transport.stop();
    const restarted = await startNode(2, membership, { identity: node2!.identity, init: { listenPort: node2!.port } });
    running.push(restarted);
    await waitFor('delivery after restart', () => {
      node1!.transport.send([message(1, 2, { commit: 2 })]);
      return restarted.received.some((m) => m.commit === 2);
    });
    assert.ok(node1!.unreachable.includes(2));
  });
});

describe('snapshots are streamed in chunks', () => {
  test('a 40 MiB snapshot crosses a 4 MiB frame limit in 1 MiB chunks, byte for byte, and its status is reported', async () => {
    const { nodes } = await cluster(2, { init: { maxFrameBytes: 4 << 20, snapshotChunkBytes: 1 << 20 } });
    const [node1, node2] = nodes;
    const data = Buffer.alloc(40 << 20);
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32BE(i, i);
    const snapshot = { metadata: { index: 100, term: 3, confState: { voters: [1, 2], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } }, data };
    node1!.transport.send([message(1, 2, { type: 7, snapshot }), message(1, 2, { type: 3, index: 100 })]);
    await waitFor('snapshot and the message after it', () => node2!.received.length === 2, 20_000);
    const [snap, after] = node2!.received;
    assert.equal(snap!.type, 7);
    assert.deepEqual(snap!.snapshot!.metadata, snapshot.metadata);
    assert.equal(createHash('sha256').update(snap!.snapshot!.data).digest('hex'), createHash('sha256').update(data).digest('hex'));
    assert.equal(after!.type, 3);
    assert.deepEqual(node1!.snapshotStatus, [{ nodeId: 2, ok: true }]);
    assert.equal(node2!.transport.stats().snapshotsReceived, 1);
  });

  test('a malformed snapshot stream closes the connection and delivers nothing', async () => {
    const { nodes, membership } = await cluster(2);
    const [node1, node2] = nodes;
    const confState = { voters: [1, 2], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
    const snap = message(2, 1, { type: 7, snapshot: { metadata: { index: 9, term: 2, confState }, data: new Uint8Array(0) } });
    const start = (totalBytes: number, data: Uint8Array): Uint8Array => encodeFrame({ snapshotChunk: { streamId: 1, message: snap, totalBytes, offset: 0, data } });
    const chunk = (offset: number, totalBytes: number, data: Uint8Array, streamId = 1): Uint8Array => encodeFrame({ snapshotChunk: { streamId, totalBytes, offset, data } });
    const cases: [Uint8Array[], RegExp][] = [
      [[chunk(5, 10, new Uint8Array(5))], /without its start/],
      [[start(10, new Uint8Array(4)), encodeFrame({ messages: [message(2, 1)] })], /messages arrived inside snapshot stream 1/],
      [[start(10, new Uint8Array(4)), chunk(4, 10, new Uint8Array(20))], /exceeds its announced 10 bytes/],
      [[start(10, new Uint8Array(4)), chunk(6, 10, new Uint8Array(2))], /offset 6, expected 4/],
      [[start(10, new Uint8Array(4)), chunk(4, 10, new Uint8Array(2), 2)], /stream 2 without its start/],
      [[start(10, new Uint8Array(4)), start(10, new Uint8Array(4))], /started inside stream 1/],
      [[encodeFrame({ snapshotChunk: { streamId: 1, message: message(2, 1), totalBytes: 1, offset: 0, data: new Uint8Array(1) } })], /must carry a MSG_SNAP message/],
    ];
    for (const [frames, reason] of cases) {
      const { connection, closed } = await dialAs(node2!.identity, node1!, membership);
      for (const frame of frames) connection.send(frame);
      await closed;
      await waitFor(`refusal ${reason}`, () => node1!.logs.some((l) => l.code === 'TRANSPORT_PROTOCOL' && reason.test(l.reason ?? '')));
    }
    assert.equal(node1!.received.length, 0);
  });

  test('a snapshot stream above the receiver\'s maxSnapshotBytes is refused and not delivered', async () => {
    const membership = new Membership();
    const node1 = await startNode(1, membership, { init: { maxFrameBytes: 1 << 20, snapshotChunkBytes: 256 * 1024 } });
    const node2 = await startNode(2, membership, { init: { maxFrameBytes: 1 << 20, snapshotChunkBytes: 256 * 1024, maxSnapshotBytes: 1 << 20 } });
    running.push(node1, node2);
    membership.add(node1.identity);
    membership.add(node2.identity);
    connectAll([node1, node2]);
    const snapshot = { metadata: { index: 5, term: 1, confState: { voters: [1, 2], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false } }, data: new Uint8Array(2 << 20) };
    node1.transport.send([message(1, 2, { type: 7, snapshot })]);
    await waitFor('refusal', () => node2.logs.some((l) => /announces 2097152 bytes, above maxSnapshotBytes 1048576/.test(l.reason ?? '')));
    assert.equal(node2.received.length, 0);
  });
});
