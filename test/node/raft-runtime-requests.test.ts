// raft-runtime-requests.test.ts — goal: the runtime's request bookkeeping (src/node/runtime-requests.ts)
// keeps its bounds and settles every request exactly once: the proposal queue refuses beyond its bound
// and hands proposals over in bounded batches, oldest first; a pending proposal or read is answered,
// refused, timed out or failed once, never twice, and a read is answered only once its index is applied;
// deadlines are swept by expire() (called on every tick), with no timer per request; a leader change
// refuses only what went to an earlier leader.
// Method: the classes driven directly, with a hand-moved clock.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ProposalQueue, RequestBook, leadershipOf } from '../../src/node/runtime-requests.js';
import { RuntimeError } from '../../src/node/runtime-errors.js';

const LIMITS = { maxPendingProposals: 2, proposalTimeoutMs: 10_000, readTimeoutMs: 10_000 };
/** still is a clock that does not move. */
const still = (): number => 0;

describe('ProposalQueue', () => {
  test('refuses beyond its bound and hands over oldest first', () => {
    const queue = new ProposalQueue(2);
    assert.equal(queue.push('a', new Uint8Array(1)), true);
    assert.equal(queue.push('b', new Uint8Array(1)), true);
    assert.equal(queue.push('c', new Uint8Array(1)), false, 'the third is refused');
    assert.deepEqual(queue.takeBatch().map((p) => p.requestId), ['a', 'b']);
    assert.deepEqual(queue.takeBatch(), [], 'empty once drained');
  });
  test('a batch stops at 1024 entries, or once 512 KiB are reached (but takes at least one)', () => {
    const queue = new ProposalQueue(5_000);
    for (let i = 0; i < 1_500; i++) queue.push(`p${i}`, new Uint8Array(1));
    assert.equal(queue.takeBatch().length, 1024);
    assert.equal(queue.takeBatch().length, 476);
    const large = new ProposalQueue(10);
    for (let i = 0; i < 3; i++) large.push(`big${i}`, new Uint8Array(600 * 1024));
    assert.equal(large.takeBatch().length, 1, 'one proposal above the byte bound still goes alone');
    assert.equal(large.length, 2);
  });
});

