// devices-cluster.test.ts — the device interface on a real 3-gateway cluster (issue 13's "done when").
//
// Goal: gateways read their devices over their own protocols and carry out device commands, from a
// replicated, signed cluster: an MQTT temperature sensor's readings become node-signed telemetry and move it
// to `suspicious` by policy, its sampling interval goes up, and a group command turns the MQTT smart plug off
// through its adapter; a kill -9 of the serving gateway between carrying a command out and reporting it leaves
// the device having carried it out once; a Hue lamp behind another gateway is switched off by a time-of-day
// rule at the window's end, without any reading; a silent device raises `device-unreachable`; an unknown
// device is dropped, reported as a discovery with its DHCP host name, and adopted with `qgate devices register`.
// Method: LocalCluster (3 gateway processes, OVS bridges, management ports, a Mosquitto per gateway), device
// simulators in network namespaces behind the bridges, the policy and devices loaded with the real `qgate`,
// and every check made through the API or the devices themselves. Needs root, OVS, Docker and Mosquitto:
// skipped with the reason outside CI, failed with CI=true.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { LocalCluster, waitUntilAsync } from '../../cluster/local-cluster.js';
import { buildNetwork, inNamespace, teardownNetwork } from '../../cluster/netlab.js';
import type { DemoNetwork } from '../../cluster/netlab.js';
import { startDevice } from '../../cluster/devlab.js';
import type { RunningDevice } from '../../cluster/devlab.js';
import { MOSQUITTO_BINARY } from '../../src/devices/index.js';
import { OvsSwitch } from '../../src/dataplane/index.js';
import { run } from '../../src/dataplane/exec.js';
import { facilities, releaseFacilities } from '../dataplane/lab.js';
import { repoPath, requireInCi } from '../support/paths.js';

const PREFIX = 'qgv';
const SUBNET = '10.78.0.';
const available = await facilities();
const mosquitto = existsSync(MOSQUITTO_BINARY);
if (!mosquitto && requireInCi()) throw new Error(`device tests need ${MOSQUITTO_BINARY} (CI=true: failing instead of skipping)`);
const skip = !available.ok ? `needs ${available.reason}` : !mosquitto ? `needs ${MOSQUITTO_BINARY} (bash scripts/setup.sh)` : false;

const DEVICES = [
  { id: 'temp-1', gateway: 1 },
  { id: 'plug-1', gateway: 1 },
  { id: 'lamp-1', gateway: 2 },
  { id: 'stranger', gateway: 3 },
];

/** windowEnd is an "HH:MM" (UTC) at least 40 s ahead: the lamp's allowed hours end there. */
function windowEnd(nowMs: number): { from: string; to: string; endMs: number } {
  const minute = 60_000;
  let endMs = Math.ceil(nowMs / minute) * minute;
  if (endMs - nowMs < 40_000) endMs += minute;
  const hhmm = (ms: number): string => new Date(ms).toISOString().slice(11, 16);
  return { from: hhmm(endMs - 6 * 60 * minute), to: hhmm(endMs), endMs };
}

