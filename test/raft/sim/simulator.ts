// simulator.ts — the deterministic Raft simulator (issue 2, item 5).
//
// A run is a cluster of RawNodes (3, 5 or 7 founding voters; more join and leave through
// membership changes) driven by one event queue in simulated time. Every choice — which message
// arrives when, which is lost or duplicated, which node crashes where, which client request
// arrives at which node — comes from one SimRandom built from the seed, so a seed replays byte
// for byte. Each node has a durable "disk" (a MemoryStorage that receives only what step 1 of the
// Ready handling persisted) and volatile state (the RawNode and its applied state machine); a
// crash throws the volatile state away, and a restart rebuilds it from the disk. After every step
// the History checks the safety invariants listed in violation.ts; a broken one throws an
// InvariantViolation that names the seed, the step and the command that replays the run.
import { createHash, type Hash } from 'node:crypto';
import type {
  ConfChange, ConfChangeSingle, ConfState, Entry, HardState, Message, NodeId, Ready, StateRole,
} from '../../../src/raft/index.js';
import {
  AssertionError, ConfChangeType, EntryType, MemoryStorage, MessageType, PeerNotFoundError, ProposalDroppedError, RaftError,
  EMPTY_BYTES, NONE, RawNode, confChangeEntry, decodeConfChange,
} from '../../../src/raft/index.js';
import { EventQueue } from './event-queue.js';
import { History, INITIAL_MACHINE, type MachineState } from './history.js';
import { SimRandom } from './prng.js';
import { TICK_TIME, describeProfile, drawProfile, type Profile, type ProfileKind } from './profile.js';
import { InvariantViolation, replayCommand, type RunIdentity, type RunMode } from './violation.js';
import { createRaftFor, earlyMessages, type PlantedBug } from '../support/planted-raft.js';

/** DEFAULT_SAFETY_STEPS is the default length of a safety run, in steps (events). */
export const DEFAULT_SAFETY_STEPS = 4000;

/**
 * LIVENESS_BOUND_ELECTION_TIMEOUTS: once faults stop, the healed cluster must elect a leader, commit
 * its whole log, answer a ReadIndex read and commit and apply a new proposal on every member
 * within this many maximal election timeouts (2 × electionTicks ticks each).
 */
export const LIVENESS_BOUND_ELECTION_TIMEOUTS = 10;

/** MAX_PENDING_EVENTS bounds the event queue (messages in flight plus timers). */
const MAX_PENDING_EVENTS = 200_000;
/** MAX_READY_ROUNDS bounds the Ready loop after one input; the core must quiesce long before. */
const MAX_READY_ROUNDS = 64;
/** MAX_PENDING_CLIENT_REQUESTS bounds outstanding proposals and reads tracked for acknowledgement. */
const MAX_PENDING_CLIENT_REQUESTS = 2048;
/** EXTRA_NODES: at most this many nodes beyond the founding count exist at once (joining ones). */
const EXTRA_NODES = 2;
/** BOOTSTRAP_TERM is the term of the founding entries. */
const BOOTSTRAP_TERM = 1;
/** STRANDED_JOINER_TICKS: a joiner not in any applied configuration after this many ticks is retired. */
const STRANDED_JOINER_TICKS = 40;
/** MAX_BATCH_PROPOSALS: the largest proposeBatch the workload makes. */
const MAX_BATCH_PROPOSALS = 5;
/** CLIENT_TIMEOUT_TICKS: a client stops waiting for an acknowledgement or a read answer after this many ticks. */
const CLIENT_TIMEOUT_TICKS = 60;
/** TRACE_TAIL_LINES: lines of trace kept for a failure report. */
const TRACE_TAIL_LINES = 60;

/** SimOptions selects one run. */
export interface SimOptions {
  readonly seed: number;
  readonly nodes: 3 | 5 | 7;
  readonly mode: RunMode;
  /** steps: safety: the run's length; liveness: the length of the fault phase. */
  readonly steps: number;
  readonly plant?: PlantedBug;
  /** keepTrace: keep every trace line in the result (for replay output and the determinism test). */
  readonly keepTrace?: boolean;
  /**
   * ruleChecks (default true) also checks protocol rules whose breach is not yet visible to a
   * client: 'leader-append-only', 'leader-commit-rule' and 'single-pending-conf-change'. With
   * false, only outcomes count (a planted bug must then show as lost or diverging data).
   */
  readonly ruleChecks?: boolean;
  /** profile: how the fault mix is drawn (default swarm). */
  readonly profile?: ProfileKind;
  /**
   * unsafeLocalReads (test-only, default false): answer reads from the node's own applied state
   * instead of ReadIndex. Not linearizable: it exists to show that the read check fails.
   */
  readonly unsafeLocalReads?: boolean;
}

/** SimStats counts what a run exercised, so that a campaign can show its coverage. */
export interface SimStats {
  steps: number;
  ticks: number;
  messagesSent: number;
  messagesDelivered: number;
  messagesDropped: number;
  messagesDuplicated: number;
  crashes: number;
  crashesInsideReady: number;
  restarts: number;
  partitions: number;
  leaderTerms: number;
  proposals: number;
  acknowledged: number;
  reads: number;
  readsServed: number;
  confChangesProposed: number;
  confChangesApplied: number;
  /** confChangesCommitted: membership changes (beyond the founding entries) that some node applied. */
  confChangesCommitted: number;
  transfers: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  highestApplied: number;
  /** oldTermCommits: leader commit moves to an older term's entry (only with a planted bug). */
  oldTermCommits: number;
  /** recoveryTicks: liveness runs: ticks from the end of faults to the new proposal applied everywhere. */
  recoveryTicks: number;
  /** recoveryTicksMax: the same, the largest over a campaign (campaign totals take the maximum). */
  recoveryTicksMax: number;
}

/** SimResult is the outcome of one run. */
export interface SimResult {
  readonly run: RunIdentity;
  readonly violation: InvariantViolation | undefined;
  readonly stats: SimStats;
  /** traceDigest is the sha256 of the whole trace: equal for equal seeds (the determinism test). */
  readonly traceDigest: string;
  readonly trace: readonly string[] | undefined;
  readonly profile: string;
}

type CrashPoint = 'before-persist' | 'before-send' | 'before-apply' | 'before-advance';

/**
 * ArmedCrash strikes inside a later Ready handling at `point`, once a Ready meets `when`: any
 * Ready, one carrying new log entries, or one that moves the commit index. That is where the
 * interesting crashes are: a leader that persisted a new entry but never sent it, or that has
 * just committed (Figure 8 needs both); a follower that received entries and dies before they
 * reach its disk (acknowledging them early is the bug).
 */
interface ArmedCrash {
  readonly point: CrashPoint;
  readonly when: 'any' | 'entries' | 'commit';
}

const CRASH_CONDITIONS: readonly ArmedCrash['when'][] = ['any', 'entries', 'entries', 'commit'];
const CRASH_POINTS: readonly CrashPoint[] = ['before-persist', 'before-persist', 'before-send', 'before-apply', 'before-advance'];

type SimEvent =
  | { readonly kind: 'tick'; readonly node: NodeId; readonly incarnation: number }
  | { readonly kind: 'deliver'; readonly message: Message }
  | { readonly kind: 'driver' }
  | { readonly kind: 'restart'; readonly node: NodeId; readonly incarnation: number }
  | { readonly kind: 'heal'; readonly partition: number }
  | { readonly kind: 'report'; readonly node: NodeId; readonly incarnation: number; readonly peer: NodeId; readonly snapshotOk: boolean | undefined };

