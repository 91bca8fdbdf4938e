// snapshot.test.ts — log compaction and InstallSnapshot (thesis chapter 5): a leader whose log
// no longer holds what a follower needs sends its snapshot and pauses that follower until the
// snapshot is reported; a follower installs a newer snapshot, ignores a stale one, and only
// fast-forwards commit when its log already holds the snapshot's last entry; the Ready carries
// the snapshot to persist and apply.
//
// Method: a leader Raft over a compacted MemoryStorage stepped directly; followers stepped with
// Snap messages; and a network where an isolated node falls behind a compaction.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MemoryStorage, MessageType, SnapshotTemporarilyUnavailableError,
} from '../../src/raft/index.js';
import type { Snapshot } from '../../src/raft/index.js';
import { Network, bytes, confState, text } from './support/network.js';
import { entriesWithTerms, msg, newRaft, newStorage, takeMessages } from './support/raft-helpers.js';

const snapshotAt = (index: number, term: number, voters = [1, 2]): Snapshot =>
  ({ metadata: { index, term, confState: confState(voters) }, data: bytes(`state@${index}`) });

/** leaderOverCompactedLog: node 1 leads [1, 2]; its storage holds a snapshot at 11 and entries 12..12. */
function leaderOverCompactedLog() {
  const storage = new MemoryStorage();
  storage.applySnapshot(snapshotAt(11, 11));
  storage.setHardState({ term: 11, vote: 0, commit: 11 });
  const { raft } = newRaft(1, [1, 2], {}, storage);
  raft.becomeCandidate();
  raft.becomeLeader();
  takeMessages(raft);
  return { raft, storage };
}

