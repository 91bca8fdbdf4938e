// wal-files.ts — the files of the write-ahead log store (wal-log-store.ts): segment names, zero-filled
// preallocation, snapshot files, and the fsyncs that make a new or renamed file durable.
//
// Layout of a WAL store's directory (directories 0700, files 0600):
//   wal/<u64 sequence, 16 hex digits>.wal    segments, preallocated and zero-filled
//   wal/next.tmp                             the next segment, being preallocated (deleted on open)
//   snap/<index 16 hex>-<term 16 hex>.snap   snapshot files: u32be n, SnapshotMetadata (n bytes), data
//   snap/*.tmp                               a snapshot being written (deleted on open)
//   lock/                                    an empty LevelDB held open while the store is: its LOCK file
//                                            (an fcntl lock, released when the process dies) keeps a second
//                                            process out, as LevelLogStore's own database does
// A snapshot file is written to a temporary name, fsynced, renamed and its directory fsynced, before
// the log record naming it (with its SHA-256) is written: a crash in between leaves a file no record
// names, which the next open deletes.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import type { Snapshot } from '../raft/index.js';
import { CodecError, decodeSnapshotMetadata, encodeSnapshotMetadata } from '../wire/index.js';
import { StorageCorruptionError, StorageError, assert } from './errors.js';
import type { SnapshotMarker } from './wal-records.js';

/** WAL_DIRECTORY is the subdirectory of the segments (its presence marks a Raft directory as WAL). */
export const WAL_DIRECTORY = 'wal';
/** SNAPSHOT_DIRECTORY is the subdirectory of the snapshot files. */
export const SNAPSHOT_DIRECTORY = 'snap';
const NEXT_SEGMENT_FILE = 'next.tmp';
const ZERO_CHUNK_BYTES = 1024 * 1024;
const SEGMENT_PATTERN = /^([0-9a-f]{16})\.wal$/;
const SNAPSHOT_PATTERN = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

/** LOCK_DIRECTORY holds the empty LevelDB whose lock keeps a second process out of the store. */
export const LOCK_DIRECTORY = 'lock';

/**
 * lockStore takes the store's process lock (Node has no flock: classic-level's LOCK is an fcntl lock
 * the kernel drops with the process); answers its release. Throws StorageError STORAGE_OPEN_FAILED
 * when another process (or another open store in this one) holds it.
 */
export async function lockStore(directory: string): Promise<() => Promise<void>> {
  const db = new ClassicLevel(join(directory, LOCK_DIRECTORY));
  try {
    await db.open();
  } catch (error) {
    throw new StorageError('STORAGE_OPEN_FAILED', `storage: cannot lock the WAL store in ${directory} (is another node using it?): ${(error as Error).message}`, { cause: error });
  }
  return () => db.close();
}

/** segmentName is the file name of the segment with sequence number `sequence`. */
export function segmentName(sequence: number): string {
  return `${sequence.toString(16).padStart(16, '0')}.wal`;
}

/** snapshotName is the file name of the snapshot at `index` and `term`. */
export function snapshotName(index: number, term: number): string {
  return `${index.toString(16).padStart(16, '0')}-${term.toString(16).padStart(16, '0')}.snap`;
}

/** makeDirectory creates `path` (0700) and its parents if missing. */
export async function makeDirectory(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
}

/** syncDirectory fsyncs a directory, so a file created, renamed or deleted in it stays so after a crash. */
export async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** removeLeftoverPreallocation deletes a next segment a previous process was preparing (open only: never while one is being prepared). */
export async function removeLeftoverPreallocation(walDirectory: string): Promise<void> {
  await rm(join(walDirectory, NEXT_SEGMENT_FILE), { force: true });
}

/**
 * listSegments answers the store's segment sequence numbers, ascending (a next segment being prepared
 * is not one); throws StorageCorruptionError on a foreign file or a missing sequence number.
 */
export async function listSegments(walDirectory: string): Promise<number[]> {
  const sequences: number[] = [];
  for (const name of await readdir(walDirectory)) {
    if (name === NEXT_SEGMENT_FILE) continue;
    const match = SEGMENT_PATTERN.exec(name);
    if (match === null) throw new StorageCorruptionError(`${WAL_DIRECTORY}/${name}`, 'unexpected file in the log directory');
    sequences.push(Number.parseInt(match[1]!, 16));
  }
  sequences.sort((a, b) => a - b);
  for (let i = 1; i < sequences.length; i++) {
    if (sequences[i] !== sequences[i - 1]! + 1) {
      throw new StorageCorruptionError(`${WAL_DIRECTORY}/${segmentName(sequences[i - 1]! + 1)}`, 'missing segment: the log has a gap');
    }
  }
  return sequences;
}

