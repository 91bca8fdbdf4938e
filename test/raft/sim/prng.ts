// prng.ts — the simulator's one seeded pseudo-random generator.
//
// Every decision of a simulated run (delivery order, drops, faults, workload, the per-node
// RandomSource given to each RawNode) is drawn from one SimRandom built from the run's seed,
// so a seed replays the same run byte for byte. The generator is xoshiro128** seeded through
// SplitMix32; it is deliberately independent of src/raft/random.ts so that a defect there cannot
// hide in both the core and the harness that tests it.
import type { RandomSource } from '../../../src/raft/index.js';

/** SimRandom is a deterministic generator: the same seed gives the same sequence on every platform. */
export class SimRandom implements RandomSource {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`SimRandom: seed must be a non-negative safe integer, got ${seed}`);
    }
    // SplitMix32 over both halves of the seed fills the 128-bit state (never all zero).
    let state = (seed ^ Math.floor(seed / 0x1_0000_0000) ^ 0x5bd1e995) >>> 0;
    const next = (): number => {
      state = (state + 0x9e3779b9) >>> 0;
      let z = state;
      z = Math.imul(z ^ (z >>> 16), 0x21f0aaad) >>> 0;
      z = Math.imul(z ^ (z >>> 15), 0x735a2d97) >>> 0;
      return (z ^ (z >>> 15)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next() | 1;
  }

  /** nextUint32 returns the next 32-bit unsigned integer (xoshiro128**). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** nextInt returns an integer in [0, maxExclusive), unbiased (rejection sampling, bounded draws). */
  nextInt(maxExclusive: number): number {
    if (!Number.isSafeInteger(maxExclusive) || maxExclusive < 1 || maxExclusive > 0x1_0000_0000) {
      throw new RangeError(`SimRandom.nextInt: maxExclusive must be an integer in [1, 2^32], got ${maxExclusive}`);
    }
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % maxExclusive);
    for (let attempt = 0; attempt < 64; attempt++) {
      const value = this.nextUint32();
      if (value < limit) return value % maxExclusive;
    }
    return this.nextUint32() % maxExclusive;
  }

  /** between returns an integer in [low, high] (both inclusive). */
  between(low: number, high: number): number {
    return low + this.nextInt(high - low + 1);
  }

  /** chance returns true with probability `perMillion` / 1,000,000 (integers keep runs exact). */
  chance(perMillion: number): boolean {
    if (perMillion <= 0) return false;
    return this.nextInt(1_000_000) < perMillion;
  }

  /** pick returns one element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('SimRandom.pick: empty array');
    return items[this.nextInt(items.length)]!;
  }

  /** shuffle returns a shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = out[i]!;
      out[i] = out[j]!;
      out[j] = tmp;
    }
    return out;
  }

  /** fork derives an independent generator (for one node incarnation) from this one's next draws. */
  fork(): SimRandom {
    return new SimRandom(this.nextUint32() * 0x20_0000 + (this.nextUint32() >>> 11));
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
