// records.ts — the on-disk layout of the LevelDB store: keys and checksummed record values.
//
// Keys (bytes, so that LevelDB's byte order is the log order):
//   meta/format                      u32be format version
//   meta/hardstate                   HardState (proto/raft.proto)
//   meta/snapshot                    u64be data bytes, u32be chunk count, 32-byte SHA-256 of the
//                                    data, then SnapshotMetadata (proto/raft.proto)
//   snap/<u64be index><u32be chunk>  one chunk of the snapshot data
//   log/<u64be index>                Entry (proto/raft.proto)
// Every value is a record: 1 byte RECORD_VERSION, u32be CRC32 (IEEE, zlib.crc32) of the key,
// the version byte and the payload, then the payload. Covering the key means a record copied or
// misplaced under another key fails its check too.
import { crc32 } from 'node:zlib';
import { RECORD_VERSION } from './constants.js';
import { StorageCorruptionError, assert } from './errors.js';

const RECORD_HEADER_BYTES = 5;
const INDEX_BYTES = 8;
const CHUNK_NUMBER_BYTES = 4;

/** KEY_FORMAT holds the format version. */
export const KEY_FORMAT = Buffer.from('meta/format');
/** KEY_HARD_STATE holds the HardState. */
export const KEY_HARD_STATE = Buffer.from('meta/hardstate');
/** KEY_SNAPSHOT holds the snapshot's metadata, size, chunk count and digest. */
export const KEY_SNAPSHOT = Buffer.from('meta/snapshot');
/** LOG_PREFIX starts every log entry key. */
export const LOG_PREFIX = Buffer.from('log/');
/** SNAPSHOT_CHUNK_PREFIX starts every snapshot chunk key. */
export const SNAPSHOT_CHUNK_PREFIX = Buffer.from('snap/');

/** entryKey is the key of the log entry at `index`. */
export function entryKey(index: number): Buffer {
  assert(Number.isSafeInteger(index) && index > 0, () => `entryKey: index ${index} is not a positive safe integer`);
  const key = Buffer.alloc(LOG_PREFIX.length + INDEX_BYTES);
  LOG_PREFIX.copy(key, 0);
  key.writeBigUInt64BE(BigInt(index), LOG_PREFIX.length);
  return key;
}

/** chunkKey is the key of chunk `chunk` of the snapshot at `snapshotIndex`. */
export function chunkKey(snapshotIndex: number, chunk: number): Buffer {
  const key = Buffer.alloc(SNAPSHOT_CHUNK_PREFIX.length + INDEX_BYTES + CHUNK_NUMBER_BYTES);
  SNAPSHOT_CHUNK_PREFIX.copy(key, 0);
  key.writeBigUInt64BE(BigInt(snapshotIndex), SNAPSHOT_CHUNK_PREFIX.length);
  key.writeUInt32BE(chunk, SNAPSHOT_CHUNK_PREFIX.length + INDEX_BYTES);
  return key;
}

/** ParsedKey is a key recognised by parseKey. */
export type ParsedKey =
  | { readonly kind: 'format' | 'hardState' | 'snapshot' }
  | { readonly kind: 'entry'; readonly index: number }
  | { readonly kind: 'chunk'; readonly snapshotIndex: number; readonly chunk: number }
  | { readonly kind: 'unknown' };

/** parseKey classifies a stored key. */
export function parseKey(key: Buffer): ParsedKey {
  if (key.equals(KEY_FORMAT)) return { kind: 'format' };
  if (key.equals(KEY_HARD_STATE)) return { kind: 'hardState' };
  if (key.equals(KEY_SNAPSHOT)) return { kind: 'snapshot' };
  if (key.length === LOG_PREFIX.length + INDEX_BYTES && key.subarray(0, LOG_PREFIX.length).equals(LOG_PREFIX)) {
    const index = key.readBigUInt64BE(LOG_PREFIX.length);
    if (index > 0n && index <= BigInt(Number.MAX_SAFE_INTEGER)) return { kind: 'entry', index: Number(index) };
  }
  const chunkKeyBytes = SNAPSHOT_CHUNK_PREFIX.length + INDEX_BYTES + CHUNK_NUMBER_BYTES;
  if (key.length === chunkKeyBytes && key.subarray(0, SNAPSHOT_CHUNK_PREFIX.length).equals(SNAPSHOT_CHUNK_PREFIX)) {
    const snapshotIndex = key.readBigUInt64BE(SNAPSHOT_CHUNK_PREFIX.length);
    if (snapshotIndex <= BigInt(Number.MAX_SAFE_INTEGER)) {
      return { kind: 'chunk', snapshotIndex: Number(snapshotIndex), chunk: key.readUInt32BE(SNAPSHOT_CHUNK_PREFIX.length + INDEX_BYTES) };
    }
  }
  return { kind: 'unknown' };
}

/** keyName renders a key for error messages and logs: `log/42`, `snap/10#3`, `meta/hardstate`. */
export function keyName(key: Buffer): string {
  const parsed = parseKey(key);
  switch (parsed.kind) {
    case 'entry': return `log/${parsed.index}`;
    case 'chunk': return `snap/${parsed.snapshotIndex}#${parsed.chunk}`;
    case 'unknown': return `unknown key 0x${key.toString('hex')}`;
    default: return key.toString('latin1');
  }
}

function checksum(key: Buffer, version: number, payload: Uint8Array): number {
  return crc32(payload, crc32(Buffer.of(version), crc32(key)));
}

/** sealRecord wraps a payload into a checksummed record value for `key`. */
export function sealRecord(key: Buffer, payload: Uint8Array): Buffer {
  const value = Buffer.alloc(RECORD_HEADER_BYTES + payload.byteLength);
  value.writeUInt8(RECORD_VERSION, 0);
  value.writeUInt32BE(checksum(key, RECORD_VERSION, payload), 1);
  value.set(payload, RECORD_HEADER_BYTES);
  return value;
}

/** openRecord checks a record value read under `key` and returns its payload; throws StorageCorruptionError. */
export function openRecord(key: Buffer, value: Buffer, index?: number): Buffer {
  const name = keyName(key);
  const where = index === undefined ? {} : { index };
  if (value.length < RECORD_HEADER_BYTES) {
    throw new StorageCorruptionError(name, `record is truncated: ${value.length} bytes, expected at least ${RECORD_HEADER_BYTES}`, where);
  }
  const version = value.readUInt8(0);
  if (version !== RECORD_VERSION) {
    throw new StorageCorruptionError(name, `record version ${version}, expected ${RECORD_VERSION}`, where);
  }
  const payload = value.subarray(RECORD_HEADER_BYTES);
  const stored = value.readUInt32BE(1);
  const computed = checksum(key, version, payload);
  if (stored !== computed) {
    throw new StorageCorruptionError(name,
      `checksum mismatch: stored 0x${stored.toString(16).padStart(8, '0')}, computed 0x${computed.toString(16).padStart(8, '0')} over ${payload.length} payload bytes`, where);
  }
  return payload;
}
