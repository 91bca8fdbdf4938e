// history.ts — what a chaos run records, and what the checkers and the report read.
//
// Times are milliseconds since the run started (the harness's monotonic clock), except entry times
// (`timeMs` of applied log entries), which are the leader's wall clock; `run.startedAtMs` is the wall
// clock at t = 0, so `timeMs - run.startedAtMs` places an entry on the run's time axis (every node runs
// on this machine, so the clocks agree to within a millisecond or two).
//
// An operation's outcome follows Jepsen: `ok` — the system said it happened; `fail` — the system said it
// did not happen and never will (a recorded rejection, a refusal before proposing); `info` — unknown (a
// timeout, a dropped connection, a leader change): it may take effect at most once, at any later time.

/** RunInfo describes a run: enough to repeat it (seed, nodes, faults, plant). */
export interface RunInfo {
  readonly seed: number;
  readonly nodes: number;
  readonly nodeIds: readonly number[];
  /** faults are the fault families this run could schedule. */
  readonly faults: readonly string[];
  readonly durationMs: number;
  /** plant names the planted bug switched on for this run, if any. */
  readonly plant?: string;
  /** topology `wan`: every node was a host of its own in a network namespace (cluster/wan.ts); absent: loopback. */
  readonly topology?: 'wan';
  readonly startedAtMs: number;
  /** healedAtMs: when every fault was undone (t, ms since start). */
  healedAtMs: number;
  /** endedAtMs: when the final observations were taken. */
  endedAtMs: number;
}

/** FaultEvent is a fault started (`start`) or undone (`end`), with what it touched. */
export interface FaultEvent {
  readonly t: number;
  readonly phase: 'start' | 'end';
  /** fault is the family: kill, pause, partition, lose-unsynced, membership, ovs-restart, docker-restart, umbox-kill, ... */
  readonly fault: string;
  /** detail is a short human description ("isolate n2 (the leader)", "kill -9 n1 n3"). */
  readonly detail: string;
  readonly nodes: readonly number[];
}

/** Outcome is the client's knowledge of what an operation did. */
export type Outcome = 'ok' | 'fail' | 'info';

/**
 * RegisterOp is an operation of the register workload: a write of a unique value to a key (a signed
 * command) or a linearizable read of the key, sent to `node`. A read's `value` is what it returned
 * (null: the key has no value yet); a write's `value` is what it wrote.
 */
export interface RegisterOp {
  readonly id: number;
  readonly process: number;
  readonly node: number;
  readonly kind: 'write' | 'read';
  readonly key: string;
  value: string | null;
  readonly invokeMs: number;
  /** completeMs is null for an `info` outcome (no answer). */
  completeMs: number | null;
  outcome: Outcome;
  /** bodyHash of the signed command (writes). */
  readonly bodyHash?: string;
  /** index is the log index the write was committed at (ok writes). */
  index?: number;
  error?: string;
  /** code is the rejection code a node answered (a `fail` recorded as rejected), when it gave one. */
  code?: string;
  /**
   * sends is how many times the harness submitted these same envelope bytes (a retry after a lost
   * answer); absent means once. The nothing-lost checker allows that many copies in the log.
   */
  sends?: number;
}

/** UniqueUpdate is one uniquely identified signed update (a new item added to a set). */
export interface UniqueUpdate {
  readonly id: string;
  readonly process: number;
  readonly node: number;
  readonly bodyHash: string;
  readonly invokeMs: number;
  completeMs: number | null;
  outcome: Outcome;
  index?: number;
  error?: string;
  /** code is the rejection code a node answered (a `fail` recorded as rejected), when it gave one. */
  code?: string;
  /** sends is how many times the harness submitted these same envelope bytes; absent means once. */
  sends?: number;
}

/** AdversaryAttempt is one hostile submission: a replayed, reordered or tampered real envelope. */
export interface AdversaryAttempt {
  readonly t: number;
  readonly node: number;
  readonly kind: 'replay' | 'reorder' | 'tamper-body' | 'tamper-signature' | 'foreign-cluster';
  /** bodyHash of what was sent (for a tampered body, the hash of the tampered bytes). */
  readonly bodyHash: string;
  /** originalBodyHash is the genuine envelope it was made from. */
  readonly originalBodyHash: string;
  /** answer is the HTTP status and, when the node answered 200, whether it reported a duplicate and the result. */
  answer: { status: number; duplicate?: boolean; ok?: boolean; index?: number; code?: string } | null;
}

/** StateChange is a device state change asked for by the probe workload (a signed setDeviceState). */
export interface StateChange {
  readonly device: string;
  readonly gateway: number;
  readonly state: string;
  /** forbids: whether the new state forbids the probe traffic. */
  readonly forbids: boolean;
  readonly invokeMs: number;
  /** enforcedMs: when the node answered that every serving node enforces it (wait=enforced), null if it never did. */
  enforcedMs: number | null;
  outcome: Outcome;
  index?: number;
}

