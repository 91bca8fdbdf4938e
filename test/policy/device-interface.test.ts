// device-interface.test.ts — goal: the policy language of the device interface (issue 13) as a user
// relies on it: sensor bounds, declared commands, per-state sampling, group commands, the built-in
// device-unreachable alert, and timeOfDay conditions evaluated on the entry time, across midnight and
// across Europe/Berlin's daylight-saving switches, with deadlines that move a device at a boundary
// without a reading; every bad document is refused with the exact path.
// Method: table tests over validatePolicy (code and path of each error), the wall clock read at known
// instants around the 2026 DST switches (29 March and 25 October, 01:00 UTC), and engines driven only
// by onTime at the instants nextDeadlineMs() names, compared with the expected states; snapshots taken
// between deadlines restore to engines that answer every later event alike.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  PolicyEngine, PolicyError, TelemetryRejected, nextBoundaryMs, parsePolicyYaml, validatePolicy, wallClock, type Reaction,
} from '../../src/policy/index.js';
import { repoPath } from '../support/paths.js';
import { commands, device, deviceType, engineWith, labDoc, moves, rule, type Plain } from './support.js';

const utc = (iso: string): number => Date.parse(iso);
const BERLIN = 'Europe/Berlin';

/** invalid asserts that a document is refused with `code` at `path` (and, optionally, an expected text). */
function invalid(doc: Plain, code: string, path: string, expected?: RegExp): void {
  assert.throws(() => validatePolicy(doc, 'test'), (error: unknown) => {
    assert.ok(error instanceof PolicyError, `a PolicyError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.path, path, error.message);
    if (expected !== undefined) assert.match(error.expected, expected);
    return true;
  });
}

const when = (condition: Plain): Plain => condition;
const clockRule = (from: string, to: string, timezone = BERLIN): Plain => when({ timeOfDay: { from, to, timezone } });

describe('validation: every new field is checked, with its path', () => {
  const cases: Array<[string, Plain, string, string, RegExp?]> = [
    ['min on a boolean sensor', deviceType('t', { sensors: [{ name: 'on', type: 'boolean', min: 0 }] }), 'POLICY_VALUE', 'deviceTypes[0].sensors[0].min', /no min for a boolean/],
    ['min above max', deviceType('t', { sensors: [{ name: 'temp', type: 'number', min: 30, max: 10 }] }), 'POLICY_VALUE', 'deviceTypes[0].sensors[0].max', /no smaller than min \(30\)/],
    ['a bound with 4 decimals', deviceType('t', { sensors: [{ name: 'temp', type: 'number', min: 0.0001 }] }), 'POLICY_VALUE', 'deviceTypes[0].sensors[0].min', /3 decimal places/],
    ['a bound that is a string', deviceType('t', { sensors: [{ name: 'temp', type: 'number', max: '40' }] }), 'POLICY_TYPE', 'deviceTypes[0].sensors[0].max'],
    ['sampling for an undeclared state', deviceType('t', { sampling: { lockdown: '1s' } }), 'POLICY_REFERENCE', 'deviceTypes[0].sampling.lockdown', /\(normal, suspicious, attack\) or default/],
    ['sampling below 100 ms', deviceType('t', { sampling: { suspicious: '50ms' } }), 'POLICY_VALUE', 'deviceTypes[0].sampling.suspicious', /100 ms to 24 h/],
    ['sampling above 24 h', deviceType('t', { sampling: { default: '25h' } }), 'POLICY_VALUE', 'deviceTypes[0].sampling.default'],
    ['a fractional duration', deviceType('t', { sampling: { normal: '1.5s' } }), 'POLICY_VALUE', 'deviceTypes[0].sampling.normal'],
    ['fractional milliseconds', deviceType('t', { sampling: { normal: 1500.5 } }), 'POLICY_VALUE', 'deviceTypes[0].sampling.normal'],
    ['a boolean duration', deviceType('t', { sampling: { normal: true } }), 'POLICY_TYPE', 'deviceTypes[0].sampling.normal'],
    ['sampling and samplingMs together', deviceType('t', { sampling: {}, samplingMs: {} }), 'POLICY_VALUE', 'deviceTypes[0].samplingMs'],
    ['samplingMs with a unit', deviceType('t', { samplingMs: { normal: '10s' } }), 'POLICY_TYPE', 'deviceTypes[0].samplingMs.normal'],
    ['a command declared twice', deviceType('t', { commands: ['power-off', 'power-off'] }), 'POLICY_DUPLICATE', 'deviceTypes[0].commands[1]'],
    ['a rule command the type does not declare', deviceType('t', {
      commands: ['power-off'], rules: [rule('r', 'normal', 'attack', { alert: { type: 'scan', withinMs: 1000 } }, [{ command: 'reboot' }])],
    }), 'POLICY_REFERENCE', 'deviceTypes[0].rules[0].commands[0].command', /command of device type t: one of power-off/],
    ['an unknown command target', deviceType('t', {
      rules: [rule('r', 'normal', 'attack', { alert: { type: 'scan', withinMs: 1000 } }, [{ command: 'reboot', target: 'everyone' }])],
    }), 'POLICY_VALUE', 'deviceTypes[0].rules[0].commands[0].target', /one of device group/],
    ['a timeOfDay window of no length', deviceType('t', { rules: [rule('r', 'normal', 'attack', clockRule('07:00', '07:00'))] }),
      'POLICY_VALUE', 'deviceTypes[0].rules[0].when.timeOfDay.to', /other than from/],
    ['an hour without its leading zero', deviceType('t', { rules: [rule('r', 'normal', 'attack', clockRule('7:00', '19:00'))] }),
      'POLICY_VALUE', 'deviceTypes[0].rules[0].when.timeOfDay.from', /HH:MM/],
    ['24:00', deviceType('t', { rules: [rule('r', 'normal', 'attack', clockRule('07:00', '24:00'))] }), 'POLICY_VALUE', 'deviceTypes[0].rules[0].when.timeOfDay.to'],
    ['a time written as a number (unquoted YAML sexagesimal)', deviceType('t', { rules: [rule('r', 'normal', 'attack', when({ timeOfDay: { from: 420, to: '19:00', timezone: BERLIN } }))] }),
      'POLICY_TYPE', 'deviceTypes[0].rules[0].when.timeOfDay.from'],
    ['a time zone nobody has', deviceType('t', { rules: [rule('r', 'normal', 'attack', clockRule('07:00', '19:00', 'Mars/Olympus_Mons'))] }),
      'POLICY_VALUE', 'deviceTypes[0].rules[0].when.timeOfDay.timezone', /does not know/],
    ['a time zone misspelt in case', deviceType('t', { rules: [rule('r', 'normal', 'attack', clockRule('07:00', '19:00', 'europe/berlin'))] }),
      'POLICY_VALUE', 'deviceTypes[0].rules[0].when.timeOfDay.timezone', /it knows "Europe\/Berlin"/],
    ['a UTC offset instead of a zone', deviceType('t', { rules: [rule('r', 'normal', 'attack', clockRule('07:00', '19:00', '+01:00'))] }),
      'POLICY_VALUE', 'deviceTypes[0].rules[0].when.timeOfDay.timezone'],
    ['timeOfDay without a time zone', deviceType('t', { rules: [rule('r', 'normal', 'attack', when({ timeOfDay: { from: '07:00', to: '19:00' } }))] }),
      'POLICY_MISSING', 'deviceTypes[0].rules[0].when.timeOfDay.timezone'],
    ['timeOfDay nested under not, with an extra key', deviceType('t', { rules: [rule('r', 'normal', 'attack', when({ not: { timeOfDay: { from: '07:00', to: '19:00', timezone: BERLIN, days: 'mon' } } }))] }),
      'POLICY_UNKNOWN_KEY', 'deviceTypes[0].rules[0].when.not.timeOfDay.days'],
  ];
  for (const [name, type, code, path, expected] of cases) {
    test(`${name} → ${code} at ${path}`, () => invalid(labDoc([type]), code, path, expected));
  }
});

describe('normalization of the new fields', () => {
  test('sampling becomes one interval per state: listed, else default, else 10 s; units ms, s, m, h', () => {
    const doc = validatePolicy(labDoc([
      deviceType('a', { sampling: { suspicious: '2s', default: '30s' } }),
      deviceType('b', { sampling: { normal: '500ms', suspicious: '2m', attack: 1500 } }),
      deviceType('c', { sampling: { attack: '1h' } }),
    ]), 'x');
    assert.deepEqual(doc.deviceTypes.map((t) => t.samplingMs), [
      { normal: 30_000, suspicious: 2000, attack: 30_000 },
      { normal: 500, suspicious: 120_000, attack: 1500 },
      { normal: 10_000, suspicious: 10_000, attack: 3_600_000 },
    ]);
  });

  test('a state named like an Object member ("constructor") takes the default, not what Object has', () => {
    const states = [{ name: 'normal', verdict: 'allow' }, { name: 'suspicious', verdict: 'allow' }, { name: 'attack', verdict: 'quarantine' }, { name: 'constructor', verdict: 'quarantine' }];
    const doc = validatePolicy(labDoc([deviceType('t', { states, sampling: { default: '5s' } })]), 'x');
    assert.equal(doc.deviceTypes[0]?.samplingMs['constructor'], 5000);
  });

  test('commands default to [] and a rule command to target device; the document validates to itself', () => {
    const doc = validatePolicy(labDoc([deviceType('t', {
      sensors: [{ name: 'temp', type: 'number', min: -40, max: 85.5, unit: '°C' }],
      rules: [
        rule('r1', 'normal', 'attack', clockRule('22:00', '06:00'), [{ command: 'power-off' }, { command: 'power-off', target: 'group' }]),
        rule('r2', 'attack', 'normal', when({ alert: { type: 'device-unreachable', withinMs: 1000 } })),
      ],
    })]), 'x');
    const type = doc.deviceTypes[0];
    assert.deepEqual(type?.commands, []);
    assert.deepEqual(type?.rules[0]?.commands.map((c) => c.target), ['device', 'group']);
    assert.deepEqual(type?.sensors[0], { name: 'temp', type: 'number', unit: '°C', min: -40, max: 85.5 });
    const again = validatePolicy(JSON.parse(JSON.stringify(doc)), 'y');
    assert.equal(JSON.stringify(again), JSON.stringify(doc));
  });

  test('the documented YAML examples load (cluster/policies/README.md shapes)', () => {
    const doc = parsePolicyYaml(`
domain: lab
version: 1
deviceTypes:
  - name: thermometer
    sensors: [{ name: temperature, type: number, unit: "°C", min: -40, max: 125 }]
    sampling: { normal: 10s, suspicious: 2s }
    states: [{ name: normal, verdict: allow }, { name: suspicious, verdict: allow }, { name: attack, verdict: quarantine }]
    rules:
      - name: off-hours
        from: normal
        to: suspicious
        when: { all: [ { timeOfDay: { from: "19:00", to: "07:00", timezone: Europe/Berlin } }, { alert: { type: device-unreachable, withinMs: 60000 } } ] }
        commands: [{ command: power-off, target: group }]
`, 'inline.yaml');
    assert.deepEqual(doc.deviceTypes[0]?.samplingMs, { normal: 10_000, suspicious: 2000, attack: 10_000 });
  });
});

describe('the wall clock in Europe/Berlin', () => {
  const rows: Array<[string, string, number]> = [
    ['2026-01-15T12:00:00Z', '13:00', 3_600_000],
    ['2026-03-29T00:59:59Z', '01:59', 3_600_000], // last second of CET
    ['2026-03-29T01:00:00Z', '03:00', 7_200_000], // 02:00–02:59 never happens
    ['2026-10-25T00:59:59Z', '02:59', 7_200_000], // last second of CEST
    ['2026-10-25T01:00:00Z', '02:00', 3_600_000], // 02:00–02:59 happens again
    ['2026-12-31T23:30:00Z', '00:30', 3_600_000], // past midnight, new year
  ];
  for (const [instant, local, offsetMs] of rows) {
    test(`${instant} is ${local} (UTC+${offsetMs / 3_600_000})`, () => {
      const clock = wallClock(utc(instant), BERLIN);
      const hhmm = `${String(Math.floor(clock.minuteOfDay / 60)).padStart(2, '0')}:${String(clock.minuteOfDay % 60).padStart(2, '0')}`;
      assert.equal(hhmm, local);
      assert.equal(clock.offsetMs, offsetMs);
    });
  }

  test('the next boundary stops at a daylight-saving switch inside the interval', () => {
    // 02:30 does not exist on 29 March: the window [02:30, 03:30) starts when the clock jumps to 03:00.
    assert.equal(nextBoundaryMs(utc('2026-03-29T00:00:00Z'), BERLIN, [150, 210]), utc('2026-03-29T01:00:00Z'));
    assert.equal(nextBoundaryMs(utc('2026-03-29T01:00:00Z'), BERLIN, [150, 210]), utc('2026-03-29T01:30:00Z'));
    assert.equal(nextBoundaryMs(utc('2026-01-15T12:00:00.500Z'), BERLIN, [22 * 60]), utc('2026-01-15T21:00:00Z'));
    // At a boundary, the next one is a day later, never the same instant.
    assert.equal(nextBoundaryMs(utc('2026-01-15T21:00:00Z'), BERLIN, [22 * 60]), utc('2026-01-16T21:00:00Z'));
  });
});

/** nightPolicy: a lamp that is suspicious from 22:00 to 06:00 Berlin time and normal otherwise. */
function nightPolicy(from = '22:00', to = '06:00'): Plain {
  return labDoc([deviceType('lamp', {
    rules: [
      rule('night', 'normal', 'suspicious', clockRule(from, to)),
      rule('day', 'suspicious', 'normal', when({ not: clockRule(from, to) })),
    ],
  })]);
}

/** runDeadlines drives an engine only by its deadlines until `endMs`, listing each move with its UTC time. */
function runDeadlines(engine: PolicyEngine, endMs: number): string[] {
  const seen: string[] = [];
  for (let guard = 0; guard < 100; guard++) {
    const due = engine.nextDeadlineMs();
    assert.ok(due !== null, 'a timeOfDay type always has a deadline');
    if (due > endMs) break;
    assert.deepEqual(engine.onTime(due - 1).filter((r) => r.kind === 'state'), [], `nothing moves before ${new Date(due).toISOString()}`);
    for (const move of moves(engine.onTime(due))) seen.push(`${new Date(due).toISOString()} ${move}`);
  }
  return seen;
}

describe('timeOfDay deadlines move devices at the boundary without a reading', () => {
  test('across midnight: suspicious at 22:00, normal at 06:00, every day', () => {
    const engine = engineWith(nightPolicy(), []);
    engine.upsertDevice(device('lamp-1', 'lamp'), utc('2026-01-15T12:00:00Z'));
    assert.equal(engine.nextDeadlineMs(), utc('2026-01-15T12:00:00Z'), 'a new device is evaluated at the next event');
    engine.onTime(utc('2026-01-15T12:00:00Z'));
    assert.equal(engine.nextDeadlineMs(), utc('2026-01-15T21:00:00Z'));
    assert.deepEqual(runDeadlines(engine, utc('2026-01-17T12:00:00Z')), [
      '2026-01-15T21:00:00.000Z lamp-1:normal>suspicious(night)',
      '2026-01-16T05:00:00.000Z lamp-1:suspicious>normal(day)',
      '2026-01-16T21:00:00.000Z lamp-1:normal>suspicious(night)',
      '2026-01-17T05:00:00.000Z lamp-1:suspicious>normal(day)',
    ]);
  });

  test('the window holds on its first minute and not on its last: [from, to)', () => {
    const rows: Array<[string, string]> = [
      ['2026-01-15T20:59:59Z', 'normal'], ['2026-01-15T21:00:00Z', 'suspicious'], ['2026-01-15T22:30:00Z', 'suspicious'],
      ['2026-01-16T04:59:59Z', 'suspicious'], ['2026-01-16T05:00:00Z', 'normal'],
    ];
    for (const [instant, state] of rows) {
      const fresh = engineWith(nightPolicy(), []);
      fresh.upsertDevice(device('lamp-1', 'lamp'), utc('2026-01-15T12:00:00Z'));
      runDeadlines(fresh, utc(instant));
      assert.equal(fresh.deviceState('lamp-1')?.state, state, instant);
    }
  });

  test('spring forward (29 March): a 02:30–03:30 window opens when the clock jumps to 03:00', () => {
    const engine = engineWith(nightPolicy('02:30', '03:30'), []);
    engine.upsertDevice(device('lamp-1', 'lamp'), utc('2026-03-28T23:00:00Z'));
    assert.deepEqual(runDeadlines(engine, utc('2026-03-29T12:00:00Z')), [
      '2026-03-29T01:00:00.000Z lamp-1:normal>suspicious(night)',
      '2026-03-29T01:30:00.000Z lamp-1:suspicious>normal(day)',
    ]);
  });

  test('fall back (25 October): a 02:00–02:30 window happens twice', () => {
    const engine = engineWith(nightPolicy('02:00', '02:30'), []);
    engine.upsertDevice(device('lamp-1', 'lamp'), utc('2026-10-24T22:00:00Z'));
    assert.deepEqual(runDeadlines(engine, utc('2026-10-25T12:00:00Z')), [
      '2026-10-25T00:00:00.000Z lamp-1:normal>suspicious(night)',
      '2026-10-25T00:30:00.000Z lamp-1:suspicious>normal(day)',
      '2026-10-25T01:00:00.000Z lamp-1:normal>suspicious(night)',
      '2026-10-25T01:30:00.000Z lamp-1:suspicious>normal(day)',
    ]);
  });

  test('an entry long after a boundary fires it once, and the next deadline lies after that entry', () => {
    const engine = engineWith(nightPolicy(), []);
    engine.upsertDevice(device('lamp-1', 'lamp'), utc('2026-01-15T12:00:00Z'));
    const late = utc('2026-01-18T23:00:00Z'); // 00:00 Berlin, three days on: inside the window
    assert.deepEqual(moves(engine.onTime(late)), ['lamp-1:normal>suspicious(night)']);
    assert.equal(engine.nextDeadlineMs(), utc('2026-01-19T05:00:00Z'));
  });

  test('rules with a timeOfDay leaf are also considered on the events their other leaves name', () => {
    const engine = engineWith(labDoc([deviceType('lamp', {
      rules: [rule('late-scan', 'normal', 'attack', when({ all: [clockRule('22:00', '06:00'), { alert: { type: 'scan', withinMs: 60_000 } }] }))],
    })]), []);
    engine.upsertDevice(device('lamp-1', 'lamp'), utc('2026-01-15T12:00:00Z'));
    assert.deepEqual(moves(engine.onAlert('lamp-1', 'scan', utc('2026-01-15T13:00:00Z'))), []);
    assert.deepEqual(moves(engine.onAlert('lamp-1', 'scan', utc('2026-01-15T22:00:00Z'))), ['lamp-1:normal>attack(late-scan)']);
  });

  test('nextDeadlineMs is null without deadlines, and names a time-in-state deadline', () => {
    const engine = engineWith(labDoc([deviceType('t', { rules: [rule('settle', 'suspicious', 'normal', when({ timeInState: { atLeastMs: 5000 } }))] })]), []);
    engine.upsertDevice(device('d1', 't'), 1000);
    assert.equal(engine.nextDeadlineMs(), null);
    engine.setState('d1', 'suspicious', 2000, 'test');
    assert.equal(engine.nextDeadlineMs(), 7000);
    engine.setState('d1', 'normal', 3000, 'test');
    assert.equal(engine.nextDeadlineMs(), null, 'a stale deadline is not reported');
  });

  test('snapshot → restore between deadlines: same snapshot, and the same moves afterwards', () => {
    const a = engineWith(nightPolicy(), []);
    a.upsertDevice(device('lamp-1', 'lamp'), utc('2026-01-15T12:00:00Z'));
    a.upsertDevice(device('lamp-2', 'lamp', 'g2'), utc('2026-01-15T12:30:00Z'));
    runDeadlines(a, utc('2026-01-16T00:00:00Z'));
    const snapshot = JSON.parse(JSON.stringify(a.snapshot())) as unknown;
    const b = PolicyEngine.restore(snapshot);
    assert.deepEqual(b.snapshot(), a.snapshot());
    assert.equal(b.nextDeadlineMs(), a.nextDeadlineMs());
    const end = utc('2026-01-18T00:00:00Z');
    assert.deepEqual(runDeadlines(b, end), runDeadlines(a, end));
    assert.deepEqual(b.snapshot(), a.snapshot());
  });

  test('a new policy without timeOfDay rules disarms the deadlines; with them, re-arms from now', () => {
    const engine = engineWith(nightPolicy(), []);
    engine.upsertDevice(device('lamp-1', 'lamp'), utc('2026-01-15T12:00:00Z'));
    engine.setPolicy(validatePolicy({ ...labDoc([deviceType('lamp')]), version: 2 }, 'v2'));
    assert.equal(engine.nextDeadlineMs(), null);
    engine.onTime(utc('2026-01-15T13:00:00Z'));
    engine.setPolicy(validatePolicy({ ...nightPolicy('15:00', '16:00'), version: 3 }, 'v3')); // now is 14:00 Berlin
    assert.equal(engine.nextDeadlineMs(), utc('2026-01-15T13:00:00Z'), 'due at once: the new rules are evaluated at the next event');
    engine.onTime(utc('2026-01-15T13:00:00Z'));
    assert.equal(engine.nextDeadlineMs(), utc('2026-01-15T14:00:00Z'));
  });

  test('a device added inside a window moves at the next event, not at the window\'s end', () => {
    const engine = engineWith(nightPolicy(), []);
    engine.upsertDevice(device('lamp-1', 'lamp'), utc('2026-01-15T23:00:00Z'));
    assert.deepEqual(moves(engine.onTime(utc('2026-01-15T23:00:01Z'))), ['lamp-1:normal>suspicious(night)']);
  });
});

describe('group commands', () => {
  const doc = (): Plain => labDoc([
    deviceType('lamp', {
      commands: ['power-off', 'power-on'],
      rules: [rule('scanned', 'normal', 'attack', { alert: { type: 'scan', withinMs: 1000 } }, [
        { command: 'power-off', target: 'group', args: { why: 'scan' } },
        { command: 'power-on' },
      ])],
    }),
    deviceType('plug', { commands: ['power-off'] }),
    deviceType('camera', { commands: ['reboot'] }),
    deviceType('bare', {
      rules: [rule('scanned', 'normal', 'attack', { alert: { type: 'scan', withinMs: 1000 } }, [{ command: 'power-off', target: 'group' }])],
    }),
  ]);
  const fleet = [
    device('lamp-2', 'lamp', 'g1'), device('lamp-1', 'lamp', 'g1'), device('plug-1', 'plug', 'g1'), device('cam-1', 'camera', 'g1'),
    device('lamp-3', 'lamp', 'g2'), device('bare-1', 'bare', 'g1'),
  ];

  test('reach every device of the group whose type declares the command, the trigger included, in id order', () => {
    const engine = engineWith(doc(), fleet);
    const reactions: Reaction[] = engine.onAlert('lamp-2', 'scan', 10);
    assert.deepEqual(commands(reactions), ['lamp-1:power-off', 'lamp-2:power-off', 'plug-1:power-off', 'lamp-2:power-on']);
    const first = reactions.find((r) => r.kind === 'command');
    assert.deepEqual(first?.kind === 'command' && first.args, { why: 'scan' });
  });

  test('a trigger whose type does not declare the command is left out; devices of other groups and domains are not reached', () => {
    const engine = engineWith(doc(), fleet);
    engine.setPolicy(validatePolicy({ ...doc(), domain: 'lab2' }, 'lab2'));
    engine.upsertDevice(device('lamp-9', 'lamp', 'g1', [], 'lab2'), 5);
    assert.deepEqual(commands(engine.onAlert('bare-1', 'scan', 10)), ['lamp-1:power-off', 'lamp-2:power-off', 'plug-1:power-off']);
  });

  test('a group command need not be declared by the rule\'s own type; a device command must be', () => {
    const withCommands = (target: 'device' | 'group') => labDoc([
      deviceType('sensor', { commands: ['reboot'], rules: [rule('hot', 'normal', 'attack', { alert: { type: 'scan', withinMs: 1000 } }, [{ command: 'power-off', target }])] }),
      deviceType('plug', { commands: ['power-off'] }),
    ]);
    assert.doesNotThrow(() => validatePolicy(withCommands('group'), 'lab'));
    assert.throws(() => validatePolicy(withCommands('device'), 'lab'), /power-off/);
  });
});

describe('sensor bounds and the built-in alert', () => {
  test('a reading outside min/max is refused as SENSOR_VALUE_OUT_OF_RANGE; the bounds themselves are accepted', () => {
    const engine = engineWith(labDoc([deviceType('t', { sensors: [{ name: 'temp', type: 'number', min: -40, max: 85.5 }] })]), [device('d', 't')]);
    engine.onSensor('d', 'temp', -40, 1);
    engine.onSensor('d', 'temp', 85.5, 2);
    engine.onSensor('d', 'temp', 85.5004, 3); // rounds to 85.500 (milli-units), inside
    for (const value of [-40.001, 85.501, 1e6]) {
      assert.throws(() => engine.onSensor('d', 'temp', value, 4), (error: unknown) =>
        error instanceof TelemetryRejected && error.code === 'SENSOR_VALUE_OUT_OF_RANGE' && /-40\.\.85\.5/.test(error.reason));
    }
  });

  test('device-unreachable is accepted for every type and may drive rules without being declared', () => {
    const engine = engineWith(labDoc([
      deviceType('t', { alertTypes: [], rules: [rule('gone', 'normal', 'suspicious', { alert: { type: 'device-unreachable', withinMs: 60_000 } })] }),
      deviceType('u', { alertTypes: [] }),
    ]), [device('d', 't'), device('e', 'u')]);
    assert.deepEqual(moves(engine.onAlert('d', 'device-unreachable', 10)), ['d:normal>suspicious(gone)']);
    assert.deepEqual(engine.onAlert('e', 'device-unreachable', 11), []);
  });
});

describe('the documentation', () => {
  test('every complete YAML example of cluster/policies/README.md loads', () => {
    const text = readFileSync(repoPath('cluster', 'policies', 'README.md'), 'utf8');
    const examples = [...text.matchAll(/```yaml\n(domain: lab\n[\s\S]*?)```/g)].map((m) => m[1] ?? '');
    assert.ok(examples.length >= 4, `at least the four device-interface examples, found ${examples.length}`);
    for (const [i, example] of examples.entries()) parsePolicyYaml(example, `README example ${i}`);
  });
});
