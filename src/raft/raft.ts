// raft.ts — the Raft state machine (etcd-io/raft's raft.go, written for this project).
//
// Time arrives as tick(), input as step(message); output accumulates in `messages`, the log's
// unstable part, `readStates` and the hard state, which RawNode packs into a Ready. Nothing here
// does I/O or reads a clock; randomness comes from Config.random.
//
// Section references are to Ongaro's thesis ("Consensus: Bridging Theory and Practice", 2014)
// and to the Raft paper (Ongaro & Ousterhout, 2014), section 5.
import { Changer, confStatesEquivalent, decodeConfChange, encodeConfChange, isLeaveJoint, restoreConfig } from './conf-change.js';
import type { ConfigAndProgress } from './conf-change.js';
import {
  CAMPAIGN_TRANSFER_CONTEXT, DEFAULT_CHECK_QUORUM, DEFAULT_ELECTION_TICKS, DEFAULT_HEARTBEAT_TICKS,
  DEFAULT_MAX_COMMITTED_SIZE_PER_READY_BYTES, DEFAULT_MAX_INFLIGHT_MSGS, DEFAULT_MAX_SIZE_PER_MSG_BYTES,
  DEFAULT_MAX_UNCOMMITTED_ENTRIES_BYTES, DEFAULT_PRE_VOTE, DEFAULT_READ_ONLY_OPTION, MAX_MESSAGES_PER_READY,
  MAX_PENDING_READ_INDEX_REQUESTS,
} from './constants.js';
import {
  ConfigError, ProposalDroppedError, SnapshotTemporarilyUnavailableError, CompactedError, UnavailableError, assert,
} from './errors.js';
import { RaftLog } from './log.js';
import { ReadOnly } from './read-only.js';
import { ProgressTracker } from './tracker.js';
import type { Progress } from './tracker.js';
import type {
  ConfChange, ConfState, Config, Entry, HardState, Message, NodeId, RaftLogger, RandomSource,
  ReadOnlyOption, ReadState, Snapshot, SoftState, StateRole,
} from './types.js';
import { EntryType, MessageType, NONE } from './types.js';
import { EMPTY_BYTES, bytesEqual, isEmptyHardState, makeMessage, payloadSizeBytes } from './util.js';
import type { MessageFields } from './util.js';

type CampaignType = 'preElection' | 'election' | 'transfer';

const SILENT_LOGGER: RaftLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined };

/** ResolvedConfig is Config with every default filled in and validated. */
export interface ResolvedConfig {
  readonly id: NodeId;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly applied: number;
  readonly maxSizePerMsgBytes: number;
  readonly maxInflightMsgs: number;
  readonly maxUncommittedEntriesBytes: number;
  readonly maxCommittedSizePerReadyBytes: number;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly readOnlyOption: ReadOnlyOption;
  readonly disableProposalForwarding: boolean;
  readonly logger: RaftLogger;
}

/** resolveConfig fills in defaults from constants.ts and validates ranges; throws ConfigError. */
export function resolveConfig(config: Config): ResolvedConfig {
  const positive = (field: string, value: number): number => {
    if (!Number.isSafeInteger(value) || value <= 0) throw new ConfigError(field, 'a positive safe integer', value);
    return value;
  };
  if (!Number.isSafeInteger(config.id) || config.id <= 0) throw new ConfigError('id', 'a positive safe integer (0 is "none")', config.id);
  const electionTicks = positive('electionTicks', config.electionTicks ?? DEFAULT_ELECTION_TICKS);
  const heartbeatTicks = positive('heartbeatTicks', config.heartbeatTicks ?? DEFAULT_HEARTBEAT_TICKS);
  if (electionTicks <= heartbeatTicks) throw new ConfigError('electionTicks', `greater than heartbeatTicks (${heartbeatTicks})`, electionTicks);
  const applied = config.applied ?? 0;
  if (!Number.isSafeInteger(applied) || applied < 0) throw new ConfigError('applied', 'a non-negative safe integer', applied);
  const checkQuorum = config.checkQuorum ?? DEFAULT_CHECK_QUORUM;
  const readOnlyOption = config.readOnlyOption ?? DEFAULT_READ_ONLY_OPTION;
  if (readOnlyOption !== 'safe' && readOnlyOption !== 'leaseBased') throw new ConfigError('readOnlyOption', "'safe' or 'leaseBased'", readOnlyOption);
  // A lease is only sound if the leader steps down when it loses its quorum (thesis 6.4.1).
  if (readOnlyOption === 'leaseBased' && !checkQuorum) throw new ConfigError('checkQuorum', "true when readOnlyOption is 'leaseBased'", checkQuorum);
  return {
    id: config.id,
    electionTicks,
    heartbeatTicks,
    applied,
    maxSizePerMsgBytes: positive('maxSizePerMsgBytes', config.maxSizePerMsgBytes ?? DEFAULT_MAX_SIZE_PER_MSG_BYTES),
    maxInflightMsgs: positive('maxInflightMsgs', config.maxInflightMsgs ?? DEFAULT_MAX_INFLIGHT_MSGS),
    maxUncommittedEntriesBytes: positive('maxUncommittedEntriesBytes', config.maxUncommittedEntriesBytes ?? DEFAULT_MAX_UNCOMMITTED_ENTRIES_BYTES),
    maxCommittedSizePerReadyBytes: positive('maxCommittedSizePerReadyBytes', config.maxCommittedSizePerReadyBytes ?? DEFAULT_MAX_COMMITTED_SIZE_PER_READY_BYTES),
    checkQuorum,
    preVote: config.preVote ?? DEFAULT_PRE_VOTE,
    readOnlyOption,
    disableProposalForwarding: config.disableProposalForwarding ?? false,
    logger: config.logger ?? SILENT_LOGGER,
  };
}

/** voteResponseType maps a vote request type to its response type. */
export function voteResponseType(type: MessageType): MessageType {
  if (type === MessageType.Vote) return MessageType.VoteResp;
  if (type === MessageType.PreVote) return MessageType.PreVoteResp;
  throw new Error(`not a vote message: ${type}`);
}

