// errors.ts — the storage module's named errors. Each has a stable `code`; corruption errors
// name the record (key and, for log entries, the index) so an operator knows what is damaged.
import { InvariantError, assertWith, type Assert } from '../assert.js';

/** StorageError is the base of the storage module's expected errors. */
export class StorageError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * StorageCorruptionError: a record failed its checksum, could not be decoded, disagrees with its
 * key, or the log has a gap or a missing tail. Raised when a store is opened; nothing is loaded.
 */
export class StorageCorruptionError extends StorageError {
  /** key is the printable name of the damaged record, e.g. `log/42` or `meta/hardstate`. */
  readonly key: string;
  /** index is the log index concerned, when the damage is in the log. */
  readonly index: number | undefined;
  constructor(key: string, detail: string, options?: { index?: number; cause?: unknown }) {
    super('STORAGE_CORRUPT', `storage: corrupt record ${key}: ${detail}`, { cause: options?.cause });
    this.key = key;
    this.index = options?.index;
  }
}

/** StorageFormatError: the data directory was written by an unknown format version. */
export class StorageFormatError extends StorageError {
  constructor(found: number, expected: number) {
    // A newer version means a newer release wrote this store (the wording matches src/node/format-version.ts).
    super('STORAGE_FORMAT_UNSUPPORTED', found > expected
      ? `storage: the Raft store has format version ${found}, newer than the ${expected} this quorumgate reads: it was written by a newer release; `
        + 'upgrade quorumgate on this host (npm install -g the newer release tarball) and start it again'
      : `storage: format version ${found} is not supported (expected ${expected})`);
  }
}

/** StorageClosedError: the store was used after close() (or after a simulated crash). */
export class StorageClosedError extends StorageError {
  constructor(operation: string) {
    super('STORAGE_CLOSED', `storage: ${operation} on a closed store`);
  }
}

/** StorageCrashedError: a write was lost by a simulated crash of the fault-injecting store. */
export class StorageCrashedError extends StorageError {
  constructor(detail: string) {
    super('STORAGE_CRASHED', `storage: simulated crash: ${detail}`);
  }
}

/** StorageAssertionError: a broken invariant (a caller bug such as a gap in appended entries). Never caught. */
export class StorageAssertionError extends InvariantError {
  constructor(message: string) {
    super('STORAGE_ASSERTION_FAILED', `storage: assertion failed: ${message}`);
  }
}

/** assert throws StorageAssertionError when `condition` is false (kept on in production). */
export const assert: Assert = assertWith((message) => new StorageAssertionError(message));
