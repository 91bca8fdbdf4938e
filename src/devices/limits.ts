// limits.ts — the bounds every adapter shares: resolved limits, drop counters and a per-device token bucket.
import { strict as assert } from 'node:assert';
import {
  MAX_HTTP_BODY_BYTES, MAX_PENDING_COMMANDS, MAX_READING_MESSAGE_BYTES, MAX_WATCHED_DEVICES, READING_BURST_PER_DEVICE,
  READINGS_PER_SECOND_PER_DEVICE, UNREACHABLE_AFTER_INTERVALS,
} from './constants.js';
import { badInput } from './errors.js';
import type { AdapterLimits } from './port.js';

/** resolveLimits fills the defaults of constants.ts in and checks every given limit is a positive number. */
export function resolveLimits(given: Partial<AdapterLimits> = {}): AdapterLimits {
  const limits: AdapterLimits = {
    maxReadingBytes: MAX_READING_MESSAGE_BYTES,
    maxBodyBytes: MAX_HTTP_BODY_BYTES,
    readingsPerSecond: READINGS_PER_SECOND_PER_DEVICE,
    readingBurst: READING_BURST_PER_DEVICE,
    unreachableAfterIntervals: UNREACHABLE_AFTER_INTERVALS,
    maxDevices: MAX_WATCHED_DEVICES,
    maxPendingCommands: MAX_PENDING_COMMANDS,
    ...given,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw badInput(`adapter limits.${name}`, 'a positive number', value);
  }
  return limits;
}

/**
 * Counters counts events by name (readings, commands, and each drop reason). Names come from the adapters'
 * code, never from input, so the map stays small.
 */
export class Counters {
  private readonly counts = new Map<string, number>();

  add(name: string, count = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + count);
  }

  get(name: string): number {
    return this.counts.get(name) ?? 0;
  }

  /** snapshot is a copy, sorted by name. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b)));
  }
}

/**
 * TokenBucket admits at most `ratePerSecond` events per second per key after a burst of `burst`, so one
 * flooding device is limited without touching the others. Keys are watched device ids (bounded by the caller).
 */
export class TokenBucket {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(private readonly ratePerSecond: number, private readonly burst: number) {
    assert.ok(ratePerSecond > 0 && burst >= 1, 'a token bucket needs a positive rate and a burst of at least one');
  }

  /** take spends one token of `key` at time `nowMs`; false when none is left (the event is to be dropped). */
  take(key: string, nowMs: number): boolean {
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, atMs: nowMs };
    const elapsedMs = Math.max(0, nowMs - bucket.atMs);
    bucket.tokens = Math.min(this.burst, bucket.tokens + (elapsedMs * this.ratePerSecond) / 1000);
    bucket.atMs = nowMs;
    const admitted = bucket.tokens >= 1;
    if (admitted) bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    return admitted;
  }

  forget(key: string): void {
    this.buckets.delete(key);
  }
}

/** backoffMs is the capped exponential delay before attempt `attempt` (1-based), with ±20 % jitter. */
export function backoffMs(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(30, Math.max(0, attempt - 1)));
  return Math.round(base * (0.8 + 0.4 * random()));
}
