// tracker.ts — the leader's view of each peer (Progress), its flow-control window (Inflights)
// and the configuration with the votes of an election (etcd-io/raft's tracker package).
import { assert } from './errors.js';
import type { JointConfig, VoteResult } from './quorum.js';
import { jointCommittedIndex, jointIds, jointVoteResult } from './quorum.js';
import type { ConfState, NodeId, PeerProgress } from './types.js';
import { sortedIds } from './util.js';

/**
 * Inflights is a bounded ring buffer of the last indexes of App messages sent to a follower in
 * replicate state and not yet acknowledged. When full, the leader stops sending (flow control).
 * Invariant: the buffered indexes are increasing.
 */
export class Inflights {
  private start = 0;
  private countInFlight = 0;
  private readonly buffer: number[];

  constructor(readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity > 0, `Inflights: capacity must be positive, got ${capacity}`);
    this.buffer = new Array<number>(capacity).fill(0);
  }

  /** add records an App message whose last entry is `index`. */
  add(index: number): void {
    assert(!this.full(), 'Inflights.add: cannot add into a full inflights');
    if (this.countInFlight > 0) {
      const last = this.buffer[(this.start + this.countInFlight - 1) % this.capacity]!;
      assert(index > last, () => `Inflights.add: index ${index} is not after the last in flight ${last}`);
    }
    this.buffer[(this.start + this.countInFlight) % this.capacity] = index;
    this.countInFlight++;
  }

  /** freeLE frees every in-flight message whose last index is <= `to` (they were acknowledged). */
  freeLE(to: number): void {
    let freed = 0;
    while (freed < this.countInFlight && this.buffer[(this.start + freed) % this.capacity]! <= to) freed++;
    this.start = (this.start + freed) % this.capacity;
    this.countInFlight -= freed;
    if (this.countInFlight === 0) this.start = 0;
  }

  /** freeFirstOne frees the oldest in-flight message (a heartbeat response proves the follower is alive). */
  freeFirstOne(): void {
    if (this.countInFlight === 0) return;
    this.freeLE(this.buffer[this.start]!);
  }

  full(): boolean {
    return this.countInFlight === this.capacity;
  }

  count(): number {
    return this.countInFlight;
  }

  reset(): void {
    this.start = 0;
    this.countInFlight = 0;
  }
}

/** ProgressState is how the leader replicates to a follower (etcd's StateProbe/Replicate/Snapshot). */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/**
 * Progress is the leader's view of one follower.
 * Invariant: match < next.
 */
export class Progress {
  /** match is the highest index known to be replicated on the follower. */
  match = 0;
  /** next is the index of the next entry to send. */
  next: number;
  state: ProgressState = 'probe';
  /** pendingSnapshot is the index of the snapshot being sent (snapshot state). */
  pendingSnapshot = 0;
  /** recentActive: the follower was heard from since the last CheckQuorum (thesis 6.2). */
  recentActive = false;
  /** probeSent: in probe state, one App is outstanding; wait for its answer or a heartbeat. */
  probeSent = false;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(next: number, maxInflightMsgs: number, isLearner: boolean) {
    this.next = next;
    this.inflights = new Inflights(maxInflightMsgs);
    this.isLearner = isLearner;
  }

