// demo-site.ts — the demo's site, shared by the demo (cluster/demo.ts) and bench:reaction-cluster: the host
// (private Open vSwitch and Docker engine, μmbox images pinned by digest), three gateway processes with a
// device network behind them (netlab.ts), the site's policy (cameras with a monitor μmbox that a brute-force
// alert moves to block-all, smart plugs, temperature sensors), the admin CLI, reads of a gateway's applied
// state, and the teardown that checks nothing of the site is left.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { LocalCluster } from './local-cluster.js';
import { buildNetwork, startServices, teardownNetwork } from './netlab.js';
import type { DemoNetwork } from './netlab.js';
import { DockerUmboxRuntime, OvsSwitch, buildAllImages, ensureHost, hostPaths, stopHost } from '../src/dataplane/index.js';
import { brokerDir } from '../src/node/device-link.js';

/** SITE_DOMAIN is the domain of the site's policy and devices. */
export const SITE_DOMAIN = 'site';
/** GROUP holds every site device: the sensor's `overheat` rule switches off the devices of its group that declare `power-off`. */
export const GROUP = 'demo';
/** OVERHEAT_CELSIUS: the `overheat` rule fires when the average of the sensor's last 3 readings exceeds it. */
export const OVERHEAT_CELSIUS = 30;
/** Sampling intervals of the sensor by state (the policy's `sampling`). */
export const NORMAL_SAMPLING_MS = 2_000;
export const SUSPICIOUS_SAMPLING_MS = 500;

/** Say prints a step's title; Note prints one line of what happened (the demo prints them, the bench may not). */
export type Say = (text: string) => void;

/** qgate runs the admin CLI (compiled) against every gateway and, when `echo`, shows the command and its output. */
export function qgate(cluster: LocalCluster, args: readonly string[], keys: readonly string[] = [], echo = true): string {
  const shown = ['qgate', ...args].join(' ');
  if (echo) console.log(`   $ ${shown}`);
  const result = spawnSync(process.execPath, [resolve('dist/src/cli/main.js'), ...keys.flatMap((k) => ['--key', k]), ...args], {
    env: { ...process.env, ...cluster.qgateEnv() }, encoding: 'utf8', timeout: 120_000,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trimEnd();
  if (output && echo) console.log(output.split('\n').map((line) => `     ${line}`).join('\n'));
  if (result.status !== 0) throw new Error(`"${shown}" failed with exit status ${result.status}${echo ? '' : `: ${output.slice(-600)}`}`);
  return result.stdout ?? '';
}

/** read GETs a path from one gateway's API (this node's applied state when the path asks for it); undefined when it does not answer. */
export async function read<T>(cluster: LocalCluster, nodeId: number, path: string): Promise<T | undefined> {
  try {
    const response = await cluster.fetch(`${cluster.apiUrl(nodeId)}${path}`, { signal: AbortSignal.timeout(2_000) });
    return response.ok ? ((await response.json()) as T) : undefined;
  } catch {
    return undefined;
  }
}

/** deviceState is a device's security state in one gateway's applied state (undefined when it does not answer). */
export async function deviceState(cluster: LocalCluster, nodeId: number, deviceId: string): Promise<string | undefined> {
  return (await read<{ state: string }>(cluster, nodeId, `/v1/devices/${deviceId}?consistency=stale`))?.state;
}

/** policyBundle is the site's policy bundle: its admin, the pinned μmbox images and the three device types. */
export function policyBundle(digests: Record<string, string>, adminPublicKey: string): Record<string, unknown> {
  const pin = (name: string): { name: string; digest: string } => ({ name, digest: digests[name]! });
  const bruteForce = { name: 'brute-force-login', from: 'any', to: 'attack', when: { alert: { type: 'brute-force', atLeast: 1, withinMs: 60_000 } } };
  return {
    domain: SITE_DOMAIN,
    description: 'the demo site',
    admins: [{ name: 'demo-admin', publicKey: adminPublicKey }],
    images: ['monitor', 'rate-limit', 'block-all'].map(pin),
    policy: {
      domain: SITE_DOMAIN,
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
          rules: [bruteForce],
        },
        {
          name: 'smart-plug',
          sensors: [{ name: 'isOn', type: 'boolean' }, { name: 'power', type: 'number', unit: 'W', min: 0, max: 3680 }],
          commands: ['power-off', 'power-on'],
          alertTypes: ['brute-force'],
          sampling: { default: '2s' },
          states: [
            { name: 'normal', chain: [pin('monitor')] },
            { name: 'suspicious', chain: [pin('monitor'), pin('rate-limit')] },
            { name: 'attack', verdict: 'quarantine' },
          ],
          rules: [bruteForce],
        },
        {
          // A sensor needs no μmbox: its traffic is allowed, or quarantined under attack; its gateway
          // reaches it in every state through the management path.
          name: 'temp-sensor',
          sensors: [{ name: 'temperature', type: 'number', unit: '°C', min: -40, max: 125 }],
          alertTypes: [],
          sampling: { normal: `${NORMAL_SAMPLING_MS}ms`, suspicious: `${SUSPICIOUS_SAMPLING_MS}ms`, default: `${NORMAL_SAMPLING_MS}ms` },
          states: [{ name: 'normal', verdict: 'allow' }, { name: 'suspicious', verdict: 'allow' }, { name: 'attack', verdict: 'quarantine' }],
          rules: [{
            name: 'overheat', from: 'normal', to: 'suspicious',
            when: { sensor: { name: 'temperature', op: '>', value: OVERHEAT_CELSIUS, over: { last: 3, aggregate: 'avg' } } },
            commands: [{ command: 'power-off', target: 'group' }],
          }],
        },
      ],
    },
  };
}

