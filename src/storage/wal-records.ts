// wal-records.ts — the payloads of the write-ahead log's frames (wal-frames.ts frames them).
//
// Every payload starts with a u8 kind; integers are big-endian; HardState and Entry are the
// protobuf messages of proto/raft.proto (the codecs of src/wire):
//   1 segment header   u32 format version, u64 sequence, marker, u32 n + HardState
//                      (the state when the segment was started, so older segments can be deleted)
//   2 save             u8 flags (1: hard state, 2: snapshot), [marker], [u32 n + HardState],
//                      u32 entry count, then per entry u32 n + Entry: one LogStore.save, atomic
//   3 compact          marker: one LogStore.compact
// A marker names a snapshot file (wal-snapshots.ts): u8 present, u64 index, u64 term, 32-byte
// SHA-256 of the file. The snapshot's data and configuration live in that file, not in the log.
import type { Entry, HardState } from '../raft/index.js';
import { CodecError, decodeEntry, decodeHardState, encodeEntry, encodeHardState } from '../wire/index.js';
import { StorageCorruptionError, assert } from './errors.js';

/** SnapshotMarker names a stored snapshot file by index, term and digest. */
export interface SnapshotMarker {
  readonly index: number;
  readonly term: number;
  /** digest: SHA-256 of the snapshot file's bytes. */
  readonly digest: Buffer;
}

/** WalRecord is one decoded payload. */
export type WalRecord =
  | { readonly kind: 'segmentHeader'; readonly formatVersion: number; readonly sequence: number; readonly snapshot: SnapshotMarker | undefined; readonly hardState: HardState }
  | { readonly kind: 'save'; readonly snapshot: SnapshotMarker | undefined; readonly hardState: HardState | undefined; readonly entries: readonly Entry[] }
  | { readonly kind: 'compact'; readonly snapshot: SnapshotMarker };

const KIND_SEGMENT_HEADER = 1;
const KIND_SAVE = 2;
const KIND_COMPACT = 3;
const FLAG_HARD_STATE = 1;
const FLAG_SNAPSHOT = 2;
const DIGEST_BYTES = 32;
const MARKER_BYTES = 1 + 8 + 8 + DIGEST_BYTES;

function writeMarker(parts: Buffer[], marker: SnapshotMarker | undefined): void {
  const bytes = Buffer.alloc(MARKER_BYTES);
  if (marker !== undefined) {
    assert(marker.digest.length === DIGEST_BYTES, 'snapshot marker: digest is not 32 bytes');
    bytes.writeUInt8(1, 0);
    bytes.writeBigUInt64BE(BigInt(marker.index), 1);
    bytes.writeBigUInt64BE(BigInt(marker.term), 9);
    marker.digest.copy(bytes, 17);
  }
  parts.push(bytes);
}

