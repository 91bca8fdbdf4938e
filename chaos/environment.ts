// environment.ts — what one chaos run stands on: a quorumgate cluster of real node processes (each on
// its own loopback address, each with its own OVS bridge), a network of namespaces (a probe device
// behind every gateway, an upstream server), the keys, and the agreed state the workloads start from.
//
// Domains: `site` holds one probe device per gateway, of type `probe`, whose states allow or forbid
// its traffic (see PROBE_STATES); `kv` holds the register workload's keys (image pins: name → digest);
// `set` holds the unique updates. Every workload process signs with its own admin key, so each signer's
// sequence numbers come from one sequential process.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { clusterIdOf, generateKeyPair, keyIdHex, loadGenesis, toHex } from '../src/commands/index.js';
import type { KeyPair, Payload } from '../src/commands/index.js';
import { DockerUmboxRuntime, OvsSwitch, buildAllImages, ensureHost, hostPaths } from '../src/dataplane/index.js';
import type { HostPaths } from '../src/dataplane/index.js';
import { run } from '../src/dataplane/exec.js';
import { readIdentityKey } from '../src/node/identity.js';
import { LocalCluster, waitUntilAsync } from '../cluster/local-cluster.js';
import { SERVER_ADDRESS, buildNetwork, inNamespace, teardownNetwork } from '../cluster/netlab.js';
import type { DemoNetwork } from '../cluster/netlab.js';
import { Signer, getJson, submitUntilAnswered, useClientFetch } from './client.js';
import { removeChaosChain } from './partition.js';

/** PREFIX names every namespace, bridge and port a chaos run creates. */
export const PREFIX = 'qgc';
/** HOST_PREFIX gives node N the loopback address 127.0.77.N. */
export const HOST_PREFIX = '127.0.77.';
/** PROBE_PORT is the UDP port the probe traffic goes to. */
export const PROBE_PORT = 9999;

/**
 * PROBE_STATES are the probe type's states and whether each allows the probe datagrams: `normal` runs
 * them through a monitor μmbox, `direct` is the allow verdict, `suspicious` is a firewall μmbox whose
 * allow-list is empty, `attack` the block-all μmbox, `quarantined` the drop verdict.
 */
export const PROBE_STATES: Readonly<Record<string, boolean>> = { normal: true, direct: true, suspicious: false, attack: false, quarantined: false };

export const CHAOS_TIMING = { tickMs: 50, electionTicks: 10, heartbeatTicks: 1, proposalTimeoutMs: 3_000, readTimeoutMs: 2_000, snapshotEveryEntries: 1_000_000 };

export interface EnvironmentInit {
  readonly dir: string;
  readonly nodes: number;
  /** registerProcesses and updateProcesses: how many signers each workload gets. */
  readonly registerProcesses: number;
  readonly updateProcesses: number;
  /** nodeEnv is given to every node process (planted bug, storage fault model). */
  readonly nodeEnv: Record<string, string>;
  readonly log: (line: string) => void;
}

/** ProbeDevice is a device namespace behind one gateway. */
export interface ProbeDevice {
  readonly id: string;
  readonly gateway: number;
  readonly namespace: string;
  readonly address: string;
}

/** Environment is a running chaos environment. */
export interface Environment {
  readonly cluster: LocalCluster;
  readonly network: DemoNetwork;
  readonly paths: HostPaths;
  readonly clusterId: Uint8Array;
  readonly root: Signer;
  readonly siteAdmin: Signer;
  readonly registerSigners: Signer[];
  readonly updateSigners: Signer[];
  /** publicKeys maps every key id the run issued to its public key (hex), for the checkers. */
  readonly publicKeys: Record<string, string>;
  readonly devices: ProbeDevice[];
  readonly nodeEnv: Record<string, string>;
}

