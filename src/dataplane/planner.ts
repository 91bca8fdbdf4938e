// planner.ts — the desired data plane of one node as a pure function of what the agreed state asks of it
// (DesiredInput). No I/O, no clock: the same input always gives the same plan, names and cookies, so a
// restarted node finds and keeps what it built before (controller-runtime's deterministic names).
//
// Flows, all in table 0 of a fail_mode=secure bridge whose table-miss flow drops:
//   chain [m1..mk]:  device → m1.in, m1.out → m2.in, …, mk.out → uplink        (traffic from the device)
//                    uplink → mk.out, …, m2.in → m1.out, m1.in → device        (traffic to the device)
//   allow:           device → uplink, uplink → device
//   quarantine:      device → drop, uplink (to the device's addresses) → drop
// Traffic from the device must carry one of its addresses (IPv4 source, ARP sender); traffic from the
// uplink is steered by destination address (IPv4 destination, ARP target). A μmbox port belongs to one
// device's chain, so it is matched by port alone. A device registered with MAC addresses must also send
// from one of them (Ethernet source).
//
// The management path (DesiredInput.management, DesiredDevice.management) joins a device and the gateway's
// management port directly, in every state of a valid plan (chain, allow and quarantine: the gateway must be
// able to read a quarantined device and switch it off), above the device's other flows
// (MANAGEMENT_FLOW_PRIORITY): ARP between the device's addresses and the management address, IPv4 TCP
// device → management address only to the broker's port (when the device uses the broker), management
// address → device only to the device's listed TCP ports, and the return traffic of those connections
// (matched by the reverse ports). Below them (MANAGEMENT_GUARD_PRIORITY) the device's other IPv4 towards
// the management address is dropped, and so is everything else from the management port (a base flow):
// nothing else passes the management port.
//
// Reports (DesiredDataplane and discovery.ts): what arrives on a device's port with a source the device
// does not own (IPv4 or ARP; in a chain or allow state) and everything arriving on a port no device owns is
// dropped at the switch and sent through the bridge's meter to the node's discovery monitor; the uplink,
// μmbox and management ports never report.
//
// μmbox identity is content, not generation: a μmbox is named after (node, device, image, digest, config,
// occurrence in its chain). A device moving to a chain whose μmboxes already run (started as standby, or
// shared with its previous chain) therefore keeps those containers, and the move is one flow bundle.
// Standby μmboxes are the μmboxes of the chains the device may move to next (DesiredDevice.standby), bounded
// per node by PlannerOptions.standbyLimit: devices with a higher standbyPriority first, then by id, whole
// chains only. They are planned but never referenced by a flow until a plan's chain names them.
import { createHash } from 'node:crypto';
import {
  BASE_DROP_PRIORITY, CLUSTER_TAG_HEX_CHARS, DEVICE_FLOW_PRIORITY, DEVICE_REPORT_PRIORITY, MANAGEMENT_FLOW_PRIORITY, MANAGEMENT_GUARD_PRIORITY, MAX_ADDRESSES_PER_DEVICE,
  MAX_CHAIN_LENGTH, MAX_DEVICES_PER_NODE, MAX_GENERATION, MAX_MANAGEMENT_TCP_PORTS, MAX_STANDBY_UMBOXES_PER_NODE, MAX_WARM_IMAGES,
  STANDBY_UMBOXES_DEFAULT, UNKNOWN_PORT_REPORT_PRIORITY,
} from './constants.js';
import { badInput, assert } from './errors.js';
import type {
  DesiredDataplane, DesiredDevice, DesiredInput, DevicePlan, FlowSpec, ImagePin, NodeManagement, PlanProblem, PlannedDevice, PlannedUmbox,
} from './types.js';

/** PlannerOptions are the node's own wiring. */
export interface PlannerOptions {
  /** uplinkPort is the OVS port towards the rest of the network. */
  uplinkPort: string;
  /** standbyLimit bounds the standby μmboxes of the node (default STANDBY_UMBOXES_DEFAULT, at most MAX_STANDBY_UMBOXES_PER_NODE; 0 turns standby off). */
  standbyLimit?: number;
}

const IMAGE_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const PORT_NAME = /^[A-Za-z0-9_.:-]{1,15}$/;
/** CONFIG_KEY is the form of a μmbox configuration key (it becomes UMBOX_<key> in the container, or a file name). */
export const CONFIG_KEY = /^[A-Z][A-Z0-9_]{0,31}$/;
/** UMBOX_PORT_NAME is the form of the host ends of μmbox veth pairs (qm…, see umboxPorts) and of the reconciler's port-pool slots (qp…). */
export const UMBOX_PORT_NAME = /^q[mp][0-9a-f]{10}[io]$/;
const MAX_CONFIG_VALUE_CHARS = 1024;

