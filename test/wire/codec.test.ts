// codec.test.ts — goal: the protobuf codec turns every core object into bytes and back unchanged,
// and turns every hostile byte string into either a well-formed core object or a CodecError that
// names the field (never a rounded 64-bit value, an unknown enum, or an exception of another kind).
// Method: round trips of hand-built values at the edges (0, 2^53-1), hand-encoded hostile frames
// written with protobufjs's Writer (values above 2^53-1, unknown enum numbers, missing required
// parts), truncation of every valid encoding, and a fast-check fuzz over random bytes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import {
  CodecError, decodeConfChange, decodeConfState, decodeEntry, decodeHardState, decodeMessage, decodeSnapshot,
  encodeConfChange, encodeConfState, encodeEntry, encodeHardState, encodeMessage, encodeSnapshot,
} from '../../src/wire/index.js';
import { decodeFrame } from '../../src/transport/index.js';
import { ConfChangeType, EntryType, MessageType } from '../../src/raft/index.js';
import type { ConfState, Message } from '../../src/raft/index.js';
import { packageRoot } from '../../src/wire/index.js';

const MAX = Number.MAX_SAFE_INTEGER;
const confState: ConfState = { voters: [1, 2, MAX], learners: [4], votersOutgoing: [1, 2, 5], learnersNext: [5], autoLeave: true };

function message(overrides: Partial<Message>): Message {
  return {
    type: 3, to: 2, from: 1, term: 7, logTerm: 6, index: 41, entries: [], commit: 40,
    reject: false, rejectHint: 0, context: new Uint8Array(0), ...overrides,
  };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CodecError, `expected CodecError, got ${String(error)}`);
    return `${error.code} ${error.path}`;
  }
  assert.fail('expected a CodecError');
}

describe('proto/raft.proto matches src/raft/types.ts', () => {
  const root = protobuf.loadSync(`${packageRoot()}/proto/raft.proto`);
  /** protoNames maps an enum's values to the core's names: MSG_APP_RESP -> AppResp. */
  function protoValues(enumName: string, prefix: string): Record<string, number> {
    const values = root.lookupEnum(enumName).values;
    return Object.fromEntries(Object.entries(values).map(([name, number]) => [
      name.slice(prefix.length).toLowerCase().split('_').map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join(''), number,
    ]));
  }

  test('every enum number on the wire equals the core\'s constant of the same name', () => {
    assert.deepEqual(protoValues('quorumgate.raft.MessageType', 'MSG_'), { ...MessageType });
    assert.deepEqual(protoValues('quorumgate.raft.EntryType', 'ENTRY_'), { ...EntryType });
    assert.deepEqual(protoValues('quorumgate.raft.ConfChangeType', 'CONF_CHANGE_'), { ...ConfChangeType });
  });
});

describe('codec round trips', () => {
  test('an entry at the largest safe index survives', () => {
    const entry = { term: MAX, index: MAX, type: 1 as const, data: new Uint8Array([0, 255, 7]) };
    const back = decodeEntry(encodeEntry(entry));
    assert.deepEqual({ ...back, data: Array.from(back.data) }, { ...entry, data: [0, 255, 7] });
  });

  test('hard state, conf state and snapshot survive', () => {
    assert.deepEqual(decodeHardState(encodeHardState({ term: 3, vote: 0, commit: MAX })), { term: 3, vote: 0, commit: MAX });
    assert.deepEqual(decodeConfState(encodeConfState(confState)), confState);
    const snapshot = { metadata: { index: 10, term: 2, confState }, data: new Uint8Array([9, 9]) };
    const back = decodeSnapshot(encodeSnapshot(snapshot));
    assert.deepEqual(back.metadata, snapshot.metadata);
    assert.deepEqual(Array.from(back.data), [9, 9]);
  });

  test('every message type with every field set survives', () => {
    for (let type = 0; type <= 18; type++) {
      const original = message({
        type: type as Message['type'], to: MAX, from: 3, term: MAX, logTerm: 1, index: 2, commit: 3, reject: true, rejectHint: 9,
        context: new Uint8Array([1]), entries: [{ term: 1, index: 5, type: 0, data: new Uint8Array(0) }, { term: 1, index: 6, type: 1, data: new Uint8Array([2]) }],
        ...(type === 7 ? { snapshot: { metadata: { index: 4, term: 1, confState }, data: new Uint8Array([5]) } } : {}),
      });
      const back = decodeMessage(encodeMessage(original));
      assert.equal(back.type, type);
      assert.equal(back.to, MAX);
      assert.equal(back.term, MAX);
      assert.equal(back.rejectHint, 9);
      assert.equal(back.reject, true);
      assert.deepEqual(back.entries.map((e) => [e.index, e.type, Array.from(e.data)]), [[5, 0, []], [6, 1, [2]]]);
      assert.equal(back.snapshot?.metadata.index, type === 7 ? 4 : undefined);
    }
  });

  test('a conf change survives', () => {
    const change = { transition: 'explicit' as const, changes: [{ type: 2 as const, nodeId: 4 }, { type: 1 as const, nodeId: MAX }], context: new Uint8Array([1]) };
    const back = decodeConfChange(encodeConfChange(change));
    assert.deepEqual({ ...back, context: Array.from(back.context) }, { ...change, context: [1] });
  });
});

