// data-dir.ts — the mark a node leaves in its data directory: which cluster, node and key the Raft log
// there belongs to, and the directory's format version.
//
// Checked at every start before anything is opened or written, so that a data directory from another
// cluster, another node or another key (a config or a disk moved to the wrong host) is refused with a
// message naming the directory and the mismatch, instead of joining a log to the wrong cluster. Written
// once, after the log opened (a directory made before marks existed gets its mark on its next start).
// File: DATA_DIR/quorumgate-data.json = { type, formatVersion, clusterId, nodeId, publicKey }.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newerFormatAdvice } from './format-version.js';
import { StartupError } from './startup-error.js';

/** DATA_DIR_MARK_FILE is the mark's name inside the data directory. */
export const DATA_DIR_MARK_FILE = 'quorumgate-data.json';
/** DATA_DIR_FORMAT_VERSION is the data directory's major format version (the Raft store has its own, checked when it opens). */
export const DATA_DIR_FORMAT_VERSION = 1;
const MARK_TYPE = 'quorumgate-data-dir';

/** DataDirMark is what the mark records. */
export interface DataDirMark {
  readonly clusterId: string;
  readonly nodeId: number;
  readonly publicKey: string;
}

function readMark(file: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch (error) {
    throw new StartupError('DATA_DIR', `${file} is not readable JSON (${(error as Error).message}); it marks which cluster the data directory belongs to`, error);
  }
  throw new StartupError('DATA_DIR', `${file} is not a JSON object`);
}

/**
 * checkDataDir compares the data directory's mark with the node being started; it throws StartupError
 * naming the mismatch. Returns false when there is no mark yet (markDataDir writes it once the log opens).
 */
export function checkDataDir(dataDir: string, expected: DataDirMark, what: { config: string; keyFile: string }): boolean {
  const file = join(dataDir, DATA_DIR_MARK_FILE);
  if (!existsSync(file)) return false;
  const mark = readMark(file);
  if (mark['type'] !== MARK_TYPE) throw new StartupError('DATA_DIR', `${file}: expected "type": "${MARK_TYPE}", found ${JSON.stringify(mark['type'])}`);
  const version = Number(mark['formatVersion']);
  if (version > DATA_DIR_FORMAT_VERSION) throw new StartupError('DATA_FORMAT', `data directory ${dataDir}: ${newerFormatAdvice('it', version, DATA_DIR_FORMAT_VERSION)}`);
  if (mark['clusterId'] !== expected.clusterId) {
    throw new StartupError('DATA_DIR_CLUSTER', `data directory ${dataDir} belongs to cluster ${String(mark['clusterId'])}, but ${what.config} names cluster ${expected.clusterId}: `
      + 'this is another cluster\'s data; point dataDir at this node\'s own directory, or move it aside to start this node afresh');
  }
  if (mark['nodeId'] !== expected.nodeId) {
    throw new StartupError('DATA_DIR_NODE', `data directory ${dataDir} belongs to node ${String(mark['nodeId'])}, but ${what.config} starts node ${expected.nodeId}: `
      + 'two nodes must never share a log; use this node\'s own data directory');
  }
  if (mark['publicKey'] !== expected.publicKey) {
    throw new StartupError('DATA_DIR_KEY', `data directory ${dataDir} was written by node ${expected.nodeId} with key ${String(mark['publicKey'])}, but ${what.keyFile} holds key ${expected.publicKey}: `
      + 'use the key file this node was created with');
  }
  return true;
}

/** markDataDir writes the mark (atomically: a temporary file renamed into place). */
export function markDataDir(dataDir: string, mark: DataDirMark): void {
  const file = join(dataDir, DATA_DIR_MARK_FILE);
  const body = { type: MARK_TYPE, formatVersion: DATA_DIR_FORMAT_VERSION, ...mark };
  writeFileSync(`${file}.tmp`, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}
