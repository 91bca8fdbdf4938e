// environment.ts — what one chaos run stands on: a quorumgate cluster of real node processes (each on
// its own loopback address, each with its own OVS bridge), a network of namespaces (a probe device
// behind every gateway, an upstream server), the keys, and the agreed state the workloads start from.
// With topology `wan` (cluster/wan.ts) every node is a host of its own instead: its own network namespace
// and address on a shared WAN bridge, its own Open vSwitch, its probe device behind its bridge.
//
// Domains: `site` holds one probe device per gateway, of type `probe`, whose states allow or forbid
// its traffic (see PROBE_STATES); `kv` holds the register workload's keys (image pins: name → digest);
// `set` holds the unique updates. Every workload process signs with its own admin key, so each signer's
// sequence numbers come from one sequential process.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { clusterIdOf, generateKeyPair, keyIdHex, loadGenesis, toHex } from '../src/commands/index.js';
import type { KeyPair, Payload } from '../src/commands/index.js';
import { DockerUmboxRuntime, OvsSwitch, buildAllImages, ensureHost, hostPaths, ovsAnswers, stopHost } from '../src/dataplane/index.js';
import type { HostPaths } from '../src/dataplane/index.js';
import { run } from '../src/dataplane/exec.js';
import { readIdentityKey } from '../src/node/identity.js';
import { LocalCluster, waitUntilAsync } from '../cluster/local-cluster.js';
import { SERVER_ADDRESS, buildNetwork, inNamespace, teardownNetwork } from '../cluster/netlab.js';
import type { DemoNetwork } from '../cluster/netlab.js';
import { WAN, WanTopology, removeWan } from '../cluster/wan.js';
import { Signer, getJson, submitUntilAnswered, useClientFetch } from './client.js';
import { Partitioner, WanPartitioner, removeChaosChain } from './partition.js';
import type { Partitions } from './partition.js';

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
  /** topology: `loopback` (default: every node on 127.0.77.N of this host) or `wan` (cluster/wan.ts). */
  readonly topology?: Topology;
}

