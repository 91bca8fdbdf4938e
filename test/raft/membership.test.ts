// membership.test.ts — membership changes through the log: one-at-a-time changes (thesis 4.1),
// joint consensus entered and left automatically or explicitly (thesis 4.3), never two changes
// pending at once, the first change of a term waiting for an entry of that term, removal of a
// follower and of the leader, a refused proposal leaving no change pending, and a new member
// caught up by snapshot.
//
// Method: in-test networks (founders bootstrapped with a snapshot at index 1, so joiners start
// from an empty storage), proposals through RawNode.proposeConfChange, and checks of every
// node's configuration, commitment and refusals.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfChangeError, ConfChangeType, EMPTY_BYTES, MemoryStorage, MessageType, ProposalDroppedError, RawNode, SeededRandom, confChangeEntry, makeMessage,
} from '../../src/raft/index.js';
import type { ConfChange, ConfChangeSingle, ConfChangeTransition, NodeId } from '../../src/raft/index.js';
import { Network } from './support/network.js';

const add = (nodeId: NodeId): ConfChangeSingle => ({ type: ConfChangeType.AddNode, nodeId });
const remove = (nodeId: NodeId): ConfChangeSingle => ({ type: ConfChangeType.RemoveNode, nodeId });
const change = (changes: ConfChangeSingle[], transition: ConfChangeTransition = 'auto'): ConfChange => ({ transition, changes, context: EMPTY_BYTES });

function cluster(ids: NodeId[] = [1, 2, 3]): Network {
  const net = new Network(ids, { bootstrap: true, config: () => ({ preVote: true, checkQuorum: true }) });
  net.campaign(1);
  return net;
}

function isDropped(reason: string) {
  return (error: unknown): boolean => error instanceof ProposalDroppedError && error.reason === reason;
}

