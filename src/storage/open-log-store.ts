// open-log-store.ts — openLogStore, which opens a Raft directory with the log format a node's
// configuration names (LevelDB, the default, or the write-ahead log) and refuses a directory that
// holds the other format: the two are never mixed, and nothing converts one into the other.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { StorageError } from './errors.js';
import { LevelLogStore } from './level-log-store.js';
import type { LogStore } from './log-store.js';
import { WAL_DIRECTORY } from './wal-files.js';
import { WalLogStore } from './wal-log-store.js';
import type { WalLogStoreInit } from './wal-log-store.js';

/** LOG_FORMATS are the Raft log formats a node can keep (config `storage.log`). */
export const LOG_FORMATS = ['leveldb', 'wal'] as const;
/** LogFormat is one of LOG_FORMATS. */
export type LogFormat = typeof LOG_FORMATS[number];

/** StorageFormatMismatchError: the directory holds a Raft log of another format than the one asked for. */
export class StorageFormatMismatchError extends StorageError {
  constructor(directory: string, found: LogFormat | 'both', wanted: LogFormat) {
    super('STORAGE_FORMAT_MISMATCH', found === 'both'
      ? `storage: ${directory} holds both a LevelDB and a WAL Raft log; move the one this node does not use away and start again`
      : `storage: ${directory} holds a ${found} Raft log, but the configuration asks for ${wanted} (storage.log); `
        + `set storage.log to ${found}, or start this node from an empty data directory (formats are never converted)`);
  }
}

/** detectLogFormat says which format the Raft directory holds (undefined: none yet). */
export function detectLogFormat(directory: string): LogFormat | 'both' | undefined {
  const level = existsSync(join(directory, 'CURRENT'));
  const wal = existsSync(join(directory, WAL_DIRECTORY));
  if (level && wal) return 'both';
  if (level) return 'leveldb';
  return wal ? 'wal' : undefined;
}

/** openLogStore opens the Raft log in `directory` as `format`; throws StorageFormatMismatchError if it holds another. */
export async function openLogStore(directory: string, format: LogFormat, walInit: WalLogStoreInit = {}): Promise<LogStore> {
  const found = detectLogFormat(directory);
  if (found !== undefined && found !== format) throw new StorageFormatMismatchError(directory, found, format);
  return format === 'wal' ? WalLogStore.open(directory, walInit) : LevelLogStore.open(directory);
}
