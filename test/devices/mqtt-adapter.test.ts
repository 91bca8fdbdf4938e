// mqtt-adapter.test.ts — goal: the MQTT adapter keeps the port's contract against a real Mosquitto (started
// by the test with the broker module: passwords, ACL) and simulated devices (a plug, a temperature sensor)
// running as separate processes in a network namespace, connecting to the broker by IP with their own
// credentials; the adapter connects from the host end's address as the gateway user. Beyond the contract:
// readings of a device the adapter does not watch are dropped and counted; a broker outage shows in health.
// Needs root and mosquitto: skipped with the reason when missing, failed when CI=true.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MosquittoBroker } from '../../src/devices/broker.js';
import { MqttAdapter } from '../../src/devices/mqtt-adapter.js';
import type { WatchedDevice } from '../../src/devices/port.js';
import { ContractEvents, adapterContract, journalExecutions, type AdapterRig } from './contract.js';
import { DeviceLab, usable, waitFor, type Sim } from './lab.js';

const available = usable();
const lab = new DeviceLab('m');
const broker = new MosquittoBroker();
after(async () => {
  await broker.stop();
  await lab.destroy();
});

const SAMPLING_MS = 300;

async function makeRig(): Promise<AdapterRig> {
  await lab.setup();
  const port = await lab.freePort();
  const host = lab.hostAddress;
  await broker.ensure({ dir: join(lab.dir, 'broker'), host, port });
  await broker.setDevices([{ deviceId: 'plug-a', password: 'pw-plug-a' }, { deviceId: 'temp-b', password: 'pw-temp-b' }]);
  const sims: Record<'a' | 'b', Sim> = {
    a: await lab.startSim('plug-a', ['--kind', 'plug', '--id', 'plug-a', '--broker', `${host}:${port}`, '--password', 'pw-plug-a', '--sampling-ms', '1000']),
    b: await lab.startSim('temp-b', ['--kind', 'temperature', '--id', 'temp-b', '--broker', `${host}:${port}`, '--password', 'pw-temp-b', '--sampling-ms', '1000']),
  };
  const events = new ContractEvents();
  const adapter = new MqttAdapter({ host, port, password: broker.gatewayCredentials().password, localAddress: host, events });
  await adapter.start();
  await waitFor('connected to the broker', () => adapter.health().connected, 5_000);
  const a: WatchedDevice = { deviceId: 'plug-a', endpoint: '', options: {}, secret: 'pw-plug-a', samplingMs: SAMPLING_MS, sensors: [{ name: 'isOn', type: 'boolean' }, { name: 'power', type: 'number' }] };
  const b: WatchedDevice = { deviceId: 'temp-b', endpoint: '', options: {}, secret: 'pw-temp-b', samplingMs: SAMPLING_MS, sensors: [{ name: 'temperature', type: 'number' }] };
  adapter.watch(a);
  adapter.watch(b);
  return {
    adapter, events, a, b,
    types: { isOn: 'boolean', power: 'number' },
    setA: { values: { load: 75 }, sensor: 'power', value: 75 },
    command: { name: 'power-off', sensor: 'isOn', value: false },
    commandIds: true,
    executions: (id) => journalExecutions(sims.a.journal, 'plug-a', id),
    control: (device, path, body) => lab.control(sims[device], path, body),
    flood: async () => {
      await lab.control(sims.b, '/flood', { count: 300, bytes: 0 });
      await lab.control(sims.b, '/flood', { count: 5, bytes: 4300 });
    },
    unflood: async () => undefined,
    drops: ['rate_limited', 'oversize'],
    restartPeer: async () => {
      await broker.stop();
      await waitFor('the adapter sees the broker gone', () => !adapter.health().connected, 5_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const health = adapter.health();
      assert.ok(health.retries >= 1 && health.lastError !== null, `health says it is retrying: ${JSON.stringify(health)}`);
      assert.deepEqual(health.unreachable.filter((id) => id !== 'plug-a'), [], `a broker outage is not blamed on the devices: ${JSON.stringify(events.unreachable)} now ${Date.now()}`);
      assert.deepEqual(await broker.ensure({ dir: join(lab.dir, 'broker'), host, port }), { started: true });
    },
    dispose: () => adapter.close(),
  };
}

adapterContract('mqtt', makeRig, available.ok ? false : available.reason, (rig) => {
  test('mqtt: readings of a device the adapter does not watch are dropped and counted', async () => {
    const { adapter, events, b } = rig();
    adapter.unwatch(b.deviceId);
    const before = adapter.stats().unwatched ?? 0;
    const sinceMs = Date.now();
    await waitFor('unwatched readings counted', () => (adapter.stats().unwatched ?? 0) > before, 5_000);
    assert.equal(events.since(b.deviceId, sinceMs).length, 0);
    adapter.watch(b);
    await waitFor('B reported again', () => events.since(b.deviceId, sinceMs).length > 0, 5_000);
  });

  test('mqtt: a device whose connection drops (its will says "offline") is unreachable after one silent interval', async () => {
    const { adapter, events, a, control } = rig();
    await control('a', '/stop', { mode: 'drop' });
    const droppedMs = Date.now();
    const down = await waitFor('A unreachable', () => events.unreachable.find((e) => e.deviceId === a.deviceId && e.atMs >= droppedMs), 3 * SAMPLING_MS + 1_000);
    assert.match(down.reason, /after it reported offline/);
    assert.ok(down.atMs - droppedMs <= 2 * SAMPLING_MS + 200, `after ${down.atMs - droppedMs} ms`);
    await control('a', '/resume', {});
    const resumedMs = Date.now();
    await waitFor('A reachable again', () => events.reachable.find((e) => e.deviceId === a.deviceId && e.atMs >= resumedMs), 5_000);
    assert.deepEqual(adapter.health().unreachable, []);
  });

  test('mqtt: the adapter measures its own intake lag through the broker (an echo on qg/_gateway/echo)', async () => {
    const { adapter } = rig();
    await waitFor('an echo came back', () => adapter.health().intakeLagMs !== undefined && (adapter.stats().readings ?? 0) > 0, 5_000);
    await new Promise((resolve) => setTimeout(resolve, 600));
    const lag = adapter.health().intakeLagMs!;
    assert.ok(lag >= 0 && lag < 250, `an idle broker and node: the lag is a round trip of a few ms, found ${lag} ms`);
    assert.equal(adapter.stats().bad_topic ?? 0, 0, 'the echo is not counted as a bad topic');
    // The node's event loop standing still is intake lag too: right after a 1.5 s pause, before the socket is
    // read, the lag covers the pause, so the liveness check that runs first does not blame the devices.
    const until = Date.now() + 1_500;
    while (Date.now() < until) { /* the event loop stands still */ }
    assert.ok(adapter.health().intakeLagMs! >= 1_000, `after a 1.5 s pause the lag covers it, found ${adapter.health().intakeLagMs} ms`);
    await waitFor('the lag back to a round trip once the echoes return', () => adapter.health().intakeLagMs! < 250, 5_000);
  });

  test('mqtt: bad input to the port is refused with what, where, expected and got', async () => {
    const { adapter, a } = rig();
    assert.throws(() => adapter.watch({ ...a, deviceId: 'x/#' }), /mqtt watch\.deviceId: expected a device id .* got "x\/#"/);
    assert.throws(() => adapter.setSampling(a.deviceId, 5), /setSampling plug-a: expected an integer number of milliseconds in \[50, .*got 5/);
    const outcome = await adapter.execute(a.deviceId, { id: -1, command: 'power-on', args: {} }, 1000);
    assert.ok(!outcome.ok && !outcome.retryable && /id: expected a non-negative safe integer, got -1/.test(outcome.reason));
  });
});
