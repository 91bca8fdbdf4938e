// device-interface.test.ts — goal: the replicated half of the device interface (issue 13) as the node,
// the API and people rely on it: registrations carry their interface; readings keep a bounded history
// per device and sensor; sampling follows the device's state; group commands queue one command per
// device for its own node; device commands go pending → done, or pending → retried → failed with their
// reason; discoveries are kept per node, merged, bounded and forgotten once a device owns them;
// time-of-day deadlines are announced so an empty batch moves devices; and all of it is deterministic:
// snapshot → restore gives the same hash and the same results for every later entry, and two machines
// fed the same entries agree.
// Method: scenario tests on the 3-node test cluster of fixtures.ts with a policy that uses the new
// language; entries are signed for real and applied in order with leader-stamped times.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { DeviceInterface, TelemetryEvent } from '../../src/commands/index.js';
import { StateMachine, policyEngines, type ApplyResult, type LogEntryInput } from '../../src/state/index.js';
import { T0_MS, TestCluster, homePolicy } from './fixtures.js';

type Plain = Record<string, unknown>;

/** devicePolicy is homePolicy using the device interface: bounds, commands, sampling, a group command, a night rule. */
function devicePolicy(version: number): Plain {
  const doc = homePolicy(version) as { deviceTypes: Plain[] };
  const [plug, camera] = doc.deviceTypes as [Plain, Plain];
  plug['sensors'] = [{ name: 'power', type: 'number', unit: 'W', min: 0, max: 4000 }, { name: 'relay-on', type: 'boolean' }];
  plug['commands'] = ['power-off'];
  plug['sampling'] = { suspicious: '2s', default: '10s' };
  plug['rules'] = [
    { name: 'overload', from: 'normal', to: 'suspicious', when: { sensor: { name: 'power', op: '>', value: 1800, over: { last: 3, aggregate: 'avg' } } },
      commands: [{ command: 'power-off', args: { reason: 'overload' }, target: 'group' }] },
    { name: 'gone', from: 'any', to: 'attack', when: { alert: { type: 'device-unreachable', withinMs: 60_000 } } },
  ];
  camera['rules'] = [
    { name: 'night', from: 'normal', to: 'suspicious', when: { timeOfDay: { from: '22:00', to: '06:00', timezone: 'Europe/Berlin' } } },
    { name: 'day', from: 'suspicious', to: 'normal', when: { not: { timeOfDay: { from: '22:00', to: '06:00', timezone: 'Europe/Berlin' } } } },
  ];
  return doc;
}

class Harness {
  readonly cluster = new TestCluster();
  readonly machine = new StateMachine(this.cluster.genesis, policyEngines);
  readonly log: LogEntryInput[] = [];
  index = 0;
  timeMs = T0_MS;

  apply(payload: Uint8Array, advanceMs = 1000): ApplyResult {
    this.index += 1;
    this.timeMs += advanceMs;
    const entry = { index: this.index, term: 1, timeMs: this.timeMs, payload };
    this.log.push(entry);
    return this.machine.apply(entry);
  }

  ok(payload: Uint8Array, advanceMs = 1000): Extract<ApplyResult, { ok: true }> {
    const result = this.apply(payload, advanceMs);
    assert.ok(result.ok, `rejected: ${JSON.stringify(result)}`);
    return result;
  }

  fails(payload: Uint8Array, code: string, path?: string): void {
    const result = this.apply(payload);
    assert.ok(!result.ok, `accepted: ${JSON.stringify(result)}`);
    assert.equal(result.code, code, JSON.stringify(result));
    if (path !== undefined) assert.equal(result.path, path, JSON.stringify(result));
  }

  /** node signs a command with node n's key (0-based). */
  node(n: number, payload: Parameters<TestCluster['as']>[1], domain = ''): Uint8Array {
    return this.cluster.as(this.cluster.nodes[n]!, payload, domain);
  }

  /** ready: domain home with the device policy (version 2) and `devices` plugs in group kitchen on n1, n2, n3, ... */
  static ready(devices = 3): Harness {
    const h = new Harness();
    for (const command of h.cluster.setup(devices)) h.ok(command);
    h.ok(h.cluster.as(h.cluster.admin, { kind: 'setPolicy', documentJson: JSON.stringify(devicePolicy(2)) }, 'home'));
    return h;
  }
}

