// wan.ts — hosts for real in the tests (issue 17 item 4): every gateway in its own network namespace, as
// if on its own machine, with its own address on a shared WAN, its own Open vSwitch and its devices behind
// its own bridge; an admin namespace on the WAN from which `qgate` administers the cluster; partitions
// between hosts made with iptables on each host's WAN interface.
//
//   qgw-wan   a Linux bridge (br0): the WAN, 10.87.0.0/24
//     ├── qgw-g1  gateway 1: wan0 10.87.0.1, its node process, its ovsdb-server and ovs-vswitchd
//     │     │     (run directory /run/qgw/g1), its Mosquitto and management port (10.87.1.141)
//     │     ├── OVS bridge qgw1br ── uplink qgw1up ─▶ qgw-up (br0: the devices' upstream) ── qgw-srv 10.87.1.1
//     │     └── port qgw1d1 ─▶ device namespace qgw-dev-<id>, eth0 10.87.1.11
//     ├── qgw-g2, qgw-g3 … likewise (10.87.0.2, 10.87.0.3)
//     ├── qgw-adm the admin's machine (10.87.0.100): qgate runs here
//     └── qgwobs  the test's own eyes (10.87.0.254, a link in the root namespace): status reads only
//
// Why one Open vSwitch per gateway namespace, not one ovs-vswitchd for every bridge: the userspace datapath
// opens a port by its name in the namespace ovs-vswitchd runs in, and the node creates the veths of its
// μmboxes and its management port in its own namespace (src/dataplane/docker-runtime.ts, management.ts). A
// vswitchd outside the gateway's namespace cannot see them (not tried as an experiment here: OVS's netdev-linux
// looks interfaces up by name in its own namespace). A real gateway runs its own Open vSwitch too. The Docker engine is shared: the node
// reaches it by its unix socket (a path, so any namespace can), the μmbox containers get their own network
// namespaces, and the node moves one end of each μmbox veth into a container by pid — pids are not
// namespaced here. Each gateway's run directory links `docker` to the shared engine's directory.
//
// Limits: the containers of every gateway share one engine, so the `docker-restart` fault hits every
// gateway at once; gateways are told apart in the engine by their node id (n1, n2, …), as on one host
// today, so two topologies (or a loopback cluster) with the same node ids must not run at the same time.
//
// Everything is named with the prefix `qgw` (namespaces `qgw-…`, root-namespace links `qgw…`, run
// directories under /run/qgw); `removeWan()` deletes all of it, and create() runs it first.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DockerUmboxRuntime, hostPaths, stopHost } from '../src/dataplane/index.js';
import type { HostPaths } from '../src/dataplane/index.js';
import { run } from '../src/dataplane/exec.js';
import type { ExecResult } from '../src/dataplane/exec.js';
import { addNamespace, endpoint, inNamespace, teardownNetwork } from './netlab.js';

/** WAN names the topology's fixed parts: prefix, subnets, well-known addresses and ports. */
export const WAN = {
  prefix: 'qgw',
  /** wanSubnet: gateway N is `<wanSubnet>N`. */
  wanSubnet: '10.87.0.',
  adminAddress: '10.87.0.100',
  observerAddress: '10.87.0.254',
  /** deviceSubnet: devices, the upstream server and the gateways' management addresses. */
  deviceSubnet: '10.87.1.',
  serverAddress: '10.87.1.1',
  /** Every gateway listens on the same ports on its own address, as real hosts do. */
  raftPort: 7001,
  apiPort: 8443,
  runRoot: '/run/qgw',
  wanNamespace: 'qgw-wan',
  adminNamespace: 'qgw-adm',
  upstreamNamespace: 'qgw-up',
  serverNamespace: 'qgw-srv',
  /** chain is the iptables chain (in each gateway's namespace, hooked into OUTPUT) that holds the cuts. */
  chain: 'QGWAN',
} as const;

/** WanGateway is one gateway host: its namespace, addresses and names, all derived from its node id. */
export interface WanGateway {
  readonly nodeId: number;
  readonly namespace: string;
  /** address is the gateway's WAN address (Raft and API listen on it). */
  readonly address: string;
  /** runDir holds this host's private Open vSwitch (ovs/), μmbox channels, Mosquitto; docker/ links to the shared engine. */
  readonly runDir: string;
  readonly bridge: string;
  readonly uplinkPort: string;
  readonly managementAddress: string;
  readonly managementPort: string;
  readonly managementInterface: string;
}

