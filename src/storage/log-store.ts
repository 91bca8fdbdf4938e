// log-store.ts — LogStore, the durable-storage port, and the pure planner that both of its
// adapters (memory-log-store.ts, level-log-store.ts) use to turn a Ready into writes.
//
// Sharing the planner means both adapters agree on what a save does; the shared contract suite
// (test/storage/contract.ts) checks that they also agree on what comes back after a restart.
import { SnapshotOutOfDateError } from '../raft/index.js';
import type { Entry, HardState, Snapshot } from '../raft/index.js';
import { assert } from './errors.js';

/** PersistedState is everything a store holds: what a node needs to restart. */
export interface PersistedState {
  readonly hardState: HardState;
  /** snapshot: the latest snapshot (index 0 and an empty configuration on a fresh store). */
  readonly snapshot: Snapshot;
  /** entries: the log after the snapshot, contiguous from snapshot.metadata.index + 1. */
  readonly entries: readonly Entry[];
}

/** SaveBatch is the durable part of one Ready: written atomically, in the order snapshot, entries, hard state. */
export interface SaveBatch {
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  /**
   * sync: whether the write is fsynced before its promise resolves (default true). The caller
   * passes the Ready's `mustSync` (etcd's MustSync): false only for a Ready whose one durable
   * change is a higher commit index (no entries, no snapshot, same term and vote).
   * DurableStorage refuses anything else unsynced.
   */
  readonly sync?: boolean;
}

/**
 * LogStore is the durable-storage port. Every mutating call is one atomic write; a crash leaves
 * either all of it or none of it. A synced write (every compact, and every save unless it says
 * `sync: false`) is durable when its promise resolves, and so is every write made before it
 * (the adapters keep writes in order, as LevelDB's write-ahead log does). An unsynced save is
 * readable when its promise resolves but a crash may lose it: that is safe only for a commit
 * index, which a restarted node learns again from its leader. Calls must not overlap: the
 * caller awaits each before the next.
 */
export interface LogStore {
  /** load reads and validates everything stored; throws StorageCorruptionError naming the damaged record. */
  load(): Promise<PersistedState>;
  /**
   * save applies one Ready (fsynced unless `batch.sync` is false): a snapshot (newer than the stored one, or the index-0 bootstrap
   * configuration of an empty store) replaces the whole log; entries overlapping the log replace
   * it from their first index and delete the conflicting suffix after them; entries already
   * covered by the snapshot are ignored; then the hard state is stored.
   */
  save(batch: SaveBatch): Promise<void>;
  /**
   * compact stores `snapshot` (taken by this node at an index within its log, newer than the
   * stored one) and deletes the entries up to and including its index.
   */
  compact(snapshot: Snapshot): Promise<void>;
  /** close releases the store; later calls throw StorageClosedError. */
  close(): Promise<void>;
}

/** LogBounds is what a store must remember between writes to plan the next one. */
export interface LogBounds {
  readonly snapshotIndex: number;
  /** lastIndex: index of the last stored entry, or snapshotIndex when the log is empty. */
  readonly lastIndex: number;
}

/** WriteOp is one record change of a planned write. */
export type WriteOp =
  | { readonly kind: 'putEntry'; readonly entry: Entry }
  | { readonly kind: 'deleteEntry'; readonly index: number }
  | { readonly kind: 'putHardState'; readonly hardState: HardState }
  | { readonly kind: 'putSnapshot'; readonly snapshot: Snapshot };

/** WritePlan is the ops of one atomic write and the bounds after it. */
export interface WritePlan {
  readonly ops: readonly WriteOp[];
  readonly bounds: LogBounds;
}

function deleteRange(ops: WriteOp[], from: number, to: number): void {
  for (let index = from; index <= to; index++) ops.push({ kind: 'deleteEntry', index });
}

/** planSave turns a SaveBatch into record writes (see LogStore.save for the rules). */
export function planSave(bounds: LogBounds, batch: SaveBatch): WritePlan {
  const ops: WriteOp[] = [];
  let { snapshotIndex, lastIndex } = bounds;
  if (batch.snapshot !== undefined) {
    const index = batch.snapshot.metadata.index;
    const isBootstrap = index === 0 && snapshotIndex === 0 && lastIndex === 0;
    if (!isBootstrap && index <= snapshotIndex) throw new SnapshotOutOfDateError(index, snapshotIndex);
    deleteRange(ops, snapshotIndex + 1, lastIndex);
    ops.push({ kind: 'putSnapshot', snapshot: batch.snapshot });
    snapshotIndex = index;
    lastIndex = index;
  }
  const entries = batch.entries;
  for (let i = 1; i < entries.length; i++) {
    assert(entries[i]!.index === entries[i - 1]!.index + 1,
      () => `save: entries are not contiguous (${entries[i - 1]!.index} then ${entries[i]!.index})`);
    assert(entries[i]!.term >= entries[i - 1]!.term,
      () => `save: entry ${entries[i]!.index} has term ${entries[i]!.term} below the previous entry's ${entries[i - 1]!.term}`);
  }
  const fresh = entries.filter((entry) => entry.index > snapshotIndex);
  if (fresh.length > 0) {
    const first = fresh[0]!.index;
    const last = fresh[fresh.length - 1]!.index;
    assert(first <= lastIndex + 1, () => `save: entry ${first} would leave a gap after the last entry ${lastIndex}`);
    deleteRange(ops, last + 1, lastIndex);
    for (const entry of fresh) ops.push({ kind: 'putEntry', entry });
    lastIndex = last;
  }
  if (batch.hardState !== undefined) ops.push({ kind: 'putHardState', hardState: batch.hardState });
  return { ops, bounds: { snapshotIndex, lastIndex } };
}

/** planCompact turns a locally taken snapshot into record writes (see LogStore.compact). */
export function planCompact(bounds: LogBounds, snapshot: Snapshot): WritePlan {
  const index = snapshot.metadata.index;
  if (index <= bounds.snapshotIndex) throw new SnapshotOutOfDateError(index, bounds.snapshotIndex);
  assert(index <= bounds.lastIndex, () => `compact: snapshot index ${index} is beyond the last entry ${bounds.lastIndex}`);
  const ops: WriteOp[] = [];
  deleteRange(ops, bounds.snapshotIndex + 1, index);
  ops.push({ kind: 'putSnapshot', snapshot });
  return { ops, bounds: { snapshotIndex: index, lastIndex: bounds.lastIndex } };
}
