// state-data.ts — the replicated state's data, and its canonical snapshot form.
//
// Every map whose iteration order could influence a result is either iterated in sorted order or
// serialized sorted; the two maps where insertion order matters (remembered results and recent
// rejections, both evicted oldest-first) are serialized as ordered arrays. So snapshot → restore gives a
// state that applies every later entry exactly as the original would, and the same state hash.
import assert from 'node:assert/strict';
import { canonicalJson, fromHex, keyIdHex, toHex, type Genesis } from '../commands/index.js';
import { genesisChain } from './audit.js';
import { SNAPSHOT_FORMAT_VERSION } from './constants.js';
import { TouchedMap, TouchedSet } from './touched-map.js';
import type { PolicyDocumentView, PolicyEngineFactory, PolicyPort } from './policy-port.js';
import type {
  DeviceCommandRecord, DeviceRecord, DiscoveredDevice, MemberRecord, PendingDeviceCommand, ReadingSample, Rejection, RememberedResult,
} from './types.js';

/** KeyEntry is a registered admin, viewer or node key, as verification reads it. */
export type KeyEntry =
  | { role: 'admin' | 'viewer'; publicKey: Uint8Array; domains: Set<string> }
  | { role: 'node'; publicKey: Uint8Array; nodeId: string };

/** DomainData is one security domain. */
export interface DomainData {
  name: string;
  description: string;
  /** admins maps key id (hex) to the admin's public key (hex) and label. */
  admins: Map<string, { publicKey: string; name: string }>;
  /** viewers maps key id (hex) to a viewer's public key (hex) and label: keys that may only read the domain. */
  viewers: Map<string, { publicKey: string; name: string }>;
  /** images maps an image name to its pinned digest. */
  images: Map<string, string>;
  policy: PolicyDocumentView | undefined;
  /** devices is touch-recording for the incremental state hash (state-hash.ts). */
  devices: TouchedSet<string>;
}

/** RootData is the current root role. */
export interface RootData {
  version: number;
  keys: Uint8Array[];
  threshold: number;
}

/** StateData is everything the state machine replicates. */
export interface StateData {
  clusterId: Uint8Array;
  clusterName: string;
  root: RootData;
  keys: Map<string, KeyEntry>;
  // The four large maps (and each domain's devices) record touched keys, so that the state hash is
  // maintained incrementally (state-hash.ts); change their values in place only after a get().
  lastSeq: TouchedMap<string, number>;
  domains: Map<string, DomainData>;
  devices: TouchedMap<string, DeviceRecord>;
  members: Map<string, MemberRecord>;
  /** remembered: body hash → result, oldest first (bounded). */
  remembered: TouchedMap<string, RememberedResult>;
  /** rejections: the most recent rejections, oldest first (bounded ring). */
  rejections: Rejection[];
  rejectionCounts: Map<string, number>;
  /** pending: node id → command id → device command, ids increasing (bounded per node). */
  pending: Map<string, Map<number, PendingDeviceCommand>>;
  nextCommandId: number;
  droppedDeviceCommands: number;
  /** doneCommands: the newest carried-out device commands, oldest first (bounded ring). */
  doneCommands: DeviceCommandRecord[];
  /** failedCommands: the newest given-up device commands, oldest first (bounded ring). */
  failedCommands: DeviceCommandRecord[];
  /** discoveries: node id → discoveryKey(port, mac) → what the node reported (bounded per node). */
  discoveries: Map<string, Map<string, DiscoveredDevice>>;
  /** discoveriesEvicted counts discoveries evicted because a node's list was full. */
  discoveriesEvicted: number;
  /** readings: device id → sensor → the last readings, oldest first (bounded per sensor). */
  readings: TouchedMap<string, Map<string, ReadingSample[]>>;
  /**
   * owners is derived (not in the snapshot, rebuilt on restore): how many registered devices own each
   * (node, port) and each MAC, so that a discovery is checked against them in O(1).
   */
  owners: DeviceOwners;
  appliedCount: number;
  /** Invariant: lastIndex strictly increases with every apply. */
  lastIndex: number;
  lastTerm: number;
  /** timeMs is the largest entry time applied so far (entry times may step back across leaders). */
  timeMs: number;
  chain: Uint8Array;
  engine: PolicyPort;
}