const power = (deviceId: string, value: number): TelemetryEvent => ({ kind: 'reading', deviceId, sensor: 'power', value });
const discovery = (port: string, mac: string, firstSeenMs: number, lastSeenMs: number, hostname = '', vendorClass = ''): TelemetryEvent =>
  ({ kind: 'discovery', port, mac, firstSeenMs, lastSeenMs, hostname, vendorClass });

describe('registration with an interface', () => {
  test('the interface is kept with the device and in the snapshot; replacing the device can drop it', () => {
    const h = Harness.ready(0);
    const face: DeviceInterface = { protocol: 'http-json', endpoint: 'http://10.77.0.12:8080/status', credentialRef: 'thermo-1', options: { 'sensor.power': '/power' } };
    const put = (withInterface: boolean): Uint8Array => h.cluster.as(h.cluster.admin, {
      kind: 'putDevice',
      device: { id: 'plug-9', type: 'smart-plug', group: 'lab', tags: [], nodeId: 'n1', port: 'qgd1d4', addresses: ['10.77.0.12'], ...(withInterface ? { interface: face } : {}) },
    }, 'home');
    h.ok(put(true));
    assert.deepEqual(h.machine.device('plug-9')?.interface, face);
    assert.match(Buffer.from(h.machine.snapshot()).toString('utf8'), /"credentialRef":"thermo-1"/);
    h.ok(put(false));
    assert.equal(h.machine.device('plug-9')?.interface, undefined);
  });
});

describe('readings history, sampling and sensor declarations', () => {
  test('the latest reading and the last 32 with their entry times, per declared sensor', () => {
    const h = Harness.ready(1);
    const times: number[] = [];
    for (let i = 0; i < 40; i++) {
      h.ok(h.node(0, { kind: 'telemetry', events: [power('plug-0', 100 + i)] }));
      times.push(h.timeMs);
    }
    const [powerReadings, relay] = h.machine.deviceReadings('plug-0');
    assert.equal(powerReadings?.sensor, 'power');
    assert.deepEqual(powerReadings?.latest, { value: 139, timeMs: times[39] });
    assert.equal(powerReadings?.history.length, 32);
    assert.deepEqual(powerReadings?.history[0], { value: 108, timeMs: times[8] });
    assert.deepEqual(relay, { sensor: 'relay-on', latest: null, history: [] });
    assert.deepEqual(h.machine.deviceReadings('nobody'), []);
  });

  test('a reading beyond max is skipped (telemetrySkipped) and not kept; a mistyped one rejects the batch', () => {
    const h = Harness.ready(1);
    const result = h.ok(h.node(0, { kind: 'telemetry', events: [power('plug-0', 5000), power('plug-0', 50)] }));
    assert.deepEqual(result.effects.filter((e) => e.kind === 'telemetrySkipped').map((e) => e.kind === 'telemetrySkipped' && [e.event, e.code]), [[0, 'SENSOR_VALUE_OUT_OF_RANGE']]);
    assert.deepEqual(h.machine.deviceReadings('plug-0')[0]?.history.map((s) => s.value), [50]);
    h.fails(h.node(0, { kind: 'telemetry', events: [{ kind: 'reading', deviceId: 'plug-0', sensor: 'power', value: 'high' }] }), 'invalid_telemetry');
    assert.deepEqual(h.machine.deviceReadings('plug-0')[0]?.history.map((s) => s.value), [50]);
  });

  test('sampling follows the state: 10 s in normal, 2 s once suspicious; sensor specs carry the bounds', () => {
    const h = Harness.ready(1);
    assert.equal(h.machine.samplingMs('plug-0'), 10_000);
    h.ok(h.node(0, { kind: 'telemetry', events: [power('plug-0', 1900), power('plug-0', 2000), power('plug-0', 2100)] }));
    assert.equal(h.machine.deviceState('plug-0')?.state, 'suspicious');
    assert.equal(h.machine.samplingMs('plug-0'), 2000);
    assert.deepEqual(h.machine.sensorSpecs('plug-0')?.[0], { name: 'power', type: 'number', unit: 'W', min: 0, max: 4000 });
    assert.equal(h.machine.samplingMs('nobody'), undefined);
    assert.equal(h.machine.sensorSpecs('nobody'), undefined);
  });

  test('the built-in device-unreachable alert is accepted from the serving node and drives rules', () => {
    const h = Harness.ready(1);
    h.ok(h.node(0, { kind: 'telemetry', events: [{ kind: 'alert', deviceId: 'plug-0', alertType: 'device-unreachable', source: 'devices:mqtt' }] }));
    assert.equal(h.machine.deviceState('plug-0')?.state, 'attack');
  });
});

