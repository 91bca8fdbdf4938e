// wal-log-store.ts — WalLogStore, the write-ahead-log adapter of the LogStore port: etcd's design
// for the Raft log (issue #18), beside the LevelDB adapter.
//
// Why: LevelDB appends each batch to a growing log file, so every fdatasync also commits the file's
// new size (a journal commit on ext4), and its JavaScript costs main-thread time per write. Here the
// log is a series of segment files, preallocated and zero-filled (wal-files.ts), each save ONE
// checksummed frame (wal-frames.ts) written in place and fdatasynced: the sync flushes data only.
//
// Durability: a save or compact is one frame, so it is durable whole or not at all (a torn frame is
// dropped on open). A synced save returns after fdatasync; an unsynced one (a commit-only hard
// state) is written and not synced, and the next synced write makes it durable too (same file,
// earlier offset). A segment is fdatasynced before the next one starts, so only the last segment can
// end torn. Snapshots go to their own files (etcd's snap files), written and fsynced before the
// frame that names them with their SHA-256; the frame makes them current.
//
// Conflicting suffix: a save whose entries start inside the log replaces the log from there on
// replay (the frame carries the entries; replaying it truncates). Compaction: once the snapshot
// covers every entry a segment held, the segment is deleted (whole files, oldest first); each segment
// starts with a header holding the snapshot marker and hard state of its start, so replay can begin
// at the first segment left.
//
// Integrity: open() and load() replay everything (wal-replay.ts) and refuse to start on damage
// (StorageCorruptionError naming the file and offset), except a torn last frame of the last segment,
// which open() zeroes out so the log continues at the last good frame.
import { closeSync, fdatasync, openSync, writeSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Entry, HardState, Snapshot } from '../raft/index.js';
import { DEFAULT_WAL_SEGMENT_BYTES, EMPTY_CONF_STATE_VALUE, WAL_FORMAT_VERSION } from './constants.js';
import { StorageClosedError, StorageError, assert } from './errors.js';
import type { LogBounds, LogStore, PersistedState, SaveBatch, WriteOp } from './log-store.js';
import { planCompact, planSave } from './log-store.js';
import { encodeFrame, framedBytes } from './wal-frames.js';
import {
  SNAPSHOT_DIRECTORY, WAL_DIRECTORY, installSegment, lockStore, makeDirectory, removeLeftoverPreallocation, preallocateNext, readSnapshotFile, removeSnapshotsExcept,
  segmentName, syncDirectory, writeSnapshotFile, zeroFill,
} from './wal-files.js';
import { encodeRecord } from './wal-records.js';
import type { SnapshotMarker, WalRecord } from './wal-records.js';
import { replayLog } from './wal-replay.js';
import type { ReplayedLog } from './wal-replay.js';

const fdatasyncAsync = promisify(fdatasync);

const SEGMENT_ROUND_BYTES = 4096;

/** WalLogStoreInit configures a WalLogStore. */
export interface WalLogStoreInit {
  /** segmentBytes: the preallocated size of a segment (default 64 MiB; a larger frame gets a segment of its own size). */
  readonly segmentBytes?: number;
}

/** ActiveSegment is the segment being written. */
interface ActiveSegment {
  readonly sequence: number;
  readonly fd: number;
  readonly sizeBytes: number;
  offset: number;
}

/** WalLogStore implements LogStore on preallocated WAL segments; create it with WalLogStore.open(directory). */
export class WalLogStore implements LogStore {
  private readonly directory: string;
  private readonly segmentBytes: number;
  private bounds: LogBounds = { snapshotIndex: 0, lastIndex: 0 };
  private snapshotMarker: SnapshotMarker | undefined;
  private hardState: HardState;
  /** entrySegments[i]: the segment holding entry snapshotIndex + 1 + i (non-decreasing). */
  private entrySegments: number[];
  /** segments: the sequence numbers on disk, ascending; the last one is `active`. */
  private segments: number[];
  private active: ActiveSegment | undefined;
  /** next: the next segment's zero-filled file (path and size), being prepared once the active one is half full. */
  private next: Promise<{ path: string; sizeBytes: number }> | undefined;
  private closed = false;
  /** failed: a write or fsync failed; the store refuses further use (close still releases it). */
  private failed = false;
  /** unlock releases the store's process lock (wal-files.ts lockStore). */
  private readonly unlock: () => Promise<void>;

  private constructor(directory: string, init: WalLogStoreInit, log: ReplayedLog, unlock: () => Promise<void>) {
    this.directory = directory;
    this.unlock = unlock;
    this.segmentBytes = init.segmentBytes ?? DEFAULT_WAL_SEGMENT_BYTES;
    assert(Number.isSafeInteger(this.segmentBytes) && this.segmentBytes >= 4096, 'segmentBytes must be an integer of at least 4096');
    this.snapshotMarker = log.snapshot;
    this.hardState = log.hardState;
    this.entrySegments = log.entrySegments;
    this.segments = log.segments;
    const snapshotIndex = log.snapshot?.index ?? 0;
    this.bounds = { snapshotIndex, lastIndex: snapshotIndex + log.entries.length };
  }

