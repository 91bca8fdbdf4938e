// home-scenarios.test.ts — goal: the realistic device types of cluster/policies/home.yaml and
// office.yaml behave as a security engineer reading those documents expects. Method: load the sample
// documents, add devices, replay short event stories (readings, alerts, manual changes, time) and
// assert the exact reactions, states and data-plane plans, including the cases that must NOT move.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyEngine, TelemetryRejected } from '../../src/policy/index.js';
import { commands, device, loadSample, moves } from './support.js';

function home(...devices: Array<[string, string, string?, string[]?]>): PolicyEngine {
  const engine = new PolicyEngine();
  engine.setPolicy(loadSample('home.yaml'));
  for (const [id, type, group, tags] of devices) engine.upsertDevice(device(id, type, group ?? 'living', tags ?? [], 'home'), 0);
  return engine;
}

describe('smart plug: power draw averaged over the last 5 samples', () => {
  test('no decision before 5 samples, none at exactly the threshold, suspicious and power-off above it', () => {
    const engine = home(['plug', 'smart-plug']);
    for (const [i, watts] of [2500, 2500, 2500, 2500].entries()) {
      assert.deepEqual(engine.onSensor('plug', 'power', watts, 1000 * (i + 1)), [], 'fewer than 5 samples never decide');
    }
    // Window 2500,2500,2500,2500,-200: sum 9800 > 1800*5 = 9000.
    const fifth = engine.onSensor('plug', 'power', -200, 5000);
    assert.deepEqual(moves(fifth), ['plug:normal>suspicious(overload)']);
    assert.deepEqual(fifth[1], { kind: 'command', deviceId: 'plug', command: 'power-off', args: { reason: 'overload' } });
    assert.equal(engine.planFor('plug')?.state, 'suspicious');
    assert.deepEqual((engine.planFor('plug') as { chain: Array<{ name: string }> }).chain.map((i) => i.name), ['monitor', 'rate-limit']);
  });

  test('an average equal to the threshold does not exceed it (integer comparison, no rounding drift)', () => {
    const engine = home(['plug', 'smart-plug']);
    // 1799.999 + 1800.001 + 1800 × 3 averages exactly 1800: not > 1800.
    const readings = [1799.999, 1800.001, 1800, 1800, 1800];
    const all = readings.flatMap((w, i) => engine.onSensor('plug', 'power', w, i + 1));
    assert.deepEqual(all, []);
    assert.deepEqual(moves(engine.onSensor('plug', 'power', 1800.006, 10)), ['plug:normal>suspicious(overload)'],
      'one milli-unit over on average (sum +0.006 over 5) crosses');
  });

  test('boolean sensor: a plug reporting its relay off while metering more than 5.5 W is suspicious', () => {
    const engine = home(['plug', 'smart-plug']);
    assert.deepEqual(engine.onSensor('plug', 'power', 5.5, 1), []);
    assert.deepEqual(engine.onSensor('plug', 'relay-on', false, 2), [], '5.5 W is not more than 5.5 W');
    assert.deepEqual(engine.onSensor('plug', 'relay-on', true, 3), []);
    assert.deepEqual(engine.onSensor('plug', 'power', 5.501, 4), [], 'relay on: drawing power is fine');
    assert.deepEqual(moves(engine.onSensor('plug', 'relay-on', false, 5)), ['plug:normal>suspicious(draw-while-off)'],
      'the relay reading triggers the rule that names it');
  });

  test('time in state: the plug settles back to normal 10 minutes after entering suspicious, and not before', () => {
    const engine = home(['plug', 'smart-plug']);
    for (let i = 0; i < 5; i++) engine.onSensor('plug', 'power', 3000, i);
    assert.equal(engine.deviceState('plug')?.state, 'suspicious');
    const since = engine.deviceState('plug')?.sinceMs ?? -1;
    assert.equal(since, 4);
    for (let i = 0; i < 5; i++) engine.onSensor('plug', 'power', 100, 10 + i); // the load is gone
    assert.deepEqual(engine.onTime(since + 600_000 - 1), [], 'one ms early');
    assert.deepEqual(moves(engine.onTime(since + 600_000)), ['plug:suspicious>normal(settled)']);
    assert.deepEqual(engine.deviceState('plug'), { state: 'normal', sinceMs: since + 600_000, rule: 'settled', cause: '' });
  });

  test('a deadline fires on the next event of any kind; once passed, the power readings the rule names decide', () => {
    const engine = home(['plug', 'smart-plug'], ['bulb', 'smart-bulb']);
    for (let i = 0; i < 5; i++) engine.onSensor('plug', 'power', 3000, i);
    assert.deepEqual(engine.onSensor('bulb', 'on', true, 700_000), [], 'deadline evaluated: max of last 5 is 3000 W, not settled');
    assert.equal(engine.deviceState('plug')?.state, 'suspicious');
    for (let i = 0; i < 4; i++) assert.deepEqual(engine.onSensor('plug', 'power', 10, 700_001 + i), []);
    assert.deepEqual(moves(engine.onSensor('plug', 'power', 10, 700_005)), ['plug:suspicious>normal(settled)'],
      'the fifth low reading makes the max of the last 5 low, and 10 minutes have passed');
  });

  test('a rule is not considered for an event it does not refer to, even if its condition holds', () => {
    const engine = home(['plug', 'smart-plug']);
    engine.setState('plug', 'suspicious', 1, 'investigating');
    for (let i = 0; i < 5; i++) engine.onSensor('plug', 'power', 3000, 2 + i); // overload applies only from normal
    engine.setState('plug', 'normal', 10, 'false alarm');
    // The overload condition holds now (avg 3000 W), but a relay reading is not a power reading.
    assert.deepEqual(engine.onSensor('plug', 'relay-on', true, 11), []);
    assert.deepEqual(engine.onAlert('plug', 'brute-force-login', 12), [], 'nor is a (single) login alert');
    assert.equal(engine.deviceState('plug')?.state, 'normal');
    assert.deepEqual(moves(engine.onSensor('plug', 'power', 3000, 13)), ['plug:normal>suspicious(overload)']);
  });
});

