// Goal: the simulator's agenda pops events in time order, and events at the same time in the
// order they were scheduled — part of what makes a seed replay exactly — and refuses to grow
// past its bound.
// Method: push events in a shuffled order and compare the popped sequence with a stable sort.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventQueue } from './event-queue.js';
import { SimRandom } from './prng.js';

test('events pop by time, ties in insertion order', () => {
  const random = new SimRandom(3);
  const queue = new EventQueue<number>(10_000);
  const pushed: Array<{ time: number; item: number }> = [];
  for (let item = 0; item < 5000; item++) {
    const time = random.nextInt(50);
    queue.push(time, item);
    pushed.push({ time, item });
  }
  const expected = [...pushed].sort((a, b) => a.time - b.time || a.item - b.item);
  const popped: Array<{ time: number; item: number }> = [];
  for (let next = queue.pop(); next !== undefined; next = queue.pop()) popped.push(next);
  assert.deepEqual(popped, expected);
  assert.equal(queue.size, 0);
});

test('the queue refuses to grow past its bound', () => {
  const queue = new EventQueue<string>(2);
  queue.push(1, 'a');
  queue.push(1, 'b');
  assert.throws(() => queue.push(2, 'c'), /EventQueue: more than 2 pending events/);
  assert.deepEqual(queue.pop(), { time: 1, item: 'a' });
});