interface SimNode {
  readonly id: NodeId;
  /** disk is durable: it only ever receives what a Ready handling persisted (and snapshots of applied state). */
  readonly disk: MemoryStorage;
  durableHardState: HardState;
  /** confIndexes lists the ConfChange entries of the durable log, ascending. */
  confIndexes: number[];
  raw: RawNode | undefined;
  incarnation: number;
  state: 'up' | 'down' | 'gone';
  machine: MachineState;
  confState: ConfState;
  role: StateRole;
  term: number;
  statusApplied: number;
  armedCrash: ArmedCrash | undefined;
  /**
   * ackedIndex: the highest log index this incarnation acknowledged to a leader (AppResp),
   * lowered when a newer leader legitimately truncates the log. A crash must find it on disk.
   */
  ackedIndex: number;
  /** answeredReads: ReadIndex answers waiting for the node to apply up to their index. */
  answeredReads: AnsweredRead[];
  /** tickInterval: this incarnation's tick period; clocks of different nodes run at different rates. */
  tickInterval: number;
  /** createdTime: when the node was first started (joiners never admitted are retired after a while). */
  readonly createdTime: number;
}

interface AnsweredRead {
  readonly key: string;
  readonly index: number;
  readonly read: PendingRead;
}

interface PendingRead {
  readonly node: NodeId;
  readonly incarnation: number;
  /** requiredIndex: the highest index of a proposal acknowledged before the read was issued. */
  readonly requiredIndex: number;
  readonly ackedBefore: number;
  readonly issuedTime: number;
}

interface PendingProposal {
  readonly node: NodeId;
  readonly incarnation: number;
  readonly issuedTime: number;
}

interface LivenessState {
  stage: 'leader' | 'read' | 'commit' | 'done';
  readonly healedTime: number;
  readonly deadline: number;
  leader: NodeId;
  readKey: string;
  proposalId: string;
  proposedTime: number;
  ackedIndex: number;
}

const MESSAGE_NAMES = new Map<number, string>(Object.entries(MessageType).map(([name, value]) => [value, name]));
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** runSimulation runs one seed and returns its outcome; it never throws for a broken invariant. */
export function runSimulation(options: SimOptions): SimResult {
  const simulation = new Simulation(options);
  return simulation.run();
}

class Simulation {
  private readonly random: SimRandom;
  private readonly profile: Profile;
  private readonly run_: RunIdentity;
  private readonly history = new History();
  private readonly queue = new EventQueue<SimEvent>(MAX_PENDING_EVENTS);
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly blocked = new Set<string>();
  private readonly pendingReads = new Map<string, PendingRead>();
  private readonly pendingProposals = new Map<string, PendingProposal>();
  private readonly plant: PlantedBug | undefined;
  private readonly traceHash: Hash = createHash('sha256');
  private readonly traceTail: string[] = [];
  private readonly traceAll: string[] | undefined;
  private readonly toRetire = new Set<NodeId>();
  /** memberSince: for each node ever in an applied configuration, the index of the first such configuration. */
  private readonly memberSince = new Map<NodeId, number>();
  private readonly stats: SimStats = {
    steps: 0, ticks: 0, messagesSent: 0, messagesDelivered: 0, messagesDropped: 0, messagesDuplicated: 0,
    crashes: 0, crashesInsideReady: 0, restarts: 0, partitions: 0, leaderTerms: 0, proposals: 0, acknowledged: 0,
    reads: 0, readsServed: 0, confChangesProposed: 0, confChangesApplied: 0, confChangesCommitted: 0, transfers: 0, snapshotsTaken: 0,
    snapshotsInstalled: 0, highestApplied: 0, oldTermCommits: 0, recoveryTicks: 0, recoveryTicksMax: 0,
  };
  private now = 0;
  private step = 0;
  private nextNodeId: NodeId;
  private readonly maxNodeId: NodeId;
  private nextRequestId = 1;
  private partitionGeneration = 0;
  private faultsOn = true;
  private liveness: LivenessState | undefined;

  constructor(private readonly options: SimOptions) {
    this.random = new SimRandom(options.seed);
    this.profile = drawProfile(this.random, options.profile ?? 'swarm');
    this.run_ = {
      seed: options.seed, nodes: options.nodes, mode: options.mode, steps: options.steps, plant: options.plant,
      ruleChecks: options.ruleChecks !== false, profile: options.profile ?? 'swarm',
    };
    this.plant = options.plant;
    this.traceAll = options.keepTrace === true ? [] : undefined;
    this.nextNodeId = options.nodes + 1;
    this.maxNodeId = options.nodes * 4;
  }

  run(): SimResult {
    let violation: InvariantViolation | undefined;
    try {
      this.trace(`profile ${describeProfile(this.profile)}`);
      this.bootstrap();
      this.loop();
    } catch (error) {
      violation = error instanceof InvariantViolation
        ? error
        : new InvariantViolation('core-error', undefined, `simulation threw ${describeError(error)}`, { cause: error });
      violation.locate(this.run_, this.step, replayCommand(this.run_, defaultSteps(this.run_.mode)), [...this.traceTail]);
    }
    this.stats.leaderTerms = this.history.leaderTerms;
    this.stats.acknowledged = this.history.ackedCount;
    this.stats.highestApplied = this.history.highestApplied;
    return {
      run: this.run_,
      violation,
      stats: this.stats,
      traceDigest: this.traceHash.digest('hex'),
      trace: this.traceAll,
      profile: describeProfile(this.profile),
    };
  }

  // ---- the main loop ------------------------------------------------------------------------

  private loop(): void {
    const faultSteps = this.options.steps;
    // Liveness runs get room for the healed phase; its real bound is simulated time (the deadline).
    const maxSteps = this.options.mode === 'liveness' ? faultSteps + 400_000 : faultSteps;
    for (this.step = 0; this.step < maxSteps; this.step++) {
      if (this.options.mode === 'liveness' && this.liveness === undefined && this.step >= faultSteps) this.stopFaults();
      const next = this.queue.pop();
      if (next === undefined) throw new InvariantViolation('liveness', undefined, 'the event queue ran dry');
      this.now = next.time;
      this.stats.steps = this.step + 1;
      this.handle(next.item);
      this.retirePending();
      if (this.liveness !== undefined) {
        if (this.liveness.stage === 'done') return;
        this.checkLivenessDeadline(this.liveness);
      }
    }
    if (this.options.mode === 'liveness') {
      throw new InvariantViolation('liveness', undefined, `no progress within ${maxSteps} steps`);
    }
  }

  private handle(event: SimEvent): void {
    switch (event.kind) {
      case 'tick': return this.onTick(event.node, event.incarnation);
      case 'deliver': return this.onDeliver(event.message);
      case 'driver': return this.onDriver();
      case 'restart': return this.onRestart(event.node, event.incarnation);
      case 'heal': return this.onHeal(event.partition);
      case 'report': return this.onReport(event.node, event.incarnation, event.peer, event.snapshotOk);
    }
  }

  private bootstrap(): void {
    const voters: NodeId[] = [];
    for (let id = 1; id <= this.options.nodes; id++) voters.push(id);
    // Founding members start as etcd-io/raft's Bootstrap leaves them: one committed AddNode
    // entry per founding voter at indexes 1..n of term 1, applied through the first Ready like
    // any other entry. Joiners start empty and learn the configuration from the log or a snapshot.
    const genesis: Entry[] = voters.map((nodeId, i) => ({
      ...confChangeEntry({ transition: 'auto', changes: [{ type: ConfChangeType.AddNode, nodeId }], context: EMPTY_BYTES }),
      term: BOOTSTRAP_TERM,
      index: i + 1,
    }));
    for (const id of voters) {
      const disk = new MemoryStorage();
      disk.append(genesis);
      this.history.afterAppend(id, genesis, disk);
      disk.setHardState({ term: BOOTSTRAP_TERM, vote: NONE, commit: genesis.length });
      this.addNode(id, disk);
    }
    this.queue.push(TICK_TIME, { kind: 'driver' });
  }