/** wanGateway derives gateway `nodeId`'s names (1 to 99: names stay within 15 characters, addresses distinct). */
export function wanGateway(nodeId: number): WanGateway {
  if (!Number.isInteger(nodeId) || nodeId < 1 || nodeId > 99) throw new Error(`WAN gateway ids are 1 to 99, got ${nodeId}`);
  return {
    nodeId,
    namespace: `${WAN.prefix}-g${nodeId}`,
    address: `${WAN.wanSubnet}${nodeId}`,
    runDir: join(WAN.runRoot, `g${nodeId}`),
    bridge: `${WAN.prefix}${nodeId}br`,
    uplinkPort: `${WAN.prefix}${nodeId}up`,
    managementAddress: `${WAN.deviceSubnet}${140 + nodeId}`,
    managementPort: `${WAN.prefix}${nodeId}m`,
    managementInterface: `${WAN.prefix}${nodeId}mh`,
  };
}

/** WanDevice is a device namespace plugged into a port of its gateway's bridge. */
export interface WanDevice {
  readonly id: string;
  readonly gateway: number;
  readonly namespace: string;
  /** port is the OVS port (in the gateway's namespace) the device is plugged into. */
  readonly port: string;
  readonly address: string;
}

/** WanInit shapes the topology. */
export interface WanInit {
  readonly gateways: readonly number[];
  /** devices: one namespace each behind its gateway (addresses 10.87.1.11, .12, … in order). */
  readonly devices: ReadonlyArray<{ id: string; gateway: number }>;
  readonly log?: (line: string) => void;
}

/** repoRoot is the checkout (from cluster/ under tsx, or dist/cluster/ compiled). */
function repoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return existsSync(join(here, '..', 'deploy')) ? resolve(here, '..') : resolve(here, '..', '..');
}

/** WanTopology is a running topology; destroy() removes all of it. */
export class WanTopology {
  readonly gateways = new Map<number, WanGateway>();
  readonly devices: WanDevice[] = [];
  private readonly children: ChildProcess[] = [];
  private readonly log: (line: string) => void;

  private constructor(log: (line: string) => void) {
    this.log = log;
  }

  /** create builds the WAN, the admin's namespace, the upstream, every gateway host and device; on failure it removes what it made. */
  static async create(init: WanInit): Promise<WanTopology> {
    const topology = new WanTopology(init.log ?? (() => undefined));
    await removeWan();
    try {
      await topology.buildShared();
      for (const nodeId of init.gateways) await topology.addGateway(nodeId);
      for (const device of init.devices) await topology.addDevice(device.id, device.gateway);
      return topology;
    } catch (error) {
      await topology.destroy().catch(() => undefined);
      throw error;
    }
  }