  /**
   * open opens (creating if needed) the store in `directory` and validates everything in it; a torn
   * last frame is dropped. Throws StorageCorruptionError or StorageFormatError on damage.
   */
  static async open(directory: string, init: WalLogStoreInit = {}): Promise<WalLogStore> {
    try {
      await makeDirectory(join(directory, WAL_DIRECTORY));
      await makeDirectory(join(directory, SNAPSHOT_DIRECTORY));
    } catch (error) {
      throw new StorageError('STORAGE_OPEN_FAILED', `storage: cannot create the WAL directories in ${directory}: ${(error as Error).message}`, { cause: error });
    }
    const unlock = await lockStore(directory);
    let store: WalLogStore | undefined;
    try {
      await removeLeftoverPreallocation(join(directory, WAL_DIRECTORY));
      const log = await replayLog(directory);
      // Validate the snapshot the log names now, as LevelLogStore does, so a damaged one stops the start.
      if (log.snapshot !== undefined) await readSnapshotFile(join(directory, SNAPSHOT_DIRECTORY), log.snapshot);
      store = new WalLogStore(directory, init, log, unlock);
      await store.resume(log);
      return store;
    } catch (error) {
      if (store === undefined) await unlock();
      else await store.close();
      throw error;
    }
  }

  async load(): Promise<PersistedState> {
    this.checkOpen('load');
    const log = await replayLog(this.directory);
    const snapshot: Snapshot = log.snapshot === undefined
      ? { metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE_VALUE }, data: new Uint8Array(0) }
      : await readSnapshotFile(join(this.directory, SNAPSHOT_DIRECTORY), log.snapshot);
    return { hardState: log.hardState, snapshot, entries: log.entries };
  }

  async save(batch: SaveBatch): Promise<void> {
    this.checkOpen('save');
    const plan = planSave(this.bounds, batch);
    const { snapshot, entries, hardState } = splitOps(plan.ops);
    const marker = snapshot === undefined ? undefined : await this.storeSnapshot(snapshot);
    const sequence = await this.append({ kind: 'save', snapshot: marker, hardState, entries }, batch.sync !== false);
    if (marker !== undefined) {
      this.snapshotMarker = marker;
      this.entrySegments = [];
    }
    if (entries.length > 0) {
      this.entrySegments.length = entries[0]!.index - plan.bounds.snapshotIndex - 1;
      for (let i = 0; i < entries.length; i++) this.entrySegments.push(sequence);
    }
    if (hardState !== undefined) this.hardState = hardState;
    this.bounds = plan.bounds;
    if (marker !== undefined) await this.dropObsoleteFiles();
  }

  async compact(snapshot: Snapshot): Promise<void> {
    this.checkOpen('compact');
    const plan = planCompact(this.bounds, snapshot);
    const marker = await this.storeSnapshot(snapshot);
    await this.append({ kind: 'compact', snapshot: marker }, true);
    this.snapshotMarker = marker;
    this.entrySegments = this.entrySegments.slice(plan.bounds.snapshotIndex - this.bounds.snapshotIndex);
    this.bounds = plan.bounds;
    await this.dropObsoleteFiles();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.active !== undefined) closeSync(this.active.fd);
    this.active = undefined;
    if (this.next !== undefined) {
      const prepared = await this.next.catch(() => undefined);
      this.next = undefined;
      if (prepared !== undefined) await rm(prepared.path, { force: true });
    }
    await this.unlock();
  }

  private checkOpen(operation: string): void {
    if (this.closed || this.failed) throw new StorageClosedError(operation);
  }

  /** resume continues the last segment after a replay: zeroes a torn tail, or starts the first segment of a fresh store. */
  private async resume(log: ReplayedLog): Promise<void> {
    const walDirectory = join(this.directory, WAL_DIRECTORY);
    const last = this.segments.at(-1);
    if (last === undefined) {
      await this.startSegment(1, await preallocateNext(walDirectory, this.segmentBytes));
      await syncDirectory(this.directory);
    } else {
      const path = join(walDirectory, segmentName(last));
      if (log.torn) await zeroFill(path, log.endOffset, Math.max(log.lastFileBytes, this.segmentBytes));
      const sizeBytes = (await stat(path)).size;
      this.active = { sequence: last, fd: openSync(path, 'r+'), sizeBytes, offset: log.endOffset };
      // A crash between a segment's creation and its header leaves it without one: write it now.
      if (log.endOffset === 0) await this.writeFrame(this.headerRecord(last), true);
    }
    await removeSnapshotsExcept(join(this.directory, SNAPSHOT_DIRECTORY), this.snapshotMarker);
  }

  private headerRecord(sequence: number): WalRecord {
    return { kind: 'segmentHeader', formatVersion: WAL_FORMAT_VERSION, sequence, snapshot: this.snapshotMarker, hardState: this.hardState };
  }

  /** startSegment makes the preallocated file segment `sequence`, writes and syncs its header, and makes it active. */
  private async startSegment(sequence: number, preallocated: string): Promise<void> {
    const walDirectory = join(this.directory, WAL_DIRECTORY);
    const path = await installSegment(walDirectory, preallocated, sequence);
    const sizeBytes = (await stat(path)).size;
    this.active = { sequence, fd: openSync(path, 'r+'), sizeBytes, offset: 0 };
    this.segments.push(sequence);
    await this.writeFrame(this.headerRecord(sequence), true);
  }

  /** append writes one record into the active segment, starting the next segment first if it does not fit; answers the segment used. */
  private async append(record: WalRecord, sync: boolean): Promise<number> {
    const payload = encodeRecord(record);
    const active = this.active!;
    if (active.offset + framedBytes(payload.byteLength) > active.sizeBytes) await this.rollover(payload.byteLength);
    await this.writeFrame(record, sync, payload);
    const now = this.active!;
    if (this.next === undefined && now.offset > now.sizeBytes / 2) this.prepareNext(this.segmentBytes);
    return now.sequence;
  }

  /** writeFrame writes a record at the active segment's offset (fdatasync when `sync`); a failed write closes the store. */
  private async writeFrame(record: WalRecord, sync: boolean, payload = encodeRecord(record)): Promise<void> {
    const active = this.active!;
    const frame = encodeFrame(payload, active.sequence);
    assert(active.offset + frame.length <= active.sizeBytes, () => `wal: frame of ${frame.length} bytes does not fit at ${active.offset} of ${active.sizeBytes}`);
    try {
      writeSync(active.fd, frame, 0, frame.length, active.offset);
      if (sync) await fdatasyncAsync(active.fd);
    } catch (error) {
      // After a failed write or fsync the file's state is unknown (an fsync error may have dropped pages): stop.
      this.failed = true;
      throw new StorageError('STORAGE_WRITE_FAILED', `storage: writing ${segmentName(active.sequence)} at ${active.offset} failed: ${(error as Error).message}`, { cause: error });
    }
    active.offset += frame.length;
  }

  /** prepareNext starts zero-filling the next segment in the background; its failure surfaces at rollover. */
  private prepareNext(sizeBytes: number): void {
    const next = preallocateNext(join(this.directory, WAL_DIRECTORY), sizeBytes).then((path) => ({ path, sizeBytes }));
    next.catch(() => undefined); // awaited at rollover or close, where a failure surfaces
    this.next = next;
  }

  /** rollover syncs and closes the active segment and starts the next one, sized to hold a payload of `payloadBytes`. */
  private async rollover(payloadBytes: number): Promise<void> {
    const active = this.active!;
    const headerBytes = framedBytes(encodeRecord(this.headerRecord(active.sequence + 1)).byteLength);
    const needed = Math.ceil((headerBytes + framedBytes(payloadBytes)) / SEGMENT_ROUND_BYTES) * SEGMENT_ROUND_BYTES;
    const sizeBytes = Math.max(this.segmentBytes, needed);
    let prepared = this.next === undefined ? undefined : await this.next;
    this.next = undefined;
    if (prepared === undefined || prepared.sizeBytes < sizeBytes) {
      this.prepareNext(sizeBytes);
      prepared = await this.next!;
      this.next = undefined;
    }
    await fdatasyncAsync(active.fd); // an unsynced frame must not be left in a segment that is no longer the last
    closeSync(active.fd);
    await this.startSegment(active.sequence + 1, prepared.path);
  }

  /** storeSnapshot writes a snapshot file (durable before the frame naming it is written). */
  private async storeSnapshot(snapshot: Snapshot): Promise<SnapshotMarker> {
    return writeSnapshotFile(join(this.directory, SNAPSHOT_DIRECTORY), snapshot);
  }

  /** dropObsoleteFiles deletes the segments before the one holding the oldest live entry, and older snapshot files. */
  private async dropObsoleteFiles(): Promise<void> {
    const active = this.active!;
    const keepFrom = Math.min(this.entrySegments[0] ?? active.sequence, active.sequence);
    const obsolete = this.segments.filter((sequence) => sequence < keepFrom);
    const walDirectory = join(this.directory, WAL_DIRECTORY);
    // Oldest first, so a crash midway leaves a contiguous run of segments.
    for (const sequence of obsolete) await rm(join(walDirectory, segmentName(sequence)), { force: true });
    if (obsolete.length > 0) await syncDirectory(walDirectory);
    this.segments = this.segments.filter((sequence) => sequence >= keepFrom);
    await removeSnapshotsExcept(join(this.directory, SNAPSHOT_DIRECTORY), this.snapshotMarker);
  }
}

/** splitOps reads a plan's snapshot, entries and hard state (the deletes are implied by replay). */
function splitOps(ops: readonly WriteOp[]): { snapshot: Snapshot | undefined; entries: Entry[]; hardState: HardState | undefined } {
  let snapshot: Snapshot | undefined;
  let hardState: HardState | undefined;
  const entries: Entry[] = [];
  for (const op of ops) {
    if (op.kind === 'putSnapshot') snapshot = op.snapshot;
    else if (op.kind === 'putEntry') entries.push(op.entry);
    else if (op.kind === 'putHardState') hardState = op.hardState;
  }
  return { snapshot, entries, hardState };
}
