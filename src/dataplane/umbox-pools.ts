// umbox-pools.ts — the μmbox pools of one node, apart from the pass that uses them: the port pool (slots of
// two veth pairs whose host ends are already on the bridge, so a μmbox that must start needs no bridge
// reconfiguration) and the warm pool (per image the policy can chain, a running unconfigured μmbox on a
// slot that a move claims instead of starting a container). The pure functions find free slots after a
// full pass's reads, alias a pooled μmbox's own port names to its slot's ports, and pick the warm
// containers to keep and to start; UmboxPools holds the pools' state (free slots, failed warm starts) and
// refills them after the bundle (Reconciler steps 5-6). Tested in test/dataplane/umbox-pools.test.ts.
import { randomBytes } from 'node:crypto';
import type { Clock } from './clock.js';
import { PORT_POOL_DEFAULT, WARM_POOL_DEFAULT } from './constants.js';
import { peerName, type ImageCheck, type UmboxRuntime } from './docker-runtime.js';
import { pinKey, umboxPorts, warmName } from './planner.js';
import type { Switch, SwitchPortInfo } from './ovs.js';
import type { DesiredDataplane, ObservedUmbox } from './types.js';
import { assert } from './errors.js';

/** WARM_STARTS_PER_PASS bounds the warm-pool containers one pass starts (step 5). */
export const WARM_STARTS_PER_PASS = 1;

/** mergePorts is `ports` with `added` replacing the records of the same names (and appended when new). */
export function mergePorts(ports: readonly SwitchPortInfo[], added: readonly SwitchPortInfo[]): SwitchPortInfo[] {
  if (added.length === 0) return [...ports];
  const addedNames = new Set(added.map((port) => port.name));
  return [...ports.filter((port) => !addedNames.has(port.name)), ...added];
}

/** attachedNames are the names of the ports really on the bridge (what addPorts must know), without aliases. */
export function attachedNames(ports: readonly SwitchPortInfo[]): Set<string> {
  return new Set(ports.filter((port) => port.aliasOf === undefined).map((port) => port.name));
}

/** POOL_IN_PORT is the in-port of a pool slot: qp + 10 hex + i (a μmbox's own ports are qm…; see UMBOX_PORT_NAME). */
const POOL_IN_PORT = /^qp[0-9a-f]{10}i$/;

/** PortSlot is a slot of the port pool: two veth pairs, host ends on the bridge, other ends on the host. */
export interface PortSlot {
  inPort: string;
  outPort: string;
}

/**
 * findFreeSlots finds the pool's slots on the bridge (a full pass): pairs qp…i/qp…o, both attached, both
 * veths complete on the host (the other ends not moved into any container), which no container's labels
 * and no planned μmbox name; at most `limit` (the rest are garbage).
 */
export function findFreeSlots(desired: DesiredDataplane, ports: readonly SwitchPortInfo[], umboxes: readonly ObservedUmbox[], exists: (name: string) => boolean, limit: number): PortSlot[] {
  if (limit <= 0) return [];
  const onBridge = new Map(ports.filter((port) => port.aliasOf === undefined).map((port) => [port.name, port.ofport]));
  const taken = new Set<string>();
  for (const umbox of umboxes) if (umbox.ports !== undefined) taken.add(umbox.ports.inPort).add(umbox.ports.outPort);
  for (const device of desired.devices) for (const umbox of [...device.umboxes, ...device.standby]) taken.add(umbox.inPort).add(umbox.outPort);
  const slots: PortSlot[] = [];
  for (const [inPort, ofport] of [...onBridge].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const outPort = `${inPort.slice(0, -1)}o`;
    if (!POOL_IN_PORT.test(inPort) || ofport <= 0 || (onBridge.get(outPort) ?? -1) <= 0 || taken.has(inPort) || taken.has(outPort)) continue;
    if (![inPort, outPort, peerName(inPort), peerName(outPort)].every(exists)) continue;
    slots.push({ inPort, outPort });
    if (slots.length === limit) break;
  }
  return slots;
}

