// raft-runtime.ts — drives the pure Raft core in a real process.
//
// The one place where the ready loop runs (STYLE.md): persist, then send, then apply, then
// advance. Two overlaps, both as etcd's server does them: a leader's appends and heartbeats go out
// while its own write is in flight (beforePersist), and committed entries that were already durable
// are applied meanwhile (applyDurable). Everything that reaches the core (ticks, received
// messages, proposals, reads) is fed to it only between two Readys, so the core never sees input
// while a Ready is being handled; input that arrives meanwhile waits in bounded queues and is fed
// in one go after advance(), which makes the next Ready one larger batch (group commit: one fsync
// for many proposals).
//
// Each Ready is persisted as one atomic batch, fsynced only when the core says `mustSync` (etcd's
// MustSync: new entries, a snapshot, or a new term or vote). Issue #3 asks for "one atomic, synced
// batch per ready()": the batch stays one atomic write; only a Ready with nothing that must be
// durable skips the fsync, which is what etcd does. A Ready whose one durable change is a higher
// commit index (the leader learning that a quorum has an entry, a follower hearing the leader's
// commit) is written without fsync: at one client that halves the fsyncs per write (one for the
// entry, none for its commit). A crash may lose such a write; the node then restarts with an
// older commit index (never below its snapshot) and learns the rest from its leader. Nothing
// acknowledged depends on it: an entry is applied and answered only once committed, that is
// durable on a majority, whose logs a new leader holds (the commit index is a hint to this node,
// not a promise to anyone). DurableStorage asserts that an unsynced batch moves nothing but the
// commit index.
//
// Leader-stamped time: every Normal entry carries a LogEnvelope. The leader stamps its time when
// it appends; a follower forwards an unstamped envelope which the leader's runtime intercepts
// (MsgProp never reaches the leader's core from the network), stamps and proposes itself.
import { EventEmitter } from 'node:events';
import {
  ConfChangeType,
  EntryType,
  MessageType,
  ProposalDroppedError,
  RawNode,
  decodeConfChange,
} from '../raft/index.js';
import type { ConfChange, ConfState, Entry, Message, NodeId, RaftLogger, RandomSource, Ready, Status } from '../raft/index.js';
import { LogEnvelopeError, decodeLogEnvelope, encodeLogEnvelope } from './log-envelope.js';
import { MemberDirectory, decodeMemberContext, encodeMemberContext } from './member-directory.js';
import type { MemberContext, MemberDirectoryState } from './member-directory.js';
import type { Clock, PeerAddress, RaftLogStore, RaftTransportPort, RuntimeApplier } from './ports.js';
import {
  assertAcknowledgementsDurable, assertAppliedBounds, assertEarlyMessagesSafe, assertPersisted, assertReadyWellFormed,
} from './ready-invariants.js';
import { MembershipControl, type DesiredMembers } from './runtime-membership.js';
import { ProposalQueue, RequestBook, leadershipOf } from './runtime-requests.js';
import { decodeRuntimeSnapshot, encodeRuntimeSnapshot } from './runtime-snapshot.js';
import { RuntimeError, assert } from './runtime-errors.js';
import type { Committed, RuntimeCounters, RuntimeStatus } from '../api/index.js';

/** RaftRuntimeInit holds the runtime's limits and timings; defaults in RUNTIME_DEFAULTS. */
export interface RaftRuntimeInit {
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** snapshotEveryEntries: take a snapshot once this many entries were applied since the last one. */
  readonly snapshotEveryEntries: number;
  /**
   * snapshotEveryBytes: take a snapshot once the entries applied since the last one carry this many bytes.
   * The log since the last snapshot is held in memory too, so this bounds the node's memory when entries
   * are large (telemetry batches of hundreds of readings), where the entry count alone did not.
   */
  readonly snapshotEveryBytes: number;
  readonly proposalTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly maxPendingProposals: number;
  readonly maxQueuedMessages: number;
  /** promoteLagEntries: a learner within this many entries of the leader's last index is promoted. */
  readonly promoteLagEntries: number;
}

/** MIN_PREPARED_BATCH: an append from the leader carrying at least this many entries is prepared (prepareEntries). */
export const MIN_PREPARED_BATCH = 2;

