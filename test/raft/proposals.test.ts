// proposals.test.ts — when proposals are accepted, forwarded or refused: refusals throw
// ProposalDroppedError with a stable code and a reason for each case (no leader, transfer in
// progress, uncommitted bytes bound, conf change pending, forwarding disabled, removed node),
// followers forward to the leader, and a forwarded proposal the leader refuses is dropped
// without disturbing the leader.
//
// Method: in-test networks and single Raft instances; each refusal is provoked directly.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType, EMPTY_BYTES, InvalidMessageError, MessageType, ProposalDroppedError } from '../../src/raft/index.js';
import type { ProposalDropReason } from '../../src/raft/index.js';
import { Network, bytes } from './support/network.js';
import { newRaft, msg, entry } from './support/raft-helpers.js';

function dropped(reason: ProposalDropReason) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof ProposalDroppedError, `expected ProposalDroppedError, got ${String(error)}`);
    assert.equal(error.code, 'RAFT_PROPOSAL_DROPPED');
    assert.equal(error.reason, reason);
    assert.match(error.message, new RegExp(`proposal dropped \\(${reason}\\)`));
    return true;
  };
}

describe('proposals', () => {
  test('a follower forwards a proposal to the leader, which commits it', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    net.propose(3, 'forwarded');
    assert.ok(net.delivered.some((m) => m.type === MessageType.Prop && m.from === 3 && m.to === 1 && m.term === 0));
    for (const id of [1, 2, 3]) assert.deepEqual(net.get(id).appliedData(), ['forwarded']);
  });

  test('a batch of proposals is appended in one step, replicated in one message per follower, and committed in order', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    const before = net.delivered.length;
    net.get(1).node.proposeBatch(['a', 'b', 'c'].map(bytes));
    net.stabilize();
    const appends = net.delivered.slice(before).filter((m) => m.type === MessageType.App && m.from === 1 && m.entries.length > 0);
    assert.equal(appends.length, 2, 'one App message per follower carries the whole batch');
    assert.deepEqual(appends.map((m) => m.entries.length), [3, 3]);
    for (const id of [1, 2, 3]) assert.deepEqual(net.get(id).appliedData(), ['a', 'b', 'c']);
  });

  test("refused with 'no-leader' by a follower that knows no leader, and by a (pre-)candidate", () => {
    const follower = newRaft(1, [1, 2, 3]).raft;
    assert.throws(() => follower.step(msg({ type: MessageType.Prop, from: 1, entries: [entry(0, 0, 'x')] })), dropped('no-leader'));
    const candidate = newRaft(1, [1, 2, 3]).raft;
    candidate.becomeCandidate();
    assert.throws(() => candidate.step(msg({ type: MessageType.Prop, from: 1, entries: [entry(0, 0, 'x')] })), dropped('no-leader'));
    const preCandidate = newRaft(1, [1, 2, 3], { preVote: true }).raft;
    preCandidate.step(msg({ type: MessageType.Hup, from: 1 }));
    assert.equal(preCandidate.state, 'preCandidate');
    assert.throws(() => preCandidate.step(msg({ type: MessageType.Prop, from: 1, entries: [entry(0, 0, 'x')] })), dropped('no-leader'));
  });

  test("refused with 'not-leader-no-forwarding' by a follower when forwarding is disabled", () => {
    const net = new Network([1, 2, 3], { config: (id) => ({ disableProposalForwarding: id === 2 }) });
    net.campaign(1);
    assert.throws(() => net.raw(2).propose(bytes('x')), dropped('not-leader-no-forwarding'));
    net.propose(3, 'fine');
    assert.deepEqual(net.get(1).appliedData(), ['fine']);
  });

  test("refused with 'transferring' during a leadership transfer", () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    net.isolate(3);
    net.propose(1, 'lag');
    net.raw(1).transferLeadership(3);
    assert.throws(() => net.raw(1).propose(bytes('x')), dropped('transferring'));
  });

  test("refused with 'uncommitted-limit' beyond maxUncommittedEntriesBytes, accepted again once applied", () => {
    const net = new Network([1, 2, 3], { config: () => ({ maxUncommittedEntriesBytes: 100 }) });
    net.campaign(1);
    net.isolate(2);
    net.isolate(3);
    const leader = net.raw(1);
    leader.propose(new Uint8Array(60));
    assert.throws(() => leader.propose(new Uint8Array(60)), dropped('uncommitted-limit'));
    leader.propose(new Uint8Array(40)); // exactly at the bound
    assert.throws(() => leader.propose(new Uint8Array(1)), dropped('uncommitted-limit'));
    net.heal();
    net.tick(1);
    assert.equal(leader.raft.uncommittedSize, 0, 'applied entries no longer count');
    leader.propose(new Uint8Array(60));
  });

  test('a single entry larger than the bound is accepted when nothing is pending (progress is always possible)', () => {
    const net = new Network([1, 2, 3], { config: () => ({ maxUncommittedEntriesBytes: 10 }) });
    net.campaign(1);
    net.raw(1).propose(new Uint8Array(1000));
    net.stabilize();
    assert.equal(net.get(2).applied.at(-1)!.data.byteLength, 1000);
  });

  test("refused with 'conf-change-pending' while a change is not yet applied", () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    const cc = { transition: 'auto' as const, changes: [{ type: ConfChangeType.AddLearner, nodeId: 4 }], context: EMPTY_BYTES };
    net.raw(1).proposeConfChange(cc);
    assert.throws(() => net.raw(1).proposeConfChange(cc), dropped('conf-change-pending'));
  });

  test('a forwarded proposal that the leader refuses is dropped there without an exception', () => {
    const net = new Network([1, 2, 3], { config: () => ({ maxUncommittedEntriesBytes: 10 }) });
    net.campaign(1);
    net.isolate(2);
    net.isolate(3);
    net.raw(1).propose(new Uint8Array(10)); // uncommitted: the bound is reached
    net.stabilize();
    net.raw(1).step(msg({ type: MessageType.Prop, from: 2, to: 1, entries: [entry(0, 0, 'over the bound, and more')] }));
    assert.equal(net.raw(1).raft.state, 'leader');
    // A forwarded proposal with garbage as a conf change is refused at the edge (validateAgainstReceiver).
    assert.throws(() => net.raw(1).step(msg({ type: MessageType.Prop, from: 2, to: 1, entries: [{ term: 0, index: 0, type: 1, data: bytes('garbage') }] })), InvalidMessageError);
    net.raw(1).step(msg({ type: MessageType.Prop, from: 2, to: 1, entries: [] }));
    assert.equal(net.raw(1).raft.raftLog.lastIndex(), 2, 'term-start entry and the first proposal only');
  });
});
