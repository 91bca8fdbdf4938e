// random.test.ts — SeededRandom, the core's injected randomness: deterministic per seed,
// within bounds, roughly uniform, and different for different seeds.
//
// Method: draw fixed numbers of values and check them exactly (determinism) or by counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError, SeededRandom } from '../../src/raft/index.js';

test('the same seed gives the same sequence; another seed a different one', () => {
  const draw = (seed: number): number[] => {
    const random = new SeededRandom(seed);
    return Array.from({ length: 32 }, () => random.nextInt(1000));
  };
  assert.deepEqual(draw(7), draw(7));
  assert.notDeepEqual(draw(7), draw(8));
  assert.notDeepEqual(draw(1), draw(1 + 2 ** 32), 'high bits of the seed matter');
});

test('nextInt stays in [0, max) and is roughly uniform', () => {
  const random = new SeededRandom(123);
  const counts = new Array<number>(10).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const value = random.nextInt(10);
    assert.ok(value >= 0 && value < 10 && Number.isInteger(value));
    counts[value]!++;
  }
  for (const count of counts) assert.ok(count > 9_500 && count < 10_500, `count ${count}`);
});

test('bad bounds and seeds are caller bugs', () => {
  assert.throws(() => new SeededRandom(1).nextInt(0), AssertionError);
  assert.throws(() => new SeededRandom(1).nextInt(1.5), AssertionError);
  assert.throws(() => new SeededRandom(Number.NaN), AssertionError);
});
