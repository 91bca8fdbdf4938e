// ports.ts — what the API needs from the node, declared here and implemented there (issue #19 item 3):
// the runtime's status, counters and committed answers, the applied-event feed of the gateway's state
// machine, the data plane's enforcement view, the bare-log applier, and the runtime's error codes. The
// node imports these types; the API imports nothing from src/node, so the arrow points one way.
import type { DatapathDecision, DeviceReport } from '../dataplane/index.js';
import type { NodeId } from '../raft/index.js';
import type { ApplyResult, StateMachine } from '../state/index.js';

/** Committed is the outcome of a proposal: where it landed and what applying it returned. */
export interface Committed<Result> {
  readonly index: number;
  readonly term: number;
  readonly timeMs: number;
  readonly result: Result;
}

/** RuntimeStatus reports a node's view for the API and the cluster tools. */
export interface RuntimeStatus {
  readonly id: NodeId;
  readonly role: string;
  readonly leader: NodeId;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly snapshotIndex: number;
  readonly lastIndex: number;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly removed: boolean;
}

/** RuntimeCounters are cumulative counters of the ready loop, for /metrics. */
export interface RuntimeCounters {
  readonly readies: number;
  readonly saves: number;
  /** syncedSaves: saves that were fsynced (the Ready had mustSync); the others only moved the commit index. */
  readonly syncedSaves: number;
  readonly savedEntries: number;
  readonly saveMs: number;
  /** syncedSaveMs: the part of saveMs spent in fsynced saves. */
  readonly syncedSaveMs: number;
  readonly appliedEntries: number;
  readonly sentMessages: number;
  readonly droppedMessages: number;
  readonly pendingProposals: number;
  readonly pendingReads: number;
}

/** MemberAddress is where a member's Raft transport listens and the Ed25519 key (hex) it must present. */
export interface MemberAddress {
  readonly host: string;
  readonly port: number;
  readonly publicKey: string;
}

/** AppliedEvent is one applied entry of the gateway's state machine and its result. */
export interface AppliedEvent {
  readonly index: number;
  readonly term: number;
  readonly timeMs: number;
  readonly result: ApplyResult;
}

/** AppliedFeed is the gateway's state machine and the events of the entries it applies (watch, dashboard, reads). */
export interface AppliedFeed {
  readonly machine: StateMachine;
  on(event: 'applied', listener: (event: AppliedEvent) => void): unknown;
  off(event: 'applied', listener: (event: AppliedEvent) => void): unknown;
  /** recentFrom returns the remembered events with index >= `from`; `complete` is false when older ones were forgotten. */
  recentFrom(from: number): { events: AppliedEvent[]; complete: boolean };
}

/** EnforcementView is what the API shows of this node's data plane. */
export interface EnforcementView {
  /** report lists, per device this node serves, the generation asked for and the one enforced. */
  report(): DeviceReport[];
  /** enforcedIndex is the highest applied index whose plans are all enforced on this node. */
  enforcedIndex(): number;
  /** datapath is the Open vSwitch datapath this node's bridge uses, and why (chosen at start). */
  readonly datapath?: DatapathDecision;
}

/** LogApplyResult is what the bare-log applier returns for one payload. */
export interface LogApplyResult {
  readonly index: number;
  /** position: how many payloads were applied before this one (0-based), equal on every node. */
  readonly position: number;
  readonly hash: string;
}

/** LogFeed is the bare-log applier as the API reads it. */
export interface LogFeed {
  applied(from?: number, limit?: number): { ids: string[]; indexes: number[]; total: number; hash: string };
}

/**
 * RUNTIME_ERROR_ANSWERS maps the runtime's stable error codes to the API's answers: the code, and whether
 * the write's outcome is unknown (`indeterminate`, absent when the answer is not about a write).
 */
export const RUNTIME_ERROR_ANSWERS = {
  RUNTIME_OVERLOADED: { code: 'OVERLOADED' },
  RUNTIME_PROPOSAL_TIMEOUT: { code: 'TIMEOUT', indeterminate: true },
  RUNTIME_LEADER_CHANGED: { code: 'UNAVAILABLE', indeterminate: true },
  RUNTIME_READ_TIMEOUT: { code: 'TIMEOUT', indeterminate: false },
  RUNTIME_PROPOSAL_DROPPED: { code: 'UNAVAILABLE', indeterminate: false },
  RUNTIME_STOPPED: { code: 'UNAVAILABLE', indeterminate: true },
  RUNTIME_NODE_ID_REUSED: { code: 'CONFLICT' },
  RUNTIME_SNAPSHOT_INVALID: { code: 'INTERNAL' },
} as const;

/** RuntimeErrorCode lists the runtime's stable error codes (src/node/runtime-errors.ts throws them). */
export type RuntimeErrorCode = keyof typeof RUNTIME_ERROR_ANSWERS;
