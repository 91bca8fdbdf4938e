// engine.test.ts — goal: each evaluation rule of the policy engine, one test (or table) per rule:
// aggregates, all/any/not, first match in declared order, rules considered only for events they name,
// one move per device per event even with cyclic rules, time in state, the count quantifier, device
// membership changes, policy replacement, and the bounds on histories. Method: small documents built
// in code for the lab domain, driven event by event with exact expected reactions.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyEngine, PolicyRejected, validatePolicy, type Aggregate, type ComparisonOp } from '../../src/policy/index.js';
import { device, deviceType, engineWith, labDoc, loadSample, moves, rule, type Plain } from './support.js';

function levelRule(op: ComparisonOp, value: number, last: number, aggregate: Aggregate): Plain {
  return rule('level-rule', 'normal', 'suspicious', { sensor: { name: 'level', op, value, over: { last, aggregate } } });
}

describe('sensor aggregates over the last k samples', () => {
  // Each row: the rule, the readings in order, and after which reading (1-based) the device moves (0: never).
  const rows: Array<{ name: string; op: ComparisonOp; value: number; last: number; aggregate: Aggregate; readings: number[]; movesAt: number }> = [
    { name: 'none, k=1: the latest reading alone', op: '>', value: 10, last: 1, aggregate: 'none', readings: [5, 10, 10.001], movesAt: 3 },
    { name: 'none, k=3: every one of the last 3', op: '>', value: 10, last: 3, aggregate: 'none', readings: [11, 12, 9, 11, 12, 13], movesAt: 6 },
    { name: 'avg, exact at the threshold is not above', op: '>', value: 10, last: 3, aggregate: 'avg', readings: [9, 10, 11, 10.003], movesAt: 4 },
    { name: 'avg with decimals: 0.1 + 0.2 averages exactly 0.1 over 3 with 0', op: '==', value: 0.1, last: 3, aggregate: 'avg', readings: [0.1, 0.2, 0], movesAt: 3 },
    { name: 'avg of negatives', op: '<=', value: -2.5, last: 2, aggregate: 'avg', readings: [-2, -2.999, -3], movesAt: 3 },
    { name: 'sum', op: '>=', value: 100, last: 4, aggregate: 'sum', readings: [30, 30, 30, 9.999, 30.001], movesAt: 5 },
    { name: 'min', op: '>', value: 40, last: 3, aggregate: 'min', readings: [50, 39, 60, 70, 41], movesAt: 5 },
    { name: 'max', op: '<', value: 5, last: 3, aggregate: 'max', readings: [1, 9, 2, 3, 4], movesAt: 5 },
    { name: '!= on numbers', op: '!=', value: 0, last: 2, aggregate: 'none', readings: [0, 1, 2], movesAt: 3 },
    { name: 'never enough samples', op: '>', value: 0, last: 5, aggregate: 'avg', readings: [1, 2, 3, 4], movesAt: 0 },
  ];
  for (const row of rows) {
    test(row.name, () => {
      const engine = engineWith(labDoc([deviceType('probe', { rules: [levelRule(row.op, row.value, row.last, row.aggregate)] })]),
        [device('p', 'probe')]);
      let movedAt = 0;
      row.readings.forEach((reading, i) => {
        const reactions = engine.onSensor('p', 'level', reading, i + 1);
        if (reactions.length > 0) {
          assert.equal(movedAt, 0, 'moves once');
          movedAt = i + 1;
        }
      });
      assert.equal(movedAt, row.movesAt);
    });
  }
});

