// runtime-membership.ts — membership control of the Raft runtime: on the leader, every tick, make the
// Raft configuration match the desired membership, one change at a time (controller-runtime style:
// level-triggered and idempotent, so a change refused now is simply tried again at the next tick).
import { ConfChangeType, ProposalDroppedError } from '../raft/index.js';
import type { NodeId, RawNode, Status } from '../raft/index.js';
import { encodeMemberContext } from './member-directory.js';
import type { MemberContext, MemberDirectory } from './member-directory.js';
import type { PeerAddress } from './ports.js';

/** DesiredMembers is the membership the leader converges to: each member's address and whether it votes. */
export type DesiredMembers = ReadonlyMap<NodeId, { address: PeerAddress; voter: boolean }>;

/** MembershipControlInit is what membership control reads; the directory is a getter (a snapshot replaces it). */
export interface MembershipControlInit {
  readonly id: NodeId;
  readonly node: RawNode;
  readonly directory: () => MemberDirectory;
  /** lastIndex: the last index of this node's durable log. */
  readonly lastIndex: () => number;
  /** desiredMembers: the gateway mode's membership (the replicated state's members); absent in the bare-log mode. */
  readonly desiredMembers?: () => DesiredMembers;
  /** promoteLagEntries: a learner within this many entries of the leader's last index is promoted. */
  readonly promoteLagEntries: number;
}

/**
 * MembershipControl converges the Raft configuration. In the gateway mode the desired membership is
 * the replicated state's member list (changed by root-signed commands); in the bare-log mode it is the
 * explicit addMember/removeMember calls, recorded in the member directory. New members join as
 * learners and are promoted once within promoteLagEntries of the leader (thesis 4.2.1). A leader that
 * must be removed first hands leadership to a caught-up voter.
 */
export class MembershipControl {
  private readonly init: MembershipControlInit;

  constructor(init: MembershipControlInit) {
    this.init = init;
  }

  /** reconcile proposes at most one change towards the desired membership (leader only, outside a joint configuration). */
  reconcile(): void {
    const status = this.init.node.status();
    if (status.softState.role !== 'leader' || status.confState.votersOutgoing.length > 0) return;
    const desired = this.init.desiredMembers?.();
    if (desired !== undefined && this.reconcileMembers(status, desired)) return;
    this.promoteCaughtUpLearners(status, desired);
  }

  /** reconcileMembers removes one member that is not desired, or adds one that is missing; true when it acted. */
  private reconcileMembers(status: Status, desired: DesiredMembers): boolean {
    const conf = status.confState;
    const current = new Set([...conf.voters, ...conf.learners]);
    for (const id of current) {
      if (desired.has(id)) continue;
      if (id === this.init.id) {
        const successor = conf.voters.find((voter) => voter !== id && this.caughtUp(status, voter));
        if (successor !== undefined && status.leadTransferee === 0) this.init.node.transferLeadership(successor);
        return true;
      }
      this.tryConfChange(ConfChangeType.RemoveNode, id, { nodeId: id });
      return true;
    }
    for (const [id, member] of desired) {
      if (current.has(id)) continue;
      if (this.init.directory().isRemoved(id)) continue; // ids are never reused
      this.tryConfChange(ConfChangeType.AddLearner, id, { nodeId: id, address: member.address, promote: member.voter });
      return true;
    }
    return false;
  }

  /** promoteCaughtUpLearners promotes the first learner that should vote and has caught up. */
  private promoteCaughtUpLearners(status: Status, desired: DesiredMembers | undefined): void {
    for (const learner of status.confState.learners) {
      const wanted = desired !== undefined ? desired.get(learner)?.voter === true : this.init.directory().wantsPromotion(learner);
      if (!wanted || !this.caughtUp(status, learner)) continue;
      this.tryConfChange(ConfChangeType.AddNode, learner, { nodeId: learner });
      return;
    }
  }

  /**
   * caughtUp: member `id` has answered this leader (its progress is in the replicate state, which a
   * peer reaches only by acknowledging an append or a snapshot) and holds the log up to within
   * promoteLagEntries of the leader's last index. Without the first condition a learner that never
   * answered (match 0) counted as caught up while the log was shorter than the lag bound, and its
   * promotion could cost the cluster its quorum (found by the disaster-recovery test of issue #17).
   */
  private caughtUp(status: Status, id: NodeId): boolean {
    const progress = status.progress.get(id);
    if (progress === undefined || progress.state !== 'replicate' || progress.match === 0) return false;
    return progress.match + this.init.promoteLagEntries >= this.init.lastIndex();
  }

  /** tryConfChange proposes one single-member change; a change still pending (or no quorum yet) refuses it until a later tick. */
  private tryConfChange(type: ConfChangeType, nodeId: NodeId, context: MemberContext): void {
    try {
      this.init.node.proposeConfChange({ transition: 'auto', changes: [{ type, nodeId }], context: encodeMemberContext(context) });
    } catch (error) {
      if (!(error instanceof ProposalDroppedError)) throw error;
    }
  }
}
