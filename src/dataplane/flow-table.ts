// flow-table.ts — the data plane's flow table as pure functions (no I/O, no clock): compose a device's
// flows from its plan and the bridge's port numbers (composeDevice, composeTable), re-compose only what
// changed since the last pass (composeChanges), render FlowSpecs to OpenFlow text (renderFlow, flowText),
// diff a desired table against a dumped one (diffFlows), drop devices at the switch ahead of a block-all
// chain (blockingEarly, blockNow), and split a change for make-before-break in the datapath (holdForDrain:
// the flows out of an old chain outlive the bundle that moves its device; Reconciler.drainOldChains).
// The reconciler (reconciler.ts) drives the switch with what these return; test/dataplane/flow-table.test.ts
// and flows.test.ts check them on their own.
import { REPORT_ACTIONS } from './constants.js';
import { flowKey, type FlowChange, type SwitchPortInfo } from './ovs.js';
import { splitCookie, unknownPortFlows, UMBOX_PORT_NAME } from './planner.js';
import type { DesiredDataplane, DeviceReport, FlowSpec, ObservedFlow, PlannedDevice, PlannedUmbox } from './types.js';
import { assert } from './errors.js';

/** BLOCK_ALL_IMAGE is the μmbox that forwards nothing (deploy/umbox/block-all): a chain with it drops everything. */
const BLOCK_ALL_IMAGE = 'block-all';

/**
 * blockingEarly lists the devices whose plan is a chain that drops all traffic (it has a block-all μmbox)
 * and must start some of its μmboxes: they are dropped at the switch before the starts (step 1).
 */
export function blockingEarly(desired: DesiredDataplane, toStart: ReadonlyArray<{ umbox: PlannedUmbox }>, blocked: ReadonlyMap<string, string>): PlannedDevice[] {
  const starting = new Set(toStart.map((item) => item.umbox.deviceId));
  return desired.devices.filter((device) => device.enforcement === 'chain' && starting.has(device.deviceId) && !blocked.has(device.deviceId)
    && device.umboxes.some((umbox) => umbox.image === BLOCK_ALL_IMAGE));
}

/**
 * blockNow replaces, in `table` (what the switch holds, updated in place), every flow of the given devices
 * (found by the device number in their cookies) with the devices' quarantine flows; returns the change that
 * does it on the switch and each device's composition (its report says why it is quarantined).
 */
export function blockNow(devices: readonly PlannedDevice[], ports: readonly SwitchPortInfo[], uplink: string, bridge: string, table: Map<string, RenderedFlow>,
  previous?: ReadonlyMap<string, ComposedDevice>): { change: FlowChange; composed: Map<string, ComposedDevice> } {
  const ofports = resolvedPorts(ports);
  const composed = new Map<string, ComposedDevice>();
  const incoming = new Map<string, RenderedFlow>();
  for (const device of devices) {
    const reason = `its chain (${device.umboxes.map((umbox) => umbox.image).join(' → ')}) drops everything: dropped at the switch while its μmboxes start`;
    const one = composeDevice(device, ofports, reason, deviceSignature(device, ofports, uplink, reason), bridge);
    composed.set(device.deviceId, one);
    for (const flow of one.flows) incoming.set(flow.key, flow);
  }
  // A device's flows: those whose cookie carries its number, and (from the cache) those its last composition
  // installed — its number may have changed since (planner.ts assignDeviceNumbers resolves collisions).
  const numbers = new Set(devices.map((device) => device.deviceNumber));
  const composedKeys = new Set(devices.flatMap((device) => previous?.get(device.deviceId)?.flows.map((flow) => flow.key) ?? []));
  const remove: string[] = [];
  for (const [key, flow] of table) {
    if (incoming.has(key) || !(composedKeys.has(key) || (flow.cookie !== 0n && numbers.has(splitCookie(flow.cookie).deviceNumber)))) continue;
    remove.push(removalText(flow));
    table.delete(key);
  }
  const add: string[] = [];
  for (const [key, flow] of incoming) {
    const current = table.get(key);
    if (differs(current, flow)) add.push(flowText(flow));
    table.set(key, flow);
  }
  return { change: { add, remove }, composed };
}

