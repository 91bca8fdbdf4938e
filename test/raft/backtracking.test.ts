// backtracking.test.ts — fast log backtracking with conflict hints (the optimisation sketched
// in paper 5.3 and implemented as in etcd-io/raft): a follower that rejects an App names the
// last index whose term is <= the leader's term at the probed index, and the leader skips every
// index in between, so a divergent suffix costs about one round trip per term, not per entry.
//
// Method: findConflictByTerm tables on a log, a leader stepping a hinted rejection, and a
// network where a follower holds a 200-entry divergent suffix.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType } from '../../src/raft/index.js';
import { Network } from './support/network.js';
import { entriesWithTerms, entryTerms, msg, newRaft, newStorage, takeMessages } from './support/raft-helpers.js';

describe('fast backtracking', () => {
  // Log: index 1..5 with terms [1, 1, 2, 2, 4].
  const cases: { index: number; term: number; want: [number, number] }[] = [
    { index: 5, term: 4, want: [5, 4] },
    { index: 5, term: 3, want: [4, 2] },
    { index: 5, term: 2, want: [4, 2] },
    { index: 5, term: 1, want: [2, 1] },
    { index: 5, term: 0, want: [0, 0] },
    { index: 3, term: 5, want: [3, 2] },
    { index: 0, term: 9, want: [0, 0] },
  ];
  for (const c of cases) {
    test(`findConflictByTerm(${c.index}, ${c.term}) on [1,1,2,2,4] is (${c.want.join(', ')})`, () => {
      const { raft } = newRaft(1, [1, 2], {}, newStorage([1, 2], entriesWithTerms([1, 1, 2, 2, 4])));
      const found = raft.raftLog.findConflictByTerm(c.index, c.term);
      assert.deepEqual([found.index, found.term], c.want);
    });
  }

  test('a rejecting follower sends the hint (index, term) for the leader to skip to', () => {
    const { raft } = newRaft(2, [1, 2], {}, newStorage([1, 2], entriesWithTerms([1, 1, 2, 2, 2, 2]), { term: 5, vote: 0, commit: 0 }));
    raft.step(msg({ type: MessageType.App, from: 1, to: 2, term: 5, index: 8, logTerm: 4 }));
    const [response] = takeMessages(raft);
    assert.deepEqual([response!.reject, response!.index, response!.rejectHint, response!.logTerm], [true, 8, 6, 2]);
  });

  test('the leader jumps over the conflicting terms on a hinted rejection', () => {
    // Leader log terms [1, 1, 3, 3, 3, 3, 3, 3]: the follower says it has term 2 at index 6.
    const { raft } = newRaft(1, [1, 2], {}, newStorage([1, 2], entriesWithTerms([1, 1, 3, 3, 3, 3, 3, 3]), { term: 3, vote: 0, commit: 0 }));
    raft.becomeCandidate();
    raft.becomeLeader();
    takeMessages(raft);
    const pr = raft.trk.progress.get(2)!;
    raft.bcastAppend();
    const [probe] = takeMessages(raft);
    raft.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 4, index: probe!.index, reject: true, rejectHint: 6, logTerm: 2 }));
    // The last leader index with term <= 2 is 2: probe right after it.
    assert.equal(pr.next, 3);
    const [next] = takeMessages(raft);
    assert.deepEqual([next!.index, next!.logTerm], [2, 1]);
  });

  test('a 200-entry divergent suffix is repaired in a few round trips', () => {
    const net = new Network([1, 2, 3], { config: () => ({ preVote: false, checkQuorum: false }) });
    const common = Array.from({ length: 10 }, () => 1);
    const leaderTerms = [...common, ...Array.from({ length: 100 }, () => 3)];
    const followerTerms = [...common, ...Array.from({ length: 200 }, () => 2)];
    const options = { config: () => ({ preVote: false, checkQuorum: false }) };
    net.add(1, newStorage([1, 2, 3], entriesWithTerms(leaderTerms), { term: 3, vote: 0, commit: 10 }), options);
    net.add(2, newStorage([1, 2, 3], entriesWithTerms(followerTerms), { term: 2, vote: 0, commit: 10 }), options);
    net.add(3, newStorage([1, 2, 3], entriesWithTerms(leaderTerms), { term: 3, vote: 0, commit: 10 }), options);
    net.campaign(1);
    assert.deepEqual(net.leaderIds(), [1]);
    const rejections = net.delivered.filter((m) => m.type === MessageType.AppResp && m.from === 2 && m.reject).length;
    assert.ok(rejections <= 2, `${rejections} rejections`);
    assert.deepEqual(entryTerms(net.raw(2).raft.raftLog.allEntries()), entryTerms(net.raw(1).raft.raftLog.allEntries()));
  });
});
