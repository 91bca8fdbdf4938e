// management.ts — the host side of a gateway's management path: a veth pair whose bridge end is a port of
// the gateway's OVS bridge and whose host end carries the gateway's management address. The gateway's
// broker listens on that address and its HTTP polls leave from it; the planner's management flows
// (planner.ts) decide which device may talk to it, and how.
//
// Several gateways may share one host (the demo runs three), each with its management address in the same
// device subnet (10.77.0.0/24). The address is therefore added without a route in the main table
// (`noprefixroute`), and a source-based policy route sends what leaves from it out of its own interface:
// `ip rule from <address> lookup <table>`, and in that table the subnet via the interface. A socket bound
// to the gateway's management address reaches that gateway's devices, whatever the others hold.
//
// The host end is set up as cluster/netlab.ts `endpoint` explains for the userspace datapath (transmit
// checksum offload off: OVS forwards frames as read, and a checksum left to the NIC arrives unfinished; IPv6
// off), answers ARP only for its own address on its own interface (arp_ignore=1, arp_announce=2: the
// host's other addresses stay invisible to devices) and checks return paths loosely (rp_filter=2).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { badInput } from './errors.js';
import { run } from './exec.js';
import { isIpv4 } from './planner.js';

/** ManagementPortInit names a gateway's management port and address. */
export interface ManagementPortInit {
  /** ovsDir is the private OVS instance's run directory (its db.sock). */
  ovsDir: string;
  /** bridge is the gateway's OVS bridge. */
  bridge: string;
  /** port is the bridge end of the veth (NodeManagement.port). */
  port: string;
  /** hostInterface is the host end, which carries `address`. */
  hostInterface: string;
  /** address is the gateway's management IPv4 address (NodeManagement.address). */
  address: string;
  /** prefixLength is the device subnet's prefix length (e.g. 24), 8 to 30. */
  prefixLength: number;
  /** table is the routing table of the source route (default managementTable(address)). */
  table?: number;
}

/** ManagementPort is what ensureManagementPort set up. */
export interface ManagementPort {
  /** mac is the host end's MAC (NodeManagement.mac: frames from the management port carry it). */
  mac: string;
  /** table is the routing table of the source route. */
  table: number;
  /** subnet is the device subnet routed through the host end ("10.77.0.0/24"). */
  subnet: string;
}

const INTERFACE_NAME = /^[A-Za-z0-9_.:-]{1,15}$/;

/**
 * managementTable is the default routing table of a management address: the address itself as a 32-bit
 * number, so gateways on one host with different addresses (in one subnet or in several) never share a
 * table, and a restart finds its own again. (An address below 256 would name a reserved table: moved up.)
 */
export function managementTable(address: string): number {
  const value = address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
  return value > 255 ? value : 0x5147_0000 + value;
}

/**
 * ensureManagementPort creates (or finds) the management veth, attaches its bridge end to the bridge, puts
 * the management address on its host end and installs the source route; idempotent.
 */