describe('camera: motion while the lights of its room are off', () => {
  test('suspicious only when every bulb of the same group is off and motion is reported', () => {
    const engine = home(['cam', 'camera', 'living'], ['bulb-1', 'smart-bulb', 'living'], ['bulb-2', 'smart-bulb', 'living'],
      ['bulb-k', 'smart-bulb', 'kitchen']);
    engine.onSensor('bulb-1', 'on', false, 1);
    engine.onSensor('bulb-2', 'on', true, 2);
    engine.onSensor('bulb-k', 'on', false, 3);
    assert.deepEqual(engine.onSensor('cam', 'motion', true, 4), [], 'one living-room bulb is on');
    // The bulb turning off is a change the camera's rule watches (same group, sensor "on").
    assert.deepEqual(moves(engine.onSensor('bulb-2', 'on', false, 5)), ['cam:normal>suspicious(motion-in-the-dark)']);
    assert.deepEqual(engine.planFor('cam'), {
      state: 'suspicious',
      chain: [
        { name: 'firewall', digest: 'sha256:a4937d745279abc2eb458e881d8649e81459b06b1f9a555cf9e79d597a1e02c5' },
        { name: 'monitor', digest: 'sha256:f33ccb82f45a69e23499efcf38186adcfb09a44e8dc9e0a3361bdfbf96f57e7e' },
      ],
    });
  });

  test('no motion, no bulbs, or a bulb without a reading: not suspicious', () => {
    const alone = home(['cam', 'camera', 'garage']);
    assert.deepEqual(alone.onSensor('cam', 'motion', true, 1), [], '"all bulbs off" is false in a room without bulbs');
    const engine = home(['cam', 'camera'], ['bulb', 'smart-bulb']);
    assert.deepEqual(engine.onSensor('cam', 'motion', true, 1), [], 'a bulb that never reported is not known to be off');
    assert.deepEqual(engine.onSensor('cam', 'motion', false, 2), []);
    assert.deepEqual(engine.onSensor('bulb', 'on', false, 3), [], 'lights off without motion');
  });

  test('a bulb in another room does not wake the camera', () => {
    const engine = home(['cam', 'camera', 'living'], ['bulb-k', 'smart-bulb', 'kitchen'], ['bulb-l', 'smart-bulb', 'living']);
    engine.onSensor('bulb-l', 'on', true, 1);
    engine.onSensor('cam', 'motion', true, 2);
    assert.deepEqual(engine.onSensor('bulb-k', 'on', false, 3), []);
    assert.equal(engine.deviceState('cam')?.state, 'normal');
  });
});