/** isLocalMessage: types that never travel on the wire. */
export function isLocalMessage(type: MessageType): boolean {
  return type === MessageType.Hup || type === MessageType.Beat || type === MessageType.Unreachable
    || type === MessageType.SnapStatus || type === MessageType.CheckQuorum;
}

/** isResponseMessage: types that answer a request (their sender must be a known peer). */
export function isResponseMessage(type: MessageType): boolean {
  return type === MessageType.AppResp || type === MessageType.VoteResp || type === MessageType.HeartbeatResp
    || type === MessageType.Unreachable || type === MessageType.PreVoteResp;
}

/** Raft is the consensus state machine of one node. */
export class Raft {
  readonly id: NodeId;
  readonly cfg: ResolvedConfig;
  term = 0;
  vote: NodeId = NONE;
  readonly raftLog: RaftLog;
  readonly trk: ProgressTracker;
  state: StateRole = 'follower';
  /** isLearner: this node is a learner in the current configuration (it never campaigns). */
  isLearner = false;
  /** messages: outgoing messages, sent by the application after persisting the Ready. */
  messages: Message[] = [];
  readStates: ReadState[] = [];
  lead: NodeId = NONE;
  /** leadTransferee: the target of an ongoing leadership transfer (thesis 3.10), or NONE. */
  leadTransferee: NodeId = NONE;
  /**
   * pendingConfIndex: index of the last conf change appended by this leader (or its last index
   * when it became leader). A new change is refused while pendingConfIndex > applied, so that
   * at most one change is pending and the first waits for an entry of the current term (thesis 4.1).
   */
  pendingConfIndex = 0;
  /** uncommittedSize: payload bytes appended by this leader and not yet applied. */
  uncommittedSize = 0;
  readOnly: ReadOnly;
  /** pendingReadIndexMessages: ReadIndex requests held until this leader commits an entry of its term. */
  pendingReadIndexMessages: Message[] = [];
  electionElapsed = 0;
  heartbeatElapsed = 0;
  randomizedElectionTimeout = 0;
  private readonly random: RandomSource;
  private readonly logger: RaftLogger;

  constructor(config: Config) {
    this.cfg = resolveConfig(config);
    this.id = this.cfg.id;
    this.random = config.random;
    this.logger = this.cfg.logger;
    this.raftLog = new RaftLog(config.storage, this.cfg.maxCommittedSizePerReadyBytes);
    this.trk = new ProgressTracker(this.cfg.maxInflightMsgs);
    this.readOnly = new ReadOnly(this.cfg.readOnlyOption);
    const { hardState, confState } = config.storage.initialState();
    const restored = restoreConfig(confState, this.raftLog.lastIndex(), this.cfg.maxInflightMsgs);
    const switched = this.switchToConfig(restored);
    assert(confStatesEquivalent(switched, confState), 'restored ConfState differs from the storage one');
    if (!isEmptyHardState(hardState)) this.loadState(hardState);
    if (this.cfg.applied > 0) this.raftLog.appliedTo(this.cfg.applied);
    this.becomeFollower(this.term, NONE);
    this.logger.info(`newRaft ${this.id} [voters: ${switched.voters.join(',')}] term: ${this.term}, commit: ${this.raftLog.committed}, applied: ${this.raftLog.applied}, lastIndex: ${this.raftLog.lastIndex()}, lastTerm: ${this.raftLog.lastTerm()}`);
  }

  softState(): SoftState {
    return { leader: this.lead, role: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  // ---- Sending ------------------------------------------------------------------------------

  /**
   * send stamps `from` (unless set) and
   * the term, and queues the message (dropping beyond the bound: Raft tolerates loss).
   */
  private send(fields: MessageFields): void {
    let message = makeMessage({ ...fields, from: fields.from === undefined || fields.from === NONE ? this.id : fields.from });
    const type = message.type;
    if (type === MessageType.Vote || type === MessageType.VoteResp || type === MessageType.PreVote || type === MessageType.PreVoteResp) {
      // Vote messages carry the term of the election, which may differ from ours (pre-vote).
      assert(message.term !== 0, () => `term should be set when sending ${type}`);
    } else {
      assert(message.term === 0, () => `term should not be set when sending ${type} (was ${message.term})`);
      // Proposals and read requests forwarded to the leader carry no term: they are treated
      // as local messages there.
      if (type !== MessageType.Prop && type !== MessageType.ReadIndex) message = { ...message, term: this.term };
    }
    if (this.messages.length >= MAX_MESSAGES_PER_READY) {
      this.logger.warn(`${this.id} dropped message ${type} to ${message.to}: outgoing queue full`);
      return;
    }
    this.messages.push(message);
  }

  /** sendAppend sends entries (or an empty App, for probing and commit updates) to `to`. */
  sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  /**
   * maybeSendAppend sends an App with new entries to `to`, or a snapshot when the entries it needs
   * are compacted. Returns whether a message was sent. With sendIfEmpty false, nothing is sent
   * when there are no new entries.
   */
  maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.trk.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    let prevTerm: number;
    let entries: Entry[];
    try {
      prevTerm = this.raftLog.term(prevIndex);
      entries = this.raftLog.entries(pr.next, this.cfg.maxSizePerMsgBytes);
    } catch (error) {
      if (error instanceof CompactedError || error instanceof UnavailableError) return this.maybeSendSnapshot(to, pr);
      throw error;
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: MessageType.App, to, index: prevIndex, logTerm: prevTerm, entries, commit: this.raftLog.committed });
    if (entries.length > 0) {
      const last = entries[entries.length - 1]!.index;
      if (pr.state === 'replicate') {
        pr.optimisticUpdate(last);
        pr.inflights.add(last);
      } else if (pr.state === 'probe') {
        pr.probeSent = true;
      }
    }
    return true;
  }