  private addNode(id: NodeId, disk: MemoryStorage): SimNode {
    const node: SimNode = {
      id, disk, durableHardState: disk.initialState().hardState, confIndexes: [], raw: undefined, incarnation: 0,
      state: 'down', machine: INITIAL_MACHINE, confState: disk.initialState().confState, role: 'follower', term: 0,
      statusApplied: 0, armedCrash: undefined, ackedIndex: 0, answeredReads: [], tickInterval: TICK_TIME, createdTime: this.now,
    };
    this.nodes.set(id, node);
    this.start(node);
    return node;
  }

  // ---- node lifecycle -----------------------------------------------------------------------

  /** start builds a node's volatile state from its disk: the state machine, then a new RawNode. */
  private start(node: SimNode): void {
    node.incarnation++;
    const snapshot = node.disk.snapshot();
    node.confState = snapshot.metadata.confState;
    node.machine = snapshot.metadata.index === 0 ? INITIAL_MACHINE : decodeMachine(snapshot.data, snapshot.metadata.index);
    this.history.checkSnapshotState(node.id, snapshot.metadata.term, node.machine);
    // Replay part of the durable committed log locally, so that RawNode also restarts with
    // `applied` beyond the snapshot. Stop before a ConfChange: the storage's ConfState is the
    // snapshot's, so the core could not know about a change applied only here.
    const commit = Math.min(node.durableHardState.commit, node.disk.lastIndex());
    const replayTo = node.machine.applied >= commit ? node.machine.applied : this.random.between(node.machine.applied, commit);
    for (let index = node.machine.applied + 1; index <= replayTo; index++) {
      const entry = node.disk.entries(index, index + 1, Number.MAX_SAFE_INTEGER)[0]!;
      if (entry.type === EntryType.ConfChange) break;
      node.machine = this.history.applyEntry(node.id, node.machine, entry);
    }
    const drift = this.profile.maxTickDriftPerMille === 0 ? 0 : this.random.between(-this.profile.maxTickDriftPerMille, this.profile.maxTickDriftPerMille);
    node.raw = this.core(node, 'new RawNode', () => new RawNode({
      id: node.id,
      storage: node.disk,
      random: this.random.fork(),
      electionTicks: this.profile.electionTicks,
      heartbeatTicks: this.profile.heartbeatTicks,
      applied: node.machine.applied,
      maxSizePerMsgBytes: this.profile.maxSizePerMsgBytes,
      maxInflightMsgs: this.profile.maxInflightMsgs,
      maxUncommittedEntriesBytes: this.profile.maxUncommittedEntriesBytes,
      checkQuorum: this.profile.checkQuorum,
      preVote: this.profile.preVote,
      readOnlyOption: 'safe',
    }, createRaftFor(this.plant)));
    node.state = 'up';
    node.role = 'follower';
    node.term = node.durableHardState.term;
    node.statusApplied = node.machine.applied;
    node.armedCrash = undefined;
    node.answeredReads = [];
    this.trace(`start n${node.id} inc=${node.incarnation} snap=${snapshot.metadata.index} applied=${node.machine.applied} ` +
      `hs=${node.durableHardState.term}/${node.durableHardState.vote}/${node.durableHardState.commit} last=${node.disk.lastIndex()}`);
    node.tickInterval = TICK_TIME + Math.trunc((TICK_TIME * drift) / 1000);
    this.queue.push(this.now + this.random.between(1, node.tickInterval), { kind: 'tick', node: node.id, incarnation: node.incarnation });
  }

  /** crash throws away a node's volatile state; the disk keeps only what was persisted. */
  private crash(node: SimNode, where: string): void {
    if (node.state !== 'up') return;
    if (node.ackedIndex > node.disk.lastIndex()) {
      throw new InvariantViolation('durability', node.id,
        `node ${node.id} acknowledged log entries up to index ${node.ackedIndex}, but crashed (${where}) with only ` +
        `${node.disk.lastIndex()} on disk: the leader counted entries that are gone`);
    }
    node.ackedIndex = 0;
    node.raw = undefined;
    node.state = 'down';
    node.armedCrash = undefined;
    node.answeredReads = [];
    this.stats.crashes++;
    this.forgetClientRequests(node.id);
    this.trace(`crash n${node.id} ${where}`);
    if (this.liveness === undefined) {
      const delay = this.random.between(1, this.profile.maxDownTicks) * TICK_TIME;
      this.queue.push(this.now + delay, { kind: 'restart', node: node.id, incarnation: node.incarnation });
    }
  }

  private onRestart(id: NodeId, incarnation: number): void {
    const node = this.nodes.get(id);
    if (node === undefined || node.state !== 'down' || node.incarnation !== incarnation) return;
    this.stats.restarts++;
    this.start(node);
  }

  /** retirePending shuts down, for good, nodes that an applied configuration no longer contains. */
  private retirePending(): void {
    for (const id of this.toRetire) {
      const node = this.nodes.get(id);
      if (node !== undefined && node.state !== 'gone') {
        node.raw = undefined;
        node.state = 'gone';
        this.forgetClientRequests(id);
        this.trace(`retire n${id}`);
      }
    }
    this.toRetire.clear();
  }

  private forgetClientRequests(id: NodeId): void {
    for (const [key, read] of this.pendingReads) if (read.node === id) this.pendingReads.delete(key);
    for (const [key, proposal] of this.pendingProposals) if (proposal.node === id) this.pendingProposals.delete(key);
  }

  // ---- inputs to nodes ----------------------------------------------------------------------

  private onTick(id: NodeId, incarnation: number): void {
    const node = this.nodes.get(id);
    if (node === undefined || node.state !== 'up' || node.incarnation !== incarnation) return;
    this.stats.ticks++;
    const raw = node.raw!;
    this.core(node, 'tick', () => raw.tick());
    this.afterInput(node);
    if (node.state === 'up' && node.incarnation === incarnation) {
      this.queue.push(this.now + node.tickInterval, { kind: 'tick', node: id, incarnation });
    }
  }

  private onDeliver(message: Message): void {
    const to = this.nodes.get(message.to);
    const name = messageName(message);
    if (to === undefined || to.state !== 'up') {
      this.dropped(message, `${name} to ${to === undefined ? 'unknown' : to.state} node`);
      return;
    }
    if (this.blocked.has(linkKey(message.from, message.to))) {
      this.dropped(message, `${name} on a cut link`);
      return;
    }
    this.stats.messagesDelivered++;
    this.trace(`deliver ${name}`);
    const raw = to.raw!;
    this.core(to, `step(${name})`, () => {
      try {
        raw.step(message);
      } catch (error) {
        // A response from a node outside the configuration is refused by name; the caller drops it.
        if (!(error instanceof PeerNotFoundError)) throw error;
        this.trace(`step refused: ${error.message}`);
      }
    });
    this.afterInput(to);
    if (message.type === MessageType.Snap) this.scheduleReport(message, true);
  }

  private dropped(message: Message, why: string): void {
    this.stats.messagesDropped++;
    this.trace(`drop ${why}`);
    if (message.type === MessageType.Snap) {
      this.scheduleReport(message, false);
    } else if (this.random.chance(this.profile.unreachableReportPpm)) {
      this.scheduleReport(message, undefined);
    }
  }

