// demo.ts — the main job: a 3-gateway quorumgate cluster on this machine that contains a brute-force
// attack while it loses its leader. `bash scripts/demo.sh` runs it (after installing what it needs);
// `bash scripts/demo.sh down` tears it down.
//
// What it does, in order (and says so as it goes):
//  1. starts a private Open vSwitch and Docker engine, builds the μmbox images and pins their digests;
//  2. creates root keys, node keys and a genesis, and starts 3 gateway processes (Raft on loopback),
//     each with its own OVS bridge; behind each bridge a device in its own network namespace, and
//     above all bridges an upstream network with a server and an attacker;
//  3. loads a policy with `qgate apply` (signed by 2 of 3 root keys and the domain's admin key) and
//     waits until every gateway enforces it;
//  4. runs a brute-force attack from the attacker on a camera: the camera's monitor μmbox raises an
//     alert, its gateway signs it as telemetry, the cluster commits it, the policy moves the camera to
//     `attack`, and its gateway swaps its chain to block-all: the attacker is cut off;
//  5. kills the leader (kill -9), attacks a second camera while the cluster elects a new leader, and
//     shows that enforcement never lapsed and the second attack is contained too;
//  6. restarts the killed gateway, which catches up; leaves everything running to explore with qgate.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { LocalCluster, waitUntilAsync } from './local-cluster.js';
import { ATTACKER_ADDRESS, SERVER_ADDRESS, buildNetwork, startServices, tcpReach, teardownNetwork } from './netlab.js';
import type { DemoNetwork } from './netlab.js';
import { DockerUmboxRuntime, OvsSwitch, buildAllImages, ensureHost, hostPaths, stopHost } from '../src/dataplane/index.js';

const PREFIX = 'qgd';
const DEFAULT_DIR = resolve('run', 'demo');
// A camera behind every gateway (so a camera behind a surviving gateway can be attacked after the
// leader dies, whichever node leads), and a smart plug.
const DEVICES = [
  { id: 'cam-1', gateway: 1 },
  { id: 'cam-2', gateway: 2 },
  { id: 'cam-3', gateway: 3 },
  { id: 'plug-1', gateway: 1 },
];

function say(text: string): void {
  console.log(`\n\x1b[1m== ${text}\x1b[0m`);
}

function note(text: string): void {
  console.log(`   ${text}`);
}