  /** maybeSendSnapshot sends the latest snapshot to a follower that needs compacted entries. */
  private maybeSendSnapshot(to: NodeId, pr: Progress): boolean {
    if (!pr.recentActive) {
      this.logger.debug(`${this.id} ignores sending snapshot to ${to}: not recently active`);
      return false;
    }
    let snapshot: Snapshot;
    try {
      snapshot = this.raftLog.snapshot();
    } catch (error) {
      if (error instanceof SnapshotTemporarilyUnavailableError) {
        this.logger.debug(`${this.id} failed to send snapshot to ${to}: temporarily unavailable`);
        return false;
      }
      throw error;
    }
    assert(snapshot.metadata.index !== 0, 'need non-empty snapshot');
    this.logger.debug(`${this.id} sends snapshot [index: ${snapshot.metadata.index}, term: ${snapshot.metadata.term}] to ${to} [match ${pr.match}, next ${pr.next}]`);
    pr.becomeSnapshot(snapshot.metadata.index);
    this.send({ type: MessageType.Snap, to, snapshot });
    return true;
  }

  /** sendHeartbeat sends a heartbeat; its commit is capped at the follower's match (it may lack later entries). */
  private sendHeartbeat(to: NodeId, context: Uint8Array): void {
    const pr = this.trk.progress.get(to);
    assert(pr !== undefined, `sendHeartbeat to unknown ${to}`);
    const commit = Math.min(pr.match, this.raftLog.committed);
    this.send({ type: MessageType.Heartbeat, to, commit, context });
  }

  /** bcastAppend sends new entries (or commit updates) to every other member. */
  bcastAppend(): void {
    this.trk.visit((id) => {
      if (id !== this.id) this.sendAppend(id);
    });
  }

  /** bcastHeartbeat sends heartbeats, carrying the newest pending ReadIndex context if any. */
  bcastHeartbeat(): void {
    this.bcastHeartbeatWithContext(this.readOnly.lastPendingRequestContext() ?? EMPTY_BYTES);
  }

  private bcastHeartbeatWithContext(context: Uint8Array): void {
    this.trk.visit((id) => {
      if (id !== this.id) this.sendHeartbeat(id, context);
    });
  }

  // ---- Committing and applying ---------------------------------------------------------------

  /** maybeCommit advances commit to what a quorum holds, if that entry is of the current term (paper 5.4.2). */
  maybeCommit(): boolean {
    const index = this.trk.committed();
    if (!Number.isFinite(index)) return false;
    return this.raftLog.maybeCommit(index, this.term);
  }

  /**
   * advanceApplied is called by RawNode.advance(): entries up to `newApplied` were applied.
   * A leader in a joint configuration with autoLeave proposes leaving it once it applied the
   * entry that entered it (thesis 4.3).
   */
  advanceApplied(newApplied: number, appliedEntries: readonly Entry[]): void {
    if (newApplied > this.raftLog.applied) this.raftLog.appliedTo(newApplied);
    this.reduceUncommittedSize(appliedEntries);
    if (this.trk.config.autoLeave && this.state === 'leader' && newApplied >= this.pendingConfIndex) {
      const leave: ConfChange = { transition: 'auto', changes: [], context: EMPTY_BYTES };
      try {
        this.appendConfChange(leave);
        this.logger.info(`${this.id} initiating automatic transition out of joint configuration`);
      } catch (error) {
        if (!(error instanceof ProposalDroppedError)) throw error;
        this.logger.debug(`${this.id} not initiating automatic transition out of joint configuration: ${error.reason}`);
      }
    }
  }

  /** appliedSnapshot records that the application applied the snapshot at `index`. */
  appliedSnapshot(index: number): void {
    if (index > this.raftLog.applied) this.raftLog.appliedTo(index);
  }