  /**
   * scheduleReport tells the sender's node, as a separate event (never re-entering a Ready
   * handling), that a snapshot was sent or not, or that a peer was unreachable.
   */
  private scheduleReport(message: Message, snapshotOk: boolean | undefined): void {
    const sender = this.nodes.get(message.from);
    if (sender === undefined || sender.state !== 'up') return;
    this.queue.push(this.now + 1, { kind: 'report', node: sender.id, incarnation: sender.incarnation, peer: message.to, snapshotOk });
  }

  private onReport(id: NodeId, incarnation: number, peer: NodeId, snapshotOk: boolean | undefined): void {
    const node = this.nodes.get(id);
    if (node === undefined || node.state !== 'up' || node.incarnation !== incarnation) return;
    const raw = node.raw!;
    if (snapshotOk === undefined) {
      this.trace(`report n${id}: n${peer} unreachable`);
      this.core(node, 'reportUnreachable', () => raw.reportUnreachable(peer));
    } else {
      this.trace(`report n${id}: snapshot to n${peer} ${snapshotOk ? 'sent' : 'failed'}`);
      this.core(node, 'reportSnapshot', () => raw.reportSnapshot(peer, snapshotOk));
    }
    this.afterInput(node);
  }

  /** afterInput handles the node's Ready output, then checks what its status shows. */
  private afterInput(node: SimNode): void {
    this.handleReady(node);
    if (node.state !== 'up') return;
    const status = this.core(node, 'status', () => node.raw!.status());
    const wasLeader = node.role === 'leader';
    node.role = status.softState.role;
    node.term = status.hardState.term;
    if (node.role === 'leader') {
      this.history.observeLeader(node.id, node.term);
      if (!wasLeader) this.maybeArmNewLeaderCrash(node);
    }
    if (status.applied < node.statusApplied) {
      throw new InvariantViolation('applied-regressed', node.id,
        `node ${node.id} reports applied ${status.applied} after ${node.statusApplied} without a restart`);
    }
    if (status.applied !== node.machine.applied) {
      throw new InvariantViolation('state-machine-safety', node.id,
        `node ${node.id}: the core says applied ${status.applied}, but the application applied ${node.machine.applied}`);
    }
    node.statusApplied = status.applied;
  }

  // ---- the Ready loop: persist, send, apply, advance ----------------------------------------

  private handleReady(node: SimNode): void {
    for (let round = 0; round < MAX_READY_ROUNDS; round++) {
      if (node.state !== 'up') return;
      const raw = node.raw!;
      if (!this.core(node, 'hasReady', () => raw.hasReady())) return;
      const ready = this.core(node, 'ready', () => raw.ready());
      // Messages sent before persistence: only the planted ack-before-persist sends any.
      const { early, late } = earlyMessages(ready, this.plant);
      for (const message of early) this.sendFrom(node.id, message);
      const meets = (when: ArmedCrash['when']): boolean => when === 'any'
        || (when === 'entries' && ready.entries.length > 0)
        || (when === 'commit' && ready.hardState !== undefined && ready.hardState.commit > node.durableHardState.commit);
      if (this.crashPoint(node, 'before-persist', meets)) return;
      const committing = meets('commit');
      this.persist(node, ready);
      const met = (when: ArmedCrash['when']): boolean => (when === 'commit' ? committing : meets(when));
      if (this.crashPoint(node, 'before-send', met)) return;
      for (const message of late) this.sendFrom(node.id, message);
      if (this.crashPoint(node, 'before-apply', met)) return;
      this.apply(node, ready);
      if (this.crashPoint(node, 'before-advance', met)) return;
      this.core(node, 'advance', () => raw.advance());
    }
    throw new InvariantViolation('core-error', node.id, `node ${node.id} still has a Ready after ${MAX_READY_ROUNDS} rounds`);
  }

  private crashPoint(node: SimNode, point: CrashPoint, meets: (when: ArmedCrash['when']) => boolean): boolean {
    const armed = node.armedCrash;
    if (armed === undefined || armed.point !== point || !meets(armed.when)) return false;
    this.stats.crashesInsideReady++;
    this.crash(node, `inside Ready ${point}`);
    return true;
  }

  /** persist is step 1: snapshot, entries and HardState reach the disk, with the durable-log checks. */
  private persist(node: SimNode, ready: Ready): void {
    const disk = node.disk;
    if (ready.snapshot !== undefined && ready.snapshot.metadata.index > 0) {
      const { index, term } = ready.snapshot.metadata;
      this.history.beforeSnapshotInstall(node.id, index, term, disk);
      disk.applySnapshot(ready.snapshot);
      node.ackedIndex = Math.min(node.ackedIndex, index);
      node.confIndexes = [];
      this.stats.snapshotsInstalled++;
      this.trace(`persist n${node.id} snapshot ${index}/${term}`);
    }
    if (ready.entries.length > 0) {
      const role = ready.softState?.role ?? node.role;
      if (role === 'leader') {
        this.checkLeaderAppendOnly(node, ready.entries);
        this.checkSinglePendingConfChange(node, ready.entries, ready.hardState?.term ?? node.term);
      }
      this.history.beforeAppend(node.id, ready.entries, disk);
      disk.append(ready.entries);
      this.history.afterAppend(node.id, ready.entries, disk);
      // A conflicting append legitimately drops acknowledged but uncommitted entries beyond it.
      node.ackedIndex = Math.min(node.ackedIndex, disk.lastIndex());
      const first = ready.entries[0]!.index;
      node.confIndexes = node.confIndexes.filter((index) => index < first);
      for (const entry of ready.entries) if (entry.type === EntryType.ConfChange) node.confIndexes.push(entry.index);
      this.trace(`persist n${node.id} entries ${first}..${ready.entries[ready.entries.length - 1]!.index} ` +
        `terms ${ready.entries.map((entry) => entry.term).join(',')}`);
    }
    if (ready.hardState !== undefined) {
      this.history.checkHardState(node.id, node.durableHardState, ready.hardState);
      this.checkLeaderCommitRule(node, ready);
      disk.setHardState(ready.hardState);
      node.durableHardState = ready.hardState;
      this.trace(`persist n${node.id} hs ${ready.hardState.term}/${ready.hardState.vote}/${ready.hardState.commit}`);
    }
  }

  /** checkLeaderAppendOnly: a leader never overwrites or deletes entries of its own log (paper Figure 3). */
  private checkLeaderAppendOnly(node: SimNode, entries: readonly Entry[]): void {
    const first = entries[0]!.index;
    const last = node.disk.lastIndex();
    if (first > last || this.options.ruleChecks === false) return;
    throw new InvariantViolation('leader-append-only', node.id,
      `leader ${node.id} writes entries from index ${first} over its own log, which ends at ${last}`);
  }

  /**
   * checkLeaderCommitRule: a leader moves its commit index only to an entry of its own term,
   * by counting replicas (paper §5.4.2); older entries commit indirectly. Runs after the
   * Ready's entries are on disk, before its HardState is.
   */
  private checkLeaderCommitRule(node: SimNode, ready: Ready): void {
    const hardState = ready.hardState!;
    const disk = node.disk;
    if ((ready.softState?.role ?? node.role) !== 'leader' || hardState.commit <= node.durableHardState.commit) return;
    if (hardState.commit < disk.firstIndex() || hardState.commit > disk.lastIndex()) return;
    const term = disk.term(hardState.commit);
    if (term >= hardState.term) return;
    this.stats.oldTermCommits++;
    this.trace(`leader n${node.id} of term ${hardState.term} commits ${hardState.commit} of term ${term}`);
    if (this.options.ruleChecks === false) return;
    throw new InvariantViolation('leader-commit-rule', node.id,
      `leader ${node.id} of term ${hardState.term} moves its commit index to ${hardState.commit}, an entry of older term ${term}`);
  }