describe('conditions: all, any, not over boolean and string sensors and alerts', () => {
  const doc = labDoc([deviceType('door', {
    rules: [
      rule('forced', 'normal', 'attack', {
        all: [
          { sensor: { name: 'open', op: '==', value: true } },
          { not: { sensor: { name: 'mode', op: '==', value: 'unlocked' } } },
        ],
      }),
      rule('odd', 'normal', 'suspicious', {
        any: [
          { sensor: { name: 'mode', op: '==', value: 'service' } },
          { alert: { type: 'scan', atLeast: 2, withinMs: 1000 } },
        ],
      }),
    ],
  })]);

  test('all + not: open while not unlocked is forced; open while unlocked is fine', () => {
    const engine = engineWith(doc, [device('d', 'door'), device('e', 'door')]);
    engine.onSensor('d', 'mode', 'unlocked', 1);
    assert.deepEqual(engine.onSensor('d', 'open', true, 2), []);
    assert.deepEqual(moves(engine.onSensor('d', 'mode', 'locked', 3)), ['d:normal>attack(forced)']);
    // Without any mode reading, "mode == unlocked" is false (a comparison needs a sample), so its
    // negation holds: an open door whose lock never reported is treated as forced.
    assert.deepEqual(moves(engine.onSensor('e', 'open', true, 4)), ['e:normal>attack(forced)']);
  });

  test('any: a service mode string, or two scans within 1 s', () => {
    const engine = engineWith(doc, [device('d', 'door'), device('e', 'door')]);
    assert.deepEqual(moves(engine.onSensor('d', 'mode', 'service', 1)), ['d:normal>suspicious(odd)']);
    engine.onAlert('e', 'scan', 10);
    assert.deepEqual(engine.onAlert('e', 'scan', 1011), [], '1001 ms apart');
    assert.deepEqual(moves(engine.onAlert('e', 'scan', 1500)), ['e:normal>suspicious(odd)']);
  });
});

describe('rule order and triggers', () => {
  const both = (first: string, second: string): Plain => labDoc([deviceType('probe', {
    rules: [
      rule(first, 'normal', first === 'to-attack' ? 'attack' : 'suspicious', { sensor: { name: 'level', op: '>', value: 1 } }),
      rule(second, 'normal', second === 'to-attack' ? 'attack' : 'suspicious', { sensor: { name: 'level', op: '>', value: 1 } }),
    ],
  })]);

  test('when two rules match the same event, the first declared wins', () => {
    const a = engineWith(both('to-attack', 'to-suspicious'), [device('p', 'probe')]);
    assert.deepEqual(moves(a.onSensor('p', 'level', 5, 1)), ['p:normal>attack(to-attack)']);
    const b = engineWith(both('to-suspicious', 'to-attack'), [device('p', 'probe')]);
    assert.deepEqual(moves(b.onSensor('p', 'level', 5, 1)), ['p:normal>suspicious(to-suspicious)']);
  });

  test('an earlier rule that does not name the event does not shadow a later one that does', () => {
    const doc = labDoc([deviceType('probe', {
      rules: [
        rule('by-alert', 'normal', 'attack', { alert: { type: 'scan', withinMs: 100000 } }),
        rule('by-level', 'normal', 'suspicious', { sensor: { name: 'level', op: '>', value: 1 } }),
      ],
    })]);
    const engine = engineWith(doc, [device('p', 'probe')]);
    engine.setState('p', 'suspicious', 1, 'hold');
    engine.onAlert('p', 'scan', 2); // by-alert does not apply from suspicious; the alert is on record
    engine.setState('p', 'normal', 3, 'release');
    // by-alert's condition holds (a scan 1 ms ago) but a level reading is not a scan alert.
    assert.deepEqual(moves(engine.onSensor('p', 'level', 5, 4)), ['p:normal>suspicious(by-level)']);
  });

  test('from: any never re-enters the state it targets, so it cannot block the rules after it', () => {
    const doc = labDoc([deviceType('probe', {
      rules: [
        rule('always-attack', 'any', 'attack', { sensor: { name: 'level', op: '>', value: 1 } }),
        rule('attack-to-suspicious', 'attack', 'suspicious', { sensor: { name: 'level', op: '>', value: 100 } }),
      ],
    })]);
    const engine = engineWith(doc, [device('p', 'probe')]);
    assert.deepEqual(moves(engine.onSensor('p', 'level', 5, 1)), ['p:normal>attack(always-attack)']);
    assert.deepEqual(moves(engine.onSensor('p', 'level', 500, 2)), ['p:attack>suspicious(attack-to-suspicious)']);
  });
});

