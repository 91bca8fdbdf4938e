// flow-control.test.ts — pipelined replication with bounds: a follower in replicate state gets
// at most maxInflightMsgs unacknowledged App messages, each App carries at most
// maxSizePerMsgBytes of entries (but at least one entry), a heartbeat answer frees one slot of
// a full window, and a probing follower gets one App at a time.
//
// Method: drive a leader Raft directly and count the App messages it emits.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ENTRY_OVERHEAD_BYTES, MessageType } from '../../src/raft/index.js';
import type { Raft } from '../../src/raft/raft.js';
import { entry, msg, newRaft, takeMessages } from './support/raft-helpers.js';

function leaderWith(options: { maxInflightMsgs?: number; maxSizePerMsgBytes?: number }): Raft {
  const { raft } = newRaft(1, [1, 2], options);
  raft.becomeCandidate();
  raft.becomeLeader();
  takeMessages(raft);
  return raft;
}

function propose(raft: Raft, data = 'x'): void {
  raft.step(msg({ type: MessageType.Prop, from: 1, entries: [entry(0, 0, data)] }));
}

function appsTo(raft: Raft, to: number) {
  return takeMessages(raft).filter((m) => m.type === MessageType.App && m.to === to);
}

describe('flow control', () => {
  test('a probing follower gets one App at a time until it answers', () => {
    const raft = leaderWith({});
    const pr = raft.trk.progress.get(2)!;
    assert.equal(pr.state, 'probe');
    for (let i = 0; i < 5; i++) propose(raft);
    raft.bcastAppend();
    const apps = appsTo(raft, 2);
    assert.equal(apps.length, 1, 'five proposals and a broadcast, but one probe');
    assert.equal(pr.probeSent, true);
    raft.step(msg({ type: MessageType.HeartbeatResp, from: 2, to: 1, term: 1 }));
    assert.equal(appsTo(raft, 2).length, 1, 'a heartbeat answer allows the next probe');
  });

  test('in replicate state at most maxInflightMsgs Apps are outstanding; acknowledgements open the window', () => {
    const raft = leaderWith({ maxInflightMsgs: 3 });
    const pr = raft.trk.progress.get(2)!;
    raft.bcastAppend();
    const [probe] = appsTo(raft, 2);
    raft.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: probe!.index + probe!.entries.length }));
    takeMessages(raft);
    assert.equal(pr.state, 'replicate');
    for (let i = 0; i < 10; i++) propose(raft);
    const apps = appsTo(raft, 2).filter((m) => m.entries.length > 0);
    assert.equal(apps.length, 3, 'the window is full after three');
    assert.equal(pr.isPaused(), true);
    // Acknowledging the first frees one slot; the leader sends the rest in as many messages as fit.
    const first = apps[0]!;
    raft.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: first.index + first.entries.length }));
    const more = appsTo(raft, 2).filter((m) => m.entries.length > 0);
    assert.equal(more.length, 1);
    assert.equal(more[0]!.index, apps[2]!.index + 1, 'continues after the last sent entry (pipelined, not resent)');
  });

  test('a heartbeat answer frees one slot of a full window (the follower may have lost messages)', () => {
    const raft = leaderWith({ maxInflightMsgs: 1 });
    const pr = raft.trk.progress.get(2)!;
    raft.bcastAppend();
    const [probe] = appsTo(raft, 2);
    raft.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: probe!.index + probe!.entries.length }));
    takeMessages(raft);
    propose(raft);
    propose(raft);
    assert.equal(appsTo(raft, 2).filter((m) => m.entries.length > 0).length, 1);
    assert.equal(pr.isPaused(), true);
    raft.step(msg({ type: MessageType.HeartbeatResp, from: 2, to: 1, term: 1 }));
    assert.equal(appsTo(raft, 2).filter((m) => m.entries.length > 0).length, 1);
  });

  test('each App carries at most maxSizePerMsgBytes of entries, and at least one entry', () => {
    const dataBytes = 100;
    const perEntry = dataBytes + ENTRY_OVERHEAD_BYTES;
    const raft = leaderWith({ maxSizePerMsgBytes: 3 * perEntry, maxInflightMsgs: 100 });
    raft.bcastAppend();
    const [probe] = appsTo(raft, 2);
    for (let i = 0; i < 10; i++) propose(raft, 'y'.repeat(dataBytes));
    takeMessages(raft);
    // The follower acknowledged only the probe: everything after it is sent in bounded batches.
    raft.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: probe!.index + probe!.entries.length }));
    const apps = appsTo(raft, 2).filter((m) => m.entries.length > 0);
    const sizes = apps.map((m) => m.entries.reduce((sum, e) => sum + e.data.byteLength + ENTRY_OVERHEAD_BYTES, 0));
    assert.ok(sizes.every((size) => size <= 3 * perEntry), JSON.stringify(sizes));
    assert.equal(apps.reduce((n, m) => n + m.entries.length, 0), 10);
    const oversized = leaderWith({ maxSizePerMsgBytes: 1, maxInflightMsgs: 100 });
    oversized.bcastAppend();
    const [first] = appsTo(oversized, 2);
    assert.equal(first!.entries.length, 1, 'an entry larger than the limit still goes, alone');
  });

  test('an unreachable report sends a replicating follower back to probing', () => {
    const raft = leaderWith({});
    const pr = raft.trk.progress.get(2)!;
    raft.bcastAppend();
    const [probe] = appsTo(raft, 2);
    raft.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 1, index: probe!.index + probe!.entries.length }));
    assert.equal(pr.state, 'replicate');
    raft.step(msg({ type: MessageType.Unreachable, from: 2, to: 1 }));
    assert.equal(pr.state, 'probe');
  });
});