/** tableOf indexes dumped flows by flow key, as a rendered table. */
export function tableOf(flows: readonly ObservedFlow[]): Map<string, RenderedFlow> {
  return new Map(flows.map((flow) => {
    const key = flowKey(flow.priority, flow.match);
    return [key, { key, cookie: flow.cookie, priority: flow.priority, match: flow.match, actions: flow.actions }];
  }));
}

/** ComposedDevice is one device's part of the flow table, with what it was composed from (its signature). */
export interface ComposedDevice {
  /** signature names everything the device's flows depend on: plan, ports and their numbers, blocking. */
  signature: string;
  flows: readonly RenderedFlow[];
  report: DeviceReport;
  /** inUse names the μmboxes these flows send traffic through. */
  inUse: readonly string[];
}

/**
 * composeDevice renders one device's flows (pure): its plan's flows when nothing blocks it and all its ports
 * are on the bridge, its quarantine flows otherwise.
 */
export function composeDevice(device: PlannedDevice, ofports: ReadonlyMap<string, number>, reason: string | null, signature: string, bridge: string): ComposedDevice {
  // The management path is the same in every state; it waits only for its ports (device and management).
  const management = renderAll(device.managementFlows, ofports) ?? [];
  const planFlows = reason === null ? renderAll(device.flows, ofports) : null;
  if (planFlows !== null) {
    return {
      signature, flows: [...planFlows, ...management], report: report(device, device.generation, device.enforcement, null), inUse: device.umboxes.map((umbox) => umbox.name),
    };
  }
  const flows = device.quarantineFlows.map((flow) => renderFlow(flow, ofports)).filter((flow): flow is RenderedFlow => flow !== null);
  return { signature, flows: [...flows, ...management], report: report(device, null, 'quarantine', reason ?? `a port of the plan is not on bridge ${bridge}`), inUse: [] };
}

/** deviceSignature is what a device's composition depends on; equal signatures give equal flows. */
function deviceSignature(device: PlannedDevice, ofports: ReadonlyMap<string, number>, uplink: string, reason: string | null): string {
  const numbers = [device.port, uplink];
  for (const umbox of device.umboxes) numbers.push(umbox.inPort, umbox.outPort);
  // The management flows depend on the node's management port and address too: they are part of the signature.
  const management = device.managementFlows.map((flow) => `${flow.inPort}>${flow.match}>${flow.output ?? 'drop'}@${ofports.get(flow.inPort) ?? -1}`).join(';');
  return [
    device.deviceNumber, device.generation, device.enforcement, device.port, device.addresses.join(' '),
    numbers.map((name) => ofports.get(name) ?? -1).join(' '), device.umboxes.map((umbox) => umbox.name).join(' '), reason ?? '', management,
  ].join('|');
}

/** resolvedPorts maps the names of the ports with an OpenFlow number (aliases included) to it. */
function resolvedPorts(ports: readonly SwitchPortInfo[]): Map<string, number> {
  return new Map(ports.filter((port) => port.ofport > 0).map((port) => [port.name, port.ofport]));
}

/** reasonFor says why a device is quarantined this pass (blocked in step 1, or a plan problem); null when it is not. */
function reasonFor(deviceId: string, blocked: ReadonlyMap<string, string>, problems: ReadonlyMap<string, string>): string | null {
  return blocked.get(deviceId) ?? problems.get(deviceId) ?? null;
}

/**
 * composeTable is the whole desired flow table with ports resolved (pure): each device composed by
 * composeDevice, plus the node's base flows. Returns the table, each device's composition (reports and the
 * μmboxes in use among them) and, for convenience, the reports and the μmboxes the table uses.
 */
