// decimal.ts — numeric sensor values as fixed-point integers (milli-units), converted with exact
// decimal arithmetic on the number's canonical text. ECMAScript specifies Number.prototype.toString
// exactly (the shortest text that round-trips), so every node turns the same logged number into the
// same integer, and no decision ever compares floats.

import assert from 'node:assert/strict';
import { DECIMAL_PLACES_MAX, SENSOR_ABS_MILLI_MAX } from './constants.js';

/** MilliResult is a conversion's outcome: the integer, or why there is none. */
export type MilliResult =
  | { ok: true; milli: number }
  | { ok: false; why: 'not-finite' | 'too-precise' | 'out-of-range' };

interface DecimalText {
  negative: boolean;
  digits: string; // no sign, no dot, may have leading zeros
  exponent: number; // value = digits × 10^exponent
}

function decimalText(value: number): DecimalText {
  const text = String(value);
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(text);
  assert.ok(match !== null, `decimalText: unexpected number text ${text}`);
  const fraction = match[3] ?? '';
  return {
    negative: match[1] === '-',
    digits: (match[2] ?? '') + fraction,
    exponent: Number(match[4] ?? '0') - fraction.length,
  };
}

/**
 * toMilli converts a number to milli-units. With `round` false, a value with more than three decimal
 * places is refused (policy thresholds must be exact); with `round` true it is rounded half away from
 * zero (telemetry). Magnitudes above SENSOR_ABS_MILLI_MAX milli-units are refused.
 */
export function toMilli(value: number, round: boolean): MilliResult {
  if (!Number.isFinite(value)) return { ok: false, why: 'not-finite' };
  const { negative, digits, exponent } = decimalText(value);
  const shift = exponent + DECIMAL_PLACES_MAX; // milli = digits × 10^shift
  let magnitudeText: string;
  if (shift >= 0) {
    if (digits.replace(/^0+/, '').length + shift > 13) return { ok: false, why: 'out-of-range' };
    magnitudeText = digits + '0'.repeat(shift);
  } else {
    const keep = digits.length + shift;
    const kept = keep > 0 ? digits.slice(0, keep) : '0';
    const dropped = keep > 0 ? digits.slice(keep) : '0'.repeat(-keep) + digits;
    if (!round && /[1-9]/.test(dropped)) return { ok: false, why: 'too-precise' };
    const roundUp = round && (dropped[0] ?? '0') >= '5';
    if (kept.replace(/^0+/, '').length > 13) return { ok: false, why: 'out-of-range' };
    magnitudeText = roundUp ? String(Number(kept) + 1) : kept;
  }
  const magnitude = Number(magnitudeText);
  assert.ok(Number.isSafeInteger(magnitude), 'toMilli: magnitude is a safe integer');
  if (magnitude > SENSOR_ABS_MILLI_MAX) return { ok: false, why: 'out-of-range' };
  const milli = negative && magnitude !== 0 ? -magnitude : magnitude;
  return { ok: true, milli };
}

/** fromMilli renders milli-units back as the shortest decimal number (for messages and documents). */
export function fromMilli(milli: number): number {
  assert.ok(Number.isSafeInteger(milli), 'fromMilli: integer input');
  return milli / 1000;
}
