// leveldb.test.ts — goal: the LevelDB LogStore keeps the LogStore contract, writes each Ready as
// ONE synced batch, and refuses to start on damaged data, naming the damaged record.
// Method: the shared suite of contract.ts on temporary directories; a spy on ClassicLevel's
// batch() to see the writes; then damage written through a raw classic-level handle (a flipped
// byte, a truncated value, a deleted or moved key, a bad format version) and check that
// LevelLogStore.open() fails with StorageCorruptionError (or StorageFormatError) whose key and
// index name the damage.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { LevelLogStore, StorageCorruptionError, StorageFormatError } from '../../src/storage/index.js';
import { entry, runLogStoreContract } from './contract.js';

const directories: string[] = [];
async function freshDirectory(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'qg-storage-'));
  directories.push(directory);
  return directory;
}
after(async () => {
  for (const directory of directories) await rm(directory, { recursive: true, force: true });
});

runLogStoreContract({
  name: 'leveldb',
  async create() {
    const directory = await freshDirectory();
    return {
      // A small chunk size makes every snapshot in the suite span several chunk records.
      open: async () => LevelLogStore.open(directory, { snapshotChunkBytes: 256 * 1024 }),
      cleanup: async () => rm(directory, { recursive: true, force: true }),
    };
  },
});

const CONF = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };

/** seeded writes a store with a snapshot at 2 (3 chunks), entries 3..7 and commit 6. */
async function seeded(): Promise<string> {
  const directory = await freshDirectory();
  const store = await LevelLogStore.open(directory, { snapshotChunkBytes: 10 });
  await store.save({ entries: [entry(1, 1), entry(2, 1)] });
  await store.compact({ metadata: { index: 2, term: 1, confState: CONF }, data: new Uint8Array(25).fill(7) });
  await store.save({ entries: [3, 4, 5, 6, 7].map((i) => entry(i, 2)), hardState: { term: 2, vote: 1, commit: 6 } });
  await store.close();
  return directory;
}

async function raw(directory: string, change: (db: ClassicLevel<Buffer, Buffer>) => Promise<void>): Promise<void> {
  const db = new ClassicLevel<Buffer, Buffer>(directory, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    await change(db);
  } finally {
    await db.close();
  }
}

function flip(value: Buffer, offset: number, mask: number): void {
  value.writeUInt8(value.readUInt8(offset) ^ mask, offset);
}

function logKey(index: number): Buffer {
  const key = Buffer.alloc(12);
  key.write('log/', 0, 'latin1');
  key.writeBigUInt64BE(BigInt(index), 4);
  return key;
}

async function openFails(directory: string): Promise<StorageCorruptionError> {
  try {
    const store = await LevelLogStore.open(directory);
    await store.close();
  } catch (error) {
    assert.ok(error instanceof StorageCorruptionError, `expected StorageCorruptionError, got ${String(error)}`);
    assert.equal(error.code, 'STORAGE_CORRUPT');
    return error;
  }
  assert.fail('open succeeded on damaged data');
}

describe('LevelDB writes', () => {
  test('each save and compact is exactly one batch, written with sync: true unless the save says sync: false', async (t) => {
    const calls: { operations: number; sync: unknown }[] = [];
    const original = ClassicLevel.prototype.batch;
    t.mock.method(ClassicLevel.prototype, 'batch', function (this: ClassicLevel<Buffer, Buffer>, ...args: unknown[]) {
      const [operations, options] = args as [unknown[] | undefined, { sync?: boolean } | undefined];
      if (Array.isArray(operations)) calls.push({ operations: operations.length, sync: options?.sync });
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    });
    const store = await LevelLogStore.open(await freshDirectory());
    calls.length = 0;
    await store.save({ entries: [entry(1, 1), entry(2, 1), entry(3, 1)], hardState: { term: 1, vote: 1, commit: 0 } });
    await store.save({ entries: [entry(2, 2)], hardState: { term: 2, vote: 0, commit: 1 } }); // put 2, delete 3, hard state
    await store.save({ entries: [], hardState: { term: 2, vote: 0, commit: 2 }, sync: false }); // a commit-only Ready
    await store.compact({ metadata: { index: 1, term: 1, confState: CONF }, data: new Uint8Array(3) });
    await store.close();
    assert.deepEqual(calls, [
      { operations: 4, sync: true }, { operations: 3, sync: true }, { operations: 1, sync: false }, { operations: 3, sync: true },
    ]);
  });
});