  /**
   * checkSinglePendingConfChange: a leader appends a ConfChange only once every earlier ConfChange
   * in its log is applied (etcd's pendingConfIndex rule; thesis 4.1 with apply-time configurations).
   */
  private checkSinglePendingConfChange(node: SimNode, entries: readonly Entry[], term: number): void {
    let previous = node.confIndexes.filter((index) => index < entries[0]!.index).at(-1) ?? 0;
    for (const entry of entries) {
      if (entry.type !== EntryType.ConfChange) continue;
      if (entry.term === term && previous > node.machine.applied && this.options.ruleChecks !== false) {
        throw new InvariantViolation('single-pending-conf-change', node.id,
          `leader ${node.id} (term ${term}) appends a membership change at index ${entry.index} while the one at ` +
          `index ${previous} is not applied (applied ${node.machine.applied})`);
      }
      previous = entry.index;
    }
  }

  /** apply is step 3: restore a snapshot, apply committed entries, take ReadIndex answers, snapshot and compact. */
  private apply(node: SimNode, ready: Ready): void {
    if (ready.snapshot !== undefined && ready.snapshot.metadata.index > 0) {
      const snapshot = ready.snapshot;
      node.machine = this.history.restoreSnapshot(node.id, node.machine, snapshot.metadata.term,
        decodeMachine(snapshot.data, snapshot.metadata.index));
      node.confState = snapshot.metadata.confState;
      this.noteConfiguration(node.confState, snapshot.metadata.index);
    }
    for (const entry of ready.committedEntries) this.applyEntry(node, entry);
    for (const readState of ready.readStates) this.onReadState(node, readState.index, decoder.decode(readState.requestContext));
    this.serveReads(node);
    // The founding AddNode entries do not count: joiners may replay the log from index 1.
    this.maybeSnapshot(node, ready.committedEntries.some((entry) => entry.type === EntryType.ConfChange && entry.index > this.options.nodes));
  }

  private applyEntry(node: SimNode, entry: Entry): void {
    this.checkAppliedIsDurable(node, entry);
    const firstToApply = entry.index > this.history.highestApplied;
    node.machine = this.history.applyEntry(node.id, node.machine, entry);
    if (entry.type === EntryType.ConfChange) {
      if (firstToApply && entry.index > this.options.nodes) this.stats.confChangesCommitted++;
      const change = decodeConfChange(entry.data);
      const raw = node.raw!;
      node.confState = this.core(node, 'applyConfChange', () => raw.applyConfChange(change));
      this.stats.confChangesApplied++;
      this.trace(`apply n${node.id} conf ${entry.index} -> ${describeConfState(node.confState)}`);
      this.noteConfiguration(node.confState, entry.index);
      return;
    }
    if (entry.data.byteLength === 0) return;
    const key = decoder.decode(entry.data);
    const proposal = this.pendingProposals.get(key);
    if (proposal !== undefined && proposal.node === node.id && proposal.incarnation === node.incarnation) {
      this.pendingProposals.delete(key);
      this.history.ack(entry.index);
      this.trace(`ack ${key} at ${entry.index} by n${node.id}`);
      if (this.liveness !== undefined && this.liveness.proposalId === key) this.liveness.ackedIndex = entry.index;
    }
  }

  /**
   * checkAppliedIsDurable: an entry handed out for applying is in the node's own durable log
   * (step 1 of this or an earlier Ready persisted it), with the same term — unless compacted.
   */
  private checkAppliedIsDurable(node: SimNode, entry: Entry): void {
    const disk = node.disk;
    if (entry.index < disk.firstIndex()) return;
    if (entry.index > disk.lastIndex() || disk.term(entry.index) !== entry.term) {
      const held = entry.index > disk.lastIndex() ? `its durable log ends at ${disk.lastIndex()}` : `its durable log has term ${disk.term(entry.index)}`;
      throw new InvariantViolation('state-machine-safety', node.id,
        `node ${node.id} is handed entry ${entry.index} (term ${entry.term}) to apply, but ${held}`);
    }
  }

  /**
   * noteConfiguration records the configuration applied at `index`. A node that was a member of
   * an earlier configuration and is not in this one has been removed: it is shut down for good,
   * as an operator would (ids are never reused, so it cannot come back).
   */
  private noteConfiguration(confState: ConfState, index: number): void {
    const members = new Set([...confState.voters, ...confState.learners, ...confState.votersOutgoing, ...confState.learnersNext]);
    for (const id of members) {
      const since = this.memberSince.get(id);
      if (since === undefined || since > index) this.memberSince.set(id, index);
    }
    for (const node of this.nodes.values()) {
      const since = this.memberSince.get(node.id);
      if (node.state !== 'gone' && since !== undefined && since < index && !members.has(node.id)) this.toRetire.add(node.id);
    }
  }

  /**
   * maybeSnapshot snapshots the applied state every snapshotEveryEntries entries, and at once
   * after a membership change: a joiner refuses a snapshot whose configuration does not contain
   * it (etcd does the same), so the leader's latest snapshot must postdate the change that added
   * it once the log before it is compacted (found by liveness seed 402).
   */
  private maybeSnapshot(node: SimNode, membershipChanged: boolean): void {
    const disk = node.disk;
    const applied = node.machine.applied;
    const since = applied - disk.snapshot().metadata.index;
    if (since <= 0 || (since < this.profile.snapshotEveryEntries && !membershipChanged)) return;
    disk.createSnapshot(applied, node.confState, encodeMachine(node.machine));
    const compactIndex = applied - this.profile.snapshotKeepEntries;
    if (compactIndex >= disk.firstIndex()) disk.compact(compactIndex);
    this.stats.snapshotsTaken++;
    this.trace(`snapshot n${node.id} at ${applied} first=${disk.firstIndex()}`);
  }

  // ---- the network --------------------------------------------------------------------------

  /**
   * sendFrom sends a message a node's core emitted. A node speaks only for itself: the real transport
   * refuses (and the node stops on) a message whose `from` is another node, so here it is a violation.
   */
  private sendFrom(id: NodeId, message: Message): void {
    if (message.from !== id) throw new InvariantViolation('core-error', id, `node ${id} emitted ${message.type} to ${message.to} with from ${message.from}`);
    this.send(message);
  }

  private send(message: Message): void {
    this.stats.messagesSent++;
    if (message.type === MessageType.AppResp && !message.reject) {
      const sender = this.nodes.get(message.from);
      if (sender !== undefined) sender.ackedIndex = Math.max(sender.ackedIndex, message.index);
    }
    const name = messageName(message);
    if (this.faultsOn && this.random.chance(this.profile.dropPpm)) {
      this.dropped(message, `${name} lost`);
      return;
    }
    this.queue.push(this.now + this.deliveryDelay(), { kind: 'deliver', message });
    if (this.faultsOn && this.random.chance(this.profile.duplicatePpm)) {
      this.stats.messagesDuplicated++;
      this.queue.push(this.now + this.deliveryDelay(), { kind: 'deliver', message });
    }
  }

  /** deliveryDelay: usually a fraction of a tick; sometimes several ticks (reordering follows). */
  private deliveryDelay(): number {
    if (this.faultsOn && this.random.chance(this.profile.longDelayPpm)) return this.random.between(TICK_TIME, 8 * TICK_TIME);
    return this.random.between(TICK_TIME / 50, TICK_TIME / 2);
  }

  // ---- the driver: faults and client workload -----------------------------------------------

