// pass-schedule.test.ts — goal: the reconciler loop's timing rules (src/dataplane/pass-schedule.ts), one
// test each, with time as an input: new input runs a pass from the cache at once; with nothing new a full
// pass runs every resync interval, spaced at least ten of its own durations; a full pass preempted by input
// is owed and runs next; input that keeps full passes away for two spacings gets a full, unpreemptible pass;
// death-driven full passes are a second apart; a failed pass backs off 100, 200, 400, 400 ms, and input
// ends the wait with a full pass. Method: the pure PassSchedule, driven by hand; no clock, no switch.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DEATH_PASS_SPACING_MS, PassSchedule } from '../../src/dataplane/pass-schedule.js';

const quiet = { dirty: false, deathReported: false };
const input = { dirty: true, deathReported: false };
const death = { dirty: false, deathReported: true };

function schedule(): PassSchedule {
  return new PassSchedule({ resyncMs: 1_000, backoffMinMs: 100, backoffMaxMs: 400 });
}

/** settled is a schedule whose last pass, a full one of `totalMs`, started at `atMs` and went well. */
function settled(atMs = 0, totalMs = 10): PassSchedule {
  const one = schedule();
  one.passEnded(true, atMs, { preempted: false, totalMs, failed: false });
  return one;
}

describe('PassSchedule', () => {
  test('new input runs a pass at once, from the cache, preemptible by nothing', () => {
    const one = settled();
    assert.equal(one.waitMs(input, 50), 0);
    assert.deepEqual(one.next(input, 50), { full: false, preemptible: false });
  });

  test('with nothing new, the loop sleeps a resync interval, then runs a full, preemptible pass', () => {
    const one = settled();
    assert.equal(one.waitMs(quiet, 10), 1_000);
    assert.deepEqual(one.next(quiet, 1_000), { full: true, preemptible: true });
  });

  test('full passes are spaced at least ten of their own durations', () => {
    assert.equal(settled(0, 300).waitMs(quiet, 300), 3_000);
    assert.equal(settled(0, 50).waitMs(quiet, 50), 1_000, 'the resync interval when that is longer');
  });

  test('a full pass preempted by input is owed: the next pass runs at once and is full', () => {
    const one = settled();
    one.passEnded(true, 1_000, { preempted: true, totalMs: 5, failed: false });
    assert.equal(one.waitMs(quiet, 1_005), 0);
    assert.deepEqual(one.next(quiet, 1_005), { full: true, preemptible: true });
    one.passEnded(true, 1_005, { preempted: false, totalMs: 10, failed: false });
    assert.equal(one.waitMs(quiet, 1_015), 1_000, 'paid: the timer is back');
  });

  test('input that kept full passes away for two spacings gets a full pass that reads to the end', () => {
    const one = settled();
    assert.deepEqual(one.next(input, 1_999), { full: false, preemptible: false });
    assert.deepEqual(one.next(input, 2_000), { full: true, preemptible: false });
  });

  test('a reported death runs a full pass at once, but death-driven passes are a second apart', () => {
    const one = settled();
    assert.equal(one.waitMs(death, 100), 0);
    assert.deepEqual(one.next(death, 100), { full: true, preemptible: true });
    one.passEnded(true, 100, { preempted: false, totalMs: 10, failed: false });
    assert.equal(one.waitMs(death, 300), DEATH_PASS_SPACING_MS - 200, 'the next death waits the rest of the second');
    assert.equal(one.next(death, 300), null, 'woken early by nothing but a death: wait again');
    assert.deepEqual(one.next(death, 100 + DEATH_PASS_SPACING_MS), { full: true, preemptible: true });
  });

  test('a failed pass backs off 100, 200, 400, 400 ms; a death does not cut it short, input does (with a full pass)', () => {
    const one = settled();
    const waits: number[] = [];
    for (let i = 0; i < 4; i++) {
      one.passEnded(true, 0, i % 2 === 0 ? null : { preempted: false, totalMs: 1, failed: true });
      waits.push(one.waitMs(quiet, 0));
    }
    assert.deepEqual(waits, [100, 200, 400, 400]);
    assert.ok(one.backingOff());
    assert.equal(one.waitMs(death, 0), 400);
    assert.equal(one.waitMs(input, 0), 0);
    assert.deepEqual(one.next(input, 0), { full: true, preemptible: true });
    one.passEnded(true, 0, { preempted: false, totalMs: 1, failed: false });
    assert.ok(!one.backingOff(), 'a pass that went well ends the backoff');
  });

  test('bad timings and a preempted pass that was not full are broken invariants', () => {
    assert.throws(() => new PassSchedule({ resyncMs: 0, backoffMinMs: 1, backoffMaxMs: 1 }), /timings/);
    assert.throws(() => settled().passEnded(false, 0, { preempted: true, totalMs: 1, failed: false }), /only a full pass/);
  });
});
