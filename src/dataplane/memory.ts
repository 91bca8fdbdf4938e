// memory.ts — in-memory adapters of the data plane's two ports (Switch and UmboxRuntime), for planner and
// reconciler tests. They follow the same contract as OvsSwitch and DockerUmboxRuntime (the contract suites
// in test/dataplane run against both), and record every call so tests can check ordering
// (make-before-break) and atomicity (one bundle per change).
import { DataplaneError, assert } from './errors.js';
import { flowKey, parseFlowDump, type FlowChange, type Switch, type SwitchPortInfo } from './ovs.js';
import { peerName, type ImageCheck, type PooledUmbox, type RuntimeWatch, type UmboxRuntime } from './docker-runtime.js';
import { UMBOX_PORT_NAME } from './planner.js';
import type { ObservedFlow, ObservedUmbox, PlannedUmbox } from './types.js';

/** HostInterfaces is the fake host's set of network interfaces, shared by the fake switch and runtime. */
export class HostInterfaces {
  private readonly names = new Set<string>();
  add(...names: string[]): void {
    for (const name of names) this.names.add(name);
  }
  delete(...names: string[]): void {
    for (const name of names) this.names.delete(name);
  }
  has(name: string): boolean {
    return this.names.has(name);
  }
}

/** MemorySwitch is a flow table and port list in memory, with OVS's bundle semantics (all or nothing). */
export class MemorySwitch implements Switch {
  readonly bridge: string;
  readonly interfaces: HostInterfaces;
  /** events records calls in order ("addPorts a,b", "bundle +3 -1", …), shared with the runtime when given. */
  readonly events: string[];
  /** bundles records every FlowChange applied. */
  readonly bundles: FlowChange[] = [];
  /** failNextBundle makes the next applyFlows throw without changing anything. */
  failNextBundle = false;
  private readonly ports = new Map<string, number>();
  private readonly flows = new Map<string, ObservedFlow>();
  private nextOfport = 1;
  private bridgeExists = false;

  constructor(bridge: string, interfaces = new HostInterfaces(), events: string[] = []) {
    this.bridge = bridge;
    this.interfaces = interfaces;
    this.events = events;
  }

  async ensureBridge(): Promise<void> {
    this.bridgeExists = true;
  }

  async listPorts(): Promise<SwitchPortInfo[]> {
    this.assertBridge();
    return [...this.ports].map(([name, ofport]) => ({ name, ofport: this.interfaces.has(name) ? ofport : -1 }));
  }

  async addPorts(names: readonly string[]): Promise<SwitchPortInfo[]> {
    this.assertBridge();
    for (const name of names) {
      this.ports.delete(name);
      this.ports.set(name, this.nextOfport++);
    }
    this.events.push(`addPorts ${names.join(',')}`);
    return names.map((name) => ({ name, ofport: this.interfaces.has(name) ? this.ports.get(name) ?? -1 : -1 }));
  }

  async removePorts(names: readonly string[]): Promise<void> {
    for (const name of names) this.ports.delete(name);
    // As OvsSwitch does: the host veths of μmbox-form ports go with their ports.
    for (const name of names) if (UMBOX_PORT_NAME.test(name)) this.interfaces.delete(name, peerName(name));
    if (names.length > 0) this.events.push(`removePorts ${names.join(',')}`);
  }

  async dumpFlows(): Promise<ObservedFlow[]> {
    this.assertBridge();
    return [...this.flows.values()];
  }

  async applyFlows(change: FlowChange): Promise<void> {
    this.assertBridge();
    if (change.add.length === 0 && change.remove.length === 0) return;
    if (this.failNextBundle) {
      this.failNextBundle = false;
      throw new DataplaneError('command_failed', 'MemorySwitch: bundle refused (failNextBundle)');
    }
    const next = new Map(this.flows);
    for (const text of change.add) {
      const [flow] = parseFlowDump(text);
      assert(flow !== undefined, `flow text parses: ${text}`);
      next.set(flowKey(flow.priority, flow.match), flow);
    }
    for (const text of change.remove) {
      const [flow] = parseFlowDump(`${text} actions=drop`);
      assert(flow !== undefined, `flow match parses: ${text}`);
      next.delete(flowKey(flow.priority, flow.match));
    }
    this.flows.clear();
    for (const [key, flow] of next) this.flows.set(key, flow);
    this.bundles.push(change);
    this.events.push(`bundle +${change.add.length} -${change.remove.length}`);
  }

