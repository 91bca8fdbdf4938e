// level-log-store.ts — LevelLogStore, the LevelDB adapter of the LogStore port (classic-level).
//
// Durability: every save() and compact() is ONE LevelDB batch, so a Ready's snapshot, entries and
// hard state become durable together or not at all. Issue #3 asks for "one atomic, synced batch
// per ready()": the batch stays one atomic write, and it is written with `sync: true` (fsync
// before the promise resolves) unless the caller says `sync: false`, which the runtime does only
// for a Ready with nothing that must be durable — its one change is a higher commit index. That is
// what etcd does: its WAL fsyncs only when raft.MustSync (new entries, or a new term or vote).
// Such a write may be lost by a power cut; the node then restarts with an older commit index
// (never below its snapshot: DurableStorage.open) and learns the rest from its leader: a commit
// index is not a promise to anyone, the entries it covers are durable on a majority. LevelDB
// appends batches in order to its write-ahead log, so a later synced batch usually makes an
// unsynced one before it durable too, but not across a switch to a new log file (LevelDB 1.20
// closes the old one without fsync): nothing here relies on that order. A conflicting suffix is
// removed by explicit deletes of its keys in the same batch (never clear(), which is not atomic
// with the batch).
//
// Integrity: every value is a checksummed record (records.ts). open() reads everything back and
// refuses to start on any damage: a bad checksum, an undecodable payload, an entry whose index
// differs from its key, a gap in the log, a log that does not start right after the snapshot, a
// commit index beyond the last entry, or snapshot chunks that do not add up to the recorded
// digest. The error (StorageCorruptionError) names the key and index.
import { createHash } from 'node:crypto';
import { ClassicLevel } from 'classic-level';
import type { Entry, HardState, Snapshot, SnapshotMetadata } from '../raft/index.js';
import {
  CodecError, decodeEntry, decodeHardState, decodeSnapshotMetadata, encodeEntry, encodeHardState, encodeSnapshotMetadata,
} from '../wire/index.js';
import {
  DEFAULT_SNAPSHOT_CHUNK_BYTES, EMPTY_CONF_STATE_VALUE, EMPTY_HARD_STATE_VALUE, MAX_SNAPSHOT_CHUNKS, STORAGE_FORMAT_VERSION,
} from './constants.js';
import { StorageClosedError, StorageCorruptionError, StorageError, StorageFormatError, assert } from './errors.js';
import type { LogBounds, LogStore, PersistedState, SaveBatch, WriteOp } from './log-store.js';
import { planCompact, planSave } from './log-store.js';
import {
  KEY_FORMAT, KEY_HARD_STATE, KEY_SNAPSHOT, chunkKey, entryKey, keyName, openRecord, parseKey, sealRecord,
} from './records.js';

/** LevelLogStoreInit configures a LevelLogStore. */
export interface LevelLogStoreInit {
  /** snapshotChunkBytes: snapshot data is split into records of at most this size (default 1 MiB). */
  readonly snapshotChunkBytes?: number;
}

type Database = ClassicLevel<Buffer, Buffer>;
type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

const SNAPSHOT_HEADER_BYTES = 8 + 4 + 32;

/** StoredSnapshotLayout is where the current snapshot's data lives on disk. */
interface StoredSnapshotLayout {
  readonly index: number;
  readonly chunkCount: number;
}

/** LevelLogStore implements LogStore on LevelDB; create it with LevelLogStore.open(directory). */
export class LevelLogStore implements LogStore {
  private readonly db: Database;
  private readonly snapshotChunkBytes: number;
  private bounds: LogBounds = { snapshotIndex: 0, lastIndex: 0 };
  private layout: StoredSnapshotLayout = { index: 0, chunkCount: 0 };
  private closed = false;

  private constructor(db: Database, init: LevelLogStoreInit) {
    this.db = db;
    this.snapshotChunkBytes = init.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES;
    assert(Number.isSafeInteger(this.snapshotChunkBytes) && this.snapshotChunkBytes > 0, 'snapshotChunkBytes must be a positive integer');
  }