/** typeOf is a site device's type, from its id: cam-* cameras, plug-* smart plugs, anything else a temperature sensor. */
export function typeOf(deviceId: string): string {
  if (deviceId.startsWith('cam')) return 'camera';
  return deviceId.startsWith('plug') ? 'smart-plug' : 'temp-sensor';
}

/** devicesBundle registers the network's devices; those in `mqtt` speak MQTT to their gateway's broker (their secret named by id). */
export function devicesBundle(network: DemoNetwork, mqtt: ReadonlySet<string>): Record<string, unknown> {
  return {
    domain: SITE_DOMAIN,
    devices: network.devices.map((device) => ({
      id: device.id, type: typeOf(device.id), nodeId: `n${device.gateway}`,
      port: device.port, group: GROUP, tags: ['iot'], addresses: [device.address],
      // The registration names the secret (credentialRef), never holds it: the gateway's secrets file does.
      ...(mqtt.has(device.id) ? { interface: { protocol: 'mqtt', endpoint: '', credentialRef: device.id } } : {}),
    })),
  };
}

/** startHost starts (or finds) the private Open vSwitch and Docker engine and builds the μmbox images; returns their digests by name. */
export async function startHost(note: Say): Promise<Record<string, string>> {
  const paths = hostPaths();
  const host = await ensureHost(paths);
  note(`Open vSwitch ${host.ovsStarted ? 'started' : 'already running'} in ${paths.ovsDir}; Docker engine ${host.dockerStarted ? 'started' : 'already running'} at ${paths.dockerSocket}`);
  const manifest = await buildAllImages(new DockerUmboxRuntime({ socketPath: paths.dockerSocket, umboxDir: paths.umboxDir }));
  const digests = Object.fromEntries(Object.entries(manifest.images).map(([name, image]) => [name, image.digest]));
  for (const [name, digest] of Object.entries(digests)) note(`μmbox image ${name.padEnd(10)} pinned as ${digest}`);
  return digests;
}

