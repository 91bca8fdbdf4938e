// raw-node.ts — RawNode, the public, synchronous face of the core (etcd-io/raft's RawNode):
// it feeds Raft and packs its output into Ready values, following the contract of types.ts.
import { Changer } from './conf-change.js';
import { ConfChangeDecodeError, ConfigError, PeerNotFoundError, ProposalDroppedError, StepLocalMessageError, assert } from './errors.js';
import { validateAgainstReceiver, validateWireMessage } from './message-validation.js';
import { Raft, confChangeEntry, isLocalMessage, isResponseMessage } from './raft.js';
import type {
  ConfChange, ConfState, Config, HardState, Message, NodeId, PeerProgress, RaftNode, Ready, SoftState, Snapshot, Status, Storage,
} from './types.js';
import { EntryType, MessageType, NONE } from './types.js';
import { EMPTY_BYTES, hardStateEqual, isEmptyHardState, makeMessage } from './util.js';

/** RawNode drives one Raft node. Not thread-safe; every call is synchronous and deterministic. */
export class RawNode implements RaftNode {
  /** raft is the state machine itself, exposed for tests and diagnostics only. */
  readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;
  /** pending: the Ready handed out and not yet advanced. */
  private pending: Ready | undefined = undefined;

  /**
   * The constructor builds the state machine with `createRaft`: the default is the Raft of this
   * module; a test may pass a subclass that breaks one rule on purpose (the simulator's planted
   * bugs, test/raft/support/planted-raft.ts), so that no production type carries a test switch.
   */
  constructor(config: Config, createRaft: (config: Config) => Raft = (resolved) => new Raft(resolved)) {
    this.raft = createRaft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  get id(): NodeId {
    return this.raft.id;
  }

  tick(): void {
    this.raft.tick();
  }

  campaign(): void {
    this.raft.step(makeMessage({ type: MessageType.Hup, from: this.raft.id }));
  }

  propose(data: Uint8Array): void {
    this.raft.step(makeMessage({
      type: MessageType.Prop, from: this.raft.id, entries: [{ term: 0, index: 0, type: EntryType.Normal, data }],
    }));
  }

  /**
   * proposeBatch proposes several entries in one step: one append and one round of App messages
   * for all of them (group commit; etcd's MsgProp carries many entries too). All or none are taken.
   */
  proposeBatch(data: readonly Uint8Array[]): void {
    if (data.length === 0) return;
    this.raft.step(makeMessage({
      type: MessageType.Prop, from: this.raft.id, entries: data.map((one) => ({ term: 0, index: 0, type: EntryType.Normal, data: one })),
    }));
  }

  /**
   * proposeConfChange validates the change against the current configuration (throws
   * ConfChangeError if it could never apply) and proposes it. The leader refuses it with
   * ProposalDroppedError('conf-change-pending') while another change is pending.
   */
  proposeConfChange(change: ConfChange): void {
    const trk = this.raft.trk;
    new Changer({ config: trk.config, progress: trk.progress }, this.raft.raftLog.lastIndex(), trk.maxInflightMsgs).applyChange(change);
    this.raft.step(makeMessage({ type: MessageType.Prop, from: this.raft.id, entries: [confChangeEntry(change)] }));
  }

  applyConfChange(change: ConfChange): ConfState {
    return this.raft.applyConfChange(change);
  }

  transferLeadership(transferee: NodeId): void {
    this.raft.step(makeMessage({ type: MessageType.TransferLeader, from: transferee }));
  }

  readIndex(context: Uint8Array): void {
    this.raft.step(makeMessage({ type: MessageType.ReadIndex, from: NONE, context }));
  }

  /**
   * step feeds a message from the network. Throws StepLocalMessageError for local-only types,
   * InvalidMessageError for a malformed message or one impossible for this node (validateAgainstReceiver:
   * a commit or acknowledgement beyond its log, a forwarded conf change that cannot apply), and PeerNotFoundError for a response from a
   * node outside the configuration (callers drop the message in all three cases). A proposal forwarded by a follower that this node refuses is dropped silently: the
   * follower's client times out and retries, as with any lost message.
   */
  step(message: Message): void {
    if (isLocalMessage(message.type)) throw new StepLocalMessageError(message.type);
    validateWireMessage(message);
    const raft = this.raft;
    validateAgainstReceiver(message, {
      term: raft.term, lastIndex: raft.raftLog.lastIndex(), isLeader: raft.state === 'leader',
      membership: { config: raft.trk.config, progress: raft.trk.progress }, maxInflightMsgs: raft.trk.maxInflightMsgs,
    });
    if (isResponseMessage(message.type) && !this.raft.trk.progress.has(message.from)) throw new PeerNotFoundError(message.from);
    if (message.type === MessageType.Prop) {
      if (message.entries.length === 0) {
        this.raft.cfg.logger.warn(`${this.raft.id} dropped a forwarded proposal without entries from ${message.from}`);
        return;
      }
      try {
        this.raft.step(message);
      } catch (error) {
        if (!(error instanceof ProposalDroppedError) && !(error instanceof ConfChangeDecodeError)) throw error;
        this.raft.cfg.logger.debug(`${this.raft.id} dropped a forwarded proposal from ${message.from}: ${error.message}`);
      }
      return;
    }
    this.raft.step(message);
  }

  reportUnreachable(id: NodeId): void {
    this.raft.step(makeMessage({ type: MessageType.Unreachable, from: id }));
  }

  leaderLost(id: NodeId, withinTicks: number): boolean {
    return this.raft.leaderLost(id, withinTicks);
  }

  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.step(makeMessage({ type: MessageType.SnapStatus, from: id, reject: !ok }));
  }