/** planDataplane computes the desired flows and μmboxes of every device `input` gives this node. */
export function planDataplane(input: DesiredInput, options: PlannerOptions): DesiredDataplane {
  const standbyLimit = checkInput(input, options);
  const devices = [...input.devices].sort((a, b) => compareStrings(String(a.id), String(b.id)));
  const numbers = assignDeviceNumbers(devices.map((device) => String(device.id)));
  const problems: PlanProblem[] = [];
  const planned: PlannedDevice[] = [];
  const management = input.management ?? null;
  const ports = new Set<string>([options.uplinkPort]);
  const addresses = new Set<string>();
  if (management !== null) {
    ports.add(management.port);
    addresses.add(management.address);
  }

  for (const device of devices) {
    const deviceNumber = numbers.get(device.id);
    assert(deviceNumber !== undefined && deviceNumber > 0, 'every device has a non-zero number');
    const problem = checkDevice(device, ports, addresses);
    if (problem !== null) {
      problems.push({ deviceId: device.id, message: problem });
      // A device whose port is usable is still quarantined at its port; its addresses are not trusted.
      const portUsable = PORT_NAME.test(String(device.port)) && !ports.has(device.port);
      if (portUsable) ports.add(device.port);
      planned.push(quarantinedDevice(device, deviceNumber, portUsable ? [dropFlow(cookieOf(deviceNumber, 0), device.port, '')] : []));
      continue;
    }
    ports.add(device.port);
    for (const address of device.addresses) addresses.add(normalAddress(address));
    planned.push(planDevice(input.nodeId, device, deviceNumber, options.uplinkPort, management));
  }
  const standbyLeftOut = planStandby(input.nodeId, devices, planned, new Set(problems.map((problem) => problem.deviceId)), standbyLimit);
  const warm = [...new Map((input.warm ?? []).map((pin) => [pinKey(pin), { image: pin.image, digest: pin.digest }])).entries()]
    .sort(([a], [b]) => compareStrings(a, b)).map(([, pin]) => pin);
  return {
    nodeId: input.nodeId, uplinkPort: options.uplinkPort, devices: planned, baseFlows: baseFlowsFor(management), problems, standbyLeftOut, warm,
    management: management === null ? null : { ...management, ...(management.mac === undefined ? {} : { mac: management.mac.toLowerCase() }) },
  };
}

/**
 * planStandby fills PlannedDevice.standby in place (the planned devices are this function's own, fresh
 * objects) and returns how many standby μmboxes the limit left out. Devices in order of standbyPriority
 * (higher first) then id; each device's chains in the order given; a chain is taken whole or not at all.
 */
function planStandby(nodeId: string, devices: readonly DesiredDevice[], planned: PlannedDevice[], problems: ReadonlySet<string>, limit: number): number {
  assert(devices.length === planned.length, 'one planned device per desired device, in the same order');
  const order = devices.map((device, index) => ({ device, index, priority: standbyPriorityOf(device) }))
    .filter(({ device }) => !problems.has(device.id) && Array.isArray(device.standby) && device.standby.length > 0)
    .sort((a, b) => b.priority - a.priority || compareStrings(a.device.id, b.device.id));
  let used = 0;
  let leftOut = 0;
  for (const { device, index } of order) {
    const plannedDevice = planned[index];
    assert(plannedDevice !== undefined && plannedDevice.deviceId === device.id, `device ${device.id} is planned in input order`);
    const taken = new Set(plannedDevice.umboxes.map((umbox) => umbox.name));
    const standby: PlannedUmbox[] = [];
    for (const [chainIndex, target] of (device.standby ?? []).entries()) {
      if (chainIndex >= MAX_CHAIN_LENGTH * 4) break; // A device type has few rules; more targets than this are not worth a container.
      if (typeof target !== 'object' || target === null || checkChain('standby', target.chain) !== null) continue;
      const fresh = planChain(nodeId, device.id, plannedDevice.deviceNumber, plannedDevice.generation, target.chain).filter((umbox) => !taken.has(umbox.name));
      if (fresh.length === 0) continue;
      if (used + fresh.length > limit) {
        leftOut += fresh.length;
        continue;
      }
      used += fresh.length;
      for (const umbox of fresh) {
        taken.add(umbox.name);
        standby.push(umbox);
      }
    }
    planned[index] = { ...plannedDevice, standby };
  }
  assert(used <= limit, 'the standby limit holds');
  return leftOut;
}

