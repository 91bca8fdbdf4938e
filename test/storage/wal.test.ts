// wal.test.ts — goal: the write-ahead-log LogStore keeps the LogStore contract, survives what a
// crash does to a preallocated log (a torn last frame), refuses what a crash cannot do (a flipped
// byte anywhere, a missing segment or snapshot file) with an error naming the file and offset,
// rolls over to new segments and deletes whole segments once a snapshot covers them, and is never
// opened over a LevelDB Raft directory (nor the other way round).
// Method: the shared suite of contract.ts on temporary directories (4 KiB segments, so the suite's
// logs span many segments); then real files damaged by hand — truncated mid-frame, a sector zeroed,
// a byte flipped — and reopened.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LevelLogStore, StorageCorruptionError, StorageFormatMismatchError, WalLogStore, openLogStore,
} from '../../src/storage/index.js';
import { entry, runLogStoreContract } from './contract.js';

const SEGMENT_BYTES = 4096;
const CONF = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

const directories: string[] = [];
async function freshDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'qg-wal-'));
  directories.push(directory);
  return directory;
}
after(async () => {
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
});

runLogStoreContract({
  name: 'wal',
  async create() {
    const directory = await freshDirectory();
    return {
      open: async () => WalLogStore.open(directory, { segmentBytes: SEGMENT_BYTES }),
      cleanup: async () => rm(directory, { recursive: true, force: true }),
    };
  },
});

async function segmentFiles(directory: string): Promise<string[]> {
  return (await readdir(join(directory, 'wal'))).filter((name) => name.endsWith('.wal')).sort();
}

/** usedBytes: the offset just after the last non-zero byte of a (zero-filled) segment file. */
async function usedBytes(path: string): Promise<number> {
  const bytes = await readFile(path);
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  return end;
}

/** frameOffsets: where each frame of a segment starts (16-byte aligned frames, u32be payload length first). */
function frameOffsets(bytes: Buffer): number[] {
  const offsets: number[] = [];
  for (let offset = 0; offset + 16 <= bytes.length && bytes.readUInt32BE(offset) !== 0;) {
    offsets.push(offset);
    offset += Math.ceil((16 + bytes.readUInt32BE(offset)) / 16) * 16;
  }
  return offsets;
}

async function indexes(directory: string, segmentBytes = SEGMENT_BYTES): Promise<number[]> {
  const store = await WalLogStore.open(directory, { segmentBytes });
  try {
    return (await store.load()).entries.map((e) => e.index);
  } finally {
    await store.close();
  }
}

/** written: a store holding entries 1..count (one save each, `bytes` of data each), closed. */
async function written(count: number, bytes = 300, segmentBytes = SEGMENT_BYTES): Promise<string> {
  const directory = await freshDirectory();
  const store = await WalLogStore.open(directory, { segmentBytes });
  for (let index = 1; index <= count; index++) {
    await store.save({ entries: [entry(index, 1, bytes)], hardState: { term: 1, vote: 1, commit: index - 1 } });
  }
  await store.close();
  return directory;
}

async function openFails(directory: string): Promise<StorageCorruptionError> {
  try {
    await (await WalLogStore.open(directory, { segmentBytes: SEGMENT_BYTES })).close();
  } catch (error) {
    assert.ok(error instanceof StorageCorruptionError, `expected StorageCorruptionError, got ${String(error)}`);
    assert.equal(error.code, 'STORAGE_CORRUPT');
    return error;
  }
  return assert.fail('open succeeded on damaged data');
}

async function flipByte(path: string, offset: number): Promise<void> {
  const bytes = await readFile(path);
  bytes[offset] = bytes[offset]! ^ 0x20;
  await writeFile(path, bytes);
}

describe('WAL crash recovery: a torn last frame is dropped, the prefix loads', () => {
  test('a last segment cut short in the middle of its last frame loads every earlier save, and writing continues there', async () => {
    const directory = await written(5, 200, 64 * 1024);
    const [segment] = await segmentFiles(directory);
    const path = join(directory, 'wal', segment!);
    await truncate(path, (await usedBytes(path)) - 50);
    assert.deepEqual(await indexes(directory, 64 * 1024), [1, 2, 3, 4]);
    const store = await WalLogStore.open(directory, { segmentBytes: 64 * 1024 });
    await store.save({ entries: [entry(5, 2, 200), entry(6, 2, 200)] });
    await store.close();
    assert.deepEqual(await indexes(directory, 64 * 1024), [1, 2, 3, 4, 5, 6]);
    assert.equal((await stat(path)).size, 64 * 1024, 'the cut segment is zero-filled back to its size');
  });

  test('a last frame with a sector that never reached the disk (all zeros) is torn, not damage', async () => {
    const directory = await written(3, 2000, 64 * 1024);
    const [segment] = await segmentFiles(directory);
    const path = join(directory, 'wal', segment!);
    const bytes = await readFile(path);
    const end = await usedBytes(path);
    const sector = Math.floor((end - 600) / 512) * 512;
    bytes.fill(0, sector, sector + 512);
    await writeFile(path, bytes);
    assert.deepEqual(await indexes(directory, 64 * 1024), [1, 2]);
  });
});

