// codec.ts — converts the Raft core's plain types (src/raft/types.ts) to and from the protobuf
// messages of proto/raft.proto.
//
// 64-bit rule (decided in proto/raft.proto): uint64 on the wire, safe-integer `number`s in the
// core. protobufjs decodes uint64 as a `Long` (it does when the `long` package is present, as it
// is here) or as a `number`; readUint64 accepts both and refuses anything above
// Number.MAX_SAFE_INTEGER with CodecError CODEC_UNSAFE_INTEGER, never rounding. Encoding asserts
// that the core handed over safe integers: anything else is a bug in the caller.
//
// Every decode validates every field, so that untrusted bytes can produce either a well-formed
// core object or a CodecError naming the offending field, and nothing in between.
import type protobuf from 'protobufjs';
import type {
  ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfState, Entry, EntryType,
  HardState, Message, MessageType, Snapshot, SnapshotMetadata,
} from '../raft/index.js';
import { CodecError, assert } from './errors.js';
import { protoType } from './proto.js';

/** ProtoObject is a decoded protobuf message seen as untyped fields, before validation. */
export type ProtoObject = Record<string, unknown>;

const ENTRY_TYPES: readonly number[] = [0, 1];
const MESSAGE_TYPE_MAX = 18;
const CONF_CHANGE_TYPES: readonly number[] = [0, 1, 2];
const TRANSITIONS: readonly ConfChangeTransition[] = ['auto', 'implicit', 'explicit'];
const EMPTY_BYTES = new Uint8Array(0);
/** TWO_POW_32 splits a 64-bit value into the high and low halves a Long holds. */
const TWO_POW_32 = 0x1_0000_0000;
/** MAX_SAFE_HIGH_BITS is the largest high half of a safe integer (2^53 - 1 = 0x1FFFFF_FFFFFFFF). */
const MAX_SAFE_HIGH_BITS = 0x1f_ffff;

let types: {
  entry: protobuf.Type; hardState: protobuf.Type; confState: protobuf.Type; snapshotMetadata: protobuf.Type;
  snapshot: protobuf.Type; message: protobuf.Type; confChange: protobuf.Type;
} | undefined;

function schema(): NonNullable<typeof types> {
  if (types === undefined) {
    types = {
      entry: protoType('quorumgate.raft.Entry'),
      hardState: protoType('quorumgate.raft.HardState'),
      confState: protoType('quorumgate.raft.ConfState'),
      snapshotMetadata: protoType('quorumgate.raft.SnapshotMetadata'),
      snapshot: protoType('quorumgate.raft.Snapshot'),
      message: protoType('quorumgate.raft.Message'),
      confChange: protoType('quorumgate.raft.ConfChange'),
    };
  }
  return types;
}

// ---------------------------------------------------------------------------------------------
// Field readers: each takes the decoded object, a field name and the path for error messages.

/** readUint64 converts a decoded uint64 (Long, number or bigint) to a safe integer, or throws CodecError. */
export function readUint64(value: unknown, path: string): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    throw new CodecError('CODEC_UNSAFE_INTEGER', path, `expected a non-negative safe integer, got ${value}`);
  }
  if (typeof value === 'bigint') {
    if (value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
    throw new CodecError('CODEC_UNSAFE_INTEGER', path, `expected at most ${Number.MAX_SAFE_INTEGER}, got ${value}`);
  }
  if (isLongLike(value)) {
    const high = value.high >>> 0;
    const low = value.low >>> 0;
    if (high > MAX_SAFE_HIGH_BITS) {
      const exact = (BigInt(high) << 32n) | BigInt(low);
      throw new CodecError('CODEC_UNSAFE_INTEGER', path, `expected at most ${Number.MAX_SAFE_INTEGER}, got ${exact}`);
    }
    return high * TWO_POW_32 + low;
  }
  throw new CodecError('CODEC_MALFORMED', path, `expected a uint64, got ${typeof value}`);
}