function standbyPriorityOf(device: DesiredDevice): number {
  const priority = device.standbyPriority ?? 0;
  return Number.isSafeInteger(priority) ? priority : 0;
}

/** planChain names the μmboxes of a chain for one device (deterministic; see umboxName). */
function planChain(nodeId: string, deviceId: string, deviceNumber: number, generation: number, chain: readonly ImagePin[]): PlannedUmbox[] {
  const occurrences = new Map<string, number>();
  return chain.map((pin, position): PlannedUmbox => {
    const config = { ...(pin.config ?? {}) };
    const content = umboxContent(pin.image, pin.digest, config);
    const occurrence = occurrences.get(content) ?? 0;
    occurrences.set(content, occurrence + 1);
    const name = umboxName(nodeId, deviceNumber, pin.image, pin.digest, config, occurrence);
    return { name, nodeId, deviceId, generation, position, image: pin.image, digest: pin.digest, config, ...umboxPorts(name) };
  });
}

/**
 * checkInput rejects a malformed input as a whole (what no per-device quarantine can express): not an
 * object, no node id, too many devices, missing or repeated device ids, bad options. Returns the standby limit.
 */
export function checkInput(input: DesiredInput, options: PlannerOptions): number {
  if (typeof input !== 'object' || input === null) throw badInput('DesiredInput', 'an object', input);
  if (typeof input.nodeId !== 'string' || input.nodeId.length === 0) throw badInput('DesiredInput.nodeId', 'a non-empty string', input.nodeId);
  if (!Array.isArray(input.devices)) throw badInput('DesiredInput.devices', 'an array', input.devices);
  if (input.devices.length > MAX_DEVICES_PER_NODE) throw badInput('DesiredInput.devices', `at most ${MAX_DEVICES_PER_NODE} devices`, input.devices.length);
  if (!PORT_NAME.test(options.uplinkPort)) throw badInput('PlannerOptions.uplinkPort', 'an interface name (1-15 of A-Z a-z 0-9 _ . : -)', options.uplinkPort);
  const standbyLimit = options.standbyLimit ?? STANDBY_UMBOXES_DEFAULT;
  if (!Number.isSafeInteger(standbyLimit) || standbyLimit < 0 || standbyLimit > MAX_STANDBY_UMBOXES_PER_NODE) {
    throw badInput('PlannerOptions.standbyLimit', `an integer from 0 to ${MAX_STANDBY_UMBOXES_PER_NODE}`, standbyLimit);
  }
  if (input.warm !== undefined) {
    if (!Array.isArray(input.warm) || input.warm.length > MAX_WARM_IMAGES) throw badInput('DesiredInput.warm', `an array of at most ${MAX_WARM_IMAGES} images`, input.warm);
    for (const [index, pin] of input.warm.entries()) {
      if (typeof pin !== 'object' || pin === null) throw badInput(`DesiredInput.warm[${index}]`, 'an object', pin);
      if (checkPin(`DesiredInput.warm[${index}]`, { image: pin.image, digest: pin.digest }) !== null) {
        throw badInput(`DesiredInput.warm[${index}]`, `{ image: ${IMAGE_NAME.source}, digest: "sha256:" and 64 hex digits }`, pin);
      }
    }
  }
  if (input.management !== undefined) checkManagement(input.management, options.uplinkPort);
  const ids = new Set<string>();
  for (const device of input.devices) {
    if (typeof device !== 'object' || device === null) throw badInput('DesiredInput.devices[]', 'objects', device);
    if (typeof device.id !== 'string' || device.id.length === 0) throw badInput('DesiredInput.devices[].id', 'a non-empty string', device.id);
    if (ids.has(device.id)) throw badInput(`DesiredInput.devices[id=${device.id}]`, 'unique device ids', device.id);
    ids.add(device.id);
  }
  return standbyLimit;
}

