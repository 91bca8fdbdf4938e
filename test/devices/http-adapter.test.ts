// http-adapter.test.ts — goal: the generic JSON adapter and the Hue adapter keep the port's contract over
// real HTTP against simulated devices (two JSON sensors, two Hue bridges) running as separate processes in
// a network namespace; the adapters poll from the host end's address (localAddress). Beyond the contract:
// a wrong bearer token and a wrong Hue user name become clear, counted failures (Hue's error arrays quoted).
// Needs root (namespaces): skipped with the reason when missing, failed when CI=true.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpJsonAdapter } from '../../src/devices/http-adapter.js';
import { HueAdapter } from '../../src/devices/hue-adapter.js';
import type { WatchedDevice } from '../../src/devices/port.js';
import { ContractEvents, adapterContract, journalExecutions, type AdapterRig } from './contract.js';
import { DeviceLab, usable, waitFor, type Sim } from './lab.js';

const available = usable();
const lab = new DeviceLab('h');
let labReady: Promise<void> | null = null;
after(() => lab.destroy());
const SAMPLING_MS = 300;

function setupLab(): Promise<void> {
  labReady ??= lab.setup();
  return labReady;
}

async function httpJsonRig(): Promise<AdapterRig> {
  await setupLab();
  const dev = lab.deviceAddress;
  const sims: Record<'a' | 'b', Sim> = {
    a: await lab.startSim('sensor-a', ['--kind', 'http-sensor', '--id', 'sensor-a', '--listen', `${dev}:18081`, '--token', 'tok-a']),
    b: await lab.startSim('sensor-b', ['--kind', 'http-sensor', '--id', 'sensor-b', '--listen', `${dev}:18082`, '--token', 'tok-b']),
  };
  const device = (id: string, port: number, secret: string): WatchedDevice => ({
    deviceId: id, endpoint: `http://${dev}:${port}/status`, secret, samplingMs: SAMPLING_MS,
    options: { 'sensor.temperature': '/sensors/temperature', 'sensor.relayOn': '/relay/on', commandUrl: `http://${dev}:${port}/commands` },
    sensors: [{ name: 'temperature', type: 'number' }, { name: 'relayOn', type: 'boolean' }],
  });
  const events = new ContractEvents();
  const adapter = new HttpJsonAdapter({ events, localAddress: lab.hostAddress });
  const a = device('sensor-a', 18081, 'tok-a');
  const b = device('sensor-b', 18082, 'tok-b');
  adapter.watch(a);
  adapter.watch(b);
  await adapter.start();
  return {
    adapter, events, a, b,
    types: { temperature: 'number', relayOn: 'boolean' },
    setA: { values: { temperature: 30.5 }, sensor: 'temperature', value: 30.5 },
    command: { name: 'power-off', sensor: 'relayOn', value: false },
    commandIds: true,
    executions: (id) => journalExecutions(sims.a.journal, 'sensor-a', id),
    control: (which, path, body) => lab.control(sims[which], path, body),
    flood: async () => {
      await lab.control(sims.b, '/flood', { bytes: 70_000 });
    },
    unflood: async () => {
      await lab.control(sims.b, '/flood', { bytes: 0 });
    },
    drops: ['oversize'],
    restartPeer: async () => {
      sims.a = await lab.restartSim('sensor-a', sims.a);
    },
    dispose: async () => {
      await adapter.close();
      for (const sim of Object.values(sims)) await lab.stopSim(sim);
    },
  };
}