  /**
   * open opens (creating if needed) the store in `directory` and validates everything in it;
   * throws StorageCorruptionError or StorageFormatError and leaves the database closed if it is damaged.
   */
  static async open(directory: string, init: LevelLogStoreInit = {}): Promise<LevelLogStore> {
    const db: Database = new ClassicLevel<Buffer, Buffer>(directory, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
    try {
      await db.open();
    } catch (error) {
      throw new StorageError('STORAGE_OPEN_FAILED', `storage: cannot open LevelDB at ${directory}: ${(error as Error).message}`, { cause: error });
    }
    const store = new LevelLogStore(db, init);
    try {
      await store.initialize();
    } catch (error) {
      await db.close();
      throw error;
    }
    return store;
  }

  async load(): Promise<PersistedState> {
    this.checkOpen('load');
    return (await this.readAll()).state;
  }

  async save(batch: SaveBatch): Promise<void> {
    this.checkOpen('save');
    const plan = planSave(this.bounds, batch);
    await this.write(plan.ops, batch.sync !== false);
    this.bounds = plan.bounds;
  }

  async compact(snapshot: Snapshot): Promise<void> {
    this.checkOpen('compact');
    const plan = planCompact(this.bounds, snapshot);
    await this.write(plan.ops, true);
    this.bounds = plan.bounds;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.db.close();
  }

  private checkOpen(operation: string): void {
    if (this.closed) throw new StorageClosedError(operation);
  }

  /** initialize writes the format record into an empty database, or validates an existing one. */
  private async initialize(): Promise<void> {
    const { state, isEmpty, layout } = await this.readAll();
    if (isEmpty) {
      const value = Buffer.alloc(4);
      value.writeUInt32BE(STORAGE_FORMAT_VERSION, 0);
      await this.db.batch([{ type: 'put', key: KEY_FORMAT, value: sealRecord(KEY_FORMAT, value) }], { sync: true });
    }
    const snapshotIndex = state.snapshot.metadata.index;
    this.bounds = { snapshotIndex, lastIndex: snapshotIndex + state.entries.length };
    this.layout = layout;
  }

  /** write turns planned ops into one LevelDB batch, fsynced when `sync`. */
  private async write(ops: readonly WriteOp[], sync: boolean): Promise<void> {
    const batch: BatchOp[] = [];
    let layout = this.layout;
    for (const op of ops) {
      switch (op.kind) {
        case 'putEntry': {
          const key = entryKey(op.entry.index);
          batch.push({ type: 'put', key, value: sealRecord(key, encodeEntry(op.entry)) });
          break;
        }
        case 'deleteEntry':
          batch.push({ type: 'del', key: entryKey(op.index) });
          break;
        case 'putHardState':
          batch.push({ type: 'put', key: KEY_HARD_STATE, value: sealRecord(KEY_HARD_STATE, encodeHardState(op.hardState)) });
          break;
        case 'putSnapshot':
          layout = this.snapshotOps(batch, layout, op.snapshot);
          break;
      }
    }
    await this.db.batch(batch, { sync });
    this.layout = layout;
  }

  /** snapshotOps replaces the stored snapshot: deletes the old chunks, writes the new ones and the header. */
  private snapshotOps(batch: BatchOp[], old: StoredSnapshotLayout, snapshot: Snapshot): StoredSnapshotLayout {
    for (let chunk = 0; chunk < old.chunkCount; chunk++) batch.push({ type: 'del', key: chunkKey(old.index, chunk) });
    const data = snapshot.data;
    const chunkCount = Math.ceil(data.byteLength / this.snapshotChunkBytes);
    assert(chunkCount <= MAX_SNAPSHOT_CHUNKS, () => `snapshot of ${data.byteLength} bytes needs more than ${MAX_SNAPSHOT_CHUNKS} chunks`);
    const index = snapshot.metadata.index;
    for (let chunk = 0; chunk < chunkCount; chunk++) {
      const key = chunkKey(index, chunk);
      const part = data.subarray(chunk * this.snapshotChunkBytes, (chunk + 1) * this.snapshotChunkBytes);
      batch.push({ type: 'put', key, value: sealRecord(key, part) });
    }
    const metadata = encodeSnapshotMetadata(snapshot.metadata);
    const header = Buffer.alloc(SNAPSHOT_HEADER_BYTES + metadata.byteLength);
    header.writeBigUInt64BE(BigInt(data.byteLength), 0);
    header.writeUInt32BE(chunkCount, 8);
    createHash('sha256').update(data).digest().copy(header, 12);
    header.set(metadata, SNAPSHOT_HEADER_BYTES);
    batch.push({ type: 'put', key: KEY_SNAPSHOT, value: sealRecord(KEY_SNAPSHOT, header) });
    return { index, chunkCount };
  }

  /** readAll reads every record in key order and validates the whole store. */
  private async readAll(): Promise<{ state: PersistedState; isEmpty: boolean; layout: StoredSnapshotLayout }> {
    const reader = new StoreReader();
    for await (const [key, value] of this.db.iterator()) reader.add(key, value);
    return reader.finish();
  }
}

/** StoreReader validates records as they stream out of the database, in key order (log/, meta/, snap/). */
class StoreReader {
  private keyCount = 0;
  private format: number | undefined;
  private hardState: HardState = EMPTY_HARD_STATE_VALUE;
  private hardStateKeySeen = false;
  private header: { dataBytes: number; chunkCount: number; digest: Buffer; metadata: SnapshotMetadata } | undefined;
  private readonly entries: Entry[] = [];
  private readonly chunks: { key: Buffer; snapshotIndex: number; chunk: number; payload: Buffer }[] = [];