/** setUp builds the environment; on failure it tears down what it made and throws. */
export async function setUp(init: EnvironmentInit): Promise<Environment> {
  const paths = hostPaths();
  await cleanLeftovers(paths);
  await ensureHost(paths);
  const runtime = new DockerUmboxRuntime({ socketPath: paths.dockerSocket, umboxDir: paths.umboxDir });
  const manifest = await buildAllImages(runtime);
  const digest = (name: string): string => {
    const image = manifest.images[name];
    if (!image) throw new Error(`μmbox image ${name} was not built`);
    return image.digest;
  };
  mkdirSync(init.dir, { recursive: true });
  const cluster = await LocalCluster.create({
    dir: join(init.dir, 'cluster'), nodes: init.nodes, application: 'quorumgate', dataplanePrefix: PREFIX, hostPrefix: HOST_PREFIX, timing: CHAOS_TIMING,
  });
  // The API is HTTPS with pinned node keys, and reads carry a root read token.
  useClientFetch(cluster.fetch);
  try {
    const genesis = loadGenesis(cluster.genesisFile);
    const clusterId = clusterIdOf(genesis);
    const rootKeys = cluster.rootKeyFiles().map((file) => readIdentityKey(file));
    const publicKeys: Record<string, string> = {};
    const remember = (pair: KeyPair): KeyPair => {
      publicKeys[keyIdHex(pair.publicKey)] = toHex(pair.publicKey);
      return pair;
    };
    rootKeys.forEach(remember);
    for (const node of cluster.nodes) publicKeys[keyIdHex(Buffer.from(node.publicKey, 'hex'))] = node.publicKey;
    const root = new Signer(clusterId, rootKeys.slice(0, genesis.rootThreshold), 'root');
    const admin = (): Signer => new Signer(clusterId, [remember(generateKeyPair())]);
    const siteAdmin = admin();
    const registerSigners = Array.from({ length: init.registerProcesses }, admin);
    const updateSigners = Array.from({ length: init.updateProcesses }, admin);

    const gateways = cluster.nodes.map((n) => ({ nodeId: n.nodeId, uplinkPort: cluster.dataplaneOf(n.nodeId).uplinkPort }));
    const network = await buildNetwork({ prefix: PREFIX, gateways, devices: gateways.map((g) => ({ id: `probe-${g.nodeId}`, gateway: g.nodeId })) });
    const devices = network.devices.map((d) => ({ id: d.id, gateway: d.gateway, namespace: d.namespace, address: d.address }));
    await pinServerNeighbour(network);
    for (const node of cluster.nodes) cluster.start(node.nodeId, init.nodeEnv);
    const leader = await cluster.waitForLeader(30_000);
    init.log(`cluster of ${init.nodes} up, node ${leader} leads`);

    const pin = (name: string): { name: string; digest: string } => ({ name, digest: digest(name) });
    const commands: Array<{ signer: Signer; domain: string; payload: Payload }> = [];
    for (const domain of ['site', 'kv', 'set']) commands.push({ signer: root, domain, payload: { kind: 'createDomain', description: `chaos ${domain}` } });
    commands.push({ signer: root, domain: 'site', payload: { kind: 'addAdminKey', publicKey: publicKeyOf(siteAdmin, publicKeys), name: 'probe-workload' } });
    for (const [i, signer] of registerSigners.entries()) commands.push({ signer: root, domain: 'kv', payload: { kind: 'addAdminKey', publicKey: publicKeyOf(signer, publicKeys), name: `register-${i}` } });
    for (const [i, signer] of updateSigners.entries()) commands.push({ signer: root, domain: 'set', payload: { kind: 'addAdminKey', publicKey: publicKeyOf(signer, publicKeys), name: `updates-${i}` } });
    for (const name of ['monitor', 'firewall', 'block-all']) commands.push({ signer: siteAdmin, domain: 'site', payload: { kind: 'putImage', ...pin(name) } });
    commands.push({ signer: siteAdmin, domain: 'site', payload: { kind: 'setPolicy', documentJson: JSON.stringify(probePolicy(pin)) } });
    for (const device of network.devices) {
      commands.push({
        signer: siteAdmin, domain: 'site',
        payload: { kind: 'putDevice', device: { id: device.id, type: 'probe', group: 'probes', tags: [], nodeId: `n${device.gateway}`, port: device.port, addresses: [device.address] } },
      });
    }
    let lastIndex = 0;
    for (const command of commands) {
      const signed = command.signer.sign(command.domain, command.payload);
      const answer = (await submitUntilAnswered(cluster.nodes.map((n) => cluster.apiUrl(n.nodeId)), signed.envelope, 30, 200))!;
      if (answer.outcome !== 'ok') throw new Error(`setting up the chaos state: ${command.payload.kind} in ${command.domain} was refused: ${answer.code ?? ''} ${answer.error ?? ''}`);
      lastIndex = answer.index ?? lastIndex;
    }
    await waitUntilAsync(async () => {
      for (const node of cluster.nodes) {
        const status = await getJson<{ enforcedIndex?: number }>(`${cluster.apiUrl(node.nodeId)}/v1/status`, 1_000);
        if (status?.enforcedIndex === undefined || status.enforcedIndex < lastIndex) return false;
      }
      return true;
    }, 120_000, 'every gateway to enforce the initial state');
    init.log(`initial state committed at index ${lastIndex} and enforced on every gateway`);
    return { cluster, network, paths, clusterId, root, siteAdmin, registerSigners, updateSigners, publicKeys, devices, nodeEnv: init.nodeEnv };
  } catch (error) {
    await tearDown(cluster, paths).catch(() => undefined);
    throw error;
  }
}