/** RUNTIME_DEFAULTS are the documented defaults of RaftRuntimeInit. */
export const RUNTIME_DEFAULTS: RaftRuntimeInit = {
  tickMs: 100,
  electionTicks: 10,
  heartbeatTicks: 1,
  snapshotEveryEntries: 10_000,
  snapshotEveryBytes: 32 * 1024 * 1024,
  proposalTimeoutMs: 10_000,
  readTimeoutMs: 5_000,
  maxPendingProposals: 10_000,
  maxQueuedMessages: 10_000,
  promoteLagEntries: 100,
};

/** RaftRuntimeComponents are the adapters the runtime drives. */
export interface RaftRuntimeComponents<Result> {
  readonly id: NodeId;
  readonly store: RaftLogStore;
  readonly transport: RaftTransportPort;
  readonly applier: RuntimeApplier<Result>;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly logger: RaftLogger;
  /** founders: the first members and their addresses (used only when the log has no snapshot yet). */
  readonly founders: ReadonlyMap<NodeId, PeerAddress>;
  /**
   * desiredMembers, when given, is the membership the leader converges the Raft configuration to
   * (the gateway mode: the replicated state's members). Without it, addMember/removeMember drive it.
   */
  readonly desiredMembers?: () => DesiredMembers;
}

export type { Committed, RuntimeCounters, RuntimeStatus } from '../api/index.js';

/**
 * RaftRuntime runs one node: core + durable log + transport + state machine. It owns the ready loop
 * (with its invariants, ready-invariants.ts); membership control (runtime-membership.ts) and the
 * bookkeeping of pending proposals and reads (runtime-requests.ts) live in files of their own.
 */
export class RaftRuntime<Result> extends EventEmitter {
  private readonly components: RaftRuntimeComponents<Result>;
  private readonly init: RaftRuntimeInit;
  private readonly node: RawNode;
  private directory: MemberDirectory;
  private applied: number;
  private snapshotIndex: number;
  /** committed: the commit index of the last Ready's hard state. Invariant: applied <= committed. */
  private committed: number;
  /** bytesSinceSnapshot counts the entry bytes applied since the last snapshot (see snapshotEveryBytes). */
  private bytesSinceSnapshot = 0;
  private lastTimeMs = 0;
  private leader = 0;
  private removed = false;
  private stopped = false;
  /** busy: a Ready is being handled; input waits in the queues below. */
  private busy = false;
  private scheduled = false;
  /** queuedTicks counts the ticks among queuedInput (at most electionTicks: a longer hold loses the rest). */
  private queuedTicks = 0;
  /**
   * queuedInput: input that arrived while a Ready was handled (ticks among it), fed to the core after advance()
   * in arrival order. Bounded. Order matters: fed ticks first, a leader held for an election timeout ran its
   * CheckQuorum before the followers' answers that had arrived meanwhile, found no follower active and
   * stepped down; a follower likewise counted the whole hold as silence before the leader's heartbeats.
   */
  private readonly queuedInput: Array<() => void> = [];
  /** tickInput is the queued form of one tick (one function object for every queued tick). */
  private readonly tickInput = (): void => this.node.tick();
  /** proposalQueue: proposals (local, or forwarded by followers) waiting to be handed to the core in batches. */
  private readonly proposalQueue: ProposalQueue;
  private readonly requests: RequestBook<Result>;
  private readonly membership: MembershipControl;
  private readonly bootId: string;
  private sequence = 0;
  private ticker: NodeJS.Timeout | undefined;
  private droppedMessages = 0;
  /** leaderLossHint: the leader and term for which onLeaderUnreachable already told the core the leader was lost. */
  private leaderLossHint: { leader: NodeId; term: number } | undefined;
  private readonly stats = { readies: 0, saves: 0, syncedSaves: 0, savedEntries: 0, saveMs: 0, syncedSaveMs: 0, appliedEntries: 0, sentMessages: 0 };

