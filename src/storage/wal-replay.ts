// wal-replay.ts — reading a write-ahead log store back (wal-log-store.ts): every segment's frames in
// order, replayed into the state a node restarts from, and validated as LevelLogStore validates its
// records: a log that starts right after the snapshot, without gaps, with terms that never decrease,
// and a commit index within it.
//
// Replay starts from the first segment that is left, with the state its header recorded (older
// segments are deleted once the snapshot covers every entry they held). A segment may then hold
// entries after a part of the log that lived in a deleted segment and that a later snapshot covers:
// replay accepts such a hole while it reads, and refuses it only if it is still there at the end.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Entry, HardState } from '../raft/index.js';
import { EMPTY_HARD_STATE_VALUE, WAL_FORMAT_VERSION } from './constants.js';
import { StorageCorruptionError, StorageFormatError } from './errors.js';
import { scanFrames } from './wal-frames.js';
import { WAL_DIRECTORY, listSegments, segmentName } from './wal-files.js';
import { decodeRecord } from './wal-records.js';
import type { SnapshotMarker, WalRecord } from './wal-records.js';

/** ReplayedLog is the state a WAL store holds, and where its last segment continues. */
export interface ReplayedLog {
  /** snapshot: the marker of the current snapshot, undefined for none (a fresh store). */
  readonly snapshot: SnapshotMarker | undefined;
  readonly hardState: HardState;
  /** entries: the log after the snapshot, contiguous from its index + 1. */
  readonly entries: Entry[];
  /** entrySegments[i]: the sequence number of the segment that holds entries[i]. */
  readonly entrySegments: number[];
  /** segments: the sequence numbers present, ascending (empty for a fresh store). */
  readonly segments: number[];
  /** endOffset: where the last segment's next frame goes. */
  readonly endOffset: number;
  /**
   * torn: the last segment holds something other than zeros from endOffset on — a torn frame, or bytes of
   * unsynced frames that reached the disk while an earlier one did not — which must be zeroed before
   * writing continues there (a shorter frame written over them would leave the rest to be read as a header).
   */
  readonly torn: boolean;
  /** lastFileBytes: the size of the last segment's file. */
  readonly lastFileBytes: number;
}

/** Replay applies records in log order. */
class Replay {
  snapshot: SnapshotMarker | undefined;
  hardState: HardState = EMPTY_HARD_STATE_VALUE;
  /** base: the index of entries[0] (or where the next entry would go). */
  base = 1;
  entries: Entry[] = [];
  entrySegments: number[] = [];
  private started = false;

  get snapshotIndex(): number {
    return this.snapshot?.index ?? 0;
  }

  apply(record: WalRecord, sequence: number, where: string): void {
    switch (record.kind) {
      case 'segmentHeader':
        if (record.formatVersion !== WAL_FORMAT_VERSION) throw new StorageFormatError(record.formatVersion, WAL_FORMAT_VERSION);
        if (record.sequence !== sequence) throw new StorageCorruptionError(where, `segment header names segment ${record.sequence}`);
        if (!this.started) this.reset(record.snapshot, record.hardState);
        this.started = true;
        return;
      case 'save':
        if (record.snapshot !== undefined) this.reset(record.snapshot, this.hardState);
        this.append(record.entries, sequence, where);
        if (record.hardState !== undefined) this.hardState = record.hardState;
        return;
      case 'compact':
        if (record.snapshot.index <= this.snapshotIndex && this.snapshot !== undefined) {
          throw new StorageCorruptionError(where, `compaction to ${record.snapshot.index} is not after the snapshot at ${this.snapshotIndex}`);
        }
        this.snapshot = record.snapshot;
        this.dropThrough(record.snapshot.index);
        return;
    }
  }

  private reset(snapshot: SnapshotMarker | undefined, hardState: HardState): void {
    this.snapshot = snapshot;
    this.hardState = hardState;
    this.base = this.snapshotIndex + 1;
    this.entries = [];
    this.entrySegments = [];
  }

