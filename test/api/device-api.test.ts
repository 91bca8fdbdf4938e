// device-api.test.ts — the device interface's part of the HTTP API (docs/api.md "Device interface",
// "Watch", "Cluster").
//
// Goal: what a client of these reads relies on: a device's readings come back per sensor, latest and
// history, bounded by `limit`; device commands are listed and fetched in each status (pending with
// its attempts and last error, done, failed with its reason) and filtered by node, device and
// status; discovered devices are listed per node; unknown things are a 404 and bad query parameters
// a 400, both in the documented error shape; the watch stream carries the readings an applied
// telemetry entry recorded (and not those the state machine skipped); GET /v1/status has the node's
// devices section exactly when the node supplies one.
// Method: the real app and the real StateMachine behind a GatewayApplier, fed with real signed
// commands (admin-signed policy and devices, node-signed telemetry and deviceCommandsDone) through
// POST /v1/commands; the Raft runtime is a stand-in that applies each proposal at once and exports
// the applied entries as the real runtime does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApp, type ApiApp } from '../../src/api/app.js';
import type { DevicesStatus } from '../../src/api/deps.js';
import type { Payload } from '../../src/commands/index.js';
import { GatewayApplier } from '../../src/node/gateway-applier.js';
import { policyEngines, StateMachine } from '../../src/state/index.js';
import { FIREWALL_DIGEST, homePolicy, MONITOR_DIGEST, T0_MS, TestCluster } from '../state/fixtures.js';
import { StandInRuntime } from '../support/stand-in-runtime.js';
import { readToken, withReadToken } from './support.js';

const cluster = new TestCluster();
const [n1Key, n2Key] = [cluster.nodes[0]!, cluster.nodes[1]!];
let now = T0_MS;
const applier = new GatewayApplier(new StateMachine(cluster.genesis, policyEngines));
const runtime = new StandInRuntime(applier, () => now);
let app: ApiApp;

type Json = Record<string, unknown>;

async function submit(envelope: Uint8Array): Promise<Json> {
  now += 1000;
  const response = await app.inject({ method: 'POST', url: '/v1/commands', payload: { envelope: Buffer.from(envelope).toString('base64') } });
  assert.equal(response.statusCode, 200, response.body);
  const body = response.json() as { result: Json };
  assert.equal(body.result['ok'], true, JSON.stringify(body.result));
  return body.result;
}

async function get(url: string, status = 200): Promise<Json> {
  const response = await app.inject({ method: 'GET', url });
  assert.equal(response.statusCode, status, `${url}: ${response.body}`);
  return response.json() as Json;
}

/** errorOf checks the documented error shape and returns its code and message. */
function errorOf(body: Json): { code: string; message: string } {
  const error = body['error'] as { code: unknown; message: unknown };
  assert.equal(typeof error.code, 'string');
  assert.equal(typeof error.message, 'string');
  return error as { code: string; message: string };
}

function telemetry(key: typeof n1Key, events: Extract<Payload, { kind: 'telemetry' }>['events'], domain = 'home'): Uint8Array {
  return cluster.as(key, { kind: 'telemetry', events }, domain);
}

const power = (deviceId: string, value: number): Extract<Payload, { kind: 'telemetry' }>['events'][number] => ({ kind: 'reading', deviceId, sensor: 'power', value });

/** commandIdFor is the id of the device command the policy ordered for a device. */
function commandIdFor(deviceId: string): number {
  const command = applier.machine.commands({ deviceId })[0];
  assert.ok(command !== undefined, `no command for ${deviceId}`);
  return command.id;
}

before(async () => {
  app = withReadToken(await buildApp({ runtime, gateway: { applier, runtime, appliedEnvelopes: (from, limit) => runtime.appliedEnvelopes(from, limit) }, nowMs: () => now }), cluster, () => now);
  const policy = homePolicy(1);
  const plug = (policy['deviceTypes'] as Json[])[0]!;
  plug['sampling'] = { normal: '10s', suspicious: '2s' };
  const setup = [
    cluster.root({ kind: 'createDomain', description: 'the house' }, 'home'),
    cluster.root({ kind: 'addAdminKey', publicKey: cluster.admin.publicKey, name: 'alice' }, 'home'),
    cluster.as(cluster.admin, { kind: 'putImage', name: 'monitor', digest: MONITOR_DIGEST }, 'home'),
    cluster.as(cluster.admin, { kind: 'putImage', name: 'firewall', digest: FIREWALL_DIGEST }, 'home'),
    cluster.as(cluster.admin, { kind: 'setPolicy', documentJson: JSON.stringify(policy) }, 'home'),
    cluster.putDevice('plug-0', 'smart-plug', 'n1'),
    cluster.putDevice('plug-1', 'smart-plug', 'n1'),
    cluster.putDevice('plug-2', 'smart-plug', 'n2'),
  ];
  for (const command of setup) await submit(command);
});
after(async () => {
  await app.close();
});

