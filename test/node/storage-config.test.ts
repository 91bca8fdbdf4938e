// storage-config.test.ts — goal: the node config's `storage.log` (leveldb | wal) is checked at the edge, and a
// node never opens a Raft directory that holds the other format: it refuses to start, naming the directory,
// what it holds and the setting. Method: parseNodeConfig on documents; then startNode (the bare-log
// application, one member) on a data directory whose Raft log was written in the other format by the real
// adapters — storage is opened before any port is listened on, so the refusal comes first; and that a new
// data directory and its Raft directory are created owner-only.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseNodeConfig } from '../../src/node/config.js';
import { startNode } from '../../src/node/gateway-node.js';
import { writeIdentityKey } from '../../src/node/identity.js';
import { StartupError } from '../../src/node/startup-error.js';
import { LevelLogStore, WalLogStore } from '../../src/storage/index.js';
import { toHex } from '../../src/commands/index.js';

const directories: string[] = [];
after(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

const base = {
  nodeId: 1, dataDir: './data', genesisFile: './genesis.json', identityKeyFile: './node.key',
  raft: { host: '127.0.0.1', port: 7001 }, api: { host: '127.0.0.1', port: 8001 },
};

test('storage.log accepts leveldb and wal (absent: LevelDB), and nothing else', () => {
  for (const log of ['leveldb', 'wal'] as const) assert.equal(parseNodeConfig({ ...base, storage: { log } }, '/etc/qg/node.yaml').storage?.log, log);
  assert.equal(parseNodeConfig(base, '/etc/qg/node.yaml').storage, undefined);
  assert.throws(() => parseNodeConfig({ ...base, storage: { log: 'rocksdb' } }, '/etc/qg/node.yaml'),
    (error: unknown) => error instanceof ConfigError && /node\.yaml: at storage\.log/.test(error.message) && /"rocksdb"/.test(error.message));
  assert.throws(() => parseNodeConfig({ ...base, storage: { segmentBytes: 1 } }, '/etc/qg/node.yaml'),
    (error: unknown) => error instanceof ConfigError && /at storage\.segmentBytes/.test(error.message));
});

/** logNodeConfig is a one-member bare-log node in a fresh directory whose Raft log `prepare` writes first. */
async function logNodeConfig(log: 'leveldb' | 'wal', prepare: (raftDir: string) => Promise<void>): Promise<ReturnType<typeof parseNodeConfig>> {
  const directory = mkdtempSync(join(tmpdir(), 'qg-storage-config-'));
  directories.push(directory);
  const pair = writeIdentityKey(join(directory, 'node.key'));
  const raftDir = join(directory, 'data', 'raft');
  mkdirSync(raftDir, { recursive: true, mode: 0o700 });
  await prepare(raftDir);
  return parseNodeConfig({
    nodeId: 1, dataDir: './data', identityKeyFile: './node.key', application: 'log', clusterId: 'ab'.repeat(32), apiTls: 'off',
    raft: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 }, logLevel: 'silent',
    members: [{ nodeId: 1, host: '127.0.0.1', port: 7001, publicKey: toHex(pair.publicKey) }],
    storage: { log },
  }, join(directory, 'node.yaml'));
}

async function refusedToStart(config: ReturnType<typeof parseNodeConfig>): Promise<StartupError> {
  try {
    const node = await startNode(config);
    await node.stop();
  } catch (error) {
    assert.ok(error instanceof StartupError, `expected a StartupError, got ${String(error)}`);
    return error;
  }
  return assert.fail('the node started on a Raft directory of the other format');
}

test('a node configured for the WAL refuses a Raft directory that holds LevelDB, and the other way round', async () => {
  const onLevel = await refusedToStart(await logNodeConfig('wal', async (raftDir) => (await LevelLogStore.open(raftDir)).close()));
  assert.equal(onLevel.code, 'STORAGE');
  assert.match(onLevel.message, /raft: storage: .* holds a leveldb Raft log, but the configuration asks for wal \(storage\.log\); set storage\.log to leveldb/);
  const onWal = await refusedToStart(await logNodeConfig('leveldb', async (raftDir) => (await WalLogStore.open(raftDir)).close()));
  assert.equal(onWal.code, 'STORAGE');
  assert.match(onWal.message, /holds a wal Raft log, but the configuration asks for leveldb/);
});

test('a node on a new data directory creates it and its Raft directory for its owner only (0700)', async () => {
  const config = await logNodeConfig('leveldb', async () => undefined);
  const dataDir = config.dataDir;
  rmSync(dataDir, { recursive: true, force: true });
  const node = await startNode(config);
  try {
    for (const directory of [dataDir, join(dataDir, 'raft')]) assert.equal(statSync(directory).mode & 0o777, 0o700, `${directory} is owner-only`);
  } finally {
    await node.stop();
  }
});