describe('membership changes', () => {
  test('adding a voter one at a time: the joiner is caught up by snapshot and then counts in the quorum', () => {
    const net = cluster();
    net.propose(1, 'before');
    net.add(4, new MemoryStorage(), { config: () => ({ preVote: true, checkQuorum: true }) });
    net.raw(1).proposeConfChange(change([add(4)]));
    net.stabilize();
    net.tick(2);
    for (const id of [1, 2, 3, 4]) assert.deepEqual(net.raw(id).status().confState.voters, [1, 2, 3, 4], `node ${id}`);
    assert.ok(net.delivered.some((m) => m.type === MessageType.Snap && m.to === 4), 'the joiner got a snapshot');
    net.propose(1, 'after');
    assert.deepEqual(net.get(4).snapshotsApplied, [1], 'the founding snapshot');
    assert.deepEqual(net.get(4).appliedData(), ['before', 'after'], 'then every entry after it');
    // With four voters a quorum is three: 1 and 2 alone cannot commit.
    const committed = net.raw(1).raft.raftLog.committed;
    net.isolate(3);
    net.isolate(4);
    net.propose(1, 'needs three');
    assert.equal(net.raw(1).raft.raftLog.committed, committed);
    net.heal();
    net.isolate(3);
    net.tick(1);
    assert.equal(net.raw(1).raft.raftLog.committed, committed + 1, 'node 4 completes the quorum');
  });

  test('removing a follower: the rest commit without it, and it never campaigns', () => {
    const net = cluster();
    net.raw(1).proposeConfChange(change([remove(3)]));
    net.stabilize();
    assert.deepEqual(net.raw(1).status().confState.voters, [1, 2]);
    net.isolate(3);
    net.propose(1, 'without 3');
    assert.deepEqual(net.get(2).appliedData(), ['without 3']);
    net.tick(100, [3]);
    assert.notEqual(net.raw(3).raft.state, 'leader');
    assert.equal(net.delivered.filter((m) => m.from === 3 && (m.type === MessageType.Vote || m.type === MessageType.PreVote)).length, 0);
    assert.throws(() => net.raw(3).propose(new Uint8Array([1])), isDropped('removed'));
  });

  test('removing the leader: it steps down once the change is applied and the others elect a leader', () => {
    const net = cluster();
    net.raw(1).proposeConfChange(change([remove(1)]));
    net.stabilize();
    assert.equal(net.raw(1).raft.state, 'follower');
    assert.deepEqual(net.raw(2).status().confState.voters, [2, 3]);
    net.tick(40);
    const leaders = net.leaderIds();
    assert.equal(leaders.length, 1);
    assert.ok(leaders[0] === 2 || leaders[0] === 3);
    net.propose(leaders[0]!, 'new era');
    assert.deepEqual(net.get(2).appliedData(), ['new era']);
  });

  test('a second change is refused while one is pending (applied < pendingConfIndex)', () => {
    const net = cluster();
    const leader = net.raw(1);
    leader.proposeConfChange(change([add(4)]));
    assert.throws(() => leader.proposeConfChange(change([add(5)])), isDropped('conf-change-pending'));
    net.stabilize();
    // Applied now: the next change is accepted.
    leader.proposeConfChange(change([remove(4)]));
    net.stabilize();
    assert.deepEqual(leader.status().confState.voters, [1, 2, 3]);
  });

  test('a refused proposal leaves no change pending: after a Prop carrying two changes is refused, the next change is accepted', () => {
    const net = cluster();
    net.stabilize();
    const leader = net.raw(1);
    const lastIndex = leader.raft.raftLog.lastIndex();
    const twoChanges = makeMessage({ type: MessageType.Prop, from: 1, entries: [confChangeEntry(change([add(4)])), confChangeEntry(change([add(5)]))] });
    assert.throws(() => leader.raft.step(twoChanges), isDropped('conf-change-pending'));
    assert.equal(leader.raft.raftLog.lastIndex(), lastIndex, 'nothing appended');
    assert.equal(leader.raft.pendingConfIndex <= leader.raft.raftLog.applied, true, 'no change pending');
    leader.proposeConfChange(change([add(4)]));
    net.stabilize();
    assert.deepEqual(leader.status().confState.voters, [1, 2, 3, 4]);
  });

  test('a conf change refused by the uncommitted-entries limit leaves no change pending', () => {
    const net = new Network([1, 2, 3], { bootstrap: true, config: () => ({ maxUncommittedEntriesBytes: 64 }) });
    net.campaign(1);
    net.stabilize();
    net.isolate(2);
    net.isolate(3);
    const leader = net.raw(1);
    leader.propose(new Uint8Array(100));
    assert.throws(() => leader.proposeConfChange(change([add(4)])), isDropped('uncommitted-limit'));
    assert.equal(leader.raft.pendingConfIndex <= leader.raft.raftLog.applied, true, 'no change pending');
    net.heal();
    net.tick(2);
    net.stabilize();
    leader.proposeConfChange(change([add(4)]));
    net.stabilize();
    assert.deepEqual(leader.status().confState.voters, [1, 2, 3, 4]);
  });

  test("a new leader's first change waits until an entry of its own term is applied", () => {
    const net = cluster();
    net.propose(1, 'x');
    net.isolate(1);
    // Acknowledgements are lost: the new leader's term-start entry cannot commit yet.
    net.filter = (m) => m.type !== MessageType.AppResp;
    net.tick(40, [2, 3]);
    const leaderId = net.leaderIds().find((id) => id !== 1)!;
    const leader = net.raw(leaderId);
    assert.equal(leader.raft.committedEntryInCurrentTerm(), false);
    assert.throws(() => leader.proposeConfChange(change([add(4)])), isDropped('conf-change-pending'));
    net.filter = () => true;
    net.tick(1, [2, 3]);
    assert.equal(leader.raft.committedEntryInCurrentTerm(), true);
    leader.proposeConfChange(change([add(4)]));
  });

  test('joint consensus, left automatically: replacing two voters passes through a joint configuration', () => {
    const net = cluster([1, 2, 3]);
    for (const id of [4, 5]) net.add(id, new MemoryStorage(), { config: () => ({ preVote: true, checkQuorum: true }) });
    net.raw(1).proposeConfChange(change([remove(2), remove(3), add(4), add(5)]));
    net.stabilize();
    net.tick(3);
    const seen = net.get(1).confStates;
    assert.deepEqual(seen[0], { voters: [1, 4, 5], votersOutgoing: [1, 2, 3], learners: [], learnersNext: [], autoLeave: true });
    assert.deepEqual(seen[1], { voters: [1, 4, 5], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false });
    for (const id of [1, 4, 5]) assert.deepEqual(net.raw(id).status().confState.voters, [1, 4, 5]);
    net.isolate(2);
    net.isolate(3);
    net.propose(1, 'new config');
    assert.deepEqual(net.get(5).appliedData(), ['new config']);
  });

  test('in a joint configuration both majorities are needed to commit', () => {
    const net = cluster([1, 2, 3]);
    for (const id of [4, 5]) net.add(id, new MemoryStorage(), { config: () => ({ preVote: true, checkQuorum: true }) });
    net.raw(1).proposeConfChange(change([remove(2), remove(3), add(4), add(5)], 'explicit'));
    net.stabilize();
    assert.deepEqual(net.raw(1).status().confState.votersOutgoing, [1, 2, 3]);
    const committed = net.raw(1).raft.raftLog.committed;
    // 1, 4, 5 are a majority of the new config but only one of the old one.
    net.isolate(2);
    net.isolate(3);
    net.propose(1, 'joint A');
    assert.equal(net.raw(1).raft.raftLog.committed, committed, 'new majority alone is not enough');
    net.heal();
    net.tick(1);
    assert.equal(net.raw(1).raft.raftLog.committed, committed + 1);
    // 1, 2, 3 are a majority of the old config but only one of the new one.
    net.isolate(4);
    net.isolate(5);
    net.propose(1, 'joint B');
    assert.equal(net.raw(1).raft.raftLog.committed, committed + 1, 'old majority alone is not enough either');
    net.heal();
    net.tick(1);
    assert.equal(net.raw(1).raft.raftLog.committed, committed + 2);
  });

  test('an explicit joint configuration stays until an empty change leaves it; other changes are refused meanwhile', () => {
    const net = cluster([1, 2, 3]);
    net.add(4, new MemoryStorage(), { config: () => ({ preVote: true, checkQuorum: true }) });
    net.raw(1).proposeConfChange(change([add(4)], 'explicit'));
    net.stabilize();
    net.tick(5);
    assert.deepEqual(net.raw(1).status().confState.votersOutgoing, [1, 2, 3]);
    assert.throws(() => net.raw(1).proposeConfChange(change([remove(3)])), ConfChangeError);
    net.raw(1).proposeConfChange(change([]));
    net.stabilize();
    assert.deepEqual(net.raw(1).status().confState, { voters: [1, 2, 3, 4], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false });
    assert.throws(() => net.raw(1).proposeConfChange(change([])), ConfChangeError, 'leaving a non-joint config is invalid');
  });

  test('a change that would remove every voter is refused at proposal time with ConfChangeError', () => {
    const net = cluster([1]);
    assert.throws(() => net.raw(1).proposeConfChange(change([remove(1)])), (e: unknown) => e instanceof ConfChangeError && /removed all voters/.test(e.message));
    assert.deepEqual(net.raw(1).status().confState.voters, [1]);
  });
  test('removing a silent voter lets the commit index advance over entries it never acknowledged', () => {
    const net = new Network([1, 2], { config: () => ({ preVote: false, checkQuorum: false }) });
    net.campaign(1);
    net.isolate(2);
    net.propose(1, 'stuck');
    const committed = net.raw(1).raft.raftLog.committed;
    const lastIndex = net.raw(1).raft.raftLog.lastIndex();
    assert.equal(committed, lastIndex - 1, 'two voters: needs node 2');
    // Apply the removal directly (as if committed): the quorum shrinks to node 1 alone.
    net.raw(1).applyConfChange(change([remove(2)]));
    assert.equal(net.raw(1).raft.raftLog.committed, lastIndex);
  });
  test('a node with a committed but unapplied conf change does not campaign (its configuration may be stale)', () => {
    const storage = MemoryStorage.withConfState({ voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false });
    storage.append([{ ...confChangeEntry(change([remove(3)])), index: 1, term: 1 }]);
    storage.setHardState({ term: 1, vote: 0, commit: 1 });
    const node = new RawNode({ id: 1, storage, random: new SeededRandom(1) });
    node.campaign();
    assert.equal(node.raft.state, 'follower');
    const ready = node.ready();
    assert.equal(ready.committedEntries.length, 1);
    node.applyConfChange(change([remove(3)]));
    node.advance();
    node.campaign();
    assert.notEqual(node.raft.state, 'follower', 'once applied, it campaigns');
  });
  test('the leader itself refuses a change that is not a leave while joint, and a leave while not joint', () => {
    // RawNode.proposeConfChange validates first; a forwarded proposal reaches the leader's own check.
    const net = cluster([1, 2, 3]);
    net.raw(1).proposeConfChange(change([add(4)], 'explicit'));
    net.stabilize();
    const propose = (cc: ConfChange) => net.raw(1).raft.step({
      type: MessageType.Prop, from: 1, to: 1, term: 0, logTerm: 0, index: 0, commit: 0, reject: false, rejectHint: 0,
      context: EMPTY_BYTES, entries: [confChangeEntry(cc)],
    });
    assert.throws(() => propose(change([add(5)])), (e: unknown) => e instanceof ProposalDroppedError && /must transition out of joint config first/.test(e.message));
    propose(change([]));
    net.stabilize();
    assert.throws(() => propose(change([])), (e: unknown) => e instanceof ProposalDroppedError && /not in joint state/.test(e.message));
  });
});
