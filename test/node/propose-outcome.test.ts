// propose-outcome.test.ts — what the device half's proposer is told about signed bytes it proposed.
//
// Goal: a copy of a node's batch that the state answers 'duplicate' (the proposer sent the same bytes again
// after a leader change, and the first copy had committed after all) is reported as the original's outcome
// and index, as the API answers a retry; a duplicate the state cannot vouch for (a bad signature) stays a
// duplicate; an error of the runtime is 'retry', a stopped runtime 'fatal'. The index matters: the batch's
// log line names the entry that applied it (bench:reaction-cluster leader-kill measured no stage without it).
// Method: proposeOutcome with a stand-in runtime and state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { proposeOutcome } from '../../src/node/device-link.js';
import { RuntimeError } from '../../src/node/runtime-errors.js';

const SIGNED = new Uint8Array([1, 2, 3]);
const committed = (index: number, result: Record<string, unknown>) => ({ propose: async () => ({ index, term: 3, timeMs: 0, result }) });
const remembered = (result: { index: number; term: number; ok: boolean; code?: 'stale_sequence'; reason?: string } | undefined) => ({
  resultForEnvelope: () => (result === undefined ? undefined : { result, kind: 'telemetry', signer: 'node:1' }),
});

test('a duplicate is reported as the original outcome at the original index', async () => {
  const outcome = await proposeOutcome(committed(12, { ok: false, code: 'duplicate', reason: 'this command was applied at index 7', index: 12 }), remembered({ index: 7, term: 2, ok: true }), SIGNED);
  assert.deepEqual(outcome, { kind: 'committed', index: 7, ok: true });
});

test('a duplicate of a rejected original keeps the original rejection', async () => {
  const outcome = await proposeOutcome(committed(12, { ok: false, code: 'duplicate', index: 12 }), remembered({ index: 5, term: 2, ok: false, code: 'stale_sequence', reason: 'seq 4 after 9' }), SIGNED);
  assert.deepEqual(outcome, { kind: 'committed', index: 5, ok: false, code: 'stale_sequence', reason: 'seq 4 after 9' });
});

test('a duplicate the state does not vouch for stays a duplicate at its own index', async () => {
  const outcome = await proposeOutcome(committed(12, { ok: false, code: 'duplicate', reason: 'r', index: 12 }), remembered(undefined), SIGNED);
  assert.deepEqual(outcome, { kind: 'committed', index: 12, ok: false, code: 'duplicate', reason: 'r' });
});

test('a first copy is reported as applied; runtime errors are retry, a stopped runtime fatal', async () => {
  assert.deepEqual(await proposeOutcome(committed(9, { ok: true, index: 9 }), remembered(undefined), SIGNED), { kind: 'committed', index: 9, ok: true });
  const failing = (error: Error) => ({ propose: async () => { throw error; } });
  assert.equal((await proposeOutcome(failing(new RuntimeError('RUNTIME_LEADER_CHANGED', 'leader changed')), remembered(undefined), SIGNED)).kind, 'retry');
  assert.equal((await proposeOutcome(failing(new RuntimeError('RUNTIME_STOPPED', 'stopped')), remembered(undefined), SIGNED)).kind, 'fatal');
});