function policy(window: { from: string; to: string }): Record<string, unknown> {
  return {
    domain: 'lab', version: 1,
    deviceTypes: [
      {
        name: 'temp-sensor',
        sensors: [{ name: 'temperature', type: 'number', unit: '°C', min: -40, max: 125 }],
        alertTypes: [],
        sampling: { normal: 1000, suspicious: 250, lost: 1000 },
        states: [{ name: 'normal', verdict: 'allow' }, { name: 'suspicious', verdict: 'allow' }, { name: 'attack', verdict: 'quarantine' }, { name: 'lost', verdict: 'quarantine' }],
        rules: [
          { name: 'overheat', from: 'normal', to: 'suspicious', when: { sensor: { name: 'temperature', op: '>', value: 30, over: { last: 3, aggregate: 'avg' } } }, commands: [{ command: 'power-off', target: 'group' }] },
          { name: 'cooled', from: 'suspicious', to: 'normal', when: { sensor: { name: 'temperature', op: '<', value: 25, over: { last: 3, aggregate: 'avg' } } }, commands: [{ command: 'power-on', target: 'group' }] },
          { name: 'silent', from: 'any', to: 'lost', when: { alert: { type: 'device-unreachable', atLeast: 1, withinMs: 60_000 } } },
        ],
      },
      {
        name: 'smart-plug',
        sensors: [{ name: 'isOn', type: 'boolean' }, { name: 'power', type: 'number', unit: 'W', min: 0, max: 3680 }],
        commands: ['power-off', 'power-on'],
        alertTypes: [],
        states: [{ name: 'normal', verdict: 'allow' }, { name: 'suspicious', verdict: 'allow' }, { name: 'attack', verdict: 'quarantine' }],
        rules: [],
      },
      {
        name: 'hue-lamp',
        sensors: [{ name: 'on', type: 'boolean' }, { name: 'bri', type: 'number', min: 0, max: 254 }, { name: 'reachable', type: 'boolean' }],
        commands: ['power-off', 'power-on'],
        alertTypes: [],
        states: [{ name: 'normal', verdict: 'allow' }, { name: 'suspicious', verdict: 'allow' }, { name: 'attack', verdict: 'quarantine' }, { name: 'after-hours', verdict: 'allow' }],
        rules: [{ name: 'lights-out', from: 'normal', to: 'after-hours', when: { not: { timeOfDay: { from: window.from, to: window.to, timezone: 'UTC' } } }, commands: [{ command: 'power-off' }] }],
      },
      { name: 'unknown', sensors: [], alertTypes: [], states: ['normal', 'suspicious', 'attack'].map((name) => ({ name, verdict: 'quarantine' })), rules: [] },
    ],
  };
}

/** deleteBridges removes this test's bridges: a bridge left from an earlier run holds ports whose veths are gone. */
async function deleteBridges(): Promise<void> {
  if (!available.ok) return;
  for (const gateway of [1, 2, 3]) await new OvsSwitch({ bridge: `${PREFIX}${gateway}br`, ovsDir: available.paths.ovsDir }).deleteBridge();
}