/** checkManagement rejects a malformed node management port (the node's own configuration, not a device's). */
function checkManagement(management: NodeManagement, uplinkPort: string): void {
  const where = 'DesiredInput.management';
  if (typeof management !== 'object' || management === null) throw badInput(where, 'an object { port, address, mac?, brokerPort }', management);
  if (typeof management.port !== 'string' || !PORT_NAME.test(management.port) || UMBOX_PORT_NAME.test(management.port)) {
    throw badInput(`${where}.port`, 'an interface name (1-15 of A-Z a-z 0-9 _ . : -) not of the μmbox form', management.port);
  }
  if (management.port === uplinkPort) throw badInput(`${where}.port`, 'a port other than the uplink', management.port);
  if (!isIpv4(management.address)) throw badInput(`${where}.address`, 'a dotted-quad IPv4 address', management.address);
  if (management.mac !== undefined && !isMac(management.mac)) throw badInput(`${where}.mac`, 'a MAC address (six hex pairs, colon-separated)', management.mac);
  if (!isTcpPort(management.brokerPort)) throw badInput(`${where}.brokerPort`, 'an integer from 1 to 65535', management.brokerPort);
}

/** cookieOf packs a device number and a plan generation into an OpenFlow cookie. */
export function cookieOf(deviceNumber: number, generation: number): bigint {
  assert(Number.isInteger(deviceNumber) && deviceNumber >= 0 && deviceNumber <= 0xffff_ffff, 'device number is 32-bit');
  assert(Number.isInteger(generation) && generation >= 0 && generation <= MAX_GENERATION, 'generation is 32-bit');
  return (BigInt(deviceNumber) << 32n) | BigInt(generation);
}

/** splitCookie is the inverse of cookieOf. */
export function splitCookie(cookie: bigint): { deviceNumber: number; generation: number } {
  return { deviceNumber: Number(cookie >> 32n), generation: Number(cookie & 0xffff_ffffn) };
}

/**
 * umboxName is the deterministic container name of a μmbox: node, device, and a tag of its content (image,
 * digest, config) and occurrence (the n-th identical μmbox of one chain). The generation is not part of it:
 * the same μmbox of the same device keeps its container across plans, which is what lets a standby
 * container become the chain's without a restart.
 */
export function umboxName(nodeId: string, deviceNumber: number, image: string, digest: string, config: Readonly<Record<string, string>>, occurrence: number): string {
  const contentTag = sha256Hex(`${umboxContent(image, digest, config)}\u0000${occurrence}`).slice(0, 10);
  return `qg-${nodeTag(nodeId)}-${deviceNumber.toString(16).padStart(8, '0')}-${contentTag}-${image}`;
}

/**
 * warmName names a warm-pool container of `image` on `nodeId` (`tag`: random hex). Unlike umboxName it names
 * no device: a claim renames the container to the planned μmbox's name.
 */
export function warmName(nodeId: string, image: string, tag: string): string {
  return `qg-${nodeTag(nodeId)}-warm-${tag}-${image}`;
}

/**
 * umboxOwner is what owns a node's μmbox containers on the container engine — DesiredInput.nodeId, from which
 * their names, their `node` label and their veth names derive: the node's member id ("n1") scoped by its
 * cluster's id ("n1.3fa9c2d1e4b5"). Every test cluster numbers its nodes n1..n3 on one shared engine; without
 * the scope a reconciler of one cluster lists another's (or a crashed run's) containers as its own node's,
 * removes those its plan does not name, and takes a same-named one (same veths) for its own: two clusters
 * fight over them. A bad argument is an error naming it.
 */
export function umboxOwner(memberId: string, clusterIdHex: string): string {
  if (typeof memberId !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(memberId)) throw badInput('umboxOwner memberId', 'a member id (1-64 of A-Z a-z 0-9 _ -)', memberId);
  if (typeof clusterIdHex !== 'string' || !new RegExp(`^[0-9a-f]{${CLUSTER_TAG_HEX_CHARS},}$`).test(clusterIdHex)) {
    throw badInput('umboxOwner clusterIdHex', `a cluster id of at least ${CLUSTER_TAG_HEX_CHARS} lower-case hex digits`, clusterIdHex);
  }
  return `${memberId}.${clusterIdHex.slice(0, CLUSTER_TAG_HEX_CHARS)}`;
}

/**
 * ownsUmbox says whether a container labelled `label` belongs to `owner` (umboxOwner): its own label, or the bare
 * member id the owner is scoped from ("n1" for "n1.3fa9c2d1e4b5") — what nodes labelled their containers by
 * before 2026-12-07. A node upgraded in place then lists its old containers as its own, and its reconciler
 * removes them as unplanned (their names derive from the old label) instead of leaving them running.
 */
