// planted-raft.ts — the Raft core's planted bugs (issue 2), test-only: each is a subclass of Raft
// that breaks one rule of the paper, handed to RawNode through its `createRaft` parameter, so that
// no production type carries a test switch. The simulator (test/raft/sim) must catch every one as a
// safety violation; test/raft/planted.test.ts shows each changes the core's behaviour.
import { Raft } from '../../../src/raft/raft.js';
import { MessageType } from '../../../src/raft/index.js';
import type { ConfChange, Config, Message, Ready } from '../../../src/raft/index.js';

/** PlantedBug names a test-only defect of the Raft core that the simulator must catch. */
export type PlantedBug =
  | 'no-term-start-entry'
  | 'commit-old-term-by-count'
  | 'vote-without-log-check'
  | 'two-pending-conf-changes'
  | 'ack-before-persist';

/** PLANTED_BUGS lists every PlantedBug, for CLIs and tests. */
export const PLANTED_BUGS: readonly PlantedBug[] = [
  'no-term-start-entry',
  'commit-old-term-by-count',
  'vote-without-log-check',
  'two-pending-conf-changes',
  'ack-before-persist',
];

/** NoTermStartEntryRaft: a new leader does not append the empty entry of its term (paper 5.4.2, 8). */
class NoTermStartEntryRaft extends Raft {
  protected override appendTermStartEntry(): void {
    // Planted: nothing is appended, so a new leader never commits its predecessors' entries by itself.
  }
}

/** CommitOldTermByCountRaft: the leader commits whatever a quorum holds, of any term (Figure 8's bug). */
class CommitOldTermByCountRaft extends Raft {
  override maybeCommit(): boolean {
    const index = this.trk.committed();
    if (!Number.isFinite(index) || index <= this.raftLog.committed) return false;
    this.raftLog.commitTo(index);
    return true;
  }
}

/** VoteWithoutLogCheckRaft: a vote is granted to any candidate, however stale its log (paper 5.4.1). */
class VoteWithoutLogCheckRaft extends Raft {
  protected override candidateLogUpToDate(): boolean {
    return true;
  }
}

/** TwoPendingConfChangesRaft: a conf change is accepted while another is still unapplied (thesis 4.1). */
class TwoPendingConfChangesRaft extends Raft {
  protected override confChangeRefusal(change: ConfChange): string | undefined {
    return super.confChangeRefusal(change, 0);
  }
}

/**
 * createRaftFor returns the `createRaft` argument of RawNode for `bug`: the subclass that breaks the
 * rule, or the plain Raft. 'ack-before-persist' is not in the core at all: the harness sends a
 * follower's AppResp before persisting (see earlyMessages).
 */
export function createRaftFor(bug: PlantedBug | undefined): (config: Config) => Raft {
  switch (bug) {
    case 'no-term-start-entry': return (config) => new NoTermStartEntryRaft(config);
    case 'commit-old-term-by-count': return (config) => new CommitOldTermByCountRaft(config);
    case 'vote-without-log-check': return (config) => new VoteWithoutLogCheckRaft(config);
    case 'two-pending-conf-changes': return (config) => new TwoPendingConfChangesRaft(config);
    default: return (config) => new Raft(config);
  }
}

/**
 * earlyMessages splits a Ready's messages for a harness running `bug`: with 'ack-before-persist' a
 * follower's acknowledgements (AppResp) leave before the Ready is persisted, so the leader may count an
 * entry the follower then loses in a crash; otherwise nothing leaves early.
 */
export function earlyMessages(ready: Ready, bug: PlantedBug | undefined): { early: Message[]; late: Message[] } {
  if (bug !== 'ack-before-persist') return { early: [], late: [...ready.messages] };
  return {
    early: ready.messages.filter((m) => m.type === MessageType.AppResp),
    late: ready.messages.filter((m) => m.type !== MessageType.AppResp),
  };
}