describe('one move per device per event', () => {
  test('a rule cycle between two watching devices ends after each moved once', () => {
    // A follows B into suspicious, B follows A into attack, A follows B back to normal …
    const watcher = (name: string, other: string): Plain => deviceType(name, {
      rules: [
        rule('follow-suspicious', 'normal', 'suspicious', { devices: { select: { type: other }, in: ['suspicious'] } }),
        rule('follow-attack', 'suspicious', 'attack', { devices: { select: { type: other }, in: ['attack', 'suspicious'] } }),
        rule('back', 'attack', 'normal', { devices: { select: { type: other }, in: ['attack'] } }),
      ],
    });
    const engine = engineWith(labDoc([watcher('alpha', 'beta'), watcher('beta', 'alpha')]), [device('a', 'alpha'), device('b', 'beta')]);
    const first = engine.setState('a', 'suspicious', 1, 'start');
    assert.deepEqual(moves(first), ['a:normal>suspicious(manual)', 'b:normal>suspicious(follow-suspicious)'],
      'a moved by hand; b followed; a does not move again in this event although follow-attack now holds for it');
    const second = engine.onTime(2);
    assert.deepEqual(second, [], 'no new event about b: nothing is re-evaluated');
  });

  test('a cascade through a chain of watchers moves each device once, in waves, in id order within a wave', () => {
    const doc = labDoc([deviceType('node', {
      rules: [rule('spread', 'normal', 'attack', { devices: { select: { sameGroup: true }, in: ['attack'], quantifier: 'any' } })],
    })]);
    const engine = engineWith(doc, ['n3', 'n1', 'n2', 'n0'].map((id) => device(id, 'node', 'ring')));
    assert.deepEqual(moves(engine.setState('n2', 'attack', 5, 'seed')), [
      'n2:normal>attack(manual)', 'n0:normal>attack(spread)', 'n1:normal>attack(spread)', 'n3:normal>attack(spread)',
    ]);
  });
});

describe('devices: count quantifier and membership', () => {
  const doc = labDoc([
    deviceType('hub', {
      rules: [rule('crowded', 'normal', 'suspicious', {
        devices: { select: { tag: 'sensitive' }, in: ['attack'], quantifier: 'count', count: { op: '>=', n: 2 } },
      })],
    }),
    deviceType('leaf'),
  ]);

  test('count over a tag; a device leaving the selection re-evaluates its watchers; the watcher does not count itself', () => {
    const engine = engineWith(doc, [device('hub', 'hub', 'g', ['sensitive']), device('l1', 'leaf', 'g', ['sensitive']),
      device('l2', 'leaf', 'g', ['sensitive']), device('l3', 'leaf', 'g', [])]);
    engine.setState('hub', 'attack', 1, 'x');
    engine.setState('hub', 'normal', 2, 'x');
    assert.deepEqual(moves(engine.setState('l3', 'attack', 3, 'untagged')), ['l3:normal>attack(manual)'], 'the hub ignores untagged l3');
    assert.deepEqual(moves(engine.setState('l1', 'attack', 4, 'x')), ['l1:normal>attack(manual)']);
    // l3 gains the tag: a membership change the hub watches.
    assert.deepEqual(moves(engine.upsertDevice(device('l3', 'leaf', 'g', ['sensitive']), 5)), ['hub:normal>suspicious(crowded)']);
  });

  test('a new device is added in its type initial state; changing its type resets it; removing it updates watchers', () => {
    const typed = labDoc([deviceType('hub', {
      rules: [rule('alone', 'normal', 'suspicious', { devices: { select: { type: 'leaf' }, quantifier: 'count', count: { op: '==', n: 0 } } })],
    }), deviceType('leaf', { initialState: 'suspicious' })]);
    const engine = engineWith(typed, [device('hub', 'hub'), device('leaf', 'leaf')]);
    assert.deepEqual(engine.deviceState('leaf'), { state: 'suspicious', sinceMs: 0, rule: 'initial', cause: '' });
    assert.deepEqual(moves(engine.upsertDevice(device('leaf', 'hub'), 7)), ['leaf:suspicious>normal(device-type-changed)', 'hub:normal>suspicious(alone)']);
    assert.throws(() => engine.removeDevice('leaf-x'), { name: 'PolicyRejected', code: 'UNKNOWN_DEVICE' });
    engine.removeDevice('leaf');
    assert.equal(engine.deviceState('leaf'), undefined);
    assert.equal(engine.planFor('leaf'), undefined);
  });

  test('bad devices are rejected: unknown domain, unknown type, bad names, duplicate tags', () => {
    const engine = engineWith(doc, []);
    const cases: Array<[Parameters<PolicyEngine['upsertDevice']>[0], string]> = [
      [device('x', 'hub', 'g', [], 'other'), 'UNKNOWN_DOMAIN'],
      [device('x', 'lamp'), 'UNKNOWN_DEVICE_TYPE'],
      [device('bad id', 'hub'), 'INVALID_DEVICE'],
      [device('x', 'hub', 'g', ['a', 'a']), 'INVALID_DEVICE'],
    ];
    for (const [d, code] of cases) assert.throws(() => engine.upsertDevice(d, 1), { name: 'PolicyRejected', code });
    assert.deepEqual(engine.deviceIds(), []);
  });
});

