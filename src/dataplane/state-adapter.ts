// state-adapter.ts — turns the agreed state (src/state's StateMachine) into the data plane's input for one
// node: the devices this node serves, their ports and addresses, and each one's plan with a generation.
//
// The state machine has no plan generation of its own (it reports state and since-when), so a
// GenerationBook numbers plans here: a device's generation goes up by one whenever its plan's content or
// its state entry time changes. The numbering lives in memory: after a node restart generations start
// again at 1, which renames (and so restarts, make-before-break) every μmbox once. A generation kept in
// the replicated state (e.g. the log index of the device's last plan change) would avoid that. (μmbox
// names do not carry the generation, so a restart renames no container: the new generation's plan names
// the μmboxes that already run.)
//
// Standby: when the view exposes the domain's device types (rules and states, as StateMachine does), each
// device also gets the chains of the states its type's rules can move it to from its current state
// (`from` its state or `any`), in rule order, so the reconciler can start them ahead of time. A device
// already out of its type's initial state gets standby priority 1: it is the likelier to move again.
//
// Management: a device registered with an `interface` (docs/devices.md) gets the management path its
// protocol needs: `mqtt` → the device connects to the gateway's broker; `http-json` and `hue` → the gateway
// connects to the port of the endpoint's URL (80 by default, 443 for https) and, for http-json, of
// options.commandUrl. The node's own management port comes from the node (DesiredInputOptions.management).
import { MAX_DEVICES_PER_NODE, MAX_GENERATION, MAX_WARM_IMAGES } from './constants.js';
import { pinKey } from './planner.js';
import type { DesiredDevice, DesiredInput, DeviceManagement, DevicePlan, ImagePin, NodeManagement, StandbyPlan } from './types.js';
import { assert } from './errors.js';

/** StatePlan is a device's plan as the state machine reports it (src/state DevicePlan). */
export type StatePlan = { deviceId: string; state: string; sinceMs: number } & (
  | { chain: ReadonlyArray<{ name: string; digest: string }> }
  | { verdict: 'allow' | 'quarantine' }
);

/** StandbyDeviceType is what standby planning reads of a device type (the validated policy document has it all). */
export interface StandbyDeviceType {
  name: string;
  initialState?: string;
  states: ReadonlyArray<{ name: string; chain: ReadonlyArray<{ name: string; digest: string }> } | { name: string; verdict: 'allow' | 'quarantine' }>;
  rules?: ReadonlyArray<{ from: string; to: string }>;
}

/**
 * DeviceInterfaceView is what the data plane reads of a device's registered interface (DeviceSpec.interface:
 * protocol, endpoint, credentialRef, options); read structurally, so the registration may carry more.
 */
export interface DeviceInterfaceView {
  protocol: string;
  endpoint?: string;
  options?: Readonly<Record<string, string>>;
}

/** StateView is the part of the state machine the data plane reads. */
export interface StateView {
  devices(filter: { nodeId?: string }): ReadonlyArray<{
    id: string; nodeId: string; port: string; addresses: readonly string[]; domain?: string; type?: string; interface?: DeviceInterfaceView | null;
  }>;
  devicePlan(id: string): StatePlan | undefined;
  /** deviceTypes, when present, lets the adapter plan standby μmboxes (rule targets of each device's state). */
  deviceTypes?(domain: string): readonly StandbyDeviceType[];
}

/** ImageConfig gives a μmbox its configuration on this node (policy pins images; it does not configure them). */
export type ImageConfig = (image: string, deviceId: string) => Readonly<Record<string, string>>;

/** GenerationBook numbers each device's successive plans 1, 2, 3, … (bounded: forgets devices no longer served). */
export class GenerationBook {
  private readonly entries = new Map<string, { fingerprint: string; generation: number }>();

  /** generationFor returns the generation of `fingerprint`, a new one if it differs from the device's last. */
  generationFor(deviceId: string, fingerprint: string): number {
    const last = this.entries.get(deviceId);
    if (last !== undefined && last.fingerprint === fingerprint) return last.generation;
    const generation = (last?.generation ?? 0) + 1;
    assert(generation <= MAX_GENERATION, 'a device has at most 2^32-1 plan generations');
    this.entries.set(deviceId, { fingerprint, generation });
    return generation;
  }

  /** retain forgets every device not in `deviceIds`. */
  retain(deviceIds: ReadonlySet<string>): void {
    for (const id of [...this.entries.keys()]) if (!deviceIds.has(id)) this.entries.delete(id);
    assert(this.entries.size <= MAX_DEVICES_PER_NODE, 'the book is bounded by the devices served');
  }
}

/** DesiredInputOptions are the node's own parts of its input. */
export interface DesiredInputOptions {
  /** management is the node's management port (absent: the node talks to no device). */
  management?: NodeManagement;
  /**
   * owner is the input's nodeId, what owns the node's μmbox containers on the engine (umboxOwner: the member
   * id scoped by the cluster), when it is not the member id the state assigns devices to (default: `nodeId`).
   */
  owner?: string;
}