/**
 * aliasPorts is `ports` (without earlier aliases) plus, for each μmbox started on a pool slot, its own port
 * names (umboxPorts) standing for the slot's ports, with their numbers: plans name a μmbox's ports by its
 * own names, and so the rest of the pass needs no other change. An alias entry has `aliasOf` and is never
 * attached or removed.
 */
export function aliasPorts(ports: readonly SwitchPortInfo[], umboxes: readonly ObservedUmbox[]): SwitchPortInfo[] {
  const real = ports.filter((port) => port.aliasOf === undefined);
  const numbers = new Map(real.map((port) => [port.name, port.ofport]));
  const aliases = new Map<string, SwitchPortInfo>();
  for (const umbox of umboxes) {
    if (umbox.ports === undefined) continue;
    const own = umboxPorts(umbox.name);
    for (const [name, actual] of [[own.inPort, umbox.ports.inPort], [own.outPort, umbox.ports.outPort]] as const) {
      if (name !== actual) aliases.set(name, { name, ofport: numbers.get(actual) ?? -1, aliasOf: actual });
    }
  }
  // Aliases come last: every lookup by name (new Map(ports…)) finds them. A real record they shadow (left by
  // an earlier container of the μmbox) stays listed, so the switch is told it exists and it is collected.
  return aliases.size === 0 ? real : [...real, ...aliases.values()];
}

/**
 * warmKept picks the warm-pool containers a pass keeps: running, free ones of each image in the plan's
 * `warm` list, at most `size` per image; any other warm container (stopped, surplus, or of an image no
 * longer warm) is garbage.
 */
export function warmKept(desired: DesiredDataplane, umboxes: readonly ObservedUmbox[], size: number): ObservedUmbox[] {
  if (size === 0) return [];
  const kept: ObservedUmbox[] = [];
  for (const pin of desired.warm) {
    kept.push(...freeWarm(umboxes, pin).slice(0, size));
  }
  return kept;
}

/**
 * freeWarm lists the free warm-pool containers of one pinned image that can be claimed: running and ready
 * (holding, wired). One that is not (it never got ready, or lost its veths) is not kept: it is collected.
 */
export function freeWarm(umboxes: readonly ObservedUmbox[], pin: { image: string; digest: string }): ObservedUmbox[] {
  return umboxes.filter((umbox) => isFreeWarm(umbox) && umbox.image === pin.image && umbox.digest === pin.digest);
}

/** isFreeWarm: a warm-pool container that can be claimed (running, holding, wired). */
export function isFreeWarm(umbox: ObservedUmbox): boolean {
  return umbox.pooled === true && umbox.running && umbox.ready;
}

/**
 * warmWanted lists the warm-pool containers a pass should start: for each image of the plan's `warm` list,
 * as many as it lacks of `size` running free ones, at most WARM_STARTS_PER_PASS in all (a start takes as
 * long as any container's, and the next reaction waits for the pass).
 */
export function warmWanted(desired: DesiredDataplane, umboxes: readonly ObservedUmbox[], size: number): Array<{ image: string; digest: string }> {
  const wanted: Array<{ image: string; digest: string }> = [];
  for (const pin of desired.warm) {
    for (let i = freeWarm(umboxes, pin).length; i < size && wanted.length < WARM_STARTS_PER_PASS; i++) wanted.push(pin);
  }
  return wanted;
}

/** mergeUmboxes is `observed` with `started` replacing the containers of the same names. */
export function mergeUmboxes(observed: readonly ObservedUmbox[], started: readonly ObservedUmbox[]): ObservedUmbox[] {
  if (started.length === 0) return [...observed];
  const names = new Set(started.map((umbox) => umbox.name));
  return [...observed.filter((umbox) => !names.has(umbox.name)), ...started];
}

/** WARM_RETRY_MS: after a warm start of an image failed, the next waits this long. */
export const WARM_RETRY_MS = 30_000;

/** ImageChecker checks an image against its pin (once per pass per pin, see Reconciler.imageChecker). */
export type ImageChecker = (pin: { image: string; digest: string }) => Promise<ImageCheck>;

/** PoolReport is where the pools' work of a pass is counted (a PassResult). */
export interface PoolReport {
  poolErrors: string[];
  warmStarted: number;
}

