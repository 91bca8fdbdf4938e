// snapshot.test.ts — goal: the engine is deterministic and its snapshot is complete: the same events
// give the same reactions and the same snapshot on every run, and an engine restored from a snapshot
// taken at any point (through JSON, as it would travel) continues exactly like the original. Refused
// events change nothing. Method: fast-check properties over random event sequences (readings of every
// type, including mistyped ones, alerts, manual changes, time steps forward and back, devices moving,
// leaving and returning) against the sample home policy; a failing run prints its seed and path.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PolicyEngine, PolicyRejected } from '../../src/policy/index.js';
import { device, loadSample } from './support.js';

const DEVICES: Array<[string, string, string]> = [
  ['plug-1', 'smart-plug', 'a'], ['plug-2', 'smart-plug', 'b'], ['bulb-1', 'smart-bulb', 'a'], ['bulb-2', 'smart-bulb', 'a'],
  ['cam-1', 'camera', 'a'], ['cam-2', 'camera', 'b'], ['lock-1', 'door-lock', 'a'], ['lock-2', 'door-lock', 'b'],
];
const SENSORS = ['power', 'relay-on', 'on', 'brightness', 'motion', 'upstream-kbps', 'locked', 'pin-failures', 'battery'];
const ALERTS = ['brute-force-login', 'firmware-tamper', 'port-scan', 'brute-force-pin', 'replay-detected'];
const STATES = ['normal', 'suspicious', 'attack', 'lockdown', 'bogus'];

type Event =
  | { kind: 'sensor'; device: number; sensor: string; value: number | boolean | string; dtMs: number }
  | { kind: 'alert'; device: number; alert: string; dtMs: number }
  | { kind: 'state'; device: number; state: string; dtMs: number }
  | { kind: 'time'; dtMs: number }
  | { kind: 'move'; device: number; group: string; tags: string[]; dtMs: number }
  | { kind: 'toggle'; device: number; dtMs: number };

const deviceIndex = fc.integer({ min: 0, max: DEVICES.length - 1 });
// Mostly small steps (bursts inside alert windows), some long ones (deadlines), some backwards.
const dtMs = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 4000 }) },
  { weight: 2, arbitrary: fc.integer({ min: 100_000, max: 1_000_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: -5000, max: -1 }) },
);
const reading = fc.oneof(
  fc.integer({ min: -50, max: 10_000 }),
  fc.integer({ min: -50_000, max: 10_000_000 }).map((milli) => milli / 1000),
  fc.double({ min: -1e6, max: 1e6, noNaN: true }),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 3e9),
  fc.boolean(),
  fc.constantFrom('heat', 'cool', 'x'),
);
const event: fc.Arbitrary<Event> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('sensor' as const), device: deviceIndex, sensor: fc.constantFrom(...SENSORS), value: reading, dtMs }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('alert' as const), device: deviceIndex, alert: fc.constantFrom(...ALERTS), dtMs }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('state' as const), device: deviceIndex, state: fc.constantFrom(...STATES), dtMs }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('time' as const), dtMs }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('move' as const), device: deviceIndex, group: fc.constantFrom('a', 'b'),
    tags: fc.subarray(['x', 'y']), dtMs }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('toggle' as const), device: deviceIndex, dtMs }) },
);

/** Run is an engine plus the entry clock the events advance (entry times may step back; the engine copes). */
interface Run {
  engine: PolicyEngine;
  clockMs: number;
}

function fresh(): Run {
  const engine = new PolicyEngine();
  engine.setPolicy(loadSample('home.yaml'));
  for (const [id, type, group] of DEVICES) engine.upsertDevice(device(id, type, group, [], 'home'), 0);
  return { engine, clockMs: 0 };
}

/** apply runs one event and returns its outcome as text: the reactions, or the rejection code. */
function idOf(index: number): [string, string, string] {
  const entry = DEVICES[index];
  assert.ok(entry !== undefined, `device index ${index}`);
  return entry;
}

function apply(run: Run, e: Event): string {
  run.clockMs = Math.max(0, run.clockMs + e.dtMs);
  const t = run.clockMs;
  const engine = run.engine;
  const before = JSON.stringify(engine.snapshot());
  try {
    switch (e.kind) {
      case 'sensor': return JSON.stringify(engine.onSensor(idOf(e.device)[0], e.sensor, e.value, t));
      case 'alert': return JSON.stringify(engine.onAlert(idOf(e.device)[0], e.alert, t));
      case 'state': return JSON.stringify(engine.setState(idOf(e.device)[0], e.state, t, 'prop'));
      case 'time': return JSON.stringify(engine.onTime(t));
      case 'move': {
        const [id, type] = idOf(e.device);
        return JSON.stringify(engine.upsertDevice(device(id, type, e.group, e.tags, 'home'), t));
      }
      case 'toggle': {
        const [id, type, group] = idOf(e.device);
        return JSON.stringify(engine.deviceState(id) === undefined
          ? engine.upsertDevice(device(id, type, group, [], 'home'), t)
          : engine.removeDevice(id));
      }
    }
  } catch (error) {
    if (!(error instanceof PolicyRejected)) throw error;
    assert.equal(JSON.stringify(engine.snapshot()), before, `a refused event (${error.code}) changed the engine`);
    return `rejected:${error.code}`;
  }
}