  private onDriver(): void {
    this.queue.push(this.now + TICK_TIME, { kind: 'driver' });
    if (this.liveness !== undefined) {
      this.driveLiveness(this.liveness);
      return;
    }
    this.retireStrandedJoiners();
    this.expireClientRequests();
    const profile = this.profile;
    if (this.random.chance(profile.crashPpm)) this.injectCrash();
    if (this.random.chance(profile.partitionPpm)) this.injectPartition();
    for (let i = 0; i < 3 && this.random.chance(profile.proposePpm); i++) this.propose();
    if (this.random.chance(profile.readPpm)) this.read();
    if (this.random.chance(profile.confChangePpm)) this.changeMembership();
    if (this.random.chance(profile.transferPpm)) this.transfer();
  }

  /**
   * expireClientRequests: a client gives up on a proposal or read after CLIENT_TIMEOUT_TICKS
   * (a forwarded proposal may be dropped silently); a late answer is then ignored.
   */
  private expireClientRequests(): void {
    if (Math.round(this.now / TICK_TIME) % 16 !== 0) return;
    const oldest = this.now - CLIENT_TIMEOUT_TICKS * TICK_TIME;
    for (const [key, proposal] of this.pendingProposals) if (proposal.issuedTime < oldest) this.pendingProposals.delete(key);
    for (const [key, read] of this.pendingReads) if (read.issuedTime < oldest) this.pendingReads.delete(key);
  }

  /** retireStrandedJoiners shuts down joiners whose AddLearner never took effect (its entry was lost). */
  private retireStrandedJoiners(): void {
    for (const node of this.nodes.values()) {
      if (node.state !== 'gone' && !this.memberSince.has(node.id) && this.now - node.createdTime > STRANDED_JOINER_TICKS * TICK_TIME) {
        this.toRetire.add(node.id);
      }
    }
  }

  private upNodes(): SimNode[] {
    return [...this.nodes.values()].filter((node) => node.state === 'up');
  }