/** DeviceOwners counts the registered devices owning each "node\0port" and each lowercase MAC. */
export interface DeviceOwners {
  ports: Map<string, number>;
  macs: Map<string, number>;
}

const MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;

/** discoveryKey is the key of a discovery within its node's map. */
export function discoveryKey(port: string, mac: string): string {
  return `${port}\u0000${mac}`;
}

/** portKey is the key of a (node, port) in DeviceOwners.ports. */
export function portKey(nodeId: string, port: string): string {
  return `${nodeId}\u0000${port}`;
}

/** deviceMacs lists a device's MAC addresses in lowercase (registrations may use either case). */
export function deviceMacs(device: DeviceRecord): string[] {
  return [...new Set(device.addresses.map((a) => a.toLowerCase()).filter((a) => MAC.test(a)))];
}

/** countOwner adds (+1) or removes (-1) a device's port and MACs in the owner counts. */
export function countOwner(owners: DeviceOwners, device: DeviceRecord, delta: 1 | -1): void {
  const bump = (map: Map<string, number>, key: string): void => {
    const count = (map.get(key) ?? 0) + delta;
    assert.ok(count >= 0, `owner count of ${key} stays non-negative`);
    if (count === 0) map.delete(key);
    else map.set(key, count);
  };
  bump(owners.ports, portKey(device.nodeId, device.port));
  for (const mac of deviceMacs(device)) bump(owners.macs, mac);
}

function ownersOf(devices: Iterable<DeviceRecord>): DeviceOwners {
  const owners: DeviceOwners = { ports: new Map(), macs: new Map() };
  for (const device of devices) countOwner(owners, device, 1);
  return owners;
}

/** initialData builds the state of a cluster right after its genesis. */
export function initialData(genesis: Genesis, clusterId: Uint8Array, engine: PolicyPort): StateData {
  const keys = new Map<string, KeyEntry>();
  const members = new Map<string, MemberRecord>();
  const lastSeq = new TouchedMap<string, number>();
  for (const member of genesis.members) {
    const publicKey = fromHex(member.nodeKey, 32);
    assert.ok(publicKey !== undefined);
    keys.set(keyIdHex(publicKey), { role: 'node', publicKey, nodeId: member.nodeId });
    members.set(member.nodeId, { nodeId: member.nodeId, nodeKey: member.nodeKey, address: member.address, role: 'voter' });
  }
  const rootKeys = genesis.rootKeys.map((k) => {
    const bytes = fromHex(k, 32);
    assert.ok(bytes !== undefined);
    return bytes;
  });
  return {
    clusterId, clusterName: genesis.clusterName,
    root: { version: 1, keys: rootKeys, threshold: genesis.rootThreshold },
    keys, lastSeq, domains: new Map(), devices: new TouchedMap(), members,
    remembered: new TouchedMap(), rejections: [], rejectionCounts: new Map(), pending: new Map(),
    nextCommandId: 1, droppedDeviceCommands: 0, doneCommands: [], failedCommands: [],
    discoveries: new Map(), discoveriesEvicted: 0, readings: new TouchedMap(), owners: ownersOf([]), appliedCount: 0,
    lastIndex: 0, lastTerm: 0, timeMs: 0, chain: genesisChain(clusterId), engine,
  };
}