describe('device commands', () => {
  test('a group command queues one command per device of the group, each for its own node, in id order', () => {
    const h = Harness.ready(3); // plug-0 on n1, plug-1 on n2, plug-2 on n3, all in kitchen
    h.ok(h.cluster.putDevice('plug-x', 'smart-plug', 'n1', 'garage')); // another group: not reached
    const result = h.ok(h.node(1, { kind: 'telemetry', events: [power('plug-1', 1900), power('plug-1', 2000), power('plug-1', 2100)] }));
    const queued = result.effects.flatMap((e) => (e.kind === 'deviceCommand' ? [`${e.id}:${e.deviceId}@${e.nodeId}`] : []));
    const first = Number(queued[0]?.split(':')[0]);
    assert.deepEqual(queued, [`${first}:plug-0@n1`, `${first + 1}:plug-1@n2`, `${first + 2}:plug-2@n3`]);
    assert.deepEqual(h.machine.pendingCommands('n3').map((c) => [c.deviceId, c.command, c.args, c.attempts, c.lastError]), [['plug-2', 'power-off', { reason: 'overload' }, 0, '']]);
  });

  test('pending → done with its time; pending → retried → given up after 10 attempts; a final failure at once', () => {
    const h = Harness.ready(1);
    h.ok(h.node(0, { kind: 'telemetry', events: [power('plug-0', 1900), power('plug-0', 2000), power('plug-0', 2100)] }));
    const [a] = h.machine.pendingCommands('n1');
    assert.ok(a !== undefined);
    // Two more commands for plug-0: reset to normal and overload again.
    const again = (): void => {
      h.ok(h.cluster.as(h.cluster.admin, { kind: 'setDeviceState', deviceId: 'plug-0', state: 'normal', reason: 'test' }, 'home'));
      h.ok(h.node(0, { kind: 'telemetry', events: [power('plug-0', 1900), power('plug-0', 2000), power('plug-0', 2100)] }));
    };
    again();
    again();
    const [, b, c] = h.machine.pendingCommands('n1');
    assert.ok(b !== undefined && c !== undefined);

    const done = h.ok(h.node(0, { kind: 'deviceCommandsDone', ids: [a.id], failures: [{ id: b.id, reason: 'broker unreachable', final: false }] }));
    assert.deepEqual(done.effects.map((e) => e.kind === 'deviceCommandOutcome' && [e.id, e.status, e.attempts]), [[a.id, 'done', 0], [b.id, 'retry', 1]]);
    assert.deepEqual(h.machine.command(a.id), { ...a, status: 'done', doneMs: h.timeMs });
    assert.deepEqual(h.machine.command(b.id), { ...b, attempts: 1, lastError: 'broker unreachable', status: 'pending' });

    for (let attempt = 2; attempt <= 9; attempt++) {
      h.ok(h.node(0, { kind: 'deviceCommandsDone', ids: [], failures: [{ id: b.id, reason: `timeout ${attempt}`, final: false }] }));
    }
    assert.equal(h.machine.command(b.id)?.status, 'pending');
    h.ok(h.node(0, { kind: 'deviceCommandsDone', ids: [], failures: [{ id: b.id, reason: 'timeout 10', final: false }] }));
    assert.deepEqual(h.machine.command(b.id), {
      ...b, attempts: 10, lastError: 'timeout 10', status: 'failed', failedMs: h.timeMs, reason: 'gave up after 10 attempts: timeout 10',
    });

    h.ok(h.node(0, { kind: 'deviceCommandsDone', ids: [], failures: [{ id: c.id, reason: 'device has no relay', final: true }] }));
    assert.deepEqual(h.machine.command(c.id), { ...c, attempts: 1, lastError: 'device has no relay', status: 'failed', failedMs: h.timeMs, reason: 'device has no relay' });
    assert.deepEqual(h.machine.pendingCommands('n1'), []);

    assert.deepEqual(h.machine.commands({}).map((r) => [r.id, r.status]), [[a.id, 'done'], [b.id, 'failed'], [c.id, 'failed']]);
    assert.deepEqual(h.machine.commands({ status: 'failed', deviceId: 'plug-0', nodeId: 'n1' }).map((r) => r.id), [b.id, c.id]);
    assert.deepEqual(h.machine.commands({ nodeId: 'n2' }), []);
    assert.equal(h.machine.command(999_999), undefined);
  });

  test('only the serving node reports, each id once, and only for pending commands (precise paths)', () => {
    const h = Harness.ready(1);
    h.ok(h.node(0, { kind: 'telemetry', events: [power('plug-0', 1900), power('plug-0', 2000), power('plug-0', 2100)] }));
    const [a] = h.machine.pendingCommands('n1');
    assert.ok(a !== undefined);
    h.fails(h.node(1, { kind: 'deviceCommandsDone', ids: [], failures: [{ id: a.id, reason: 'x', final: true }] }), 'unknown_command_id', 'body.device_commands_done.failures[0].id');
    h.fails(h.node(0, { kind: 'deviceCommandsDone', ids: [a.id], failures: [{ id: a.id + 100, reason: 'x', final: true }] }), 'unknown_command_id', 'body.device_commands_done.failures[0].id');
    assert.equal(h.machine.command(a.id)?.status, 'pending', 'a rejected report changes nothing');
    h.ok(h.node(0, { kind: 'deviceCommandsDone', ids: [a.id], failures: [] }));
    h.fails(h.node(0, { kind: 'deviceCommandsDone', ids: [a.id], failures: [] }), 'unknown_command_id', 'body.device_commands_done.ids[0]');
  });

  test('removing a device gives its pending commands up, with the reason', () => {
    const h = Harness.ready(1);
    h.ok(h.node(0, { kind: 'telemetry', events: [power('plug-0', 1900), power('plug-0', 2000), power('plug-0', 2100)] }));
    const [a] = h.machine.pendingCommands('n1');
    h.ok(h.cluster.as(h.cluster.admin, { kind: 'removeDevice', id: 'plug-0' }, 'home'));
    assert.deepEqual(h.machine.command(a?.id ?? 0)?.reason, 'device plug-0 was removed');
    assert.deepEqual(h.machine.deviceReadings('plug-0'), []);
  });
});

