// units.test.ts — goal: the adapters' pure helpers follow their rules: RFC 6901 pointers (escapes, arrays,
// own properties only, precise errors), the per-device token bucket (a burst, then the rate; one key does
// not drain another), and liveness (silence of N intervals, "offline" then one interval, suspended while the
// broker is away, each transition reported once). Method: table tests with an injected clock; no I/O.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePointer, resolvePointer } from '../../src/devices/json-pointer.js';
import { TokenBucket } from '../../src/devices/limits.js';
import { Liveness } from '../../src/devices/liveness.js';
import { publishPacket } from '../../src/devices/sim/mqtt-devices.js';

test('json pointer: RFC 6901 section 5 examples resolve as the RFC says', () => {
  const doc = { foo: ['bar', 'baz'], '': 0, 'a/b': 1, 'c%d': 2, 'e^f': 3, 'g|h': 4, 'i\\j': 5, 'k"l': 6, ' ': 7, 'm~n': 8 };
  const table: [string, unknown][] = [['', doc], ['/foo', ['bar', 'baz']], ['/foo/0', 'bar'], ['/', 0], ['/a~1b', 1], ['/c%d', 2], ['/e^f', 3],
    ['/g|h', 4], ['/i\\j', 5], ['/k"l', 6], ['/ ', 7], ['/m~0n', 8]];
  for (const [pointer, value] of table) assert.deepEqual(resolvePointer(doc, parsePointer(pointer, 'test')), { found: true, value }, pointer);
});

test('json pointer: missing steps, array indices and the prototype chain are not found; bad pointers name where and what', () => {
  const doc = { list: [1, 2], nested: { x: null } };
  for (const pointer of ['/list/2', '/list/01', '/list/-', '/nested/y', '/nested/x/z', '/toString', '/nested/constructor']) {
    assert.deepEqual(resolvePointer(doc, parsePointer(pointer, 'test')), { found: false }, pointer);
  }
  assert.deepEqual(resolvePointer(doc, parsePointer('/nested/x', 'test')), { found: true, value: null });
  assert.throws(() => parsePointer('sensors/x', 'options["sensor.t"]'), /options\["sensor\.t"\]: expected a JSON pointer \(RFC 6901\) starting with "\/", got "sensors\/x"/);
  assert.throws(() => parsePointer('/a~2', 'p'), /p: expected a JSON pointer whose "~" is followed by 0 or 1, got "\/a~2"/);
});

test('token bucket: a burst, then the rate; one flooding key does not drain another', () => {
  const bucket = new TokenBucket(10, 5);
  const admitted = Array.from({ length: 20 }, () => bucket.take('flood', 1000)).filter(Boolean).length;
  assert.equal(admitted, 5, 'the burst');
  assert.equal(bucket.take('flood', 1050), false, 'half a token after 50 ms');
  assert.equal(bucket.take('flood', 1100), true, 'one token after 100 ms at 10/s');
  assert.equal(bucket.take('other', 1100), true, 'another key has its own bucket');
});

test('liveness: silent for N intervals is unreachable once; heard is reachable once; offline shortens to one interval; suspended blames no one', () => {
  let nowMs = 0;
  const log: string[] = [];
  const liveness = new Liveness({ onUnreachable: (id) => log.push(`down ${id}`), onReachable: (id) => log.push(`up ${id}`) }, 3, () => nowMs);
  liveness.track('a', 100);
  liveness.track('b', 100);
  nowMs = 299;
  liveness.check();
  assert.deepEqual(log, []);
  liveness.heard('b');
  nowMs = 300;
  liveness.check();
  liveness.check();
  assert.deepEqual(log, ['down a']);
  liveness.heard('a');
  liveness.heard('a');
  assert.deepEqual(log, ['down a', 'up a']);
  liveness.reportedOffline('a');
  nowMs = 400;
  liveness.check();
  assert.deepEqual(log, ['down a', 'up a', 'down a'], 'a is down one interval after "offline"; b (heard at 299) is not');
  assert.deepEqual(liveness.unreachable(), ['a']);
  liveness.suspend();
  nowMs = 10_000;
  liveness.check();
  const before = log.length;
  liveness.resume();
  nowMs = 10_299;
  liveness.check();
  assert.equal(log.length, before, 'the clocks restarted on resume');
});

test('liveness: silence as long as the gateway\'s own intake lag is not blamed on the device', () => {
  let nowMs = 0;
  const log: string[] = [];
  const liveness = new Liveness({ onUnreachable: (id, why) => log.push(`down ${id}: ${why}`), onReachable: (id) => log.push(`up ${id}`) }, 3, () => nowMs);
  liveness.track('a', 1_000);
  nowMs = 4_000;
  liveness.check(2_500);
  assert.deepEqual(log, [], '4 s of silence of which 2.5 s is the intake\'s lag: 1.5 s is the device\'s');
  nowMs = 5_600;
  liveness.check(2_500);
  assert.equal(log.length, 1, '3.1 s beyond the lag: unreachable');
  assert.match(log[0]!, /^down a: no reading for 3100 ms \(sampling every 1000 ms, beyond the gateway's own intake lag of 2500 ms\)$/);
  liveness.track('b', 1_000);
  nowMs = 8_600;
  liveness.check(0);
  assert.equal(log.length, 2, 'without a lag, three silent intervals are unreachable as before');
});

test('simulator: a reading\'s PUBLISH packet is MQTT 3.1.1 QoS 0 (fixed header, variable-length remaining length, topic, payload)', () => {
  assert.deepEqual([...publishPacket('a/b', 'x')], [0x30, 0x06, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x78]);
  const long = publishPacket('qg/dev-1/readings', 'y'.repeat(200));
  // Remaining length 2 + 17 + 200 = 219 = 0xdb: two bytes, low seven bits first with the continuation bit.
  assert.deepEqual([...long.subarray(0, 5)], [0x30, 0xdb & 0x7f | 0x80, 0x01, 0x00, 17]);
  assert.equal(long.length, 3 + 219);
  assert.equal(long.subarray(5, 22).toString(), 'qg/dev-1/readings');
  assert.throws(() => publishPacket('t'.repeat(70_000), ''), /topic expected at most 65535 bytes, got 70000/);
});
