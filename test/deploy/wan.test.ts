// wan.test.ts — three gateways on hosts of their own, joined over a WAN (issue 17 item 4).
//
// Goal: deploy/README.md's procedure works between hosts that reach each other only over a network: each
// gateway host (a network namespace with its own address on a shared WAN bridge, its own Open vSwitch)
// makes its own key with `qgate node init`; the admin, on a machine of its own on the WAN, writes the genesis
// and configs with `qgate cluster init`; the nodes talk TLS to each other's WAN addresses, elect a leader, and
// each enforces a policy applied with `qgate apply` from the admin's machine on the devices behind its own
// bridge: real TCP from a device namespace passes when its state allows it and not when it forbids it. The
// device interface's management port and Mosquitto come up inside the gateway's namespace. Then the leader's
// host is cut off by iptables on its WAN interface: the two others elect a new leader, an admin's write
// through them commits and is enforced; after healing, the cut-off host catches up to the same state and
// enforces the write too.
// Method: cluster/wan.ts builds the hosts; the node processes are the shipped quorumgate-node, started with
// `ip netns exec`; qgate runs in the hosts' and the admin's namespaces; the test process reads statuses over
// its own leg on the WAN (pinned HTTPS), and sends packets with busybox nc from the device namespaces.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { WAN, WanTopology } from '../../cluster/wan.js';
import type { WanDevice } from '../../cluster/wan.js';
import { tcpReach } from '../../cluster/netlab.js';
import { DockerUmboxRuntime, buildAllImages } from '../../src/dataplane/index.js';
import { pinnedFetch } from '../../src/cli/https-fetch.js';
import { facilities, releaseFacilities } from '../dataplane/lab.js';
import { repoPath } from '../support/paths.js';
import { requireBuild, type Status } from './support.js';

const available = await facilities();
const skip = available.ok ? false : available.reason;
const work = mkdtempSync(join(tmpdir(), 'qg-wan-'));
const IDS = [1, 2, 3] as const;
let topology: WanTopology | undefined;
const nodes = new Map<number, ChildProcess>();

before(() => requireBuild());
after(async () => {
  for (const child of nodes.values()) if (child.exitCode === null) child.kill('SIGKILL');
  await topology?.destroy();
  await releaseFacilities(available);
  rmSync(work, { recursive: true, force: true });
});

/** PINS maps each gateway's API origin to the node key of its card; status reads pin with it. */
const PINS = new Map<string, string>();
const fetchPinned = pinnedFetch({ kind: 'pins', pins: { byOrigin: PINS, members: new Set(), source: 'the node cards of the WAN hosts' } });
const apiUrl = (id: number): string => `https://${WAN.wanSubnet}${id}:${WAN.apiPort}`;

/** inHost runs a shipped command (qgate, …) inside a namespace; throws with its output when it fails. */
async function inHost(ns: string, bin: 'qgate.mjs', args: readonly string[]): Promise<string> {
  const result = await topology!.exec(ns, [process.execPath, repoPath('deploy', 'bin', bin), ...args], { allowFailure: true, timeoutMs: 120_000 });
  if (result.code !== 0) throw new Error(`in ${ns}: ${bin} ${args.join(' ')} exited ${result.code}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

async function status(id: number): Promise<Status | undefined> {
  try {
    const response = await fetchPinned(`${apiUrl(id)}/v1/status`, { signal: AbortSignal.timeout(1_500) });
    return response.ok ? ((await response.json()) as Status) : undefined;
  } catch {
    return undefined;
  }
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const logs = IDS.map((id) => `n${id}: ${readFileSync(join(work, `host${id}`, 'node.log'), 'utf8').trimEnd().split('\n').slice(-3).join('\n    ')}`).join('\n');
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${logs}`);
}

/** leaderAmong waits until `ids` agree on one leader among them in one term; returns its id. */
async function leaderAmong(ids: readonly number[], timeoutMs: number): Promise<Status> {
  let leader: Status | undefined;
  await waitFor(async () => {
    const all = await Promise.all(ids.map(status));
    const first = all[0];
    if (first === undefined || !ids.includes(first.leader) || !all.every((s) => s !== undefined && s.leader === first.leader && s.term === first.term)) return false;
    leader = all.find((s) => s!.id === first.leader);
    return leader !== undefined;
  }, timeoutMs, `a leader agreed by n${ids.join(', n')}`);
  return leader!;
}

/** sameState waits until `ids` have applied the same index with the same state hash. */
async function sameState(ids: readonly number[], timeoutMs: number): Promise<Status> {
  let agreed: Status | undefined;
  await waitFor(async () => {
    const all = await Promise.all(ids.map(status));
    const first = all[0];
    if (first?.stateHash === undefined || !all.every((s) => s?.stateHash === first.stateHash && s!.applied === first.applied)) return false;
    agreed = first;
    return true;
  }, timeoutMs, `the same state on n${ids.join(', n')}`);
  return agreed!;
}