  /** setFlow changes the table by hand, outside any bundle (drift). */
  setFlow(flow: ObservedFlow): void {
    this.flows.set(flowKey(flow.priority, flow.match), flow);
  }

  /** deleteFlowsWhere removes flows by hand (drift). */
  deleteFlowsWhere(predicate: (flow: ObservedFlow) => boolean): void {
    for (const [key, flow] of this.flows) if (predicate(flow)) this.flows.delete(key);
  }

  private assertBridge(): void {
    if (!this.bridgeExists) throw new DataplaneError('port_missing', `MemorySwitch: bridge ${this.bridge} does not exist`);
  }
}

/** MemoryUmboxRuntime keeps containers in memory; images are registered with their layer digests. */
export class MemoryUmboxRuntime implements UmboxRuntime {
  readonly interfaces: HostInterfaces;
  readonly events: string[];
  /** failStarts makes start() of these image names throw. */
  readonly failStarts = new Set<string>();
  /** failClaims makes claim() for these image names fail. */
  readonly failClaims = new Set<string>();
  private readonly images = new Map<string, { imageId: string; layers: string[] }>();
  private readonly containers = new Map<string, ObservedUmbox & { inPort: string; outPort: string }>();
  private nextId = 1;
  private readonly watchers = new Set<{ nodeId: string; onDied: (name: string, containerId: string) => void }>();

  constructor(interfaces = new HostInterfaces(), events: string[] = []) {
    this.interfaces = interfaces;
    this.events = events;
  }

  /** addImage registers a local image under its pinned reference with the given layers. */
  addImage(image: string, pinnedDigest: string, layers: string[]): void {
    this.images.set(`${image}@${pinnedDigest}`, { imageId: `sha256:image-${this.nextId++}`, layers });
  }

  channelDir(name: string): string {
    return `/memory/umbox/${name}`;
  }

  async list(nodeId: string): Promise<ObservedUmbox[]> {
    return [...this.containers.values()].filter((umbox) => umbox.nodeId === nodeId).map((umbox) => observedOf(umbox));
  }

  async checkImage(image: string, digest: string): Promise<ImageCheck> {
    const found = this.images.get(`${image}@${digest}`);
    if (found === undefined) return { ok: false, reason: 'missing', detail: `image ${image} pinned ${digest} is not present` };
    if (found.layers.length !== 1 || found.layers[0] !== digest) return { ok: false, reason: 'mismatch', detail: `layers ${JSON.stringify(found.layers)}, pinned ${digest}` };
    return { ok: true, imageId: found.imageId };
  }

  /** prepare removes the container and creates its host interfaces, as DockerUmboxRuntime.prepare does. */
  async prepare(umbox: PlannedUmbox): Promise<void> {
    await this.remove(umbox.name);
    this.interfaces.add(umbox.inPort, umbox.outPort, peerName(umbox.inPort), peerName(umbox.outPort));
    this.events.push(`prepare ${umbox.name}`);
  }

  /** preparePorts creates a pool slot's host interfaces, both ends of each pair, as DockerUmboxRuntime does. */
  async preparePorts(ports: { inPort: string; outPort: string }): Promise<void> {
    this.interfaces.add(ports.inPort, ports.outPort, peerName(ports.inPort), peerName(ports.outPort));
    this.events.push(`preparePorts ${ports.inPort},${ports.outPort}`);
  }

  async start(umbox: PlannedUmbox, imageId: string): Promise<ObservedUmbox> {
    return this.launch(umbox, imageId, { deviceId: umbox.deviceId, generation: umbox.generation, position: umbox.position }, 'start');
  }

  /** startPooled starts a warm-pool container on a slot (failStarts applies to it too). */
  async startPooled(pooled: PooledUmbox, imageId: string): Promise<ObservedUmbox> {
    return this.launch(pooled, imageId, { deviceId: '', generation: 0, position: 0, pooled: true }, 'startPooled');
  }