/** UmboxPoolsInit wires the pools to the switch, the runtime and the reconciler's container bookkeeping. */
export interface UmboxPoolsInit {
  switch: Switch;
  runtime: UmboxRuntime;
  clock: Clock;
  /** started notes a container the pools started (the reconciler's liveContainers); returns it. */
  started: (umbox: ObservedUmbox) => ObservedUmbox;
  /** ownChange notes a container the pools are about to remove. */
  ownChange: (name: string) => void;
  /** portPool is how many free slots to keep (default PORT_POOL_DEFAULT; 0 keeps none). */
  portPool?: number;
  /** warmPool is how many free warm μmboxes to keep per warm image (default WARM_POOL_DEFAULT; 0 keeps none). */
  warmPool?: number;
  /** warmRetryMs is how long an image waits after its warm start failed (default WARM_RETRY_MS). */
  warmRetryMs?: number;
}

/**
 * UmboxPools holds the port pool's free slots and the warm pool's memory of failed starts, and refills both
 * (Reconciler steps 5-6, after the bundle: each refill reconfigures the bridge, never ahead of enforcement).
 * Invariant: a slot is in freeSlots at most once, and no μmbox or planned port uses a slot in it.
 */
export class UmboxPools {
  private readonly init: UmboxPoolsInit;
  /** slots are the port pool's slots that no μmbox uses (found by a full pass, kept up by refillPool). */
  private slots: PortSlot[] = [];
  /** warmFailedAt: when the last warm start of an image (pinKey) failed; it waits warmRetryMs. */
  private readonly warmFailedAt = new Map<string, number>();

  constructor(init: UmboxPoolsInit) {
    this.init = init;
  }

  /** portPoolSize is how many free slots the pool keeps (0 with a runtime that cannot prepare ports). */
  portPoolSize(): number {
    return this.init.runtime.preparePorts === undefined ? 0 : this.init.portPool ?? PORT_POOL_DEFAULT;
  }

  /** warmSize is how many free warm μmboxes the pool keeps per image (0 with a runtime that cannot pool). */
  warmSize(): number {
    const runtime = this.init.runtime;
    return runtime.preparePorts === undefined || runtime.startPooled === undefined || runtime.claim === undefined ? 0 : this.init.warmPool ?? WARM_POOL_DEFAULT;
  }

  /** findSlots replaces the free slots with those a full pass's reads show (findFreeSlots). */
  findSlots(desired: DesiredDataplane, ports: readonly SwitchPortInfo[], umboxes: readonly ObservedUmbox[], exists: (name: string) => boolean): void {
    this.slots = findFreeSlots(desired, ports, umboxes, exists, this.portPoolSize());
  }

  /** freeSlots are the slots no μmbox uses now. */
  freeSlots(): readonly PortSlot[] {
    return this.slots;
  }

  /** takeSlot takes a free slot for a μmbox about to start (undefined when none is free). */
  takeSlot(): PortSlot | undefined {
    return this.slots.shift();
  }

  /** returnSlot gives back a slot taken for a μmbox that did not start (untouched). */
  returnSlot(slot: PortSlot): void {
    assert(!this.slots.some((free) => free.inPort === slot.inPort), `slot ${slot.inPort} is returned once`);
    this.slots.push(slot);
  }

  /**
   * warmToStart is warmWanted without the images that fail their pin (no device is quarantined for them: a
   * device that needs one raises the integrity alert) or whose last warm start failed less than
   * warmRetryMs ago; with each its verified image id. Checked before the port pool is refilled, so no slot
   * is made for a start that will not happen.
   */
  async warmToStart(desired: DesiredDataplane, umboxes: readonly ObservedUmbox[], checkImage: ImageChecker, result: PoolReport): Promise<WarmStart[]> {
    const now = this.init.clock.nowMs();
    const items: WarmStart[] = [];
    for (const pin of warmWanted(desired, umboxes, this.warmSize())) {
      const failedAt = this.warmFailedAt.get(pinKey(pin));
      if (failedAt !== undefined && now - failedAt < (this.init.warmRetryMs ?? WARM_RETRY_MS)) continue;
      const check = await checkImage(pin);
      if (!check.ok) {
        result.poolErrors.push(`warm pool: image ${pin.image} ${check.reason}: ${check.detail}`);
        continue;
      }
      items.push({ ...pin, imageId: check.imageId });
    }
    assert(items.length <= WARM_STARTS_PER_PASS, 'a pass starts at most WARM_STARTS_PER_PASS warm μmboxes');
    return items;
  }