describe('the device interface on a real 3-gateway cluster', { skip, timeout: 420_000 }, () => {
  let cluster: LocalCluster;
  let network: DemoNetwork;
  let dir: string;
  let adminKey: string;
  let window: ReturnType<typeof windowEnd>;
  const devices = new Map<string, RunningDevice>();

  const qgate = (args: readonly string[], keys: readonly string[] = []): { status: number; stdout: string; stderr: string } => {
    const result = spawnSync(process.execPath, [repoPath('dist/src/cli/main.js'), ...keys.flatMap((k) => ['--key', k]), ...args], {
      env: { ...process.env, ...cluster.qgateEnv() }, encoding: 'utf8', timeout: 120_000,
    });
    return { status: result.status ?? -1, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  };
  const qgateOk = (args: readonly string[], keys: readonly string[] = []): string => {
    const result = qgate(args, keys);
    assert.equal(result.status, 0, `qgate ${args.join(' ')} failed: ${result.stderr}${result.stdout}`);
    return result.stdout;
  };
  const read = async <T>(nodeId: number, path: string): Promise<T | undefined> => {
    const response = await cluster.fetch(`${cluster.apiUrl(nodeId)}${path}`, { signal: AbortSignal.timeout(3_000) }).catch(() => undefined);
    return response?.ok === true ? ((await response.json()) as T) : undefined;
  };
  const stateOf = async (nodeId: number, deviceId: string): Promise<string | undefined> =>
    (await read<{ state: string }>(nodeId, `/v1/devices/${deviceId}?consistency=stale`))?.state;
  const deviceOf = (id: string) => network.devices.find((d) => d.id === id)!;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qg-devices-'));
    await teardownNetwork(PREFIX);
    await deleteBridges();
    cluster = await LocalCluster.create({ dir, nodes: 3, application: 'quorumgate', dataplanePrefix: PREFIX, devicesSubnet: SUBNET, timing: { tickMs: 50, electionTicks: 10, heartbeatTicks: 1 } });
    network = await buildNetwork({
      prefix: PREFIX, subnet: SUBNET, devices: DEVICES,
      gateways: cluster.nodes.map((n) => ({ nodeId: n.nodeId, uplinkPort: cluster.dataplaneOf(n.nodeId).uplinkPort })),
    });
    cluster.setDeviceSecret(1, 'temp-1', 'temp-secret-1');
    cluster.setDeviceSecret(1, 'plug-1', 'plug-secret-1');
    cluster.setDeviceSecret(2, 'hue-bridge-1', 'hueuser0123456789');
    cluster.startAll();
    await cluster.waitForLeader(30_000);
    const broker = (gateway: number): string => `${cluster.devicesOf(gateway)!.managementAddress}:1883`;
    const simDir = join(dir, 'devices');
    devices.set('temp-1', await startDevice(simDir, 'temp-1', { kind: 'temperature', namespace: deviceOf('temp-1').namespace, args: ['--id', 'temp-1', '--broker', broker(1), '--password', 'temp-secret-1'] }));
    devices.set('plug-1', await startDevice(simDir, 'plug-1', { kind: 'plug', namespace: deviceOf('plug-1').namespace, args: ['--id', 'plug-1', '--broker', broker(1), '--password', 'plug-secret-1'] }));
    devices.set('lamp-1', await startDevice(simDir, 'lamp-1', { kind: 'hue-bridge', namespace: deviceOf('lamp-1').namespace, args: ['--listen', `${deviceOf('lamp-1').address}:80`, '--user', 'hueuser0123456789', '--lamps', '2'] }));
    await devices.get('temp-1')!.set({ temperature: 21 });

    adminKey = join(dir, 'admin.key');
    qgateOk(['keys', 'gen', '--out', adminKey]);
    const adminPublic = (JSON.parse(readFileSync(adminKey, 'utf8')) as { publicKey: string }).publicKey;
    window = windowEnd(Date.now());
    const bundle = {
      domain: 'lab', description: 'device interface test', admins: [{ name: 'lab-admin', publicKey: adminPublic }], images: [], policy: policy(window),
      devices: [
        { id: 'temp-1', type: 'temp-sensor', group: 'lab', nodeId: 'n1', port: deviceOf('temp-1').port, addresses: [deviceOf('temp-1').address], interface: { protocol: 'mqtt', endpoint: '', credentialRef: 'temp-1' } },
        { id: 'plug-1', type: 'smart-plug', group: 'lab', nodeId: 'n1', port: deviceOf('plug-1').port, addresses: [deviceOf('plug-1').address], interface: { protocol: 'mqtt', endpoint: '', credentialRef: 'plug-1' } },
        {
          id: 'lamp-1', type: 'hue-lamp', group: 'lamps', nodeId: 'n2', port: deviceOf('lamp-1').port, addresses: [deviceOf('lamp-1').address],
          interface: { protocol: 'hue', endpoint: `http://${deviceOf('lamp-1').address}`, credentialRef: 'hue-bridge-1', options: { light: '1' } },
        },
      ],
    };
    const bundleFile = join(dir, 'lab.yaml');
    writeFileSync(bundleFile, toYaml(bundle));
    qgateOk(['apply', '-f', bundleFile, '--wait', 'enforced', '--timeout', '90000'], [...cluster.rootKeyFiles().slice(0, 2), adminKey]);
  });

  after(async () => {
    for (const device of devices.values()) await device.stop().catch(() => undefined);
    // QG_KEEP_DEVICE_LAB=1 keeps the cluster's directory (node logs, broker logs, journals) for a post-mortem.
    if (process.env.QG_KEEP_DEVICE_LAB === '1') {
      await cluster?.stopAll().catch(() => undefined);
      console.log(`kept the device lab's directory: ${dir}`);
    } else {
      await cluster?.destroy().catch(() => undefined);
    }
    await teardownNetwork(PREFIX).catch(() => undefined);
    await deleteBridges().catch(() => undefined);
    await releaseFacilities(available);
  });

  test('readings arrive over MQTT and HTTP as node-signed telemetry, on every gateway', async () => {
    await waitUntilAsync(async () => {
      const readings = await read<{ sensors: { sensor: string; latest: { value: unknown } | null }[] }>(3, '/v1/devices/temp-1/readings?consistency=stale');
      return readings?.sensors.some((s) => s.sensor === 'temperature' && s.latest?.value === 21) === true;
    }, 30_000, 'temp-1\'s temperature (21) in the agreed state on gateway 3');
    await waitUntilAsync(async () => {
      const readings = await read<{ sensors: { sensor: string; latest: { value: unknown } | null }[] }>(1, '/v1/devices/lamp-1/readings?consistency=stale');
      return readings?.sensors.some((s) => s.sensor === 'on' && s.latest?.value === true) === true;
    }, 30_000, 'lamp-1 (Hue, polled by gateway 2) read as on');
    const shown = JSON.parse(qgateOk(['devices', 'readings', 'plug-1', '-o', 'json'])) as unknown;
    assert.match(JSON.stringify(shown), /isOn/, 'qgate devices readings shows the plug\'s sensors');
  });

  test('a temperature leaving its band moves the sensor to suspicious, raises its sampling rate, and a group command turns the plug off', async () => {
    const temp = devices.get('temp-1')!;
    const plug = devices.get('plug-1')!;
    const before = (await temp.state()) as { samplingMs?: number; devices?: { samplingMs?: number }[] };
    await temp.set({ temperature: 45 });
    await waitUntilAsync(async () => (await stateOf(2, 'temp-1')) === 'suspicious', 30_000, 'temp-1 to move to suspicious');
    await waitUntilAsync(async () => JSON.stringify(await temp.state()).includes('"samplingMs":250'), 10_000, 'the sensor to be told to report every 250 ms');
    assert.ok(!JSON.stringify(before).includes('"samplingMs":250'), 'it reported every second before');
    await waitUntilAsync(async () => plug.commands().some((c) => c.command === 'power-off'), 20_000, 'the plug to receive power-off');
    await waitUntilAsync(async () => JSON.stringify(await plug.state()).includes('"isOn":false'), 10_000, 'the plug to be off');
    await waitUntilAsync(async () => {
      const done = JSON.parse(qgate(['commands', 'list', '--device', 'plug-1', '--status', 'done', '-o', 'json']).stdout || '[]') as unknown;
      return JSON.stringify(done).includes('power-off');
    }, 20_000, 'the power-off command listed as done');
    assert.equal(plug.commands().filter((c) => c.command === 'power-off' && c.executed).length, 1, 'carried out once');
  });

  test('a kill -9 of the serving gateway between carrying a command out and reporting it: the device carries it out once', async () => {
    const temp = devices.get('temp-1')!;
    const plug = devices.get('plug-1')!;
    await cluster.kill(1);
    cluster.start(1, { QG_DEVICE_COMMAND_REPORT_DELAY_MS: '8000' });
    await waitUntilAsync(async () => (await read(1, '/v1/status')) !== undefined, 30_000, 'gateway 1 back');
    await temp.set({ temperature: 18 });
    await waitUntilAsync(async () => plug.commands().some((c) => c.command === 'power-on'), 40_000, 'the plug to receive power-on');
    await cluster.kill(1); // within the 8 s between the device's answer and the report
    const id = plug.commands().find((c) => c.command === 'power-on')!.id;
    const pending = await read<{ command: { status: string } }>(2, `/v1/device-commands/${id}?consistency=stale`);
    assert.equal(pending?.command.status, 'pending', 'the cluster has not recorded it: the node died before reporting');
    cluster.start(1);
    await waitUntilAsync(async () => (await read<{ command: { status: string } }>(2, `/v1/device-commands/${id}?consistency=stale`))?.command.status === 'done', 60_000, `command ${id} done after the restart`);
    const seen = plug.commands().filter((c) => c.id === id);
    assert.equal(seen.filter((c) => c.executed).length, 1, `the device carried out command ${id} once: ${JSON.stringify(seen)}`);
    assert.ok(seen.some((c) => !c.executed), 'the restarted gateway sent it again and the device recognised its id');
    assert.match(JSON.stringify(await plug.state()), /"isOn":true/);
  });

  test('a time-of-day rule switches the Hue lamp off at the end of its window, with no reading needed', async () => {
    assert.equal(await stateOf(2, 'lamp-1'), 'normal');
    const waitMs = Math.max(0, window.endMs - Date.now()) + 30_000;
    await waitUntilAsync(async () => (await stateOf(3, 'lamp-1')) === 'after-hours', waitMs, `lamp-1 to move to after-hours at ${window.to} UTC`);
    const lamp = devices.get('lamp-1')!;
    // The Hue API carries no command id: the bridge journals the state it was set to.
    await waitUntilAsync(async () => lamp.commands().some((c) => c.command === 'off'), 20_000, 'the Hue bridge to be told to switch lamp 1 off');
    await waitUntilAsync(async () => JSON.stringify(await lamp.state()).includes('"on":false'), 10_000, 'lamp 1 to be off');
  });

  test('a device that stops answering raises device-unreachable, which the policy acts on', async () => {
    await devices.get('temp-1')!.silence('silent');
    await waitUntilAsync(async () => (await stateOf(3, 'temp-1')) === 'lost', 30_000, 'temp-1 to move to lost (device-unreachable)');
    await devices.get('temp-1')!.resume();
  });

  test('an unknown device is dropped, reported with its DHCP host name, and adopted with qgate devices register', async () => {
    const stranger = deviceOf('stranger');
    // A gateway's access ports are on its bridge whether or not a device is registered there (the
    // reconciler adds registered devices' ports itself): plugging the stranger in is the operator's port.
    assert.ok(available.ok);
    await run('ovs-vsctl', [`--db=unix:${available.paths.ovsDbSocket}`, '--may-exist', 'add-port', `${PREFIX}3br`, stranger.port]);
    await inNamespace(stranger.namespace, ['busybox', 'udhcpc', '-i', 'eth0', '-n', '-q', '-t', '3', '-T', '1', '-x', 'hostname:mystery-cam', '-V', 'acme-cam-v2', '-s', '/bin/true'], { allowFailure: true, timeoutMs: 15_000 });
    const reached = await inNamespace(stranger.namespace, ['ping', '-c', '2', '-W', '1', `${SUBNET}1`], { allowFailure: true, timeoutMs: 10_000 });
    assert.notEqual(reached.code, 0, 'the unknown device reaches nothing');
    let found: { port: string; mac: string; hostname: string; vendorClass: string }[] = [];
    await waitUntilAsync(async () => {
      found = (JSON.parse(qgate(['devices', 'discovered', '-o', 'json']).stdout || '{"discovered":[]}') as { discovered: typeof found }).discovered;
      return found.some((d) => d.port === stranger.port && d.hostname === 'mystery-cam');
    }, 40_000, 'the stranger in qgate devices discovered with its host name');
    const entry = found.find((d) => d.port === stranger.port)!;
    assert.equal(entry.vendorClass, 'acme-cam-v2');
    qgateOk(['devices', 'register', '--from-discovered', entry.mac, '--id', 'stranger-1', '--type', 'unknown', '--domain', 'lab'], [adminKey]);
    await waitUntilAsync(async () => (await stateOf(1, 'stranger-1')) === 'normal', 20_000, 'the adopted device registered');
    await waitUntilAsync(async () => {
      const list = (JSON.parse(qgate(['devices', 'discovered', '-o', 'json']).stdout || '{"discovered":[]}') as { discovered: typeof found }).discovered;
      return !list.some((d) => d.mac === entry.mac);
    }, 20_000, 'the adopted device to leave the discovered list');
  });
});
