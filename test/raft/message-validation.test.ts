// message-validation.test.ts — malformed messages from the network are refused at the edge
// (RawNode.step) with InvalidMessageError naming the field, what was expected and what came,
// and leave the node untouched; well-formed messages pass.
//
// Method: take a valid message of each kind, break one field at a time, step it into a
// RawNode, and check the error and that the node's state did not change. Then messages that are
// well formed but impossible for the node they reach (a Heartbeat committing beyond its log, an
// AppResp beyond the leader's log, a forwarded conf change that cannot apply), stepped into the
// nodes of an in-test network.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfChangeType, EMPTY_BYTES, EntryType, InvalidMessageError, MemoryStorage, MessageType, RawNode, SeededRandom, encodeConfChange, makeMessage,
  validateAgainstReceiver, validateWireMessage,
} from '../../src/raft/index.js';
import type { ConfChange, ConfChangeSingle, Message } from '../../src/raft/index.js';
import { Network, bytes, confState } from './support/network.js';
import { entry } from './support/raft-helpers.js';

const app = makeMessage({ type: MessageType.App, from: 2, to: 1, term: 3, index: 4, logTerm: 2, commit: 4, entries: [entry(5, 2, 'a'), entry(6, 3, 'b')] });
const snap = makeMessage({ type: MessageType.Snap, from: 2, to: 1, term: 3, snapshot: { metadata: { index: 9, term: 3, confState: confState([1, 2, 3]) }, data: bytes('s') } });

const broken: { name: string; message: Message; field: RegExp }[] = [
  { name: 'an unknown type', message: { ...app, type: 99 as Message['type'] }, field: /field type: expected a known MessageType, got 99/ },
  { name: 'a negative index', message: { ...app, index: -1 }, field: /field index: expected a safe integer >= 0, got -1/ },
  { name: 'an unsafe term', message: { ...app, term: 2 ** 53 }, field: /field term: expected a safe integer >= 0, got 9007199254740992/ },
  { name: 'a fractional commit', message: { ...app, commit: 1.5 }, field: /field commit/ },
  { name: 'no sender', message: { ...app, from: 0 }, field: /field from: expected a safe integer >= 1, got 0/ },
  { name: 'term 0 on an App (would be taken for a local message)', message: { ...app, term: 0, entries: [] }, field: /field term: expected a term >= 1 on a wire message, got 0/ },
  { name: 'a term on a forwarded Prop', message: makeMessage({ type: MessageType.Prop, from: 2, to: 1, term: 3, entries: [entry(0, 0, 'x')] }), field: /field term: expected 0 on a forwarded Prop, got 3/ },
  { name: 'a gap in App entries', message: { ...app, entries: [entry(5, 2), entry(7, 3)] }, field: /entries\[1\]\.index: expected 6 \(contiguous after index 4\), got 7/ },
  { name: 'an entry newer than the message term', message: { ...app, entries: [entry(5, 4)] }, field: /entries\[0\]\.term: expected <= the message term 3, got 4/ },
  { name: 'entry terms going down', message: { ...app, entries: [entry(5, 3), entry(6, 2)] }, field: /entries\[1\]\.term: expected >= the previous term 3, got 2/ },
  { name: 'an entry term below the previous log term', message: { ...app, entries: [entry(5, 1)] }, field: /entries\[0\]\.term: expected >= the previous term 2, got 1/ },
  { name: 'an unknown entry type', message: { ...app, entries: [{ ...entry(5, 2), type: 7 as 0 }] }, field: /entries\[0\]\.type/ },
  { name: 'a Snap without snapshot', message: { ...snap, snapshot: undefined }, field: /field snapshot: expected a snapshot on a Snap message/ },
  { name: 'a snapshot at index 0', message: { ...snap, snapshot: { ...snap.snapshot!, metadata: { ...snap.snapshot!.metadata, index: 0 } } }, field: /snapshot\.metadata\.index/ },
  { name: 'a snapshot without voters', message: { ...snap, snapshot: { ...snap.snapshot!, metadata: { ...snap.snapshot!.metadata, confState: confState([]) } } }, field: /confState\.voters: expected at least one voter/ },
];

describe('validateWireMessage', () => {
  test('well-formed messages pass', () => {
    validateWireMessage(app);
    validateWireMessage(snap);
    validateWireMessage(makeMessage({ type: MessageType.Prop, from: 2, to: 1, entries: [entry(0, 0, 'x')] }));
    validateWireMessage(makeMessage({ type: MessageType.ReadIndex, from: 2, to: 1, context: bytes('c') }));
  });

  for (const b of broken) {
    test(`refuses ${b.name}, and the node is untouched`, () => {
      const storage = MemoryStorage.withConfState(confState([1, 2, 3]));
      const node = new RawNode({ id: 1, storage, random: new SeededRandom(1) });
      const before = JSON.stringify(node.status());
      assert.throws(() => node.step(b.message), (e: unknown) => {
        assert.ok(e instanceof InvalidMessageError, String(e));
        assert.equal(e.code, 'RAFT_INVALID_MESSAGE');
        assert.match(e.message, b.field);
        return true;
      });
      assert.equal(JSON.stringify(node.status()), before);
      assert.equal(node.hasReady(), false);
    });
  }
});

