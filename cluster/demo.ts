// demo.ts — the main job: a 3-gateway quorumgate cluster on this machine that reads a sensor and switches
// a plug off over MQTT, and contains a brute-force attack while it loses its leader. `bash scripts/demo.sh`
// runs it (after installing what it needs); `bash scripts/demo.sh down` tears it down.
//
// What it does, in order (and says so as it goes, each reaction with its time):
//  1. starts a private Open vSwitch and Docker engine, builds the μmbox images and pins their digests;
//  2. creates root keys, node keys and a genesis, and starts 3 gateway processes (Raft on loopback),
//     each with its own OVS bridge, and its device interface: a management address (10.77.0.241-243) on a
//     port of its bridge and its own Mosquitto broker there; behind each bridge devices in their own
//     network namespaces (a camera per gateway; a smart plug and a temperature sensor behind gateway 1,
//     whose secrets only gateway 1 holds), and above all bridges an upstream network with a server and an
//     attacker;
//  3. loads a policy with `qgate apply` (signed by 2 of 3 root keys and the domain's admin key) and
//     waits until every gateway enforces it;
//  4. starts the sensor and the plug (MQTT simulators in their namespaces): their readings become
//     node-signed telemetry; then the sensor's temperature rises: the reading is committed, the policy
//     moves the sensor to `suspicious`, gateway 1 samples it every 500 ms instead of 2 s, and the rule's
//     group command `power-off` is carried out on the plug by gateway 1 through MQTT;
//  5. runs a brute-force attack from the attacker on a camera: the camera's monitor μmbox raises an
//     alert, its gateway signs it as telemetry, the cluster commits it, the policy moves the camera to
//     `attack`, and its gateway swaps its chain to block-all: the attacker is cut off;
//  6. kills the leader (kill -9), attacks a second camera while the cluster elects a new leader, and
//     shows that enforcement never lapsed and the second attack is contained too;
//  7. restarts the killed gateway, which catches up; leaves everything running to explore with qgate.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { LocalCluster, waitUntilAsync } from './local-cluster.js';
import { ATTACKER_ADDRESS, SERVER_ADDRESS, tcpReach } from './netlab.js';
import type { DemoDevice, DemoNetwork } from './netlab.js';
import { startDevice, stopProcess } from './devlab.js';
import type { RunningDevice, SimSpec } from './devlab.js';
import {
  NORMAL_SAMPLING_MS, OVERHEAT_CELSIUS, SUSPICIOUS_SAMPLING_MS, commandLine, createSite, dashboardLines, dashboardViewerToken, deviceState, loadPolicy, qgate, read, startHost, tearDownSite, typeOf,
} from './demo-site.js';

const PREFIX = 'qgd';
const DEFAULT_DIR = resolve('run', 'demo');
/** DEVICES_SUBNET gives gateway N its management address 10.77.0.(240 + N) (LocalClusterInit.devicesSubnet). */
const DEVICES_SUBNET = '10.77.0.';
// A camera behind every gateway (so a camera behind a surviving gateway can be attacked after the
// leader dies, whichever node leads), a smart plug and a temperature sensor. Appended last, the sensor
// leaves the other devices' ports and addresses as they were (netlab numbers them in this order).
const DEVICES = [
  { id: 'cam-1', gateway: 1 },
  { id: 'cam-2', gateway: 2 },
  { id: 'cam-3', gateway: 3 },
  { id: 'plug-1', gateway: 1 },
  { id: 'temp-1', gateway: 1 },
];
/** SIMULATED are the devices that speak MQTT to their gateway's broker (a simulator runs in their namespace). */
const SIMULATED: Readonly<Record<string, SimSpec['kind']>> = { 'temp-1': 'temperature', 'plug-1': 'plug' };
/** Temperatures of the sensor (°C): the `overheat` rule fires when the average of the last 3 exceeds OVERHEAT_CELSIUS. */
const START_CELSIUS = 21.5;
const HOT_CELSIUS = 60;
/** REACTION_TIMEOUT_MS bounds the wait for every step of the sensor's reaction. */
const REACTION_TIMEOUT_MS = 30_000;
/** simulatorsFile records the simulators' pids in the cluster directory, so that `down` ends them by pid. */
const simulatorsFile = (dir: string): string => join(dir, 'devices', 'simulators.json');

function say(text: string): void {
  console.log(`\n\x1b[1m== ${text}\x1b[0m`);
}

function note(text: string): void {
  console.log(`   ${text}`);
}

