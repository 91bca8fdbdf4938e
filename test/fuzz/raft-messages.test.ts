// raft-messages.test.ts — fuzzing the Raft edge: bytes off the wire through the transport's codec
// (src/transport/codec.ts decodeMessage) and the core's message validation (RawNode.step) into the
// pure core. Promise: a frame either fails to decode (CodecError), is refused at the edge
// (InvalidMessageError, PeerNotFoundError, StepLocalMessageError), or is stepped — and a message that
// was stepped never trips a core assertion, in step or in handling the Ready that follows.
//
// Method: a deterministic 3-node network of RawNodes (test/raft/support/network.ts) with a leader and
// a few committed entries; fast-check builds messages whose numbers sit near the receiver's term and
// log (where the interesting edges are), as an authenticated member would send them (the transport
// fixes `from` to the peer and `to` to the receiver), encodes them with the wire codec, optionally
// corrupts the bytes, decodes, steps them into one node and lets the network run to quiescence. Any
// other error (an AssertionError, a TypeError) fails the property with the message sequence that
// caused it. Raft is not Byzantine-tolerant: a stepped message may change terms or leaders; only
// crashes are failures here.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ConfChangeType, EntryType, InvalidMessageError, MessageType, PeerNotFoundError, StepLocalMessageError, encodeConfChange, makeMessage,
} from '../../src/raft/index.js';
import type { Entry, Message } from '../../src/raft/index.js';
import { decodeMessage, encodeMessage } from '../../src/wire/index.js';
import { CodecError } from '../../src/transport/errors.js';
import { Network, bytes, confState } from '../raft/support/network.js';
import { FuzzPlan, describeError, mutatedBytes } from './support.js';

const plan = new FuzzPlan(3);

/** Shape is a message relative to its receiver: offsets from its term and last index, resolved at delivery. */
interface Shape {
  readonly target: number;
  readonly fromIndex: number;
  readonly type: number;
  readonly termOffset: number;
  readonly logTermOffset: number;
  readonly indexOffset: number;
  readonly commitOffset: number;
  readonly reject: boolean;
  readonly rejectHint: number;
  readonly entries: ReadonlyArray<{ readonly termOffset: number; readonly conf: number | null; readonly data: Uint8Array }>;
  readonly snapshot: { readonly indexOffset: number; readonly voters: readonly number[] } | null;
  readonly context: Uint8Array;
}

const shape: fc.Arbitrary<Shape> = fc.record({
  target: fc.integer({ min: 1, max: 3 }),
  fromIndex: fc.nat(2),
  type: fc.integer({ min: 0, max: 18 }),
  termOffset: fc.integer({ min: -2, max: 2 }),
  logTermOffset: fc.integer({ min: -2, max: 1 }),
  indexOffset: fc.integer({ min: -4, max: 4 }),
  commitOffset: fc.integer({ min: -4, max: 4 }),
  reject: fc.boolean(),
  rejectHint: fc.nat(12),
  entries: fc.array(fc.record({
    termOffset: fc.integer({ min: -1, max: 0 }),
    conf: fc.option(fc.integer({ min: 0, max: 40 }), { freq: 4 }),
    data: fc.uint8Array({ maxLength: 8 }),
  }), { maxLength: 3 }),
  snapshot: fc.option(fc.record({ indexOffset: fc.integer({ min: -3, max: 6 }), voters: fc.uniqueArray(fc.integer({ min: 1, max: 5 }), { minLength: 0, maxLength: 4 }) }), { freq: 3 }),
  context: fc.uint8Array({ maxLength: 4 }),
});

/** confChangeData encodes a small, sometimes invalid, conf change: add/remove/learner of nodes 1..5, or leave joint. */
function confChangeData(code: number): Uint8Array {
  const types = [ConfChangeType.AddNode, ConfChangeType.RemoveNode, ConfChangeType.AddLearner];
  const changes = code % 8 === 7 ? [] : [{ type: types[code % 3]!, nodeId: 1 + (code % 5) }, ...(code > 20 ? [{ type: types[(code + 1) % 3]!, nodeId: 1 + ((code >> 1) % 5) }] : [])];
  return encodeConfChange({ transition: (['auto', 'implicit', 'explicit'] as const)[code % 3]!, changes, context: new Uint8Array(0) });
}

const clamp = (n: number): number => Math.max(0, n);