  private append(entries: readonly Entry[], sequence: number, where: string): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    if (first <= this.snapshotIndex) throw new StorageCorruptionError(where, `holds entry ${first}, covered by the snapshot at ${this.snapshotIndex}`, { index: first });
    const kept = first - this.base;
    if (kept < 0 || kept > this.entries.length) {
      // A hole: the part of the log before `first` was in a deleted segment (see the file comment).
      this.base = first;
      this.entries = [];
      this.entrySegments = [];
    } else {
      this.entries.length = kept;
      this.entrySegments.length = kept;
    }
    for (const entry of entries) {
      if (entry.index !== this.base + this.entries.length) {
        throw new StorageCorruptionError(where, `entries are not contiguous at ${entry.index}`, { index: entry.index });
      }
      this.entries.push(entry);
      this.entrySegments.push(sequence);
    }
  }

  private dropThrough(index: number): void {
    const drop = Math.min(this.entries.length, Math.max(0, index + 1 - this.base));
    this.entries = this.entries.slice(drop);
    this.entrySegments = this.entrySegments.slice(drop);
    this.base = this.entries.length === 0 ? index + 1 : this.base + drop;
  }

  /** check: the final log starts right after the snapshot, has no gap, terms never decrease, commit within it. */
  check(): void {
    const snapshotIndex = this.snapshotIndex;
    if (this.entries.length > 0 && this.base !== snapshotIndex + 1) {
      throw new StorageCorruptionError(`log/${snapshotIndex + 1}`, `missing entries: the log has a gap from ${snapshotIndex + 1} to ${this.base - 1}`, { index: snapshotIndex + 1 });
    }
    let previousTerm = this.snapshot?.term ?? 0;
    for (const entry of this.entries) {
      if (entry.term < previousTerm) {
        throw new StorageCorruptionError(`log/${entry.index}`, `term ${entry.term} is below the previous term ${previousTerm}`, { index: entry.index });
      }
      previousTerm = entry.term;
    }
    const lastIndex = snapshotIndex + this.entries.length;
    if (this.hardState.commit > lastIndex) {
      throw new StorageCorruptionError('hardstate', `commit index ${this.hardState.commit} is beyond the last stored entry ${lastIndex} (log tail lost)`, { index: lastIndex + 1 });
    }
  }
}

const ZERO_CHUNK = Buffer.alloc(1024 * 1024);

/** isZeroFrom: every byte of `bytes` from `offset` on is zero (compared natively, a MiB at a time). */
function isZeroFrom(bytes: Buffer, offset: number): boolean {
  for (let start = offset; start < bytes.length; start += ZERO_CHUNK.length) {
    const end = Math.min(bytes.length, start + ZERO_CHUNK.length);
    if (!bytes.subarray(start, end).equals(ZERO_CHUNK.subarray(0, end - start))) return false;
  }
  return true;
}

/**
 * replayLog reads every segment of the store in `directory` and replays it; throws
 * StorageCorruptionError (naming the file and offset) or StorageFormatError. A torn frame is
 * allowed at the end of the last segment only.
 */
export async function replayLog(directory: string): Promise<ReplayedLog> {
  const walDirectory = join(directory, WAL_DIRECTORY);
  const segments = await listSegments(walDirectory);
  const replay = new Replay();
  let endOffset = 0;
  let torn = false;
  let lastFileBytes = 0;
  for (const [position, sequence] of segments.entries()) {
    const name = `${WAL_DIRECTORY}/${segmentName(sequence)}`;
    const bytes = await readFile(join(walDirectory, segmentName(sequence)));
    const isLast = position === segments.length - 1;
    const scan = scanFrames(bytes, sequence, name, isLast);
    for (const [i, frame] of scan.frames.entries()) {
      const where = `${name}@${frame.offset}`;
      const record = decodeRecord(frame.payload, where);
      if ((i === 0) !== (record.kind === 'segmentHeader')) {
        throw new StorageCorruptionError(where, i === 0 ? `segment starts with a ${record.kind} record, not its header` : 'a second segment header');
      }
      replay.apply(record, sequence, where);
    }
    if (scan.frames.length === 0 && !isLast) throw new StorageCorruptionError(`${name}@0`, 'segment has no header');
    endOffset = scan.endOffset;
    torn = scan.torn || !isZeroFrom(bytes, scan.endOffset);
    lastFileBytes = bytes.length;
  }
  replay.check();
  // Copied out: a decoded entry's data is a view into its segment's buffer, which would otherwise stay in memory whole.
  const entries = replay.entries.map((entry) => ({ ...entry, data: new Uint8Array(entry.data) }));
  return {
    snapshot: replay.snapshot, hardState: replay.hardState, entries, entrySegments: replay.entrySegments,
    segments, endOffset, torn, lastFileBytes,
  };
}