/** TOPOLOGIES are where a run's nodes live (`--topology`). */
export const TOPOLOGIES = ['loopback', 'wan'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

/**
 * Hosts is what the faults do to the machines under the nodes, which differs by topology: on `loopback`
 * one Open vSwitch serves every gateway; on `wan` each gateway host has its own.
 */
export interface Hosts {
  /** stopSwitch stops the Open vSwitch gateway `nodeId` enforces with; returns what it stopped. */
  stopSwitch(nodeId: number): Promise<string>;
  /** ensure starts again every Open vSwitch and the Docker engine if stopped. */
  ensure(): Promise<void>;
  /** prepare readies the host of a node about to join (wan: its namespace, WAN address and Open vSwitch). */
  prepare(nodeId: number): Promise<void>;
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
  /**
   * topology, serverAddress, partitioner and hosts are set by setUp; an environment built elsewhere (a test
   * of its own, e.g. test/deploy/rolling-restart-gateway.test.ts) may leave them out: the loopback
   * topology's are used then (hostsOf, partitionerOf, serverAddressOf).
   */
  readonly topology?: Topology;
  /** serverAddress is the upstream server the probes send to. */
  readonly serverAddress?: string;
  readonly partitioner?: Partitions;
  readonly hosts?: Hosts;
  /** wan is the WAN topology (topology `wan` only). */
  readonly wan?: WanTopology;
}

/** setUp builds the environment; on failure it tears down what it made and throws. */
export async function setUp(init: EnvironmentInit): Promise<Environment> {
  const topology = init.topology ?? 'loopback';
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
  let wan: WanTopology | undefined;
  if (topology === 'wan') {
    const gatewayIds = Array.from({ length: init.nodes }, (_, i) => i + 1);
    wan = await WanTopology.create({ gateways: gatewayIds, devices: gatewayIds.map((id) => ({ id: `probe-${id}`, gateway: id })), log: init.log });
  }
  let cluster: LocalCluster | undefined;
  try {
    cluster = await LocalCluster.create({
      dir: join(init.dir, 'cluster'), nodes: init.nodes, application: 'quorumgate', timing: CHAOS_TIMING,
      ...(wan !== undefined ? { dataplanePrefix: WAN.prefix, topology: 'wan' as const } : { dataplanePrefix: PREFIX, hostPrefix: HOST_PREFIX }),
    });
    // The API is HTTPS with pinned node keys, and reads carry a root read token.
    useClientFetch(cluster.fetch);
    const placed = wan !== undefined ? placeOnWan(cluster, wan) : await placeOnLoopback(cluster);
    return await startCluster(init, cluster, paths, digest, placed, wan);
  } catch (error) {
    await tearDown(cluster, paths, wan).catch(() => undefined);
    throw error;
  }
}

/** Placed is where a topology put the devices and how its faults reach the hosts. */
interface Placed {
  readonly network: DemoNetwork;
  readonly serverAddress: string;
  readonly partitioner: Partitions;
  readonly hosts: Hosts;
}

/** hostsOf is what the faults do to the hosts under `env`'s nodes. */
export function hostsOf(env: Environment): Hosts {
  return env.hosts ?? loopbackHosts();
}

/** partitionerOf is what cuts links between `env`'s nodes. */
export function partitionerOf(env: Environment): Partitions {
  return env.partitioner ?? new Partitioner((nodeId) => env.cluster.hostOf(nodeId));
}

/** serverAddressOf is the upstream server `env`'s probes send to. */
export function serverAddressOf(env: Environment): string {
  return env.serverAddress ?? SERVER_ADDRESS;
}

function loopbackHosts(): Hosts {
  const paths = hostPaths();
  return {
    stopSwitch: async () => {
      await stopHost(paths, { ovs: true, docker: false });
      return 'Open vSwitch stopped';
    },
    ensure: async () => void (await ensureHost(paths, { install: false })),
    prepare: async () => undefined,
  };
}

/** placeOnLoopback builds the loopback topology's device network (netlab.ts) under the node processes of this host. */
async function placeOnLoopback(cluster: LocalCluster): Promise<Placed> {
  const gateways = cluster.nodes.map((n) => ({ nodeId: n.nodeId, uplinkPort: cluster.dataplaneOf(n.nodeId).uplinkPort }));
  const network = await buildNetwork({ prefix: PREFIX, gateways, devices: gateways.map((g) => ({ id: `probe-${g.nodeId}`, gateway: g.nodeId })) });
  return { network, serverAddress: SERVER_ADDRESS, partitioner: new Partitioner((nodeId) => cluster.hostOf(nodeId)), hosts: loopbackHosts() };
}

/** placeOnWan describes the WAN topology's devices and hosts (WanTopology.create made them). */
function placeOnWan(cluster: LocalCluster, wan: WanTopology): Placed {
  const network: DemoNetwork = {
    upstream: WAN.upstreamNamespace, server: WAN.serverNamespace, attacker: '',
    devices: wan.devices.map((d) => ({ id: d.id, gateway: d.gateway, namespace: d.namespace, port: d.port, address: d.address })),
  };
  const shared = hostPaths();
  const hosts: Hosts = {
    stopSwitch: async (nodeId) => {
      await wan.stopSwitch(nodeId);
      return `Open vSwitch of host n${nodeId} stopped`;
    },
    ensure: async () => {
      for (const node of cluster.nodes) await wan.addGateway(node.nodeId);
      for (const id of wan.gateways.keys()) if (!(await ovsAnswers(wan.paths(id)))) await wan.startSwitch(id);
      await ensureHost(shared, { install: false });
    },
    prepare: async (nodeId) => void (await wan.addGateway(nodeId)),
  };
  return { network, serverAddress: WAN.serverAddress, partitioner: new WanPartitioner(wan), hosts };
}

/** startCluster starts the nodes and commits the initial state (domains, keys, images, the probe policy, the devices). */
async function startCluster(init: EnvironmentInit, cluster: LocalCluster, paths: HostPaths, digest: (name: string) => string, placed: Placed, wan: WanTopology | undefined): Promise<Environment> {
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
  const { network } = placed;
  const devices = network.devices.map((d) => ({ id: d.id, gateway: d.gateway, namespace: d.namespace, address: d.address }));
  await pinServerNeighbour(network, placed.serverAddress);
  for (const node of cluster.nodes) cluster.start(node.nodeId, init.nodeEnv);
  const leader = await cluster.waitForLeader(30_000);
  init.log(`cluster of ${init.nodes} up${wan !== undefined ? ' on the WAN topology (a namespace per host)' : ''}, node ${leader} leads`);

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
  return {
    cluster, network, paths, clusterId, root, siteAdmin, registerSigners, updateSigners, publicKeys, devices, nodeEnv: init.nodeEnv,
    topology: wan !== undefined ? 'wan' : 'loopback', serverAddress: placed.serverAddress, partitioner: placed.partitioner, hosts: placed.hosts,
    ...(wan !== undefined ? { wan } : {}),
  };
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
  await removeWan();
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
    const umboxes = await runtime.listMember(`n${nodeId}`).catch(() => []); // of any cluster: a sweep of crashed runs too
    for (const umbox of umboxes) await runtime.remove(umbox.name).catch(() => undefined);
  }
}

/** tearDown stops every node and removes the cluster's bridges, μmboxes, namespaces and firewall chain (and the WAN topology's hosts). */
export async function tearDown(cluster: LocalCluster | undefined, paths: HostPaths, wan?: WanTopology): Promise<void> {
  for (const node of cluster?.nodes ?? []) {
    cluster!.signal(node.nodeId, 'SIGCONT');
    await cluster!.kill(node.nodeId).catch(() => undefined);
  }
  await removeChaosChain().catch(() => undefined);
  await teardownNetwork(PREFIX).catch(() => undefined);
  if (wan !== undefined) await wan.destroy().catch(() => undefined);
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
async function pinServerNeighbour(network: DemoNetwork, serverAddress: string): Promise<void> {
  const link = await inNamespace(network.server, ['ip', 'link', 'show', 'eth0']);
  const mac = /link\/ether ([0-9a-f:]{17})/.exec(link.stdout)?.[1];
  if (mac === undefined) throw new Error(`the server namespace ${network.server} has no MAC address on eth0: ${link.stdout.trim()}`);
  for (const device of network.devices) {
    await inNamespace(device.namespace, ['ip', 'neigh', 'replace', serverAddress, 'lladdr', mac, 'dev', 'eth0', 'nud', 'permanent']);
  }
}