describe('RequestBook', () => {
  test('a proposal is answered once; later outcomes for it are ignored', async () => {
    const book = new RequestBook<string>(LIMITS, still);
    const outcome = book.addProposal('r1');
    book.resolveProposal('r1', { index: 5, term: 1, timeMs: 0, result: 'done' });
    book.failProposal('r1', new Error('too late'));
    assert.deepEqual(await outcome, { index: 5, term: 1, timeMs: 0, result: 'done' });
    assert.equal(book.pendingProposals, 0);
  });
  test('beyond maxPendingProposals a proposal is refused as overloaded', async () => {
    const book = new RequestBook<string>(LIMITS, still);
    const pending = [book.addProposal('r1'), book.addProposal('r2')];
    await assert.rejects(book.addProposal('r3'), (error: RuntimeError) => error.code === 'RUNTIME_OVERLOADED');
    book.failAllProposals(() => new RuntimeError('RUNTIME_LEADER_CHANGED', 'leader changed'));
    for (const outcome of pending) await assert.rejects(outcome, (error: RuntimeError) => error.code === 'RUNTIME_LEADER_CHANGED');
  });
  test('a leader change refuses only the proposals handed to an earlier leadership; those handed to the new leader, or not yet handed in, wait', async () => {
    const book = new RequestBook<string>({ ...LIMITS, maxPendingProposals: 10 }, still);
    const toOld = book.addProposal('old');
    const toNew = book.addProposal('new');
    const queued = book.addProposal('queued');
    book.markHandedIn('old', leadershipOf(3, 2));
    // Node 1 was elected in term 4 and appended 'new' itself before the Ready that reports its election.
    book.markHandedIn('new', leadershipOf(4, 1));
    book.failProposalsOutside(leadershipOf(4, 1), () => new RuntimeError('RUNTIME_LEADER_CHANGED', 'leader changed'));
    await assert.rejects(toOld, (error: RuntimeError) => error.code === 'RUNTIME_LEADER_CHANGED' && error.indeterminate);
    assert.equal(book.pendingProposals, 2, "'new' and 'queued' still wait");
    book.resolveProposal('new', { index: 9, term: 4, timeMs: 0, result: 'applied' });
    assert.equal((await toNew).index, 9);
    // The same term's leader seen as none (it stepped down): what was handed to it is unknown now.
    book.markHandedIn('queued', leadershipOf(4, 1));
    book.failProposalsOutside(leadershipOf(5, 0), () => new RuntimeError('RUNTIME_LEADER_CHANGED', 'leader changed'));
    await assert.rejects(queued, (error: RuntimeError) => error.code === 'RUNTIME_LEADER_CHANGED');
    assert.equal(book.pendingProposals, 0);
  });
  test('a proposal and a read time out with their codes once expire() finds them past their deadline', async () => {
    let nowMs = 1_000;
    const book = new RequestBook<string>({ maxPendingProposals: 10, proposalTimeoutMs: 50, readTimeoutMs: 80 }, () => nowMs);
    const proposal = book.addProposal('r1');
    const read = book.addRead('c1');
    nowMs = 1_049;
    book.expire();
    assert.equal(book.pendingProposals + book.pendingReads, 2, 'nothing is due before its deadline');
    nowMs = 1_050;
    book.expire();
    await assert.rejects(proposal, (error: RuntimeError) => error.code === 'RUNTIME_PROPOSAL_TIMEOUT' && error.indeterminate);
    assert.equal(book.pendingReads, 1, 'the read has a longer timeout');
    nowMs = 1_080;
    book.expire();
    await assert.rejects(read, (error: RuntimeError) => error.code === 'RUNTIME_READ_TIMEOUT');
    assert.equal(book.pendingProposals + book.pendingReads, 0);
  });
  test('expire() refuses only the due requests, oldest first, and a settled one is not refused later', async () => {
    let nowMs = 0;
    const book = new RequestBook<string>({ maxPendingProposals: 10, proposalTimeoutMs: 100, readTimeoutMs: 100 }, () => nowMs);
    const early = book.addProposal('early');
    nowMs = 60;
    const answered = book.addProposal('answered');
    const late = book.addProposal('late');
    book.resolveProposal('answered', { index: 1, term: 1, timeMs: 0, result: 'ok' });
    nowMs = 100;
    book.expire();
    await assert.rejects(early, (error: RuntimeError) => error.code === 'RUNTIME_PROPOSAL_TIMEOUT');
    assert.equal(book.pendingProposals, 1, 'the later proposal is not due yet');
    nowMs = 160;
    book.expire();
    assert.equal((await answered).result, 'ok');
    await assert.rejects(late, (error: RuntimeError) => error.code === 'RUNTIME_PROPOSAL_TIMEOUT');
  });
  test('a read is answered only once its read index is applied', async () => {
    const book = new RequestBook<string>(LIMITS, still);
    let answered: number | undefined;
    const read = book.addRead('c1').then((index) => { answered = index; return index; });
    book.recordReadIndex('c1', 7);
    book.settleReads(6);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(answered, undefined, 'not before index 7 is applied');
    book.settleReads(7);
    assert.equal(await read, 7);
  });
  test('failAll refuses every proposal and read (the node stops)', async () => {
    const book = new RequestBook<string>(LIMITS, still);
    const stopped = new RuntimeError('RUNTIME_STOPPED', 'stopping');
    const outcomes = [book.addProposal('r1'), book.addRead('c1')];
    book.failAll(stopped);
    for (const outcome of outcomes) await assert.rejects(outcome, (error) => error === stopped);
  });
});
