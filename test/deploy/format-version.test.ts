// format-version.test.ts — data of a newer major format is refused with what to do (issue 17 item 5).
//
// Goal: the Raft store, a log entry, a runtime snapshot, a snapshot file and the data directory's mark each
// carry a format version; data of a newer version than this build reads is refused with a message naming the
// data, both versions and the fix (upgrade quorumgate on this host), and a node started on a data directory
// written by a newer release exits 2 with that message, writing nothing.
// Method: each format's reader on real bytes with the version raised (a real LevelDB store for the Raft
// store), and the node program started on such a directory.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { stringify as toYaml } from 'yaml';
import { clusterIdOf, createGenesis, generateKeyPair, toHex } from '../../src/commands/index.js';
import { checkDataDir, DATA_DIR_MARK_FILE, markDataDir } from '../../src/node/data-dir.js';
import { writeIdentityKey } from '../../src/node/identity.js';
import { decodeLogEnvelope, encodeLogEnvelope } from '../../src/node/log-envelope.js';
import { decodeRuntimeSnapshot, encodeRuntimeSnapshot } from '../../src/node/runtime-snapshot.js';
import { parseSnapshotFile, SNAPSHOT_FILE_TYPE } from '../../src/node/snapshot-file.js';
import { LevelLogStore } from '../../src/storage/index.js';
import { KEY_FORMAT, sealRecord } from '../../src/storage/records.js';
import { requireBuild, runNode, treeState } from './support.js';

const work = mkdtempSync(join(tmpdir(), 'qg-format-'));
after(() => rmSync(work, { recursive: true, force: true }));
const NEWER = /has format version 2, newer than the 1 this quorumgate reads: it was written by a newer release; upgrade quorumgate on this host/;

/** newerStore makes a real LevelDB Raft store and raises its format record to 2, as a newer release would write it. */
async function newerStore(dir: string): Promise<void> {
  const store = await LevelLogStore.open(dir);
  await store.close();
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  const value = Buffer.alloc(4);
  value.writeUInt32BE(2, 0);
  await db.put(KEY_FORMAT, sealRecord(KEY_FORMAT, value));
  await db.close();
}

test('a Raft store of a newer format is refused with what to do', async () => {
  const dir = join(work, 'store');
  await newerStore(dir);
  await assert.rejects(LevelLogStore.open(dir), (error: Error) => /the Raft store has/.test(error.message) && NEWER.test(error.message));
});

test('a log entry, a runtime snapshot and a snapshot file of a newer format are refused with what to do', () => {
  const entry = Buffer.from(encodeLogEnvelope({ requestId: 'r', timeMs: 1, payload: new Uint8Array([1]) }));
  entry.writeUInt8(2, 0);
  assert.throws(() => decodeLogEnvelope(entry), NEWER);
  const snapshot = Buffer.from(encodeRuntimeSnapshot({ members: { addresses: [], promote: [], everUsed: [], removed: [] }, lastTimeMs: 0, application: new Uint8Array() }));
  snapshot.writeUInt8(2, 0);
  assert.throws(() => decodeRuntimeSnapshot(snapshot), NEWER);
  assert.throws(() => parseSnapshotFile(JSON.stringify({ type: SNAPSHOT_FILE_TYPE, formatVersion: 2 }), 'backup.json'), new RegExp(`snapshot backup.json: the file ${NEWER.source}`));
});

/** nodeFiles writes a one-node genesis, its key and a config for `dataDir` (under work/); returns the config and the mark the node expects. */
function nodeFiles(dataDir: string): { config: string; mark: { clusterId: string; nodeId: number; publicKey: string } } {
  const node = generateKeyPair();
  const root = generateKeyPair();
  const genesis = createGenesis({ clusterName: 'f', rootKeys: [root.publicKey], rootThreshold: 1, members: [{ nodeId: 'n1', nodeKey: node.publicKey, address: '127.0.0.1:1' }] });
  const dir = join(work, `${dataDir}-etc`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'genesis.json'), JSON.stringify(genesis));
  writeIdentityKey(join(dir, 'node.key'), node);
  const config = join(dir, 'config.yaml');
  writeFileSync(config, toYaml({ nodeId: 1, dataDir: join(work, dataDir), genesisFile: 'genesis.json', identityKeyFile: 'node.key', raft: { host: '127.0.0.1', port: 1 }, api: { host: '127.0.0.1', port: 1 } }));
  return { config, mark: { clusterId: toHex(clusterIdOf(genesis)), nodeId: 1, publicKey: toHex(node.publicKey) } };
}

test('a node started on a data directory written by a newer release exits 2, says what to do and writes nothing', () => {
  requireBuild();
  const { config, mark } = nodeFiles('marked');
  const marked = join(work, 'marked');
  mkdirSync(marked);
  markDataDir(marked, mark);
  const body = JSON.parse(readFileSync(join(marked, DATA_DIR_MARK_FILE), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(marked, DATA_DIR_MARK_FILE), JSON.stringify({ ...body, formatVersion: 2 }));
  assert.throws(() => checkDataDir(marked, mark, { config: 'c', keyFile: 'k' }), NEWER);
  const before = treeState(marked);
  const ran = runNode(['--config', config]);
  assert.equal(ran.status, 2, ran.stderr);
  assert.match(ran.stderr, new RegExp(`data directory ${marked}: it ${NEWER.source}`));
  assert.deepEqual(treeState(marked), before, 'nothing written');
});

test('a node started on a Raft store written by a newer release exits 2 with what to do', async () => {
  requireBuild();
  const { config } = nodeFiles('newer-store');
  await newerStore(join(work, 'newer-store', 'raft'));
  const ran = runNode(['--config', config]);
  assert.equal(ran.status, 2, ran.stderr);
  assert.match(ran.stderr, NEWER);
});
