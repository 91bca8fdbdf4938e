// wire-codec.test.ts — fuzzing the protobuf wire codec (src/transport/codec.ts; moving to
// src/wire/codec.ts) and the frame splitter (src/transport/framing.ts). Promise: untrusted bytes give a
// well-formed core object or a CodecError naming the field — never another exception, never a value
// that does not encode back to the same object — and a frame stream never makes the decoder hold more
// than one frame's limit.
//
// Method: fast-check feeds random bytes and corrupted valid encodings to every decode function; what
// decodes is encoded and decoded again and must be the same object (the codec validated every field).
// Frame streams are cut into random chunks and fed to FrameDecoder, with a random limit.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeConfChange, decodeEntry, decodeHardState, decodeMessage, decodeSnapshot, encodeConfChange, encodeEntry, encodeHardState, encodeMessage, encodeSnapshot,
} from '../../src/wire/index.js';
import { CodecError, FrameTooLargeError } from '../../src/transport/errors.js';
import { FrameDecoder, frameHeader } from '../../src/transport/framing.js';
import { FuzzPlan, describeError, mutatedBytes } from './support.js';

const plan = new FuzzPlan(3);

/** Codec is one decode function with its encoder and a valid sample to corrupt. */
interface Codec {
  readonly name: string;
  readonly decode: (bytes: Uint8Array) => unknown;
  readonly encode: (value: never) => Uint8Array;
  readonly sample: Uint8Array;
}

const confState = { voters: [1, 2, 3], learners: [4], votersOutgoing: [], learnersNext: [], autoLeave: false };
const snapshot = { metadata: { index: 9, term: 3, confState }, data: new Uint8Array([1, 2, 3]) };
const codecs: Codec[] = [
  { name: 'Entry', decode: decodeEntry, encode: encodeEntry as (value: never) => Uint8Array, sample: encodeEntry({ term: 3, index: 7, type: 0, data: new Uint8Array([9, 9]) }) },
  { name: 'HardState', decode: decodeHardState, encode: encodeHardState as (value: never) => Uint8Array, sample: encodeHardState({ term: 3, vote: 2, commit: 7 }) },
  { name: 'Snapshot', decode: decodeSnapshot, encode: encodeSnapshot as (value: never) => Uint8Array, sample: encodeSnapshot(snapshot) },
  {
    name: 'ConfChange', decode: decodeConfChange, encode: encodeConfChange as (value: never) => Uint8Array,
    sample: encodeConfChange({ transition: 'explicit', changes: [{ type: 0, nodeId: 4 }, { type: 2, nodeId: 5 }], context: new Uint8Array([1]) }),
  },
  {
    name: 'Message', decode: decodeMessage, encode: encodeMessage as (value: never) => Uint8Array,
    sample: encodeMessage({ type: 3, to: 1, from: 2, term: 3, logTerm: 2, index: 4, commit: 4, reject: false, rejectHint: 0, context: new Uint8Array(0),
      entries: [{ term: 2, index: 5, type: 0, data: new Uint8Array([1]) }, { term: 3, index: 6, type: 1, data: new Uint8Array([2]) }] }),
  },
];

/** decodeOrRefuse decodes `bytes`; a CodecError is a refusal, anything else thrown fails the property. */
function decodeOrRefuse(codec: Codec, bytes: Uint8Array): void {
  let value: unknown;
  try {
    value = codec.decode(bytes);
  } catch (error) {
    assert.ok(error instanceof CodecError, `${codec.name}: decoding ${Buffer.from(bytes).toString('hex')} threw ${describeError(error)}`);
    assert.match(error.message, new RegExp(`^codec: ${codec.name}`), `${codec.name}: the error names the field: ${error.message}`);
    return;
  }
  // What decodes is valid: it encodes (no assertion) and decodes back to itself (byte fields compared
  // as bytes: protobufjs hands out Buffer or Uint8Array slices depending on its input).
  assert.equal(plain(codec.decode(codec.encode(value as never))), plain(value), `${codec.name}: ${Buffer.from(bytes).toString('hex')} decoded to a value that does not round-trip`);
}

/** plain renders a decoded value as JSON with byte fields as hex, for comparison. */
function plain(value: unknown): string {
  // A Buffer has been turned into {type: 'Buffer', data} by its toJSON before the replacer sees it.
  return JSON.stringify(value, (_key, field: unknown) => {
    if (field instanceof Uint8Array) return Buffer.from(field).toString('hex');
    const json = field as { type?: unknown; data?: unknown } | null;
    return json !== null && typeof json === 'object' && json.type === 'Buffer' && Array.isArray(json.data) ? Buffer.from(json.data as number[]).toString('hex') : field;
  });
}

const byName = new Map(codecs.map((codec) => [codec.name, codec]));
const codecName = fc.constantFrom(...codecs.map((codec) => codec.name));

describe('wire codec', () => {
  test('random bytes decode to a valid object or a CodecError naming the field, for every message type', () => {
    fc.assert(fc.property(codecName, fc.uint8Array({ maxLength: 200 }), (name, bytes) => decodeOrRefuse(byName.get(name)!, bytes)),
      plan.parameters(plan.longMode ? 0 : 3_000));
  });

  test('corrupted valid encodings decode to a valid object or a CodecError, for every message type', () => {
    fc.assert(fc.property(codecName.chain((name) => fc.tuple(fc.constant(name), mutatedBytes(fc.constant(byName.get(name)!.sample)))),
      ([name, bytes]) => decodeOrRefuse(byName.get(name)!, bytes)), plan.parameters(plan.longMode ? 0 : 3_000));
  });
});

describe('frame decoder', () => {
  test('any chunking of any stream gives its frames in order, or FrameTooLargeError before buffering more than the limit', () => {
    const frames = fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 6 });
    fc.assert(fc.property(frames, fc.uint8Array({ maxLength: 12 }), fc.integer({ min: 0, max: 80 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }),
      (bodies, junk, limit, cuts) => {
        const stream = Buffer.concat([...bodies.flatMap((body) => [frameHeader(body.length), Buffer.from(body)]), Buffer.from(junk)]);
        const decoder = new FrameDecoder(limit);
        const got: Buffer[] = [];
        let refused = false;
        for (let at = 0, i = 0; at < stream.length && !refused; i++) {
          const size = cuts[i % cuts.length]!;
          decoder.push(stream.subarray(at, at + size));
          at += size;
          try {
            for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) got.push(frame);
          } catch (error) {
            assert.ok(error instanceof FrameTooLargeError, describeError(error));
            refused = true;
          }
          assert.ok(decoder.pendingBytes <= limit + 4 + size, `held ${decoder.pendingBytes} bytes with a limit of ${limit}`);
        }
        const expected = [];
        for (const body of bodies) {
          if (body.length > limit) break;
          expected.push(Buffer.from(body));
        }
        assert.deepEqual(got.slice(0, expected.length), expected);
        if (!refused) assert.equal(got.length >= expected.length, true);
      }), plan.parameters(plan.longMode ? 0 : 1_000));
  });
});