export function composeTable(desired: DesiredDataplane, ports: readonly SwitchPortInfo[], blocked: ReadonlyMap<string, string>, bridge: string): {
  table: Map<string, RenderedFlow>; composed: Map<string, ComposedDevice>; reports: Map<string, DeviceReport>; inUse: Set<string>;
} {
  const ofports = resolvedPorts(ports);
  const problems = new Map(desired.problems.map((problem) => [problem.deviceId, problem.message]));
  const table = new Map<string, RenderedFlow>();
  for (const flow of desired.baseFlows) addRendered(table, renderFlow(flow, ofports));
  // Ports no device owns report what arrives (a full pass finds them; passes from the cache keep what it installed).
  for (const flow of unknownPortFlows(desired, ofports.keys())) addRendered(table, renderFlow(flow, ofports));
  const composed = new Map<string, ComposedDevice>();
  const reports = new Map<string, DeviceReport>();
  const inUse = new Set<string>();
  for (const device of desired.devices) {
    const reason = reasonFor(device.deviceId, blocked, problems);
    const one = composeDevice(device, ofports, reason, deviceSignature(device, ofports, desired.uplinkPort, reason), bridge);
    for (const flow of one.flows) addRendered(table, flow);
    for (const name of one.inUse) inUse.add(name);
    composed.set(device.deviceId, one);
    reports.set(device.deviceId, one.report);
  }
  return { table, composed, reports, inUse };
}

/**
 * composeChanges is composeTable for a table known to hold exactly `previousTable`, composed as
 * `previous`: only devices whose signature changed (or that came or went) are rendered, and the change is
 * their old flows out, their new flows in. Returns the new table (`previousTable`, updated in place: the
 * caller no longer trusts it if the bundle fails), the compositions and the FlowChange.
 */
export function composeChanges(desired: DesiredDataplane, ports: readonly SwitchPortInfo[], blocked: ReadonlyMap<string, string>, bridge: string,
  previous: ReadonlyMap<string, ComposedDevice>, previousTable: Map<string, RenderedFlow>): {
  table: Map<string, RenderedFlow>; composed: Map<string, ComposedDevice>; change: FlowChange; removed: RenderedFlow[];
} {
  const ofports = resolvedPorts(ports);
  const problems = new Map(desired.problems.map((problem) => [problem.deviceId, problem.message]));
  const composed = new Map<string, ComposedDevice>();
  const outgoing = new Set<string>(); // keys of flows of changed or departed devices
  const incoming = new Map<string, RenderedFlow>();
  for (const device of desired.devices) {
    const reason = reasonFor(device.deviceId, blocked, problems);
    const signature = deviceSignature(device, ofports, desired.uplinkPort, reason);
    const before = previous.get(device.deviceId);
    if (before !== undefined && before.signature === signature) {
      composed.set(device.deviceId, before);
      continue;
    }
    const one = composeDevice(device, ofports, reason, signature, bridge);
    composed.set(device.deviceId, one);
    for (const flow of before?.flows ?? []) outgoing.add(flow.key);
    for (const flow of one.flows) {
      assert(!incoming.has(flow.key), `two desired flows share match ${flow.key}`);
      incoming.set(flow.key, flow);
    }
  }
  for (const [deviceId, before] of previous) {
    if (!composed.has(deviceId)) for (const flow of before.flows) outgoing.add(flow.key);
  }
  const add: string[] = [];
  const remove: string[] = [];
  const removed: RenderedFlow[] = [];
  for (const [key, flow] of incoming) {
    const current = previousTable.get(key);
    // The planner never gives two devices the same match: a key taken in the table must be one this pass takes out.
    assert(current === undefined || outgoing.has(key) || !differs(current, flow), `two desired flows share match ${key}`);
    if (differs(current, flow)) add.push(flowText(flow));
    previousTable.set(key, flow);
  }
  for (const key of outgoing) {
    if (incoming.has(key)) continue;
    const current = previousTable.get(key);
    if (current === undefined) continue;
    remove.push(removalText(current));
    removed.push(current);
    previousTable.delete(key);
  }
  // The node's own flows (cookie 0: the table-miss drop, the management guard, the discovery catch-all and
  // the uplink's drop) follow the ports too: one whose port appeared since the last full pass is added now.
  const own = new Map<string, RenderedFlow>();
  for (const flow of [...desired.baseFlows, ...unknownPortFlows(desired)]) {
    const rendered = renderFlow(flow, ofports);
    if (rendered !== null) own.set(rendered.key, rendered);
  }
  for (const [key, flow] of own) {
    if (!differs(previousTable.get(key), flow)) continue;
    add.push(flowText(flow));
    previousTable.set(key, flow);
  }
  for (const [key, flow] of [...previousTable]) {
    if (flow.cookie !== 0n || own.has(key)) continue;
    remove.push(removalText(flow));
    removed.push(flow);
    previousTable.delete(key);
  }
  return { table: previousTable, composed, change: { add, remove }, removed };
}