  constructor(components: RaftRuntimeComponents<Result>, init: Partial<RaftRuntimeInit> = {}) {
    super();
    this.components = components;
    this.init = { ...RUNTIME_DEFAULTS, ...init };
    const snapshot = components.store.snapshot();
    this.snapshotIndex = snapshot.metadata.index;
    this.directory = new MemberDirectory();
    if (snapshot.metadata.index > 0) {
      const decoded = decodeRuntimeSnapshot(snapshot.data);
      this.directory = MemberDirectory.fromState(decoded.members);
      components.applier.restore(decoded.application);
      this.lastTimeMs = decoded.lastTimeMs;
    } else {
      this.directory.seed(components.founders);
    }
    this.applied = snapshot.metadata.index;
    // A commit index written without fsync may be lost in a crash, never below the snapshot (see the header).
    this.committed = Math.max(components.store.initialState().hardState.commit, this.applied);
    this.requests = new RequestBook(this.init, () => components.clock.monotonicMs());
    this.proposalQueue = new ProposalQueue(this.init.maxQueuedMessages);
    this.bootId = randomToken(components.random);
    this.node = new RawNode({
      id: components.id,
      storage: components.store,
      random: components.random,
      applied: this.applied,
      electionTicks: this.init.electionTicks,
      heartbeatTicks: this.init.heartbeatTicks,
      logger: components.logger,
    });
    this.membership = new MembershipControl({
      id: components.id, node: this.node, directory: () => this.directory, lastIndex: () => components.store.lastIndex(),
      promoteLagEntries: this.init.promoteLagEntries, ...(components.desiredMembers ? { desiredMembers: components.desiredMembers } : {}),
    });
    components.transport.setPeers(this.directory.peers(components.id));
  }

  /** start begins ticking. */
  start(): void {
    if (this.ticker) return;
    this.ticker = setInterval(() => this.onTick(), this.init.tickMs);
    this.schedule();
  }

  /** stop ends ticking and fails every pending request; the store is closed by its owner. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.requests.failAll(new RuntimeError('RUNTIME_STOPPED', 'the node is stopping'));
    while (this.busy) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /** receive feeds a message from the transport. */
  receive(message: Message): void {
    if (this.stopped) return;
    if (message.type === MessageType.Prop) {
      this.receiveForwardedProposal(message);
      return;
    }
    // Only a batch is prepared: a lone entry (one client) has nothing to overlap with, and handing it to
    // the pool cost more CPU per write than verifying it in apply (bench:etcd profiles, issue #18).
    if (message.type === MessageType.App && message.entries.length >= MIN_PREPARED_BATCH) this.prepareEntries(message.entries);
    if (!this.feed(() => this.stepSafely(message))) this.droppedMessages += 1;
  }

  /**
   * prepareEntries hands the payloads of entries received from the leader to the applier's prepare (if
   * any), before they are even appended: a gateway verifies their signatures ahead in the thread pool
   * while the entries wait for the fsync and the commit (gateway-applier.ts). Nothing is decided here:
   * the entries may be refused or replaced, and apply decides alone.
   */
  private prepareEntries(entries: readonly Entry[]): void {
    const applier = this.components.applier;
    if (applier.prepare === undefined) return;
    for (const entry of entries) {
      if (entry.type !== EntryType.Normal || entry.data.length === 0 || entry.index <= this.applied) continue;
      try {
        applier.prepare(decodeLogEnvelope(entry.data).payload);
      } catch (error) {
        // apply() reports an undecodable entry, deterministically; nothing to prepare.
        if (!(error instanceof LogEnvelopeError)) throw error;
      }
    }
  }

  /**
   * reportUnreachable tells the core a peer could not be reached (the transport lost its
   * connection, a dial failed, or its queue overflowed). When that peer is this follower's leader,
   * it is also a hint that the leader is gone: see onLeaderUnreachable.
   */
  reportUnreachable(id: NodeId): void {
    if (this.stopped) return;
    this.feed(() => {
      this.node.reportUnreachable(id);
      this.onLeaderUnreachable(id);
    });
  }

  /** reportSnapshot tells the leader whether a snapshot reached a follower. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    if (!this.stopped) this.feed(() => this.node.reportSnapshot(id, ok));
  }

  /** propose replicates `payload` and resolves once this node has applied it. */
  propose(payload: Uint8Array): Promise<Committed<Result>> {
    if (this.stopped) return Promise.reject(new RuntimeError('RUNTIME_STOPPED', 'the node is stopping'));
    const requestId = `${this.components.id}.${this.bootId}.${++this.sequence}`;
    const outcome = this.requests.addProposal(requestId);
    if (!this.enqueueProposal(requestId, payload)) {
      this.requests.failProposal(requestId, new RuntimeError('RUNTIME_OVERLOADED', `the proposal queue is full (${this.init.maxQueuedMessages} items)`));
    }
    return outcome;
  }