const RUNS = 150;

describe('determinism and snapshot/restore', () => {
  test('the same events give the same reactions and the same snapshot', () => {
    fc.assert(fc.property(fc.array(event, { maxLength: 80 }), (events) => {
      const a = fresh();
      const b = fresh();
      const outA = events.map((e) => apply(a, e));
      const outB = events.map((e) => apply(b, e));
      assert.deepEqual(outB, outA);
      assert.equal(JSON.stringify(b.engine.snapshot()), JSON.stringify(a.engine.snapshot()));
    }), { numRuns: RUNS });
  });

  test('restoring a snapshot taken at any point continues exactly like the original', () => {
    fc.assert(fc.property(fc.array(event, { maxLength: 80 }), fc.nat(), (events, cut) => {
      const at = events.length === 0 ? 0 : cut % (events.length + 1);
      const original = fresh();
      const outOriginal = events.map((e) => apply(original, e));

      const first = fresh();
      const outFirst = events.slice(0, at).map((e) => apply(first, e));
      const wire = JSON.stringify(first.engine.snapshot());
      const restored: Run = { engine: PolicyEngine.restore(JSON.parse(wire)), clockMs: first.clockMs };
      assert.equal(JSON.stringify(restored.engine.snapshot()), wire, 'restore(snapshot).snapshot() is the same snapshot');
      const outRest = events.slice(at).map((e) => apply(restored, e));

      assert.deepEqual([...outFirst, ...outRest], outOriginal);
      assert.equal(JSON.stringify(restored.engine.snapshot()), JSON.stringify(original.engine.snapshot()));
      for (const [id] of DEVICES) assert.deepEqual(restored.engine.planFor(id), original.engine.planFor(id));
    }), { numRuns: RUNS });
  });

  test('random sequences do reach every state and produce commands (the property is not vacuous)', () => {
    const seen = new Set<string>();
    fc.assert(fc.property(fc.array(event, { minLength: 40, maxLength: 80 }), (events) => {
      const run = fresh();
      for (const e of events) {
        const out = apply(run, e);
        for (const match of out.matchAll(/"to":"(\w+)"|"command":"([\w-]+)"/g)) seen.add(match[1] ?? match[2] ?? '');
        seen.add(out.startsWith('rejected:') ? out : 'ok');
      }
    }), { numRuns: 60 });
    for (const expected of ['normal', 'suspicious', 'attack', 'power-off', 'rejected:UNKNOWN_SENSOR', 'rejected:SENSOR_TYPE_MISMATCH', 'ok']) {
      assert.ok(seen.has(expected), `some run produced ${expected}; seen: ${[...seen].join(' ')}`);
    }
  });
});

describe('restore refuses a damaged snapshot', () => {
  function snapshotOf(): Record<string, unknown> {
    const run = fresh();
    run.engine.onSensor('plug-1', 'power', 12.5, 10);
    run.engine.onAlert('cam-1', 'port-scan', 20);
    return JSON.parse(JSON.stringify(run.engine.snapshot())) as Record<string, unknown>;
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests poke at arbitrary JSON shapes
  type Loose = any;
  const cases: Array<[string, (s: Loose) => void, RegExp]> = [
    ['an unknown format', (s) => { s.format = 1; }, /format: expected 2/],
    ['a time-of-day deadline for a type without timeOfDay rules', (s) => { s.devices[0].clockMs = 5; }, /clockMs must be null/],
    ['a device in a state its type lacks', (s) => { s.devices[0].state = 'lockdown'; }, /has no state lockdown/],
    ['a fractional sample', (s) => { s.devices.find((d: Loose) => d.id === 'plug-1').sensors[0].samples = [12.5]; }, /samples\[0\]: expected an integer/],
    ['devices out of order', (s) => { s.devices.reverse(); }, /devices: expected names in strictly ascending order/],
    ['a bad policy inside', (s) => { s.policies[0].deviceTypes[0].rules[0].to = 'nowhere'; }, /policies\[0\]:.*rules\[0\]\.to/],
    ['an extra key', (s) => { s.devices[0].owner = 'x'; }, /devices\[0\]: expected exactly the keys/],
  ];
  for (const [name, mutate, message] of cases) {
    test(name, () => {
      const s = snapshotOf();
      PolicyEngine.restore(s); // the undamaged one restores
      mutate(s);
      assert.throws(() => PolicyEngine.restore(s), (error: unknown) => error instanceof PolicyRejected && error.code === 'BAD_SNAPSHOT' && message.test(error.reason));
    });
  }
});