/** report is a device's enforcement report. */
function report(device: PlannedDevice, appliedGeneration: number | null, enforcement: DeviceReport['enforcement'], reason: string | null): DeviceReport {
  return { deviceId: device.deviceId, desiredGeneration: device.generation, appliedGeneration, enforcement, reason };
}

/** RenderedFlow is a FlowSpec with its ports resolved to OpenFlow port numbers. */
export interface RenderedFlow {
  key: string;
  cookie: bigint;
  priority: number;
  match: string;
  actions: string;
}

/** renderFlow resolves a FlowSpec's port names; null when a port is not on the bridge. */
export function renderFlow(flow: FlowSpec, ofports: ReadonlyMap<string, number>): RenderedFlow | null {
  const fields: string[] = [];
  if (flow.inPort !== '') {
    const inPort = ofports.get(flow.inPort);
    if (inPort === undefined) return null;
    fields.push(`in_port=${inPort}`);
  }
  if (flow.match !== '') fields.push(...flow.match.split(','));
  let actions = 'drop';
  if (flow.report === true) {
    actions = REPORT_ACTIONS;
  } else if (flow.output !== null) {
    const output = ofports.get(flow.output);
    if (output === undefined) return null;
    actions = `output:${output}`;
  }
  const match = fields.join(',');
  return { key: flowKey(flow.priority, match), cookie: flow.cookie, priority: flow.priority, match, actions };
}

/** renderAll renders every flow, or null when one of them names a port not on the bridge. */
function renderAll(flows: readonly FlowSpec[], ofports: ReadonlyMap<string, number>): RenderedFlow[] | null {
  const rendered: RenderedFlow[] = [];
  for (const flow of flows) {
    const one = renderFlow(flow, ofports);
    if (one === null) return null;
    rendered.push(one);
  }
  return rendered;
}

/** addRendered puts a rendered flow in the table (a flow whose port is missing is left out). */
function addRendered(table: Map<string, RenderedFlow>, flow: RenderedFlow | null): void {
  if (flow === null) return;
  // The planner never gives two flows the same match and priority (ports and addresses are unique).
  assert(!table.has(flow.key), `two desired flows share match ${flow.key}`);
  table.set(flow.key, flow);
}

/** flowText is a rendered flow as ovs-ofctl reads it. */
export function flowText(flow: RenderedFlow): string {
  return `cookie=0x${flow.cookie.toString(16)},${removalText(flow)} actions=${flow.actions}`;
}

/** removalText names a flow for `delete_strict`: its priority and match. */
export function removalText(flow: { priority: number; match: string }): string {
  return `priority=${flow.priority}${flow.match === '' ? '' : `,${flow.match}`}`;
}

/** differs says whether the switch must (re)install `flow` over what holds its match now (`current`). */
export function differs(current: { cookie: bigint; actions: string } | undefined, flow: RenderedFlow): boolean {
  return current === undefined || current.cookie !== flow.cookie || current.actions !== flow.actions;
}

/** diffFlows lists what to add (missing or different) and what to delete (not desired) to make `observed` equal `desired`. */
export function diffFlows(desired: ReadonlyMap<string, RenderedFlow>, observed: readonly ObservedFlow[]): FlowChange {
  const seen = new Map<string, ObservedFlow>();
  const remove: string[] = [];
  for (const flow of observed) {
    const key = flowKey(flow.priority, flow.match);
    seen.set(key, flow);
    if (!desired.has(key)) remove.push(removalText(flow));
  }
  const add: string[] = [];
  for (const [key, flow] of desired) {
    const current = seen.get(key);
    if (differs(current, flow)) add.push(flowText(flow));
  }
  return { add, remove };
}