describe('brute force: at least 3 alerts within 10 s move a device to attack', () => {
  test('3 alerts in exactly 10 s (window inclusive) → attack and quarantine; 3 in 10.001 s → nothing', () => {
    const engine = home(['cam', 'camera'], ['cam-2', 'camera']);
    assert.deepEqual(engine.onAlert('cam', 'brute-force-login', 1000), []);
    assert.deepEqual(engine.onAlert('cam', 'brute-force-login', 6000), []);
    assert.deepEqual(moves(engine.onAlert('cam', 'brute-force-login', 11_000)), ['cam:normal>attack(login-brute-force)']);
    assert.deepEqual(engine.planFor('cam'), { state: 'attack', verdict: 'quarantine' });

    engine.onAlert('cam-2', 'brute-force-login', 20_000);
    engine.onAlert('cam-2', 'brute-force-login', 25_000);
    assert.deepEqual(engine.onAlert('cam-2', 'brute-force-login', 30_001), []);
    assert.deepEqual(moves(engine.onAlert('cam-2', 'brute-force-login', 30_002)), ['cam-2:normal>attack(login-brute-force)']);
  });

  test('door lock under PIN brute force: attack, and a lock command recorded once for the serving node', () => {
    const engine = home(['lock', 'door-lock']);
    engine.onAlert('lock', 'brute-force-pin', 1);
    engine.onAlert('lock', 'brute-force-pin', 2);
    const third = engine.onAlert('lock', 'brute-force-pin', 3);
    assert.deepEqual(third, [
      { kind: 'state', deviceId: 'lock', from: 'normal', to: 'attack', rule: 'pin-brute-force', timeMs: 3 },
      { kind: 'command', deviceId: 'lock', command: 'lock', args: { mode: 'deadbolt' } },
    ]);
    assert.deepEqual(engine.onAlert('lock', 'brute-force-pin', 4), [], 'already in attack: `any` excludes the target state');
  });

  test('manual reset: back to normal with the reason kept; alerts older than the window no longer count', () => {
    const engine = home(['cam', 'camera']);
    for (const t of [1, 2, 3]) engine.onAlert('cam', 'brute-force-login', t);
    const reset = engine.setState('cam', 'normal', 60_000, 'firmware reflashed, ticket 4411');
    assert.deepEqual(reset, [{ kind: 'state', deviceId: 'cam', from: 'attack', to: 'normal', rule: 'manual', timeMs: 60_000 }]);
    assert.deepEqual(engine.deviceState('cam'), { state: 'normal', sinceMs: 60_000, rule: 'manual', cause: 'firmware reflashed, ticket 4411' });
    assert.deepEqual(engine.onAlert('cam', 'brute-force-login', 60_001), [], 'the old burst is outside the 10 s window');
    assert.deepEqual(engine.setState('cam', 'normal', 60_002, 'again'), [], 'setting the current state is a no-op');
    assert.throws(() => engine.setState('cam', 'rebooting', 60_003, 'x'), { name: 'PolicyRejected', code: 'UNKNOWN_STATE' });
  });
});

