// message-validation.test.ts — malformed messages from the network are refused at the edge
// (RawNode.step) with InvalidMessageError naming the field, what was expected and what came,
// and leave the node untouched; well-formed messages pass.
//
// Method: take a valid message of each kind, break one field at a time, step it into a
// RawNode, and check the error and that the node's state did not change.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidMessageError, MemoryStorage, MessageType, RawNode, SeededRandom, makeMessage, validateWireMessage } from '../../src/raft/index.js';
import type { Message } from '../../src/raft/index.js';
import { bytes, confState } from './support/network.js';
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