/** SiteInit shapes createSite: names, addresses, the devices behind each gateway and the nodes' timing. */
export interface SiteInit {
  readonly dir: string;
  /** prefix names every bridge, port and namespace of the site (a few letters, unique on the host). */
  readonly prefix: string;
  /** subnet is the site's /24, as "10.77.0.": gateway N's management address is .(240 + N), devices from .11. */
  readonly subnet: string;
  readonly devices: ReadonlyArray<{ id: string; gateway: number }>;
  readonly timing: Record<string, number>;
}

/**
 * createSite creates three gateways (keys, genesis, config; not started) and the network behind them: device
 * namespaces on each gateway's bridge running a login (22) and web (80) service, and upstream a server and an
 * attacker. What a previous site of the same prefix left is removed first.
 */
export async function createSite(init: SiteInit): Promise<{ cluster: LocalCluster; network: DemoNetwork }> {
  await teardownNetwork(init.prefix);
  const cluster = await LocalCluster.create({
    dir: init.dir, nodes: 3, application: 'quorumgate', dataplanePrefix: init.prefix, devicesSubnet: init.subnet, timing: init.timing,
  });
  const network = await buildNetwork({
    prefix: init.prefix, subnet: init.subnet, devices: init.devices,
    gateways: cluster.nodes.map((n) => ({ nodeId: n.nodeId, uplinkPort: cluster.dataplaneOf(n.nodeId).uplinkPort })),
  });
  const www = join(init.dir, 'www');
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, 'index.html'), 'hello\n');
  await startServices(network, www);
  return { cluster, network };
}

/**
 * loadPolicy creates the site admin's key, loads the policy bundle (signed by 2 of 3 root keys and the admin)
 * and registers the network's devices, waiting until every gateway enforces them; returns the admin key file.
 */
export function loadPolicy(cluster: LocalCluster, network: DemoNetwork, digests: Record<string, string>, mqtt: ReadonlySet<string>, echo = true): string {
  const adminKey = join(cluster.dir, 'keys', 'admin.key');
  qgate(cluster, ['keys', 'gen', '--out', adminKey], [], echo);
  const adminPublic = (JSON.parse(readFileSync(adminKey, 'utf8')) as { publicKey: string }).publicKey;
  const bundleFile = join(cluster.dir, 'site-policy.yaml');
  writeFileSync(bundleFile, toYaml(policyBundle(digests, adminPublic)));
  const devicesFile = join(cluster.dir, 'site-devices.yaml');
  writeFileSync(devicesFile, toYaml(devicesBundle(network, mqtt)));
  const roots = cluster.rootKeyFiles().slice(0, 2);
  qgate(cluster, ['apply', '-f', bundleFile], [...roots, adminKey], echo);
  qgate(cluster, ['apply', '-f', devicesFile, '--wait', 'enforced', '--timeout', '90000'], [adminKey], echo);
  return adminKey;
}

/**
 * dashboardViewerToken makes a viewer the way an operator would (docs/dashboard.md "Opening it"): a new key,
 * granted the viewer role on the site domain by its admin, and an 8-hour read token signed by it.
 */
export function dashboardViewerToken(cluster: LocalCluster, adminKey: string, echo = true): string {
  const viewerKey = join(cluster.dir, 'keys', 'viewer.key');
  if (!existsSync(viewerKey)) {
    qgate(cluster, ['keys', 'gen', '--out', viewerKey], [], echo);
    qgate(cluster, ['viewers', 'add', SITE_DOMAIN, viewerKey.replace(/\.key$/, '.pub'), '--name', 'dashboard'], [adminKey], echo);
  }
  const token = qgate(cluster, ['token', 'create', '--domain', SITE_DOMAIN, '--ttl', '8h'], [viewerKey], false).trim().split('\n').pop() ?? '';
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) throw new Error(`qgate token create printed no token: ${JSON.stringify(token.slice(0, 80))}`);
  return token;
}

/**
 * dashboardLines tell an operator how to open the dashboard on each gateway: its URL, the SHA-256 fingerprint of
 * the certificate the browser will be shown (to compare before accepting it), the SPKI pin for Chromium, and the
 * viewer token.
 */