describe('door lock: other devices of the house (count quantifier, cascades)', () => {
  test('two other devices of its group in attack lock the door down; the second attack cascades in the same event', () => {
    const engine = home(['lock', 'door-lock', 'house'], ['cam', 'camera', 'house'], ['plug', 'smart-plug', 'house'],
      ['plug-x', 'smart-plug', 'garden']);
    engine.onAlert('plug-x', 'firmware-tamper', 1); // other group: does not count
    const first = engine.onAlert('cam', 'brute-force-login', 2);
    assert.deepEqual(moves(first), []);
    engine.onAlert('cam', 'brute-force-login', 3);
    assert.deepEqual(moves(engine.onAlert('cam', 'brute-force-login', 4)), ['cam:normal>attack(login-brute-force)']);
    const tamper = engine.onAlert('plug', 'firmware-tamper', 5);
    assert.deepEqual(moves(tamper), ['plug:normal>attack(firmware-tampered)', 'lock:normal>lockdown(neighbours-under-attack)']);
    assert.deepEqual(commands(tamper), ['plug:power-off']);
    assert.deepEqual(engine.planFor('lock')?.state, 'lockdown');
  });

  test('sum over the last 6 PIN-failure readings; a battery held under 5 % for 3 readings (aggregate none)', () => {
    const engine = home(['lock', 'door-lock'], ['lock-2', 'door-lock']);
    for (const [i, n] of [1, 2, 1, 2, 1].entries()) engine.onSensor('lock', 'pin-failures', n, i);
    assert.deepEqual(moves(engine.onSensor('lock', 'pin-failures', 3, 9)), ['lock:normal>suspicious(many-pin-failures)']);
    engine.onSensor('lock-2', 'battery', 4, 1);
    engine.onSensor('lock-2', 'battery', 5, 2);
    assert.deepEqual(engine.onSensor('lock-2', 'battery', 4.9, 3), [], 'one reading of the last 3 was not below 5');
    assert.deepEqual(engine.onSensor('lock-2', 'battery', 1, 4), [], 'last 3 are 5, 4.9, 1: 5 is not below 5');
    assert.deepEqual(moves(engine.onSensor('lock-2', 'battery', 2, 5)), ['lock-2:normal>suspicious(battery-tamper)']);
  });
});

describe('office thermostats: any / not over string and number sensors, a controller watched by type', () => {
  function office(): PolicyEngine {
    const engine = new PolicyEngine();
    engine.setPolicy(loadSample('office.yaml'));
    engine.upsertDevice(device('hvac', 'hvac-controller', 'plant', [], 'office'), 0);
    for (const id of ['t1', 't2', 't3', 't4']) engine.upsertDevice(device(id, 'thermostat', 'floor-1', [], 'office'), 0);
    return engine;
  }

  test('any: a setpoint above 30 °C alone is implausible; not any: an unknown mode string is suspicious', () => {
    const engine = office();
    assert.deepEqual(moves(engine.onSensor('t1', 'setpoint', 30.5, 1)), ['t1:normal>suspicious(implausible-reading)']);
    assert.deepEqual(engine.onSensor('t2', 'mode', 'cool', 2), []);
    assert.deepEqual(engine.onSensor('t2', 'mode', 'off', 3), []);
    assert.deepEqual(moves(engine.onSensor('t2', 'mode', 'debug-shell', 4)), ['t2:normal>suspicious(unknown-mode)']);
  });

  test('min over the last 3 readings: one plausible reading among hot ones keeps the thermostat normal', () => {
    const engine = office();
    engine.onSensor('t1', 'temperature', 50, 1);
    engine.onSensor('t1', 'temperature', 21, 2);
    assert.deepEqual(engine.onSensor('t1', 'temperature', 60, 3), []);
    engine.onSensor('t1', 'temperature', 46, 4);
    assert.deepEqual(moves(engine.onSensor('t1', 'temperature', 45.501, 5)), ['t1:normal>suspicious(implausible-reading)']);
  });

  test('three thermostats isolated make the controller suspicious; the controller in attack isolates every thermostat', () => {
    const engine = office();
    for (const id of ['t1', 't2']) engine.setState(id, 'attack', 1, 'drill');
    assert.equal(engine.deviceState('hvac')?.state, 'normal');
    assert.deepEqual(moves(engine.setState('t3', 'attack', 2, 'drill')), ['t3:normal>attack(manual)', 'hvac:normal>suspicious(half-the-thermostats-isolated)']);
    for (let i = 0; i < 19; i++) engine.onAlert('hvac', 'modbus-write-denied', 10 + i);
    assert.deepEqual(moves(engine.onAlert('hvac', 'modbus-write-denied', 40)),
      ['hvac:suspicious>attack(denied-write-storm)', 't4:normal>attack(controller-compromised)'],
      'only t4 moves: t1..t3 are already in attack');
  });
});

