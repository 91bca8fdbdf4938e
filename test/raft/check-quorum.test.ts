// check-quorum.test.ts — CheckQuorum (thesis 6.2 and 4.2.3): a leader that has not heard from a
// quorum for an election timeout steps down; a node that heard from a leader within the minimum
// election timeout ignores vote requests (unless they come from a leadership transfer).
//
// Method: networks of RawNodes with CheckQuorum on, ticking time explicitly, and direct steps
// into a Raft for the lease rule.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CAMPAIGN_TRANSFER_CONTEXT, MessageType } from '../../src/raft/index.js';
import { Network } from './support/network.js';
import { msg, newRaft, takeMessages } from './support/raft-helpers.js';

describe('CheckQuorum', () => {
  test('an isolated leader steps down after one election timeout without a quorum', () => {
    const net = new Network([1, 2, 3], { config: () => ({ checkQuorum: true, preVote: true }) });
    net.campaign(1);
    net.isolate(1);
    // The first check finds the peers active (they answered before), the next one does not.
    net.tick(10, [1]);
    assert.equal(net.raw(1).raft.state, 'leader');
    net.tick(10, [1]);
    assert.equal(net.raw(1).raft.state, 'follower');
  });

  test('a leader with a live quorum stays leader across many election timeouts', () => {
    const net = new Network([1, 2, 3], { config: () => ({ checkQuorum: true, preVote: true }) });
    net.campaign(1);
    net.isolate(3);
    net.tick(200, [1, 2]);
    assert.equal(net.raw(1).raft.state, 'leader');
    assert.equal(net.raw(1).raft.term, 1);
  });

  test('control: without CheckQuorum an isolated leader stays leader', () => {
    const net = new Network([1, 2, 3], { config: () => ({ checkQuorum: false, preVote: false }) });
    net.campaign(1);
    net.isolate(1);
    net.tick(100, [1]);
    assert.equal(net.raw(1).raft.state, 'leader');
  });

  test('a follower in its leader lease ignores a Vote with a higher term; after the lease it votes', () => {
    const { raft } = newRaft(1, [1, 2, 3], { checkQuorum: true });
    raft.becomeFollower(1, 2);
    raft.step(msg({ type: MessageType.Heartbeat, from: 2, to: 1, term: 1 }));
    takeMessages(raft);
    raft.step(msg({ type: MessageType.Vote, from: 3, to: 1, term: 2, index: 0, logTerm: 0 }));
    assert.deepEqual(takeMessages(raft), [], 'no response while in lease');
    assert.equal(raft.term, 1);
    for (let i = 0; i < 10; i++) raft.tick();
    raft.step(msg({ type: MessageType.Vote, from: 3, to: 1, term: 2, index: 0, logTerm: 0 }));
    const out = takeMessages(raft).filter((m) => m.type === MessageType.VoteResp);
    assert.deepEqual(out.map((m) => [m.term, m.reject]), [[2, false]]);
  });

  test('a Vote carrying the leadership-transfer context is honoured even in the lease', () => {
    const { raft } = newRaft(1, [1, 2, 3], { checkQuorum: true });
    raft.becomeFollower(1, 2);
    raft.step(msg({ type: MessageType.Vote, from: 3, to: 1, term: 2, index: 0, logTerm: 0, context: CAMPAIGN_TRANSFER_CONTEXT }));
    const out = takeMessages(raft);
    assert.deepEqual(out.map((m) => [m.type, m.term, m.reject]), [[MessageType.VoteResp, 2, false]]);
  });

  test('a stuck candidate with a higher term is freed: the leader learns the term from its answer and a new election settles it', () => {
    const net = new Network([1, 2, 3], { config: () => ({ checkQuorum: true, preVote: false }) });
    net.campaign(1);
    net.isolate(3);
    net.tick(60, [3]);
    const stuckTerm = net.raw(3).raft.term;
    assert.ok(stuckTerm > 1);
    assert.equal(net.raw(3).raft.state, 'candidate');
    net.heal();
    // The leader's heartbeat reaches 3, which answers with its higher term: the leader steps down.
    net.tick(1, [1]);
    assert.equal(net.raw(1).raft.state, 'follower');
    assert.equal(net.raw(1).raft.term, stuckTerm);
    net.tick(40);
    assert.equal(net.leaderIds().length, 1);
    net.propose(net.leaderIds()[0]!, 'x');
    for (const id of [1, 2, 3]) assert.deepEqual(net.get(id).appliedData(), ['x']);
  });
});

// leaderLost (RawNode.leaderLost): the host's hint that a follower's leader is gone — the follower
// forgets the lease it was honouring and campaigns within the ticks it is given, never inside the call.
describe('leaderLost', () => {
  const follower = (readOnlyOption: 'safe' | 'leaseBased' = 'safe'): ReturnType<typeof newRaft>['raft'] => {
    const { raft } = newRaft(1, [1, 2, 3], { checkQuorum: true, preVote: true, readOnlyOption });
    raft.becomeFollower(1, 2);
    raft.step(msg({ type: MessageType.Heartbeat, from: 2, to: 1, term: 1 }));
    takeMessages(raft);
    return raft;
  };
  const preVoteFrom3 = (raft: ReturnType<typeof newRaft>['raft']): Array<[MessageType, boolean]> => {
    raft.step(msg({ type: MessageType.PreVote, from: 3, to: 1, term: 2, index: 0, logTerm: 0 }));
    return takeMessages(raft).filter((m) => m.type === MessageType.PreVoteResp).map((m) => [m.type, m.reject]);
  };

  test('a follower in its lease ignores a pre-vote; after leaderLost it grants it at once', () => {
    const inLease = follower();
    assert.deepEqual(preVoteFrom3(inLease), [], 'in the lease the pre-vote is ignored');
    const told = follower();
    assert.equal(told.leaderLost(2, 5), true);
    assert.equal(told.lead, 0, 'the leader is forgotten');
    assert.deepEqual(preVoteFrom3(told), [[MessageType.PreVoteResp, false]]);
  });

  test('it campaigns within the given ticks, not inside the call and not before its turn', () => {
    for (const within of [1, 3, 7]) {
      const raft = follower();
      raft.leaderLost(2, within);
      assert.equal(raft.state, 'follower', 'no campaign inside the call');
      for (let i = 1; i < within; i++) {
        raft.tick();
        assert.equal(raft.state, 'follower', `campaigned after ${i} of ${within} ticks`);
      }
      raft.tick();
      assert.equal(raft.state, 'preCandidate', `no campaign after ${within} ticks`);
    }
  });

  test('only a follower of that leader acts; under leaseBased reads the lease is kept and only the clock moves', () => {
    const raft = follower();
    assert.equal(raft.leaderLost(3, 2), false, 'node 3 is not its leader');
    assert.equal(raft.lead, 2);
    const { raft: leader } = newRaft(1, [1, 2, 3], { checkQuorum: true, preVote: true });
    leader.becomeCandidate();
    leader.becomeLeader();
    assert.equal(leader.leaderLost(1, 2), false);
    assert.equal(leader.state, 'leader');
    const leased = follower('leaseBased');
    assert.equal(leased.leaderLost(2, 2), true);
    assert.equal(leased.lead, 2, 'a lease-based reader keeps its leader');
    assert.throws(() => follower().leaderLost(2, 0), /withinTicks must be an integer >= 1/);
  });
});