const sortedEntries = <V>(map: ReadonlyMap<string, V>): [string, V][] =>
  [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** readingsEntry is one device's element of the snapshot's readings list. */
export function readingsEntry(deviceId: string, sensors: ReadonlyMap<string, ReadingSample[]>): unknown {
  return { deviceId, sensors: sortedEntries(sensors).map(([sensor, samples]) => ({ sensor, samples })) };
}

/** toSnapshotJson renders the state as canonical JSON text (the snapshot; state-hash.ts hashes its parts). */
export function toSnapshotJson(data: StateData): string {
  return canonicalJson(snapshotObject(data, true));
}

/**
 * snapshotObject is the snapshot as plain data. With `whole` false, the large keyed parts the state hash
 * keeps incrementally (lastSeq, devices, remembered, readings, each domain's devices, the engine's devices
 * when the engine can split them) are left null; what remains is bounded by the state's small limits.
 */
export function snapshotObject(data: StateData, whole: boolean): Record<string, unknown> {
  const head = whole ? undefined : data.engine.snapshotHead?.();
  return {
    format: SNAPSHOT_FORMAT_VERSION,
    clusterId: toHex(data.clusterId),
    clusterName: data.clusterName,
    root: { version: data.root.version, keys: data.root.keys.map(toHex), threshold: data.root.threshold },
    keys: sortedEntries(data.keys).map(([id, k]) =>
      k.role === 'node'
        ? { id, role: 'node', publicKey: toHex(k.publicKey), nodeId: k.nodeId }
        : { id, role: k.role, publicKey: toHex(k.publicKey), domains: [...k.domains].sort() }),
    lastSeq: whole ? sortedEntries(data.lastSeq) : null,
    domains: sortedEntries(data.domains).map(([, d]) => ({
      name: d.name,
      description: d.description,
      admins: sortedEntries(d.admins).map(([id, a]) => ({ id, publicKey: a.publicKey, name: a.name })),
      // Written only when a domain has viewers, so a state without any hashes as it did before viewers existed.
      ...(d.viewers.size > 0 ? { viewers: sortedEntries(d.viewers).map(([id, v]) => ({ id, publicKey: v.publicKey, name: v.name })) } : {}),
      images: sortedEntries(d.images),
      policy: d.policy ?? null,
      devices: whole ? [...d.devices].sort() : null,
    })),
    devices: whole ? sortedEntries(data.devices).map(([, d]) => d) : null,
    members: sortedEntries(data.members).map(([, m]) => m),
    remembered: whole ? [...data.remembered.entries()] : null,
    rejections: data.rejections,
    rejectionCounts: sortedEntries(data.rejectionCounts),
    pending: sortedEntries(data.pending).map(([nodeId, queue]) => ({ nodeId, commands: [...queue.values()] })),
    nextCommandId: data.nextCommandId,
    droppedDeviceCommands: data.droppedDeviceCommands,
    doneCommands: data.doneCommands,
    failedCommands: data.failedCommands,
    discoveries: sortedEntries(data.discoveries).map(([nodeId, found]) => ({ nodeId, found: sortedEntries(found).map(([, d]) => d) })),
    discoveriesEvicted: data.discoveriesEvicted,
    readings: whole ? sortedEntries(data.readings).map(([deviceId, sensors]) => readingsEntry(deviceId, sensors)) : null,
    appliedCount: data.appliedCount,
    lastIndex: data.lastIndex,
    lastTerm: data.lastTerm,
    timeMs: data.timeMs,
    chain: toHex(data.chain),
    engine: head ?? data.engine.snapshot(),
  };
}

/** SnapshotError reports snapshot bytes that are not a state snapshot of this format. */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
  readonly code = 'bad_snapshot';
}

type Json = Record<string, unknown>;

/** fromSnapshotJson rebuilds state data from toSnapshotJson's output. */
export function fromSnapshotJson(text: string, engines: PolicyEngineFactory): StateData {
  let raw: Json;
  try {
    raw = JSON.parse(text) as Json;
  } catch (error) {
    throw new SnapshotError(`state snapshot is not JSON: ${(error as Error).message}`, { cause: error });
  }
  if (raw['format'] !== SNAPSHOT_FORMAT_VERSION) {
    throw new SnapshotError(`state snapshot format is ${String(raw['format'])}, expected ${SNAPSHOT_FORMAT_VERSION}`);
  }
  let data: StateData;
  try {
    data = parseSnapshot(raw, engines);
  } catch (error) {
    if (error instanceof SnapshotError) throw error;
    throw new SnapshotError(`state snapshot is malformed: ${(error as Error).message}`, { cause: error });
  }
  // A snapshot is canonical: rebuilding must serialize back to the very same text. This catches
  // fields of the wrong type or shape that parsing alone would let through.
  if (toSnapshotJson(data) !== text) {
    throw new SnapshotError('state snapshot is not in the canonical form snapshot() writes (damaged or hand-edited)');
  }
  return data;
}