  /** readIndex resolves with an index such that a read of state applied up to it is linearizable. */
  readIndex(): Promise<number> {
    if (this.stopped) return Promise.reject(new RuntimeError('RUNTIME_STOPPED', 'the node is stopping'));
    const context = `${this.components.id}.${this.bootId}.r${++this.sequence}`;
    const outcome = this.requests.addRead(context);
    if (!this.feed(() => this.node.readIndex(Buffer.from(context, 'utf8')))) {
      this.requests.failRead(context, new RuntimeError('RUNTIME_OVERLOADED', `the input queue is full (${this.init.maxQueuedMessages} items)`));
    }
    return outcome;
  }

  /** addMember proposes a new member as a learner (promoted once caught up when `asVoter`). */
  addMember(id: NodeId, address: PeerAddress, asVoter: boolean): void {
    if (this.directory.wasEverUsed(id)) {
      throw new RuntimeError('RUNTIME_NODE_ID_REUSED', `node id ${id} was already used by this cluster; ids are never reused`);
    }
    const context: MemberContext = { nodeId: id, address, promote: asVoter };
    this.proposeConfChange({ transition: 'auto', changes: [{ type: ConfChangeType.AddLearner, nodeId: id }], context: encodeMemberContext(context) });
  }

  /** removeMember proposes removing a member. */
  removeMember(id: NodeId): void {
    const context: MemberContext = { nodeId: id };
    this.proposeConfChange({ transition: 'auto', changes: [{ type: ConfChangeType.RemoveNode, nodeId: id }], context: encodeMemberContext(context) });
  }

  /** transferLeadership asks the leader to hand over to `to`. */
  transferLeadership(to: NodeId): void {
    this.feed(() => this.node.transferLeadership(to));
  }

  /** campaign makes this node start an election now (used by tests and by tools). */
  campaign(): void {
    this.feed(() => this.node.campaign());
  }

  /** status reports this node's view: role, leader, term, commit, applied, snapshot, membership. */
  status(): RuntimeStatus {
    const status: Status = this.node.status();
    return {
      id: this.components.id,
      role: status.softState.role,
      leader: status.softState.leader,
      term: status.hardState.term,
      commit: status.hardState.commit,
      applied: this.applied,
      snapshotIndex: this.snapshotIndex,
      lastIndex: this.components.store.lastIndex(),
      voters: [...status.confState.voters],
      learners: [...status.confState.learners],
      removed: this.removed,
    };
  }

  /**
   * appliedEnvelopes returns the applied entries that carried a payload, from index `from` on, as
   * the state machine saw them (index, term, leader-stamped time, payload), at most `limit`.
   * `firstIndex` is the first index the log still holds: older entries are only in the snapshot.
   */
  appliedEnvelopes(from: number, limit: number): { firstIndex: number; entries: Array<{ index: number; term: number; timeMs: number; payload: Uint8Array }> } {
    const store = this.components.store;
    const firstIndex = store.firstIndex();
    const out: Array<{ index: number; term: number; timeMs: number; payload: Uint8Array }> = [];
    let next = Math.max(from, firstIndex);
    while (next <= this.applied && out.length < limit) {
      const batch = store.entries(next, this.applied + 1, 4 * 1024 * 1024);
      for (const entry of batch) {
        next = entry.index + 1;
        if (entry.type !== EntryType.Normal || entry.data.length === 0) continue;
        try {
          const envelope = decodeLogEnvelope(entry.data);
          out.push({ index: entry.index, term: entry.term, timeMs: envelope.timeMs, payload: envelope.payload });
        } catch (error) {
          if (!(error instanceof LogEnvelopeError)) throw error;
        }
        if (out.length >= limit) break;
      }
    }
    return { firstIndex, entries: out };
  }

  /** raftStatus exposes the core's status (progress of peers on the leader). */
  raftStatus(): Status {
    return this.node.status();
  }

  /** peerAddress returns the address of a member, as learned from the log. */
  peerAddress(id: NodeId): PeerAddress | undefined {
    return this.directory.address(id);
  }