  add(key: Buffer, value: Buffer): void {
    this.keyCount++;
    const parsed = parseKey(key);
    switch (parsed.kind) {
      case 'format': {
        const payload = openRecord(key, value);
        if (payload.length !== 4) throw new StorageCorruptionError(keyName(key), `expected 4 bytes, got ${payload.length}`);
        this.format = payload.readUInt32BE(0);
        break;
      }
      case 'hardState':
        this.hardState = decodeOrCorrupt(key, () => decodeHardState(openRecord(key, value)));
        this.hardStateKeySeen = true;
        break;
      case 'snapshot':
        this.header = decodeOrCorrupt(key, () => readSnapshotHeader(openRecord(key, value)));
        break;
      case 'entry': {
        const entry = decodeOrCorrupt(key, () => decodeEntry(openRecord(key, value, parsed.index)), parsed.index);
        if (entry.index !== parsed.index) {
          throw new StorageCorruptionError(keyName(key), `holds entry ${entry.index}`, { index: parsed.index });
        }
        this.entries.push(entry);
        break;
      }
      case 'chunk':
        this.chunks.push({ key, snapshotIndex: parsed.snapshotIndex, chunk: parsed.chunk, payload: openRecord(key, value) });
        break;
      case 'unknown':
        throw new StorageCorruptionError(keyName(key), 'unexpected key in the store');
    }
  }

  finish(): { state: PersistedState; isEmpty: boolean; layout: StoredSnapshotLayout } {
    if (this.keyCount === 0) {
      return {
        state: { hardState: EMPTY_HARD_STATE_VALUE, snapshot: emptySnapshot(), entries: [] },
        isEmpty: true,
        layout: { index: 0, chunkCount: 0 },
      };
    }
    if (this.format === undefined) throw new StorageCorruptionError('meta/format', 'missing, but the store holds other records');
    if (this.format !== STORAGE_FORMAT_VERSION) throw new StorageFormatError(this.format, STORAGE_FORMAT_VERSION);
    const snapshot = this.assembleSnapshot();
    this.checkLog(snapshot.metadata);
    const lastIndex = snapshot.metadata.index + this.entries.length;
    if (this.hardStateKeySeen && this.hardState.commit > lastIndex) {
      throw new StorageCorruptionError('meta/hardstate',
        `commit index ${this.hardState.commit} is beyond the last stored entry ${lastIndex} (log tail lost)`, { index: lastIndex + 1 });
    }
    return {
      state: { hardState: this.hardState, snapshot, entries: this.entries },
      isEmpty: false,
      layout: { index: snapshot.metadata.index, chunkCount: this.header?.chunkCount ?? 0 },
    };
  }

