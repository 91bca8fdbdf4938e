// ready.test.ts — the Ready/advance contract of src/raft/types.ts: what a Ready carries and
// when (hard state only on change, mustSync for term/vote/entries, soft state on change),
// committed entries bounded in bytes and never ahead of what is durable, one Ready at a time,
// refusals of local message types and of responses from strangers.
//
// Method: drive RawNodes by hand, handling each Ready as the application would.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AssertionError, ENTRY_OVERHEAD_BYTES, MemoryStorage, MessageType, PeerNotFoundError, RawNode, SeededRandom,
  StepLocalMessageError, makeMessage,
} from '../../src/raft/index.js';
import { Network, bytes, confState } from './support/network.js';

function single(options: { maxCommittedSizePerReadyBytes?: number } = {}): { node: RawNode; storage: MemoryStorage } {
  const storage = MemoryStorage.withConfState(confState([1]));
  return { node: new RawNode({ id: 1, storage, random: new SeededRandom(1), ...options }), storage };
}

describe('Ready and advance', () => {
  test('a campaign yields soft state, the new term and vote to sync, then entries', () => {
    const { node, storage } = single();
    assert.equal(node.hasReady(), false);
    node.campaign();
    const ready = node.ready();
    assert.deepEqual(ready.softState, { leader: 1, role: 'leader' });
    assert.deepEqual(ready.hardState, { term: 1, vote: 1, commit: 1 });
    assert.equal(ready.mustSync, true);
    assert.deepEqual(ready.entries.map((e) => [e.index, e.term]), [[1, 1]]);
    assert.deepEqual(ready.committedEntries.map((e) => e.index), [1], 'in this Ready too: it is persisted before it is applied');
    storage.append(ready.entries);
    storage.setHardState(ready.hardState!);
    node.advance();
    assert.equal(node.hasReady(), false);
    assert.equal(node.status().applied, 1);
  });

  test('a commit-only change needs no sync; an unchanged hard state is not repeated', () => {
    const net = new Network([1, 2]);
    net.campaign(1);
    const follower = net.raw(2);
    follower.step(makeMessage({ type: MessageType.Heartbeat, from: 1, to: 2, term: 1, commit: 1 }));
    const ready = follower.ready();
    assert.equal(ready.hardState, undefined, 'commit was already 1');
    assert.equal(ready.mustSync, false);
    follower.advance();
  });

  test('a granted vote must be synced before the response leaves (mustSync with no entries)', () => {
    const storage = MemoryStorage.withConfState(confState([1, 2, 3]));
    const node = new RawNode({ id: 1, storage, random: new SeededRandom(1) });
    node.step(makeMessage({ type: MessageType.Vote, from: 2, to: 1, term: 1 }));
    const ready = node.ready();
    assert.deepEqual(ready.entries, []);
    assert.deepEqual(ready.hardState, { term: 1, vote: 2, commit: 0 });
    assert.equal(ready.mustSync, true);
    assert.equal(ready.messages[0]!.type, MessageType.VoteResp);
    node.advance();
  });

  test('entries overwritten between ready() and advance() stay unstable and come out again', () => {
    const storage = MemoryStorage.withConfState(confState([1, 2, 3]));
    const node = new RawNode({ id: 1, storage, random: new SeededRandom(1) });
    node.step(makeMessage({ type: MessageType.App, from: 2, to: 1, term: 1, index: 0, logTerm: 0, entries: [{ index: 1, term: 1, type: 0, data: bytes('old') }] }));
    const first = node.ready();
    assert.deepEqual(first.entries.map((e) => `${e.index}/${e.term}`), ['1/1']);
    // Before the application advances, a new leader of term 2 replaces entry 1.
    node.step(makeMessage({ type: MessageType.App, from: 3, to: 1, term: 2, index: 0, logTerm: 0, entries: [{ index: 1, term: 2, type: 0, data: bytes('new') }] }));
    storage.append(first.entries);
    node.advance();
    const second = node.ready();
    assert.deepEqual(second.entries.map((e) => `${e.index}/${e.term}`), ['1/2'], 'the replacement must still be persisted');
    node.advance();
  });

  test('only one Ready may be outstanding: hasReady is false and ready() throws until advance()', () => {
    const { node } = single();
    node.campaign();
    node.ready();
    assert.equal(node.hasReady(), false);
    assert.throws(() => node.ready(), AssertionError);
    node.advance();
    assert.throws(() => node.advance(), AssertionError, 'advance without a Ready');
  });

  test('committed entries are bounded by maxCommittedSizePerReadyBytes (at least one per Ready)', () => {
    const { node, storage } = single({ maxCommittedSizePerReadyBytes: 2 * (100 + ENTRY_OVERHEAD_BYTES) });
    node.campaign();
    for (let i = 0; i < 5; i++) node.propose(new Uint8Array(100));
    const batches: number[] = [];
    for (let round = 0; round < 10 && node.hasReady(); round++) {
      const ready = node.ready();
      storage.append(ready.entries);
      if (ready.hardState) storage.setHardState(ready.hardState);
      batches.push(ready.committedEntries.length);
      node.advance();
    }
    // 232 bytes per Ready: the 16-byte term-start entry and one 116-byte entry, then two and two.
    assert.deepEqual(batches, [2, 2, 2]);
  });

  test('a follower never hands out committed entries it has not been given to persist', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    net.propose(1, 'a');
    const follower = net.get(2);
    // An App carrying a commit index beyond the entries it carries.
    follower.node.step(makeMessage({ type: MessageType.App, from: 1, to: 2, term: 1, index: 2, logTerm: 1, commit: 9, entries: [{ index: 3, term: 1, type: 0, data: bytes('b') }] }));
    const ready = follower.node.ready();
    const durable = Math.max(follower.storage.lastIndex(), ...ready.entries.map((e) => e.index));
    assert.ok(ready.committedEntries.every((e) => e.index <= durable));
    assert.deepEqual(ready.committedEntries.map((e) => e.index), [3]);
    follower.node.advance();
  });

  test('step refuses local-only message types and responses from nodes outside the configuration', () => {
    const { node } = single();
    for (const type of [MessageType.Hup, MessageType.Beat, MessageType.Unreachable, MessageType.SnapStatus, MessageType.CheckQuorum]) {
      assert.throws(() => node.step(makeMessage({ type, from: 1, to: 1 })), (e: unknown) => e instanceof StepLocalMessageError && e.code === 'RAFT_STEP_LOCAL_MESSAGE');
    }
    assert.throws(() => node.step(makeMessage({ type: MessageType.AppResp, from: 9, to: 1, term: 1 })), (e: unknown) => e instanceof PeerNotFoundError && /node 9/.test(e.message));
  });

  test('status reports progress only on the leader', () => {
    const net = new Network([1, 2, 3]);
    net.campaign(1);
    assert.deepEqual([...net.raw(1).status().progress.keys()], [1, 2, 3]);
    assert.equal(net.raw(1).status().progress.get(2)!.state, 'replicate');
    assert.equal(net.raw(2).status().progress.size, 0);
  });
});