describe('GET /v1/devices/:id/readings', () => {
  test('answers every declared sensor with its latest reading and its history, oldest first', async () => {
    const before = await get('/v1/devices/plug-0/readings');
    assert.deepEqual(before['sensors'], [{ sensor: 'power', latest: null, history: [] }, { sensor: 'relay-on', latest: null, history: [] }]);
    assert.equal(before['samplingMs'], 10_000, 'normal state: sampled every 10 s');
    await submit(telemetry(n1Key, [power('plug-0', 1900), { kind: 'reading', deviceId: 'plug-0', sensor: 'relay-on', value: true }]));
    const at = now;
    await submit(telemetry(n1Key, [power('plug-0', 1950)]));
    await submit(telemetry(n1Key, [power('plug-0', 2000)]));
    const body = await get('/v1/devices/plug-0/readings?consistency=stale');
    assert.equal(body['deviceId'], 'plug-0');
    assert.equal(body['index'], applier.machine.lastApplied().index);
    const [powerSensor, relay] = body['sensors'] as Array<{ sensor: string; latest: { value: unknown; timeMs: number } | null; history: Array<{ value: unknown; timeMs: number }> }>;
    assert.equal(powerSensor?.sensor, 'power');
    assert.deepEqual(powerSensor?.history.map((s) => s.value), [1900, 1950, 2000]);
    assert.deepEqual(powerSensor?.latest, { value: 2000, timeMs: now });
    assert.deepEqual(relay?.latest, { value: true, timeMs: at });
    // Three readings averaging over 1800 W moved the plug to suspicious: it is sampled faster now.
    assert.equal(body['samplingMs'], 2000);
  });

  test('limit keeps the newest history samples; limit=0 answers the latest only', async () => {
    const one = await get('/v1/devices/plug-0/readings?limit=1');
    const [powerSensor] = one['sensors'] as Array<{ latest: { value: unknown }; history: Array<{ value: unknown }> }>;
    assert.deepEqual(powerSensor?.history.map((s) => s.value), [2000]);
    const none = await get('/v1/devices/plug-0/readings?limit=0');
    const [latestOnly] = none['sensors'] as Array<{ latest: { value: unknown }; history: unknown[] }>;
    assert.deepEqual(latestOnly?.history, []);
    assert.equal(latestOnly?.latest.value, 2000);
  });

  test('an unknown device is a 404 and bad parameters are a 400, in the documented error shape', async () => {
    const missing = errorOf(await get('/v1/devices/ghost/readings', 404));
    assert.equal(missing.code, 'NOT_FOUND');
    assert.match(missing.message, /no device "ghost"/);
    const tooMany = errorOf(await get('/v1/devices/plug-0/readings?limit=1001', 400));
    assert.equal(tooMany.code, 'BAD_REQUEST');
    assert.match(tooMany.message, /limit/);
    assert.match(errorOf(await get('/v1/devices/plug-0/readings?since=5', 400)).message, /additional properties|since/);
    assert.match(errorOf(await get('/v1/devices/plug-0/readings?consistency=eventual', 400)).message, /consistency/);
    assert.equal(errorOf(await get(`/v1/devices/${'x'.repeat(65)}/readings`, 400)).code, 'BAD_REQUEST');
  });
});

