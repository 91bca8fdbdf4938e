// restart.test.ts — a node rebuilt from its Storage comes back with its term, vote, commit and
// log (never voting twice in a term, never losing a committed entry), as a follower; Config.applied
// decides which committed entries are handed out again; a whole cluster restarts and continues.
//
// Method: networks whose nodes are rebuilt from their MemoryStorage (a crash after the last
// persisted Ready), and single Raft instances built over prepared storages.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError, MessageType } from '../../src/raft/index.js';
import { Network } from './support/network.js';
import { entriesWithTerms, entryTerms, msg, newRaft, newStorage, takeMessages } from './support/raft-helpers.js';

describe('restart from storage', () => {
  test('term, vote, commit and log survive; the node restarts as a follower', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    net.propose(1, 'a');
    net.propose(1, 'b');
    const before = net.raw(1).status();
    const log = entryTerms(net.raw(1).raft.raftLog.allEntries());
    net.get(1).restart();
    const after = net.raw(1).status();
    assert.deepEqual(after.hardState, before.hardState);
    assert.equal(after.hardState.vote, 1);
    assert.equal(after.softState.role, 'follower');
    assert.deepEqual(entryTerms(net.raw(1).raft.raftLog.allEntries()), log);
  });

  test('committed entries are handed out again above Config.applied, and only those', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    for (const v of ['a', 'b', 'c']) net.propose(1, v);
    const node = net.get(2);
    node.restart({ applied: 3 });
    const ready = node.node.ready();
    assert.deepEqual(ready.committedEntries.map((e) => e.index), [4]);
    node.node.advance();
    node.restart();
    const fromScratch = node.node.ready();
    assert.deepEqual(fromScratch.committedEntries.map((e) => e.index), [1, 2, 3, 4]);
    node.node.advance();
  });

  test('a restarted voter refuses a second candidate in the term it voted in', () => {
    const { raft, storage } = newRaft(1, [1, 2, 3]);
    raft.step(msg({ type: MessageType.Vote, from: 2, to: 1, term: 4 }));
    storage.setHardState(raft.hardState());
    const { raft: restarted } = newRaft(1, [1, 2, 3], {}, storage);
    restarted.step(msg({ type: MessageType.Vote, from: 3, to: 1, term: 4 }));
    assert.deepEqual(takeMessages(restarted).map((m) => [m.type, m.reject]), [[MessageType.VoteResp, true]]);
    restarted.step(msg({ type: MessageType.Vote, from: 2, to: 1, term: 4 }));
    assert.deepEqual(takeMessages(restarted).map((m) => [m.type, m.reject]), [[MessageType.VoteResp, false]], 'the same candidate again is fine');
  });

  test('a whole cluster restarts, elects a leader and keeps every committed entry', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(2);
    for (const v of ['a', 'b']) net.propose(2, v);
    for (const id of [1, 2, 3]) net.get(id).restart();
    net.tick(30);
    assert.equal(net.leaderIds().length, 1);
    const leader = net.leaderIds()[0]!;
    net.propose(leader, 'c');
    for (const id of [1, 2, 3]) {
      const data = net.get(id).appliedData();
      assert.deepEqual(data.slice(-3), ['a', 'b', 'c'], `node ${id}`);
    }
  });

  test('a hard state whose commit is beyond the log is a broken invariant', () => {
    const storage = newStorage([1, 2], entriesWithTerms([1]), { term: 1, vote: 0, commit: 5 });
    assert.throws(() => newRaft(1, [1, 2], {}, storage), AssertionError);
  });

  test('Config.applied beyond the commit index is a broken invariant', () => {
    const storage = newStorage([1, 2], entriesWithTerms([1, 1]), { term: 1, vote: 0, commit: 1 });
    assert.throws(() => newRaft(1, [1, 2], { applied: 2 }, storage), AssertionError);
  });
});