function publicKeyOf(signer: Signer, publicKeys: Record<string, string>): Uint8Array {
  return Buffer.from(publicKeys[signer.signer]!, 'hex');
}

/** probePolicy is the `site` policy: one device type whose states allow or forbid the probes. */
function probePolicy(pin: (name: string) => { name: string; digest: string }): Record<string, unknown> {
  return {
    domain: 'site',
    version: 1,
    deviceTypes: [{
      name: 'probe',
      alertTypes: ['brute-force'],
      states: [
        { name: 'normal', chain: [pin('monitor')] },
        { name: 'direct', verdict: 'allow' },
        { name: 'suspicious', chain: [pin('firewall')] },
        { name: 'attack', chain: [pin('block-all')] },
        { name: 'quarantined', verdict: 'quarantine' },
      ],
      rules: [],
    }],
  };
}

/** cleanLeftovers removes what an earlier, crashed run may have left: firewall chain, namespaces, bridges, μmboxes. */
export async function cleanLeftovers(paths: HostPaths): Promise<void> {
  await removeChaosChain();
  await teardownNetwork(PREFIX);
  await removeBridgesAndUmboxes(paths);
}

async function removeBridgesAndUmboxes(paths: HostPaths): Promise<void> {
  const bridges = await run('ovs-vsctl', [`--db=unix:${paths.ovsDbSocket}`, '--timeout=10', 'list-br'], { allowFailure: true }).catch(() => ({ code: 1, stdout: '' }));
  if (bridges.code === 0) {
    for (const bridge of bridges.stdout.split('\n').map((line) => line.trim()).filter((b) => b.startsWith(PREFIX))) {
      await new OvsSwitch({ bridge, ovsDir: paths.ovsDir }).deleteBridge().catch(() => undefined);
    }
  }
  const runtime = new DockerUmboxRuntime({ socketPath: paths.dockerSocket, umboxDir: paths.umboxDir });
  for (let nodeId = 1; nodeId <= 32; nodeId++) {
    const umboxes = await runtime.list(`n${nodeId}`).catch(() => []);
    for (const umbox of umboxes) await runtime.remove(umbox.name).catch(() => undefined);
  }
}

/** tearDown stops every node and removes the cluster's bridges, μmboxes, namespaces and firewall chain. */
export async function tearDown(cluster: LocalCluster, paths: HostPaths): Promise<void> {
  for (const node of cluster.nodes) {
    cluster.signal(node.nodeId, 'SIGCONT');
    await cluster.kill(node.nodeId).catch(() => undefined);
  }
  await removeChaosChain().catch(() => undefined);
  await teardownNetwork(PREFIX).catch(() => undefined);
  await removeBridgesAndUmboxes(paths).catch(() => undefined);
}

/**
 * pinServerNeighbour gives every probe device a permanent neighbour entry for the server, so a probe
 * datagram leaves its device when the sender sends it, whatever the gateway did to ARP before. Without
 * it a forbidding state (which drops the device's ARP too) fails the device's neighbour entry; the kernel
 * then holds the datagrams in its unresolved queue (and the sender's sends back up) until an allowing
 * state lets an ARP answer through, up to a second later: datagrams are dropped or arrive seconds after
 * their recorded send time, and the probes checker would judge the device's ARP timers instead of the
 * gateway's flows (likely how a CI smoke run lost 27 datagrams in a normal -> direct swap; an experiment
 * with ARP blocked 12 s held datagrams 5.8 s and delayed the first one after unblocking by 0.65 s).
 * ARP through the chains stays covered by the data plane's own packet tests.
 */
async function pinServerNeighbour(network: DemoNetwork): Promise<void> {
  const link = await inNamespace(network.server, ['ip', 'link', 'show', 'eth0']);
  const mac = /link\/ether ([0-9a-f:]{17})/.exec(link.stdout)?.[1];
  if (mac === undefined) throw new Error(`the server namespace ${network.server} has no MAC address on eth0: ${link.stdout.trim()}`);
  for (const device of network.devices) {
    await inNamespace(device.namespace, ['ip', 'neigh', 'replace', SERVER_ADDRESS, 'lladdr', mac, 'dev', 'eth0', 'nud', 'permanent']);
  }
}