export function ownsUmbox(owner: string, label: string): boolean {
  if (label === owner) return true;
  const dot = owner.indexOf('.');
  return dot > 0 && label === owner.slice(0, dot);
}

/** nodeTag is the node's part of its container names. */
function nodeTag(nodeId: string): string {
  return sha256Hex(nodeId).slice(0, 8);
}

/** pinKey is one pinned image as a map key: "image@digest". */
export function pinKey(pin: { image: string; digest: string }): string {
  return `${pin.image}@${pin.digest}`;
}

function umboxContent(image: string, digest: string, config: Readonly<Record<string, string>>): string {
  const entries = Object.entries(config).sort(([a], [b]) => compareStrings(a, b));
  return JSON.stringify([image, digest, entries]);
}

/** umboxPorts are the host-side veth names (≤ 15 characters, a Linux limit) of a μmbox container. */
export function umboxPorts(name: string): { inPort: string; outPort: string } {
  const tag = sha256Hex(name).slice(0, 10);
  return { inPort: `qm${tag}i`, outPort: `qm${tag}o` };
}

function planDevice(nodeId: string, device: DesiredDevice, deviceNumber: number, uplink: string, management: NodeManagement | null): PlannedDevice {
  const plan = device.plan;
  assert(plan !== null, 'planDevice is called with a plan');
  const cookie = cookieOf(deviceNumber, plan.generation);
  const quarantineFlows = quarantine(cookie, device, uplink);
  const managementFlows = management === null || device.management === undefined ? [] : managementPath(cookie, device, management);
  const addresses = device.addresses.map(normalAddress);
  if ('verdict' in plan) {
    const flows = plan.verdict === 'allow' ? [...steer(cookie, device, device.port, uplink, device.port, uplink), ...reportFlows(cookie, device.port)] : quarantineFlows;
    return {
      deviceId: device.id, deviceNumber, port: device.port, addresses, generation: plan.generation, state: plan.state,
      enforcement: plan.verdict, umboxes: [], standby: [], flows, quarantineFlows, managementFlows,
    };
  }
  const umboxes = planChain(nodeId, device.id, deviceNumber, plan.generation, plan.chain);
  const first = umboxes[0];
  const last = umboxes[umboxes.length - 1];
  assert(first !== undefined && last !== undefined, 'a chain plan has at least one μmbox');
  const flows = steer(cookie, device, device.port, first.inPort, last.outPort, uplink);
  for (let position = 0; position + 1 < umboxes.length; position++) {
    const here = umboxes[position];
    const next = umboxes[position + 1];
    assert(here !== undefined && next !== undefined, 'a chain hop has a μmbox on each side');
    flows.push(flow(cookie, here.outPort, '', next.inPort), flow(cookie, next.inPort, '', here.outPort));
  }
  flows.push(...reportFlows(cookie, device.port));
  return {
    deviceId: device.id, deviceNumber, port: device.port, addresses, generation: plan.generation, state: plan.state,
    enforcement: 'chain', umboxes, standby: [], flows, quarantineFlows, managementFlows,
  };
}

/**
 * sourcesOf lists the (IPv4, MAC) source pairs a device may send from, as match prefixes: "nw" for IPv4
 * ("dl_src=…,nw_src=…" or "nw_src=…") and "arp" for ARP ("dl_src=…,arp_spa=…" or "arp_spa=…").
 */
function sourcesOf(device: DesiredDevice): Array<{ ip: string; nw: string; arp: string }> {
  const ips = device.addresses.filter(isIpv4);
  const macs = device.addresses.filter(isMac).map((mac) => mac.toLowerCase());
  const sources: Array<{ ip: string; nw: string; arp: string }> = [];
  for (const ip of ips) {
    if (macs.length === 0) sources.push({ ip, nw: `nw_src=${ip}`, arp: `arp_spa=${ip}` });
    for (const mac of macs) sources.push({ ip, nw: `dl_src=${mac},nw_src=${ip}`, arp: `dl_src=${mac},arp_spa=${ip}` });
  }
  return sources;
}

/**
 * reportFlows drop and report IPv4 and ARP arriving on a device's port from a source it does not own (its
 * own sources match the plan's flows, above). Other frames from the port are dropped by the table miss,
 * unreported: a registered device's own link-local chatter is no discovery.
 */
function reportFlows(cookie: bigint, port: string): FlowSpec[] {
  return ['ip', 'arp'].map((match): FlowSpec => ({ cookie, priority: DEVICE_REPORT_PRIORITY, inPort: port, match, output: null, report: true }));
}