function hex32(value: unknown): Uint8Array {
  const bytes = typeof value === 'string' ? fromHex(value, 32) : undefined;
  if (bytes === undefined) throw new SnapshotError(`expected 64 hex digits, found ${String(value)}`);
  return bytes;
}

function parseSnapshot(raw: Json, engines: PolicyEngineFactory): StateData {
  const root = raw['root'] as { version: number; keys: string[]; threshold: number };
  const keys = new Map<string, KeyEntry>();
  for (const k of raw['keys'] as Json[]) {
    const publicKey = hex32(k['publicKey']);
    const role = k['role'];
    keys.set(String(k['id']), role === 'admin' || role === 'viewer'
      ? { role, publicKey, domains: new Set(k['domains'] as string[]) }
      : { role: 'node', publicKey, nodeId: String(k['nodeId']) });
  }
  const domains = new Map<string, DomainData>();
  for (const d of raw['domains'] as Json[]) {
    const name = String(d['name']);
    domains.set(name, {
      name,
      description: String(d['description']),
      admins: new Map((d['admins'] as { id: string; publicKey: string; name: string }[]).map((a) => [a.id, { publicKey: a.publicKey, name: a.name }])),
      viewers: new Map(((d['viewers'] ?? []) as { id: string; publicKey: string; name: string }[]).map((v) => [v.id, { publicKey: v.publicKey, name: v.name }])),
      images: new Map(d['images'] as [string, string][]),
      policy: (d['policy'] ?? undefined) as PolicyDocumentView | undefined,
      devices: new TouchedSet(d['devices'] as string[]),
    });
  }
  const pending = new Map<string, Map<number, PendingDeviceCommand>>();
  for (const p of raw['pending'] as { nodeId: string; commands: PendingDeviceCommand[] }[]) {
    pending.set(p.nodeId, new Map(p.commands.map((c) => [c.id, c])));
  }
  const discoveries = new Map<string, Map<string, DiscoveredDevice>>();
  for (const n of raw['discoveries'] as { nodeId: string; found: DiscoveredDevice[] }[]) {
    discoveries.set(n.nodeId, new Map(n.found.map((d) => [discoveryKey(d.port, d.mac), d])));
  }
  const readings = new TouchedMap<string, Map<string, ReadingSample[]>>();
  for (const r of raw['readings'] as { deviceId: string; sensors: { sensor: string; samples: ReadingSample[] }[] }[]) {
    readings.set(r.deviceId, new Map(r.sensors.map((s) => [s.sensor, s.samples])));
  }
  const devices = new TouchedMap((raw['devices'] as DeviceRecord[]).map((d) => [d.id, d]));
  return {
    clusterId: hex32(raw['clusterId']),
    clusterName: String(raw['clusterName']),
    root: { version: root.version, keys: root.keys.map(hex32), threshold: root.threshold },
    keys,
    lastSeq: new TouchedMap(raw['lastSeq'] as [string, number][]),
    domains,
    devices,
    members: new Map((raw['members'] as MemberRecord[]).map((m) => [m.nodeId, m])),
    remembered: new TouchedMap((raw['remembered'] as [string, RememberedResult][]).map(([hash, result]) => [hash, { ...result, term: result.term ?? 0 }])),
    rejections: raw['rejections'] as Rejection[],
    rejectionCounts: new Map(raw['rejectionCounts'] as [string, number][]),
    pending,
    nextCommandId: Number(raw['nextCommandId']),
    droppedDeviceCommands: Number(raw['droppedDeviceCommands']),
    doneCommands: raw['doneCommands'] as DeviceCommandRecord[],
    failedCommands: raw['failedCommands'] as DeviceCommandRecord[],
    discoveries,
    discoveriesEvicted: Number(raw['discoveriesEvicted']),
    readings,
    owners: ownersOf(devices.values()),
    appliedCount: Number(raw['appliedCount']),
    lastIndex: Number(raw['lastIndex']),
    lastTerm: Number(raw['lastTerm']),
    timeMs: Number(raw['timeMs']),
    chain: hex32(raw['chain']),
    engine: engines.restore(raw['engine']),
  };
}