  /** counters for metrics. */
  counters(): RuntimeCounters {
    return { ...this.stats, droppedMessages: this.droppedMessages, pendingProposals: this.requests.pendingProposals, pendingReads: this.requests.pendingReads };
  }

  private proposeConfChange(change: ConfChange): void {
    this.feed(() => {
      try {
        this.node.proposeConfChange(change);
      } catch (error) {
        if (!(error instanceof ProposalDroppedError)) throw error;
        this.components.logger.warn(`membership change dropped: ${error.message}`);
      }
    });
  }

  /**
   * feed runs `input` against the core now, or after the Ready being handled is advanced.
   * Returns false when the queue is full and the input was dropped.
   */
  private feed(input: () => void): boolean {
    if (this.busy) {
      if (this.queuedInput.length >= this.init.maxQueuedMessages) return false;
      this.queuedInput.push(input);
      return true;
    }
    input();
    this.schedule();
    return true;
  }

  /**
   * onLeaderUnreachable: a follower that loses its connection to its leader (a crashed leader
   * process: the kernel resets its sockets at once) tells its core, once per leader and term, that
   * the leader is probably gone (RaftNode.leaderLost): the core forgets the leader, so it grants
   * pre-votes at once instead of honouring the lost leader's lease, and campaigns within a number of
   * ticks chosen here. The survivors take turns by rank: the voters other than the lost leader,
   * ordered by id, split one election timeout T into equal windows, and the survivor of rank r
   * campaigns at a random tick of window r. Every survivor sees the reset at the same instant, so
   * with one shared window two of them would often campaign together and split the vote — each then
   * waits a new timeout of T to 2T (seen in bench:etcd: 1.9–2.1 s failovers in 1 kill of 12). With
   * ranks, the first survivor campaigns alone within T / survivors and the next one only if that
   * fails. It cannot unseat a leader that still works: the other voters still hear from it and
   * refuse the campaign (PreVote and checkQuorum, thesis 9.6), and the leader's next message makes
   * it this node's leader again. A leader that goes silent without a reset (partition, paused process)
   * is still detected by the full timeout.
   */
  private onLeaderUnreachable(id: NodeId): void {
    if (id === this.components.id) return;
    const status = this.node.status();
    if (status.softState.role !== 'follower' || status.softState.leader !== id) return;
    const term = status.hardState.term;
    if (this.leaderLossHint !== undefined && this.leaderLossHint.leader === id && this.leaderLossHint.term === term) return;
    this.leaderLossHint = { leader: id, term };
    const survivors = status.confState.voters.filter((voter) => voter !== id).sort((a, b) => a - b);
    const rank = Math.max(0, survivors.indexOf(this.components.id));
    const window = Math.max(1, Math.floor(this.init.electionTicks / Math.max(1, survivors.length)));
    const withinTicks = rank * window + 1 + this.components.random.nextInt(window);
    this.components.logger.info(`lost the connection to leader ${id} (term ${term}): forgetting it; campaigning within ${withinTicks} ticks (rank ${rank} of ${survivors.length})`);
    this.node.leaderLost(id, withinTicks);
  }

  private onTick(): void {
    this.requests.expire();
    if (this.busy) {
      if (this.queuedTicks < this.init.electionTicks && this.queuedInput.length < this.init.maxQueuedMessages) {
        this.queuedTicks += 1;
        this.queuedInput.push(this.tickInput);
      }
      return;
    }
    this.node.tick();
    this.membership.reconcile();
    this.schedule();
  }

  /** receiveForwardedProposal stamps a follower's proposal on the leader and proposes it here. */
  private receiveForwardedProposal(message: Message): void {
    for (const entry of message.entries) {
      let envelope;
      try {
        envelope = decodeLogEnvelope(entry.data);
      } catch (error) {
        if (error instanceof LogEnvelopeError) {
          this.components.logger.warn(`dropping forwarded proposal from node ${message.from}: ${error.message}`);
          continue;
        }
        throw error;
      }
      if (!this.enqueueProposal(envelope.requestId, envelope.payload)) this.droppedMessages += 1;
    }
  }

  private enqueueProposal(requestId: string, payload: Uint8Array): boolean {
    if (!this.proposalQueue.push(requestId, payload)) return false;
    this.schedule();
    return true;
  }