export async function ensureManagementPort(init: ManagementPortInit): Promise<ManagementPort> {
  const { port, hostInterface, address } = checkInit(init);
  const table = init.table ?? managementTable(address);
  const subnet = `${subnetOf(address, init.prefixLength)}/${init.prefixLength}`;
  if (!existsSync(`/sys/class/net/${hostInterface}`)) {
    await run('ip', ['link', 'del', port], { allowFailure: true }); // a half of an earlier pair
    await run('ip', ['link', 'add', hostInterface, 'type', 'veth', 'peer', 'name', port]);
  }
  for (const name of [hostInterface, port]) {
    await run('sysctl', ['-qw', `net.ipv6.conf.${name}.disable_ipv6=1`]);
    await run('ethtool', ['-K', name, 'tx', 'off']);
  }
  for (const [key, value] of [['arp_ignore', '1'], ['arp_announce', '2'], ['rp_filter', '2']] as const) {
    await run('sysctl', ['-qw', `net.ipv4.conf.${hostInterface}.${key}=${value}`]);
  }
  // The userspace datapath reads the device ports' host ends as ordinary kernel interfaces too, and by
  // default the kernel answers ARP for any local address on any interface: a device asking for the
  // management address got the MAC of its own port's host end, and its frames never reached the
  // management port. arp_ignore takes the larger of `all` and the interface's value, so `all=1` makes only
  // the interface that carries an address answer for it.
  await run('sysctl', ['-qw', 'net.ipv4.conf.all.arp_ignore=1']);
  await run('ip', ['addr', 'replace', `${address}/${init.prefixLength}`, 'dev', hostInterface, 'noprefixroute']);
  await run('ip', ['link', 'set', hostInterface, 'up']);
  await run('ip', ['link', 'set', port, 'up']);
  await run('ip', ['route', 'replace', subnet, 'dev', hostInterface, 'src', address, 'table', String(table)]);
  if (!(await hasRule(address, table))) await run('ip', ['rule', 'add', 'from', address, 'lookup', String(table), 'priority', String(RULE_PRIORITY)]);
  await run('ovs-vsctl', [`--db=unix:${join(init.ovsDir, 'db.sock')}`, '--timeout=60', '--may-exist', 'add-port', init.bridge, port], { timeoutMs: 65_000 });
  const mac = readFileSync(`/sys/class/net/${hostInterface}/address`, 'utf8').trim().toLowerCase();
  return { mac, table, subnet };
}

/** removeManagementPort undoes ensureManagementPort: the port, the source route and the veth; idempotent. */
export async function removeManagementPort(init: ManagementPortInit): Promise<void> {
  const { port, hostInterface, address } = checkInit(init);
  const table = init.table ?? managementTable(address);
  await run('ovs-vsctl', [`--db=unix:${join(init.ovsDir, 'db.sock')}`, '--timeout=60', '--if-exists', 'del-port', init.bridge, port], { timeoutMs: 65_000, allowFailure: true });
  for (let i = 0; i < 8 && (await hasRule(address, table)); i++) await run('ip', ['rule', 'del', 'from', address, 'lookup', String(table)], { allowFailure: true });
  await run('ip', ['route', 'flush', 'table', String(table)], { allowFailure: true });
  await run('ip', ['link', 'del', hostInterface], { allowFailure: true });
}

/** RULE_PRIORITY places the source rules ahead of the main table (priority 32766). */
const RULE_PRIORITY = 1000;

function checkInit(init: ManagementPortInit): { port: string; hostInterface: string; address: string } {
  for (const [field, value] of [['port', init.port], ['hostInterface', init.hostInterface], ['bridge', init.bridge]] as const) {
    if (typeof value !== 'string' || !INTERFACE_NAME.test(value)) throw badInput(`ManagementPortInit.${field}`, 'an interface name (1-15 of A-Z a-z 0-9 _ . : -)', value);
  }
  if (init.port === init.hostInterface) throw badInput('ManagementPortInit.hostInterface', 'a name other than the port', init.hostInterface);
  if (!isIpv4(init.address)) throw badInput('ManagementPortInit.address', 'a dotted-quad IPv4 address', init.address);
  if (!Number.isInteger(init.prefixLength) || init.prefixLength < 8 || init.prefixLength > 30) throw badInput('ManagementPortInit.prefixLength', 'an integer from 8 to 30', init.prefixLength);
  if (init.table !== undefined && (!Number.isInteger(init.table) || init.table < 1 || init.table > 0xffff_ffff || [253, 254, 255].includes(init.table))) {
    throw badInput('ManagementPortInit.table', 'a routing table number other than local, main and default', init.table);
  }
  return { port: init.port, hostInterface: init.hostInterface, address: init.address };
}

/** subnetOf is the network address of `address`/`prefixLength`. */
export function subnetOf(address: string, prefixLength: number): string {
  const value = address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
  const size = 2 ** (32 - prefixLength);
  const network = value - (value % size);
  return [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join('.');
}

async function hasRule(address: string, table: number): Promise<boolean> {
  const { stdout } = await run('ip', ['-j', 'rule', 'show']);
  const rules = JSON.parse(stdout === '' ? '[]' : stdout) as Array<{ src?: string; table?: string | number }>;
  return rules.some((rule) => rule.src === address && String(rule.table) === String(table));
}