  // ---- Role transitions ----------------------------------------------------------------------

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.trk.resetVotes();
    const lastIndex = this.raftLog.lastIndex();
    this.trk.visit((id, pr) => {
      pr.resetForNewTerm(id === this.id ? lastIndex : 0, lastIndex + 1);
    });
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly(this.cfg.readOnlyOption);
    this.pendingReadIndexMessages = [];
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.state = 'follower';
    this.logger.info(`${this.id} became follower at term ${this.term}`);
  }

  becomeCandidate(): void {
    assert(this.state !== 'leader', 'invalid transition [leader -> candidate]');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = 'candidate';
    this.logger.info(`${this.id} became candidate at term ${this.term}`);
  }

  /** becomePreCandidate starts a pre-vote (thesis 9.6): no term change, no vote cast. */
  becomePreCandidate(): void {
    assert(this.state !== 'leader', 'invalid transition [leader -> pre-candidate]');
    this.trk.resetVotes();
    this.lead = NONE;
    this.state = 'preCandidate';
    this.logger.info(`${this.id} became pre-candidate at term ${this.term}`);
  }

  /**
   * appendTermStartEntry appends the empty entry of a new leader's term (paper 5.4.2, 8):
   * committing it commits all earlier entries. Protected, like candidateLogUpToDate and
   * confChangeRefusal, so that a test can derive a Raft that breaks one rule (test/raft/support).
   */
  protected appendTermStartEntry(): void {
    const appended = this.appendEntries([{ term: 0, index: 0, type: EntryType.Normal, data: EMPTY_BYTES }]);
    assert(appended, 'empty entry was dropped');
  }

  becomeLeader(): void {
    assert(this.state !== 'follower', 'invalid transition [follower -> leader]');
    this.reset(this.term);
    this.lead = this.id;
    this.state = 'leader';
    const self = this.trk.progress.get(this.id);
    assert(self !== undefined, 'leader has no progress for itself');
    // The leader's own progress is always in replicate state and always active.
    self.becomeReplicate();
    self.recentActive = true;
    this.appendTermStartEntry();
    // A conf change waits until the term-start entry is applied: a leader proposes a change
    // only after an entry of its own term is committed (thesis 4.1, the 2015 correction to the
    // single-server change algorithm), and any change of an earlier leader is applied by then.
    this.pendingConfIndex = this.raftLog.lastIndex();
    this.logger.info(`${this.id} became leader at term ${this.term}`);
  }

  // ---- Ticking ------------------------------------------------------------------------------

  tick(): void {
    if (this.state === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(makeMessage({ type: MessageType.Hup, from: this.id }));
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) this.step(makeMessage({ type: MessageType.CheckQuorum, from: this.id }));
      // A transfer that did not finish within an election timeout is abandoned (thesis 3.10).
      if (this.state === 'leader' && this.leadTransferee !== NONE) this.abortLeaderTransfer();
    }
    if (this.state !== 'leader') return;
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.step(makeMessage({ type: MessageType.Beat, from: this.id }));
    }
  }

  /**
   * leaderLost: the host learned outside Raft that this follower's leader `id` is probably gone (its
   * transport lost the connection: a crashed process's sockets are reset at once). The follower
   * forgets its leader, as etcd's ForgetLeader does, so it grants pre-votes at once instead of
   * honouring the lost leader's lease for up to an election timeout (not under leaseBased reads, where
   * the lease is what makes reads safe); and it brings its own election forward so that it campaigns
   * within `withinTicks` ticks (never earlier than it would have anyway, and never inside this call:
   * followers told at the same instant then campaign on their own tickers, not in lockstep). Safety
   * does not depend on it: a leader that still works keeps its followers (their lease and PreVote
   * refuse the campaign) and its next message restores it as this node's leader. Returns whether it
   * acted (only a follower of `id` does).
   */
  leaderLost(id: NodeId, withinTicks: number): boolean {
    assert(Number.isSafeInteger(withinTicks) && withinTicks >= 1, () => `leaderLost: withinTicks must be an integer >= 1, got ${withinTicks}`);
    if (this.state !== 'follower' || id === NONE || this.lead !== id) return false;
    if (this.cfg.readOnlyOption !== 'leaseBased') {
      this.logger.info(`${this.id} forgot leader ${id} at term ${this.term}`);
      this.lead = NONE;
    }
    this.electionElapsed = Math.max(this.electionElapsed, this.randomizedElectionTimeout - withinTicks);
    return true;
  }

  /** pastElectionTimeout: electionElapsed reached the randomized timeout in [electionTicks, 2*electionTicks). */
  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  private resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.cfg.electionTicks + this.random.nextInt(this.cfg.electionTicks);
  }

  /** promotable: this node may become leader (a voter of the config, with no snapshot pending). */
  promotable(): boolean {
    const pr = this.trk.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && this.raftLog.unstable.snapshot === undefined;
  }

  // ---- Elections -----------------------------------------------------------------------------

  private hup(type: CampaignType): void {
    if (this.state === 'leader') {
      this.logger.debug(`${this.id} ignoring Hup: already leader`);
      return;
    }
    if (!this.promotable()) {
      this.logger.warn(`${this.id} is unpromotable and cannot campaign`);
      return;
    }
    if (this.hasUnappliedConfChanges()) {
      this.logger.warn(`${this.id} cannot campaign at term ${this.term}: committed but unapplied conf changes`);
      return;
    }
    this.campaign(type);
  }

  /** hasUnappliedConfChanges: a committed conf change is not applied yet (this node's config may be stale). */
  private hasUnappliedConfChanges(): boolean {
    if (this.raftLog.applied >= this.raftLog.committed) return false;
    const lo = Math.max(this.raftLog.applied + 1, this.raftLog.firstIndex());
    const hi = Math.min(this.raftLog.committed, this.raftLog.lastIndex()) + 1;
    if (lo >= hi) return false;
    const entries = this.raftLog.slice(lo, hi, Number.MAX_SAFE_INTEGER);
    return entries.some((entry) => entry.type === EntryType.ConfChange);
  }

  /** campaign starts a pre-vote, an election, or a transfer election (which skips pre-vote). */
  campaign(type: CampaignType): void {
    let voteType: MessageType;
    let term: number;
    if (type === 'preElection') {
      this.becomePreCandidate();
      voteType = MessageType.PreVote;
      // A pre-vote asks for the term this node would use, without incrementing its own.
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      voteType = MessageType.Vote;
      term = this.term;
    }
    // The node's own vote: a single-voter cluster wins at once.
    if (this.poll(this.id, voteResponseType(voteType), true) === 'won') {
      if (type === 'preElection') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const context = type === 'transfer' ? CAMPAIGN_TRANSFER_CONTEXT : EMPTY_BYTES;
    for (const id of this.trk.voterIds()) {
      if (id === this.id) continue;
      this.logger.info(`${this.id} [logterm: ${this.raftLog.lastTerm()}, index: ${this.raftLog.lastIndex()}] sent ${voteType === MessageType.PreVote ? 'PreVote' : 'Vote'} request to ${id} at term ${this.term}`);
      this.send({ type: voteType, to: id, term, index: this.raftLog.lastIndex(), logTerm: this.raftLog.lastTerm(), context });
    }
  }

  private poll(id: NodeId, type: MessageType, granted: boolean): 'won' | 'lost' | 'pending' {
    this.logger.debug(`${this.id} received ${type} ${granted ? 'grant' : 'rejection'} from ${id} at term ${this.term}`);
    this.trk.recordVote(id, granted);
    return this.trk.tallyVotes().result;
  }

  // ---- Stepping ------------------------------------------------------------------------------

  /**
   * step handles one message: first the term rules common to every role (paper 5.1: a higher
   * term makes a node a follower, a lower term is stale), then votes, then the role's handler.
   * Throws ProposalDroppedError when a local proposal is refused.
   */
  step(m: Message): void {
    if (m.term === 0) {
      // Local message (or a forwarded proposal/read request).
    } else if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        const force = bytesEqual(m.context, CAMPAIGN_TRANSFER_CONTEXT);
        const inLease = this.cfg.checkQuorum && this.lead !== NONE && this.electionElapsed < this.cfg.electionTicks;
        if (!force && inLease) {
          // Heard from a leader within the minimum election timeout: do not let a partitioned
          // or restarted node disrupt it (thesis 4.2.3).
          this.logger.info(`${this.id} [term: ${this.term}] ignored vote from ${m.from} [term: ${m.term}]: lease is not expired (remaining ticks: ${this.cfg.electionTicks - this.electionElapsed})`);
          return;
        }
      }
      if (m.type === MessageType.PreVote) {
        // Never change term in response to a pre-vote.
      } else if (m.type === MessageType.PreVoteResp && !m.reject) {
        // A granted pre-vote carries the future term; the term changes only when the pre-vote wins.
      } else {
        this.logger.info(`${this.id} [term: ${this.term}] received a ${m.type} message with higher term from ${m.from} [term: ${m.term}]`);
        const fromLeader = m.type === MessageType.App || m.type === MessageType.Heartbeat || m.type === MessageType.Snap;
        this.becomeFollower(m.term, fromLeader ? m.from : NONE);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === MessageType.Heartbeat || m.type === MessageType.App)) {
        // A stale leader (e.g. isolated, or one whose votes we ignored in lease) learns our term
        // from this response and steps down; without it, it could stay leader forever.
        this.send({ type: MessageType.AppResp, to: m.from });
      } else if (m.type === MessageType.PreVote) {
        this.send({ type: MessageType.PreVoteResp, to: m.from, term: this.term, reject: true });
      } else {
        this.logger.debug(`${this.id} [term: ${this.term}] ignored a ${m.type} message with lower term from ${m.from} [term: ${m.term}]`);
      }
      return;
    }

    switch (m.type) {
      case MessageType.Hup:
        this.hup(this.cfg.preVote ? 'preElection' : 'election');
        return;
      case MessageType.Vote:
      case MessageType.PreVote:
        this.handleVoteRequest(m);
        return;
      default:
        switch (this.state) {
          case 'leader': this.stepLeader(m); return;
          case 'candidate':
          case 'preCandidate': this.stepCandidate(m); return;
          case 'follower': this.stepFollower(m); return;
        }
    }
  }

  /** candidateLogUpToDate: the requester's log is at least as up-to-date as ours (paper 5.4.1). */
  protected candidateLogUpToDate(m: Message): boolean {
    return this.raftLog.isUpToDate(m.index, m.logTerm);
  }

  /** handleVoteRequest grants at most one vote per term (paper 5.2) to an up-to-date log (5.4.1). */
  private handleVoteRequest(m: Message): void {
    const canVote = this.vote === m.from
      || (this.vote === NONE && this.lead === NONE)
      || (m.type === MessageType.PreVote && m.term > this.term);
    const upToDate = this.candidateLogUpToDate(m);
    const responseType = voteResponseType(m.type);
    if (canVote && upToDate) {
      this.logger.info(`${this.id} cast ${m.type} for ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`);
      // The response carries the request's term: for a pre-vote it is the future term, which the
      // pre-candidate recognises; for a vote it equals ours (we just became follower of it).
      this.send({ type: responseType, to: m.from, term: m.term });
      if (m.type === MessageType.Vote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.logger.info(`${this.id} rejected ${m.type} from ${m.from} [logterm: ${m.logTerm}, index: ${m.index}] at term ${this.term}`);
      this.send({ type: responseType, to: m.from, term: this.term, reject: true });
    }
  }

  private stepLeader(m: Message): void {
    switch (m.type) {
      case MessageType.Beat:
        this.bcastHeartbeat();
        return;
      case MessageType.CheckQuorum:
        if (!this.trk.quorumActive()) {
          this.logger.warn(`${this.id} stepped down to follower since quorum is not active`);
          this.becomeFollower(this.term, NONE);
        }
        // Activity is measured per election timeout: forget it for the next round.
        this.trk.visit((id, pr) => {
          if (id !== this.id) pr.recentActive = false;
        });
        return;
      case MessageType.Prop:
        this.leaderPropose(m);
        return;
      case MessageType.ReadIndex:
        this.leaderReadIndex(m);
        return;
      default:
        break;
    }
    const pr = this.trk.progress.get(m.from);
    if (pr === undefined) {
      this.logger.debug(`${this.id} no progress available for ${m.from}`);
      return;
    }
    switch (m.type) {
      case MessageType.AppResp: this.handleAppendResponse(m, pr); return;
      case MessageType.HeartbeatResp: this.handleHeartbeatResponse(m, pr); return;
      case MessageType.SnapStatus:
        if (pr.state !== 'snapshot') return;
        if (m.reject) pr.pendingSnapshot = 0;
        pr.becomeProbe();
        // Wait for the follower's AppResp (or a heartbeat response) before probing again.
        pr.probeSent = true;
        this.logger.debug(`${this.id} snapshot ${m.reject ? 'failed' : 'succeeded'} to ${m.from}, resumed sending replication messages`);
        return;
      case MessageType.Unreachable:
        // Optimistic replication to an unreachable peer is wasted: probe instead.
        if (pr.state === 'replicate') pr.becomeProbe();
        return;
      case MessageType.TransferLeader: this.handleTransferLeader(m, pr); return;
      default:
        return;
    }
  }

  /** refuseIfRemoved refuses a local proposal on a node that is no longer a member. */
  private refuseIfRemoved(m: Message): void {
    const local = m.from === this.id || m.from === NONE;
    if (local && this.trk.progress.size > 0 && !this.trk.progress.has(this.id)) {
      throw new ProposalDroppedError('removed', `node ${this.id} was removed from the configuration`);
    }
  }

  private leaderPropose(m: Message): void {
    assert(m.entries.length > 0, `${this.id} stepped empty Prop`);
    this.refuseIfRemoved(m);
    if (this.leadTransferee !== NONE) {
      throw new ProposalDroppedError('transferring', `leadership is being transferred to ${this.leadTransferee}`);
    }
    // Decide on the whole proposal before changing anything: a refused proposal (a second conf
    // change in the same Prop, or the uncommitted limit) must leave pendingConfIndex as it was,
    // or the next conf change would be refused until some unrelated entry applies (thesis 4.1:
    // one change at a time, and only a change that was appended is pending).
    let pendingConfIndex = this.pendingConfIndex;
    for (let i = 0; i < m.entries.length; i++) {
      const entry = m.entries[i]!;
      if (entry.type !== EntryType.ConfChange) continue;
      const refusal = this.confChangeRefusal(decodeConfChange(entry.data), pendingConfIndex);
      if (refusal !== undefined) throw new ProposalDroppedError('conf-change-pending', refusal);
      pendingConfIndex = this.raftLog.lastIndex() + i + 1;
    }
    if (!this.appendEntries(m.entries.map((entry) => ({ ...entry })))) {
      throw new ProposalDroppedError('uncommitted-limit', `uncommitted entries exceed ${this.cfg.maxUncommittedEntriesBytes} bytes`);
    }
    this.pendingConfIndex = pendingConfIndex;
    this.bcastAppend();
  }

  /** confChangeRefusal says why a conf change cannot be proposed now, or undefined if it can. */
  protected confChangeRefusal(change: ConfChange, pendingConfIndex: number): string | undefined {
    const alreadyPending = pendingConfIndex > this.raftLog.applied;
    const alreadyJoint = this.trk.config.voters.outgoing.size > 0;
    const wantsLeaveJoint = isLeaveJoint(change);
    if (alreadyPending) {
      return `possible unapplied conf change at index ${pendingConfIndex} (applied to ${this.raftLog.applied})`;
    }
    if (alreadyJoint && !wantsLeaveJoint) return 'must transition out of joint config first';
    if (!alreadyJoint && wantsLeaveJoint) return 'not in joint state; refusing empty conf change';
    return undefined;
  }

  /** appendConfChange proposes a conf change on the leader (used for auto-leave). */
  private appendConfChange(change: ConfChange): void {
    this.step(makeMessage({ type: MessageType.Prop, from: this.id, entries: [confChangeEntry(change)] }));
  }

  private leaderReadIndex(m: Message): void {
    // A single voter is its own quorum: its commit index is linearizable at once.
    if (this.trk.isSingleton()) {
      this.respondToReadIndex(m, this.raftLog.committed);
      return;
    }
    // Until an entry of this term commits, the leader's commit index may be behind the true
    // one (thesis 6.4 step 1): hold the request.
    if (!this.committedEntryInCurrentTerm()) {
      if (this.pendingReadIndexMessages.length < MAX_PENDING_READ_INDEX_REQUESTS) this.pendingReadIndexMessages.push(m);
      else this.logger.warn(`${this.id} dropped ReadIndex: too many pending requests`);
      return;
    }
    this.sendReadIndexResponse(m);
  }

  /** sendReadIndexResponse answers a read once leadership is confirmed (safe) or at once (lease). */
  private sendReadIndexResponse(m: Message): void {
    if (this.readOnly.option === 'safe') {
      if (!this.readOnly.addRequest(this.raftLog.committed, m)) {
        this.logger.warn(`${this.id} dropped ReadIndex: too many pending requests`);
        return;
      }
      this.readOnly.recvAck(this.id, m.context);
      this.bcastHeartbeatWithContext(m.context);
      return;
    }
    this.respondToReadIndex(m, this.raftLog.committed);
  }

  private respondToReadIndex(request: Message, index: number): void {
    if (request.from === NONE || request.from === this.id) {
      this.readStates.push({ index, requestContext: request.context });
      return;
    }
    this.send({ type: MessageType.ReadIndexResp, to: request.from, index, context: request.context });
  }

  private releasePendingReadIndexMessages(): void {
    if (this.pendingReadIndexMessages.length === 0) return;
    if (!this.committedEntryInCurrentTerm()) return;
    const pending = this.pendingReadIndexMessages;
    this.pendingReadIndexMessages = [];
    for (const m of pending) this.sendReadIndexResponse(m);
  }

  /** committedEntryInCurrentTerm: this leader has committed an entry of its own term. */
  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.termOrUndefined(this.raftLog.committed) === this.term;
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    if (m.reject) {
      this.logger.debug(`${this.id} received AppResp(rejected, hint: (index ${m.rejectHint}, term ${m.logTerm})) from ${m.from} for index ${m.index}`);
      // Fast backtracking: the follower says its log has term m.logTerm at m.rejectHint. Skip
      // to the last index where our log has a term <= that one: everything after is known to differ.
      let nextProbeIndex = m.rejectHint;
      if (m.logTerm > 0) nextProbeIndex = this.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, nextProbeIndex)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    // A follower acknowledges only entries this leader sent, or its commit index, which the
    // leader holds (Leader Completeness, paper 5.4): anything beyond our log is a broken invariant.
    assert(m.index <= this.raftLog.lastIndex(),
      () => `${this.id} (leader, term ${this.term}) got an acknowledgement of index ${m.index} from ${m.from} beyond its last index ${this.raftLog.lastIndex()}: leader completeness violated`);
    const oldPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === 'probe') {
      pr.becomeReplicate();
    } else if (pr.state === 'snapshot' && pr.match + 1 >= this.raftLog.firstIndex()) {
      // The follower caught up from the snapshot (or otherwise): replicate from the log again.
      this.logger.debug(`${this.id} recovered from needing snapshot, resumed sending replication messages to ${m.from}`);
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') {
      pr.inflights.freeLE(m.index);
    }
    if (this.maybeCommit()) {
      this.releasePendingReadIndexMessages();
      this.bcastAppend();
    } else if (oldPaused) {
      // The follower was paused: it may now take more entries.
      this.sendAppend(m.from);
    }
    // Fill the pipeline window with as many messages as the inflight bound allows.
    for (let i = 0; i <= this.cfg.maxInflightMsgs; i++) {
      if (!this.maybeSendAppend(m.from, false)) break;
    }
    if (m.from === this.leadTransferee && pr.match === this.raftLog.lastIndex()) {
      this.logger.info(`${this.id} sent TimeoutNow to ${m.from} after it caught up`);
      this.sendTimeoutNow(m.from);
    }
  }

  private handleHeartbeatResponse(m: Message, pr: Progress): void {
    pr.recentActive = true;
    pr.probeSent = false;
    // A heartbeat response proves the follower is reachable: free one slot of a full window.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.raftLog.lastIndex()) this.sendAppend(m.from);
    if (this.readOnly.option !== 'safe' || m.context.byteLength === 0) return;
    const acks = this.readOnly.recvAck(m.from, m.context);
    if (acks === undefined) return;
    if (this.trk.voteResultOf(acks) !== 'won') return;
    for (const status of this.readOnly.advance(m.context)) this.respondToReadIndex(status.request, status.index);
  }

  private handleTransferLeader(m: Message, pr: Progress): void {
    if (pr.isLearner) {
      this.logger.debug(`${this.id} is learner; ignored transferring leadership`);
      return;
    }
    const transferee = m.from;
    if (this.leadTransferee !== NONE) {
      if (this.leadTransferee === transferee) {
        this.logger.info(`${this.id} [term ${this.term}] transfer leadership to ${transferee} is in progress, ignores request to same node`);
        return;
      }
      this.abortLeaderTransfer();
    }
    if (transferee === this.id) {
      this.logger.debug(`${this.id} is already leader; ignored transferring leadership to self`);
      return;
    }
    // The transfer must finish within an election timeout (tickHeartbeat aborts it).
    this.electionElapsed = 0;
    this.leadTransferee = transferee;
    if (pr.match === this.raftLog.lastIndex()) {
      this.sendTimeoutNow(transferee);
    } else {
      this.sendAppend(transferee);
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: MessageType.TimeoutNow, to });
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  private stepCandidate(m: Message): void {
    const myVoteResponse = this.state === 'preCandidate' ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Prop:
        if (m.from === this.id || m.from === NONE) throw new ProposalDroppedError('no-leader', `node ${this.id} is a ${this.state} at term ${this.term}`);
        return;
      case MessageType.App:
        this.becomeFollower(m.term, m.from); // a leader of our term exists (paper 5.2)
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case MessageType.TimeoutNow:
        this.logger.debug(`${this.id} [term ${this.term} state ${this.state}] ignored TimeoutNow from ${m.from}`);
        return;
      default:
        break;
    }
    if (m.type !== myVoteResponse) return;
    const result = this.poll(m.from, m.type, !m.reject);
    if (result === 'won') {
      if (this.state === 'preCandidate') {
        this.campaign('election');
      } else {
        this.becomeLeader();
        this.bcastAppend();
      }
    } else if (result === 'lost') {
      // A rejection may carry a higher term than ours (pre-vote): step() already adopted it.
      this.becomeFollower(this.term, NONE);
    }
  }

  /** isLocal: the message was stepped by this node's own user (no sender, or itself), not received from a peer. */
  private isLocal(m: Message): boolean {
    return m.from === NONE || m.from === this.id;
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case MessageType.Prop:
        this.refuseIfRemoved(m);
        if (this.lead === NONE) {
          if (m.from === this.id || m.from === NONE) throw new ProposalDroppedError('no-leader', `node ${this.id} knows no leader at term ${this.term}`);
          return;
        }
        if (this.cfg.disableProposalForwarding) {
          if (m.from === this.id || m.from === NONE) throw new ProposalDroppedError('not-leader-no-forwarding', `node ${this.id} is not the leader (${this.lead} is) and proposal forwarding is disabled`);
          return;
        }
        this.send({ ...m, to: this.lead, from: this.id, term: 0 });
        return;
      case MessageType.App:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppendEntries(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case MessageType.Snap:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshot(m);
        return;
      case MessageType.TransferLeader:
        // Only the leader acts on a transfer; a follower drops the request instead of forwarding it as etcd
        // does. The request names the transferee in `from`, so forwarding it would send a message in
        // another node's name, which the transport refuses by stopping this node.
        this.logger.info(`${this.id} is not the leader; dropping the request to transfer leadership to ${m.from}`);
        return;
      case MessageType.TimeoutNow:
        this.logger.info(`${this.id} [term ${this.term}] received TimeoutNow from ${m.from} and starts an election to get leadership`);
        // A transfer skips pre-vote: the leader asked for it, so it cannot be disruptive.
        this.hup('transfer');
        return;
      case MessageType.ReadIndex:
        if (this.lead === NONE) {
          this.logger.info(`${this.id} no leader at term ${this.term}; dropping ReadIndex`);
          return;
        }
        // Only this node's own requests are forwarded. Another node's request reaches a follower when that
        // node took it for the leader (it stepped down meanwhile); passing it on would send a message in the
        // other node's name, which the transport refuses by stopping the node. It is dropped: the requester
        // times out and asks its own idea of the leader again.
        if (!this.isLocal(m)) {
          this.logger.info(`${this.id} is not the leader; dropping ReadIndex from ${m.from}`);
          return;
        }
        this.send({ ...m, to: this.lead, term: 0 });
        return;
      case MessageType.ReadIndexResp:
        this.readStates.push({ index: m.index, requestContext: m.context });
        return;
      default:
        return;
    }
  }

  /** handleAppendEntries applies the log matching check (paper 5.3) and answers with a hint on rejection. */
  private handleAppendEntries(m: Message): void {
    if (m.index < this.raftLog.committed) {
      this.send({ type: MessageType.AppResp, to: m.from, index: this.raftLog.committed });
      return;
    }
    const lastNewIndex = this.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (lastNewIndex !== undefined) {
      this.send({ type: MessageType.AppResp, to: m.from, index: lastNewIndex });
      return;
    }
    // Rejection: hint the leader at (index, term) = the last index <= m.index whose term is
    // <= m.logTerm; the leader can skip every index in between (fast backtracking).
    const hintIndex = Math.min(m.index, this.raftLog.lastIndex());
    const hint = this.raftLog.findConflictByTerm(hintIndex, m.logTerm);
    this.logger.debug(`${this.id} [logterm: ${this.raftLog.termOrUndefined(m.index) ?? 0}, index: ${m.index}] rejected App [logterm: ${m.logTerm}, index: ${m.index}] from ${m.from}`);
    this.send({ type: MessageType.AppResp, to: m.from, index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term });
  }

  private handleHeartbeat(m: Message): void {
    this.raftLog.commitTo(m.commit);
    this.send({ type: MessageType.HeartbeatResp, to: m.from, context: m.context });
  }

  private handleSnapshot(m: Message): void {
    const snapshot = m.snapshot;
    assert(snapshot !== undefined, `Snap message from ${m.from} without snapshot`);
    if (this.restore(snapshot)) {
      this.logger.info(`${this.id} [commit: ${this.raftLog.committed}] restored snapshot [index: ${snapshot.metadata.index}, term: ${snapshot.metadata.term}]`);
      this.send({ type: MessageType.AppResp, to: m.from, index: this.raftLog.lastIndex() });
    } else {
      this.logger.info(`${this.id} [commit: ${this.raftLog.committed}] ignored snapshot [index: ${snapshot.metadata.index}, term: ${snapshot.metadata.term}]`);
      this.send({ type: MessageType.AppResp, to: m.from, index: this.raftLog.committed });
    }
  }

  /**
   * restore installs a snapshot from the leader (InstallSnapshot, thesis 5). Returns false when
   * it is stale, does not include this node, or the log already has its last entry (then only
   * commit moves forward).
   */
  restore(snapshot: Snapshot): boolean {
    const { index, term, confState } = snapshot.metadata;
    if (index <= this.raftLog.committed) return false;
    if (this.state !== 'follower') {
      // Only a follower receives snapshots; muddle through as etcd does rather than crash.
      this.logger.warn(`${this.id} attempted to restore snapshot as ${this.state}; should never happen`);
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    const member = confState.voters.includes(this.id) || confState.learners.includes(this.id) || confState.votersOutgoing.includes(this.id);
    // A node that knows no configuration yet is joining: the leader's latest snapshot may
    // predate the change that added it, which it will learn from the entries that follow.
    // A node that has a configuration refuses a snapshot that does not include it.
    const joining = this.trk.progress.size === 0;
    if (!member && !joining) {
      this.logger.warn(`${this.id} attempted to restore snapshot but it is not in the ConfState; should never happen`);
      return false;
    }
    if (this.raftLog.matchTerm(index, term)) {
      // Our log already contains the snapshot's last entry: fast-forward commit only.
      this.logger.info(`${this.id} fast-forwarded commit to snapshot [index: ${index}, term: ${term}]`);
      this.raftLog.commitTo(index);
      return false;
    }
    this.raftLog.restore(snapshot);
    const restored = restoreConfig(confState, this.raftLog.lastIndex(), this.cfg.maxInflightMsgs);
    const switched = this.switchToConfig(restored);
    assert(confStatesEquivalent(switched, confState), 'snapshot ConfState differs after restore');
    const self = this.trk.progress.get(this.id);
    if (self !== undefined) self.maybeUpdate(self.next - 1);
    return true;
  }

  // ---- Entries and configuration -----------------------------------------------------------

  /**
   * appendEntries appends entries of the current term at the end of the leader's log, unless
   * they exceed the uncommitted bytes bound. Returns false when refused.
   */
  appendEntries(entries: readonly Entry[]): boolean {
    let index = this.raftLog.lastIndex();
    const stamped = entries.map((entry) => ({ ...entry, term: this.term, index: ++index }));
    if (!this.increaseUncommittedSize(stamped)) {
      this.logger.warn(`${this.id} appending new entries to log would exceed uncommitted entry size limit; dropping proposal`);
      return false;
    }
    const lastIndex = this.raftLog.append(stamped);
    const self = this.trk.progress.get(this.id);
    if (self !== undefined) self.maybeUpdate(lastIndex);
    // A single-voter cluster commits at once.
    this.maybeCommit();
    return true;
  }

  private increaseUncommittedSize(entries: readonly Entry[]): boolean {
    const size = payloadSizeBytes(entries);
    // A single oversized entry is accepted when nothing is pending, so progress is always possible.
    if (this.uncommittedSize > 0 && size > 0 && this.uncommittedSize + size > this.cfg.maxUncommittedEntriesBytes) return false;
    this.uncommittedSize += size;
    return true;
  }

  private reduceUncommittedSize(entries: readonly Entry[]): void {
    if (this.uncommittedSize === 0) return;
    // Entries of earlier leaders were never counted: the size saturates at zero.
    this.uncommittedSize = Math.max(0, this.uncommittedSize - payloadSizeBytes(entries));
  }

  /** applyConfChange switches to the configuration that `change` produces (called when the entry is applied). */
  applyConfChange(change: ConfChange): ConfState {
    const changer = new Changer({ config: this.trk.config, progress: this.trk.progress }, this.raftLog.lastIndex(), this.cfg.maxInflightMsgs);
    return this.switchToConfig(changer.applyChange(change));
  }

  /** switchToConfig installs a configuration and reacts to it (removed leader steps down, commit may move). */
  switchToConfig(next: ConfigAndProgress): ConfState {
    this.trk.config = next.config;
    this.trk.progress = next.progress;
    this.logger.info(`${this.id} switched to configuration ${JSON.stringify(this.trk.confState())}`);
    const confState = this.trk.confState();
    const self = this.trk.progress.get(this.id);
    this.isLearner = self?.isLearner ?? false;
    if ((self === undefined || this.isLearner) && this.state === 'leader') {
      // Removed (or demoted) leader: step down once the change is applied (thesis 4.2.2).
      this.logger.info(`${this.id} was removed from the configuration while leader; stepping down`);
      this.becomeFollower(this.term, NONE);
      return confState;
    }
    if (this.state !== 'leader' || confState.voters.length === 0) return confState;
    // The quorum may have changed: commit may advance, new members need entries.
    if (this.maybeCommit()) {
      this.bcastAppend();
    } else {
      this.trk.visit((id) => {
        if (id !== this.id) this.maybeSendAppend(id, false);
      });
    }
    if (this.leadTransferee !== NONE && !this.trk.config.voters.incoming.has(this.leadTransferee)) this.abortLeaderTransfer();
    return confState;
  }

  private loadState(hardState: HardState): void {
    assert(hardState.commit >= this.raftLog.committed && hardState.commit <= this.raftLog.lastIndex(),
      () => `${this.id} state.commit ${hardState.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`);
    this.raftLog.committed = hardState.commit;
    this.term = hardState.term;
    this.vote = hardState.vote;
  }
}

/** confChangeEntry wraps an encoded ConfChange into a log entry (term and index set on append). */
export function confChangeEntry(change: ConfChange): Entry {
  return { term: 0, index: 0, type: EntryType.ConfChange, data: encodeConfChange(change) };
}