/** reaches: a TCP connection from the device to the upstream server's web page gets an answer. */
function reaches(device: WanDevice): Promise<boolean> {
  return tcpReach(device.namespace, WAN.serverAddress, 80, 2);
}

async function waitReach(device: WanDevice, expected: boolean, timeoutMs: number): Promise<void> {
  await waitFor(async () => (await reaches(device)) === expected, timeoutMs, `${device.id} behind n${device.gateway} to ${expected ? 'reach' : 'no longer reach'} the server`);
}

test('three gateway hosts on a WAN: bootstrapped with qgate node init and cluster init, administered from another host, enforcing behind their own bridges, surviving a partition of the leader\'s host', { skip, timeout: 420_000 }, async () => {
  assert.ok(available.ok);
  const runtime = new DockerUmboxRuntime({ socketPath: available.paths.dockerSocket, umboxDir: available.paths.umboxDir });
  const monitor = (await buildAllImages(runtime)).images.monitor;
  assert.ok(monitor !== undefined, 'the monitor μmbox image was built');
  topology = await WanTopology.create({
    gateways: IDS,
    devices: [{ id: 'cam-1', gateway: 1 }, { id: 'lock-1', gateway: 1 }, { id: 'cam-2', gateway: 2 }, { id: 'cam-3', gateway: 3 }],
  });
  const device = (id: string): WanDevice => topology!.devices.find((d) => d.id === id)!;
  await topology.exec(WAN.serverNamespace, ['busybox', 'httpd', '-p', '80', '-h', work]);
  writeFileSync(join(work, 'index.html'), 'server\n');

  // 2. On each host, in its own namespace: its key and card (the key never leaves the host's directory).
  const cards: string[] = [];
  for (const id of IDS) {
    const address = `${WAN.wanSubnet}${id}`;
    const printed = JSON.parse(await inHost(`${WAN.prefix}-g${id}`, 'qgate.mjs', ['-o', 'json', 'node', 'init', '--id', `n${id}`, '--address', `${address}:${WAN.raftPort}`,
      '--api', `${address}:${WAN.apiPort}`, '--dir', join(work, `host${id}`, 'node')])) as { cardFile: string };
    PINS.set(apiUrl(id), (JSON.parse(readFileSync(printed.cardFile, 'utf8')) as { publicKey: string }).publicKey);
    cards.push(printed.cardFile);
  }
  // 3. On the admin's machine: root keys (2 of 3), an admin key, the genesis and a config per host.
  const admin = join(work, 'admin');
  mkdirSync(admin);
  const roots = [1, 2, 3].map((i) => join(admin, `root-${i}.key`));
  for (const root of roots) await inHost(WAN.adminNamespace, 'qgate.mjs', ['keys', 'gen', '--out', root]);
  const alice = join(admin, 'alice.key');
  const alicePublicKey = (JSON.parse(await inHost(WAN.adminNamespace, 'qgate.mjs', ['-o', 'json', 'keys', 'gen', '--out', alice])) as { publicKey: string }).publicKey;
  const out = join(admin, 'out');
  await inHost(WAN.adminNamespace, 'qgate.mjs', ['cluster', 'init', '--name', 'wan', ...roots.flatMap((r) => ['--root-key', r.replace(/\.key$/, '.pub')]), '--threshold', '2',
    ...cards.flatMap((card) => ['--node', card]), '--out', out]);
  // Each host gets the genesis and its config, with what it enforces added (deploy/README.md step 3), and runs its node.
  for (const id of IDS) {
    const gateway = topology.gateway(id);
    const etc = join(work, `host${id}`, 'etc');
    mkdirSync(etc, { recursive: true });
    copyFileSync(join(out, 'genesis.json'), join(etc, 'genesis.json'));
    const config = parseYaml(readFileSync(join(out, `n${id}.yaml`), 'utf8')) as Record<string, unknown>;
    config.dataplane = { bridge: gateway.bridge, uplinkPort: gateway.uplinkPort, runDir: gateway.runDir };
    config.devices = { managementAddress: gateway.managementAddress, managementPrefixLength: 24, managementPort: gateway.managementPort, managementInterface: gateway.managementInterface };
    writeFileSync(join(etc, `n${id}.yaml`), toYaml(config));
    const log = openSync(join(work, `host${id}`, 'node.log'), 'a');
    nodes.set(id, topology.spawn(gateway.namespace, [process.execPath, repoPath('deploy', 'bin', 'quorumgate-node.mjs'), '--config', join(etc, `n${id}.yaml`)], { stdio: ['ignore', log, log] }));
    closeSync(log);
  }
  const first = await leaderAmong(IDS, 60_000);
  const members = (JSON.parse(readFileSync(join(out, 'members.json'), 'utf8')) as { members: Array<{ endpoint: string }> }).members;
  assert.deepEqual(members.map((m) => m.endpoint), IDS.map(apiUrl), 'qgate reaches every node at its WAN address');

  // 5. A policy and the devices, applied with qgate from the admin's machine: cameras pass through a monitor μmbox; locks are quarantined.
  const endpoints = ['--endpoints', IDS.map(apiUrl).join(','), '--members', join(out, 'members.json')];
  const bundle = join(admin, 'site.yaml');
  const deviceLine = (id: string, type: string): string => {
    const d = device(id);
    return `  - { id: ${id}, type: ${type}, nodeId: n${d.gateway}, port: ${d.port}, addresses: ["${d.address}"] }`;
  };
  writeFileSync(bundle, [
    'domain: site', `admins: [{ name: alice, publicKey: "${alicePublicKey}" }]`, `images: [{ name: monitor, digest: "${monitor.digest}" }]`,
    'policy:', '  domain: site', '  version: 1', '  deviceTypes:',
    '    - name: camera', '      alertTypes: [brute-force]',
    `      states: [{ name: normal, chain: [{ name: monitor, digest: "${monitor.digest}" }] }, { name: suspicious, verdict: allow }, { name: attack, verdict: quarantine }]`,
    '    - name: lock', '      states: [{ name: normal, verdict: quarantine }, { name: suspicious, verdict: quarantine }, { name: attack, verdict: quarantine }]',
    'devices:', deviceLine('cam-1', 'camera'), deviceLine('lock-1', 'lock'), deviceLine('cam-2', 'camera'), deviceLine('cam-3', 'camera'),
  ].join('\n'));
  await inHost(WAN.adminNamespace, 'qgate.mjs', [...endpoints, '--key', roots[0]!, '--key', roots[1]!, '--key', alice, 'apply', '-f', bundle]);
  await sameState(IDS, 60_000);
  // Real packets: every camera reaches the server through its gateway's monitor μmbox; the lock does not.
  for (const id of ['cam-1', 'cam-2', 'cam-3']) await waitReach(device(id), true, 90_000);
  assert.equal(await reaches(device('lock-1')), false, 'the quarantined lock does not reach the server');
  // The device interface came up inside each gateway's namespace: its management port on its own switch, its Mosquitto on the management address.
  for (const id of IDS) {
    const gateway = topology.gateway(id);
    const address = await topology.exec(gateway.namespace, ['ip', '-o', '-4', 'addr', 'show', 'dev', gateway.managementInterface]);
    assert.match(address.stdout, new RegExp(`inet ${gateway.managementAddress.replace(/\./g, '\\.')}/24`), `n${id}'s management address is in its namespace`);
    await waitFor(async () => (await topology!.exec(gateway.namespace, ['ss', '-ltnH', 'src', gateway.managementAddress], { allowFailure: true })).stdout.includes(':1883'), 30_000, `n${id}'s Mosquitto listening on ${gateway.managementAddress}:1883`);
  }

  // The leader's host is cut off: iptables on its WAN interface drops what it sends to the other hosts and what they send to it.
  const old = first.id;
  const others = IDS.filter((id) => id !== old);
  for (const other of others) {
    await topology.cut(old, other);
    await topology.cut(other, old);
  }
  const next = await leaderAmong(others, 30_000);
  assert.notEqual(next.id, old, 'a new leader is elected among the hosts that still reach each other');
  const behind = (await status(old))!;
  // Writes through the majority: a camera behind a host of the majority and the camera behind the cut-off
  // host are both moved to attack (quarantine). The first is enforced at once; the cut-off host does not
  // learn of the second and keeps enforcing what it last knew (fail-static).
  const near = device(`cam-${others[0]}`);
  const far = device(`cam-${old}`);
  const majorityEndpoints = ['--endpoints', others.map(apiUrl).join(','), '--members', join(out, 'members.json')];
  for (const target of [near, far]) await inHost(WAN.adminNamespace, 'qgate.mjs', [...majorityEndpoints, '--key', alice, 'state', 'set', target.id, 'attack', '--reason', 'wan test']);
  const majority = await sameState(others, 30_000);
  assert.ok(majority.applied > behind.applied, `the majority commits writes while n${old} is cut off (applied ${majority.applied} > ${behind.applied})`);
  await waitReach(near, false, 30_000);
  assert.equal((await status(old))?.applied, behind.applied, `the cut-off host n${old} applies nothing new`);
  assert.equal(await reaches(far), true, `${far.id} behind the cut-off host n${old} still passes: its host has not learnt of the change`);

  // Healed: the cut-off host catches up to the same state and enforces the change it missed.
  await topology.heal();
  const healed = await sameState(IDS, 60_000);
  assert.ok(healed.applied >= majority.applied);
  await waitReach(far, false, 30_000);
  await leaderAmong(IDS, 30_000);
  const untouched = device(`cam-${others[1]}`);
  assert.equal(await reaches(untouched), true, `${untouched.id} still reaches the server`);
  assert.equal(await reaches(near), false, `${near.id} stays quarantined`);
});