  /** buildShared makes the WAN bridge, the admin's and the observer's legs on it, and the devices' upstream with its server. */
  private async buildShared(): Promise<void> {
    await addNamespace(WAN.wanNamespace);
    await inNamespace(WAN.wanNamespace, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
    await inNamespace(WAN.wanNamespace, ['ip', 'link', 'set', 'br0', 'up']);
    await addNamespace(WAN.adminNamespace);
    await this.wanLeg(WAN.adminNamespace, 'eth0', 'adm', WAN.adminAddress);
    // The observer's leg is in the root namespace (where the test process runs): a route to 10.87.0.0/24 only.
    const observer = `${WAN.prefix}obs`;
    await run('ip', ['link', 'add', observer, 'type', 'veth', 'peer', 'name', 'obs', 'netns', WAN.wanNamespace]);
    await run('sysctl', ['-qw', `net.ipv6.conf.${observer}.disable_ipv6=1`]);
    await run('ip', ['addr', 'add', `${WAN.observerAddress}/24`, 'dev', observer]);
    await run('ip', ['link', 'set', observer, 'up']);
    await this.attachToBridge(WAN.wanNamespace, 'obs');
    await addNamespace(WAN.upstreamNamespace);
    await inNamespace(WAN.upstreamNamespace, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
    await inNamespace(WAN.upstreamNamespace, ['ip', 'link', 'set', 'br0', 'up']);
    await addNamespace(WAN.serverNamespace);
    await run('ip', ['link', 'add', 'srv', 'netns', WAN.upstreamNamespace, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', WAN.serverNamespace]);
    await this.attachToBridge(WAN.upstreamNamespace, 'srv');
    await inNamespace(WAN.serverNamespace, ['ip', 'addr', 'add', `${WAN.serverAddress}/24`, 'dev', 'eth0']);
    await endpoint(WAN.serverNamespace, 'eth0');
  }

  /** wanLeg links `inner` in `ns` to the WAN bridge (its bridge end `outer`) with `address`/24. */
  private async wanLeg(ns: string, inner: string, outer: string, address: string): Promise<void> {
    await run('ip', ['link', 'add', inner, 'netns', ns, 'type', 'veth', 'peer', 'name', outer, 'netns', WAN.wanNamespace]);
    await inNamespace(ns, ['ip', 'addr', 'add', `${address}/24`, 'dev', inner]);
    await inNamespace(ns, ['sysctl', '-qw', `net.ipv6.conf.${inner}.disable_ipv6=1`]);
    await inNamespace(ns, ['ip', 'link', 'set', inner, 'up']);
    await this.attachToBridge(WAN.wanNamespace, outer);
  }

  private async attachToBridge(ns: string, name: string): Promise<void> {
    await inNamespace(ns, ['ip', 'link', 'set', name, 'master', 'br0']);
    await inNamespace(ns, ['ip', 'link', 'set', name, 'up']);
  }

  /**
   * addGateway makes gateway `nodeId`'s host: its namespace on the WAN, its uplink to the devices' upstream,
   * its private Open vSwitch started by the shipped host set-up (`quorumgate-host start`) inside the
   * namespace, and the iptables chain the partitions use. The node process is started by the caller.
   */
  async addGateway(nodeId: number): Promise<WanGateway> {
    const gateway = wanGateway(nodeId);
    if (this.gateways.has(nodeId)) return gateway;
    this.gateways.set(nodeId, gateway);
    await addNamespace(gateway.namespace);
    await this.wanLeg(gateway.namespace, 'wan0', `g${nodeId}`, gateway.address);
    await run('ip', ['link', 'add', gateway.uplinkPort, 'netns', gateway.namespace, 'type', 'veth', 'peer', 'name', `up${nodeId}`, 'netns', WAN.upstreamNamespace]);
    await switchPort(gateway.namespace, gateway.uplinkPort);
    await this.attachToBridge(WAN.upstreamNamespace, `up${nodeId}`);
    const shared = hostPaths();
    mkdirSync(gateway.runDir, { recursive: true });
    if (!existsSync(join(gateway.runDir, 'docker'))) symlinkSync(shared.dockerExecDir, join(gateway.runDir, 'docker'));
    const started = await inNamespace(gateway.namespace, ['env', `QG_RUN_DIR=${gateway.runDir}`, process.execPath, join(repoRoot(), 'deploy', 'bin', 'quorumgate-host.mjs'), 'start'], { timeoutMs: 120_000 });
    this.log(`gateway host n${nodeId}: namespace ${gateway.namespace}, WAN ${gateway.address}, Open vSwitch in ${gateway.runDir}/ovs ${started.stdout.includes('"ovsStarted":true') ? 'started' : 'running'}`);
    await this.gatewayIptables(gateway, ['-N', WAN.chain]);
    await this.gatewayIptables(gateway, ['-I', 'OUTPUT', '1', '-j', WAN.chain]);
    return gateway;
  }

  /** addDevice makes a device namespace plugged into a new port of its gateway's bridge. */
  async addDevice(id: string, gatewayId: number): Promise<WanDevice> {
    const gateway = this.gateway(gatewayId);
    const index = this.devices.length + 1;
    const device: WanDevice = {
      id, gateway: gatewayId, namespace: `${WAN.prefix}-dev-${id}`, port: `${WAN.prefix}${gatewayId}d${index}`, address: `${WAN.deviceSubnet}${10 + index}`,
    };
    await addNamespace(device.namespace);
    await run('ip', ['link', 'add', device.port, 'netns', gateway.namespace, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', device.namespace]);
    await switchPort(gateway.namespace, device.port);
    await inNamespace(device.namespace, ['ip', 'addr', 'add', `${device.address}/24`, 'dev', 'eth0']);
    await endpoint(device.namespace, 'eth0');
    this.devices.push(device);
    return device;
  }

  gateway(nodeId: number): WanGateway {
    const gateway = this.gateways.get(nodeId);
    if (gateway === undefined) throw new Error(`no gateway host n${nodeId} in the WAN topology (hosts: ${[...this.gateways.keys()].map((id) => `n${id}`).join(', ')})`);
    return gateway;
  }

  /** paths are gateway `nodeId`'s host paths (its own Open vSwitch; the shared Docker engine through docker/). */
  paths(nodeId: number): HostPaths {
    return hostPaths(this.gateway(nodeId).runDir);
  }

  /** exec runs a command in a namespace (a gateway's, the admin's, a device's). */
  exec(ns: string, argv: readonly string[], options: { allowFailure?: boolean; timeoutMs?: number; input?: string; env?: Record<string, string> } = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', ns, ...argv], options);
  }

  /** spawn starts a long-running process in a namespace; destroy() kills it if it still runs. */
  spawn(ns: string, argv: readonly string[], options: { env?: NodeJS.ProcessEnv; stdio?: Array<'ignore' | 'pipe' | number> } = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: options.stdio ?? ['ignore', 'ignore', 'ignore'], env: options.env ?? process.env });
    this.children.push(child);
    return child;
  }

  /** cut drops what gateway `from` sends to gateway `to` over the WAN (iptables in `from`'s namespace; one way). */
  async cut(from: number, to: number): Promise<void> {
    await this.gatewayIptables(this.gateway(from), ['-A', WAN.chain, '-d', this.gateway(to).address, '-j', 'DROP']);
  }

  /** heal removes every cut of every gateway. */
  async heal(): Promise<void> {
    for (const gateway of this.gateways.values()) await this.gatewayIptables(gateway, ['-F', WAN.chain], true);
  }

  private async gatewayIptables(gateway: WanGateway, args: readonly string[], allowFailure = false): Promise<void> {
    await inNamespace(gateway.namespace, ['iptables', '-w', '5', ...args], { allowFailure, timeoutMs: 15_000 });
  }

  /** stopSwitch stops gateway `nodeId`'s Open vSwitch (a fault: flows are lost); startSwitch starts it again. */
  async stopSwitch(nodeId: number): Promise<void> {
    await stopHost(this.paths(nodeId), { ovs: true, docker: false });
  }

  async startSwitch(nodeId: number): Promise<void> {
    const gateway = this.gateway(nodeId);
    await inNamespace(gateway.namespace, ['env', `QG_RUN_DIR=${gateway.runDir}`, process.execPath, join(repoRoot(), 'deploy', 'bin', 'quorumgate-host.mjs'), 'start'], { timeoutMs: 120_000 });
  }

  /** destroy kills what runs in the topology and removes every namespace, link, switch and run directory it made. */
  async destroy(): Promise<void> {
    for (const child of this.children) if (child.exitCode === null) child.kill('SIGKILL');
    await removeWan([...this.gateways.keys()]);
  }
}

/** switchPort brings up a switch port inside a gateway's namespace with IPv6 and transmit checksum offload off. */
async function switchPort(ns: string, name: string): Promise<void> {
  await inNamespace(ns, ['sysctl', '-qw', `net.ipv6.conf.${name}.disable_ipv6=1`]);
  await inNamespace(ns, ['ethtool', '-K', name, 'tx', 'off']);
  await inNamespace(ns, ['ip', 'link', 'set', name, 'up']);
}

/**
 * removeWan deletes everything a WAN topology makes (also what a crashed run left): each gateway's Open
 * vSwitch, the μmbox containers of `nodeIds` (default: every host found under /run/qgw), every namespace
 * `qgw-…` with what runs in it (nodes, Mosquittos), the root-namespace links `qgw…` and /run/qgw.
 */
export async function removeWan(nodeIds?: readonly number[]): Promise<void> {
  const found = existsSync(WAN.runRoot) ? readdirSync(WAN.runRoot).map((name) => /^g(\d+)$/.exec(name)?.[1]).filter((id): id is string => id !== undefined).map(Number) : [];
  const ids = [...new Set([...(nodeIds ?? []), ...found])];
  for (const id of ids) await stopHost(hostPaths(wanGateway(id).runDir), { ovs: true, docker: false }).catch(() => undefined);
  await teardownNetwork(WAN.prefix);
  const shared = hostPaths();
  if (ids.length > 0 && existsSync(shared.dockerSocket)) {
    const runtime = new DockerUmboxRuntime({ socketPath: shared.dockerSocket, umboxDir: shared.umboxDir });
    for (const id of ids) {
      // A sweep: the μmboxes of member n<id> of any cluster (the WAN's cluster is gone by now).
      for (const umbox of await runtime.listMember(`n${id}`).catch(() => [])) await runtime.remove(umbox.name).catch(() => undefined);
    }
  }
  rmSync(WAN.runRoot, { recursive: true, force: true });
}