function isLongLike(value: unknown): value is { low: number; high: number } {
  return typeof value === 'object' && value !== null
    && typeof (value as { low?: unknown }).low === 'number' && typeof (value as { high?: unknown }).high === 'number';
}

/** readUint32 reads a decoded uint32 field. */
export function readUint32(value: unknown, path: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff) return value;
  throw new CodecError('CODEC_MALFORMED', path, `expected a uint32, got ${String(value)}`);
}

/** readBytes reads a decoded bytes field (absent = empty). */
export function readBytes(value: unknown, path: string): Uint8Array {
  if (value === undefined || value === null) return EMPTY_BYTES;
  if (value instanceof Uint8Array) return value;
  // protobufjs leaves an absent bytes field at its prototype default, an empty plain array.
  if (Array.isArray(value) && value.length === 0) return EMPTY_BYTES;
  throw new CodecError('CODEC_MALFORMED', path, `expected bytes, got ${typeof value}`);
}

function readBool(value: unknown, path: string): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  throw new CodecError('CODEC_MALFORMED', path, `expected a bool, got ${typeof value}`);
}

function readEnum(value: unknown, path: string, isValid: (n: number) => boolean, name: string): number {
  const n = value === undefined || value === null ? 0 : value;
  if (typeof n === 'number' && Number.isInteger(n) && isValid(n)) return n;
  throw new CodecError('CODEC_INVALID_ENUM', path, `expected a ${name}, got ${String(n)}`);
}

function readRepeated(value: unknown, path: string): readonly unknown[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  throw new CodecError('CODEC_MALFORMED', path, `expected a repeated field, got ${typeof value}`);
}

function readObject(value: unknown, path: string): ProtoObject | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'object') return value as ProtoObject;
  throw new CodecError('CODEC_MALFORMED', path, `expected a message, got ${typeof value}`);
}

function requireObject(value: unknown, path: string): ProtoObject {
  const object = readObject(value, path);
  if (object === undefined) throw new CodecError('CODEC_MISSING_FIELD', path, 'required message is absent');
  return object;
}

/** decodeProto runs protobufjs on untrusted bytes, turning its exceptions into CodecError. */
export function decodeProto(type: protobuf.Type, bytes: Uint8Array, path: string): ProtoObject {
  try {
    return type.decode(bytes) as unknown as ProtoObject;
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new CodecError('CODEC_MALFORMED', path, `not a valid ${type.name} encoding (${bytes.byteLength} bytes): ${detail}`, { cause: error });
  }
}

