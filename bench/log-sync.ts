// log-sync.ts — the floor of a synced Raft-log append on this disk (npx tsx bench/log-sync.ts), for
// issue #18's 1-client latency: what one durable append of a ~700-byte record costs through each
// way a log could be written.
//
// Variants, each appending --records records of --record-bytes bytes, each record durable before
// the next is written (a lone write at 1 client):
//  - leveldb: one classic-level batch with `sync: true` per record, as src/storage/level-log-store.ts
//    writes a Ready (LevelDB appends to its log file, so every fdatasync also commits a new size);
//  - append: write at the end of a growing file + fdatasync, through fs/promises (libuv's pool);
//  - prealloc-sparse: the same into a file ftruncate'd to --segment-bytes first (size fixed, blocks
//    allocated on first write);
//  - prealloc-zero: the same into a file zero-filled and fsynced first (etcd preallocates its WAL
//    segments; zero filling is what Node can do without fallocate), so an fdatasync flushes data only;
//  - prealloc-zero-sync: the same with writeSync + fdatasyncSync on the main thread (no pool hop).
// The variants run interleaved in --rounds rounds so a change of the machine's load hits them all.
// --writers N runs N appenders of the variant at once (each its own file or database, as the three nodes
// of a cluster on one disk are): ext4 commits a file's new size through its one journal, shared by all.
// Per append: wall-clock latency p50/p99 and CPU from /proc/self/task/*/schedstat (nanoseconds):
// the main thread's, and the other threads' (libuv's pool: the write and fdatasync syscalls; LevelDB's
// own threads).
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { closeSync, fdatasyncSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { Command } from 'commander';
import { percentile } from './support.js';

/** Options are the command line's settings. */
interface Options {
  readonly records: number;
  readonly recordBytes: number;
  readonly rounds: number;
  readonly segmentBytes: number;
  readonly dir: string | undefined;
  readonly writers: number;
}

/** Sample is one variant's measurements, summed over rounds. */
interface Sample {
  readonly latenciesMs: number[];
  mainNs: number;
  otherNs: number;
}

/** Appender is one variant: open, append one durable record, close. */
interface Appender {
  append(record: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** threadNs reads the main thread's and the other threads' CPU time (ns) of this process. */
function threadNs(): { mainNs: number; otherNs: number } {
  let mainNs = 0;
  let otherNs = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    let ns: number;
    try {
      ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      continue; // a thread that ended between the listing and the read
    }
    if (Number(tid) === process.pid) mainNs += ns;
    else otherNs += ns;
  }
  return { mainNs, otherNs };
}

async function levelAppender(directory: string): Promise<Appender> {
  const db = new ClassicLevel<Buffer, Buffer>(directory, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  let index = 0;
  return {
    async append(record) {
      const key = Buffer.alloc(12);
      key.write('log/', 0, 'latin1');
      key.writeBigUInt64BE(BigInt(++index), 4);
      await db.batch([{ type: 'put', key, value: record }], { sync: true });
    },
    close: () => db.close(),
  };
}

async function fileAppender(file: string, prepare: 'none' | 'sparse' | 'zero', segmentBytes: number): Promise<Appender> {
  if (prepare === 'zero') {
    // Zero fill in 1 MiB writes, then one fsync: every block is allocated and its size committed.
    const fd = openSync(file, 'w', 0o600);
    const zeros = Buffer.alloc(1024 * 1024);
    for (let offset = 0; offset < segmentBytes; offset += zeros.length) writeSync(fd, zeros, 0, Math.min(zeros.length, segmentBytes - offset), offset);
    fsyncSync(fd);
    closeSync(fd);
  }
  const handle = await open(file, prepare === 'zero' ? 'r+' : 'w', 0o600);
  if (prepare === 'sparse') {
    await handle.truncate(segmentBytes);
    await handle.sync();
  }
  let position = 0;
  return {
    async append(record) {
      await handle.write(record, 0, record.length, position);
      await handle.datasync();
      position += record.length;
    },
    close: () => handle.close(),
  };
}

function syncFileAppender(file: string, segmentBytes: number): Appender {
  const fd = openSync(file, 'w', 0o600);
  const zeros = Buffer.alloc(1024 * 1024);
  for (let offset = 0; offset < segmentBytes; offset += zeros.length) writeSync(fd, zeros, 0, Math.min(zeros.length, segmentBytes - offset), offset);
  fsyncSync(fd);
  let position = 0;
  return {
    async append(record) {
      writeSync(fd, record, 0, record.length, position);
      fdatasyncSync(fd);
      position += record.length;
    },
    close: async () => closeSync(fd),
  };
}

const VARIANTS = ['leveldb', 'append', 'prealloc-sparse', 'prealloc-zero', 'prealloc-zero-sync'] as const;
type Variant = typeof VARIANTS[number];

async function openVariant(variant: Variant, directory: string, segmentBytes: number): Promise<Appender> {
  switch (variant) {
    case 'leveldb': return levelAppender(join(directory, 'level'));
    case 'append': return fileAppender(join(directory, 'append.wal'), 'none', segmentBytes);
    case 'prealloc-sparse': return fileAppender(join(directory, 'sparse.wal'), 'sparse', segmentBytes);
    case 'prealloc-zero': return fileAppender(join(directory, 'zero.wal'), 'zero', segmentBytes);
    case 'prealloc-zero-sync': return syncFileAppender(join(directory, 'zero-sync.wal'), segmentBytes);
  }
}

/** appendAll appends `count` records through `appender`, pushing each latency. */
async function appendAll(appender: Appender, record: Buffer, count: number, latenciesMs: number[]): Promise<void> {
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await appender.append(record);
    latenciesMs.push(performance.now() - start);
  }
}

/** measureRound appends `records` through each of `writers` fresh appenders of `variant` at once and adds to `sample`. */
async function measureRound(variant: Variant, options: Options, round: number, sample: Sample): Promise<void> {
  const directories = Array.from({ length: options.writers }, (_, i) => mkdtempSync(join(options.dir ?? tmpdir(), `qg-log-sync-${variant}-${round}-${i}-`)));
  try {
    const appenders = await Promise.all(directories.map((directory) => openVariant(variant, directory, options.segmentBytes)));
    const record = Buffer.alloc(options.recordBytes, 0x5a);
    for (const appender of appenders) for (let i = 0; i < 5; i++) await appender.append(record); // warm: first-touch costs are not the steady state
    const before = threadNs();
    await Promise.all(appenders.map((appender) => appendAll(appender, record, options.records, sample.latenciesMs)));
    const after = threadNs();
    sample.mainNs += after.mainNs - before.mainNs;
    sample.otherNs += after.otherNs - before.otherNs;
    for (const appender of appenders) await appender.close();
  } finally {
    for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  }
}

function parseCount(name: string, min: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name}: expected an integer ≥ ${min}, got "${text}"`);
    return value;
  };
}

async function main(): Promise<void> {
  const options = new Command('bench:log-sync')
    .description('the floor of a synced Raft-log append on this disk: LevelDB, a growing file, a preallocated file')
    .option('--records <n>', 'synced appends per variant per round', parseCount('--records', 1), 200)
    .option('--record-bytes <n>', 'bytes per record', parseCount('--record-bytes', 1), 700)
    .option('--rounds <n>', 'rounds; the variants run interleaved in each', parseCount('--rounds', 1), 3)
    .option('--segment-bytes <n>', 'preallocated file size', parseCount('--segment-bytes', 1024 * 1024), 64 * 1024 * 1024)
    .option('--dir <dir>', 'where the files go (default: the OS temp dir)')
    .option('--writers <n>', 'appenders of each variant writing at once (each its own file)', parseCount('--writers', 1), 1)
    .parse(process.argv)
    .opts<Options>();
  const loadStart = loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`bench:log-sync ${new Date().toISOString()} load ${loadStart}; ${options.rounds} rounds × ${options.writers} writer(s) × ${options.records} appends of ${options.recordBytes} B`);
  const samples = new Map<Variant, Sample>(VARIANTS.map((v) => [v, { latenciesMs: [], mainNs: 0, otherNs: 0 }]));
  for (let round = 0; round < options.rounds; round++) {
    for (const variant of VARIANTS) await measureRound(variant, options, round, samples.get(variant)!);
  }
  console.log('\n| variant | p50 ms | p99 ms | mean ms | main-thread CPU ms/append | other threads CPU ms/append |');
  console.log('|---|---|---|---|---|---|');
  for (const [variant, sample] of samples) {
    const n = sample.latenciesMs.length;
    const mean = sample.latenciesMs.reduce((a, b) => a + b, 0) / n;
    console.log(`| ${variant} | ${percentile(sample.latenciesMs, 50).toFixed(2)} | ${percentile(sample.latenciesMs, 99).toFixed(2)} | ${mean.toFixed(2)} | ${(sample.mainNs / n / 1e6).toFixed(3)} | ${(sample.otherNs / n / 1e6).toFixed(3)} |`);
  }
  console.log(`\nend ${new Date().toISOString()} load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

await main();
