// ready-invariants.ts — the invariants of the ready loop (persist, then send, then apply, then
// advance), asserted on every Ready and kept on in production: a violation is a bug in the runtime or
// a storage that lies about durability, and continuing would break a promise of DESIGN.md (an
// acknowledged entry lost, a vote forgotten, a state applied ahead of what is committed). The assert
// throws RuntimeAssertionError; the ready loop then stops the node ('fatal').
import { MessageType } from '../raft/index.js';
import type { HardState, Message, Ready } from '../raft/index.js';
import type { RaftLogStore } from './ports.js';
import { assert } from './runtime-errors.js';

/**
 * assertReadyWellFormed checks a Ready as the core hands it over: committed entries are contiguous,
 * start no later than right after `applied` (no gap in what the state machine sees), and stay within
 * the commit index (`committed`, this Ready's hard state or the last one known).
 */
export function assertReadyWellFormed(ready: Ready, applied: number, committed: number): void {
  const entries = ready.committedEntries;
  if (entries.length === 0) return;
  const base = ready.snapshot?.metadata.index ?? applied;
  assert(entries[0]!.index <= base + 1, () => `committed entries start at ${entries[0]!.index}, after a gap (applied ${base})`);
  for (let i = 1; i < entries.length; i++) {
    assert(entries[i]!.index === entries[i - 1]!.index + 1, () => `committed entries not contiguous at ${entries[i - 1]!.index} → ${entries[i]!.index}`);
  }
  const last = entries[entries.length - 1]!.index;
  assert(last <= committed, () => `committed entry ${last} is beyond the commit index ${committed}`);
}

/**
 * assertEarlyMessagesSafe checks what a leader sends before its own write is durable (beforePersist):
 * only appends and heartbeats, never an acknowledgement or a vote, carrying the durable term, and a
 * commit index within what this node has already made durable — so no quorum counts this node's copy
 * of an entry before it is on its disk.
 */
export function assertEarlyMessagesSafe(early: readonly Message[], store: RaftLogStore): void {
  if (early.length === 0) return;
  const durable = store.initialState().hardState;
  const durableLast = store.lastIndex();
  for (const m of early) {
    assert(m.type === MessageType.App || m.type === MessageType.Heartbeat, () => `message type ${m.type} to ${m.to} sent before the Ready was persisted`);
    assert(m.term === durable.term, () => `message to ${m.to} sent before persisting carries term ${m.term}, durable term ${durable.term}`);
    assert(m.commit <= durableLast, () => `message to ${m.to} sent before persisting carries commit ${m.commit} beyond durable index ${durableLast}`);
  }
}

/**
 * assertPersisted checks, after the Ready's write resolved and before anything that depends on it is
 * sent: the entries are in the store (their last index and term), the hard state's term and vote are
 * the store's, and a snapshot is the store's. A store whose save() resolves without the write landing
 * fails here.
 */
export function assertPersisted(ready: Ready, store: RaftLogStore): void {
  const last = ready.entries[ready.entries.length - 1];
  if (last !== undefined) {
    const storedLast = store.lastIndex();
    assert(storedLast >= last.index, () => `entry ${last.index} acknowledged by the store but its last index is ${storedLast}`);
    assert(store.term(last.index) === last.term, () => `entry ${last.index} of term ${last.term} saved, the store holds term ${store.term(last.index)}`);
  }
  if (ready.hardState !== undefined) assertHardStateDurable(ready.hardState, store.initialState().hardState);
  if (ready.snapshot !== undefined) {
    const stored = store.snapshot().metadata.index;
    assert(stored >= ready.snapshot.metadata.index, () => `snapshot ${ready.snapshot!.metadata.index} saved, the store's snapshot is at ${stored}`);
  }
}

/** assertHardStateDurable: the term and vote messages may depend on are the ones on disk. */
function assertHardStateDurable(saved: HardState, stored: HardState): void {
  assert(stored.term === saved.term && stored.vote === saved.vote,
    () => `hard state term ${saved.term} vote ${saved.vote} saved, the store holds term ${stored.term} vote ${stored.vote}`);
}

/**
 * assertAcknowledgementsDurable checks the messages about to be sent: every acknowledgement of entries
 * (an AppResp that does not reject) names an index this node holds durably (Raft paper 5.3: a follower
 * acknowledges only what it stored).
 */
export function assertAcknowledgementsDurable(messages: readonly Message[], store: RaftLogStore): void {
  const durableLast = store.lastIndex();
  for (const m of messages) {
    if (m.type !== MessageType.AppResp || m.reject) continue;
    assert(m.index <= durableLast, () => `acknowledging index ${m.index} to ${m.to}, but the durable log ends at ${durableLast}`);
  }
}

/** assertAppliedBounds: applied ≤ committed, and the latest snapshot ≤ applied. */
export function assertAppliedBounds(applied: number, committed: number, snapshotIndex: number): void {
  assert(applied <= committed, () => `applied ${applied} is beyond the commit index ${committed}`);
  assert(snapshotIndex <= applied, () => `snapshot index ${snapshotIndex} is beyond applied ${applied}`);
}