/** qgate runs the admin CLI (compiled) and shows the command and its output. */
function qgate(cluster: LocalCluster, args: readonly string[], keys: readonly string[] = []): string {
  const endpoints = cluster.nodes.map((n) => cluster.apiUrl(n.nodeId)).join(',');
  const shown = ['qgate', ...args].join(' ');
  console.log(`   $ ${shown}`);
  const result = spawnSync(process.execPath, [resolve('dist/src/cli/main.js'), ...keys.flatMap((k) => ['--key', k]), ...args], {
    env: { ...process.env, QGATE_ENDPOINTS: endpoints }, encoding: 'utf8', timeout: 120_000,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trimEnd();
  if (output) console.log(output.split('\n').map((line) => `     ${line}`).join('\n'));
  if (result.status !== 0) throw new Error(`"${shown}" failed with exit status ${result.status}`);
  return result.stdout ?? '';
}

async function deviceState(cluster: LocalCluster, nodeId: number, deviceId: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${cluster.apiUrl(nodeId)}/v1/devices/${deviceId}?consistency=stale`, { signal: AbortSignal.timeout(2_000) });
    return response.ok ? ((await response.json()) as { state: string }).state : undefined;
  } catch {
    return undefined;
  }
}

function policyBundle(digests: Record<string, string>, adminPublicKey: string): Record<string, unknown> {
  const pin = (name: string): { name: string; digest: string } => ({ name, digest: digests[name]! });
  return {
    domain: 'site',
    description: 'the demo site',
    admins: [{ name: 'demo-admin', publicKey: adminPublicKey }],
    images: ['monitor', 'rate-limit', 'block-all'].map(pin),
    policy: {
      domain: 'site',
      version: 1,
      deviceTypes: [
        {
          name: 'camera',
          sensors: [],
          alertTypes: ['brute-force'],
          states: [
            { name: 'normal', chain: [pin('monitor')] },
            { name: 'suspicious', chain: [pin('monitor'), pin('rate-limit')] },
            { name: 'attack', chain: [pin('block-all')] },
          ],
          rules: [{ name: 'brute-force-login', from: 'any', to: 'attack', when: { alert: { type: 'brute-force', atLeast: 1, withinMs: 60_000 } } }],
        },
        {
          name: 'smart-plug',
          sensors: [{ name: 'power', type: 'number' }],
          alertTypes: ['brute-force'],
          states: [
            { name: 'normal', chain: [pin('monitor')] },
            { name: 'suspicious', chain: [pin('monitor'), pin('rate-limit')] },
            { name: 'attack', verdict: 'quarantine' },
          ],
          rules: [{ name: 'brute-force-login', from: 'any', to: 'attack', when: { alert: { type: 'brute-force', atLeast: 1, withinMs: 60_000 } } }],
        },
      ],
    },
  };
}

function devicesBundle(network: DemoNetwork): Record<string, unknown> {
  return {
    domain: 'site',
    devices: network.devices.map((device) => ({
      id: device.id, type: device.id.startsWith('cam') ? 'camera' : 'smart-plug', nodeId: `n${device.gateway}`,
      port: device.port, group: 'demo', tags: ['iot'], addresses: [device.address],
    })),
  };
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

async function up(dir: string): Promise<void> {
  if (existsSync(join(dir, 'cluster.json'))) {
    throw new Error(`a demo already runs in ${dir}; tear it down first with: bash scripts/demo.sh down`);
  }
  say('1. Host: a private Open vSwitch and Docker engine, and the μmbox images');
  const paths = hostPaths();
  const host = await ensureHost(paths);
  note(`Open vSwitch ${host.ovsStarted ? 'started' : 'already running'} in ${paths.ovsDir}; Docker engine ${host.dockerStarted ? 'started' : 'already running'} at ${paths.dockerSocket}`);
  const manifest = await buildAllImages(new DockerUmboxRuntime({ socketPath: paths.dockerSocket, umboxDir: paths.umboxDir }));
  const digests = Object.fromEntries(Object.entries(manifest.images).map(([name, image]) => [name, image.digest]));
  for (const [name, digest] of Object.entries(digests)) note(`μmbox image ${name.padEnd(10)} pinned as ${digest}`);

  say('2. Three gateways: keys, genesis, processes, and a network with devices behind each gateway');
  await teardownNetwork(PREFIX);
  const cluster = await LocalCluster.create({ dir, nodes: 3, application: 'quorumgate', dataplanePrefix: PREFIX, timing: { tickMs: 100, electionTicks: 10 } });
  note(`root keys (2 of 3 needed) and node keys in ${cluster.dir}; genesis ${cluster.genesisFile}`);
  const network = await buildNetwork({
    prefix: PREFIX,
    gateways: cluster.nodes.map((n) => ({ nodeId: n.nodeId, uplinkPort: cluster.dataplaneOf(n.nodeId).uplinkPort })),
    devices: DEVICES,
  });
  const www = join(dir, 'www');
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, 'index.html'), 'hello\n');
  await startServices(network, www);
  for (const device of network.devices) note(`${device.id} (${device.address}) sits behind gateway ${device.gateway}, on its OVS port ${device.port}`);
  note(`upstream: server ${SERVER_ADDRESS}, attacker ${ATTACKER_ADDRESS}`);
  cluster.startAll();
  const leader = await cluster.waitForLeader(30_000);
  note(`gateways 1-3 are up; node ${leader} was elected leader`);
  qgate(cluster, ['status']);

  say('3. Load the policy: signed by 2 of 3 root keys and the site admin, enforced on every gateway');
  const adminKey = join(cluster.dir, 'keys', 'admin.key');
  qgate(cluster, ['keys', 'gen', '--out', adminKey]);
  const adminPublic = (JSON.parse((await import('node:fs')).readFileSync(adminKey, 'utf8')) as { publicKey: string }).publicKey;
  const bundleFile = join(cluster.dir, 'site-policy.yaml');
  writeFileSync(bundleFile, toYaml(policyBundle(digests, adminPublic)));
  const devicesFile = join(cluster.dir, 'site-devices.yaml');
  writeFileSync(devicesFile, toYaml(devicesBundle(network)));
  const roots = cluster.rootKeyFiles().slice(0, 2);
  qgate(cluster, ['apply', '-f', bundleFile], [...roots, adminKey]);
  qgate(cluster, ['apply', '-f', devicesFile, '--wait', 'enforced', '--timeout', '90000'], [adminKey]);
  qgate(cluster, ['devices', 'list']);
  for (const device of network.devices) {
    const reach = await tcpReach(device.namespace, SERVER_ADDRESS, 80);
    note(`${device.id} -> server: ${reach ? 'reaches it through its monitor μmbox' : 'NOT reachable (unexpected)'}`);
  }
  note(`attacker -> cam-1 login port: ${(await tcpReach(network.attacker, network.devices[0]!.address, 22)) ? 'open (cam-1 is in normal)' : 'closed'}`);

  say('4. Brute-force attack on cam-1 (behind gateway 1)');
  const firstMs = await attack(cluster, network, 'cam-1', 1);
  note(`cam-1 moved to attack ${firstMs} ms after the attack began: monitor alert -> signed telemetry -> commit -> policy -> block-all`);
  await waitUntilAsync(async () => !(await tcpReach(network.attacker, network.devices[0]!.address, 22, 1)), 10_000, 'the attacker to be cut off from cam-1');
  note('attacker -> cam-1: cut off');

  say('5. Kill the leader (kill -9) and attack a camera behind another gateway while the cluster recovers');
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
  // A device in `normal` behind the dead gateway: its flows and μmbox were installed before the
  // gateway died, and they keep forwarding (fail-static) — OVS does not need its gateway process.
  let dead = network.devices[0]!;
  for (const device of network.devices.filter((d) => d.gateway === doomed)) {
    if ((await deviceState(cluster, newLeader, device.id)) === 'normal') dead = device;
  }
  note(`${dead.id}, behind the dead gateway ${doomed}, keeps its installed flows: ${(await tcpReach(dead.namespace, SERVER_ADDRESS, 80)) ? 'it still reaches the server through its monitor μmbox' : 'its traffic is held (fail-closed)'}`);

  say('6. The dead gateway comes back and catches up');
  cluster.start(doomed);
  await waitUntilAsync(async () => {
    const statuses = await cluster.statusAll();
    const values = [...statuses.values()];
    return values.every((s) => s !== undefined && s.applied === values[0]!.applied);
  }, 30_000, 'every gateway to apply the same log');
  qgate(cluster, ['status']);
  qgate(cluster, ['devices', 'list']);

  say('The cluster keeps running. Explore it:');
  const endpoints = cluster.nodes.map((n) => cluster.apiUrl(n.nodeId)).join(',');
  console.log(`   export QGATE_ENDPOINTS=${endpoints}`);
  console.log('   npm run qgate -- status');
  console.log('   npm run qgate -- watch');
  console.log(`   npm run qgate -- --key ${adminKey} state set cam-1 normal --reason "incident closed"`);
  console.log(`   npm run cluster -- kill 2 --dir ${cluster.dir}     # and npm run cluster -- restart 2 --dir ${cluster.dir}`);
  console.log('\n   Tear it all down with:  bash scripts/demo.sh down');
}

async function down(dir: string, stopEngines: boolean): Promise<void> {
  if (existsSync(join(dir, 'cluster.json'))) {
    const cluster = LocalCluster.open(dir);
    await cluster.stopAll();
    const paths = hostPaths();
    for (const node of cluster.nodes) {
      const { bridge } = cluster.dataplaneOf(node.nodeId);
      await new OvsSwitch({ bridge, ovsDir: paths.ovsDir }).deleteBridge().catch(() => undefined);
    }
    const runtime = new DockerUmboxRuntime({ socketPath: paths.dockerSocket, umboxDir: paths.umboxDir });
    for (const node of cluster.nodes) {
      for (const umbox of await runtime.list(`n${node.nodeId}`).catch(() => [])) await runtime.remove(umbox.name).catch(() => undefined);
    }
    await cluster.destroy();
  }
  await teardownNetwork(PREFIX);
  if (stopEngines) await stopHost(hostPaths(), { ovs: true, docker: true });
  console.log('demo: torn down');
}

const program = new Command('demo').description('Run the quorumgate demo cluster.').showHelpAfterError();
program.command('up', { isDefault: true }).option('--dir <dir>', 'cluster directory', DEFAULT_DIR)
  .action(async (options: { dir: string }) => up(resolve(options.dir)));
program.command('down').option('--dir <dir>', 'cluster directory', DEFAULT_DIR).option('--keep-engines', 'leave Open vSwitch and the Docker engine running')
  .action(async (options: { dir: string; keepEngines?: boolean }) => down(resolve(options.dir), !options.keepEngines));
program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`\ndemo: ${error instanceof Error ? error.message : String(error)}`);
  console.error('tear down what was started with: bash scripts/demo.sh down');
  process.exit(1);
});