describe('WAL crash recovery: bytes after the end of the log', () => {
  test('a frame that reached the disk while its header did not is zeroed, so shorter frames written over it read back', async () => {
    const directory = await written(4, 2000, 64 * 1024);
    const [segment] = await segmentFiles(directory);
    const path = join(directory, 'wal', segment!);
    const bytes = await readFile(path);
    const last = frameOffsets(bytes).at(-1)!;
    // The header's sector never reached the disk; the sectors after it (the rest of entry 4) did.
    bytes.fill(0, last, (Math.floor(last / 512) + 1) * 512);
    await writeFile(path, bytes);
    assert.deepEqual(await indexes(directory, 64 * 1024), [1, 2, 3]);
    const store = await WalLogStore.open(directory, { segmentBytes: 64 * 1024 });
    await store.save({ entries: [entry(4, 2, 600)] });
    await store.save({ entries: [entry(5, 2, 600)] });
    await store.close();
    assert.deepEqual(await indexes(directory, 64 * 1024), [1, 2, 3, 4, 5]);
  });
});

describe('WAL damage is refused at open, naming the file and offset', () => {
  test('a flipped byte in the middle of the log fails its CRC', async () => {
    const directory = await written(6, 300, 64 * 1024);
    const [segment] = await segmentFiles(directory);
    const path = join(directory, 'wal', segment!);
    await flipByte(path, Math.floor((await usedBytes(path)) / 2));
    const error = await openFails(directory);
    assert.match(error.key, /^wal\/0000000000000001\.wal@\d+$/);
    assert.match(error.message, /corrupt record wal\/0000000000000001\.wal@\d+: (payload of \d+ bytes fails its CRC32|frame header fails its checksum)/);
  });

  test('a flipped byte in the last frame of the last segment is damage too (no zero sector: not a torn write)', async () => {
    const directory = await written(4, 300, 64 * 1024);
    const [segment] = await segmentFiles(directory);
    const path = join(directory, 'wal', segment!);
    await flipByte(path, (await usedBytes(path)) - 20);
    assert.match((await openFails(directory)).message, /fails its CRC32/);
  });

  test('a flipped byte in an earlier segment, or a missing segment, is refused', async () => {
    const directory = await written(40);
    const segments = await segmentFiles(directory);
    assert.ok(segments.length >= 3, `expected several segments, got ${segments.length}`);
    await flipByte(join(directory, 'wal', segments[0]!), 200);
    assert.match((await openFails(directory)).key, /^wal\/0000000000000001\.wal@\d+$/);
    const other = await written(40);
    await rm(join(other, 'wal', (await segmentFiles(other))[1]!));
    assert.match((await openFails(other)).message, /missing segment/);
  });

  test('a damaged or missing snapshot file is named', async () => {
    const directory = await written(4, 100, 64 * 1024);
    const store = await WalLogStore.open(directory, { segmentBytes: 64 * 1024 });
    await store.compact({ metadata: { index: 3, term: 1, confState: CONF }, data: new Uint8Array(100).fill(9) });
    await store.close();
    const [snap] = await readdir(join(directory, 'snap'));
    assert.equal(snap, '0000000000000003-0000000000000001.snap');
    await flipByte(join(directory, 'snap', snap), 50);
    assert.match((await openFails(directory)).message, /snap\/0000000000000003-0000000000000001\.snap: snapshot file does not match/);
    await rm(join(directory, 'snap', snap));
    assert.match((await openFails(directory)).message, /cannot be read/);
  });
});