describe('time in state', () => {
  const doc = labDoc([deviceType('probe', {
    rules: [
      rule('escalate', 'suspicious', 'attack', { all: [{ timeInState: { atLeastMs: 1000 } }, { alert: { type: 'scan', withinMs: 5000 } }] }),
      rule('cool-down', 'suspicious', 'normal', { timeInState: { atLeastMs: 3000 } }),
    ],
  })]);

  test('deadlines fire at entry times only, each threshold once, measured from entering the state', () => {
    const engine = engineWith(doc, [device('p', 'probe')]);
    engine.setState('p', 'suspicious', 100, 'x');
    engine.onAlert('p', 'scan', 200);
    assert.deepEqual(engine.onTime(1099), []);
    assert.deepEqual(moves(engine.onTime(1100)), ['p:suspicious>attack(escalate)']);
    engine.setState('p', 'suspicious', 2000, 'x'); // re-entering restarts the clock
    assert.deepEqual(engine.onTime(2999), []);
    // The 1000 ms deadline (t=3000) is first seen at the entry of t=3500, and evaluated then: the scan
    // of t=200 is 3300 ms old, inside its 5 s window.
    assert.deepEqual(moves(engine.onTime(3500)), ['p:suspicious>attack(escalate)']);
    assert.equal(engine.deviceState('p')?.sinceMs, 3500);
  });

  test('time never runs backwards: an older entry time is evaluated at the latest time seen', () => {
    const engine = engineWith(doc, [device('p', 'probe')]);
    engine.setState('p', 'suspicious', 10_000, 'x');
    assert.deepEqual(moves(engine.onTime(13_000)), ['p:suspicious>normal(cool-down)']);
    const late = engine.setState('p', 'attack', 5, 'late entry');
    assert.deepEqual(late, [{ kind: 'state', deviceId: 'p', from: 'normal', to: 'attack', rule: 'manual', timeMs: 13_000 }]);
  });
});

describe('policy replacement', () => {
  test('a new version re-fits histories and re-arms deadlines; one that strands a device is refused and changes nothing', () => {
    const v1 = labDoc([deviceType('probe', { rules: [levelRule('>', 10, 3, 'avg')] })]);
    const engine = engineWith(v1, [device('p', 'probe')]);
    for (let i = 0; i < 3; i++) engine.onSensor('p', 'level', 1, i);
    const noSuspicious = labDoc([deviceType('probe', { states: [{ name: 'normal', verdict: 'allow' }, { name: 'attack', verdict: 'quarantine' }] })], 2);
    assert.throws(() => validatePolicy(noSuspicious, 'v2'), { name: 'PolicyError', code: 'POLICY_MISSING' });
    engine.setState('p', 'suspicious', 5, 'x');
    const before = JSON.stringify(engine.snapshot());
    const withoutProbe = labDoc([deviceType('other')], 2);
    assert.throws(() => engine.setPolicy(validatePolicy(withoutProbe, 'v2')), (e: unknown) => e instanceof PolicyRejected && e.code === 'POLICY_BREAKS_DEVICES');
    assert.equal(JSON.stringify(engine.snapshot()), before, 'nothing changed');
    const v2 = labDoc([deviceType('probe', { rules: [rule('back', 'suspicious', 'normal', { timeInState: { atLeastMs: 10 } })] })], 2);
    engine.setPolicy(validatePolicy(v2, 'v2'));
    const snap = engine.snapshot();
    assert.deepEqual(snap.devices[0]?.sensors, [{ name: 'level', samples: [1000] }], 'the level history shrinks to the 1 sample v2 needs');
    assert.deepEqual(snap.devices[0]?.timersMs, [15], 'the new deadline counts from entering suspicious at 5');
    assert.deepEqual(moves(engine.onTime(15)), ['p:suspicious>normal(back)']);
  });
});