export function dashboardLines(cluster: LocalCluster, token: string): string[] {
  const lines = ['The dashboard, live, on every gateway (each answers from its own applied state; docs/dashboard.md):'];
  const pins: string[] = [];
  for (const node of cluster.nodes) {
    const certificate = cluster.apiCertificate(node.nodeId);
    lines.push(`  gateway ${node.nodeId}: ${cluster.apiUrl(node.nodeId)}/ui/`);
    if (certificate === undefined) {
      lines.push('    (its certificate is not written yet: the gateway has not started)');
      continue;
    }
    pins.push(certificate.spkiSha256);
    lines.push(`    certificate SHA-256 ${certificate.sha256}`);
    lines.push(`    (issued by the gateway's node key, valid until ${certificate.notAfter}; file ${certificate.certFile})`);
  }
  lines.push('  The browser warns that it does not know the issuer: open the certificate it shows, compare its SHA-256');
  lines.push('  fingerprint with the one above, and proceed only if they match. Or start Chromium with these keys pinned:');
  lines.push(`    chromium --user-data-dir=$(mktemp -d) --ignore-certificate-errors-spki-list=${pins.join(',')}`);
  lines.push(`  Viewer token (domain ${SITE_DOMAIN}, 8 h; paste it in the page, or open <url>/ui/#token=<token>):`);
  lines.push(`    ${token}`);
  lines.push(`  e.g. ${cluster.nodes[0] === undefined ? '' : cluster.apiUrl(cluster.nodes[0].nodeId)}/ui/#token=${token}`);
  return lines;
}

/** commandLine is a process's command line (arguments joined by spaces), or undefined once it is gone. */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

/** leftovers names what of a site still exists: its namespaces and links, its gateways' brokers and simulators run from `dir`. */
export function leftovers(dir: string, prefix: string): string[] {
  const found: string[] = [];
  const namespaces = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((line) => line.split(' ')[0]!);
  found.push(...namespaces.filter((name) => name.startsWith(`${prefix}-`)).map((name) => `namespace ${name}`));
  const links = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' }).stdout.split('\n').map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1]);
  found.push(...links.filter((name): name is string => name?.startsWith(prefix) === true).map((name) => `link ${name}`));
  const brokers = [1, 2, 3].map((id) => brokerDir(hostPaths(), `${prefix}${id}br`));
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const line = commandLine(Number(entry));
    if (line === undefined) continue;
    if (line.includes('mosquitto') && brokers.some((broker) => line.includes(broker))) found.push(`broker process ${entry} (${line.trim()})`);
    if (line.includes(join(dir, 'devices'))) found.push(`simulator process ${entry} (${line.trim()})`);
  }
  return found;
}

/**
 * tearDownSite stops the gateways, deletes their bridges, μmboxes, brokers and directory, then the site's
 * namespaces and links (with whatever still runs in them), and, when asked, the host's engines; it throws
 * naming whatever is left.
 */
export async function tearDownSite(dir: string, prefix: string, stopEngines: boolean): Promise<void> {
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
      for (const umbox of await runtime.list(cluster.umboxOwner(node.nodeId)).catch(() => [])) await runtime.remove(umbox.name).catch(() => undefined);
    }
    const brokers = cluster.nodes.map((node) => brokerDir(paths, cluster.dataplaneOf(node.nodeId).bridge));
    // destroy also stops the gateways' brokers and removes their management ports (releaseDevices).
    await cluster.destroy();
    // The brokers' directories (config, password file, log) outlive destroy.
    for (const broker of brokers) rmSync(broker, { recursive: true, force: true });
  }
  // The namespaces go last, with whatever still runs in them (a simulator not recorded yet).
  await teardownNetwork(prefix);
  if (stopEngines) await stopHost(hostPaths(), { ovs: true, docker: true });
  const remaining = leftovers(dir, prefix);
  if (remaining.length > 0) throw new Error(`the teardown left: ${remaining.join('; ')}`);
}