describe('WAL segments', () => {
  test('saves roll over into new segments, and all of them load after a restart; files 0600, directories 0700', async () => {
    const directory = await written(40);
    const segments = await segmentFiles(directory);
    assert.ok(segments.length >= 3, `expected several segments, got ${segments.length}`);
    assert.deepEqual(segments.slice(0, 3), ['0000000000000001.wal', '0000000000000002.wal', '0000000000000003.wal']);
    assert.deepEqual(await indexes(directory), Array.from({ length: 40 }, (_, i) => i + 1));
    for (const name of segments) assert.equal((await stat(join(directory, 'wal', name))).mode & 0o777, 0o600, name);
    for (const name of ['wal', 'snap']) assert.equal((await stat(join(directory, name))).mode & 0o777, 0o700, name);
  });

  test('a load while the next segment is being prepared leaves it alone, and the rollover after it works', async () => {
    const directory = await freshDirectory();
    const store = await WalLogStore.open(directory, { segmentBytes: SEGMENT_BYTES });
    for (let index = 1; index <= 30; index++) {
      await store.save({ entries: [entry(index, 1, 300)] });
      await store.load(); // right after a save that may have started preparing the next segment
    }
    await store.close();
    assert.ok((await segmentFiles(directory)).length >= 3);
    assert.deepEqual(await indexes(directory), Array.from({ length: 30 }, (_, i) => i + 1));
  });

  test('compaction deletes the segments whose entries the snapshot covers, keeps the rest, and restarts from what is left', async () => {
    const directory = await written(40);
    const before = await segmentFiles(directory);
    const store = await WalLogStore.open(directory, { segmentBytes: SEGMENT_BYTES });
    await store.compact({ metadata: { index: 36, term: 1, confState: CONF }, data: new Uint8Array([1, 2, 3]) });
    await store.save({ entries: [entry(41, 2, 300)], hardState: { term: 2, vote: 0, commit: 38 } });
    await store.close();
    const after = await segmentFiles(directory);
    assert.ok(after.length < before.length - 1, `expected segments dropped: ${before.length} before, ${after.length} after`);
    assert.equal(after[0], before.find((name) => after.includes(name)), 'the oldest segments go first');
    assert.deepEqual(await readdir(join(directory, 'snap')), ['0000000000000024-0000000000000001.snap']);
    const reopened = await WalLogStore.open(directory, { segmentBytes: SEGMENT_BYTES });
    const state = await reopened.load();
    await reopened.close();
    assert.equal(state.snapshot.metadata.index, 36);
    assert.deepEqual(Array.from(state.snapshot.data), [1, 2, 3]);
    assert.deepEqual(state.entries.map((e) => e.index), [37, 38, 39, 40, 41]);
    assert.deepEqual(state.hardState, { term: 2, vote: 0, commit: 38 });
  });

  test('a conflicting suffix that started in an earlier segment is replaced, across restarts', async () => {
    const directory = await written(30);
    const store = await WalLogStore.open(directory, { segmentBytes: SEGMENT_BYTES });
    await store.save({ entries: [entry(5, 2, 300), entry(6, 2, 300)], hardState: { term: 2, vote: 3, commit: 4 } });
    await store.close();
    const state = await (async () => {
      const again = await WalLogStore.open(directory, { segmentBytes: SEGMENT_BYTES });
      await again.save({ entries: [entry(7, 3, 300)] });
      await again.close();
      const last = await WalLogStore.open(directory, { segmentBytes: SEGMENT_BYTES });
      try {
        return await last.load();
      } finally {
        await last.close();
      }
    })();
    assert.deepEqual(state.entries.map((e) => [e.index, e.term]), [[1, 1], [2, 1], [3, 1], [4, 1], [5, 2], [6, 2], [7, 3]]);
    assert.deepEqual(state.hardState, { term: 2, vote: 3, commit: 4 });
  });
});

describe('WAL store lock', () => {
  test('a store held open is refused to a second open with STORAGE_OPEN_FAILED, and opens again once closed', async () => {
    const directory = await written(2);
    const first = await WalLogStore.open(directory, { segmentBytes: SEGMENT_BYTES });
    await assert.rejects(WalLogStore.open(directory, { segmentBytes: SEGMENT_BYTES }),
      (error: Error & { code?: string }) => error.code === 'STORAGE_OPEN_FAILED' && /another node/.test(error.message));
    await first.close();
    assert.deepEqual(await indexes(directory), [1, 2]);
  });
});

describe('Raft directory formats are never mixed', () => {
  test('a LevelDB directory is refused as WAL and a WAL directory as LevelDB, by name', async () => {
    const level = await freshDirectory();
    await (await LevelLogStore.open(level)).close();
    await assert.rejects(openLogStore(level, 'wal'), (error: Error) => error instanceof StorageFormatMismatchError
      && /holds a leveldb Raft log, but the configuration asks for wal \(storage\.log\)/.test(error.message));
    const wal = await freshDirectory();
    await (await openLogStore(wal, 'wal')).close();
    await assert.rejects(openLogStore(wal, 'leveldb'), (error: Error & { code?: string }) => error.code === 'STORAGE_FORMAT_MISMATCH'
      && /holds a wal Raft log, but the configuration asks for leveldb/.test(error.message));
    await (await openLogStore(wal, 'wal')).close();
  });
});