/** Readings is the answer of GET /v1/devices/:id/readings. */
interface Readings {
  samplingMs: number | null;
  sensors: { sensor: string; latest: { value: unknown; timeMs: number } | null; history: { value: unknown; timeMs: number }[] }[];
}

/** history is one sensor's readings in a gateway's agreed state, oldest first. */
async function history(cluster: LocalCluster, nodeId: number, deviceId: string, sensor: string): Promise<{ value: unknown; timeMs: number }[]> {
  const readings = await read<Readings>(cluster, nodeId, `/v1/devices/${deviceId}/readings?consistency=stale`);
  return readings?.sensors.find((s) => s.sensor === sensor)?.history ?? [];
}

/** attack opens many login connections from the attacker and returns when the device is contained (or after 20 s). */
async function attack(cluster: LocalCluster, network: DemoNetwork, deviceId: string, observer: number): Promise<number> {
  const device = network.devices.find((d) => d.id === deviceId)!;
  const started = Date.now();
  for (let burst = 0; burst < 40; burst++) {
    await Promise.all(Array.from({ length: 4 }, () => tcpReach(network.attacker, device.address, 22, 1)));
    if ((await deviceState(cluster, observer, deviceId)) === 'attack') break;
  }
  await waitUntilAsync(async () => (await deviceState(cluster, observer, deviceId)) === 'attack', 20_000, `${deviceId} to move to attack`);
  return Date.now() - started;
}

/** startSimulators runs the MQTT simulators in their devices' namespaces, connecting to their gateway's broker with their secrets. */
async function startSimulators(cluster: LocalCluster, network: DemoNetwork, secrets: ReadonlyMap<string, string>): Promise<Map<string, RunningDevice>> {
  const running = new Map<string, RunningDevice>();
  const dir = join(cluster.dir, 'devices');
  for (const device of network.devices.filter((d) => SIMULATED[d.id] !== undefined)) {
    const broker = `${cluster.devicesOf(device.gateway)!.managementAddress}:${cluster.devicesOf(device.gateway)!.brokerPort}`;
    const spec: SimSpec = { kind: SIMULATED[device.id]!, namespace: device.namespace, args: ['--id', device.id, '--broker', broker, '--password', secrets.get(device.id)!] };
    running.set(device.id, await startDevice(dir, device.id, spec));
    writeFileSync(simulatorsFile(cluster.dir), `${JSON.stringify([...running.values()].map((d) => d.pid))}\n`);
  }
  return running;
}

/** Milestone is one step of a reaction: `observe` answers when it happened (epoch ms) and what to say, or undefined before it has. */
interface Milestone {
  readonly what: string;
  readonly observe: () => Promise<{ atMs: number; text: string } | undefined>;
}

/**
 * follow polls every milestone at once (every 100 ms) from `sinceMs` on, and prints each with its time
 * since then, in the order given, as soon as it and those before it have happened. An event the cluster
 * or the device timestamps (an entry's time, the device's journal) is shown at that time; the others at
 * the poll that saw them.
 */
