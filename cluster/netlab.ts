// netlab.ts — the demo's network: network namespaces for devices, a server and an attacker, linked
// to each gateway's OVS bridge. Everything is named with one prefix, so `teardownNetwork(prefix)`
// removes it later from a separate command (the demo leaves the cluster running to explore).
// Addresses come from 10.77.0.0/24 and exist only inside namespaces created here.
import { run } from '../src/dataplane/exec.js';
import type { ExecResult } from '../src/dataplane/exec.js';

/** SERVER_ADDRESS and ATTACKER_ADDRESS live in the upstream namespaces. */
export const SERVER_ADDRESS = '10.77.0.1';
export const ATTACKER_ADDRESS = '10.77.0.66';

/** DEFAULT_SUBNET is the demo's device network ("10.77.0." + host number). */
export const DEFAULT_SUBNET = '10.77.0.';

/** deviceAddress is the address of device `index` (1-based) behind any gateway. */
export function deviceAddress(index: number, subnet = DEFAULT_SUBNET): string {
  return `${subnet}${10 + index}`;
}

/** inNamespace runs a command inside a namespace. */
export function inNamespace(ns: string, argv: readonly string[], options: { allowFailure?: boolean; timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
  return run('ip', ['netns', 'exec', ns, ...argv], options);
}

/** addNamespace creates (or re-creates) a namespace with its loopback up. */
export async function addNamespace(ns: string): Promise<void> {
  await run('ip', ['netns', 'del', ns], { allowFailure: true });
  await run('ip', ['netns', 'add', ns]);
  await inNamespace(ns, ['ip', 'link', 'set', 'lo', 'up']);
}

/**
 * endpoint brings up an interface that originates traffic, with transmit checksum offload and IPv6
 * off: OVS's userspace datapath forwards frames as read, so a checksum left to the NIC arrives unfinished.
 */
export async function endpoint(ns: string, name: string): Promise<void> {
  await inNamespace(ns, ['ethtool', '-K', name, 'tx', 'off']);
  await inNamespace(ns, ['sysctl', '-qw', `net.ipv6.conf.${name}.disable_ipv6=1`]);
  await inNamespace(ns, ['ip', 'link', 'set', name, 'up']);
}

/** hostVeth links a host interface (an OVS port) to `inner` inside `ns`, with an optional address. */
export async function hostVeth(hostName: string, ns: string, inner: string, cidr: string | null): Promise<void> {
  await run('ip', ['link', 'del', hostName], { allowFailure: true });
  await run('ip', ['link', 'add', hostName, 'type', 'veth', 'peer', 'name', inner, 'netns', ns]);
  await run('ip', ['link', 'set', hostName, 'up']);
  if (cidr !== null) await inNamespace(ns, ['ip', 'addr', 'add', cidr, 'dev', inner]);
  await endpoint(ns, inner);
}

/** DemoDevice is one device namespace behind a gateway. */
export interface DemoDevice {
  readonly id: string;
  readonly gateway: number;
  readonly namespace: string;
  /** port is the host end of its veth: the OVS port the device is plugged into. */
  readonly port: string;
  readonly address: string;
}

/** DemoNetwork is what buildNetwork made. */
export interface DemoNetwork {
  readonly upstream: string;
  readonly server: string;
  readonly attacker: string;
  readonly devices: readonly DemoDevice[];
}

/**
 * buildNetwork makes: an upstream namespace whose Linux bridge joins every gateway's uplink, a server
 * and an attacker; and, per gateway, device namespaces plugged into that gateway's bridge ports.
 * Each device runs a "login" service on port 22 and a web page on port 80; the server answers on 80.
 */
export async function buildNetwork(init: {
  prefix: string;
  gateways: ReadonlyArray<{ nodeId: number; uplinkPort: string }>;
  devices: ReadonlyArray<{ id: string; gateway: number }>;
  /** subnet is the /24 of every address here, as "10.77.0." (default); the server is .1, the attacker .66. */
  subnet?: string;
}): Promise<DemoNetwork> {
  const { prefix } = init;
  const subnet = init.subnet ?? DEFAULT_SUBNET;
  const upstream = `${prefix}-up`;
  const server = `${prefix}-srv`;
  const attacker = `${prefix}-atk`;
  await addNamespace(upstream);
  await inNamespace(upstream, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
  for (const gateway of init.gateways) {
    const inner = `up${gateway.nodeId}`;
    await hostVeth(gateway.uplinkPort, upstream, inner, null);
    await inNamespace(upstream, ['ip', 'link', 'set', inner, 'master', 'br0']);
  }
  const upstreamHosts = [[server, 'srv', `${subnet}1`], [attacker, 'atk', `${subnet}66`]] as const;
  for (const [ns, inner, address] of upstreamHosts) {
    await addNamespace(ns);
    await run('ip', ['link', 'add', inner, 'netns', upstream, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await inNamespace(upstream, ['ip', 'link', 'set', inner, 'master', 'br0']);
    await inNamespace(upstream, ['ip', 'link', 'set', inner, 'up']);
    await inNamespace(ns, ['ip', 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
    await endpoint(ns, 'eth0');
  }
  await inNamespace(upstream, ['ip', 'link', 'set', 'br0', 'up']);
  const devices: DemoDevice[] = [];
  for (const [i, device] of init.devices.entries()) {
    const namespace = `${prefix}-${device.id}`;
    const port = `${prefix}${device.gateway}d${i + 1}`;
    await addNamespace(namespace);
    await hostVeth(port, namespace, 'eth0', `${deviceAddress(i + 1, subnet)}/24`);
    devices.push({ id: device.id, gateway: device.gateway, namespace, port, address: deviceAddress(i + 1, subnet) });
  }
  return { upstream, server, attacker, devices };
}

/** startServices runs the server's web page and each device's login and web services (busybox). */
export async function startServices(network: DemoNetwork, wwwDir: string): Promise<void> {
  await daemon(network.server, ['busybox', 'httpd', '-p', '80', '-h', wwwDir]);
  for (const device of network.devices) {
    await daemon(device.namespace, ['busybox', 'httpd', '-p', '22', '-h', wwwDir]);
    await daemon(device.namespace, ['busybox', 'httpd', '-p', '80', '-h', wwwDir]);
  }
}

/** daemon starts a background service inside a namespace (busybox httpd forks itself). */
async function daemon(ns: string, argv: readonly string[]): Promise<void> {
  await inNamespace(ns, argv);
}

/** tcpReach says whether `from` can open a TCP connection to address:port and read an answer within timeoutSeconds. */
export async function tcpReach(from: string, address: string, port: number, timeoutSeconds = 2): Promise<boolean> {
  try {
    const result = await inNamespace(from, ['busybox', 'nc', '-w', String(timeoutSeconds), address, String(port)], {
      allowFailure: true, timeoutMs: (timeoutSeconds + 3) * 1000, input: 'GET / HTTP/1.0\r\n\r\n',
    });
    return result.stdout.length > 0;
  } catch (error) {
    // nc that hangs past its own -w (a SYN never answered) is killed by the timeout: no reach.
    if (error instanceof Error && /no answer within/.test(error.message)) return false;
    throw error;
  }
}

/** removeNamespace kills every process inside a namespace and deletes it. */
export async function removeNamespace(ns: string): Promise<void> {
  const pids = await run('ip', ['netns', 'pids', ns], { allowFailure: true });
  for (const pid of pids.stdout.split('\n').map((line) => Number.parseInt(line, 10)).filter((p) => p > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // The process is already gone.
    }
  }
  await run('ip', ['netns', 'del', ns], { allowFailure: true });
}

/** teardownNetwork removes every namespace and host link whose name starts with `prefix` (and their processes). */
export async function teardownNetwork(prefix: string): Promise<void> {
  const namespaces = (await run('ip', ['netns', 'list'], { allowFailure: true })).stdout
    .split('\n').map((line) => line.split(' ')[0]!).filter((name) => name.startsWith(`${prefix}-`));
  for (const ns of namespaces) await removeNamespace(ns);
  const links = (await run('ip', ['-o', 'link', 'show'], { allowFailure: true })).stdout
    .split('\n').map((line) => /^\d+: ([^:@]+)/.exec(line)?.[1]).filter((name): name is string => name !== undefined && name.startsWith(prefix));
  for (const link of links) await run('ip', ['link', 'del', link], { allowFailure: true });
}