/** managementPath is the device's part of the management path (see the head of this file). */
function managementPath(cookie: bigint, device: DesiredDevice, management: NodeManagement): FlowSpec[] {
  const wanted = device.management;
  assert(wanted !== undefined, 'managementPath is called for a device with management');
  const m = management.port;
  const a = management.address;
  const fromManagement = management.mac === undefined ? '' : `dl_src=${management.mac.toLowerCase()},`;
  const flows: FlowSpec[] = [];
  const open = (inPort: string, match: string, output: string): void => {
    flows.push({ cookie, priority: MANAGEMENT_FLOW_PRIORITY, inPort, match, output });
  };
  for (const source of sourcesOf(device)) {
    open(device.port, `arp,${source.arp},arp_tpa=${a}`, m);
    if (wanted.broker) open(device.port, `tcp,${source.nw},nw_dst=${a},tp_dst=${management.brokerPort}`, m);
    for (const port of wanted.tcpPorts) open(device.port, `tcp,${source.nw},nw_dst=${a},tp_src=${port}`, m);
  }
  for (const ip of device.addresses.filter(isIpv4)) {
    open(m, `arp,${fromManagement}arp_spa=${a},arp_tpa=${ip}`, device.port);
    if (wanted.broker) open(m, `tcp,${fromManagement}nw_src=${a},nw_dst=${ip},tp_src=${management.brokerPort}`, device.port);
    for (const port of wanted.tcpPorts) open(m, `tcp,${fromManagement}nw_src=${a},nw_dst=${ip},tp_dst=${port}`, device.port);
  }
  // Anything else of the device's towards the management address goes nowhere (not even up the uplink).
  flows.push({ cookie, priority: MANAGEMENT_GUARD_PRIORITY, inPort: device.port, match: `ip,nw_dst=${a}`, output: null });
  return flows;
}

/**
 * steer builds the flows at both ends of a path: from the device port to `towardUplink`, from `fromUplinkSide`
 * (the last hop before the uplink) to the uplink, from the uplink to `fromUplinkSide`, and from `towardUplink`
 * back to the device. For `allow` both hops are the device and the uplink themselves.
 */
function steer(cookie: bigint, device: DesiredDevice, port: string, towardUplink: string, fromUplinkSide: string, uplink: string): FlowSpec[] {
  const flows: FlowSpec[] = [];
  for (const source of sourcesOf(device)) flows.push(flow(cookie, port, `ip,${source.nw}`, towardUplink), flow(cookie, port, `arp,${source.arp}`, towardUplink));
  for (const address of device.addresses.filter(isIpv4)) {
    flows.push(flow(cookie, uplink, `ip,nw_dst=${address}`, fromUplinkSide), flow(cookie, uplink, `arp,arp_tpa=${address}`, fromUplinkSide));
  }
  if (towardUplink !== uplink) {
    // Through a chain: what leaves the last μmbox upstream goes to the uplink, what leaves the first one
    // towards the device goes to the device.
    flows.push(flow(cookie, fromUplinkSide, '', uplink), flow(cookie, towardUplink, '', port));
  }
  return flows;
}

function quarantine(cookie: bigint, device: DesiredDevice, uplink: string): FlowSpec[] {
  const flows = [dropFlow(cookie, device.port, '')];
  for (const address of device.addresses.filter(isIpv4)) {
    flows.push(dropFlow(cookie, uplink, `ip,nw_dst=${address}`), dropFlow(cookie, uplink, `arp,arp_tpa=${address}`));
  }
  return flows;
}

function quarantinedDevice(device: DesiredDevice, deviceNumber: number, flows: FlowSpec[]): PlannedDevice {
  return {
    deviceId: device.id, deviceNumber, port: String(device.port), addresses: Array.isArray(device.addresses) ? device.addresses.map(String) : [],
    generation: 0, state: null, enforcement: 'quarantine',
    umboxes: [], standby: [], flows, quarantineFlows: flows, managementFlows: [],
  };
}

function flow(cookie: bigint, inPort: string, match: string, output: string): FlowSpec {
  return { cookie, priority: DEVICE_FLOW_PRIORITY, inPort, match, output };
}

function dropFlow(cookie: bigint, inPort: string, match: string): FlowSpec {
  return { cookie, priority: DEVICE_FLOW_PRIORITY, inPort, match, output: null };
}

/**
 * baseFlowsFor lists the node's own flows: the table-miss drop (the bridge's fail-closed default) and, with a
 * management port, the drop of everything from it that no device's management flow passes.
 */