/** ProbeSeries is the continuous probe traffic of one device: what it sent and what arrived. */
export interface ProbeSeries {
  readonly device: string;
  readonly gateway: number;
  /** sent[i] is the send time (t) of datagram i; the datagram carries i. */
  readonly sent: readonly number[];
  /** received lists the sequence numbers that reached the server, with their arrival time (t). */
  readonly received: ReadonlyArray<{ readonly seq: number; readonly t: number }>;
}

/** NodeSample is one poll of a node's status (every ~250 ms per node). */
export interface NodeSample {
  readonly t: number;
  readonly node: number;
  /** up is false when the node did not answer. */
  readonly up: boolean;
  readonly role?: string;
  readonly leader?: number;
  readonly term?: number;
  readonly commit?: number;
  readonly applied?: number;
}

/** AppliedEntry is one entry of a node's final audit export (GET /v1/audit/log). */
export interface AppliedEntry {
  readonly index: number;
  readonly term: number;
  readonly timeMs: number;
  /** payload is the SignedCommand, base64. */
  readonly payload: string;
}

/** FinalNodeView is what one node reported after healing. */
export interface FinalNodeView {
  readonly node: number;
  /** reachable: the node answered after healing (a node removed by a membership change may not). */
  readonly reachable: boolean;
  readonly applied: number;
  readonly stateHash: string;
  readonly auditChain: string;
  /** deviceStates is the agreed state of every device as this node reads it locally (GET /v1/devices?consistency=stale). */
  readonly deviceStates: Readonly<Record<string, string>>;
  /**
   * dataplane is this node's enforcement report (GET /v1/status `enforced`): per device it serves, the
   * generation its plan asks for and the one installed; null for a node without a data plane.
   */
  readonly dataplane: ReadonlyArray<{ readonly deviceId: string; readonly desiredGeneration: number; readonly appliedGeneration: number | null; readonly enforcement: string; readonly reason: string | null }> | null;
  /** log is the node's audit export from index 1 (empty when it was compacted away: then `logFrom` > 1). */
  readonly log: readonly AppliedEntry[];
  readonly logFrom: number;
  /** convergedAtMs: when this node first reported the final applied index and state hash (t), or null. */
  readonly convergedAtMs: number | null;
}

/** FinalObservation is taken after every fault is undone. */
export interface FinalObservation {
  /** leaderAtMs: when a leader was first known after healing (t), null if none within the bound. */
  readonly leaderAtMs: number | null;
  /** probeCommitAtMs: when a probe update submitted after healing was committed (t), null if never. */
  readonly probeCommitAtMs: number | null;
  readonly nodes: readonly FinalNodeView[];
  /** bounds the checkers hold the run to (ms after healing). */
  readonly bounds: { readonly leaderMs: number; readonly commitMs: number; readonly convergeMs: number };
}

/** KnownKeys lists every public key the harness issued, so checkers can verify signatures independently. */
export interface KnownKeys {
  readonly clusterId: string;
  /** keys maps key id (hex) to Ed25519 public key (hex). */
  readonly keys: Readonly<Record<string, string>>;
}

/**
 * HostileRecord is what the hostile workload (`--hostile`, chaos/hostile.ts) did and what it saw: the
 * windows in which the adversary flooded (it alternates with quiet windows, which are the baseline of
 * the latency checker), what each flood sent and was answered, and every node's resources once a
 * second. `bounds` are what the hostile checkers hold the run to.
 */
export interface HostileRecord {
  readonly floods: readonly string[];
  readonly windows: Array<{ startMs: number; endMs: number }>;
  counts: Record<string, { attempts: number; answers: Record<string, number>; refused: number; closedByNode: number; errors: string[] }>;
  readonly resources: Array<{ t: number; node: number; pid: number; rssBytes: number; logBytes: number; loopDelayMaxMs?: number }>;
  readonly bounds: HostileBounds;
}

/** HostileBounds are the limits the hostile checkers apply (see each checker). */
export interface HostileBounds {
  /** rssGrowthMb: how far a node process's RSS may rise above its first sample in an adversary window. */
  readonly rssGrowthMb: number;
  /** logBytesPerS: a node's log growth, averaged over the run. */
  readonly logBytesPerS: number;
  /** p99Factor and p99SlackMs: write p99 under the adversary <= factor × p99 without it + slack. */
  readonly p99Factor: number;
  readonly p99SlackMs: number;
  /** minSamples: fewer writes than this on either side and the latency comparison is not made. */
  readonly minSamples: number;
}

/** History is one run's complete record (written as history.json). */
export interface History {
  readonly version: 1;
  readonly run: RunInfo;
  readonly keys: KnownKeys;
  readonly faults: FaultEvent[];
  readonly register: RegisterOp[];
  readonly updates: UniqueUpdate[];
  readonly adversary: AdversaryAttempt[];
  readonly stateChanges: StateChange[];
  readonly probes: ProbeSeries[];
  readonly samples: NodeSample[];
  final: FinalObservation | null;
  /** hostile is present when the run had the hostile workload. */
  hostile?: HostileRecord;
}

/** CheckerVerdict is one checker's result. */
export interface CheckerVerdict {
  readonly checker: string;
  readonly ok: boolean;
  /** summary is one line a person reads; problems lists the evidence (bounded). */
  readonly summary: string;
  readonly problems: readonly string[];
}
