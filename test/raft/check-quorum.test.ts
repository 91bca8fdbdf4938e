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