export function baseFlowsFor(management: NodeManagement | null = null): FlowSpec[] {
  const flows: FlowSpec[] = [{ cookie: 0n, priority: BASE_DROP_PRIORITY, inPort: '', match: '', output: null }];
  if (management !== null) flows.push({ cookie: 0n, priority: MANAGEMENT_GUARD_PRIORITY, inPort: management.port, match: '', output: null });
  return flows;
}

/**
 * unknownPortFlows reports (and drops) everything arriving on a port of the bridge that no device owns: one
 * catch-all report flow below every other flow, so a port plugged in (or added to the bridge) reports at once,
 * without waiting for a pass that lists the bridge's ports. The uplink is dropped above it without a report;
 * the management port has its guard (MANAGEMENT_GUARD_PRIORITY); a registered device's own frames that none
 * of its flows match reach the catch-all too, and the state ignores a discovery on a registered port; μmbox
 * and pool ports are left to the discovery monitor, which ignores their names (UMBOX_PORT_NAME). The flows
 * depend on the uplink alone, so an incremental pass (composeChanges) and a full one agree; `portNames` is
 * kept for the callers that list the bridge.
 */
export function unknownPortFlows(desired: DesiredDataplane, portNames: Iterable<string> = []): FlowSpec[] {
  void portNames;
  return [
    { cookie: 0n, priority: UNKNOWN_PORT_REPORT_PRIORITY, inPort: '', match: '', output: null, report: true },
    { cookie: 0n, priority: UNKNOWN_PORT_REPORT_PRIORITY + 1, inPort: desired.uplinkPort, match: '', output: null },
  ];
}

/** checkDevice returns why a device cannot be planned (null when it can); it does not change the sets. */
function checkDevice(device: DesiredDevice, ports: Set<string>, addresses: Set<string>): string | null {
  const where = `device ${JSON.stringify(device.id)}`;
  if (typeof device.port !== 'string' || !PORT_NAME.test(device.port)) {
    return `${where}: port: expected an interface name (1-15 of A-Z a-z 0-9 _ . : -), got ${JSON.stringify(device.port)}`;
  }
  if (ports.has(device.port)) return `${where}: port ${device.port} is already the uplink or another device's port`;
  if (UMBOX_PORT_NAME.test(device.port)) return `${where}: port ${device.port} has the form of a μmbox port (qm or qp + 10 hex + i/o), which the node reserves`;
  if (!Array.isArray(device.addresses) || device.addresses.length === 0 || device.addresses.length > MAX_ADDRESSES_PER_DEVICE) {
    return `${where}: addresses: expected 1 to ${MAX_ADDRESSES_PER_DEVICE} IPv4 (and MAC) addresses, got ${JSON.stringify(device.addresses)}`;
  }
  const own = new Set<string>();
  for (const address of device.addresses) {
    if (!isIpv4(address) && !isMac(address)) return `${where}: addresses: expected dotted-quad IPv4 or colon-separated MAC addresses, got ${JSON.stringify(address)}`;
    const normal = normalAddress(address);
    if (addresses.has(normal) || own.has(normal)) return `${where}: address ${normal} is already another device's or the management address`;
    own.add(normal);
  }
  if (!device.addresses.some(isIpv4)) return `${where}: addresses: expected at least one IPv4 address, got ${JSON.stringify(device.addresses)}`;
  if (device.management !== undefined) {
    const problem = checkDeviceManagement(where, device.management);
    if (problem !== null) return problem;
  }
  if (device.plan === null) return `${where}: no plan yet`;
  return checkPlan(where, device.plan);
}

function checkDeviceManagement(where: string, management: DesiredDevice['management']): string | null {
  if (typeof management !== 'object' || management === null) return `${where}: management: expected { tcpPorts, broker }, got ${JSON.stringify(management)}`;
  if (typeof management.broker !== 'boolean') return `${where}: management.broker: expected true or false, got ${JSON.stringify(management.broker)}`;
  const ports: unknown = management.tcpPorts;
  if (!Array.isArray(ports) || ports.length > MAX_MANAGEMENT_TCP_PORTS || !ports.every(isTcpPort) || new Set(ports).size !== ports.length) {
    return `${where}: management.tcpPorts: expected at most ${MAX_MANAGEMENT_TCP_PORTS} distinct integers from 1 to 65535, got ${JSON.stringify(ports)}`;
  }
  return null;
}