async function hueRig(): Promise<AdapterRig> {
  await setupLab();
  const dev = lab.deviceAddress;
  const sims: Record<'a' | 'b', Sim> = {
    a: await lab.startSim('bridge-a', ['--kind', 'hue-bridge', '--id', 'bridge-a', '--listen', `${dev}:18080`, '--user', 'qguser-a', '--lamps', '2']),
    b: await lab.startSim('bridge-b', ['--kind', 'hue-bridge', '--id', 'bridge-b', '--listen', `${dev}:18083`, '--user', 'qguser-b', '--lamps', '2']),
  };
  const device = (id: string, port: number, secret: string): WatchedDevice => ({
    deviceId: id, endpoint: `http://${dev}:${port}/`, secret, samplingMs: SAMPLING_MS, options: { light: '1' },
    sensors: [{ name: 'on', type: 'boolean' }, { name: 'bri', type: 'number' }, { name: 'reachable', type: 'boolean' }],
  });
  const events = new ContractEvents();
  const adapter = new HueAdapter({ events, localAddress: lab.hostAddress });
  const a = device('lamp-a', 18080, 'qguser-a');
  const b = device('lamp-b', 18083, 'qguser-b');
  adapter.watch(a);
  adapter.watch(b);
  await adapter.start();
  return {
    adapter, events, a, b,
    types: { on: 'boolean', bri: 'number', reachable: 'boolean' },
    setA: { values: { light: '1', bri: 99 }, sensor: 'bri', value: 99 },
    command: { name: 'power-off', sensor: 'on', value: false },
    commandIds: false,
    executions: (id) => journalExecutions(sims.a.journal, 'bridge-a/1', id),
    control: (which, path, body) => lab.control(sims[which], path, body),
    flood: async () => {
      await lab.control(sims.b, '/set', { values: { light: '1', padding: 70_000 } });
    },
    unflood: async () => {
      await lab.control(sims.b, '/set', { values: { light: '1', padding: 0 } });
    },
    drops: ['oversize'],
    restartPeer: async () => {
      sims.a = await lab.restartSim('bridge-a', sims.a);
    },
    dispose: async () => {
      await adapter.close();
      for (const sim of Object.values(sims)) await lab.stopSim(sim);
    },
  };
}

const skip = available.ok ? false : available.reason;

adapterContract('http-json', httpJsonRig, skip, (rig) => {
  test('http-json: a wrong bearer token is a counted failure naming the status', async () => {
    const { adapter, a } = rig();
    const before = adapter.stats().http_status ?? 0;
    adapter.watch({ ...a, deviceId: 'sensor-a-bad-token', secret: 'wrong' });
    await waitFor('http_status counted', () => (adapter.stats().http_status ?? 0) > before, 3_000);
    assert.match(adapter.health().lastError ?? '', /sensor-a-bad-token: HTTP 401/);
    const outcome = await adapter.execute('sensor-a-bad-token', { id: 5, command: 'power-on', args: {} }, 2_000);
    assert.ok(!outcome.ok && !outcome.retryable && /HTTP 401: bad or missing bearer token/.test(outcome.reason), JSON.stringify(outcome));
    adapter.unwatch('sensor-a-bad-token');
    assert.throws(() => adapter.watch({ ...a, deviceId: 'p', options: { 'sensor.temperature': 'sensors/temperature' } }),
      /http-json watch p\.options\["sensor\.temperature"\]: expected a JSON pointer \(RFC 6901\) starting with "\/", got "sensors\/temperature"/);
  });
});

adapterContract('hue', hueRig, skip, (rig) => {
  test('hue: an unknown user name is a clear failure quoting the bridge\'s error', async () => {
    const { adapter, a } = rig();
    const before = adapter.stats().hue_error ?? 0;
    adapter.watch({ ...a, deviceId: 'lamp-a-bad-user', secret: 'intruder' });
    await waitFor('hue_error counted', () => (adapter.stats().hue_error ?? 0) > before, 3_000);
    assert.match(adapter.health().lastError ?? '', /lamp-a-bad-user: bridge at .*: unauthorized user \(Hue error 1\)/);
    const outcome = await adapter.execute('lamp-a-bad-user', { id: 6, command: 'turn-on', args: {} }, 2_000);
    assert.deepEqual(outcome.ok, false);
    assert.ok(!outcome.ok && !outcome.retryable && /unauthorized user \(Hue error 1\)/.test(outcome.reason), JSON.stringify(outcome));
    adapter.unwatch('lamp-a-bad-user');
  });
});