describe('discoveries', () => {
  test('kept per node with their domain, merged: first seen min, last seen max, non-empty names win', () => {
    const h = Harness.ready(1);
    h.ok(h.node(0, { kind: 'telemetry', events: [discovery('qgd1d9', '02:00:00:00:00:99', 5000, 6000, 'esp-lamp', '')] }, 'home'));
    h.ok(h.node(0, { kind: 'telemetry', events: [discovery('qgd1d9', '02:00:00:00:00:99', 4000, 5500, '', 'udhcp 1.36')] }, 'home'));
    h.ok(h.node(1, { kind: 'telemetry', events: [discovery('qgd2d1', '02:00:00:00:00:aa', 1, 2)] }, 'home'));
    assert.deepEqual(h.machine.discovered('n1'), [{
      nodeId: 'n1', domain: 'home', port: 'qgd1d9', mac: '02:00:00:00:00:99', firstSeenMs: 4000, lastSeenMs: 6000, hostname: 'esp-lamp', vendorClass: 'udhcp 1.36',
    }]);
    assert.deepEqual(h.machine.discovered().map((d) => `${d.nodeId}/${d.port}`), ['n1/qgd1d9', 'n2/qgd2d1']);
    assert.deepEqual(h.machine.discovered('n3'), []);
  });

  test('a discovery needs an existing domain; one of a registered port or MAC is ignored', () => {
    const h = Harness.ready(1); // plug-0: n1, port p-plug-0, MAC 02:00:00:00:00:01
    h.fails(h.node(0, { kind: 'telemetry', events: [discovery('qgd1d9', '02:00:00:00:00:99', 1, 2)] }), 'unknown_domain', 'body.domain');
    h.fails(h.node(0, { kind: 'telemetry', events: [discovery('qgd1d9', '02:00:00:00:00:99', 1, 2)] }, 'office'), 'unknown_domain', 'body.domain');
    const result = h.ok(h.node(0, { kind: 'telemetry', events: [discovery('p-plug-0', '02:00:00:00:00:98', 1, 2), discovery('qgd1d7', '02:00:00:00:00:01', 1, 2)] }, 'home'));
    assert.deepEqual(result.effects, []);
    // The same port on another node is not plug-0's.
    h.ok(h.node(1, { kind: 'telemetry', events: [discovery('p-plug-0', '02:00:00:00:00:98', 1, 2)] }, 'home'));
    assert.deepEqual(h.machine.discovered().map((d) => `${d.nodeId}/${d.port}`), ['n2/p-plug-0']);
  });

  test('registering a device forgets what any node reported of its MAC, and of its port on its node', () => {
    const h = Harness.ready(0);
    h.ok(h.node(0, { kind: 'telemetry', events: [discovery('qgd1d9', '02:00:00:00:00:99', 1, 2), discovery('qgd1d8', '02:00:00:00:00:88', 1, 2)] }, 'home'));
    h.ok(h.node(2, { kind: 'telemetry', events: [discovery('qgd3d1', '02:00:00:00:00:99', 1, 2)] }, 'home'));
    h.ok(h.cluster.as(h.cluster.admin, {
      kind: 'putDevice', device: { id: 'lamp', type: 'camera', group: 'g', tags: [], nodeId: 'n1', port: 'qgd1d8', addresses: ['02:00:00:00:00:99'.toUpperCase()] },
    }, 'home'));
    assert.deepEqual(h.machine.discovered(), []);
  });

  test('at most 256 per node: the one seen longest ago is evicted and counted', () => {
    const h = Harness.ready(0);
    const mac = (i: number): string => `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
    for (let batch = 0; batch < 4; batch++) {
      const events = Array.from({ length: 65 }, (_, j) => {
        const i = batch * 65 + j;
        return discovery(`p${i}`, mac(i), 0, 1000 + ((i * 7919) % 260)); // last-seen times are a permutation of 1000..1259
      });
      h.ok(h.node(0, { kind: 'telemetry', events }, 'home'));
    }
    const kept = h.machine.discovered('n1');
    assert.equal(kept.length, 256);
    assert.equal(h.machine.discoveriesEvicted(), 4);
    assert.deepEqual(kept.map((d) => d.lastSeenMs).sort((a, b) => a - b).slice(0, 2), [1004, 1005]);
  });
});

describe('time of day through the state machine', () => {
  test('a camera added at night is suspicious at once; nextDeadlineMs names 06:00; an empty batch then moves it back', () => {
    const h = Harness.ready(0); // entry times start at 2026-01-01T00:00Z, 01:00 in Berlin
    const added = h.ok(h.cluster.putDevice('cam-0', 'camera', 'n1'));
    assert.deepEqual(added.effects.flatMap((e) => (e.kind === 'deviceState' ? [`${e.from}>${e.to}(${e.rule})`] : [])), ['normal>suspicious(night)']);
    const due = h.machine.nextDeadlineMs();
    assert.equal(due, Date.parse('2026-01-01T05:00:00Z')); // 06:00 in Berlin
    h.ok(h.node(0, { kind: 'telemetry', events: [] }), (due ?? 0) - h.timeMs - 1);
    assert.equal(h.machine.deviceState('cam-0')?.state, 'suspicious', 'a millisecond early, nothing moves');
    const result = h.ok(h.node(0, { kind: 'telemetry', events: [] }), 1);
    assert.deepEqual(result.effects.map((e) => e.kind === 'deviceState' && `${e.deviceId}:${e.from}>${e.to}(${e.rule})`), ['cam-0:suspicious>normal(day)']);
    assert.equal(h.machine.nextDeadlineMs(), Date.parse('2026-01-01T21:00:00Z'));
  });
});

describe('determinism with the new data', () => {
  /** busyLog applies a scenario touching every new part and returns the harness. */
  function busy(): Harness {
    const h = Harness.ready(3);
    h.ok(h.cluster.putDevice('cam-0', 'camera', 'n2'));
    h.ok(h.node(0, { kind: 'telemetry', events: [power('plug-0', 1900), power('plug-0', 2000), power('plug-0', 2100.25), { kind: 'reading', deviceId: 'plug-0', sensor: 'relay-on', value: true }] }));
    h.ok(h.node(1, { kind: 'telemetry', events: [discovery('qgd2d9', '02:00:00:00:00:99', 10, 20, 'esp', 'udhcp'), power('plug-1', 0.1 + 0.2)] }, 'home'));
    const [first] = h.machine.pendingCommands('n1');
    h.ok(h.node(0, { kind: 'deviceCommandsDone', ids: [], failures: [{ id: first?.id ?? 0, reason: 'timeout', final: false }] }));
    const [second] = h.machine.pendingCommands('n2');
    h.ok(h.node(1, { kind: 'deviceCommandsDone', ids: [second?.id ?? 0], failures: [] }));
    h.ok(h.node(2, { kind: 'telemetry', events: [] }), 60_000);
    return h;
  }

  /** later are entries after the snapshot point, touching the same parts again. */
  function later(h: Harness): Uint8Array[] {
    const [pending] = h.machine.pendingCommands('n1');
    return [
      h.node(0, { kind: 'deviceCommandsDone', ids: [], failures: [{ id: pending?.id ?? 0, reason: 'refused', final: true }] }),
      h.node(0, { kind: 'telemetry', events: [power('plug-0', 12.3456), discovery('qgd1d5', '02:00:00:00:00:55', 1, 9)] }, 'home'),
      h.node(1, { kind: 'telemetry', events: [] }),
      h.cluster.as(h.cluster.admin, { kind: 'setPolicy', documentJson: JSON.stringify(devicePolicy(3)) }, 'home'),
      h.node(2, { kind: 'telemetry', events: [power('plug-2', 1)] }),
    ];
  }

  test('snapshot → restore gives the same hash, and every later entry the same result and hash', () => {
    const h = busy();
    const restored = StateMachine.restore(h.machine.snapshot(), policyEngines);
    assert.equal(restored.stateHash(), h.machine.stateHash());
    assert.deepEqual(restored.discovered(), h.machine.discovered());
    assert.deepEqual(restored.commands({}), h.machine.commands({}));
    assert.deepEqual(restored.deviceReadings('plug-0'), h.machine.deviceReadings('plug-0'));
    assert.equal(restored.nextDeadlineMs(), h.machine.nextDeadlineMs());
    let timeMs = h.timeMs;
    for (const payload of later(h)) {
      timeMs += 70 * 60_000; // 70 minutes per entry: the last one is past 06:00 in Berlin (05:00Z)
      const entry = { index: h.index + 1, term: 1, timeMs, payload };
      h.index += 1;
      const result = h.machine.apply(entry);
      assert.ok(result.ok, JSON.stringify(result));
      assert.deepEqual(restored.apply(entry), result);
      assert.equal(restored.stateHash(), h.machine.stateHash());
    }
    assert.equal(h.machine.deviceState('cam-0')?.state, 'normal', 'the day rule moved the camera back');
  });

  test('two machines fed the same entries agree on every hash and every query', () => {
    const h = busy();
    const other = new StateMachine(h.cluster.genesis, policyEngines);
    for (const entry of h.log) other.apply(entry);
    assert.equal(other.stateHash(), h.machine.stateHash());
    assert.equal(other.auditChain(), h.machine.auditChain());
    assert.deepEqual(other.commands({}), h.machine.commands({}));
    assert.deepEqual(other.discovered(), h.machine.discovered());
  });

  test('a snapshot of the previous format is refused with a clear error', () => {
    const h = busy();
    const raw = JSON.parse(Buffer.from(h.machine.snapshot()).toString('utf8')) as Record<string, unknown>;
    raw['format'] = 1;
    assert.throws(() => StateMachine.restore(new TextEncoder().encode(JSON.stringify(raw)), policyEngines), /format is 1, expected 2/);
  });
});
