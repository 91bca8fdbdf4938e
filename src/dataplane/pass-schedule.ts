// pass-schedule.ts — when the reconciler's loop runs its next pass, and what kind, as a pure state machine
// (time is an input, STYLE.md): controller-runtime keeps the work queue apart from Reconcile, and so does
// this file keep the loop's five timing rules apart from the pass. Rules:
//   - new input (`dirty`) runs a pass at once, from the cache (one bundle), unless the loop backs off;
//   - with nothing new, a full pass runs every resync interval, spaced at least FULL_PASS_SPACING_FACTOR of
//     its own duration (on a big node a full pass is long, and every pass waits for it);
//   - a full pass whose reads were given up for new input is owed, and runs as soon as input allows;
//   - a full pass runs anyway when input kept full passes away for two spacings (starved), and then it is
//     not preemptible;
//   - a reported μmbox death runs a full pass, but death-driven full passes are DEATH_PASS_SPACING_MS apart
//     (a μmbox that dies as soon as it starts would keep the loop restarting it back to back);
//   - a failed pass is retried after a capped, doubling backoff, which neither input nor a death cuts short
//     for a death (input ends the wait, and the retry is then a full pass).
// Reconciler.runLoop asks waitMs, sleeps (on the injected clock), asks next, runs the pass, tells passEnded.
// Tested by test/dataplane/pass-schedule.test.ts (tables) and reconciler.test.ts (the loop on simulated time).
import { assert } from './errors.js';

/** FULL_PASS_SPACING_FACTOR spaces full passes at least this many of their own durations apart. */
export const FULL_PASS_SPACING_FACTOR = 10;
/** DEATH_PASS_SPACING_MS spaces the full passes that reported μmbox deaths trigger. */
export const DEATH_PASS_SPACING_MS = 1_000;

/** Signals are what the reconciler learned since the last pass: new input, a μmbox death. */
export interface Signals {
  dirty: boolean;
  deathReported: boolean;
}

/** PassSchedule holds the loop's timing state; every method takes the current time, none reads a clock. */
export class PassSchedule {
  private readonly resyncMs: number;
  private readonly backoffMinMs: number;
  private readonly backoffMaxMs: number;
  /** backoffMs is the wait before retrying a failed pass (0: the last pass did not fail). */
  private backoffMs = 0;
  /** lastFullMs is the start of the last full pass that read to the end. */
  private lastFullMs = 0;
  /** lastFullPassMs is how long that pass took. */
  private lastFullPassMs = 0;
  /** fullOwed: a full pass gave its reads up for new input; one runs as soon as input allows. */
  private fullOwed = false;
  /** lastDeathPassMs is the start of the last full pass a reported death asked for. */
  private lastDeathPassMs = Number.NEGATIVE_INFINITY;

  constructor(init: { resyncMs: number; backoffMinMs: number; backoffMaxMs: number }) {
    assert(init.resyncMs > 0 && init.backoffMinMs > 0 && init.backoffMaxMs >= init.backoffMinMs, `timings are positive, min ≤ max: ${JSON.stringify(init)}`);
    this.resyncMs = init.resyncMs;
    this.backoffMinMs = init.backoffMinMs;
    this.backoffMaxMs = init.backoffMaxMs;
  }

  /** backingOff: the loop waits out a failed pass's backoff, which a reported death does not cut short. */
  backingOff(): boolean {
    return this.backoffMs > 0;
  }

  /** spacingMs is the interval between full passes now. */
  spacingMs(): number {
    return Math.max(this.resyncMs, FULL_PASS_SPACING_FACTOR * this.lastFullPassMs);
  }

  /** waitMs is how long the loop sleeps before its next pass (it wakes early on news), or 0 to run at once. */
  waitMs(signals: Signals, nowMs: number): number {
    if (this.backoffMs > 0) return signals.dirty ? 0 : this.backoffMs;
    if (signals.dirty || this.fullOwed) return 0;
    const deathWaitMs = signals.deathReported ? Math.max(0, this.lastDeathPassMs + DEATH_PASS_SPACING_MS - nowMs) : Number.POSITIVE_INFINITY;
    return deathWaitMs === 0 ? 0 : Math.min(this.spacingMs(), deathWaitMs);
  }

  /**
   * next says what pass to run after the wait, or null when the loop was woken by a death report before its
   * spacing is over (and by nothing else): it waits out the rest first.
   */
  next(signals: Signals, nowMs: number): { full: boolean; preemptible: boolean } | null {
    if (this.backoffMs === 0 && !signals.dirty && !this.fullOwed && signals.deathReported && nowMs < this.lastDeathPassMs + DEATH_PASS_SPACING_MS) return null;
    // A pass woken by new input trusts what the previous pass observed (and changed): reacting costs one
    // bundle. The timer's passes, retries and the first pass read everything again, and so does a pass for
    // new input when input has kept the timer from running for two spacings.
    const starved = nowMs - this.lastFullMs >= 2 * this.spacingMs();
    const full = !signals.dirty || this.backoffMs > 0 || starved || signals.deathReported;
    if (signals.deathReported && full) this.lastDeathPassMs = nowMs;
    return { full, preemptible: full && !starved };
  }

  /** passEnded records how a pass that started at `startedAtMs` ended (null result: it threw). */
  passEnded(full: boolean, startedAtMs: number, result: { preempted: boolean; totalMs: number; failed: boolean } | null): void {
    if (result === null) {
      this.backoffMs = this.nextBackoffMs();
      return;
    }
    assert(!result.preempted || full, 'only a full pass gives its reads up');
    if (result.preempted) this.fullOwed = true;
    else if (full) this.fullOwed = false;
    if (full && !result.preempted) {
      this.lastFullMs = startedAtMs;
      this.lastFullPassMs = result.totalMs;
    }
    this.backoffMs = result.failed ? this.nextBackoffMs() : 0;
  }

  /** nextBackoffMs doubles the backoff, from backoffMinMs up to backoffMaxMs. */
  private nextBackoffMs(): number {
    return Math.min(this.backoffMaxMs, Math.max(this.backoffMinMs, this.backoffMs * 2));
  }
}
