// planted.test.ts — unit-level evidence that each planted bug (a Raft subclass or a harness rule of
// test/raft/support/planted-raft.ts, test-only) really changes the core's behaviour, and that without
// it the core behaves correctly. The simulator (test/raft/sim) shows that each one is caught as a
// safety violation.
//
// Method: for each bug, the same small scenario with and without the plant.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType, EMPTY_BYTES, MessageType } from '../../src/raft/index.js';
import { Network } from './support/network.js';
import { earlyMessages, type PlantedBug } from './support/planted-raft.js';
import { entriesWithTerms, entry, msg, newRaft, newStorage, takeMessages } from './support/raft-helpers.js';

const plant = (bug?: PlantedBug) => (bug === undefined ? {} : { plant: bug });

describe('planted bugs', () => {
  for (const bug of [undefined, 'no-term-start-entry'] as const) {
    test(`${bug ?? 'no plant'}: a new leader ${bug ? 'does not append' : 'appends'} an empty entry of its term`, () => {
      const { raft } = newRaft(1, [1, 2, 3], plant(bug), newStorage([1, 2, 3], entriesWithTerms([1]), { term: 1, vote: 0, commit: 0 }));
      raft.becomeCandidate();
      raft.becomeLeader();
      assert.equal(raft.raftLog.lastIndex(), bug ? 1 : 2);
    });
  }

  for (const bug of [undefined, 'commit-old-term-by-count'] as const) {
    test(`${bug ?? 'no plant'}: an entry of an older term replicated on a majority is ${bug ? '' : 'not '}committed by counting`, () => {
      const { raft } = newRaft(1, [1, 2, 3], plant(bug), newStorage([1, 2, 3], [entry(1, 1), entry(2, 2)], { term: 2, vote: 0, commit: 0 }));
      raft.becomeCandidate();
      raft.becomeLeader();
      raft.step(msg({ type: MessageType.AppResp, from: 2, to: 1, term: 3, index: 2 }));
      assert.equal(raft.raftLog.committed, bug ? 2 : 0);
    });
  }

  for (const bug of [undefined, 'vote-without-log-check'] as const) {
    test(`${bug ?? 'no plant'}: a candidate with a stale log ${bug ? 'gets' : 'does not get'} the vote`, () => {
      const { raft } = newRaft(1, [1, 2, 3], plant(bug), newStorage([1, 2, 3], entriesWithTerms([1, 2]), { term: 2, vote: 0, commit: 0 }));
      raft.step(msg({ type: MessageType.Vote, from: 2, to: 1, term: 3, index: 1, logTerm: 1 }));
      assert.deepEqual(takeMessages(raft).map((m) => m.reject), [!bug]);
    });
  }

  for (const bug of [undefined, 'two-pending-conf-changes'] as const) {
    test(`${bug ?? 'no plant'}: a second conf change while one is pending is ${bug ? 'accepted' : 'refused'}`, () => {
      const net = new Network([1, 2, 3], plant(bug));
      net.campaign(1);
      const add = (nodeId: number) => ({ transition: 'auto' as const, changes: [{ type: ConfChangeType.AddLearner, nodeId }], context: EMPTY_BYTES });
      net.raw(1).proposeConfChange(add(4));
      if (bug) net.raw(1).proposeConfChange(add(5));
      else assert.throws(() => net.raw(1).proposeConfChange(add(5)));
    });
  }

  for (const bug of [undefined, 'ack-before-persist'] as const) {
    test(`${bug ?? 'no plant'}: a follower's acknowledgement is sent ${bug ? 'before' : 'after'} persisting`, () => {
      const net = new Network([1, 2, 3], plant(bug));
      net.campaign(1);
      net.raw(1).propose(new Uint8Array([1]));
      const ready = net.raw(1).ready();
      net.get(1).storage.append(ready.entries);
      net.raw(1).advance();
      const app = ready.messages.find((m) => m.type === MessageType.App && m.to === 2)!;
      net.raw(2).step(app);
      const followerReady = net.raw(2).ready();
      const { early, late } = earlyMessages(followerReady, bug);
      const acks = (messages: readonly { type: MessageType }[]) => messages.filter((m) => m.type === MessageType.AppResp).length;
      assert.deepEqual([acks(early), acks(late)], bug ? [1, 0] : [0, 1]);
      assert.equal(followerReady.entries.length, 1, 'the entry is still to be persisted');
      net.raw(2).advance();
    });
  }
});