describe('bounded histories', () => {
  test('alerts keep at most the largest atLeast and nothing older than the largest window; samples at most the largest k', () => {
    const doc = labDoc([deviceType('probe', {
      rules: [
        rule('burst', 'normal', 'attack', { alert: { type: 'scan', atLeast: 4, withinMs: 100 } }),
        rule('slow', 'normal', 'suspicious', { alert: { type: 'scan', atLeast: 2, withinMs: 1000 } }),
        levelRule('>', 1e6, 7, 'avg'),
      ],
    })]);
    const engine = engineWith(doc, [device('p', 'probe')]);
    engine.setState('p', 'attack', 0, 'park it so nothing moves');
    for (let t = 1; t <= 50; t++) {
      engine.onAlert('p', 'scan', t * 10);
      engine.onSensor('p', 'level', t, t * 10);
    }
    const p = engine.snapshot().devices[0];
    assert.deepEqual(p?.alerts, [{ type: 'scan', timesMs: [470, 480, 490, 500] }]);
    assert.deepEqual(p?.sensors, [{ name: 'level', samples: [44000, 45000, 46000, 47000, 48000, 49000, 50000] }]);
    engine.onAlert('p', 'scan', 2000);
    assert.deepEqual(engine.snapshot().devices[0]?.alerts, [{ type: 'scan', timesMs: [2000] }], 'older than 1000 ms: pruned');
  });
});

describe('an event touches only the devices it can affect', () => {
  // The work an event does is counted (devices evaluated, devices scanned by `devices` conditions);
  // it must not grow with the number of devices in the domain. Timing is the benchmark's job; the
  // counts are deterministic, so this test cannot flake.
  function house(count: number): PolicyEngine {
    const engine = new PolicyEngine();
    engine.setPolicy(loadSample('home.yaml'));
    const types = ['smart-plug', 'smart-bulb', 'camera', 'door-lock'];
    for (let i = 0; i < count; i++) {
      engine.upsertDevice(device(`d${String(i).padStart(5, '0')}`, types[i % 4] as string, `room-${Math.floor(i / 8)}`, [], 'home'), 0);
    }
    return engine;
  }
  function workOf(engine: PolicyEngine, act: () => unknown): { evaluated: number; scanned: number } {
    const before = engine.workDone();
    act();
    const after = engine.workDone();
    return { evaluated: after.devicesEvaluated - before.devicesEvaluated, scanned: after.devicesScanned - before.devicesScanned };
  }

  test('the same work with 12 and with 10,000 devices', () => {
    const results = [12, 10_000].map((count) => {
      const engine = house(count);
      engine.onSensor('d00002', 'motion', true, 1);
      engine.onSensor('d00006', 'motion', true, 1);
      return {
        plugReading: workOf(engine, () => engine.onSensor('d00000', 'power', 120, 1)),
        bulbReading: workOf(engine, () => engine.onSensor('d00001', 'on', false, 2)),
        cameraAlert: workOf(engine, () => engine.onAlert('d00002', 'port-scan', 3)),
        lockState: workOf(engine, () => engine.setState('d00002', 'attack', 4, 'drill')),
      };
    });
    assert.deepEqual(results[0], {
      plugReading: { evaluated: 1, scanned: 0 }, // the plug's own rules
      bulbReading: { evaluated: 2, scanned: 4 }, // the 2 cameras of its room (motion seen), each looking at the room's 2 bulbs
      cameraAlert: { evaluated: 1, scanned: 0 }, // the camera's own rules (it names port-scan)
      lockState: { evaluated: 2, scanned: 16 }, // the 2 locks of the room, each going through the 8 devices of the room
    });
    assert.deepEqual(results[1], results[0]);
  });
});

describe('the deadline heap stays bounded', () => {
  test('a device flapping 10,000 times under a one-day deadline leaves at most 2 × live + 1024 heap entries', () => {
    const doc = labDoc([deviceType('probe', {
      rules: [rule('long', 'suspicious', 'attack', { timeInState: { atLeastMs: 86_400_000 } })],
    })]);
    const engine = engineWith(doc, [device('p', 'probe'), device('q', 'probe')]);
    engine.setState('q', 'suspicious', 0, 'keeps one live deadline');
    let peak = 0;
    for (let i = 0; i < 10_000; i++) {
      engine.setState('p', i % 2 === 0 ? 'suspicious' : 'normal', i + 1, 'flap');
      peak = Math.max(peak, engine.workDone().timerHeapEntries);
    }
    const { liveTimers } = engine.workDone();
    assert.equal(liveTimers, 1, 'p ended in normal (no deadline), q waits in suspicious');
    assert.ok(peak <= 2 * 2 + 1024 + 1, `peak heap ${peak}`);
    assert.deepEqual(moves(engine.onTime(86_400_000)), ['q:suspicious>attack(long)']);
  });
});