  /** leader returns the up node that believes it leads the highest term, if any. */
  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const node of this.nodes.values()) {
      if (node.state === 'up' && node.role === 'leader' && (best === undefined || node.term > best.term)) best = node;
    }
    return best;
  }

  /**
   * maybeArmNewLeaderCrash: a new leader sometimes dies right after its first step — having
   * appended entries it never sent, or having just committed. Together these build Figure 8 of
   * the Raft paper: divergent uncommitted suffixes of different terms, then a leader that
   * commits and vanishes before its own term's entry reaches the majority.
   */
  private maybeArmNewLeaderCrash(node: SimNode): void {
    if (!this.faultsOn || node.armedCrash !== undefined || !this.random.chance(this.profile.newLeaderCrashPpm)) return;
    node.armedCrash = this.random.chance(500_000)
      ? { point: 'before-send', when: 'entries' }
      : { point: this.random.pick(['before-send', 'before-advance'] as const), when: 'commit' };
    this.trace(`arm crash of new leader n${node.id} ${node.armedCrash.point} on ${node.armedCrash.when}`);
  }

  private injectCrash(): void {
    const up = this.upNodes();
    if (up.length === 0) return;
    const leader = this.leader();
    const target = leader !== undefined && this.random.chance(this.profile.leaderCrashPpm) ? leader : this.random.pick(up);
    if (this.random.chance(this.profile.readyCrashPpm)) {
      target.armedCrash = this.profile.crashArming === 'figure8'
        ? { point: 'before-send', when: 'entries' }
        : { point: this.random.pick(CRASH_POINTS), when: this.random.pick(CRASH_CONDITIONS) };
      this.trace(`arm crash n${target.id} ${target.armedCrash.point} on ${target.armedCrash.when}`);
    } else {
      this.crash(target, 'between steps');
    }
  }

  private injectPartition(): void {
    const ids = [...this.nodes.values()].filter((node) => node.state !== 'gone').map((node) => node.id);
    if (ids.length < 2) return;
    this.blocked.clear();
    const kind = this.random.nextInt(3);
    if (kind === 0) {
      // Symmetric split into two sides.
      const side = new Set(this.random.shuffle(ids).slice(0, this.random.between(1, ids.length - 1)));
      for (const a of ids) for (const b of ids) if (side.has(a) !== side.has(b)) this.blocked.add(linkKey(a, b));
      this.trace(`partition split {${[...side].sort((x, y) => x - y).join(',')}}`);
    } else if (kind === 1) {
      // Isolate one node completely.
      const lone = this.random.pick(ids);
      for (const other of ids) if (other !== lone) { this.blocked.add(linkKey(lone, other)); this.blocked.add(linkKey(other, lone)); }
      this.trace(`partition isolate n${lone}`);
    } else {
      // One-way cuts: messages flow one direction only on a few links.
      const cuts = this.random.between(1, ids.length);
      const names: string[] = [];
      for (let i = 0; i < cuts; i++) {
        const [from, to] = this.random.shuffle(ids);
        this.blocked.add(linkKey(from!, to!));
        names.push(`${from}->${to}`);
      }
      this.trace(`partition one-way ${names.join(' ')}`);
    }
    this.stats.partitions++;
    this.partitionGeneration++;
    const duration = this.random.between(1, this.profile.maxPartitionTicks) * TICK_TIME;
    this.queue.push(this.now + duration, { kind: 'heal', partition: this.partitionGeneration });
  }

  private onHeal(partition: number): void {
    if (partition !== this.partitionGeneration || this.blocked.size === 0) return;
    this.blocked.clear();
    this.trace('partition healed');
  }

  private propose(): void {
    if (this.pendingProposals.size >= MAX_PENDING_CLIENT_REQUESTS) return;
    const leader = this.leader();
    const up = this.upNodes();
    if (up.length === 0) return;
    const node = leader !== undefined && this.random.chance(700_000) ? leader : this.random.pick(up);
    // Sometimes a batch (group commit: one append, one replication round for all of them).
    const count = this.random.chance(this.profile.batchPpm) ? this.random.between(2, MAX_BATCH_PROPOSALS) : 1;
    const keys: string[] = [];
    for (let i = 0; i < count; i++) keys.push(`p${this.nextRequestId++}`);
    this.stats.proposals += count;
    this.proposeOn(node, keys);
  }

  /** proposeOn proposes one entry per key on `node` (a batch when several); all are tracked for acknowledgement. */
  private proposeOn(node: SimNode, keys: readonly string[]): boolean {
    const raw = node.raw!;
    const data = keys.map((key) => encoder.encode(key));
    const accepted = keys.length === 1
      ? this.refusable(node, `propose ${keys[0]}`, () => raw.propose(data[0]!))
      : this.refusable(node, `proposeBatch ${keys.join(',')}`, () => raw.proposeBatch(data));
    if (accepted) {
      for (const key of keys) this.pendingProposals.set(key, { node: node.id, incarnation: node.incarnation, issuedTime: this.now });
    }
    this.afterInput(node);
    return accepted;
  }

  private read(): void {
    if (this.pendingReads.size >= MAX_PENDING_CLIENT_REQUESTS) return;
    const up = this.upNodes();
    if (up.length === 0) return;
    this.stats.reads++;
    this.readOn(this.random.pick(up), `r${this.nextRequestId++}`);
  }

  private readOn(node: SimNode, key: string): void {
    this.pendingReads.set(key, {
      node: node.id, incarnation: node.incarnation, requiredIndex: this.history.maxAckedIndex,
      ackedBefore: this.history.ackedCount, issuedTime: this.now,
    });
    if (this.options.unsafeLocalReads === true) {
      this.onReadState(node, node.machine.applied, key);
      this.serveReads(node);
      return;
    }
    const raw = node.raw!;
    if (!this.refusable(node, `readIndex ${key}`, () => raw.readIndex(encoder.encode(key)))) this.pendingReads.delete(key);
    this.afterInput(node);
  }

  /** onReadState: a ReadIndex answer must be at least the index of every write acknowledged before the read began. */
  private onReadState(node: SimNode, index: number, key: string): void {
    const read = this.pendingReads.get(key);
    if (read === undefined || read.node !== node.id || read.incarnation !== node.incarnation) return;
    this.pendingReads.delete(key);
    if (index < read.requiredIndex) {
      throw new InvariantViolation('read-linearizability', node.id,
        `read ${key} on node ${node.id} got read index ${index}, but a write acknowledged before the read began is at index ${read.requiredIndex}`);
    }
    node.answeredReads.push({ key, index, read });
  }

  /** serveReads answers reads whose index is applied: the value read must contain every write acknowledged before. */
  private serveReads(node: SimNode): void {
    if (node.answeredReads.length === 0) return;
    const waiting: AnsweredRead[] = [];
    for (const answered of node.answeredReads) {
      if (answered.index > node.machine.applied) {
        waiting.push(answered);
        continue;
      }
      const read = answered.read;
      const writes = node.machine.writes;
      if (writes < read.ackedBefore || writes !== this.history.committedWritesAt(node.machine.applied)) {
        throw new InvariantViolation('read-linearizability', node.id,
          `read ${answered.key} on node ${node.id} (index ${answered.index}, served at applied ${node.machine.applied}) saw ${writes} writes; ` +
          `${read.ackedBefore} were acknowledged before it began and the history has ${this.history.committedWritesAt(node.machine.applied)} there`);
      }
      this.stats.readsServed++;
      this.trace(`read ${answered.key} on n${node.id} index ${answered.index} writes ${writes}`);
      if (this.liveness !== undefined && this.liveness.readKey === answered.key) this.liveness.readKey = '';
    }
    node.answeredReads = waiting;
  }

  private transfer(): void {
    const leader = this.leader();
    if (leader === undefined) return;
    const candidates = leader.confState.voters.filter((id) => id !== leader.id && this.nodes.get(id)?.state === 'up');
    if (candidates.length === 0) return;
    const target = this.random.pick(candidates);
    // Sometimes ask a follower, which forwards the request to its leader.
    const asked = this.random.chance(300_000) ? (this.nodes.get(target) ?? leader) : leader;
    this.stats.transfers++;
    const raw = asked.raw!;
    this.refusable(asked, `transferLeadership to ${target} via n${asked.id}`, () => raw.transferLeadership(target));
    this.afterInput(asked);
  }

  /**
   * changeMembership proposes a valid change on the leader, validated against the leader's
   * applied configuration (which a correct core keeps equal to the one the change will meet:
   * it refuses a change while an earlier one is unapplied). Sometimes a second change follows at
   * once, valid only after the first: a correct core refuses it.
   */
  private changeMembership(): void {
    const leader = this.leader();
    if (leader === undefined) return;
    const change = this.pickConfChange(leader.confState);
    if (change === undefined) return;
    if (!this.proposeConfChangeOn(leader, change)) return;
    if (!this.random.chance(this.profile.backToBackPpm) || leader.state !== 'up') return;
    const second = this.followUpConfChange(change);
    if (second !== undefined) this.proposeConfChangeOn(leader, second);
  }

  private proposeConfChangeOn(node: SimNode, change: ConfChange): boolean {
    this.stats.confChangesProposed++;
    const what = `proposeConfChange ${change.transition} [${change.changes.map(describeSingle).join(' ')}]`;
    const raw = node.raw!;
    const accepted = this.refusable(node, what, () => raw.proposeConfChange(change));
    const single = change.changes[0];
    if (!accepted && change.changes.length === 1 && single!.type === ConfChangeType.AddLearner && !this.memberSince.has(single!.nodeId)) {
      this.toRetire.add(single!.nodeId);
    }
    this.afterInput(node);
    return accepted;
  }

  private pickConfChange(confState: ConfState): ConfChange | undefined {
    const context = encoder.encode(`c${this.nextRequestId++}`);
    if (confState.votersOutgoing.length > 0) {
      return confState.autoLeave ? undefined : { transition: 'auto', changes: [], context };
    }
    const voters = confState.voters;
    // Only learners that still run can be promoted (a retired stranded joiner may linger as a learner).
    const learners = confState.learners.filter((id) => this.nodes.get(id)?.state !== 'gone');
    const transition = this.random.pick(['auto', 'implicit', 'explicit'] as const);
    const choice = this.random.nextInt(5);
    if (choice === 0 || (learners.length === 0 && choice !== 3)) {
      const id = this.newJoiner();
      return id === undefined ? undefined : { transition: 'auto', changes: [{ type: ConfChangeType.AddLearner, nodeId: id }], context };
    }
    if (choice === 1 && learners.length > 0) {
      return { transition, changes: [{ type: ConfChangeType.AddNode, nodeId: this.random.pick(learners) }], context };
    }
    if (choice === 2 && learners.length > 0) {
      return { transition: 'auto', changes: [{ type: ConfChangeType.RemoveNode, nodeId: this.random.pick(learners) }], context };
    }
    if (choice === 3 && voters.length > 3) {
      return { transition, changes: [{ type: ConfChangeType.RemoveNode, nodeId: this.random.pick(voters) }], context };
    }
    if (choice === 4 && learners.length > 0 && voters.length >= 3) {
      // Replace a voter by a learner in one joint step.
      return {
        transition: this.random.pick(['implicit', 'explicit'] as const),
        changes: [{ type: ConfChangeType.AddNode, nodeId: this.random.pick(learners) }, { type: ConfChangeType.RemoveNode, nodeId: this.random.pick(voters) }],
        context,
      };
    }
    return undefined;
  }

  private followUpConfChange(first: ConfChange): ConfChange | undefined {
    const context = encoder.encode(`c${this.nextRequestId++}`);
    const enteredJoint = first.changes.length > 1 || (first.transition !== 'auto' && first.changes.length > 0);
    if (enteredJoint) return first.transition === 'explicit' ? { transition: 'auto', changes: [], context } : undefined;
    const id = this.newJoiner();
    return id === undefined ? undefined : { transition: 'auto', changes: [{ type: ConfChangeType.AddLearner, nodeId: id }], context };
  }

  /** newJoiner starts an empty node with a fresh id (ids are never reused), or returns undefined at the bound. */
  private newJoiner(): NodeId | undefined {
    const present = [...this.nodes.values()].filter((node) => node.state !== 'gone').length;
    if (present >= this.options.nodes + EXTRA_NODES || this.nextNodeId > this.maxNodeId) return undefined;
    const id = this.nextNodeId++;
    this.trace(`join n${id}`);
    this.addNode(id, new MemoryStorage());
    return id;
  }

  // ---- liveness -----------------------------------------------------------------------------

  /**
   * stopFaults ends the fault phase: sometimes a last crash of the leader, then every node is
   * restarted, every link healed, and messages are no longer lost, duplicated or held back.
   */
  private stopFaults(): void {
    const leader = this.leader();
    if (leader !== undefined && this.random.chance(500_000)) this.crash(leader, 'as the last fault');
    this.faultsOn = false;
    this.blocked.clear();
    for (const node of this.nodes.values()) node.armedCrash = undefined;
    this.partitionGeneration++;
    const bound = LIVENESS_BOUND_ELECTION_TIMEOUTS * 2 * this.profile.electionTicks * TICK_TIME;
    this.liveness = { stage: 'leader', healedTime: this.now, deadline: this.now + bound, leader: 0, readKey: '', proposalId: '', proposedTime: 0, ackedIndex: 0 };
    for (const node of this.nodes.values()) {
      if (node.state === 'down') {
        this.stats.restarts++;
        this.start(node);
      }
    }
    this.trace(`faults stopped; deadline t=${this.liveness.deadline}`);
  }

  private driveLiveness(live: LivenessState): void {
    const leader = this.leader();
    if (leader === undefined || leader.id !== live.leader) {
      // A new leader: start over from the first stage with it.
      live.stage = 'leader';
      live.leader = leader?.id ?? 0;
      live.readKey = '';
      live.proposalId = '';
      live.ackedIndex = 0;
      if (leader === undefined) return;
    }
    const raw = leader.raw!;
    if (live.stage === 'leader') {
      const status = raw.status();
      if (status.hardState.commit < leader.disk.lastIndex()) return;
      live.stage = 'read';
      live.readKey = `r${this.nextRequestId++}`;
      this.readOn(leader, live.readKey);
      return;
    }
    if (live.stage === 'read') {
      if (live.readKey !== '') {
        const answered = leader.answeredReads.some((answer) => answer.key === live.readKey);
        if (!this.pendingReads.has(live.readKey) && !answered) {
          live.readKey = `r${this.nextRequestId++}`;
          this.readOn(leader, live.readKey);
        }
        return;
      }
      live.stage = 'commit';
      live.proposalId = '';
    }
    if (live.ackedIndex === 0) {
      const retryTime = 2 * this.profile.electionTicks * TICK_TIME;
      if (live.proposalId === '' || !this.pendingProposals.has(live.proposalId) || this.now - live.proposedTime > retryTime) {
        live.proposalId = `p${this.nextRequestId++}`;
        live.proposedTime = this.now;
        this.stats.proposals++;
        this.proposeOn(leader, [live.proposalId]);
      }
      return;
    }
    const members = new Set([...leader.confState.voters, ...leader.confState.learners, ...leader.confState.votersOutgoing]);
    for (const id of members) {
      const node = this.nodes.get(id);
      if (node !== undefined && node.state === 'up' && node.machine.applied < live.ackedIndex) return;
    }
    live.stage = 'done';
    this.stats.recoveryTicks = Math.ceil((this.now - live.healedTime) / TICK_TIME);
    this.stats.recoveryTicksMax = this.stats.recoveryTicks;
    this.trace(`liveness ok: leader n${leader.id} term ${leader.term}, proposal applied at ${live.ackedIndex} on all members`);
  }

  private checkLivenessDeadline(live: LivenessState): void {
    if (this.now <= live.deadline) return;
    const nodes = [...this.nodes.values()].map((node) => {
      if (node.state !== 'up') return `n${node.id} ${node.state}`;
      const status = node.raw!.status();
      return `n${node.id} ${status.softState.role} term ${status.hardState.term} commit ${status.hardState.commit} ` +
        `last ${node.disk.lastIndex()} applied ${status.applied} conf ${describeConfState(status.confState)}`;
    });
    const stage = live.stage === 'leader' ? 'no leader with its whole log committed'
      : live.stage === 'read' ? 'no ReadIndex read answered by the leader' : 'no new proposal applied on every member';
    throw new InvariantViolation('liveness', live.leader === 0 ? undefined : live.leader,
      `${stage} within ${LIVENESS_BOUND_ELECTION_TIMEOUTS} election timeouts ` +
      `(${LIVENESS_BOUND_ELECTION_TIMEOUTS * 2 * this.profile.electionTicks} ticks) after faults stopped; ${nodes.join('; ')}`);
  }

  // ---- calling the core ---------------------------------------------------------------------

  /** core calls the core where any throw is a defect: assertion failures and TypeErrors become core-error. */
  private core<T>(node: SimNode, what: string, call: () => T): T {
    try {
      return call();
    } catch (error) {
      if (error instanceof InvariantViolation) throw error;
      throw new InvariantViolation('core-error', node.id, `node ${node.id}: ${what} threw ${describeError(error)}`, { cause: error });
    }
  }

  /** refusable calls the core where a named refusal (RaftError) is an expected outcome; returns whether it was accepted. */
  private refusable(node: SimNode, what: string, call: () => void): boolean {
    try {
      call();
      this.trace(`${what} on n${node.id}: ok`);
      return true;
    } catch (error) {
      if (error instanceof RaftError && !(error instanceof AssertionError)) {
        const reason = error instanceof ProposalDroppedError ? error.reason : error.code;
        this.trace(`${what} on n${node.id}: refused ${reason}`);
        return false;
      }
      throw new InvariantViolation('core-error', node.id, `node ${node.id}: ${what} threw ${describeError(error)}`, { cause: error });
    }
  }

  private trace(text: string): void {
    const line = `${this.step} t${this.now} ${text}`;
    this.traceHash.update(line);
    this.traceHash.update('\n');
    this.traceAll?.push(line);
    if (this.traceTail.length >= TRACE_TAIL_LINES) this.traceTail.shift();
    this.traceTail.push(line);
  }
}