  /** checkLog: the log starts right after the snapshot, has no gap, and its terms never decrease. */
  private checkLog(metadata: SnapshotMetadata): void {
    let expected = metadata.index + 1;
    let previousTerm = metadata.term;
    for (const entry of this.entries) {
      if (entry.index < expected) {
        throw new StorageCorruptionError(`log/${entry.index}`, `entry is covered by the snapshot at ${metadata.index} but still stored`, { index: entry.index });
      }
      if (entry.index > expected) {
        throw new StorageCorruptionError(`log/${expected}`, `missing entry: the log has a gap before entry ${entry.index}`, { index: expected });
      }
      if (entry.term < previousTerm) {
        throw new StorageCorruptionError(`log/${entry.index}`, `term ${entry.term} is below the previous term ${previousTerm}`, { index: entry.index });
      }
      previousTerm = entry.term;
      expected++;
    }
  }

  private assembleSnapshot(): Snapshot {
    const header = this.header;
    if (header === undefined) {
      if (this.chunks.length > 0) throw new StorageCorruptionError(keyName(this.chunks[0]!.key), 'snapshot chunk without a snapshot header');
      return emptySnapshot();
    }
    const index = header.metadata.index;
    if (this.chunks.length !== header.chunkCount) {
      throw new StorageCorruptionError('meta/snapshot', `expected ${header.chunkCount} data chunks, found ${this.chunks.length}`, { index });
    }
    const data = Buffer.alloc(header.dataBytes);
    let offset = 0;
    for (let i = 0; i < this.chunks.length; i++) {
      const chunk = this.chunks[i]!;
      if (chunk.snapshotIndex !== index || chunk.chunk !== i) {
        throw new StorageCorruptionError(keyName(chunk.key), `expected chunk snap/${index}#${i}`, { index });
      }
      if (offset + chunk.payload.length > data.length) {
        throw new StorageCorruptionError(keyName(chunk.key), `chunks exceed the recorded size of ${header.dataBytes} bytes`, { index });
      }
      chunk.payload.copy(data, offset);
      offset += chunk.payload.length;
    }
    if (offset !== header.dataBytes) {
      throw new StorageCorruptionError('meta/snapshot', `chunks hold ${offset} bytes, expected ${header.dataBytes}`, { index });
    }
    if (!createHash('sha256').update(data).digest().equals(header.digest)) {
      throw new StorageCorruptionError('meta/snapshot', 'snapshot data does not match its SHA-256 digest', { index });
    }
    return { metadata: header.metadata, data };
  }
}

function readSnapshotHeader(payload: Buffer): { dataBytes: number; chunkCount: number; digest: Buffer; metadata: SnapshotMetadata } {
  if (payload.length < SNAPSHOT_HEADER_BYTES) {
    throw new StorageCorruptionError('meta/snapshot', `header is ${payload.length} bytes, expected at least ${SNAPSHOT_HEADER_BYTES}`);
  }
  const dataBytes = payload.readBigUInt64BE(0);
  if (dataBytes > BigInt(Number.MAX_SAFE_INTEGER)) throw new StorageCorruptionError('meta/snapshot', `data size ${dataBytes} is not a safe integer`);
  const chunkCount = payload.readUInt32BE(8);
  if (chunkCount > MAX_SNAPSHOT_CHUNKS) throw new StorageCorruptionError('meta/snapshot', `chunk count ${chunkCount} exceeds ${MAX_SNAPSHOT_CHUNKS}`);
  return {
    dataBytes: Number(dataBytes),
    chunkCount,
    digest: Buffer.from(payload.subarray(12, SNAPSHOT_HEADER_BYTES)),
    metadata: decodeSnapshotMetadata(payload.subarray(SNAPSHOT_HEADER_BYTES)),
  };
}

/** decodeOrCorrupt turns a CodecError from a record that passed its checksum into a StorageCorruptionError. */
function decodeOrCorrupt<T>(key: Buffer, decode: () => T, index?: number): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof CodecError) {
      throw new StorageCorruptionError(keyName(key), `payload does not decode: ${error.message}`, { cause: error, ...(index === undefined ? {} : { index }) });
    }
    throw error;
  }
}

function emptySnapshot(): Snapshot {
  return { metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE_VALUE }, data: new Uint8Array(0) };
}
