// tracker.test.ts — the leader's flow control per follower: the Inflights ring buffer bounds the
// App messages in flight, and Progress moves between probe, replicate and snapshot states,
// ignoring stale rejections (etcd-io/raft's tracker tests).
//
// Method: direct calls with hand-computed expectations, including ring wrap-around.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Inflights, Progress } from '../../src/raft/tracker.js';
import { AssertionError } from '../../src/raft/index.js';

describe('Inflights', () => {
  test('fills to capacity, frees up to an index, wraps around the ring', () => {
    const inflights = new Inflights(4);
    for (const i of [1, 2, 3, 4]) inflights.add(i);
    assert.equal(inflights.full(), true);
    assert.throws(() => inflights.add(5), AssertionError);
    inflights.freeLE(2);
    assert.deepEqual([inflights.count(), inflights.full()], [2, false]);
    inflights.add(5);
    inflights.add(6); // wraps
    assert.equal(inflights.full(), true);
    inflights.freeLE(5);
    assert.equal(inflights.count(), 1);
    inflights.freeFirstOne();
    assert.equal(inflights.count(), 0);
    inflights.freeLE(100);
    assert.equal(inflights.count(), 0);
  });

  test('indexes must increase', () => {
    const inflights = new Inflights(4);
    inflights.add(5);
    assert.throws(() => inflights.add(5), AssertionError);
  });
});

describe('Progress', () => {
  test('probe: one message at a time; an acknowledgement moves it to replicate', () => {
    const pr = new Progress(6, 4, false);
    assert.equal(pr.isPaused(), false);
    pr.probeSent = true;
    assert.equal(pr.isPaused(), true);
    assert.equal(pr.maybeUpdate(5), true);
    assert.equal(pr.probeSent, false);
    pr.becomeReplicate();
    assert.deepEqual([pr.state, pr.next, pr.match], ['replicate', 6, 5]);
  });

  test('replicate: paused only when the window is full', () => {
    const pr = new Progress(1, 2, false);
    pr.becomeReplicate();
    pr.optimisticUpdate(3);
    pr.inflights.add(3);
    assert.equal(pr.isPaused(), false);
    pr.optimisticUpdate(5);
    pr.inflights.add(5);
    assert.equal(pr.isPaused(), true);
    assert.equal(pr.next, 6);
  });

  test('maybeDecrTo ignores stale rejections and uses the hint in probe state', () => {
    const replicate = new Progress(11, 4, false);
    replicate.match = 5;
    replicate.becomeReplicate();
    assert.equal(replicate.maybeDecrTo(4, 4), false, 'rejected index below match is stale');
    assert.equal(replicate.maybeDecrTo(9, 9), true);
    assert.equal(replicate.next, 6, 'replicate falls back to match + 1');

    const probe = new Progress(10, 4, false);
    assert.equal(probe.maybeDecrTo(5, 5), false, 'probe: only next - 1 is in flight');
    assert.equal(probe.maybeDecrTo(9, 3), true);
    assert.equal(probe.next, 4, 'jumps to hint + 1');
    probe.match = 2;
    probe.next = 10;
    assert.equal(probe.maybeDecrTo(9, 0), true);
    assert.equal(probe.next, 3, 'never below match + 1');
  });

  test('snapshot: paused until the snapshot is reported; then probes after the snapshot', () => {
    const pr = new Progress(1, 4, false);
    pr.becomeSnapshot(20);
    assert.equal(pr.isPaused(), true);
    pr.becomeProbe();
    assert.deepEqual([pr.state, pr.next], ['probe', 21]);
  });
});
