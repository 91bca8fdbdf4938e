// wal-frames.ts — the framing of the write-ahead log's segment files (wal-log-store.ts): how a
// record's bytes sit in a preallocated, zero-filled segment, and how a reader tells the end of the
// log, a torn last write and damage apart.
//
// A frame starts at a multiple of FRAME_ALIGN_BYTES (16) and is padded to the next one:
//   u32be payload bytes (> 0), u32be CRC32 of the payload, u32be CRC32 of the first 8 header bytes
//   and of the segment's sequence number, u32be zero, then the payload, then zero padding.
// Sixteen-byte alignment keeps a header inside one 512-byte sector, which a disk writes whole: a
// header is all zeros (never written: the end of the log) or complete. Its own CRC means a flipped
// length is damage, never mistaken for a torn write; covering the sequence number means a frame
// copied from another segment fails too.
//
// A torn write (etcd's isTornEntry): a frame whose payload fails its CRC and has, split at sector
// boundaries, a piece that is all zeros (a sector the crash kept from reaching the disk), or that
// runs past the end of the file (a file cut short). Only the last segment may end in a torn frame;
// a bad CRC without a zero sector is damage anywhere.
import { crc32 } from 'node:zlib';
import { StorageCorruptionError, assert } from './errors.js';

/** FRAME_ALIGN_BYTES: frames start at multiples of this, so a header never straddles a sector. */
export const FRAME_ALIGN_BYTES = 16;
/** FRAME_HEADER_BYTES is the size of a frame's header. */
export const FRAME_HEADER_BYTES = 16;
/** SECTOR_BYTES is the unit a disk writes atomically (the torn-write test splits frames at it). */
const SECTOR_BYTES = 512;

/** framedBytes is the size of a frame holding `payloadBytes`, padding included. */
export function framedBytes(payloadBytes: number): number {
  return Math.ceil((FRAME_HEADER_BYTES + payloadBytes) / FRAME_ALIGN_BYTES) * FRAME_ALIGN_BYTES;
}

function headerChecksum(header: Buffer, sequence: number): number {
  const sequenceBytes = Buffer.alloc(8);
  sequenceBytes.writeBigUInt64BE(BigInt(sequence), 0);
  return crc32(sequenceBytes, crc32(header.subarray(0, 8)));
}

/** encodeFrame frames `payload` for the segment with sequence number `sequence`. */
export function encodeFrame(payload: Uint8Array, sequence: number): Buffer {
  assert(payload.byteLength > 0, 'encodeFrame: empty payload');
  const frame = Buffer.alloc(framedBytes(payload.byteLength));
  frame.writeUInt32BE(payload.byteLength, 0);
  frame.writeUInt32BE(crc32(payload), 4);
  frame.writeUInt32BE(headerChecksum(frame, sequence), 8);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/** ScannedFrame is one good frame of a segment: its payload and where it starts. */
export interface ScannedFrame {
  readonly offset: number;
  readonly payload: Buffer;
}

/** ScanResult is what scanFrames found: the good frames, where writing continues, and whether the tail was torn. */
export interface ScanResult {
  readonly frames: ScannedFrame[];
  /** endOffset: where the next frame goes (just after the last good frame). */
  readonly endOffset: number;
  /** torn: a torn frame was found at endOffset (only in the last segment); the bytes from there on are garbage. */
  readonly torn: boolean;
}

function isZero(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** hasZeroSector: some piece of `bytes[from, to)`, split at absolute sector boundaries, is all zeros. */
function hasZeroSector(bytes: Buffer, from: number, to: number): boolean {
  let start = from;
  while (start < to) {
    const end = Math.min(to, (Math.floor(start / SECTOR_BYTES) + 1) * SECTOR_BYTES);
    if (isZero(bytes.subarray(start, end))) return true;
    start = end;
  }
  return false;
}

/**
 * scanFrames reads the frames of one segment's bytes. `name` names the file in errors; `isLast`
 * allows a torn last frame. Throws StorageCorruptionError (naming the file and offset) on damage.
 */
export function scanFrames(bytes: Buffer, sequence: number, name: string, isLast: boolean): ScanResult {
  const frames: ScannedFrame[] = [];
  let offset = 0;
  while (offset + FRAME_HEADER_BYTES <= bytes.length) {
    const header = bytes.subarray(offset, offset + FRAME_HEADER_BYTES);
    if (isZero(header)) return { frames, endOffset: offset, torn: false };
    const where = `${name}@${offset}`;
    if (header.readUInt32BE(8) !== headerChecksum(header, sequence) || header.readUInt32BE(12) !== 0) {
      throw new StorageCorruptionError(where, 'frame header fails its checksum (a damaged length, or a frame of another segment)');
    }
    const payloadBytes = header.readUInt32BE(0);
    const payloadEnd = offset + FRAME_HEADER_BYTES + payloadBytes;
    if (payloadBytes === 0) throw new StorageCorruptionError(where, 'frame header announces an empty payload');
    if (payloadEnd > bytes.length) {
      if (isLast) return { frames, endOffset: offset, torn: true };
      throw new StorageCorruptionError(where, `frame of ${payloadBytes} bytes runs past the end of the file (${bytes.length} bytes)`);
    }
    const payload = bytes.subarray(offset + FRAME_HEADER_BYTES, payloadEnd);
    if (crc32(payload) !== header.readUInt32BE(4)) {
      if (isLast && hasZeroSector(bytes, offset + FRAME_HEADER_BYTES, payloadEnd)) return { frames, endOffset: offset, torn: true };
      throw new StorageCorruptionError(where, `payload of ${payloadBytes} bytes fails its CRC32`);
    }
    frames.push({ offset, payload });
    offset += framedBytes(payloadBytes);
  }
  // A segment ends exactly full, or (cut short) inside a header: the latter is torn in the last segment only.
  if (offset === bytes.length) return { frames, endOffset: offset, torn: false };
  if (isLast) return { frames, endOffset: offset, torn: true };
  throw new StorageCorruptionError(`${name}@${offset}`, `file ends inside a frame header (${bytes.length} bytes)`);
}