/** zeroFill writes zeros into `path` over [from, to) and fsyncs it (its size becomes at least `to`). */
export async function zeroFill(path: string, from: number, to: number): Promise<void> {
  const handle = await open(path, constants.O_RDWR | constants.O_CREAT, 0o600);
  try {
    const zeros = Buffer.alloc(Math.min(ZERO_CHUNK_BYTES, Math.max(1, to - from)));
    for (let offset = from; offset < to; offset += zeros.length) {
      await handle.write(zeros, 0, Math.min(zeros.length, to - offset), offset);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** preallocateNext zero-fills the next segment under its temporary name; answers its path. */
export async function preallocateNext(walDirectory: string, bytes: number): Promise<string> {
  const path = join(walDirectory, NEXT_SEGMENT_FILE);
  await rm(path, { force: true });
  await zeroFill(path, 0, bytes);
  return path;
}

/** installSegment renames a preallocated file to the segment `sequence` and makes the name durable. */
export async function installSegment(walDirectory: string, preallocated: string, sequence: number): Promise<string> {
  const path = join(walDirectory, segmentName(sequence));
  await rename(preallocated, path);
  await syncDirectory(walDirectory);
  return path;
}

/** writeSnapshotFile stores a snapshot durably and answers its marker (index, term, SHA-256 of the file). */
export async function writeSnapshotFile(directory: string, snapshot: Snapshot): Promise<SnapshotMarker> {
  const metadata = encodeSnapshotMetadata(snapshot.metadata);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(metadata.byteLength, 0);
  const bytes = Buffer.concat([length, metadata, snapshot.data]);
  const { index, term } = snapshot.metadata;
  const name = snapshotName(index, term);
  const temporary = join(directory, `${name}.tmp`);
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, join(directory, name));
  await syncDirectory(directory);
  return { index, term, digest: createHash('sha256').update(bytes).digest() };
}

/** readSnapshotFile reads and checks the snapshot a marker names; throws StorageCorruptionError. */
export async function readSnapshotFile(directory: string, marker: SnapshotMarker): Promise<Snapshot> {
  const name = `${SNAPSHOT_DIRECTORY}/${snapshotName(marker.index, marker.term)}`;
  let bytes: Buffer;
  try {
    bytes = await readFile(join(directory, snapshotName(marker.index, marker.term)));
  } catch (error) {
    throw new StorageCorruptionError(name, `the log names this snapshot but it cannot be read: ${(error as Error).message}`, { index: marker.index, cause: error });
  }
  if (!createHash('sha256').update(bytes).digest().equals(marker.digest)) {
    throw new StorageCorruptionError(name, 'snapshot file does not match the SHA-256 the log recorded for it', { index: marker.index });
  }
  assert(bytes.length >= 4, 'snapshot file with a matching digest is shorter than its header');
  const metadataBytes = bytes.readUInt32BE(0);
  try {
    const metadata = decodeSnapshotMetadata(bytes.subarray(4, 4 + metadataBytes));
    if (metadata.index !== marker.index || metadata.term !== marker.term) {
      throw new StorageCorruptionError(name, `holds the snapshot at ${metadata.index} (term ${metadata.term})`, { index: marker.index });
    }
    return { metadata, data: bytes.subarray(4 + metadataBytes) };
  } catch (error) {
    if (error instanceof CodecError) throw new StorageCorruptionError(name, `metadata does not decode: ${error.message}`, { cause: error });
    throw error;
  }
}

/** removeSnapshotsExcept deletes every snapshot file (and leftover temporary) but `keep`. */
export async function removeSnapshotsExcept(directory: string, keep: SnapshotMarker | undefined): Promise<void> {
  const kept = keep === undefined ? undefined : snapshotName(keep.index, keep.term);
  for (const name of await readdir(directory)) {
    if (name === kept) continue;
    if (SNAPSHOT_PATTERN.test(name) || name.endsWith('.tmp')) await rm(join(directory, name), { force: true });
  }
}