function assertSafe(value: number, what: string): number {
  assert(Number.isSafeInteger(value) && value >= 0, () => `encode: ${what} must be a non-negative safe integer, got ${value}`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Entry

/** entryToProto converts an Entry to the fields of quorumgate.raft.Entry. */
export function entryToProto(entry: Entry): ProtoObject {
  assert(ENTRY_TYPES.includes(entry.type), () => `encode: entry type ${entry.type} is not an EntryType`);
  return { term: assertSafe(entry.term, 'Entry.term'), index: assertSafe(entry.index, 'Entry.index'), type: entry.type, data: entry.data };
}

/** entryFromProto validates a decoded quorumgate.raft.Entry. */
export function entryFromProto(object: ProtoObject, path: string): Entry {
  return {
    term: readUint64(object.term, `${path}.term`),
    index: readUint64(object.index, `${path}.index`),
    type: readEnum(object.type, `${path}.type`, (n) => ENTRY_TYPES.includes(n), 'EntryType (0..1)') as EntryType,
    data: readBytes(object.data, `${path}.data`),
  };
}

/** encodeEntry encodes one log entry (storage records and tests). */
export function encodeEntry(entry: Entry): Uint8Array {
  return schema().entry.encode(entryToProto(entry)).finish();
}

/** decodeEntry decodes and validates one log entry; throws CodecError. */
export function decodeEntry(bytes: Uint8Array): Entry {
  return entryFromProto(decodeProto(schema().entry, bytes, 'Entry'), 'Entry');
}

// ---------------------------------------------------------------------------------------------
// HardState

/** encodeHardState encodes a HardState. */
export function encodeHardState(hardState: HardState): Uint8Array {
  return schema().hardState.encode({
    term: assertSafe(hardState.term, 'HardState.term'),
    vote: assertSafe(hardState.vote, 'HardState.vote'),
    commit: assertSafe(hardState.commit, 'HardState.commit'),
  }).finish();
}

/** decodeHardState decodes and validates a HardState; throws CodecError. */
export function decodeHardState(bytes: Uint8Array): HardState {
  const object = decodeProto(schema().hardState, bytes, 'HardState');
  return {
    term: readUint64(object.term, 'HardState.term'),
    vote: readUint64(object.vote, 'HardState.vote'),
    commit: readUint64(object.commit, 'HardState.commit'),
  };
}

// ---------------------------------------------------------------------------------------------
// ConfState, SnapshotMetadata, Snapshot

function nodeIdsToProto(ids: readonly number[], what: string): number[] {
  return ids.map((id) => {
    assert(Number.isSafeInteger(id) && id > 0, () => `encode: ${what} holds node id ${id}, expected a positive safe integer`);
    return id;
  });
}

function nodeIdsFromProto(value: unknown, path: string): number[] {
  return readRepeated(value, path).map((item, i) => {
    const id = readUint64(item, `${path}[${i}]`);
    if (id === 0) throw new CodecError('CODEC_INVALID_FIELD', `${path}[${i}]`, 'expected a node id >= 1, got 0 (NONE)');
    return id;
  });
}

/** confStateToProto converts a ConfState to the fields of quorumgate.raft.ConfState. */
export function confStateToProto(confState: ConfState): ProtoObject {
  return {
    voters: nodeIdsToProto(confState.voters, 'ConfState.voters'),
    learners: nodeIdsToProto(confState.learners, 'ConfState.learners'),
    votersOutgoing: nodeIdsToProto(confState.votersOutgoing, 'ConfState.votersOutgoing'),
    learnersNext: nodeIdsToProto(confState.learnersNext, 'ConfState.learnersNext'),
    autoLeave: confState.autoLeave,
  };
}

/** confStateFromProto validates a decoded quorumgate.raft.ConfState. */
export function confStateFromProto(object: ProtoObject, path: string): ConfState {
  return {
    voters: nodeIdsFromProto(object.voters, `${path}.voters`),
    learners: nodeIdsFromProto(object.learners, `${path}.learners`),
    votersOutgoing: nodeIdsFromProto(object.votersOutgoing, `${path}.votersOutgoing`),
    learnersNext: nodeIdsFromProto(object.learnersNext, `${path}.learnersNext`),
    autoLeave: readBool(object.autoLeave, `${path}.autoLeave`),
  };
}

/** encodeConfState encodes a ConfState. */
export function encodeConfState(confState: ConfState): Uint8Array {
  return schema().confState.encode(confStateToProto(confState)).finish();
}

/** decodeConfState decodes and validates a ConfState; throws CodecError. */
export function decodeConfState(bytes: Uint8Array): ConfState {
  return confStateFromProto(decodeProto(schema().confState, bytes, 'ConfState'), 'ConfState');
}

/** snapshotMetadataToProto converts SnapshotMetadata to the fields of quorumgate.raft.SnapshotMetadata. */
export function snapshotMetadataToProto(metadata: SnapshotMetadata): ProtoObject {
  return {
    confState: confStateToProto(metadata.confState),
    index: assertSafe(metadata.index, 'SnapshotMetadata.index'),
    term: assertSafe(metadata.term, 'SnapshotMetadata.term'),
  };
}

/** snapshotMetadataFromProto validates a decoded quorumgate.raft.SnapshotMetadata (conf_state is required). */
export function snapshotMetadataFromProto(object: ProtoObject, path: string): SnapshotMetadata {
  return {
    confState: confStateFromProto(requireObject(object.confState, `${path}.confState`), `${path}.confState`),
    index: readUint64(object.index, `${path}.index`),
    term: readUint64(object.term, `${path}.term`),
  };
}

/** encodeSnapshotMetadata encodes SnapshotMetadata. */
export function encodeSnapshotMetadata(metadata: SnapshotMetadata): Uint8Array {
  return schema().snapshotMetadata.encode(snapshotMetadataToProto(metadata)).finish();
}

/** decodeSnapshotMetadata decodes and validates SnapshotMetadata; throws CodecError. */
export function decodeSnapshotMetadata(bytes: Uint8Array): SnapshotMetadata {
  return snapshotMetadataFromProto(decodeProto(schema().snapshotMetadata, bytes, 'SnapshotMetadata'), 'SnapshotMetadata');
}

function snapshotToProto(snapshot: Snapshot): ProtoObject {
  return { metadata: snapshotMetadataToProto(snapshot.metadata), data: snapshot.data };
}

function snapshotFromProto(object: ProtoObject, path: string): Snapshot {
  return {
    metadata: snapshotMetadataFromProto(requireObject(object.metadata, `${path}.metadata`), `${path}.metadata`),
    data: readBytes(object.data, `${path}.data`),
  };
}

/** encodeSnapshot encodes a whole Snapshot (metadata and data). */
export function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  return schema().snapshot.encode(snapshotToProto(snapshot)).finish();
}

/** decodeSnapshot decodes and validates a Snapshot; throws CodecError. */
export function decodeSnapshot(bytes: Uint8Array): Snapshot {
  return snapshotFromProto(decodeProto(schema().snapshot, bytes, 'Snapshot'), 'Snapshot');
}

// ---------------------------------------------------------------------------------------------
// Message

/** messageToProto converts a Message to the fields of quorumgate.raft.Message. */
export function messageToProto(message: Message): ProtoObject {
  assert(Number.isInteger(message.type) && message.type >= 0 && message.type <= MESSAGE_TYPE_MAX,
    () => `encode: message type ${message.type} is not a MessageType`);
  const object: ProtoObject = {
    type: message.type,
    to: assertSafe(message.to, 'Message.to'),
    from: assertSafe(message.from, 'Message.from'),
    term: assertSafe(message.term, 'Message.term'),
    logTerm: assertSafe(message.logTerm, 'Message.logTerm'),
    index: assertSafe(message.index, 'Message.index'),
    entries: message.entries.map(entryToProto),
    commit: assertSafe(message.commit, 'Message.commit'),
    reject: message.reject,
    rejectHint: assertSafe(message.rejectHint, 'Message.rejectHint'),
    context: message.context,
  };
  if (message.snapshot !== undefined) object.snapshot = snapshotToProto(message.snapshot);
  return object;
}

/**
 * messageFromProto validates a decoded quorumgate.raft.Message: every integer safe, every enum
 * known, a snapshot present on MSG_SNAP and only there, entries well-formed and, on MSG_APP, contiguous.
 */
export function messageFromProto(object: ProtoObject, path: string): Message {
  const type = readEnum(object.type, `${path}.type`, (n) => n >= 0 && n <= MESSAGE_TYPE_MAX, `MessageType (0..${MESSAGE_TYPE_MAX})`) as MessageType;
  const entries = readRepeated(object.entries, `${path}.entries`).map((item, i) =>
    entryFromProto(requireObject(item, `${path}.entries[${i}]`), `${path}.entries[${i}]`));
  // Only App entries sit at log positions. A forwarded Prop carries unplaced entries (index 0, as
  // the follower's core made them): requiring them contiguous refused every multi-entry forward and
  // closed the follower's connection to its leader.
  const isApp = type === 3;
  for (let i = 1; isApp && i < entries.length; i++) {
    if (entries[i]!.index !== entries[i - 1]!.index + 1) {
      throw new CodecError('CODEC_INVALID_FIELD', `${path}.entries[${i}].index`,
        `expected ${entries[i - 1]!.index + 1} (entries must be contiguous), got ${entries[i]!.index}`);
    }
  }
  const snapshotObject = readObject(object.snapshot, `${path}.snapshot`);
  const isSnap = type === 7;
  if (isSnap && snapshotObject === undefined) {
    throw new CodecError('CODEC_MISSING_FIELD', `${path}.snapshot`, 'a MSG_SNAP message must carry a snapshot');
  }
  if (!isSnap && snapshotObject !== undefined) {
    throw new CodecError('CODEC_INVALID_FIELD', `${path}.snapshot`, `only MSG_SNAP carries a snapshot, got one on type ${type}`);
  }
  const message: Message = {
    type,
    to: readUint64(object.to, `${path}.to`),
    from: readUint64(object.from, `${path}.from`),
    term: readUint64(object.term, `${path}.term`),
    logTerm: readUint64(object.logTerm, `${path}.logTerm`),
    index: readUint64(object.index, `${path}.index`),
    entries,
    commit: readUint64(object.commit, `${path}.commit`),
    reject: readBool(object.reject, `${path}.reject`),
    rejectHint: readUint64(object.rejectHint, `${path}.rejectHint`),
    context: readBytes(object.context, `${path}.context`),
  };
  return snapshotObject === undefined ? message : { ...message, snapshot: snapshotFromProto(snapshotObject, `${path}.snapshot`) };
}

/** encodeMessage encodes a Message. */
export function encodeMessage(message: Message): Uint8Array {
  return schema().message.encode(messageToProto(message)).finish();
}

/** decodeMessage decodes and validates a Message; throws CodecError. */
export function decodeMessage(bytes: Uint8Array): Message {
  return messageFromProto(decodeProto(schema().message, bytes, 'Message'), 'Message');
}

// ---------------------------------------------------------------------------------------------
// ConfChange

/** encodeConfChange encodes a ConfChange with proto/raft.proto's schema. */
export function encodeConfChange(change: ConfChange): Uint8Array {
  const transition = TRANSITIONS.indexOf(change.transition);
  assert(transition >= 0, () => `encode: unknown transition ${change.transition}`);
  return schema().confChange.encode({
    transition,
    changes: change.changes.map((single) => {
      assert(CONF_CHANGE_TYPES.includes(single.type), () => `encode: unknown ConfChangeType ${single.type}`);
      return { type: single.type, nodeId: assertSafe(single.nodeId, 'ConfChangeSingle.nodeId') };
    }),
    context: change.context,
  }).finish();
}

/** decodeConfChange decodes and validates a ConfChange; throws CodecError. */
export function decodeConfChange(bytes: Uint8Array): ConfChange {
  const object = decodeProto(schema().confChange, bytes, 'ConfChange');
  const transitionNumber = readEnum(object.transition, 'ConfChange.transition', (n) => n >= 0 && n < TRANSITIONS.length, 'ConfChangeTransition (0..2)');
  const changes: ConfChangeSingle[] = readRepeated(object.changes, 'ConfChange.changes').map((item, i) => {
    const path = `ConfChange.changes[${i}]`;
    const single = requireObject(item, path);
    const nodeId = readUint64(single.nodeId, `${path}.nodeId`);
    if (nodeId === 0) throw new CodecError('CODEC_INVALID_FIELD', `${path}.nodeId`, 'expected a node id >= 1, got 0 (NONE)');
    return {
      type: readEnum(single.type, `${path}.type`, (n) => CONF_CHANGE_TYPES.includes(n), 'ConfChangeType (0..2)') as ConfChangeType,
      nodeId,
    };
  });
  return { transition: TRANSITIONS[transitionNumber]!, changes, context: readBytes(object.context, 'ConfChange.context') };
}
