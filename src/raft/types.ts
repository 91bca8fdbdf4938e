// types.ts — the plain data types of the Raft core and the contracts around it.
//
// The core works only with these types. Protobuf (proto/raft.proto) is used at the edges
// (storage, transport) by codecs that convert to and from them.
//
// 64-bit values: every term, index and node id is a JavaScript `number` that must be a
// non-negative safe integer (<= Number.MAX_SAFE_INTEGER, 2^53 - 1). At 1 million entries per
// second that lasts 285 years. Codecs reject anything larger instead of rounding it.

/** NodeId names a Raft member. Positive safe integer; 0 means "none". Ids are never reused. */
export type NodeId = number;

/** NONE is the NodeId meaning "no node" (no vote, no leader). */
export const NONE: NodeId = 0;

/** EntryType says how the application must treat an entry's data. */
export const EntryType = {
  /** Normal carries application data (may be empty: the leader's no-op at the start of a term). */
  Normal: 0,
  /** ConfChange carries an encoded ConfChange (see encodeConfChange in conf-change.ts). */
  ConfChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** Entry is one record of the replicated log. */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** HardState is what must be durable before any message that depends on it is sent. */
export interface HardState {
  readonly term: number;
  /** vote is the candidate voted for in `term`, or NONE. */
  readonly vote: NodeId;
  readonly commit: number;
}

/** ConfState is the membership configuration in force, including a joint configuration. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  /** votersOutgoing is non-empty only in a joint configuration (thesis 4.3). */
  readonly votersOutgoing: readonly NodeId[];
  /** learnersNext: voters of the outgoing config that become learners when the joint config is left. */
  readonly learnersNext: readonly NodeId[];
  /** autoLeave: the leader proposes leaving the joint configuration by itself once it is committed. */
  readonly autoLeave: boolean;
}

/** SnapshotMetadata locates a snapshot in the log. */
export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/** Snapshot is the application state at `metadata.index`, opaque to the core. */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

