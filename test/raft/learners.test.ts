// learners.test.ts — learners (non-voting members, thesis 4.2.1): they receive and apply the
// log, never campaign, never vote in a way that counts, and never count toward commitment;
// a learner can be promoted to voter.
//
// Method: in-test networks with a learner, isolating voters to show what counts; direct steps
// into a Raft for the vote tally.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType, EMPTY_BYTES, MessageType } from '../../src/raft/index.js';
import { Network } from './support/network.js';
import { msg, newRaft, newStorage, takeMessages } from './support/raft-helpers.js';

function withLearner(): Network {
  return new Network([1, 2, 3], { learners: [3], config: () => ({ preVote: true, checkQuorum: true }) });
}

describe('learners', () => {
  test('a learner receives and applies replicated entries', () => {
    const net = withLearner();
    net.campaign(1);
    net.propose(1, 'a');
    net.propose(2, 'b');
    assert.deepEqual(net.get(3).appliedData(), ['a', 'b']);
    assert.equal(net.raw(1).status().progress.get(3)?.isLearner, true);
  });

  test('a learner never campaigns, even when every voter is gone', () => {
    const net = withLearner();
    net.campaign(1);
    net.isolate(1);
    net.isolate(2);
    net.tick(200, [3]);
    assert.equal(net.raw(3).raft.state, 'follower');
    net.get(3).node.campaign();
    assert.equal(net.raw(3).raft.state, 'follower', 'an explicit campaign is ignored too');
    assert.equal(net.delivered.filter((m) => m.from === 3 && (m.type === MessageType.Vote || m.type === MessageType.PreVote)).length, 0);
  });

  test("a learner's acknowledgement never counts toward commitment", () => {
    const net = withLearner();
    net.campaign(1);
    const committed = net.raw(1).raft.raftLog.committed;
    net.isolate(2);
    net.propose(1, 'needs a voter');
    assert.equal(net.raw(3).raft.raftLog.lastIndex(), committed + 1, 'the learner stored it');
    assert.equal(net.raw(1).raft.raftLog.committed, committed, 'but the leader did not commit it');
    net.heal();
    net.tick(1);
    assert.equal(net.raw(1).raft.raftLog.committed, committed + 1);
  });

  test('a candidate asks only voters and a learner\'s granted vote is not counted', () => {
    const { raft } = newRaft(1, [1, 2, 3], {}, newStorage([1, 2, 3], [], undefined, [4]));
    raft.step(msg({ type: MessageType.Hup, from: 1 }));
    assert.deepEqual(takeMessages(raft).map((m) => m.to), [2, 3]);
    raft.step(msg({ type: MessageType.VoteResp, from: 4, to: 1, term: 1 }));
    assert.equal(raft.state, 'candidate');
    raft.step(msg({ type: MessageType.VoteResp, from: 2, to: 1, term: 1 }));
    assert.equal(raft.state, 'leader');
  });

  test('a promoted learner becomes a voter that counts and may lead', () => {
    const net = withLearner();
    net.campaign(1);
    net.raw(1).proposeConfChange({ transition: 'auto', changes: [{ type: ConfChangeType.AddNode, nodeId: 3 }], context: EMPTY_BYTES });
    net.stabilize();
    for (const id of [1, 2, 3]) assert.deepEqual(net.raw(id).status().confState.voters, [1, 2, 3]);
    assert.equal(net.raw(3).raft.isLearner, false);
    const committed = net.raw(1).raft.raftLog.committed;
    net.isolate(2);
    net.propose(1, 'counted');
    assert.equal(net.raw(1).raft.raftLog.committed, committed + 1, 'node 3 now completes the majority');
    net.heal();
    net.raw(1).transferLeadership(3);
    net.stabilize();
    assert.equal(net.raw(3).raft.state, 'leader');
  });

  test('a voter demoted to learner stops counting', () => {
    const net = new Network([1, 2, 3], { config: () => ({ preVote: true, checkQuorum: true }) });
    net.campaign(1);
    net.raw(1).proposeConfChange({ transition: 'auto', changes: [{ type: ConfChangeType.AddLearner, nodeId: 3 }], context: EMPTY_BYTES });
    net.stabilize();
    assert.deepEqual(net.raw(1).status().confState, { voters: [1, 2], learners: [3], votersOutgoing: [], learnersNext: [], autoLeave: false });
    assert.equal(net.raw(3).raft.isLearner, true);
    assert.equal(net.raw(3).raft.promotable(), false);
  });
});