/** IN_PORT finds a flow match's in_port number. */
const IN_PORT = /(?:^|,)in_port=(\d+)(?:,|$)/;

/**
 * holdForDrain splits a flow change (pure): the flows it removes that lead OUT of a μmbox (their in_port is
 * one of `umboxPorts`, the numbers of μmbox and pool ports) of a device whose new composition still passes
 * traffic (`passing`, device numbers) are held back — removed after the drain (Reconciler.drainOldChains) —
 * and the rest is the change to apply now. A device now quarantined keeps none: what is inside its old chain
 * is dropped at once (fail-closed). `removed` are the flows the change removes, with their cookies.
 */
export function holdForDrain(change: FlowChange, removed: ReadonlyArray<{ cookie: bigint; priority: number; match: string }>, umboxPorts: ReadonlySet<number>,
  passing: ReadonlySet<number>): { now: FlowChange; held: string[] } {
  const held = new Set<string>();
  for (const flow of removed) {
    if (flow.cookie === 0n || !passing.has(splitCookie(flow.cookie).deviceNumber)) continue;
    const inPort = IN_PORT.exec(flow.match)?.[1];
    if (inPort !== undefined && umboxPorts.has(Number(inPort))) held.add(removalText(flow));
  }
  if (held.size === 0) return { now: change, held: [] };
  const now = { add: change.add, remove: change.remove.filter((text) => !held.has(text)) };
  assert(now.remove.length + held.size === change.remove.length, 'every held flow is one the change removes');
  return { now, held: [...held] };
}

/**
 * settleDrained ends, in a pass's bundle, the drain of flows out of old chains that an earlier pass held and
 * left on the switch because new input arrived during their drain (Reconciler.drainOldChains; their drain is
 * over): one that the new `table` holds again (its device is back on that chain) is overwritten in place by
 * an addition — never deleted and added again a moment apart, which Open vSwitch's revalidators may catch in
 * either order, leaving the datapath to send the device's packets into the chain before the way out of it is
 * back (swap.test.ts lost a datagram so with swaps closer together than DRAIN_MS) — and the others are
 * removed in the same bundle. Pure: returns the change to apply.
 */
export function settleDrained(change: FlowChange, drained: ReadonlyArray<{ priority: number; match: string }>, table: ReadonlyMap<string, RenderedFlow>): FlowChange {
  if (drained.length === 0) return change;
  const add = [...change.add];
  const remove = [...change.remove];
  const adding = new Set(add);
  const removing = new Set(remove);
  for (const flow of drained) {
    const wanted = table.get(flowKey(flow.priority, flow.match));
    if (wanted === undefined) {
      const text = removalText(flow);
      if (!removing.has(text)) remove.push(text);
      removing.add(text);
      continue;
    }
    // A bundle adds first and deletes last: a flow it adds must not be one it deletes.
    assert(!removing.has(removalText(wanted)), `a drained flow the table wants again is not also removed: ${wanted.key}`);
    const text = flowText(wanted);
    if (!adding.has(text)) add.push(text);
    adding.add(text);
  }
  return { add, remove };
}

/** umboxPortNumbers are the OpenFlow numbers of the μmbox and pool ports among `ports` (aliases included). */
export function umboxPortNumbers(ports: readonly SwitchPortInfo[]): Set<number> {
  return new Set(ports.filter((port) => port.ofport > 0 && UMBOX_PORT_NAME.test(port.name)).map((port) => port.ofport));
}

/** passingDevices are the numbers of the devices whose composition passes traffic (anything but quarantine). */
export function passingDevices(desired: DesiredDataplane, composed: ReadonlyMap<string, ComposedDevice>): Set<number> {
  return new Set(desired.devices.filter((device) => composed.get(device.deviceId)?.report.enforcement !== 'quarantine').map((device) => device.deviceNumber));
}