function checkPlan(where: string, plan: DevicePlan): string | null {
  if (!Number.isSafeInteger(plan.generation) || plan.generation < 1 || plan.generation > MAX_GENERATION) {
    return `${where}: plan.generation: expected an integer from 1 to ${MAX_GENERATION}, got ${JSON.stringify(plan.generation)}`;
  }
  if ('verdict' in plan) {
    return plan.verdict === 'allow' || plan.verdict === 'quarantine'
      ? null : `${where}: plan.verdict: expected "allow" or "quarantine", got ${JSON.stringify(plan.verdict)}`;
  }
  return checkChain(`${where}: plan`, plan.chain);
}

function checkChain(where: string, chain: readonly ImagePin[]): string | null {
  if (!Array.isArray(chain) || chain.length === 0 || chain.length > MAX_CHAIN_LENGTH) {
    return `${where}.chain: expected 1 to ${MAX_CHAIN_LENGTH} images, got ${JSON.stringify(chain)}`;
  }
  for (const [index, pin] of chain.entries()) {
    const problem = checkPin(`${where}.chain[${index}]`, pin);
    if (problem !== null) return problem;
  }
  return null;
}

function checkPin(where: string, pin: ImagePin): string | null {
  if (typeof pin.image !== 'string' || !IMAGE_NAME.test(pin.image)) return `${where}.image: expected ${IMAGE_NAME.source}, got ${JSON.stringify(pin.image)}`;
  if (typeof pin.digest !== 'string' || !DIGEST.test(pin.digest)) return `${where}.digest: expected "sha256:" and 64 hex digits, got ${JSON.stringify(pin.digest)}`;
  for (const [key, value] of Object.entries(pin.config ?? {})) {
    if (!CONFIG_KEY.test(key)) return `${where}.config: key expected ${CONFIG_KEY.source}, got ${JSON.stringify(key)}`;
    if (typeof value !== 'string' || value.length > MAX_CONFIG_VALUE_CHARS || /[\n\r\0]/.test(value)) {
      return `${where}.config.${key}: expected one line of at most ${MAX_CONFIG_VALUE_CHARS} characters, got ${JSON.stringify(value)}`;
    }
  }
  return null;
}

/** isMac accepts MAC addresses as six colon-separated hex pairs (either case). */
export function isMac(text: unknown): text is string {
  return typeof text === 'string' && /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/.test(text);
}

/** normalAddress is an address as flows spell it: MACs in lower case, IPv4 as given. */
function normalAddress(address: string): string {
  return isMac(address) ? address.toLowerCase() : address;
}

function isTcpPort(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

/** isIpv4 accepts dotted-quad IPv4 addresses without leading zeros. */
export function isIpv4(text: unknown): text is string {
  if (typeof text !== 'string') return false;
  const parts = text.split('.');
  return parts.length === 4 && parts.every((part) => /^(0|[1-9][0-9]{0,2})$/.test(part) && Number(part) <= 255);
}

/**
 * assignDeviceNumbers gives each id the first 32 bits of its SHA-256 (never 0); on a collision the later id
 * (in sorted order) takes the next free number, so numbers depend only on the set of ids.
 */
export function assignDeviceNumbers(sortedIds: readonly string[]): Map<string, number> {
  const taken = new Set<number>();
  const numbers = new Map<string, number>();
  for (const id of sortedIds) {
    let number = Number.parseInt(sha256Hex(id).slice(0, 8), 16) || 1;
    for (let probe = 0; taken.has(number); probe++) {
      assert(probe < sortedIds.length, 'a free device number exists within n probes');
      number = number === 0xffff_ffff ? 1 : number + 1;
    }
    taken.add(number);
    numbers.set(id, number);
  }
  return numbers;
}

/**
 * sha256Hex is memoized: a node plans the same device ids and μmbox names on every pass, and hashing them
 * was most of the planner's time at 1,000 devices. The memo is a pure cache (same answer either way),
 * bounded by clearing it when full.
 */
function sha256Hex(text: string): string {
  let hex = HASH_MEMO.get(text);
  if (hex === undefined) {
    hex = createHash('sha256').update(text, 'utf8').digest('hex');
    if (HASH_MEMO.size >= HASH_MEMO_ENTRIES) HASH_MEMO.clear();
    HASH_MEMO.set(text, hex);
  }
  return hex;
}

const HASH_MEMO_ENTRIES = 100_000;
const HASH_MEMO = new Map<string, string>();

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