function writeSized(parts: Buffer[], bytes: Uint8Array): void {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.byteLength, 0);
  parts.push(length, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/** encodeRecord encodes one record into a frame payload. */
export function encodeRecord(record: WalRecord): Buffer {
  const parts: Buffer[] = [];
  switch (record.kind) {
    case 'segmentHeader': {
      const head = Buffer.alloc(13);
      head.writeUInt8(KIND_SEGMENT_HEADER, 0);
      head.writeUInt32BE(record.formatVersion, 1);
      head.writeBigUInt64BE(BigInt(record.sequence), 5);
      parts.push(head);
      writeMarker(parts, record.snapshot);
      writeSized(parts, encodeHardState(record.hardState));
      break;
    }
    case 'save': {
      const flags = (record.hardState === undefined ? 0 : FLAG_HARD_STATE) | (record.snapshot === undefined ? 0 : FLAG_SNAPSHOT);
      parts.push(Buffer.of(KIND_SAVE, flags));
      if (record.snapshot !== undefined) writeMarker(parts, record.snapshot);
      if (record.hardState !== undefined) writeSized(parts, encodeHardState(record.hardState));
      const count = Buffer.alloc(4);
      count.writeUInt32BE(record.entries.length, 0);
      parts.push(count);
      for (const entry of record.entries) writeSized(parts, encodeEntry(entry));
      break;
    }
    case 'compact':
      parts.push(Buffer.of(KIND_COMPACT));
      writeMarker(parts, record.snapshot);
      break;
  }
  return Buffer.concat(parts);
}

/** Reader walks a payload, refusing to read past its end. */
class Reader {
  private offset = 0;
  constructor(private readonly bytes: Buffer, private readonly where: string) {}

  take(count: number): Buffer {
    if (this.offset + count > this.bytes.length) {
      throw new StorageCorruptionError(this.where, `record ends early: needs ${count} bytes at ${this.offset}, has ${this.bytes.length - this.offset}`);
    }
    const out = this.bytes.subarray(this.offset, this.offset + count);
    this.offset += count;
    return out;
  }

  u8(): number { return this.take(1).readUInt8(0); }
  u32(): number { return this.take(4).readUInt32BE(0); }
  u64(): number {
    const value = this.take(8).readBigUInt64BE(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new StorageCorruptionError(this.where, `integer ${value} is not a safe integer`);
    return Number(value);
  }
  sized(): Buffer { return this.take(this.u32()); }

  marker(): SnapshotMarker | undefined {
    const present = this.u8();
    const index = this.u64();
    const term = this.u64();
    const digest = Buffer.from(this.take(DIGEST_BYTES));
    if (present === 0) return undefined;
    if (present !== 1) throw new StorageCorruptionError(this.where, `snapshot marker flag ${present}, expected 0 or 1`);
    return { index, term, digest };
  }

  end(): void {
    if (this.offset !== this.bytes.length) throw new StorageCorruptionError(this.where, `${this.bytes.length - this.offset} unexpected bytes after the record`);
  }
}

/** decodeRecord decodes a frame payload; `where` (file@offset) names it in StorageCorruptionError. */
export function decodeRecord(payload: Buffer, where: string): WalRecord {
  const reader = new Reader(payload, where);
  try {
    const record = decodeKind(reader, where);
    reader.end();
    return record;
  } catch (error) {
    if (error instanceof CodecError) throw new StorageCorruptionError(where, `payload does not decode: ${error.message}`, { cause: error });
    throw error;
  }
}

function decodeKind(reader: Reader, where: string): WalRecord {
  const kind = reader.u8();
  switch (kind) {
    case KIND_SEGMENT_HEADER: {
      const formatVersion = reader.u32();
      const sequence = reader.u64();
      const snapshot = reader.marker();
      return { kind: 'segmentHeader', formatVersion, sequence, snapshot, hardState: decodeHardState(reader.sized()) };
    }
    case KIND_SAVE: {
      const flags = reader.u8();
      if ((flags & ~(FLAG_HARD_STATE | FLAG_SNAPSHOT)) !== 0) throw new StorageCorruptionError(where, `save record flags 0x${flags.toString(16)}`);
      const snapshot = (flags & FLAG_SNAPSHOT) !== 0 ? reader.marker() : undefined;
      if ((flags & FLAG_SNAPSHOT) !== 0 && snapshot === undefined) throw new StorageCorruptionError(where, 'save record flags a snapshot but holds none');
      const hardState = (flags & FLAG_HARD_STATE) !== 0 ? decodeHardState(reader.sized()) : undefined;
      const count = reader.u32();
      const entries: Entry[] = [];
      for (let i = 0; i < count; i++) entries.push(decodeEntry(reader.sized()));
      return { kind: 'save', snapshot, hardState, entries };
    }
    case KIND_COMPACT: {
      const snapshot = reader.marker();
      if (snapshot === undefined) throw new StorageCorruptionError(where, 'compact record without a snapshot');
      return { kind: 'compact', snapshot };
    }
    default:
      throw new StorageCorruptionError(where, `unknown record kind ${kind}`);
  }
}