/** resolve turns a Shape into a concrete message for the receiver as it is now. */
function resolve(net: Network, s: Shape): Message {
  const raft = net.raw(s.target).raft;
  const peers = [1, 2, 3].filter((id) => id !== s.target);
  const from = [...peers, 4][s.fromIndex]!;
  const term = clamp(raft.term + s.termOffset);
  const index = clamp(raft.raftLog.lastIndex() + s.indexOffset);
  const entries: Entry[] = s.entries.map((e, i) => ({
    term: s.type === MessageType.Prop ? 0 : clamp(term + e.termOffset),
    index: s.type === MessageType.Prop ? 0 : index + 1 + i,
    type: e.conf === null ? EntryType.Normal : EntryType.ConfChange,
    data: e.conf === null ? e.data : confChangeData(e.conf),
  }));
  const snapshot = s.type !== MessageType.Snap || s.snapshot === null ? undefined : {
    metadata: { index: clamp(raft.raftLog.lastIndex() + s.snapshot.indexOffset), term, confState: confState(s.snapshot.voters) }, data: bytes('snap'),
  };
  return makeMessage({
    type: s.type as Message['type'], to: s.target, from, term, logTerm: clamp(term + s.logTermOffset), index, entries,
    commit: clamp(raft.raftLog.committed + s.commitOffset), reject: s.reject, rejectHint: s.rejectHint, context: s.context,
    ...(snapshot === undefined ? {} : { snapshot }),
  });
}

/** expectedRefusal: the errors with which the edge refuses a frame or a message (the transport drops it). */
function expectedRefusal(error: unknown): boolean {
  return error instanceof CodecError || error instanceof InvalidMessageError || error instanceof PeerNotFoundError || error instanceof StepLocalMessageError;
}

/** freshNetwork: three nodes, node 1 leading, three entries committed everywhere. */
function freshNetwork(): Network {
  const net = new Network([1, 2, 3]);
  net.campaign(1);
  for (const data of ['a', 'b', 'c']) net.propose(1, data);
  return net;
}

/**
 * deliver runs one frame through decode and step into its receiver, then the network to quiescence.
 * Returns a description of the crash, or undefined.
 */
function deliver(net: Network, target: number, frame: Uint8Array): string | undefined {
  let message: Message;
  try {
    message = decodeMessage(frame);
  } catch (error) {
    return expectedRefusal(error) ? undefined : `decodeMessage threw ${describeError(error)}`;
  }
  try {
    net.raw(target).step({ ...message, to: target });
  } catch (error) {
    if (!expectedRefusal(error)) return `step(${JSON.stringify({ ...message, entries: message.entries.length, context: undefined })}) threw ${describeError(error)}`;
    return undefined;
  }
  try {
    runToQuiescence(net);
  } catch (error) {
    return `after stepping ${JSON.stringify({ ...message, entries: message.entries.length, context: undefined })}, the network crashed: ${describeError(error)}`;
  }
  return undefined;
}

/**
 * runToQuiescence handles every node's Ready and delivers what they send until nothing is left (bounded),
 * dropping what the receiver refuses at its edge, as the runtime does (Network.stabilize rethrows it).
 */
function runToQuiescence(net: Network): void {
  const queue: Message[] = [];
  for (let step = 0; step < 20_000; step++) {
    if (queue.length === 0) {
      for (const id of [1, 2, 3]) queue.push(...net.get(id).flush());
      if (queue.length === 0) return;
    }
    const message = queue.shift()!;
    if (message.to < 1 || message.to > 3) continue;
    try {
      net.raw(message.to).step(message);
    } catch (error) {
      if (!expectedRefusal(error)) throw error;
    }
    queue.push(...net.get(message.to).flush());
  }
  throw new Error('the network did not quiesce within 20,000 deliveries');
}

describe('raft messages through the wire codec and the edge validation', () => {
  test('structured messages near the receiver\'s term and log never trip a core assertion', () => {
    fc.assert(fc.property(fc.array(shape, { minLength: 1, maxLength: 8 }), (shapes) => {
      const net = freshNetwork();
      for (const s of shapes) {
        const crash = deliver(net, s.target, encodeMessage(resolve(net, s)));
        assert.equal(crash, undefined, crash);
      }
    }), plan.parameters(plan.longMode ? 0 : 300));
  });

  test('corrupted encodings of those messages are refused or stepped, never a crash', () => {
    fc.assert(fc.property(fc.tuple(shape, fc.array(fc.tuple(fc.constantFrom('flip', 'truncate', 'insert', 'delete', 'set'), fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 3 })), ([s, edits]) => {
      const net = freshNetwork();
      const valid = encodeMessage(resolve(net, s));
      const corrupted = fc.sample(mutatedBytes(fc.constant(valid)), { seed: edits.length * 7919 + (edits[0]?.[1] ?? 0), numRuns: 1 })[0]!;
      const crash = deliver(net, s.target, corrupted);
      assert.equal(crash, undefined, crash);
    }), plan.parameters(plan.longMode ? 0 : 300));
  });

  test('random bytes are a CodecError or a refused message, never anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), (frame) => {
      const crash = deliver(freshNetwork(), 2, frame);
      assert.equal(crash, undefined, crash);
    }), plan.parameters(plan.longMode ? 0 : 500));
  });
});
