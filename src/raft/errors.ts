// errors.ts — the Raft core's named errors and its assertion helper.
//
// Three kinds of failure, never mixed (STYLE.md): expected refusals are the classes below,
// each with a stable `code`; broken invariants call assert(), which throws AssertionError and
// must never be caught.
import { InvariantError, assertWith, type Assert } from '../assert.js';

/** RaftError is the base of the core's expected errors; `code` is stable across releases. */
export class RaftError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** ProposalDropReason says why a proposal was refused. */
export type ProposalDropReason =
  | 'no-leader'
  | 'transferring'
  | 'uncommitted-limit'
  | 'conf-change-pending'
  | 'not-leader-no-forwarding'
  | 'removed';

/** ProposalDroppedError: the proposal was not appended; the caller may retry (etcd's ErrProposalDropped). */
export class ProposalDroppedError extends RaftError {
  readonly reason: ProposalDropReason;
  constructor(reason: ProposalDropReason, detail: string) {
    super('RAFT_PROPOSAL_DROPPED', `raft: proposal dropped (${reason}): ${detail}`);
    this.reason = reason;
  }
}

/** CompactedError: the requested index is older than the first available entry (it is in a snapshot). */
export class CompactedError extends RaftError {
  constructor(index: number, firstIndex: number) {
    super('RAFT_COMPACTED', `raft: index ${index} is compacted (first available index is ${firstIndex})`);
  }
}

/** UnavailableError: the requested index is beyond the last entry of the log. */
export class UnavailableError extends RaftError {
  constructor(index: number, lastIndex: number) {
    super('RAFT_UNAVAILABLE', `raft: index ${index} is unavailable (last index is ${lastIndex})`);
  }
}

/** SnapshotOutOfDateError: a snapshot at or before the current snapshot's index was offered. */
export class SnapshotOutOfDateError extends RaftError {
  constructor(index: number, currentIndex: number) {
    super('RAFT_SNAPSHOT_OUT_OF_DATE', `raft: snapshot at index ${index} is not newer than the current snapshot at ${currentIndex}`);
  }
}

/** SnapshotTemporarilyUnavailableError: the storage cannot produce a snapshot right now; the leader retries later. */
export class SnapshotTemporarilyUnavailableError extends RaftError {
  constructor(detail = 'snapshot is temporarily unavailable') {
    super('RAFT_SNAPSHOT_TEMPORARILY_UNAVAILABLE', `raft: ${detail}`);
  }
}

/** StepLocalMessageError: a local-only message type (Hup, Beat, ...) was given to RawNode.step(). */
export class StepLocalMessageError extends RaftError {
  constructor(type: number) {
    super('RAFT_STEP_LOCAL_MESSAGE', `raft: message type ${type} is local-only and cannot be stepped from the network`);
  }
}

/** PeerNotFoundError: a response arrived from a node that is not in the configuration. */
export class PeerNotFoundError extends RaftError {
  constructor(id: number) {
    super('RAFT_PEER_NOT_FOUND', `raft: node ${id} is not in the configuration`);
  }
}

/** ConfChangeError: a membership change is invalid against the configuration it would apply to. */
export class ConfChangeError extends RaftError {
  constructor(detail: string) {
    super('RAFT_INVALID_CONF_CHANGE', `raft: invalid configuration change: ${detail}`);
  }
}

/** ConfChangeDecodeError: bytes that should encode a ConfChange do not. */
export class ConfChangeDecodeError extends RaftError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super('RAFT_CONF_CHANGE_DECODE', `raft: cannot decode ConfChange: ${detail}`, options);
  }
}

/** InvalidMessageError: a message from the network is malformed; the caller drops it (and should log the sender). */
export class InvalidMessageError extends RaftError {
  constructor(field: string, expected: string, got: unknown) {
    super('RAFT_INVALID_MESSAGE', `raft: invalid message field ${field}: expected ${expected}, got ${describeValue(got)}`);
  }
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  return String(value);
}

/** ConfigError: a Config value is out of range. */
export class ConfigError extends RaftError {
  constructor(field: string, expected: string, got: unknown) {
    super('RAFT_INVALID_CONFIG', `raft: invalid config ${field}: expected ${expected}, got ${String(got)}`);
  }
}

/** AssertionError: a broken invariant of the core. Never caught; the process must crash. */
export class AssertionError extends InvariantError {
  constructor(message: string) {
    super('RAFT_ASSERTION_FAILED', `raft: assertion failed: ${message}`);
  }
}

/** assert throws AssertionError when `condition` is false (kept on in production, TigerStyle). */
export const assert: Assert = assertWith((message) => new AssertionError(message));
