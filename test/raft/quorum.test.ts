// quorum.test.ts — majority and joint quorums: the committed index is the largest index a
// majority acknowledged (the smaller of both halves in a joint configuration), and a vote is won
// only with a majority of each half.
//
// Method: table tests against hand-computed answers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  jointCommittedIndex, jointVoteResult, majorityCommittedIndex, majorityVoteResult,
} from '../../src/raft/quorum.js';

const acks = (map: Record<number, number>) => (id: number): number | undefined => map[id];

describe('majority quorum', () => {
  const commitCases: { voters: number[]; acked: Record<number, number>; want: number }[] = [
    { voters: [1], acked: { 1: 5 }, want: 5 },
    { voters: [1, 2, 3], acked: { 1: 5, 2: 4, 3: 1 }, want: 4 },
    { voters: [1, 2, 3], acked: { 1: 5 }, want: 0 },
    { voters: [1, 2, 3, 4], acked: { 1: 5, 2: 4, 3: 3, 4: 2 }, want: 3 },
    { voters: [1, 2, 3, 4, 5], acked: { 1: 9, 2: 9, 3: 1, 4: 1, 5: 8 }, want: 8 },
  ];
  for (const c of commitCases) {
    test(`committed index of ${JSON.stringify(c.acked)} over ${JSON.stringify(c.voters)} is ${c.want}`, () => {
      assert.equal(majorityCommittedIndex(new Set(c.voters), acks(c.acked)), c.want);
    });
  }

  test('an empty configuration commits everything (so it never constrains a joint config) and wins every vote', () => {
    assert.equal(majorityCommittedIndex(new Set(), acks({})), Number.POSITIVE_INFINITY);
    assert.equal(majorityVoteResult(new Set(), new Map()), 'won');
  });

  const voteCases: { voters: number[]; votes: [number, boolean][]; want: string }[] = [
    { voters: [1, 2, 3], votes: [[1, true], [2, true]], want: 'won' },
    { voters: [1, 2, 3], votes: [[1, true], [2, false]], want: 'pending' },
    { voters: [1, 2, 3], votes: [[1, false], [2, false]], want: 'lost' },
    { voters: [1, 2, 3, 4], votes: [[1, true], [2, true]], want: 'pending' },
    { voters: [1, 2, 3, 4], votes: [[1, true], [2, true], [3, false], [4, false]], want: 'lost' },
    { voters: [1, 2, 3], votes: [[7, true], [8, true], [1, true]], want: 'pending' }, // non-voters never count
  ];
  for (const c of voteCases) {
    test(`votes ${JSON.stringify(c.votes)} over ${JSON.stringify(c.voters)} → ${c.want}`, () => {
      assert.equal(majorityVoteResult(new Set(c.voters), new Map(c.votes)), c.want);
    });
  }
});

describe('joint quorum', () => {
  const config = { incoming: new Set([1, 2, 3]), outgoing: new Set([3, 4, 5]) };

  test('the committed index is the smaller of both majorities', () => {
    assert.equal(jointCommittedIndex(config, acks({ 1: 9, 2: 9, 3: 2, 4: 5, 5: 1 })), 2);
    assert.equal(jointCommittedIndex(config, acks({ 1: 9, 2: 9, 3: 7, 4: 7, 5: 1 })), 7);
    assert.equal(jointCommittedIndex({ incoming: new Set([1, 2, 3]), outgoing: new Set() }, acks({ 1: 4, 2: 4 })), 4);
  });

  test('a vote needs both majorities; losing either loses', () => {
    assert.equal(jointVoteResult(config, new Map([[1, true], [2, true]])), 'pending');
    assert.equal(jointVoteResult(config, new Map([[1, true], [2, true], [3, true]])), 'pending', 'outgoing has one of three');
    assert.equal(jointVoteResult(config, new Map([[1, true], [2, true], [4, false], [5, false]])), 'lost');
    assert.equal(jointVoteResult(config, new Map([[1, true], [2, true], [4, true], [5, true]])), 'won');
  });
});