// Messages that are well formed on their own but impossible for the node they reach: before
// validateAgainstReceiver, each of these crashed the node on an assertion in the core (or, for
// the conf change, would have crashed every node when applied).
describe('validateAgainstReceiver', () => {
  const add = (nodeId: number): ConfChangeSingle => ({ type: ConfChangeType.AddNode, nodeId });
  const change = (changes: ConfChangeSingle[]): ConfChange => ({ transition: 'auto', changes, context: EMPTY_BYTES });
  function leaderOfThree(): Network {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    net.propose(1, 'x');
    return net;
  }
  function refuses(node: RawNode, message: Message, field: RegExp): void {
    const before = JSON.stringify(node.status());
    assert.throws(() => node.step(message), (e: unknown) => {
      assert.ok(e instanceof InvalidMessageError, String(e));
      assert.match(e.message, field);
      return true;
    });
    assert.equal(JSON.stringify(node.status()), before, 'the node is untouched');
  }

  test('a Heartbeat whose commit is beyond the follower\'s log is refused, and a valid one still commits', () => {
    const net = leaderOfThree();
    const follower = net.raw(2);
    const { term } = follower.raft;
    const last = follower.raft.raftLog.lastIndex();
    refuses(follower, makeMessage({ type: MessageType.Heartbeat, from: 1, to: 2, term, commit: last + 1 }), /field commit: expected <= the receiver's last index \d+ on a Heartbeat, got \d+/);
    refuses(follower, makeMessage({ type: MessageType.Heartbeat, from: 3, to: 2, term: term + 1, commit: last + 5 }), /field commit/);
    follower.step(makeMessage({ type: MessageType.Heartbeat, from: 1, to: 2, term, commit: last }));
    assert.equal(follower.raft.raftLog.committed, last);
  });

  test('a stale-term Heartbeat passes whatever its commit (the receiver answers so the old leader learns the term)', () => {
    const net = leaderOfThree();
    const raft = net.raw(2).raft;
    const view = { term: 5, lastIndex: 1, isLeader: false, membership: { config: raft.trk.config, progress: raft.trk.progress }, maxInflightMsgs: 256 };
    validateAgainstReceiver(makeMessage({ type: MessageType.Heartbeat, from: 3, to: 2, term: 4, commit: 10_000 }), view);
    assert.throws(() => validateAgainstReceiver(makeMessage({ type: MessageType.Heartbeat, from: 3, to: 2, term: 5, commit: 10_000 }), view), InvalidMessageError);
  });

  test('an AppResp acknowledging an index beyond the leader\'s last index is refused', () => {
    const net = leaderOfThree();
    const leader = net.raw(1);
    const { term } = leader.raft;
    const last = leader.raft.raftLog.lastIndex();
    refuses(leader, makeMessage({ type: MessageType.AppResp, from: 2, to: 1, term, index: last + 1 }), /field index: expected <= the leader's last index \d+ on an AppResp, got \d+/);
    refuses(leader, makeMessage({ type: MessageType.AppResp, from: 2, to: 1, term, index: last + 7, reject: true, rejectHint: 0 }), /field index/);
    leader.step(makeMessage({ type: MessageType.AppResp, from: 2, to: 1, term, index: last }));
  });

  test('a forwarded conf change that cannot apply (or does not decode) is refused before it is appended', () => {
    const net = leaderOfThree();
    const leader = net.raw(1);
    const last = leader.raft.raftLog.lastIndex();
    const prop = (data: Uint8Array): Message => makeMessage({ type: MessageType.Prop, from: 2, to: 1, entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data }] });
    // Removing every voter passes the leader's pending/joint checks; appended and committed, it
    // would make applyConfChange throw on every node.
    const removeAll: ConfChange = { transition: 'explicit', changes: [1, 2, 3].map((nodeId) => ({ type: ConfChangeType.RemoveNode, nodeId })), context: EMPTY_BYTES };
    refuses(leader, prop(encodeConfChange(removeAll)), /entries\[0\]\.data: expected a ConfChange that applies to the current configuration \(.*voters/);
    // Leaving a joint configuration that is not joint.
    refuses(leader, prop(encodeConfChange(change([]))), /entries\[0\]\.data: expected a ConfChange that applies to the current configuration \(.*can't leave a non-joint config\), got "\d+ bytes"/);
    refuses(leader, prop(bytes('{not json')), /entries\[0\]\.data: expected a ConfChange that applies/);
    assert.equal(leader.raft.raftLog.lastIndex(), last, 'nothing appended');
    leader.step(prop(encodeConfChange(change([add(4)]))));
    assert.equal(leader.raft.raftLog.lastIndex(), last + 1, 'a valid forwarded change is appended');
  });
});