async function follow(sinceMs: number, milestones: readonly Milestone[], timeoutMs: number): Promise<number[]> {
  const seen: ({ atMs: number; text: string } | undefined)[] = milestones.map(() => undefined);
  let printed = 0;
  for (let round = 0; printed < milestones.length; round++) {
    if (Date.now() - sinceMs > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${milestones.filter((_, i) => seen[i] === undefined).map((m) => m.what).join('; ')}`);
    }
    await Promise.all(milestones.map(async (milestone, i) => {
      if (seen[i] === undefined) seen[i] = await milestone.observe();
    }));
    while (printed < milestones.length && seen[printed] !== undefined) {
      const { atMs, text } = seen[printed]!;
      note(`+${String(Math.max(0, atMs - sinceMs)).padStart(5)} ms  ${text}`);
      printed++;
    }
    if (printed < milestones.length) await new Promise((done) => setTimeout(done, 100));
  }
  return seen.map((s) => s!.atMs - sinceMs);
}

/** sensorStep is step 4: readings arrive, then the sensor overheats and the plug is switched off. */
async function sensorStep(cluster: LocalCluster, network: DemoNetwork, secrets: ReadonlyMap<string, string>): Promise<void> {
  say('4. A temperature sensor and a smart plug on MQTT: the sensor overheats, and the policy switches the plug off');
  const gateway = cluster.devicesOf(1)!;
  const started = Date.now();
  const simulators = await startSimulators(cluster, network, secrets);
  const temp = simulators.get('temp-1')!;
  const plug = simulators.get('plug-1')!;
  await temp.set({ temperature: START_CELSIUS });
  note(`temp-1 (a temperature sensor) and plug-1 (a smart plug) run in their namespaces and connect to gateway 1's broker at ${gateway.managementAddress}:${gateway.brokerPort},`);
  note('each with its own user and secret (held by gateway 1 only; the registration names it, the log never holds it)');
  // Observed on gateway 3, which serves neither: what it shows is agreed state.
  await waitUntilAsync(async () => (await history(cluster, 3, 'temp-1', 'temperature')).length >= 3, REACTION_TIMEOUT_MS, 'three readings of temp-1 in the agreed state');
  await waitUntilAsync(async () => (await history(cluster, 3, 'plug-1', 'isOn')).length >= 1, REACTION_TIMEOUT_MS, 'a reading of plug-1 in the agreed state');
  note(`readings arrive: gateway 1 signs them as telemetry, and gateway 3 holds 3 of temp-1's ${Date.now() - started} ms after the sensors started`);
  qgate(cluster, ['devices', 'readings', 'temp-1']);
  qgate(cluster, ['devices', 'readings', 'plug-1']);

  const before = (await temp.state()) as { samplingMs?: number };
  const changed = Date.now();
  await temp.set({ temperature: HOT_CELSIUS });
  note(`the sensor's temperature rises to ${HOT_CELSIUS} °C (set on the device); from then on:`);
  const times = await follow(changed, [
    {
      what: `temp-1's reading of ${HOT_CELSIUS} °C committed`,
      observe: async () => {
        const temperatures = await history(cluster, 3, 'temp-1', 'temperature');
        const hot = temperatures.findIndex((r) => r.value === HOT_CELSIUS);
        if (hot < 0) return undefined;
        const last3 = temperatures.slice(Math.max(0, hot - 2), hot + 1).map((r) => Number(r.value));
        const average = last3.reduce((sum, v) => sum + v, 0) / last3.length;
        return { atMs: temperatures[hot]!.timeMs, text: `reading ${HOT_CELSIUS} °C committed (entry time); the average of the last 3 (${last3.join(', ')}) is ${average.toFixed(1)} > ${OVERHEAT_CELSIUS}` };
      },
    },
    {
      what: 'temp-1 to move to suspicious',
      observe: async () => {
        const device = await read<{ state: string; sinceMs: number }>(cluster, 3, '/v1/devices/temp-1?consistency=stale');
        return device?.state === 'suspicious' ? { atMs: device.sinceMs, text: 'temp-1 moved to suspicious (rule overheat), on every gateway' } : undefined;
      },
    },
    {
      what: `temp-1 to report every ${SUSPICIOUS_SAMPLING_MS} ms`,
      observe: async () => {
        const state = (await temp.state()) as { samplingMs?: number };
        return state.samplingMs === SUSPICIOUS_SAMPLING_MS
          ? { atMs: Date.now(), text: `temp-1 reports every ${SUSPICIOUS_SAMPLING_MS} ms (was ${before.samplingMs ?? '?'} ms): gateway 1 changed its sampling (its retained config topic)` }
          : undefined;
      },
    },
    {
      what: 'plug-1 to carry out power-off',
      observe: async () => {
        const command = plug.commands().find((c) => c.command === 'power-off' && c.executed);
        return command === undefined ? undefined : { atMs: command.atMs, text: `plug-1 received power-off (command ${command.id}) from gateway 1 over MQTT and carried it out (its journal)` };
      },
    },
    {
      what: 'plug-1 to be off',
      observe: async () => {
        const state = (await plug.state()) as { isOn?: boolean; power?: number };
        return state.isOn === false ? { atMs: Date.now(), text: `plug-1 is off (isOn ${String(state.isOn)}, power ${state.power ?? '?'} W)` } : undefined;
      },
    },
    {
      what: 'the power-off command done',
      observe: async () => {
        const done = await read<{ commands: { command: string; doneMs?: number }[] }>(cluster, 3, '/v1/device-commands?device=plug-1&status=done&consistency=stale');
        const command = done?.commands.find((c) => c.command === 'power-off');
        return command?.doneMs === undefined ? undefined : { atMs: command.doneMs, text: 'gateway 1 reported it done: the command is done in the agreed state' };
      },
    },
  ], REACTION_TIMEOUT_MS);
  note(`plug-1 switched off ${times[3]! - times[0]!} ms after the hot reading was committed (${times[3]} ms after the temperature rose; the sensor reports every ${NORMAL_SAMPLING_MS} ms)`);
  qgate(cluster, ['commands', 'list']);
}

/** isChained says whether a device's type chains μmboxes in `normal` (the sensor is allowed without one). */
function isChained(device: DemoDevice): boolean {
  return typeOf(device.id) !== 'temp-sensor';
}

async function up(dir: string): Promise<void> {
  if (existsSync(join(dir, 'cluster.json'))) {
    throw new Error(`a demo already runs in ${dir}; tear it down first with: bash scripts/demo.sh down`);
  }
  say('1. Host: a private Open vSwitch and Docker engine, and the μmbox images');
  const digests = await startHost(note);

  say('2. Three gateways: keys, genesis, processes, and a network with devices behind each gateway');
  const { cluster, network } = await createSite({ dir, prefix: PREFIX, subnet: DEVICES_SUBNET, devices: DEVICES, timing: { tickMs: 100, electionTicks: 10 } });
  note(`root keys (2 of 3 needed) and node keys in ${cluster.dir}; genesis ${cluster.genesisFile}`);
  for (const device of network.devices) note(`${device.id} (${device.address}) sits behind gateway ${device.gateway}, on its OVS port ${device.port}`);
  note(`upstream: server ${SERVER_ADDRESS}, attacker ${ATTACKER_ADDRESS}`);
  // Each MQTT device's secret goes to the gateway that serves it, and only there (its secrets file, 0600).
  const secrets = new Map(Object.keys(SIMULATED).map((id) => [id, randomBytes(12).toString('hex')]));
  for (const device of network.devices.filter((d) => secrets.has(d.id))) cluster.setDeviceSecret(device.gateway, device.id, secrets.get(device.id)!);
  cluster.startAll();
  const leader = await cluster.waitForLeader(30_000);
  note(`gateways 1-3 are up; node ${leader} was elected leader`);
  for (const node of cluster.nodes) {
    const devices = cluster.devicesOf(node.nodeId)!;
    note(`gateway ${node.nodeId}: management address ${devices.managementAddress} on its bridge's port ${devices.managementPort}, its MQTT broker there on port ${devices.brokerPort}`);
  }
  qgate(cluster, ['status']);

  say('3. Load the policy: signed by 2 of 3 root keys and the site admin, enforced on every gateway');
  const adminKey = loadPolicy(cluster, network, digests, new Set(Object.keys(SIMULATED)));
  qgate(cluster, ['devices', 'list']);
  for (const device of network.devices) {
    const reach = await tcpReach(device.namespace, SERVER_ADDRESS, 80);
    const how = isChained(device) ? 'through its monitor μmbox' : 'directly (its type allows it without a μmbox)';
    note(`${device.id} -> server: ${reach ? `reaches it ${how}` : 'NOT reachable (unexpected)'}`);
  }
  note(`attacker -> cam-1 login port: ${(await tcpReach(network.attacker, network.devices[0]!.address, 22)) ? 'open (cam-1 is in normal)' : 'closed'}`);

  await sensorStep(cluster, network, secrets);

  say('5. Brute-force attack on cam-1 (behind gateway 1)');
  const firstMs = await attack(cluster, network, 'cam-1', 1);
  note(`cam-1 moved to attack ${firstMs} ms after the attack began: monitor alert -> signed telemetry -> commit -> policy -> block-all`);
  await waitUntilAsync(async () => !(await tcpReach(network.attacker, network.devices[0]!.address, 22, 1)), 10_000, 'the attacker to be cut off from cam-1');
  note('attacker -> cam-1: cut off');

  say('6. Kill the leader (kill -9) and attack a camera behind another gateway while the cluster recovers');
  const doomed = await cluster.waitForLeader(10_000);
  await cluster.kill(doomed);
  note(`gateway ${doomed} (the leader) is dead; the others keep enforcing what was agreed (fail-static)`);
  const survivors = cluster.nodes.map((n) => n.nodeId).filter((id) => id !== doomed);
  const stillBlocked = !(await tcpReach(network.attacker, network.devices[0]!.address, 22, 1));
  note(`attacker -> cam-1 right after the kill: ${stillBlocked ? 'still cut off' : 'REACHED (enforcement lapsed!)'}`);
  const target = network.devices.find((d) => d.id.startsWith('cam') && d.id !== 'cam-1' && d.gateway !== doomed)!;
  const secondMs = await attack(cluster, network, target.id, target.gateway);
  const newLeader = await cluster.waitForLeader(15_000, survivors);
  note(`new leader: gateway ${newLeader}; ${target.id} (behind gateway ${target.gateway}) contained ${secondMs} ms after its attack began, although the leader died just before`);
  await waitUntilAsync(async () => !(await tcpReach(network.attacker, target.address, 22, 1)), 10_000, `the attacker to be cut off from ${target.id}`);
  note(`attacker -> ${target.id}: cut off`);
  // A device in `normal` behind the dead gateway whose traffic passes a μmbox: its flows and μmbox were
  // installed before the gateway died, and they keep forwarding (fail-static) — OVS does not need its
  // gateway process.
  let dead = network.devices[0]!;
  for (const device of network.devices.filter((d) => d.gateway === doomed && isChained(d))) {
    if ((await deviceState(cluster, newLeader, device.id)) === 'normal') dead = device;
  }
  note(`${dead.id}, behind the dead gateway ${doomed}, keeps its installed flows: ${(await tcpReach(dead.namespace, SERVER_ADDRESS, 80)) ? 'it still reaches the server through its monitor μmbox' : 'its traffic is held (fail-closed)'}`);

  say('7. The dead gateway comes back and catches up');
  cluster.start(doomed);
  await waitUntilAsync(async () => {
    const statuses = await cluster.statusAll();
    const values = [...statuses.values()];
    return values.every((s) => s !== undefined && s.applied === values[0]!.applied);
  }, 30_000, 'every gateway to apply the same log');
  qgate(cluster, ['status']);
  qgate(cluster, ['devices', 'list']);

  say('The cluster keeps running. Explore it:');
  console.log(`   export QGATE_ENDPOINTS=${cluster.qgateEnv()['QGATE_ENDPOINTS']} QGATE_MEMBERS=${cluster.membersFile}   # HTTPS, node keys pinned`);
  console.log(`   export QGATE_KEY=${cluster.rootKeyFiles()[0]}   # reads carry a token signed by this key (or: qgate token create)`);
  console.log('   qgate status');
  console.log('   qgate watch                                  # entries as they are applied, with the readings they record');
  console.log('   qgate devices readings temp-1 --history      # what the sensor reported, as agreed');
  console.log('   qgate commands list --device plug-1          # device commands the policy ordered, and what became of them');
  console.log(`   qgate --key ${adminKey} state set cam-1 normal --reason "incident closed"`);
  console.log(`   npm run cluster -- kill 2 --dir ${cluster.dir}     # and npm run cluster -- restart 2 --dir ${cluster.dir}`);
  // Every gateway serves the dashboard (docs/dashboard.md), from its own applied state: open any of them.
  const viewerToken = dashboardViewerToken(cluster, adminKey, false);
  console.log(`\n${dashboardLines(cluster, viewerToken).map((line) => `   ${line}`).join('\n')}`);
  console.log('\n   Tear it all down with:  bash scripts/demo.sh down');
}

/** stopSimulators ends the simulators `up` recorded, by pid (each checked to still be one of ours). */
async function stopSimulators(dir: string): Promise<void> {
  const file = simulatorsFile(dir);
  if (!existsSync(file)) return;
  for (const pid of JSON.parse(readFileSync(file, 'utf8')) as number[]) {
    if (commandLine(pid)?.includes(join(dir, 'devices')) === true) await stopProcess(pid);
  }
}

async function down(dir: string, stopEngines: boolean): Promise<void> {
  await stopSimulators(dir);
  await tearDownSite(dir, PREFIX, stopEngines);
  console.log('demo: torn down');
}

const program = new Command('demo').description('Run the quorumgate demo cluster.').showHelpAfterError();
program.command('up', { isDefault: true }).option('--dir <dir>', 'cluster directory', DEFAULT_DIR)
  .action(async (options: { dir: string }) => {
    await up(resolve(options.dir));
    // The simulators' stdout pipes (how devlab's startDevice hears they are ready) would keep this process
    // waiting for them forever; they write nothing after their ready line, so leaving them running is safe.
    process.exit(0);
  });
program.command('down').option('--dir <dir>', 'cluster directory', DEFAULT_DIR).option('--keep-engines', 'leave Open vSwitch and the Docker engine running')
  .action(async (options: { dir: string; keepEngines?: boolean }) => down(resolve(options.dir), !options.keepEngines));
program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`\ndemo: ${error instanceof Error ? error.message : String(error)}`);
  console.error('tear down what was started with: bash scripts/demo.sh down');
  process.exit(1);
});