  /**
   * flushProposals hands every queued proposal to the core, in the queue's bounded batches. The
   * leader stamps them with its time; a follower's core forwards them unstamped to the leader, whose
   * runtime stamps them.
   */
  private flushProposals(): void {
    for (let batch = this.proposalQueue.takeBatch(); batch.length > 0; batch = this.proposalQueue.takeBatch()) {
      const status = this.node.status();
      const isLeader = status.softState.role === 'leader';
      const timeMs = isLeader ? this.stampTime() : 0;
      const leadership = leadershipOf(status.hardState.term, status.softState.leader);
      for (const { requestId } of batch) this.requests.markHandedIn(requestId, leadership);
      try {
        this.node.proposeBatch(batch.map(({ requestId, payload }) => encodeLogEnvelope({ requestId, timeMs, payload })));
      } catch (error) {
        if (!(error instanceof ProposalDroppedError)) throw error;
        // Proposals forwarded by other nodes are dropped here; their origin answers "indeterminate" or times out.
        for (const { requestId } of batch) this.requests.failProposal(requestId, new RuntimeError('RUNTIME_PROPOSAL_DROPPED', error.message, error));
      }
    }
  }

  private stampTime(): number {
    this.lastTimeMs = Math.max(this.lastTimeMs, this.components.clock.nowMs());
    return this.lastTimeMs;
  }

  private stepSafely(message: Message): void {
    try {
      this.node.step(message);
    } catch (error) {
      // A message from a node no longer in the configuration, or of a local-only type, is refused.
      if (error instanceof Error && 'code' in error) {
        this.components.logger.debug(`step refused message type ${message.type} from ${message.from}: ${error.message}`);
        return;
      }
      throw error;
    }
  }

