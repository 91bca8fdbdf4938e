// index.ts — the public surface of the storage module: the LogStore port, its memory, LevelDB and
// WAL adapters, the fault-injecting wrapper, and DurableStorage, the core's Storage over a LogStore.
export { DurableStorage } from './durable-storage.js';
export {
  StorageAssertionError, StorageClosedError, StorageCorruptionError, StorageCrashedError,
  StorageError, StorageFormatError,
} from './errors.js';
export { FaultLogStore } from './fault-log-store.js';
export type { FaultLogStoreInit } from './fault-log-store.js';
export { LevelLogStore } from './level-log-store.js';
export type { LevelLogStoreInit } from './level-log-store.js';
export type { LogStore, PersistedState, SaveBatch } from './log-store.js';
export { MemoryDisk, MemoryLogStore } from './memory-log-store.js';
export { LOG_FORMATS, StorageFormatMismatchError, detectLogFormat, openLogStore } from './open-log-store.js';
export type { LogFormat } from './open-log-store.js';
export { WalLogStore } from './wal-log-store.js';
export type { WalLogStoreInit } from './wal-log-store.js';
export { DEFAULT_SNAPSHOT_CHUNK_BYTES, DEFAULT_WAL_SEGMENT_BYTES, STORAGE_FORMAT_VERSION, WAL_FORMAT_VERSION } from './constants.js';
