// Goal: the leader promotes a learner only once it has answered and holds the log within the lag bound,
// and hands leadership only to such a voter: a learner that never answered (match 0, probe state) is not
// "caught up" even when the whole log is shorter than the bound — promoting one could cost the cluster
// its quorum (issue #17's disaster-recovery run did exactly that).
// Method: MembershipControl over a stand-in RawNode that reports a chosen Status and records proposals.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType } from '../../src/raft/index.js';
import type { NodeId, PeerProgress, RawNode, Status } from '../../src/raft/index.js';
import { MembershipControl } from '../../src/node/runtime-membership.js';
import { MemberDirectory } from '../../src/node/member-directory.js';

function progress(init: Partial<PeerProgress>): PeerProgress {
  return { match: 0, next: 1, state: 'probe', recentActive: true, isLearner: true, inflight: 0, ...init };
}

function control(learner: PeerProgress, lastIndex: number): { proposals: Array<{ type: ConfChangeType; nodeId: NodeId }>; run: () => void } {
  const proposals: Array<{ type: ConfChangeType; nodeId: NodeId }> = [];
  const status = {
    id: 1, applied: lastIndex, leadTransferee: 0,
    hardState: { term: 2, vote: 1, commit: lastIndex },
    softState: { role: 'leader', lead: 1 },
    confState: { voters: [1, 2, 3], votersOutgoing: [], learners: [4], learnersNext: [], autoLeave: false },
    progress: new Map<NodeId, PeerProgress>([[2, progress({ match: lastIndex, state: 'replicate', isLearner: false })], [4, learner]]),
  } as unknown as Status;
  const node = {
    status: () => status,
    proposeConfChange: (cc: { changes: Array<{ type: ConfChangeType; nodeId: NodeId }> }) => { proposals.push(...cc.changes); },
    transferLeadership: () => undefined,
  } as unknown as RawNode;
  const directory = new MemberDirectory();
  const desired = new Map([
    [1, { address: { host: '127.0.0.1', port: 1, publicKey: 'a' }, voter: true }],
    [2, { address: { host: '127.0.0.1', port: 2, publicKey: 'b' }, voter: true }],
    [3, { address: { host: '127.0.0.1', port: 3, publicKey: 'c' }, voter: true }],
    [4, { address: { host: '127.0.0.1', port: 4, publicKey: 'd' }, voter: true }],
  ]);
  const membership = new MembershipControl({ id: 1, node, directory: () => directory, lastIndex: () => lastIndex, desiredMembers: () => desired, promoteLagEntries: 100 });
  return { proposals, run: () => membership.reconcile() };
}

describe('learner promotion', () => {
  test('a learner that never answered is not promoted, even when the log is shorter than the lag bound', () => {
    const c = control(progress({ match: 0, state: 'probe' }), 12);
    c.run();
    assert.deepEqual(c.proposals, []);
  });

  test('a learner still probing is not promoted, whatever its recorded match', () => {
    const c = control(progress({ match: 10, state: 'probe' }), 12);
    c.run();
    assert.deepEqual(c.proposals, []);
  });

  test('a learner that answered and is within the bound is promoted', () => {
    const c = control(progress({ match: 10, state: 'replicate' }), 12);
    c.run();
    assert.deepEqual(c.proposals, [{ type: ConfChangeType.AddNode, nodeId: 4 }]);
  });

  test('a learner that answered but lags by more than the bound waits', () => {
    const c = control(progress({ match: 10, state: 'replicate' }), 500);
    c.run();
    assert.deepEqual(c.proposals, []);
  });
});
