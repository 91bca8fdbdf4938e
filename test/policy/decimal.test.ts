// decimal.test.ts — goal: numbers become milli-unit integers exactly as documented (thresholds exact
// to 3 places or refused, readings rounded half away from zero, magnitudes bounded, non-finite
// refused), independently of binary floating-point artefacts. Method: a table of inputs and outputs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toMilli } from '../../src/policy/index.js';

const rows: Array<[number, string, string]> = [
  // input, exact (thresholds), rounded (readings)
  [0, '0', '0'],
  [-0, '0', '0'],
  [1.5, '1500', '1500'],
  [0.1, '100', '100'],
  [0.1 + 0.2, 'too-precise', '300'], // 0.30000000000000004
  [1800.001, '1800001', '1800001'],
  [0.0005, 'too-precise', '1'],
  [-0.0005, 'too-precise', '-1'],
  [0.0004999, 'too-precise', '0'],
  [123.4565, 'too-precise', '123457'],
  [1e-7, 'too-precise', '0'],
  [1e9, '1000000000000', '1000000000000'],
  [-1e9, '-1000000000000', '-1000000000000'],
  [1e9 + 0.001, 'out-of-range', 'out-of-range'],
  [1e21, 'out-of-range', 'out-of-range'],
  [Number.MAX_VALUE, 'out-of-range', 'out-of-range'],
  [Number.NaN, 'not-finite', 'not-finite'],
  [Number.NEGATIVE_INFINITY, 'not-finite', 'not-finite'],
];

for (const [input, exact, rounded] of rows) {
  test(`toMilli(${String(input)}) is ${exact} exact and ${rounded} rounded`, () => {
    const show = (r: ReturnType<typeof toMilli>): string => (r.ok ? String(r.milli) : r.why);
    assert.equal(show(toMilli(input, false)), exact);
    assert.equal(show(toMilli(input, true)), rounded);
  });
}

test('every integer milli value round-trips through its decimal number', () => {
  for (let milli = -5000; milli <= 5000; milli += 7) {
    const result = toMilli(milli / 1000, false);
    assert.deepEqual(result, { ok: true, milli: milli === 0 ? 0 : milli });
  }
});