describe('snapshots', () => {
  test('a leader sends its snapshot to a follower that needs compacted entries, and pauses it', () => {
    const { raft } = leaderOverCompactedLog();
    const pr = raft.trk.progress.get(2)!;
    pr.recentActive = true;
    pr.next = 5; // the follower needs entry 5, long compacted
    raft.bcastAppend();
    const [snap] = takeMessages(raft);
    assert.equal(snap!.type, MessageType.Snap);
    assert.equal(snap!.snapshot!.metadata.index, 11);
    assert.equal(text(snap!.snapshot!.data), 'state@11');
    assert.deepEqual([pr.state, pr.pendingSnapshot], ['snapshot', 11]);
    raft.step(msg({ type: MessageType.Prop, from: 1, entries: entriesWithTerms([0]) }));
    assert.deepEqual(takeMessages(raft).filter((m) => m.to === 2), [], 'nothing else while the snapshot is in flight');
  });

  test('no snapshot is sent to a follower that has not been heard from recently', () => {
    const { raft } = leaderOverCompactedLog();
    const pr = raft.trk.progress.get(2)!;
    pr.recentActive = false;
    pr.next = 5;
    raft.bcastAppend();
    assert.deepEqual(takeMessages(raft), []);
    assert.equal(pr.state, 'probe');
  });

  test('a follower that answers the snapshot goes back to replicating from the log', () => {
    const { raft } = leaderOverCompactedLog();
    const pr = raft.trk.progress.get(2)!;
    pr.recentActive = true;
    pr.next = 5;
    raft.bcastAppend();
    takeMessages(raft);
    raft.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: raft.term, index: 11 }));
    assert.equal(pr.state, 'replicate');
    assert.equal(pr.match, 11);
    const apps = takeMessages(raft).filter((m) => m.type === MessageType.App && m.to === 2);
    assert.equal(apps[0]!.index, 11, 'entries after the snapshot follow');
  });

  for (const ok of [true, false]) {
    test(`reportSnapshot(${ok}) resumes probing${ok ? ' after the snapshot' : ' and a failed snapshot is resent'}`, () => {
      const { raft } = leaderOverCompactedLog();
      const pr = raft.trk.progress.get(2)!;
      pr.recentActive = true;
      pr.next = 5;
      raft.bcastAppend();
      takeMessages(raft);
      raft.step(msg({ type: MessageType.SnapStatus, from: 2, to: 1, reject: !ok }));
      assert.equal(pr.state, 'probe');
      assert.equal(pr.next, ok ? 12 : 1);
      assert.equal(pr.probeSent, true, 'waits for the follower before probing');
      raft.step(msg({ type: MessageType.HeartbeatResp, from: 2, to: 1, term: raft.term }));
      const next = takeMessages(raft).filter((m) => m.to === 2 && (m.type === MessageType.App || m.type === MessageType.Snap));
      assert.equal(next[0]!.type, ok ? MessageType.App : MessageType.Snap);
    });
  }

  test('a snapshot that is temporarily unavailable is retried later, nothing is sent meanwhile', () => {
    class FlakyStorage extends MemoryStorage {
      failures = 1;
      override snapshot(): Snapshot {
        if (this.failures-- > 0) throw new SnapshotTemporarilyUnavailableError('being created');
        return super.snapshot();
      }
    }
    const storage = new FlakyStorage();
    storage.applySnapshot(snapshotAt(11, 11));
    storage.setHardState({ term: 11, vote: 0, commit: 11 });
    const { raft } = newRaft(1, [1, 2], {}, storage);
    raft.becomeCandidate();
    raft.becomeLeader();
    takeMessages(raft);
    const pr = raft.trk.progress.get(2)!;
    pr.recentActive = true;
    pr.next = 5;
    raft.bcastAppend();
    assert.deepEqual(takeMessages(raft), []);
    assert.equal(pr.state, 'probe');
    raft.bcastAppend();
    assert.equal(takeMessages(raft)[0]!.type, MessageType.Snap);
  });

  test('a follower installs a newer snapshot: log, commit and configuration come from it', () => {
    const { raft } = newRaft(2, [1, 2]);
    raft.becomeFollower(2, 1);
    raft.step(msg({ type: MessageType.Snap, from: 1, to: 2, term: 2, snapshot: snapshotAt(11, 2, [1, 2, 3]) }));
    assert.equal(raft.raftLog.committed, 11);
    assert.equal(raft.raftLog.lastIndex(), 11);
    assert.equal(raft.raftLog.firstIndex(), 12);
    assert.deepEqual(raft.trk.voterIds(), [1, 2, 3]);
    const [response] = takeMessages(raft);
    assert.deepEqual([response!.type, response!.index, response!.reject], [MessageType.AppResp, 11, false]);
  });

  test('a stale snapshot (at or below commit) is ignored and answered with the commit index', () => {
    const { raft } = newRaft(2, [1, 2], {}, newStorage([1, 2], entriesWithTerms([1, 1, 1]), { term: 1, vote: 0, commit: 3 }));
    raft.becomeFollower(1, 1);
    raft.step(msg({ type: MessageType.Snap, from: 1, to: 2, term: 1, snapshot: snapshotAt(2, 1) }));
    assert.equal(raft.raftLog.unstable.snapshot, undefined);
    assert.equal(takeMessages(raft)[0]!.index, 3);
  });

  test("a snapshot whose last entry the follower already has only fast-forwards commit", () => {
    const { raft } = newRaft(2, [1, 2], {}, newStorage([1, 2], entriesWithTerms([1, 1, 1, 1]), { term: 1, vote: 0, commit: 1 }));
    raft.becomeFollower(1, 1);
    raft.step(msg({ type: MessageType.Snap, from: 1, to: 2, term: 1, snapshot: snapshotAt(3, 1) }));
    assert.equal(raft.raftLog.unstable.snapshot, undefined, 'no restore');
    assert.equal(raft.raftLog.committed, 3);
    assert.equal(raft.raftLog.lastIndex(), 4, 'entries after it are kept');
  });

  test('a node with a configuration refuses a snapshot that does not include it', () => {
    const { raft } = newRaft(2, [1, 2]);
    raft.becomeFollower(2, 1);
    raft.step(msg({ type: MessageType.Snap, from: 1, to: 2, term: 2, snapshot: snapshotAt(11, 2, [1, 3]) }));
    assert.equal(raft.raftLog.committed, 0);
  });

  test('end to end: a node isolated across a compaction catches up by snapshot; the Ready hands the snapshot out first', () => {
    const net = new Network([1, 2, 3], { config: () => ({ preVote: true, checkQuorum: true }) });
    net.campaign(1);
    net.isolate(3);
    for (let i = 0; i < 20; i++) net.propose(1, `v${i}`);
    // Nodes 1 and 2 snapshot their (test) state and compact their logs.
    for (const id of [1, 2]) {
      const node = net.get(id);
      const applied = node.node.raft.raftLog.applied;
      node.storage.createSnapshot(applied, node.node.status().confState, bytes(node.appliedData().join(',')));
      node.storage.compact(applied);
    }
    net.heal();
    net.tick(2);
    const follower = net.get(3);
    assert.equal(follower.snapshotsApplied.length, 1);
    assert.equal(follower.storage.snapshot().metadata.index, net.get(1).storage.snapshot().metadata.index);
    assert.equal(text(follower.storage.snapshot().data), net.get(1).appliedData().join(','));
    net.propose(1, 'after');
    assert.deepEqual(follower.appliedData(), ['after'], 'only entries after the snapshot are applied as entries');
    assert.equal(follower.node.raft.raftLog.applied, net.get(1).node.raft.raftLog.applied);
  });
});
