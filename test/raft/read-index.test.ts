// read-index.test.ts — ReadIndex linearizable reads (thesis 6.4): a leader answers with its
// commit index only after committing an entry of its term and confirming leadership with a
// heartbeat round that carries the request context (safe), or at once under a lease
// (leaseBased, which needs CheckQuorum); followers forward requests to the leader.
//
// Method: in-test networks; message filters hold back heartbeat answers or acknowledgements to
// show that a read is not answered before its condition holds.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, MemoryStorage, MessageType, RawNode, SeededRandom, makeMessage } from '../../src/raft/index.js';
import { Network, bytes, confState, text } from './support/network.js';

function cluster(readOnlyOption: 'safe' | 'leaseBased' = 'safe'): Network {
  const net = new Network([1, 2, 3], { config: () => ({ preVote: true, checkQuorum: true, readOnlyOption }) });
  net.campaign(1);
  net.propose(1, 'a');
  return net;
}

describe('ReadIndex (safe)', () => {
  test('the leader answers with its commit index after a quorum acknowledges a heartbeat with the context', () => {
    const net = cluster();
    const heartbeatsBefore = net.countType(MessageType.Heartbeat);
    net.filter = (m) => m.type !== MessageType.HeartbeatResp;
    net.raw(1).readIndex(bytes('r1'));
    net.stabilize();
    assert.deepEqual(net.get(1).readStates, [], 'no answer without confirmation');
    const withContext = net.delivered.filter((m) => m.type === MessageType.Heartbeat && text(m.context) === 'r1');
    assert.equal(withContext.length, 2);
    net.filter = () => true;
    net.tick(1);
    assert.ok(net.countType(MessageType.Heartbeat) > heartbeatsBefore);
    const states = net.get(1).readStates;
    assert.equal(states.length, 1);
    assert.equal(text(states[0]!.requestContext), 'r1');
    assert.equal(states[0]!.index, net.raw(1).raft.raftLog.committed);
  });

  test('in five nodes one acknowledgement is not enough: the read waits for a majority', () => {
    const net = new Network([1, 2, 3, 4, 5], { config: () => ({ preVote: true, checkQuorum: true }) });
    net.campaign(1);
    net.filter = (m) => !(m.type === MessageType.HeartbeatResp && m.from !== 2);
    net.raw(1).readIndex(bytes('five'));
    net.stabilize();
    assert.deepEqual(net.get(1).readStates, [], 'leader and node 2 are two of five');
    net.filter = (m) => !(m.type === MessageType.HeartbeatResp && m.from !== 2 && m.from !== 3);
    net.tick(1, [1]);
    assert.deepEqual(net.get(1).readStates.map((s) => text(s.requestContext)), ['five']);
  });

  test('a follower forwards the request; the answer arrives as a ReadState on the follower', () => {
    const net = cluster();
    net.raw(2).readIndex(bytes('from-2'));
    net.stabilize();
    const states = net.get(2).readStates;
    assert.deepEqual(states.map((s) => [s.index, text(s.requestContext)]), [[net.raw(1).raft.raftLog.committed, 'from-2']]);
    assert.deepEqual(net.get(1).readStates, []);
  });

  test('a leader without a quorum never answers', () => {
    const net = cluster();
    net.isolate(2);
    net.isolate(3);
    net.raw(1).readIndex(bytes('lonely'));
    net.tick(5, [1]);
    assert.deepEqual(net.get(1).readStates, []);
  });

  test('a new leader holds reads until an entry of its term is committed', () => {
    const net = cluster();
    net.isolate(1);
    net.filter = (m) => m.type !== MessageType.AppResp;
    net.tick(40, [2, 3]);
    const leaderId = net.leaderIds().find((id) => id !== 1)!;
    net.raw(leaderId).readIndex(bytes('early'));
    net.tick(2, [2, 3]);
    assert.deepEqual(net.get(leaderId).readStates, []);
    assert.equal(net.raw(leaderId).raft.pendingReadIndexMessages.length, 1);
    net.filter = () => true;
    net.tick(2, [2, 3]);
    const states = net.get(leaderId).readStates;
    assert.equal(states.length, 1);
    assert.equal(net.raw(leaderId).raft.raftLog.termOrUndefined(states[0]!.index), net.raw(leaderId).raft.term, 'the read index covers the new term');
  });

  test('several pending reads are all answered, in order, once a later one is confirmed', () => {
    const net = cluster();
    net.filter = (m) => m.type !== MessageType.HeartbeatResp;
    for (const context of ['x', 'y', 'z']) {
      net.raw(1).readIndex(bytes(context));
      net.stabilize();
    }
    net.filter = () => true;
    net.tick(1);
    assert.deepEqual(net.get(1).readStates.map((s) => text(s.requestContext)), ['x', 'y', 'z']);
  });

  test('a follower drops a request another node sent it (taking it for the leader): it never speaks in another node\'s name', () => {
    // Found by chaos (seed 6602): node 2 stepped down while node 1's forwarded read was on its way; node 2
    // forwarded it on with from=1 and the transport stopped node 2. Its own requests still go through.
    for (const type of [MessageType.ReadIndex, MessageType.TransferLeader]) {
      const net = cluster();
      const sent: Array<[MessageType, number]> = [];
      // On the wire a ReadIndex carries no term; a TransferLeader carries the sender's.
      const term = type === MessageType.ReadIndex ? 0 : net.raw(2).raft.term;
      net.raw(2).step(makeMessage({ type, from: 3, to: 2, term, context: bytes('from-3') }));
      for (const message of net.get(2).flush()) sent.push([message.type, message.from]);
      assert.deepEqual(sent.filter(([, from]) => from !== 2), [], `${type}: nothing sent in another node's name`);
      assert.deepEqual(sent.filter(([sentType]) => sentType === type), [], `${type}: not passed on`);
    }
    const net = cluster();
    net.raw(2).readIndex(bytes('own'));
    net.stabilize();
    assert.deepEqual(net.get(2).readStates.map((s) => text(s.requestContext)), ['own'], 'its own read is still forwarded and answered');
  });

  test('a follower without a leader drops the request', () => {
    const net = new Network([1, 2, 3]);
    net.raw(2).readIndex(bytes('nobody'));
    net.stabilize();
    assert.deepEqual(net.get(2).readStates, []);
    assert.equal(net.delivered.length, 0);
  });

  test('a single-voter leader answers at once', () => {
    const net = new Network([1]);
    net.campaign(1);
    net.raw(1).readIndex(bytes('solo'));
    net.stabilize();
    assert.deepEqual(net.get(1).readStates.map((s) => [s.index, text(s.requestContext)]), [[1, 'solo']]);
  });
});