  hasReady(): boolean {
    if (this.pending !== undefined) return false;
    const raft = this.raft;
    const soft = raft.softState();
    if (soft.leader !== this.prevSoftState.leader || soft.role !== this.prevSoftState.role) return true;
    const hard = raft.hardState();
    if (!isEmptyHardState(hard) && !hardStateEqual(hard, this.prevHardState)) return true;
    if (raft.raftLog.unstable.snapshot !== undefined) return true;
    if (raft.raftLog.unstable.entries.length > 0) return true;
    if (raft.messages.length > 0) return true;
    if (raft.readStates.length > 0) return true;
    return raft.raftLog.hasNextCommittedEntries();
  }

  ready(): Ready {
    assert(this.pending === undefined, 'ready() called again before advance()');
    const raft = this.raft;
    const soft = raft.softState();
    const hard = raft.hardState();
    const softChanged = soft.leader !== this.prevSoftState.leader || soft.role !== this.prevSoftState.role;
    const hardChanged = !hardStateEqual(hard, this.prevHardState);
    const entries = raft.raftLog.unstableEntries();
    const snapshot: Snapshot | undefined = raft.raftLog.unstable.snapshot;
    const ready: Ready = {
      ...(softChanged ? { softState: soft } : {}),
      ...(hardChanged ? { hardState: hard } : {}),
      ...(snapshot !== undefined ? { snapshot } : {}),
      readStates: raft.readStates,
      entries,
      committedEntries: raft.raftLog.nextCommittedEntries(),
      messages: raft.messages,
      // A new term or vote must be durable before any message that depends on it leaves
      // (paper 5.2: one vote per term survives restarts); so must appended entries (5.3).
      mustSync: entries.length > 0 || snapshot !== undefined || hard.term !== this.prevHardState.term || hard.vote !== this.prevHardState.vote,
    };
    if (softChanged) this.prevSoftState = soft;
    if (hardChanged) this.prevHardState = hard;
    raft.messages = [];
    raft.readStates = [];
    this.pending = ready;
    return ready;
  }

  advance(): void {
    const ready = this.pending;
    assert(ready !== undefined, 'advance() called without a Ready');
    this.pending = undefined;
    const raft = this.raft;
    if (ready.snapshot !== undefined) {
      raft.raftLog.stableSnapTo(ready.snapshot.metadata.index);
      raft.appliedSnapshot(ready.snapshot.metadata.index);
    }
    if (ready.entries.length > 0) {
      const last = ready.entries[ready.entries.length - 1]!;
      raft.raftLog.stableTo(last.index, last.term);
    }
    if (ready.committedEntries.length > 0) {
      raft.advanceApplied(ready.committedEntries[ready.committedEntries.length - 1]!.index, ready.committedEntries);
    }
  }

  status(): Status {
    const raft = this.raft;
    const progress = new Map<NodeId, PeerProgress>();
    if (raft.state === 'leader') raft.trk.visit((id, pr) => progress.set(id, pr.toPeerProgress()));
    return {
      id: raft.id,
      hardState: raft.hardState(),
      softState: raft.softState(),
      applied: raft.raftLog.applied,
      leadTransferee: raft.leadTransferee,
      confState: raft.trk.confState(),
      progress,
    };
  }
}

/** BootstrappableStorage is a fresh Storage that can take a snapshot and a hard state (MemoryStorage does). */
export interface BootstrappableStorage extends Storage {
  applySnapshot(snapshot: Snapshot): void;
  setHardState(hardState: HardState): void;
}

/**
 * bootstrapStorage prepares a founding member's empty storage: a snapshot at index 1, term 1
 * carrying the founding ConfState and the application's initial state (`initialData`, empty by
 * default), and hard state {term 1, vote none, commit 1}. Every founding member must be
 * bootstrapped with the same arguments; the application starts from `initialData` (the first
 * Ready does not hand this snapshot out: it is already durable).
 *
 * Members added later start with an empty storage and an empty configuration (no bootstrap).
 * The leader finds that they lack entries it has compacted (index 1 is in the snapshot) and
 * sends its latest snapshot; a node with an empty configuration accepts a snapshot even if it
 * is not yet in that snapshot's configuration, and learns of its own membership from the
 * entries that follow. Throws ConfigError if the storage is not empty or there is no voter.
 */
export function bootstrapStorage(storage: BootstrappableStorage, confState: ConfState, initialData: Uint8Array = EMPTY_BYTES): Snapshot {
  const { hardState } = storage.initialState();
  if (storage.lastIndex() !== 0 || !isEmptyHardState(hardState)) {
    throw new ConfigError('storage', 'an empty storage to bootstrap', `lastIndex ${storage.lastIndex()}, term ${hardState.term}`);
  }
  if (confState.voters.length === 0) throw new ConfigError('confState.voters', 'at least one voter', confState.voters.length);
  const snapshot: Snapshot = { metadata: { index: 1, term: 1, confState }, data: initialData };
  storage.applySnapshot(snapshot);
  storage.setHardState({ term: 1, vote: NONE, commit: 1 });
  return snapshot;
}
