// clock.ts — the reconciler's time source, injected (STYLE.md: clock, network and disk are injected): the
// system clock in production, a simulated one in tests, so the scheduling loop's rules (backoff, resync
// spacing, the drain of an old chain) are tested without waiting for real time to pass.
import { assert } from './errors.js';

/** TimerHandle is what Clock.setTimer returns, to cancel the timer. */
export interface TimerHandle {
  cancel(): void;
}

/** Clock gives the current time and timers. */
export interface Clock {
  /** nowMs is the current time in milliseconds (wall-clock for the system clock). */
  nowMs(): number;
  /** setTimer calls `fire` once, `delayMs` from now, unless cancelled first. */
  setTimer(delayMs: number, fire: () => void): TimerHandle;
}

/** systemClock is Date.now and setTimeout. */
export const systemClock: Clock = {
  nowMs: () => Date.now(),
  setTimer: (delayMs, fire) => {
    const timer = setTimeout(fire, delayMs);
    return { cancel: () => clearTimeout(timer) };
  },
};

/** sleepOn resolves after `delayMs` of `clock`'s time. */
export function sleepOn(clock: Clock, delayMs: number): Promise<void> {
  return new Promise((resolve) => {
    clock.setTimer(delayMs, resolve);
  });
}

/**
 * SimulatedClock is a clock that moves only when told (advanceMs): timers fire in due order, each after the
 * promise callbacks its predecessor released have run, so code awaiting a timer sees the time it expects.
 */
export class SimulatedClock implements Clock {
  private currentMs: number;
  private nextId = 0;
  private readonly timers = new Map<number, { dueMs: number; fire: () => void }>();

  constructor(startMs = 1_000_000) {
    this.currentMs = startMs;
  }

  nowMs(): number {
    return this.currentMs;
  }

  setTimer(delayMs: number, fire: () => void): TimerHandle {
    assert(Number.isFinite(delayMs), `a timer needs a finite delay, got ${delayMs}`);
    const id = this.nextId++;
    this.timers.set(id, { dueMs: this.currentMs + Math.max(0, delayMs), fire });
    return { cancel: () => this.timers.delete(id) };
  }

  /** pendingTimers counts the timers not fired or cancelled yet. */
  pendingTimers(): number {
    return this.timers.size;
  }

  /**
   * advanceMs moves time forward by `deltaMs`, firing every timer due on the way in order of due time (and
   * of creation among equals), letting pending promise callbacks run after each.
   */
  async advanceMs(deltaMs: number): Promise<void> {
    assert(deltaMs >= 0, `time moves forward, got ${deltaMs}`);
    const endMs = this.currentMs + deltaMs;
    await settle();
    for (;;) {
      let next: [number, { dueMs: number; fire: () => void }] | null = null;
      for (const entry of this.timers) if (entry[1].dueMs <= endMs && (next === null || entry[1].dueMs < next[1].dueMs)) next = entry;
      if (next === null) break;
      this.timers.delete(next[0]);
      this.currentMs = Math.max(this.currentMs, next[1].dueMs);
      next[1].fire();
      await settle();
    }
    this.currentMs = endMs;
    await settle();
  }
}

/** settle lets pending promise callbacks and I/O callbacks of already-resolved work run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}