function defaultSteps(mode: RunMode): number {
  return mode === 'liveness' ? DEFAULT_LIVENESS_FAULT_STEPS : DEFAULT_SAFETY_STEPS;
}

/** DEFAULT_LIVENESS_FAULT_STEPS is the default length of a liveness run's fault phase, in steps. */
export const DEFAULT_LIVENESS_FAULT_STEPS = 3000;

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}

function messageName(message: Message): string {
  const type = MESSAGE_NAMES.get(message.type) ?? `type${message.type}`;
  let text = `${type} ${message.from}->${message.to} t${message.term}`;
  if (message.type === MessageType.App || message.type === MessageType.AppResp) {
    text += ` i${message.index}/${message.logTerm} n${message.entries.length} c${message.commit}${message.reject ? ` reject hint ${message.rejectHint}` : ''}`;
  } else if (message.type === MessageType.Vote || message.type === MessageType.PreVote) {
    text += ` last ${message.index}/${message.logTerm}`;
  } else if (message.reject) {
    text += ' reject';
  }
  if (message.snapshot !== undefined) text += ` snap ${message.snapshot.metadata.index}/${message.snapshot.metadata.term}`;
  return text;
}

function describeSingle(single: ConfChangeSingle): string {
  const name = single.type === ConfChangeType.AddNode ? 'add' : single.type === ConfChangeType.AddLearner ? 'learner' : 'remove';
  return `${name}${single.nodeId}`;
}

function describeConfState(confState: ConfState): string {
  const ids = (list: readonly NodeId[]): string => [...list].sort((a, b) => a - b).join(',');
  let text = `v{${ids(confState.voters)}}`;
  if (confState.votersOutgoing.length > 0) text += ` out{${ids(confState.votersOutgoing)}}${confState.autoLeave ? ' auto' : ''}`;
  if (confState.learners.length > 0) text += ` l{${ids(confState.learners)}}`;
  if (confState.learnersNext.length > 0) text += ` next{${ids(confState.learnersNext)}}`;
  return text;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** encodeMachine is the snapshot data of the simulated state machine. */
function encodeMachine(machine: MachineState): Uint8Array {
  return encoder.encode(JSON.stringify({ applied: machine.applied, chain: machine.chain, writes: machine.writes }));
}

function decodeMachine(data: Uint8Array, index: number): MachineState {
  const parsed = JSON.parse(decoder.decode(data)) as { applied?: unknown; chain?: unknown; writes?: unknown };
  const { applied, chain, writes } = parsed;
  if (typeof applied !== 'number' || typeof chain !== 'number' || typeof writes !== 'number' || applied !== index) {
    throw new InvariantViolation('state-machine-safety', undefined,
      `snapshot at index ${index} holds state ${decoder.decode(data)}, expected {applied: ${index}, chain, writes}`);
  }
  return { applied, chain, writes };
}