/** MessageType enumerates Raft messages; the numbers are the wire values in proto/raft.proto. */
export const MessageType = {
  // Local messages: never sent on the wire.
  Hup: 0, // start an election
  Beat: 1, // leader: send heartbeats
  Prop: 2, // propose entries (also forwarded from a follower to the leader on the wire)
  // Wire messages.
  App: 3,
  AppResp: 4,
  Vote: 5,
  VoteResp: 6,
  Snap: 7,
  Heartbeat: 8,
  HeartbeatResp: 9,
  Unreachable: 10, // local: the transport could not reach `from`
  SnapStatus: 11, // local: result of sending a snapshot (reject = failed)
  CheckQuorum: 12, // local
  TransferLeader: 13, // local or forwarded to the leader
  TimeoutNow: 14,
  ReadIndex: 15,
  ReadIndexResp: 16,
  PreVote: 17,
  PreVoteResp: 18,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Message is the unit the core steps and emits. Fields not used by a type are 0 / empty. */
export interface Message {
  readonly type: MessageType;
  readonly to: NodeId;
  readonly from: NodeId;
  readonly term: number;
  /** logTerm: term of the entry at `index` (App), or of the candidate's last entry (Vote). */
  readonly logTerm: number;
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly snapshot?: Snapshot;
  readonly reject: boolean;
  /** rejectHint: on a rejected AppResp, the follower's hint for fast backtracking. */
  readonly rejectHint: number;
  /** context: ReadIndex request context, or campaign-transfer marker on Vote/PreVote. */
  readonly context: Uint8Array;
}

/** ConfChangeType is the kind of a single membership change. */
export const ConfChangeType = {
  AddNode: 0,
  RemoveNode: 1,
  AddLearner: 2,
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/** ConfChangeSingle changes one node's membership. */
export interface ConfChangeSingle {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

/**
 * ConfChangeTransition says how a change is carried out (thesis 4.3, etcd's ConfChangeV2):
 * `auto` uses a one-at-a-time change when the ConfChange holds at most one change (which may
 * then alter at most one voter), else joint consensus left automatically; `implicit` is joint consensus left automatically; `explicit` is joint
 * consensus left only by an empty ConfChange proposed by the application.
 */
export type ConfChangeTransition = 'auto' | 'implicit' | 'explicit';

/** ConfChange is a membership change proposed through the log. Empty `changes` leaves a joint config. */
export interface ConfChange {
  readonly transition: ConfChangeTransition;
  readonly changes: readonly ConfChangeSingle[];
  readonly context: Uint8Array;
}

/** StateRole is the role of a node. */
export type StateRole = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** SoftState is volatile state worth reporting; it need not be persisted. */
export interface SoftState {
  readonly leader: NodeId;
  readonly role: StateRole;
}

/** ReadState answers a ReadIndex request: it is safe to read once `index` is applied. */
export interface ReadState {
  readonly index: number;
  readonly requestContext: Uint8Array;
}

/**
 * Ready is the output of the core, taken with RawNode.ready() and handled in this order:
 * 1. persist `snapshot` (if any), `entries` and `hardState` (if any) in one synced write
 *    when `mustSync`;
 * 2. send `messages`;
 * 3. apply `snapshot`, then `committedEntries`, in order;
 * 4. call RawNode.advance().
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly readStates: readonly ReadState[];
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  /** mustSync: the write of step 1 must be fsynced before step 2. */
  readonly mustSync: boolean;
}

/**
 * Storage is the core's read-only view of the stable log. The application appends to it
 * (after making the data durable); the core only reads. etcd-io/raft's Storage, synchronous:
 * the durable adapter (src/storage) keeps the stable log in memory and writes through to disk.
 */
export interface Storage {
  /** initialState returns the saved HardState and ConfState. */
  initialState(): { hardState: HardState; confState: ConfState };
  /** entries returns [lo, hi), at least one entry if any, at most maxBytes in total after the first. Throws CompactedError / UnavailableError. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** term returns the term of entry i, which must be in [firstIndex()-1, lastIndex()]. Throws CompactedError / UnavailableError. */
  term(i: number): number;
  /** lastIndex is the index of the last entry in the log. */
  lastIndex(): number;
  /** firstIndex is the index of the first entry still available (older ones are in the snapshot). */
  firstIndex(): number;
  /** snapshot returns the most recent snapshot. Throws SnapshotTemporarilyUnavailableError. */
  snapshot(): Snapshot;
}

/** RandomSource is the injected source of randomness: the core never calls Math.random. */
export interface RandomSource {
  /** nextInt returns an integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
}

/** ReadOnlyOption picks how ReadIndex is answered. */
export type ReadOnlyOption = 'safe' | 'leaseBased';

/** RaftLogger receives the core's diagnostics. It must not do I/O synchronously that matters to the core. */
export interface RaftLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

/** Config configures a RawNode. Limits are first-class, with defaults in constants.ts. */
export interface Config {
  readonly id: NodeId;
  readonly storage: Storage;
  readonly random: RandomSource;
  /** electionTicks: a follower's election timeout is drawn from [electionTicks, 2*electionTicks). */
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  /** applied: the last index the application has applied (on restart). */
  readonly applied?: number;
  /** maxSizePerMsgBytes: bound on the entries' bytes in one App message (at least one entry is sent). */
  readonly maxSizePerMsgBytes?: number;
  /** maxInflightMsgs: bound on App messages in flight per follower (pipelining window). */
  readonly maxInflightMsgs?: number;
  /** maxUncommittedEntriesBytes: a leader refuses proposals beyond this many uncommitted bytes. */
  readonly maxUncommittedEntriesBytes?: number;
  /** maxCommittedSizePerReadyBytes: bound on committedEntries bytes in one Ready. */
  readonly maxCommittedSizePerReadyBytes?: number;
  readonly checkQuorum?: boolean;
  readonly preVote?: boolean;
  readonly readOnlyOption?: ReadOnlyOption;
  /** disableProposalForwarding: followers drop proposals instead of forwarding them to the leader. */
  readonly disableProposalForwarding?: boolean;
  readonly logger?: RaftLogger;
}

/** PeerProgress is the progress of one peer as the leader sees it; reported by status(). */
export interface PeerProgress {
  readonly match: number;
  readonly next: number;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  readonly recentActive: boolean;
  readonly isLearner: boolean;
  readonly inflight: number;
}

/** Status is a snapshot of a node's view, for APIs and tests. */
export interface Status {
  readonly id: NodeId;
  readonly hardState: HardState;
  readonly softState: SoftState;
  readonly applied: number;
  readonly leadTransferee: NodeId;
  readonly confState: ConfState;
  /** progress: only on the leader. */
  readonly progress: ReadonlyMap<NodeId, PeerProgress>;
}

/**
 * RaftNode is the public surface of the core (implemented by RawNode in raw-node.ts).
 * All methods are synchronous and deterministic given the Config's RandomSource.
 * Expected refusals throw the named errors of errors.ts (ProposalDroppedError etc.).
 */
export interface RaftNode {
  /** tick advances logical time by one tick. */
  tick(): void;
  /** campaign starts an election now (or a pre-vote when preVote is on). */
  campaign(): void;
  /** step feeds a message received from the network. Local-only types are refused. */
  step(message: Message): void;
  /** propose appends data to the log (on the leader) or forwards it (on a follower). */
  propose(data: Uint8Array): void;
  /** proposeBatch proposes several entries at once (one append, one replication round); all or none. */
  proposeBatch(data: readonly Uint8Array[]): void;
  /** proposeConfChange proposes a membership change. */
  proposeConfChange(change: ConfChange): void;
  /** applyConfChange must be called when a ConfChange entry is applied; returns the new ConfState. */
  applyConfChange(change: ConfChange): ConfState;
  /** transferLeadership asks the leader to hand over to `transferee` (thesis 3.10). */
  transferLeadership(transferee: NodeId): void;
  /** readIndex requests a linearizable read point; the answer arrives as a ReadState with the same context. */
  readIndex(context: Uint8Array): void;
  /** reportUnreachable tells the core that `id` could not be reached. */
  reportUnreachable(id: NodeId): void;
  /**
   * leaderLost tells a follower that its leader `id` is probably gone (the host lost the connection):
   * it forgets the leader (grants pre-votes at once) and campaigns within `withinTicks` (>= 1) ticks.
   * Returns whether it acted (only a follower of `id` does).
   */
  leaderLost(id: NodeId, withinTicks: number): boolean;
  /** reportSnapshot tells the leader whether sending a snapshot to `id` succeeded. */
  reportSnapshot(id: NodeId, ok: boolean): void;
  /** hasReady says whether ready() has anything to hand out. */
  hasReady(): boolean;
  /**
   * ready returns the pending output; call advance() after handling it, before the next
   * ready(). While a Ready is outstanding, hasReady() is false. step/tick/propose may be called
   * in between; their output goes into the next Ready.
   */
  ready(): Ready;
  /** advance acknowledges the last Ready as handled. */
  advance(): void;
  /** status reports the node's current view. */
  status(): Status;
}