  private schedule(): void {
    if (this.scheduled || this.busy || this.stopped) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.runReadyLoop();
    });
  }

  private async runReadyLoop(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      this.flushProposals();
      for (let round = 0; round < 64 && this.node.hasReady(); round++) {
        await this.handleReady(this.node.ready());
        this.node.advance();
        this.drainQueues();
        this.flushProposals();
      }
    } catch (error) {
      this.components.logger.warn(`ready loop failed: ${error instanceof Error ? error.stack : String(error)}`);
      this.emit('fatal', error);
      this.stopped = true;
      if (this.ticker) clearInterval(this.ticker);
      // Without the ticker nothing would expire the pending requests: refuse them now.
      this.requests.failAll(new RuntimeError('RUNTIME_STOPPED', 'the node stopped after a failure of its ready loop'));
    } finally {
      this.busy = false;
    }
    if (!this.stopped && (this.node.hasReady() || this.proposalQueue.length > 0)) this.schedule();
  }

  /**
   * handleReady: persist, then send, then apply (the caller advances), asserting the ready loop's
   * invariants on the way (ready-invariants.ts): what is acknowledged or depended on is durable first,
   * and applied <= committed, snapshot <= applied.
   */
  private async handleReady(ready: Ready): Promise<void> {
    if (ready.softState && ready.softState.leader !== this.leader) {
      this.leader = ready.softState.leader;
      this.failPendingOnLeaderChange();
      this.emit('leader', this.leader);
    }
    if (ready.hardState !== undefined) this.committed = ready.hardState.commit;
    assertReadyWellFormed(ready, this.applied, this.committed);
    this.stats.readies += 1;
    // A leader replicates while it persists (thesis 10.2.1): see beforePersist.
    const early = this.beforePersist(ready);
    assertEarlyMessagesSafe(early, this.components.store);
    if (early.length > 0) this.components.transport.send(early);
    if (ready.hardState || ready.entries.length > 0 || ready.snapshot) await this.persist(ready);
    assertAcknowledgementsDurable(ready.messages, this.components.store);
    this.stats.sentMessages += ready.messages.length;
    this.stats.appliedEntries += ready.committedEntries.length;
    this.components.transport.send(early.length === 0 ? ready.messages : ready.messages.filter((m) => !early.includes(m)));
    if (ready.snapshot && ready.snapshot.metadata.index > this.applied) this.applySnapshot(ready.snapshot.data, ready.snapshot.metadata.index);
    for (const entry of ready.committedEntries) this.applyEntry(entry);
    for (const readState of ready.readStates) this.requests.recordReadIndex(Buffer.from(readState.requestContext).toString('utf8'), readState.index);
    this.requests.settleReads(this.applied);
    await this.maybeSnapshot();
    assertAppliedBounds(this.applied, Math.max(this.committed, this.snapshotIndex), this.snapshotIndex);
  }

  /**
   * persist writes the Ready as one atomic batch, fsynced only when the core says so (see the
   * header), applies meanwhile what was already durable (applyDurable), and asserts that the write
   * landed before anything that depends on it is sent.
   */
  private async persist(ready: Ready): Promise<void> {
    const saveStart = this.components.clock.monotonicMs();
    this.stats.saves += 1;
    if (ready.mustSync) this.stats.syncedSaves += 1;
    this.stats.savedEntries += ready.entries.length;
    const durableLast = this.components.store.lastIndex();
    const saving = this.components.store.save({
      ...(ready.hardState ? { hardState: ready.hardState } : {}),
      entries: ready.entries,
      ...(ready.snapshot ? { snapshot: ready.snapshot } : {}),
      sync: ready.mustSync,
    });
    // Awaited below; marked handled now so that a failure of the write is not reported as
    // unhandled if applying throws first (either way the loop stops the node).
    saving.catch(() => undefined);
    this.applyDurable(ready, durableLast);
    await saving;
    assertPersisted(ready, this.components.store);
    const saveMs = this.components.clock.monotonicMs() - saveStart;
    this.stats.saveMs += saveMs;
    if (ready.mustSync) this.stats.syncedSaveMs += saveMs;
  }

  /**
   * applyDurable applies, while this Ready's write is in flight, the committed entries this node
   * had already made durable before it (index <= durableLast, below any entry the write replaces):
   * committed and durable here, so nothing the write does can change them, and their proposers are
   * answered one write sooner. It stops at the first membership change, which is applied after the
   * write as before, and does nothing when the Ready carries a snapshot.
   */
  private applyDurable(ready: Ready, durableLast: number): void {
    if (ready.snapshot) return;
    const limit = Math.min(durableLast, (ready.entries[0]?.index ?? Number.POSITIVE_INFINITY) - 1);
    for (const entry of ready.committedEntries) {
      if (entry.index > limit || entry.type !== EntryType.Normal) return;
      this.applyEntry(entry);
    }
  }

  /**
   * beforePersist picks the messages of a leader's Ready that may go out before its own write is
   * durable, so a follower's fsync overlaps the leader's instead of following it (the leader writes
   * to its disk in parallel with replicating, Raft thesis 10.2.1; etcd's server does the same):
   * appends and heartbeats, when
   *  - this node leads, the Ready carries no snapshot, and its hard state changes at most the commit
   *    index: the term and vote the messages carry are already durable;
   *  - each message's commit index is within the log this node has already made durable. Input is
   *    fed to the core only between Readies, after the previous write completed, so commit never
   *    counts this node's copy of an entry before it is durable; the check keeps it that way even
   *    for a single voter, whose core commits its own entries on append.
   * Everything else (votes, responses, read-index answers) waits for the write, as before. If the
   * write then fails, the node stops, as it would have crashed before the write: followers may hold
   * entries the leader lost, which Raft allows for entries that are not committed.
   */
  private beforePersist(ready: Ready): Message[] {
    if (ready.messages.length === 0 || ready.snapshot || this.leader !== this.components.id) return [];
    const store = this.components.store;
    const durable = store.initialState().hardState;
    if (ready.hardState && (ready.hardState.term !== durable.term || ready.hardState.vote !== durable.vote)) return [];
    const durableLast = store.lastIndex();
    return ready.messages.filter((m) => (m.type === MessageType.App || m.type === MessageType.Heartbeat) && m.commit <= durableLast);
  }

  /**
   * failPendingOnLeaderChange answers at once every pending proposal handed to an earlier leader when the
   * leader changes: it may have been appended by the old leader and be committed by the new one, or be
   * lost, so the answer is "indeterminate" and the client retries the same envelope (signed commands are
   * deduplicated by the state machine). Waiting for the timeout instead would add it to every failover.
   * Proposals that are then applied here are not answered twice. The Ready reports the change after the
   * core made it, so proposals handed in since went to the new leader (a node just elected appends them
   * itself): they are not refused (RequestBook.failProposalsOutside) — refusing them answered writes to a
   * new leader "indeterminate" though it was committing them (runtime-prepare.test, 1 run in 3).
   */
  private failPendingOnLeaderChange(): void {
    const status = this.node.status();
    this.requests.failProposalsOutside(leadershipOf(status.hardState.term, status.softState.leader), () => new RuntimeError('RUNTIME_LEADER_CHANGED',
      `the leader changed to node ${this.leader || 'none'} before the proposal's outcome was known: it may or may not be committed`));
  }

  private applySnapshot(data: Uint8Array, index: number): void {
    const decoded = decodeRuntimeSnapshot(data);
    this.components.applier.restore(decoded.application);
    this.directory = MemberDirectory.fromState(decoded.members);
    this.lastTimeMs = Math.max(this.lastTimeMs, decoded.lastTimeMs);
    this.applied = index;
    this.snapshotIndex = index;
    this.components.transport.setPeers(this.directory.peers(this.components.id));
    this.emit('snapshot', index);
  }

  private applyEntry(entry: Entry): void {
    if (entry.index <= this.applied) return;
    assert(entry.index === this.applied + 1, () => `applying entry ${entry.index} after ${this.applied}: the state machine would skip entries`);
    if (entry.type === EntryType.ConfChange) this.applyConfChange(entry);
    else if (entry.data.length > 0) this.applyNormal(entry);
    this.bytesSinceSnapshot += entry.data.length;
    this.applied = entry.index;
    this.emit('applied', entry.index);
  }

  private applyNormal(entry: Entry): void {
    let envelope;
    try {
      envelope = decodeLogEnvelope(entry.data);
    } catch (error) {
      // Deterministic on every node: the same bytes fail the same way. Nothing is applied.
      this.components.logger.warn(`entry ${entry.index} is not a valid envelope and is skipped: ${(error as Error).message}`);
      return;
    }
    this.lastTimeMs = Math.max(this.lastTimeMs, envelope.timeMs);
    const result = this.components.applier.apply({ index: entry.index, term: entry.term, timeMs: envelope.timeMs, payload: envelope.payload });
    this.requests.resolveProposal(envelope.requestId, { index: entry.index, term: entry.term, timeMs: envelope.timeMs, result });
  }

  private applyConfChange(entry: Entry): void {
    const change = decodeConfChange(entry.data);
    const confState = this.node.applyConfChange(change);
    if (change.context.length > 0) {
      const context = decodeMemberContext(change.context);
      for (const single of change.changes) {
        if (single.type === ConfChangeType.RemoveNode) this.directory.recordRemove(single.nodeId);
        else this.directory.recordAdd(context, single.type === ConfChangeType.AddNode);
      }
    }
    this.components.transport.setPeers(this.directory.peers(this.components.id));
    this.removed = !confState.voters.includes(this.components.id) && !confState.learners.includes(this.components.id)
      && !confState.votersOutgoing.includes(this.components.id);
    this.emit('conf', confState);
    if (this.removed) this.emit('removed');
  }

  private async maybeSnapshot(): Promise<void> {
    if (this.applied - this.snapshotIndex < this.init.snapshotEveryEntries && this.bytesSinceSnapshot < this.init.snapshotEveryBytes) return;
    if (this.applied === this.snapshotIndex) return;
    const confState: ConfState = this.node.status().confState;
    const data = encodeRuntimeSnapshot({
      members: this.directory.toState() as MemberDirectoryState,
      lastTimeMs: this.lastTimeMs,
      application: this.components.applier.snapshot(),
    });
    const index = this.applied;
    await this.components.store.createSnapshot(index, confState, data);
    this.snapshotIndex = index;
    this.bytesSinceSnapshot = 0;
    this.emit('snapshot', this.applied);
  }

  private drainQueues(): void {
    const inputs = this.queuedInput.splice(0);
    this.queuedTicks = 0;
    for (const input of inputs) input();
  }
}

/** randomToken returns 8 base-36 characters from `random`: this boot's part of request ids. */
function randomToken(random: RandomSource): string {
  let token = '';
  for (let i = 0; i < 8; i++) token += random.nextInt(36).toString(36);
  return token;
}

