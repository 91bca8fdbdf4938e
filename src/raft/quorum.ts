// quorum.ts — majority and joint quorums: the committed index and the result of a vote
// (etcd-io/raft's quorum package; thesis 4.3 for joint consensus).
import type { NodeId } from './types.js';

/** VoteResult is the outcome of a vote so far. */
export type VoteResult = 'pending' | 'lost' | 'won';

/** AckedIndexer returns the index acknowledged by a voter, or undefined when unknown. */
export type AckedIndexer = (id: NodeId) => number | undefined;

/**
 * majorityCommittedIndex returns the largest index acknowledged by a majority of `voters`.
 * An empty configuration returns +Infinity, so that it never constrains a joint configuration.
 */
export function majorityCommittedIndex(voters: ReadonlySet<NodeId>, acked: AckedIndexer): number {
  if (voters.size === 0) return Number.POSITIVE_INFINITY;
  const indexes: number[] = [];
  for (const id of voters) indexes.push(acked(id) ?? 0);
  indexes.sort((a, b) => a - b);
  // With n voters sorted ascending, the entry at n - (n/2 + 1) is held by a majority.
  return indexes[indexes.length - (Math.floor(indexes.length / 2) + 1)]!;
}

/** majorityVoteResult tallies `votes` (true = granted) over `voters`; an empty config wins. */
export function majorityVoteResult(voters: ReadonlySet<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.size === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === undefined) missing++;
    else if (vote) granted++;
  }
  const quorum = Math.floor(voters.size / 2) + 1;
  if (granted >= quorum) return 'won';
  if (granted + missing >= quorum) return 'pending';
  return 'lost';
}

/** JointConfig is a pair of voter sets; outside a joint configuration `outgoing` is empty. */
export interface JointConfig {
  readonly incoming: Set<NodeId>;
  readonly outgoing: Set<NodeId>;
}

/** jointCommittedIndex is the smaller of both majorities' committed indexes. */
export function jointCommittedIndex(config: JointConfig, acked: AckedIndexer): number {
  return Math.min(majorityCommittedIndex(config.incoming, acked), majorityCommittedIndex(config.outgoing, acked));
}

/** jointVoteResult requires both majorities (thesis 4.3): lost if either is lost, won if both are won. */
export function jointVoteResult(config: JointConfig, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const incoming = majorityVoteResult(config.incoming, votes);
  const outgoing = majorityVoteResult(config.outgoing, votes);
  if (incoming === outgoing) return incoming;
  if (incoming === 'lost' || outgoing === 'lost') return 'lost';
  return 'pending';
}

/** jointIds returns every voter of either half. */
export function jointIds(config: JointConfig): Set<NodeId> {
  return new Set([...config.incoming, ...config.outgoing]);
}