describe('LevelDB corruption is detected at open and named', () => {
  test('the undamaged store opens and loads', async () => {
    const store = await LevelLogStore.open(await seeded());
    const state = await store.load();
    await store.close();
    assert.deepEqual(state.entries.map((e) => e.index), [3, 4, 5, 6, 7]);
    assert.equal(state.snapshot.data.byteLength, 25);
  });

  test('a flipped byte in an entry value fails the checksum of log/5', async () => {
    const directory = await seeded();
    await raw(directory, async (db) => {
      const value = (await db.get(logKey(5)))!;
      flip(value, value.length - 1, 0x01);
      await db.put(logKey(5), value);
    });
    const error = await openFails(directory);
    assert.equal(error.key, 'log/5');
    assert.equal(error.index, 5);
    assert.match(error.message, /checksum mismatch/);
  });

  test('a truncated entry value is reported as log/4', async () => {
    const directory = await seeded();
    await raw(directory, async (db) => {
      const value = (await db.get(logKey(4)))!;
      await db.put(logKey(4), value.subarray(0, 3));
    });
    const error = await openFails(directory);
    assert.equal(error.key, 'log/4');
    assert.match(error.message, /truncated/);
  });

  test('an entry copied under another index fails because the checksum covers the key', async () => {
    const directory = await seeded();
    await raw(directory, async (db) => {
      await db.put(logKey(6), (await db.get(logKey(3)))!);
    });
    const error = await openFails(directory);
    assert.equal(error.key, 'log/6');
  });

  test('a missing entry in the middle is reported as a gap at log/4', async () => {
    const directory = await seeded();
    await raw(directory, async (db) => db.del(logKey(4)));
    const error = await openFails(directory);
    assert.equal(error.key, 'log/4');
    assert.equal(error.index, 4);
    assert.match(error.message, /gap/);
  });

  test('a lost tail below the commit index is reported (commit 6, last entry 5)', async () => {
    const directory = await seeded();
    await raw(directory, async (db) => {
      await db.del(logKey(7));
      await db.del(logKey(6));
    });
    const error = await openFails(directory);
    assert.equal(error.key, 'meta/hardstate');
    assert.match(error.message, /commit index 6 is beyond the last stored entry 5/);
  });

  test('a damaged hard state, snapshot header or snapshot chunk is named', async () => {
    for (const [key, expected] of [['meta/hardstate', 'meta/hardstate'], ['meta/snapshot', 'meta/snapshot']] as const) {
      const directory = await seeded();
      await raw(directory, async (db) => {
        const value = (await db.get(Buffer.from(key)))!;
        flip(value, 6, 0xff);
        await db.put(Buffer.from(key), value);
      });
      assert.equal((await openFails(directory)).key, expected);
    }
    const directory = await seeded();
    const chunk = Buffer.alloc(17);
    chunk.write('snap/', 0, 'latin1');
    chunk.writeBigUInt64BE(2n, 5);
    chunk.writeUInt32BE(1, 13);
    await raw(directory, async (db) => {
      const value = (await db.get(chunk))!;
      flip(value, 5, 0x10);
      await db.put(chunk, value);
    });
    assert.equal((await openFails(directory)).key, 'snap/2#1');
    const missing = await seeded();
    await raw(missing, async (db) => db.del(chunk));
    assert.match((await openFails(missing)).message, /expected 3 data chunks, found 2/);
  });

  test('an unknown key and an unsupported format version are refused', async () => {
    const directory = await seeded();
    await raw(directory, async (db) => db.put(Buffer.from('zzz'), Buffer.from('x')));
    assert.match((await openFails(directory)).message, /unexpected key/);
    const other = await seeded();
    await raw(other, async (db) => {
      const payload = Buffer.alloc(4);
      payload.writeUInt32BE(99, 0);
      const { crc32 } = await import('node:zlib');
      const value = Buffer.alloc(9);
      value.writeUInt8(1, 0);
      value.writeUInt32BE(crc32(payload, crc32(Buffer.of(1), crc32(Buffer.from('meta/format')))), 1);
      payload.copy(value, 5);
      await db.put(Buffer.from('meta/format'), value);
    });
    await assert.rejects(LevelLogStore.open(other), StorageFormatError);
  });

  test('a store locked by another open handle is refused with STORAGE_OPEN_FAILED', async () => {
    const directory = await seeded();
    const first = await LevelLogStore.open(directory);
    await assert.rejects(LevelLogStore.open(directory), (error: Error & { code?: string }) => error.code === 'STORAGE_OPEN_FAILED');
    await first.close();
  });
});
