// leader-transfer.test.ts — leadership transfer (thesis 3.10): the leader brings the transferee
// up to date, sends TimeoutNow, and the transferee wins at once (its Vote carries the transfer
// context, so leases do not block it); proposals are refused meanwhile; a transfer that does
// not finish within an election timeout is abandoned.
//
// Method: in-test networks with PreVote and CheckQuorum on (the production defaults).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType, EMPTY_BYTES, MessageType, NONE, ProposalDroppedError } from '../../src/raft/index.js';
import { Network, bytes } from './support/network.js';

function cluster(): Network {
  const net = new Network([1, 2, 3], { config: () => ({ preVote: true, checkQuorum: true }) });
  net.campaign(1);
  net.propose(1, 'a');
  return net;
}

describe('leadership transfer', () => {
  test('to an up-to-date follower: TimeoutNow, and it wins the next term at once despite leases', () => {
    const net = cluster();
    net.raw(1).transferLeadership(2);
    net.stabilize();
    assert.deepEqual(net.leaderIds(), [2]);
    assert.equal(net.raw(2).raft.term, 2);
    assert.equal(net.countType(MessageType.TimeoutNow), 1);
    net.propose(2, 'b');
    for (const id of [1, 2, 3]) assert.deepEqual(net.get(id).appliedData(), ['a', 'b']);
  });

  test('to a lagging follower: the leader first catches it up, refusing proposals meanwhile', () => {
    const net = cluster();
    net.isolate(3);
    net.propose(1, 'b');
    net.propose(1, 'c');
    net.raw(1).transferLeadership(3);
    net.stabilize();
    assert.equal(net.raw(1).raft.leadTransferee, 3);
    assert.throws(() => net.raw(1).propose(bytes('refused')), (e: unknown) => e instanceof ProposalDroppedError && e.reason === 'transferring');
    net.heal();
    net.tick(1);
    assert.deepEqual(net.leaderIds(), [3]);
    assert.deepEqual(net.get(3).appliedData(), ['a', 'b', 'c']);
  });

  test('a transfer that does not finish within an election timeout is abandoned', () => {
    const net = cluster();
    net.isolate(3);
    net.raw(1).transferLeadership(3);
    net.tick(10, [1, 2]);
    assert.equal(net.raw(1).raft.leadTransferee, NONE);
    assert.deepEqual(net.leaderIds(), [1]);
    net.propose(1, 'accepted again');
    assert.deepEqual(net.get(2).appliedData(), ['a', 'accepted again']);
  });

  test('a follower drops the request (only the leader transfers): forwarding it would speak in the transferee\'s name', () => {
    const net = cluster();
    net.raw(2).transferLeadership(3);
    assert.deepEqual(net.get(2).flush().filter((m) => m.from !== 2), [], 'nothing sent in another node\'s name');
    net.stabilize();
    assert.deepEqual(net.leaderIds(), [1]);
    net.raw(1).transferLeadership(3);
    net.stabilize();
    assert.deepEqual(net.leaderIds(), [3], 'asked of the leader, the transfer happens');
  });

  test('a new request for another node replaces the pending one', () => {
    const net = cluster();
    net.isolate(3);
    net.raw(1).transferLeadership(3);
    net.stabilize();
    net.raw(1).transferLeadership(2);
    net.stabilize();
    assert.deepEqual(net.leaderIds(), [2]);
  });

  test('requests for itself, a learner or a non-member are ignored', () => {
    const net = new Network([1, 2, 3], { learners: [3], config: () => ({ preVote: true, checkQuorum: true }) });
    net.campaign(1);
    for (const target of [1, 3, 9]) {
      net.raw(1).transferLeadership(target);
      net.stabilize();
      assert.deepEqual(net.leaderIds(), [1]);
      assert.equal(net.raw(1).raft.leadTransferee, NONE);
    }
  });

  test('removing the transferee aborts the transfer', () => {
    const net = cluster();
    net.isolate(3);
    net.raw(1).proposeConfChange({ transition: 'auto', changes: [{ type: ConfChangeType.RemoveNode, nodeId: 3 }], context: EMPTY_BYTES });
    net.raw(1).transferLeadership(3); // races the removal, which commits first
    assert.equal(net.raw(1).raft.leadTransferee, 3);
    net.stabilize();
    assert.deepEqual(net.raw(1).status().confState.voters, [1, 2]);
    assert.equal(net.raw(1).raft.leadTransferee, NONE);
    assert.deepEqual(net.leaderIds(), [1]);
  });
});