describe('device commands', () => {
  test('are listed and fetched pending, done and failed, with attempts and reasons', async () => {
    // plug-0 is suspicious already (its power-off is pending); make plug-1 (n1) and plug-2 (n2) overload too.
    await submit(telemetry(n1Key, [power('plug-1', 1900), power('plug-1', 1900), power('plug-1', 1900)]));
    await submit(telemetry(n2Key, [power('plug-2', 1900), power('plug-2', 1900), power('plug-2', 1900)]));
    const [c0, c1, c2] = ['plug-0', 'plug-1', 'plug-2'].map(commandIdFor) as [number, number, number];
    const pending = await get('/v1/device-commands?status=pending');
    assert.deepEqual((pending['commands'] as Json[]).map((c) => c['id']), [c0, c1, c2]);
    const first = (pending['commands'] as Json[])[0]!;
    assert.deepEqual(first, {
      id: c0, nodeId: 'n1', deviceId: 'plug-0', command: 'power-off', args: { reason: 'overload' }, index: first['index'], timeMs: first['timeMs'],
      status: 'pending', attempts: 0, lastError: null,
    });
    assert.equal(typeof first['index'], 'number');

    // n1 carried out plug-0's and gave up plug-1's; n2's attempt at plug-2's failed and will be retried.
    await submit(cluster.as(n1Key, { kind: 'deviceCommandsDone', ids: [c0], failures: [{ id: c1, reason: 'device did not answer', final: true }] }));
    const doneAt = now;
    await submit(cluster.as(n2Key, { kind: 'deviceCommandsDone', ids: [], failures: [{ id: c2, reason: 'connection refused', final: false }] }));

    const all = await get('/v1/device-commands');
    assert.equal(all['total'], 3);
    assert.deepEqual((all['commands'] as Json[]).map((c) => [c['id'], c['status']]), [[c0, 'done'], [c1, 'failed'], [c2, 'pending']]);

    const done = (await get(`/v1/device-commands/${c0}`))['command'] as Json;
    assert.equal(done['status'], 'done');
    assert.equal(done['doneMs'], doneAt);
    const failed = (await get(`/v1/device-commands/${c1}?consistency=stale`))['command'] as Json;
    assert.equal(failed['status'], 'failed');
    assert.equal(failed['reason'], 'device did not answer');
    assert.equal(failed['failedMs'], doneAt);
    const retried = (await get(`/v1/device-commands/${c2}`))['command'] as Json;
    assert.deepEqual([retried['status'], retried['attempts'], retried['lastError']], ['pending', 1, 'connection refused']);
  });

  test('filters by node, device and status; limit keeps the newest and total says how many matched', async () => {
    const ids = (answer: Json): unknown[] => (answer['commands'] as Json[]).map((c) => c['deviceId']);
    assert.deepEqual(ids(await get('/v1/device-commands?node=n2')), ['plug-2']);
    assert.deepEqual(ids(await get('/v1/device-commands?node=n1')), ['plug-0', 'plug-1']);
    assert.deepEqual(ids(await get('/v1/device-commands?device=plug-1')), ['plug-1']);
    assert.deepEqual(ids(await get('/v1/device-commands?status=failed')), ['plug-1']);
    assert.deepEqual(ids(await get('/v1/device-commands?node=n1&status=done')), ['plug-0']);
    assert.deepEqual(ids(await get('/v1/device-commands?node=n3')), []);
    const newest = await get('/v1/device-commands?limit=1');
    assert.deepEqual([ids(newest), newest['total']], [['plug-2'], 3]);
  });

  test('an unknown id is a 404; bad ids and parameters are a 400', async () => {
    const missing = errorOf(await get('/v1/device-commands/999', 404));
    assert.equal(missing.code, 'NOT_FOUND');
    assert.match(missing.message, /no device command 999/);
    for (const url of ['/v1/device-commands/abc', '/v1/device-commands/0', '/v1/device-commands?status=lost', '/v1/device-commands?limit=0',
      '/v1/device-commands?limit=1001', '/v1/device-commands?node=bad%20name', '/v1/device-commands?colour=red']) {
      assert.equal(errorOf(await get(url, 400)).code, 'BAD_REQUEST', url);
    }
  });
});

describe('GET /v1/discovered', () => {
  test('lists what nodes reported, per node, the most recently seen first', async () => {
    assert.deepEqual((await get('/v1/discovered'))['discovered'], []);
    await submit(telemetry(n1Key, [
      { kind: 'discovery', port: 'qgd1d7', mac: '02:00:00:00:00:17', firstSeenMs: T0_MS, lastSeenMs: T0_MS + 5000, hostname: 'esp-4f21', vendorClass: 'udhcp 1.36.1' },
      { kind: 'discovery', port: 'qgd1d8', mac: '02:00:00:00:00:18', firstSeenMs: T0_MS, lastSeenMs: T0_MS + 9000, hostname: '', vendorClass: '' },
    ]));
    await submit(telemetry(n2Key, [{ kind: 'discovery', port: 'qgd2d1', mac: '02:00:00:00:00:21', firstSeenMs: T0_MS, lastSeenMs: T0_MS + 1000, hostname: '', vendorClass: '' }]));
    const all = await get('/v1/discovered');
    assert.equal(all['total'], 3);
    assert.deepEqual((all['discovered'] as Json[]).map((d) => [d['nodeId'], d['port']]), [['n1', 'qgd1d8'], ['n1', 'qgd1d7'], ['n2', 'qgd2d1']]);
    const n1 = (await get('/v1/discovered?node=n1&consistency=stale'))['discovered'] as Json[];
    assert.deepEqual(n1[1], {
      nodeId: 'n1', domain: 'home', port: 'qgd1d7', mac: '02:00:00:00:00:17', firstSeenMs: T0_MS, lastSeenMs: T0_MS + 5000, hostname: 'esp-4f21', vendorClass: 'udhcp 1.36.1',
    });
    const limited = await get('/v1/discovered?limit=1');
    assert.deepEqual([(limited['discovered'] as Json[]).length, limited['total']], [1, 3]);
    assert.equal(errorOf(await get('/v1/discovered?limit=10001', 400)).code, 'BAD_REQUEST');
    assert.equal(errorOf(await get('/v1/discovered?node=', 400)).code, 'BAD_REQUEST');
  });
});

