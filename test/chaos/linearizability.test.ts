// linearizability.test.ts — the chaos harness's linearizability checker, on histories whose verdict
// is known by hand.
//
// Goal: the checker accepts every history a linearizable key/value store can produce (including
// concurrent operations and writes whose answer was lost) and rejects the classic anomalies (a stale
// read after a completed write, a value nobody wrote, a read that sees a write "undone").
// Method: small hand-built histories with explicit call and return times, plus a randomized check
// that any sequential execution, stretched into overlapping intervals, is accepted.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkLinearizable, kvModel } from '../../chaos/checkers/linearizability.js';
import type { KvInput, KvOutput, Operation } from '../../chaos/checkers/linearizability.js';

type Op = Operation<KvInput, KvOutput>;
let nextId = 0;
function put(key: string, value: string, callMs: number, returnMs: number): Op {
  return { id: nextId++, client: nextId, input: { kind: 'put', key, value }, output: returnMs === Infinity ? undefined : { value: null }, callMs, returnMs };
}
function get(key: string, value: string | null, callMs: number, returnMs: number): Op {
  return { id: nextId++, client: nextId, input: { kind: 'get', key }, output: { value }, callMs, returnMs };
}

describe('linearizability checker', () => {
  test('a sequential history that reads what was written is linearizable', () => {
    const history = [put('x', '1', 0, 10), get('x', '1', 20, 30), put('x', '2', 40, 50), get('x', '2', 60, 70)];
    assert.equal(checkLinearizable(kvModel, history).verdict, 'linearizable');
  });

  test('a read overlapping a write may see either value', () => {
    for (const seen of ['1', '2']) {
      const history = [put('x', '1', 0, 10), put('x', '2', 20, 60), get('x', seen, 30, 40)];
      assert.equal(checkLinearizable(kvModel, history).verdict, 'linearizable', `read of ${seen}`);
    }
  });

  test('a stale read after a completed write is not linearizable', () => {
    const history = [put('x', '1', 0, 10), put('x', '2', 20, 30), get('x', '1', 40, 50)];
    const result = checkLinearizable(kvModel, history);
    assert.equal(result.verdict, 'not-linearizable');
  });

  test('a read of a value nobody wrote is not linearizable', () => {
    assert.equal(checkLinearizable(kvModel, [put('x', '1', 0, 10), get('x', '7', 20, 30)]).verdict, 'not-linearizable');
  });

  test('once a read sees a new value, a later read cannot see the old one', () => {
    const history = [put('x', '1', 0, 10), put('x', '2', 20, 100), get('x', '2', 30, 40), get('x', '1', 50, 60)];
    assert.equal(checkLinearizable(kvModel, history).verdict, 'not-linearizable');
  });

  test('a write whose answer was lost may have happened, or not', () => {
    const seen = [put('x', '1', 0, 10), put('x', '2', 20, Infinity), get('x', '2', 30, 40)];
    assert.equal(checkLinearizable(kvModel, seen).verdict, 'linearizable');
    const unseen = [put('x', '1', 0, 10), put('x', '2', 20, Infinity), get('x', '1', 30, 40)];
    assert.equal(checkLinearizable(kvModel, unseen).verdict, 'linearizable');
    const flipFlop = [put('x', '1', 0, 10), put('x', '2', 20, Infinity), get('x', '2', 30, 40), get('x', '1', 50, 60)];
    assert.equal(checkLinearizable(kvModel, flipFlop).verdict, 'not-linearizable');
  });

  test('keys are independent: a violation on one key is reported with its partition only', () => {
    const history = [put('a', '1', 0, 10), get('a', '1', 20, 30), put('b', '1', 0, 10), put('b', '2', 20, 30), get('b', '1', 40, 50)];
    const result = checkLinearizable(kvModel, history);
    assert.equal(result.verdict, 'not-linearizable');
    if (result.verdict === 'not-linearizable') assert.deepEqual([...new Set(result.failedPartition.map((op) => op.input.key))], ['b']);
  });

  test('a search beyond its budget says unknown, never linearizable', () => {
    const history: Op[] = [];
    for (let i = 0; i < 12; i++) history.push(put('x', String(i), 0, 1000));
    history.push(get('x', 'never', 2000, 2001));
    assert.equal(checkLinearizable(kvModel, history, { maxSteps: 50 }).verdict, 'unknown');
  });

  test('property: any sequential execution, with every interval stretched to overlap its neighbours, is accepted', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ kind: fc.constantFrom('put', 'get'), key: fc.constantFrom('x', 'y'), value: fc.constantFrom('1', '2', '3') }), { minLength: 1, maxLength: 14 }),
      fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 14, maxLength: 14 }),
      (steps, stretch) => {
        const state = new Map<string, string | null>();
        const history: Op[] = steps.map((step, i) => {
          const callMs = i * 10;
          const returnMs = i * 10 + 5 + stretch[i]!;
          if (step.kind === 'put') {
            state.set(step.key, step.value);
            return { id: i, client: i, input: { kind: 'put', key: step.key, value: step.value }, output: { value: null }, callMs, returnMs };
          }
          return { id: i, client: i, input: { kind: 'get', key: step.key }, output: { value: state.get(step.key) ?? null }, callMs, returnMs };
        });
        return checkLinearizable(kvModel, history).verdict === 'linearizable';
      },
    ), { numRuns: 200, seed: 1121 });
  });
});
