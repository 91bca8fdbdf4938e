// random.ts — a small seeded pseudo-random generator implementing RandomSource.
//
// SplitMix32-style mixing over a 32-bit state (the constant 0x9e3779b9 is the golden-ratio
// increment); integer-only arithmetic via Math.imul, so the sequence is identical on every
// platform for a given seed.
import { assert } from './errors.js';
import type { RandomSource } from './types.js';

/** SeededRandom is a deterministic RandomSource: the same seed gives the same sequence. */
export class SeededRandom implements RandomSource {
  private state: number;

  constructor(seed: number) {
    assert(Number.isSafeInteger(seed), `SeededRandom: seed must be a safe integer, got ${seed}`);
    // Fold the high bits in so that seeds differing only above bit 32 differ.
    this.state = (seed ^ Math.floor(seed / 0x1_0000_0000)) >>> 0;
  }

  /** nextUint32 returns the next 32-bit unsigned integer of the sequence. */
  nextUint32(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** nextInt returns an integer in [0, maxExclusive), by rejection sampling (unbiased, at most 64 draws). */
  nextInt(maxExclusive: number): number {
    assert(Number.isSafeInteger(maxExclusive) && maxExclusive > 0 && maxExclusive <= 0x1_0000_0000,
      `nextInt: maxExclusive must be an integer in [1, 2^32], got ${maxExclusive}`);
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % maxExclusive);
    for (let attempt = 0; attempt < 64; attempt++) {
      const value = this.nextUint32();
      if (value < limit) return value % maxExclusive;
    }
    // Each draw is rejected with probability < 1/2, so 64 rejections happen with probability < 2^-64.
    return this.nextUint32() % maxExclusive;
  }
}