describe('codec refuses hostile bytes with a named error', () => {
  test('a uint64 above 2^53-1 is refused, not rounded (MAX+1 and 2^64-1)', () => {
    for (const big of ['9007199254740992', '18446744073709551615']) {
      const bytes = protobuf.Writer.create().uint32((2 << 3) | 0).uint64(big).finish(); // Entry.index
      assert.equal(codeOf(() => decodeEntry(bytes)), 'CODEC_UNSAFE_INTEGER Entry.index');
      const hard = protobuf.Writer.create().uint32((3 << 3) | 0).uint64(big).finish(); // HardState.commit
      assert.equal(codeOf(() => decodeHardState(hard)), 'CODEC_UNSAFE_INTEGER HardState.commit');
    }
  });

  test('an unknown message type or entry type is refused', () => {
    const badType = protobuf.Writer.create().uint32((1 << 3) | 0).uint32(19).finish();
    assert.equal(codeOf(() => decodeMessage(badType)), 'CODEC_INVALID_ENUM Message.type');
    const entry = protobuf.Writer.create().uint32((3 << 3) | 0).uint32(2).finish();
    const inMessage = protobuf.Writer.create().uint32((1 << 3) | 0).uint32(3).uint32((7 << 3) | 2).bytes(entry).finish();
    assert.equal(codeOf(() => decodeMessage(inMessage)), 'CODEC_INVALID_ENUM Message.entries[0].type');
  });

  test('MSG_SNAP without a snapshot, a snapshot elsewhere, or metadata without conf state are refused', () => {
    const snapWithout = protobuf.Writer.create().uint32((1 << 3) | 0).uint32(7).finish();
    assert.equal(codeOf(() => decodeMessage(snapWithout)), 'CODEC_MISSING_FIELD Message.snapshot');
    const encodedSnap = encodeMessage(message({ type: 7, snapshot: { metadata: { index: 1, term: 1, confState }, data: new Uint8Array(0) } }));
    const asApp = new Uint8Array(encodedSnap);
    assert.equal(asApp[0], 0x08);
    asApp[1] = 3; // type field value 7 -> 3
    assert.equal(codeOf(() => decodeMessage(asApp)), 'CODEC_INVALID_FIELD Message.snapshot');
    const metadataOnly = protobuf.Writer.create().uint32((2 << 3) | 0).uint64(5).finish();
    const snapshot = protobuf.Writer.create().uint32((1 << 3) | 2).bytes(metadataOnly).finish();
    assert.equal(codeOf(() => decodeSnapshot(snapshot)), 'CODEC_MISSING_FIELD Snapshot.metadata.confState');
  });

  test('a forwarded Prop with several unplaced entries (index 0) decodes whole, in order', () => {
    // A follower's runtime forwards its queued proposals as one Prop: term 0, every entry at index 0.
    const entries = [1, 2, 3].map((n) => ({ term: 0, index: 0, type: EntryType.Normal, data: new Uint8Array([n]) }));
    const prop = message({ type: 2, term: 0, logTerm: 0, index: 0, commit: 0, entries });
    const back = decodeMessage(encodeMessage(prop));
    assert.equal(back.type, MessageType.Prop);
    assert.deepEqual(back.entries.map((e) => [e.term, e.index, Array.from(e.data)]), [[0, 0, [1]], [0, 0, [2]], [0, 0, [3]]]);
  });

  test('non-contiguous App entries and node id 0 in a configuration are refused', () => {
    const bytes = encodeMessage(message({ entries: [{ term: 1, index: 5, type: 0, data: new Uint8Array(0) }] }));
    const second = encodeEntry({ term: 1, index: 7, type: 0, data: new Uint8Array(0) });
    const withGap = new Uint8Array([...bytes, ...protobuf.Writer.create().uint32((7 << 3) | 2).bytes(second).finish()]);
    assert.equal(codeOf(() => decodeMessage(withGap)), 'CODEC_INVALID_FIELD Message.entries[1].index');
    const zeroVoter = protobuf.Writer.create().uint32((1 << 3) | 0).uint64(0).finish();
    assert.equal(codeOf(() => decodeConfState(zeroVoter)), 'CODEC_INVALID_FIELD ConfState.voters[0]');
  });

  test('every truncation of a valid message is a CodecError or a valid shorter message', () => {
    const bytes = encodeMessage(message({ type: 7, entries: [], snapshot: { metadata: { index: 1, term: 1, confState }, data: new Uint8Array(300).fill(1) } }));
    for (let length = 0; length < bytes.length; length++) {
      try {
        decodeMessage(bytes.subarray(0, length));
      } catch (error) {
        assert.ok(error instanceof CodecError, `length ${length}: ${String(error)}`);
      }
    }
  });

  test('random bytes never escape as anything but CodecError (fuzz)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      for (const decode of [decodeMessage, decodeEntry, decodeSnapshot, decodeHardState, decodeConfChange, decodeFrame]) {
        try {
          decode(bytes);
        } catch (error) {
          if (!(error instanceof CodecError)) throw error;
        }
      }
    }), { numRuns: 3000, seed: 42 });
  });
});
