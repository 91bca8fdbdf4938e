// prevote.test.ts — PreVote (thesis 9.6): a node first asks whether it could win, without
// raising any term, so a partitioned node that rejoins cannot disrupt a healthy leader.
//
// Method: networks of RawNodes with PreVote on (and a control with it off, to show the test
// can fail), plus direct steps into a Raft for the vote rules.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType } from '../../src/raft/index.js';
import { Network } from './support/network.js';
import { entriesWithTerms, msg, newRaft, newStorage, takeMessages } from './support/raft-helpers.js';

function cluster(preVote: boolean): Network {
  return new Network([1, 2, 3], { config: () => ({ preVote, checkQuorum: false }) });
}

describe('PreVote', () => {
  test('an isolated node campaigning repeatedly does not raise its term, and does not disrupt the leader on return', () => {
    const net = cluster(true);
    net.campaign(1);
    net.isolate(3);
    net.tick(100, [3]);
    assert.equal(net.raw(3).raft.term, 1, 'pre-votes never raise the term');
    assert.equal(net.raw(3).raft.state, 'preCandidate');
    net.heal();
    net.tick(5);
    assert.deepEqual(net.leaderIds(), [1]);
    assert.equal(net.raw(1).raft.term, 1);
    net.propose(1, 'after');
    assert.deepEqual(net.get(3).appliedData(), ['after']);
  });

  test('control: without PreVote the same returning node forces a new term (the disruption PreVote prevents)', () => {
    const net = cluster(false);
    net.campaign(1);
    net.isolate(3);
    net.tick(100, [3]);
    assert.ok(net.raw(3).raft.term > 1);
    net.heal();
    net.tick(20);
    assert.ok(net.raw(1).raft.term > 1, 'the old leader was deposed by the higher term');
  });

  test('a pre-candidate becomes candidate, then leader, after a majority of pre-votes', () => {
    const { raft } = newRaft(1, [1, 2, 3], { preVote: true });
    raft.step(msg({ type: MessageType.Hup, from: 1 }));
    assert.equal(raft.state, 'preCandidate');
    assert.equal(raft.term, 0);
    const preVotes = takeMessages(raft);
    assert.deepEqual(preVotes.map((m) => [m.type, m.to, m.term]), [[MessageType.PreVote, 2, 1], [MessageType.PreVote, 3, 1]]);
    raft.step(msg({ type: MessageType.PreVoteResp, from: 2, to: 1, term: 1 }));
    assert.equal(raft.state, 'candidate');
    assert.equal(raft.term, 1);
    assert.deepEqual(takeMessages(raft).map((m) => [m.type, m.to, m.term]), [[MessageType.Vote, 2, 1], [MessageType.Vote, 3, 1]]);
    raft.step(msg({ type: MessageType.VoteResp, from: 3, to: 1, term: 1 }));
    assert.equal(raft.state, 'leader');
  });

  test('a pre-vote for a future term is granted even after voting in the current term, and changes neither term nor vote', () => {
    const { raft } = newRaft(1, [1, 2, 3], { preVote: true }, newStorage([1, 2, 3], [], { term: 2, vote: 3, commit: 0 }));
    raft.step(msg({ type: MessageType.PreVote, from: 2, to: 1, term: 3, index: 0, logTerm: 0 }));
    const out = takeMessages(raft);
    assert.deepEqual(out.map((m) => [m.type, m.term, m.reject]), [[MessageType.PreVoteResp, 3, false]]);
    assert.equal(raft.term, 2);
    assert.equal(raft.vote, 3);
  });

  test('a pre-vote from a candidate with a stale log is rejected (the election restriction applies)', () => {
    const { raft } = newRaft(1, [1, 2, 3], { preVote: true }, newStorage([1, 2, 3], entriesWithTerms([1, 2]), { term: 2, vote: 0, commit: 0 }));
    raft.step(msg({ type: MessageType.PreVote, from: 2, to: 1, term: 3, index: 1, logTerm: 1 }));
    const out = takeMessages(raft);
    assert.deepEqual(out.map((m) => [m.type, m.term, m.reject]), [[MessageType.PreVoteResp, 2, true]]);
  });

  test('a pre-vote with a stale term is rejected with the current term, so the pre-candidate catches up', () => {
    const { raft } = newRaft(1, [1, 2, 3], { preVote: true }, newStorage([1, 2, 3], [], { term: 5, vote: 0, commit: 0 }));
    raft.step(msg({ type: MessageType.PreVote, from: 2, to: 1, term: 3 }));
    assert.deepEqual(takeMessages(raft).map((m) => [m.type, m.term, m.reject]), [[MessageType.PreVoteResp, 5, true]]);
    const { raft: candidate } = newRaft(2, [1, 2, 3], { preVote: true }, newStorage([1, 2, 3], [], { term: 2, vote: 0, commit: 0 }));
    candidate.step(msg({ type: MessageType.Hup, from: 2 }));
    candidate.step(msg({ type: MessageType.PreVoteResp, from: 1, to: 2, term: 5, reject: true }));
    assert.equal(candidate.state, 'follower');
    assert.equal(candidate.term, 5);
  });

  test('a pre-candidate loses when a majority rejects, and returns to follower at its term', () => {
    const { raft } = newRaft(1, [1, 2, 3], { preVote: true }, newStorage([1, 2, 3], [], { term: 1, vote: 0, commit: 0 }));
    raft.step(msg({ type: MessageType.Hup, from: 1 }));
    // Voters reject with their own term (1): a rejection, not news of a higher term.
    raft.step(msg({ type: MessageType.PreVoteResp, from: 2, to: 1, term: 1, reject: true }));
    assert.equal(raft.state, 'preCandidate');
    raft.step(msg({ type: MessageType.PreVoteResp, from: 3, to: 1, term: 1, reject: true }));
    assert.equal(raft.state, 'follower');
    assert.equal(raft.term, 1);
  });
  test('with PreVote and CheckQuorum a follower that missed entries cannot disrupt the leader, and catches up', () => {
    const net = new Network([1, 2, 3], { config: () => ({ preVote: true, checkQuorum: true }) });
    net.campaign(1);
    net.cutLink(1, 3);
    net.propose(1, 'a');
    net.tick(40);
    assert.deepEqual(net.leaderIds(), [1], 'node 3 times out, but its pre-votes are refused (lease, and a stale log)');
    assert.equal(net.raw(1).raft.term, 1);
    net.heal();
    net.tick(2);
    assert.deepEqual(net.get(3).appliedData(), ['a']);
  });

  test('two nodes campaigning at once: at most one leader per term, and the cluster converges', () => {
    const net = new Network([1, 2, 3], { config: () => ({ preVote: true, checkQuorum: true }) });
    net.get(1).node.campaign();
    net.get(3).node.campaign();
    net.stabilize();
    net.tick(40);
    const leaders = net.leaderIds();
    assert.equal(leaders.length, 1);
    const term = net.raw(leaders[0]!).raft.term;
    for (const id of [1, 2, 3]) assert.equal(net.raw(id).raft.term, term);
  });
});