  /** refillWarm starts the warm-pool containers warmToStart chose on free port-pool slots; returns what it started. */
  async refillWarm(nodeId: string, items: readonly WarmStart[], result: PoolReport): Promise<ObservedUmbox[]> {
    const runtime = this.init.runtime;
    if (items.length === 0 || runtime.startPooled === undefined) return [];
    const started: ObservedUmbox[] = [];
    for (const item of items) {
      const slot = this.slots.shift();
      if (slot === undefined) break;
      const name = warmName(nodeId, item.image, randomBytes(5).toString('hex'));
      try {
        started.push(this.init.started(await runtime.startPooled({ name, nodeId, image: item.image, digest: item.digest, ...slot }, item.imageId)));
        result.warmStarted++;
        this.warmFailedAt.delete(pinKey(item));
      } catch (cause) {
        // The container goes, and with it the slot (its labels name the slot's veths); the image waits
        // warmRetryMs before the next try (a pass from the cache would otherwise try again at once).
        result.poolErrors.push(`warm pool: ${item.image}: ${(cause as Error).message}`);
        this.warmFailedAt.set(pinKey(item), this.init.clock.nowMs());
        this.init.ownChange(name);
        await runtime.remove(name).catch(() => undefined);
      }
    }
    return started;
  }

  /**
   * refillPool makes the slots the pool lacks, and `extra` more (for the warm containers about to start), and
   * attaches their ports in one transaction (step 5); returns the ports added.
   */
  async refillPool(ports: readonly SwitchPortInfo[], result: PoolReport, extra = 0): Promise<SwitchPortInfo[]> {
    const missing = this.portPoolSize() + extra - this.slots.length;
    if (missing <= 0 || this.init.runtime.preparePorts === undefined) return [];
    const made = await this.prepareSlots(missing, result);
    if (made.length === 0) return [];
    let added: SwitchPortInfo[];
    try {
      added = await this.init.switch.addPorts(made.flatMap((slot) => [slot.inPort, slot.outPort]), attachedNames(ports));
    } catch (cause) {
      await this.discard(made, cause, result);
      return [];
    }
    const numbers = new Map(added.map((port) => [port.name, port.ofport]));
    for (const slot of made) if ((numbers.get(slot.inPort) ?? -1) > 0 && (numbers.get(slot.outPort) ?? -1) > 0) this.slots.push(slot);
    return added;
  }

  /** prepareSlots makes up to `count` slots' veth pairs on the host (stopping at the first failure). */
  private async prepareSlots(count: number, result: PoolReport): Promise<PortSlot[]> {
    const prepare = this.init.runtime.preparePorts;
    assert(prepare !== undefined, 'slots are made only by a runtime that prepares ports');
    const made: PortSlot[] = [];
    for (let i = 0; i < count; i++) {
      const tag = randomBytes(5).toString('hex');
      const slot = { inPort: `qp${tag}i`, outPort: `qp${tag}o` };
      try {
        await prepare.call(this.init.runtime, slot);
      } catch (cause) {
        await this.discard([slot], cause, result);
        break;
      }
      made.push(slot);
    }
    return made;
  }

  /** discard removes slots that failed: removePorts deletes the host veths of the names (attached or not). */
  private async discard(slots: readonly PortSlot[], cause: unknown, result: PoolReport): Promise<void> {
    result.poolErrors.push(`port pool: ${(cause as Error).message}`);
    await this.init.switch.removePorts(slots.flatMap((slot) => [slot.inPort, slot.outPort])).catch(() => undefined);
  }
}

/** WarmStart is a warm-pool container to start: its pinned image and the image id that matched the pin. */
export interface WarmStart {
  image: string;
  digest: string;
  imageId: string;
}
