// constants.ts — the storage module's defaults and on-disk constants, in one place.
import type { ConfState, HardState } from '../raft/index.js';

/** STORAGE_FORMAT_VERSION is written once per data directory; open refuses any other value. */
export const STORAGE_FORMAT_VERSION = 1;

/** WAL_FORMAT_VERSION is written in every WAL segment header; a WAL store with any other is refused. */
export const WAL_FORMAT_VERSION = 1;

/** DEFAULT_WAL_SEGMENT_BYTES: WAL segments are preallocated at 64 MiB, as etcd's. */
export const DEFAULT_WAL_SEGMENT_BYTES = 64 * 1024 * 1024;

/** RECORD_VERSION is the first byte of every record value (layout: version, CRC32, payload). */
export const RECORD_VERSION = 1;

/** DEFAULT_SNAPSHOT_CHUNK_BYTES: snapshot data is stored in records of at most 1 MiB. */
export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

/** MAX_SNAPSHOT_CHUNKS bounds the chunk records of one snapshot (1 TiB at the default chunk size). */
export const MAX_SNAPSHOT_CHUNKS = 1024 * 1024;

/** EMPTY_HARD_STATE_VALUE is the hard state of a fresh store. */
export const EMPTY_HARD_STATE_VALUE: HardState = Object.freeze({ term: 0, vote: 0, commit: 0 });

/** EMPTY_CONF_STATE_VALUE is the configuration of a fresh store (no members). */
export const EMPTY_CONF_STATE_VALUE: ConfState = Object.freeze({
  voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false,
});