describe('telemetry that does not fit the device type is rejected and changes nothing', () => {
  type Input = { alert: string } | { sensor: string; value: number | boolean | string };
  const cases: Array<[string, Input, string]> = [
    ['an undeclared sensor', { sensor: 'voltage', value: 230 }, 'UNKNOWN_SENSOR'],
    ['a string for a number sensor', { sensor: 'power', value: '1500' }, 'SENSOR_TYPE_MISMATCH'],
    ['a number for a boolean sensor', { sensor: 'relay-on', value: 1 }, 'SENSOR_TYPE_MISMATCH'],
    ['NaN', { sensor: 'power', value: Number.NaN }, 'SENSOR_VALUE_NOT_FINITE'],
    ['Infinity', { sensor: 'power', value: Number.POSITIVE_INFINITY }, 'SENSOR_VALUE_NOT_FINITE'],
    ['more than 1e9', { sensor: 'power', value: 2e9 }, 'SENSOR_VALUE_OUT_OF_RANGE'],
    ['an undeclared alert type', { alert: 'port-scan' }, 'UNKNOWN_ALERT_TYPE'],
  ];
  for (const [what, input, code] of cases) {
    test(`${what} → ${code}`, () => {
      const engine = home(['plug', 'smart-plug']);
      engine.onSensor('plug', 'power', 10, 0);
      const before = JSON.stringify(engine.snapshot());
      const refused = (error: unknown): boolean => error instanceof TelemetryRejected && error.code === code;
      // The pre-checks the state machine may run over a whole batch refuse the same input the same way.
      if ('alert' in input) {
        assert.throws(() => engine.checkAlert('plug', input.alert), refused);
        assert.throws(() => engine.onAlert('plug', input.alert, 1), refused);
      } else {
        assert.throws(() => engine.checkSensorReading('plug', input.sensor, input.value), refused);
        assert.throws(() => engine.onSensor('plug', input.sensor, input.value, 1), refused);
      }
      assert.equal(JSON.stringify(engine.snapshot()), before);
    });
  }

  test('a string reading longer than 256 characters is refused', () => {
    const engine = new PolicyEngine();
    engine.setPolicy(loadSample('office.yaml'));
    engine.upsertDevice(device('t', 'thermostat', 'f', [], 'office'), 0);
    assert.throws(() => engine.onSensor('t', 'mode', 'x'.repeat(257), 1), { name: 'TelemetryRejected', code: 'SENSOR_VALUE_TOO_LONG' });
    assert.deepEqual(moves(engine.onSensor('t', 'mode', 'x'.repeat(256), 1)), ['t:normal>suspicious(unknown-mode)']);
  });

  test('an unknown device, or a time that is not a non-negative integer, is rejected', () => {
    const engine = home(['plug', 'smart-plug']);
    assert.throws(() => engine.onSensor('nope', 'power', 1, 1), { name: 'PolicyRejected', code: 'UNKNOWN_DEVICE' });
    assert.throws(() => engine.onSensor('plug', 'power', 1, 1.5), { name: 'PolicyRejected', code: 'INVALID_TIME' });
    assert.throws(() => engine.onTime(-1), { name: 'PolicyRejected', code: 'INVALID_TIME' });
  });

  test('a reading with more than 3 decimals is rounded half away from zero to milli-units', () => {
    const engine = home(['plug', 'smart-plug']);
    engine.onSensor('plug', 'power', 1.0005, 1);
    engine.onSensor('plug', 'power', -1.0005, 2);
    engine.onSensor('plug', 'power', 0.30000000000000004, 3);
    const plug = engine.snapshot().devices.find((d) => d.id === 'plug');
    assert.deepEqual(plug?.sensors.find((s) => s.name === 'power')?.samples, [1001, -1001, 300]);
  });
});