describe('GET /v1/watch carries readings', () => {
  test('an applied telemetry entry lists the readings it recorded, live and replayed; skipped ones are left out', async () => {
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const from = applier.machine.lastApplied().index + 1;
    const controller = new AbortController();
    const response = await fetch(`${address}/v1/watch`, { signal: controller.signal, headers: { authorization: `Bearer ${readToken(cluster, now)}` } });
    const reader = response.body!.getReader();
    // 2e9 W is beyond the policy engine's numeric range: the state machine skips that one reading.
    await submit(telemetry(n1Key, [power('plug-0', 1700), { kind: 'reading', deviceId: 'plug-0', sensor: 'relay-on', value: false }, power('plug-0', 2e9)], ''));
    const at = now;
    let text = '';
    const deadline = Date.now() + 5000;
    while (!text.includes('"readings"') && Date.now() < deadline) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += Buffer.from(chunk.value).toString('utf8');
    }
    controller.abort();
    const line = text.split('\n').find((l) => l.startsWith('data: ') && l.includes('"readings"'));
    assert.ok(line !== undefined, text);
    const event = JSON.parse(line.slice('data: '.length)) as { kind: string; effects: Json[]; readings: unknown };
    assert.equal(event.kind, 'telemetry');
    assert.deepEqual(event.readings, [
      { deviceId: 'plug-0', sensor: 'power', value: 1700, timeMs: at },
      { deviceId: 'plug-0', sensor: 'relay-on', value: false, timeMs: at },
    ]);
    assert.ok(event.effects.some((e) => e['kind'] === 'telemetrySkipped' && e['event'] === 2), JSON.stringify(event.effects));

    // A replay from a remembered index carries the same readings.
    const replay = await fetch(`${address}/v1/watch?from=${from - 1}`, { signal: AbortSignal.timeout(5000), headers: { authorization: `Bearer ${readToken(cluster, now)}` } });
    const replayReader = replay.body!.getReader();
    let replayed = '';
    while ((replayed.match(/event: applied/g) ?? []).length < 2) {
      const chunk = await replayReader.read();
      if (chunk.done) break;
      replayed += Buffer.from(chunk.value).toString('utf8');
    }
    await replayReader.cancel();
    const events = replayed.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice('data: '.length)) as Json);
    assert.deepEqual(events[0]?.['readings'], [], 'the entry before is a batch of discoveries: it records no readings');
    assert.deepEqual(events[1]?.['readings'], event.readings);
  });
});

describe('GET /v1/status', () => {
  const devices: DevicesStatus = {
    adapters: [{ protocol: 'mqtt', connected: false, lastError: 'connect ECONNREFUSED 10.77.0.1:1883', retries: 4, devices: 2, unreachable: ['plug-1'] }],
    broker: { running: true, address: '10.77.0.1:1883', lastError: null },
    readings: { queued: 3, dropped: { out_of_bounds: 2 }, submitted: 120 },
    commands: { inFlight: 1, failed: 0 },
    management: { address: '10.77.0.241', port: 'qg1m', ready: true, lastError: null },
    problems: [{ deviceId: 'temp-9', problem: 'this node holds no secret "temp-9" (devices.secretsFile)' }],
  };

  test('has the node\'s devices section when the node runs the device interface, and none otherwise', async () => {
    const withDevices = withReadToken(await buildApp({ runtime, gateway: { applier, runtime }, devices: { status: () => devices } }), cluster, Date.now);
    try {
      const body = (await withDevices.inject({ method: 'GET', url: '/v1/status' })).json() as Json;
      assert.deepEqual(body['devices'], devices);
      assert.equal(body['stateHash'], applier.machine.stateHash());
    } finally {
      await withDevices.close();
    }
    const without = (await app.inject({ method: 'GET', url: '/v1/status' })).json() as Json;
    assert.equal('devices' in without, false);
  });

  test('/metrics counts readings (queued, submitted, dropped by reason), commands and adapters', async () => {
    const withDevices = await buildApp({ runtime, gateway: { applier, runtime }, devices: { status: () => devices } });
    try {
      const text = (await withDevices.inject({ method: 'GET', url: '/metrics' })).body;
      assert.match(text, /^quorumgate_device_readings_queued 3$/m);
      assert.match(text, /^quorumgate_device_readings_submitted_total 120$/m);
      assert.match(text, /^quorumgate_device_readings_dropped_total\{reason="out_of_bounds"\} 2$/m);
      assert.match(text, /^quorumgate_device_adapter_connected\{protocol="mqtt"\} 0$/m);
      assert.match(text, /^quorumgate_device_unreachable\{protocol="mqtt"\} 1$/m);
      assert.match(text, /^quorumgate_device_commands_in_flight 1$/m);
    } finally {
      await withDevices.close();
    }
  });
});