  /** claim gives a free pooled container the planned μmbox's name and identity; failClaims makes it fail (and remove the container), as a recipe rejecting its configuration would. */
  async claim(pooledName: string, umbox: PlannedUmbox): Promise<ObservedUmbox> {
    const found = this.containers.get(pooledName);
    if (found === undefined || found.pooled !== true || !found.running) throw new DataplaneError('umbox_start_failed', `claiming ${pooledName}: not a free pooled μmbox`);
    assert(found.image === umbox.image && found.digest === umbox.digest, `claim: ${pooledName} runs ${found.image}, not ${umbox.image}`);
    if (this.failClaims.has(umbox.image)) {
      await this.remove(pooledName);
      throw new DataplaneError('umbox_start_failed', `claiming ${pooledName} for ${umbox.name}: refused (failClaims)`);
    }
    await this.remove(umbox.name);
    this.containers.delete(pooledName);
    const claimed = { ...found, name: umbox.name, deviceId: umbox.deviceId, generation: umbox.generation, position: umbox.position };
    delete claimed.pooled;
    this.containers.set(umbox.name, claimed);
    this.events.push(`claim ${pooledName} as ${umbox.name}`);
    return observedOf(claimed);
  }

  private async launch(one: { name: string; nodeId: string; image: string; digest: string; inPort: string; outPort: string }, imageId: string,
    identity: { deviceId: string; generation: number; position: number; pooled?: true }, verb: 'start' | 'startPooled'): Promise<ObservedUmbox> {
    assert(imageId.startsWith('sha256:'), 'containers are created from a verified image id');
    await this.remove(one.name);
    if (this.failStarts.has(one.image)) throw new DataplaneError('umbox_start_failed', `μmbox ${one.name}: start refused (failStarts)`);
    const observed = {
      name: one.name, containerId: `c${this.nextId++}`, nodeId: one.nodeId, ...identity, image: one.image, digest: one.digest,
      running: true, ready: true, pid: 1000 + this.nextId, inPort: one.inPort, outPort: one.outPort,
    };
    this.containers.set(one.name, observed);
    this.interfaces.add(one.inPort, one.outPort);
    this.interfaces.delete(peerName(one.inPort), peerName(one.outPort)); // moved into the container
    this.events.push(`${verb} ${one.name}`);
    return observedOf(observed);
  }

  async remove(name: string): Promise<void> {
    const found = this.containers.get(name);
    if (found === undefined) return;
    this.containers.delete(name);
    this.interfaces.delete(found.inPort, found.outPort);
    this.events.push(`remove ${name}`);
    if (found.running) this.reportDeath(found);
  }

  /**
   * kill stops a container by hand (drift): it stays listed, not running, and its veth ends vanish. Watchers
   * hear of it unless `silently` (an engine whose event stream is down).
   */
  kill(name: string, silently = false): void {
    const found = this.containers.get(name);
    assert(found !== undefined, `kill: no container ${name}`);
    found.running = false;
    found.ready = false;
    this.interfaces.delete(found.inPort, found.outPort);
    if (!silently) this.reportDeath(found);
  }

  private reportDeath(umbox: ObservedUmbox): void {
    for (const watcher of this.watchers) if (watcher.nodeId === umbox.nodeId) watcher.onDied(umbox.name, umbox.containerId);
  }

  /** watch reports kill() of this node's containers; remove() reports a running container's death too, as Docker does. */
  watch(nodeId: string, onDied: (name: string, containerId: string) => void): RuntimeWatch {
    const watcher = { nodeId, onDied };
    this.watchers.add(watcher);
    return { close: () => { this.watchers.delete(watcher); } };
  }

  /** unready makes a running container report not ready (it lost its filter or its veths, say). */
  unready(name: string): void {
    const found = this.containers.get(name);
    assert(found !== undefined, `unready: no container ${name}`);
    found.ready = false;
  }

  /** plant adds a container with this node's labels that no plan asked for (drift). */
  plant(umbox: ObservedUmbox): void {
    this.containers.set(umbox.name, { ...umbox, inPort: 'qm0000000000i', outPort: 'qm0000000000o' });
  }
}

/** observedOf is what list() and start() report of a container record: its labels' ports included. */
function observedOf(record: ObservedUmbox & { inPort: string; outPort: string }): ObservedUmbox {
  const { inPort, outPort, ...observed } = record;
  return { ...observed, ports: { inPort, outPort } };
}