  /**
   * shallowCopy copies the progress for the configuration changer, which only mutates
   * isLearner; the inflight window is shared (the old Progress is discarded on switch).
   */
  shallowCopy(): Progress {
    const copy = Object.create(Progress.prototype) as Progress;
    Object.assign(copy, this);
    return copy;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /** resetForNewTerm resets the progress when a leader is elected (etcd replaces the whole Progress). */
  resetForNewTerm(match: number, next: number): void {
    this.resetState('probe');
    this.match = match;
    this.next = next;
    this.recentActive = false;
  }

  /** becomeProbe: send one App at a time until the follower's log position is found. */
  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pendingSnapshot = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pendingSnapshot + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  /** becomeReplicate: stream entries optimistically, bounded by the inflight window. */
  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  /** becomeSnapshot: the follower needs a snapshot at `snapshotIndex`; stop sending Apps. */
  becomeSnapshot(snapshotIndex: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** maybeUpdate records an acknowledgement of index n; returns whether match advanced. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** optimisticUpdate advances next after sending entries up to n in replicate state. */
  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  /**
   * maybeDecrTo handles a rejected App for index `rejected` with the follower's hint
   * `matchHint`; returns false when the rejection is stale (it answers an older message).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe state only one App is outstanding, at next - 1: anything else is stale.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** isPaused: whether the leader must not send Apps to this follower now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe': return this.probeSent;
      case 'replicate': return this.inflights.full();
      case 'snapshot': return true;
    }
  }

  /** toPeerProgress is the read-only view reported by status(). */
  toPeerProgress(): PeerProgress {
    return {
      match: this.match, next: this.next, state: this.state, recentActive: this.recentActive,
      isLearner: this.isLearner, inflight: this.inflights.count(),
    };
  }
}

/** TrackerConfig is the membership in force (thesis 4.3 joint configuration plus learners). */
export interface TrackerConfig {
  readonly voters: JointConfig;
  /** learners: receive the log, never vote, never count. Disjoint from voters. */
  readonly learners: Set<NodeId>;
  /** learnersNext: outgoing voters that become learners when the joint config is left. */
  readonly learnersNext: Set<NodeId>;
  autoLeave: boolean;
}

/** emptyTrackerConfig returns a configuration with no members. */
export function emptyTrackerConfig(): TrackerConfig {
  return { voters: { incoming: new Set(), outgoing: new Set() }, learners: new Set(), learnersNext: new Set(), autoLeave: false };
}

/** cloneTrackerConfig deep-copies a configuration (the changer works on copies). */
export function cloneTrackerConfig(config: TrackerConfig): TrackerConfig {
  return {
    voters: { incoming: new Set(config.voters.incoming), outgoing: new Set(config.voters.outgoing) },
    learners: new Set(config.learners), learnersNext: new Set(config.learnersNext), autoLeave: config.autoLeave,
  };
}

/** ProgressMap maps each member (voter or learner) to its Progress. */
export type ProgressMap = Map<NodeId, Progress>;

/** ProgressTracker holds the configuration, the progress of every member, and election votes. */
export class ProgressTracker {
  config: TrackerConfig = emptyTrackerConfig();
  progress: ProgressMap = new Map();
  votes = new Map<NodeId, boolean>();

  constructor(readonly maxInflightMsgs: number) {}

  /** confState returns the configuration as a ConfState (sorted ids). */
  confState(): ConfState {
    return {
      voters: sortedIds(this.config.voters.incoming),
      votersOutgoing: sortedIds(this.config.voters.outgoing),
      learners: sortedIds(this.config.learners),
      learnersNext: sortedIds(this.config.learnersNext),
      autoLeave: this.config.autoLeave,
    };
  }

  /** isSingleton: the configuration has exactly one voter and is not joint. */
  isSingleton(): boolean {
    return this.config.voters.incoming.size === 1 && this.config.voters.outgoing.size === 0;
  }

  /** committed is the largest index replicated on a quorum of voters (learners never count). */
  committed(): number {
    return jointCommittedIndex(this.config.voters, (id) => this.progress.get(id)?.match);
  }

  /** visit calls fn for each member in ascending id order (deterministic output order). */
  visit(fn: (id: NodeId, progress: Progress) => void): void {
    for (const id of sortedIds(this.progress.keys())) fn(id, this.progress.get(id)!);
  }

  /** quorumActive: a quorum of voters was recently active (CheckQuorum, thesis 6.2). */
  quorumActive(): boolean {
    const votes = new Map<NodeId, boolean>();
    this.visit((id, progress) => {
      if (!progress.isLearner) votes.set(id, progress.recentActive);
    });
    return jointVoteResult(this.config.voters, votes) === 'won';
  }

  /** voterIds returns every voter of the (possibly joint) configuration, sorted. */
  voterIds(): NodeId[] {
    return sortedIds(jointIds(this.config.voters));
  }

  /** isVoter: whether `id` votes in either half of the configuration. */
  isVoter(id: NodeId): boolean {
    return this.config.voters.incoming.has(id) || this.config.voters.outgoing.has(id);
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  /** recordVote records id's vote; only the first vote of a node in an election counts. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  /** voteResultOf tallies an arbitrary set of acknowledgements (ReadIndex) over the voters. */
  voteResultOf(votes: ReadonlyMap<NodeId, boolean>): VoteResult {
    return jointVoteResult(this.config.voters, votes);
  }

  /** tallyVotes counts granted and rejected votes among voters and returns the election result. */
  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voterIds()) {
      const vote = this.votes.get(id);
      if (vote === true) granted++;
      else if (vote === false) rejected++;
    }
    return { granted, rejected, result: jointVoteResult(this.config.voters, this.votes) };
  }
}