/** desiredInputFromState builds the DesiredInput of `nodeId` (the devices the state assigns to that member) from the agreed state. */
export function desiredInputFromState(state: StateView, nodeId: string, book: GenerationBook, configFor: ImageConfig = () => ({}), options: DesiredInputOptions = {}): DesiredInput {
  const devices: DesiredDevice[] = [];
  const served = new Set<string>();
  const typesByDomain = new Map<string, Map<string, StandbyDeviceType>>();
  // Every image any state of a served device's type can chain: the node keeps warm μmboxes of these.
  const warm = new Map<string, { image: string; digest: string }>();
  const pinsOf = (chain: ReadonlyArray<{ name: string; digest: string }>, deviceId: string): ImagePin[] =>
    chain.map((pin): ImagePin => ({ image: pin.name, digest: pin.digest, config: { ...configFor(pin.name, deviceId) } }));
  for (const record of state.devices({ nodeId })) {
    served.add(record.id);
    const statePlan = state.devicePlan(record.id);
    let plan: DevicePlan | null = null;
    if (statePlan !== undefined) {
      const content = 'chain' in statePlan ? { chain: pinsOf(statePlan.chain, record.id) } : { verdict: statePlan.verdict };
      const generation = book.generationFor(record.id, JSON.stringify([statePlan.state, statePlan.sinceMs, content]));
      plan = { state: statePlan.state, generation, ...content };
    }
    const device: DesiredDevice = { id: record.id, port: record.port, addresses: [...record.addresses], plan };
    const management = managementOf(record.interface);
    if (management !== null) device.management = management;
    const type = deviceTypeOf(state, typesByDomain, record.domain, record.type);
    for (const one of type?.states ?? []) if ('chain' in one) for (const pin of one.chain) {
      const image = { image: pin.name, digest: pin.digest };
      warm.set(pinKey(image), image);
    }
    if (type !== undefined && statePlan !== undefined) {
      const standby = nextChains(type, statePlan.state).map((target): StandbyPlan => ({ state: target.state, chain: pinsOf(target.chain, record.id) }));
      if (standby.length > 0) {
        device.standby = standby;
        device.standbyPriority = type.initialState !== undefined && statePlan.state !== type.initialState ? 1 : 0;
      }
    }
    devices.push(device);
  }
  book.retain(served);
  return { nodeId: options.owner ?? nodeId, devices, warm: [...warm.values()].slice(0, MAX_WARM_IMAGES), ...(options.management === undefined ? {} : { management: options.management }) };
}

/**
 * managementOf is the management path a registered interface needs (see the head of this file); null for a
 * device without an interface, of an unknown protocol, or whose URL does not parse (the gateway could not
 * talk to it anyway).
 */
export function managementOf(spec: DeviceInterfaceView | null | undefined): DeviceManagement | null {
  if (spec === undefined || spec === null || typeof spec !== 'object') return null;
  if (spec.protocol === 'mqtt') return { broker: true, tcpPorts: [] };
  if (spec.protocol !== 'http-json' && spec.protocol !== 'hue') return null;
  const ports = new Set<number>();
  for (const url of [spec.endpoint, spec.protocol === 'http-json' ? spec.options?.commandUrl : undefined]) {
    if (url === undefined || url === '') continue;
    const port = urlPort(url);
    if (port === null) return null;
    ports.add(port);
  }
  return ports.size === 0 ? null : { broker: false, tcpPorts: [...ports].sort((a, b) => a - b) };
}

/** urlPort is the TCP port of an http(s) URL (its default when it names none); null when it is no such URL. */
function urlPort(text: string): number | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null; // not a URL: the caller treats the interface as unreachable
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.port !== '') return Number.parseInt(url.port, 10);
  return url.protocol === 'https:' ? 443 : 80;
}

/** deviceTypeOf finds a device's type in its domain's policy (read once per domain and call). */
function deviceTypeOf(state: StateView, cache: Map<string, Map<string, StandbyDeviceType>>, domain: string | undefined, typeName: string | undefined): StandbyDeviceType | undefined {
  if (state.deviceTypes === undefined || domain === undefined || typeName === undefined) return undefined;
  let types = cache.get(domain);
  if (types === undefined) {
    types = new Map(state.deviceTypes(domain).map((type) => [type.name, type]));
    cache.set(domain, types);
  }
  return types.get(typeName);
}

/**
 * nextChains lists the chains of the states `type`'s rules can move a device to from `current` (rules whose
 * `from` is `current` or `any`), in rule order, each state once; verdict states need nothing started.
 */
export function nextChains(type: StandbyDeviceType, current: string): Array<{ state: string; chain: ReadonlyArray<{ name: string; digest: string }> }> {
  const targets: Array<{ state: string; chain: ReadonlyArray<{ name: string; digest: string }> }> = [];
  const seen = new Set<string>([current]);
  for (const rule of type.rules ?? []) {
    if ((rule.from !== current && rule.from !== 'any') || seen.has(rule.to)) continue;
    seen.add(rule.to);
    const target = type.states.find((one) => one.name === rule.to);
    if (target !== undefined && 'chain' in target) targets.push({ state: target.name, chain: target.chain });
  }
  return targets;
}