describe('ReadIndex on a learner', () => {
  test('a learner forwards its request and gets a ReadState like a follower', () => {
    const net = new Network([1, 2, 3], { learners: [3], config: () => ({ preVote: true, checkQuorum: true }) });
    net.campaign(1);
    net.raw(3).readIndex(bytes('learner'));
    net.stabilize();
    assert.deepEqual(net.get(3).readStates.map((s) => text(s.requestContext)), ['learner']);
  });
});

describe('ReadIndex (leaseBased)', () => {
  test('the leader answers at once, without a heartbeat round', () => {
    const net = cluster('leaseBased');
    const heartbeats = net.countType(MessageType.Heartbeat);
    net.raw(1).readIndex(bytes('lease'));
    net.stabilize();
    assert.equal(net.countType(MessageType.Heartbeat), heartbeats);
    assert.deepEqual(net.get(1).readStates.map((s) => [s.index, text(s.requestContext)]), [[net.raw(1).raft.raftLog.committed, 'lease']]);
  });

  test('a lease without CheckQuorum is refused at construction', () => {
    assert.throws(() => new RawNode({
      id: 1, storage: MemoryStorage.withConfState(confState([1])), random: new SeededRandom(1), readOnlyOption: 'leaseBased', checkQuorum: false,
    }), (e: unknown) => e instanceof ConfigError && /checkQuorum: expected true when readOnlyOption is 'leaseBased', got false/.test(e.message));
  });
});
