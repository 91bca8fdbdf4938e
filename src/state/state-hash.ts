// state-hash.ts — the state hash, maintained incrementally: its cost after an apply is proportional to
// the entries that apply touched, not to the state (issue 15: status polls under writes rehashed 31,000
// devices per call).
//
// Construction (version "quorumgate/state-hash/1"): a fixed-shape hash tree (Merkle, "A Digital Signature
// Based on a Conventional Encryption Function", CRYPTO '87), with sha256 at every node and each node kind
// domain-separated by a leading byte (the RFC 6962 §2.1 leaf/interior separation):
//   leaf    = sha256(U+0000 ‖ len(section) ":" section ‖ len(key) ":" key ‖ canonical JSON of the entry)
//   bucket  = sha256(0x01 ‖ the bucket's leaves, sorted bytewise)       (256 buckets, by FNV-1a of the key)
//   section = sha256(0x02 ‖ len(section) ‖ section ‖ bucket 0 ‖ … ‖ bucket 255)
//   state   = sha256(0x03 ‖ len(tag) ‖ tag ‖ sha256(canonical JSON of the rest) ‖ section 1 ‖ … ‖ section 6)
// The sections are the large keyed parts of the snapshot (lastSeq, devices, remembered results, readings,
// each domain's devices, the policy engine's devices); "the rest" is snapshotObject(data, false): the
// snapshot with those parts null, bounded by the state's small limits. Every length is 4 bytes big-endian
// (in the leaf, decimal UTF-16 lengths before a colon) and every digest 32 bytes, so each node's input
// parses uniquely; hence two states with equal hashes
// have equal rests and equal entry sets in every section, or sha256 has a collision (the standard Merkle
// tree argument) — no multiset-sum assumption, and no Wagner generalized-birthday attack as on a 256-bit
// sum of digests. Equal entry sets give equal snapshots: each entry is rendered exactly as its snapshot
// element, sorted sections are sorted by key, and the one ordered section, remembered results, is in
// ascending order of its results' indexes in every reachable state (remember() re-inserts at the end with
// the entry's index, and indexes strictly increase). Buckets and leaves are functions of the entries
// only, so the hash is deterministic and equal on every node after the same entries, however it got there.
//
// Incrementality: the large maps are TouchedMaps and domains' devices TouchedSets (touched-map.ts); the
// engine reports its touched devices. A StateHasher drains those keys and rehashes only their leaves,
// their buckets and the section; a section whose source object changed identity (restore, a domain
// created or removed) is rebuilt whole.
import { createHash, type Hash } from 'node:crypto';
import { canonicalJson } from '../commands/index.js';
import { readingsEntry, snapshotObject, type StateData } from './state-data.js';
import type { TouchedMap } from './touched-map.js';

/** HASH_TAG names the construction (changing it changes every hash: bump it with the construction). */
const HASH_TAG = 'quorumgate/state-hash/1';
const BUCKETS = 256;

function withLength(hash: Hash, text: string): Hash {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return hash.update(length).update(bytes);
}

/**
 * bucketOf places a key in one of the 256 buckets by FNV-1a (32 bits). Which bucket a key lands in only
 * decides how much is rehashed per change, never what the hash commits to (each leaf commits to its key),
 * so a non-cryptographic spread is enough; keys are chosen by authenticated admins and nodes, and a
 * deliberately crowded bucket costs at most a rehash of its (bounded) leaves per change.
 */
function bucketOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 24) ^ (h & 0xff);
}

const EMPTY_BUCKET = createHash('sha256').update(Buffer.from([1])).digest();

/** SectionHash is one section: its entries' leaves in 256 buckets, rehashed bucket by bucket. */
class SectionHash {
  /** buckets map key → leaf digest, as a 32-character binary (latin1) string, smaller than a Buffer. */
  private readonly buckets: Map<string, string>[] = Array.from({ length: BUCKETS }, () => new Map<string, string>());
  private readonly bucketDigests: Buffer[] = Array.from({ length: BUCKETS }, () => EMPTY_BUCKET);
  private readonly dirty = new Set<number>();
  private cached: Buffer | undefined;

  constructor(readonly name: string) {}

  /** put sets the entry under key to its canonical JSON text; undefined removes it. */
  put(key: string, json: string | undefined): void {
    const bucket = bucketOf(key);
    const entries = this.buckets[bucket] as Map<string, string>;
    if (json === undefined) {
      if (!entries.delete(key)) return;
    } else {
      // Lengths in UTF-16 code units, netstring style: the text parses uniquely, and UTF-8 is injective.
      entries.set(key, createHash('sha256').update(`\u0000${this.name.length}:${this.name}${key.length}:${key}${json}`, 'utf8').digest('binary'));
    }
    this.dirty.add(bucket);
  }

  /** digest is the section's hash, after rehashing the buckets changed since the last call. */
  digest(): Buffer {
    if (this.cached !== undefined && this.dirty.size === 0) return this.cached;
    for (const bucket of this.dirty) {
      // Sorted by UTF-16 code unit, which for binary (latin1) strings is bytewise.
      const leaves = [...(this.buckets[bucket] as Map<string, string>).values()].sort();
      this.bucketDigests[bucket] = createHash('sha256').update(Buffer.from([1])).update(leaves.join(''), 'binary').digest();
    }
    this.dirty.clear();
    const hash = withLength(createHash('sha256').update(Buffer.from([2])), this.name);
    for (const digest of this.bucketDigests) hash.update(digest);
    this.cached = hash.digest();
    return this.cached;
  }
}

/** Source is one section's entries: all of them, the touched keys (drained), and one entry's JSON by key. */
interface Source {
  readonly name: string;
  /** identity changes when the section must be rebuilt whole. */
  readonly identity: unknown;
  all(): Iterable<[string, string]>;
  takeTouched(): Iterable<string>;
  render(key: string): string | undefined;
}

function mapSource<V>(name: string, map: TouchedMap<string, V>, render: (key: string, value: V) => unknown): Source {
  return {
    name, identity: map,
    *all() {
      for (const [key, value] of map.entries()) yield [key, canonicalJson(render(key, value))];
    },
    takeTouched: () => map.takeTouched(),
    render: (key) => {
      const value = map.peek(key);
      return value === undefined ? undefined : canonicalJson(render(key, value));
    },
  };
}

/** domainDevicesSource: each domain's device ids, as entries keyed "domain\0id" (the snapshot's domains[].devices). */
function domainDevicesSource(data: StateData): Source {
  const key = (domain: string, id: string): string => `${domain}\u0000${id}`;
  return {
    name: 'domainDevices',
    identity: [...data.domains.values()].flatMap((d) => [d.name, d.devices]),
    *all() {
      for (const d of data.domains.values()) for (const id of d.devices) yield [key(d.name, id), canonicalJson([d.name, id])];
    },
    *takeTouched() {
      for (const d of data.domains.values()) for (const id of d.devices.takeTouched()) yield key(d.name, id);
    },
    render: (entry) => {
      const [domain = '', id = ''] = entry.split('\u0000');
      return data.domains.get(domain)?.devices.has(id) === true ? canonicalJson([domain, id]) : undefined;
    },
  };
}

/** engineDevicesSource: the engine's devices (snapshot().devices), or none when the engine cannot split them. */
function engineDevicesSource(data: StateData): Source {
  const engine = data.engine;
  const { snapshotHead, snapshotDevice, takeTouchedDevices } = engine;
  if (snapshotHead === undefined || snapshotDevice === undefined || takeTouchedDevices === undefined) {
    return { name: 'engineDevices', identity: [engine], all: () => [], takeTouched: () => [], render: () => undefined };
  }
  const render = (id: string): string | undefined => {
    const device = snapshotDevice.call(engine, id);
    return device === undefined ? undefined : canonicalJson(device);
  };
  return {
    name: 'engineDevices', identity: [engine],
    *all() {
      const devices = (engine.snapshot() as { devices: { id: string }[] }).devices;
      for (const device of devices) yield [device.id, canonicalJson(device)];
    },
    takeTouched: () => takeTouchedDevices.call(engine),
    render,
  };
}

/** sources lists the sections, in their fixed order in the state hash. */
function sources(data: StateData): Source[] {
  return [
    mapSource('lastSeq', data.lastSeq, (signer, seq) => [signer, seq]),
    mapSource('devices', data.devices, (_id, device) => device),
    mapSource('remembered', data.remembered, (bodyHash, result) => [bodyHash, result]),
    mapSource('readings', data.readings, readingsEntry),
    domainDevicesSource(data),
    engineDevicesSource(data),
  ];
}

function buildSection(source: Source): SectionHash {
  const section = new SectionHash(source.name);
  for (const [key, json] of source.all()) section.put(key, json);
  return section;
}

function sameIdentity(a: unknown, b: unknown): boolean {
  if (!Array.isArray(a) || !Array.isArray(b)) return a === b;
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

function combine(data: StateData, sectionDigests: Buffer[]): string {
  const hash = withLength(createHash('sha256').update(Buffer.from([3])), HASH_TAG);
  hash.update(createHash('sha256').update(canonicalJson(snapshotObject(data, false)), 'utf8').digest());
  for (const digest of sectionDigests) hash.update(digest);
  return hash.digest('hex');
}

/**
 * StateHasher keeps one state's hash incrementally. Use one hasher per StateMachine: digest() drains the
 * touched keys of the state's maps, so a second hasher on the same state would miss changes.
 */
export class StateHasher {
  private readonly sections = new Map<string, { identity: unknown; section: SectionHash }>();

  /** digest is the state hash (hex), rehashing only the entries touched since the last call. */
  digest(data: StateData): string {
    return combine(data, sources(data).map((source) => this.sync(source)));
  }

  private sync(source: Source): Buffer {
    const known = this.sections.get(source.name);
    if (known === undefined || !sameIdentity(known.identity, source.identity)) {
      for (const key of source.takeTouched()) void key;
      const section = buildSection(source);
      this.sections.set(source.name, { identity: source.identity, section });
      return section.digest();
    }
    for (const key of source.takeTouched()) known.section.put(key, source.render(key));
    return known.section.digest();
  }
}

/** scratchStateHash computes the state hash from nothing, touching no record (for tests and benchmarks). */
export function scratchStateHash(data: StateData): string {
  return combine(data, sources(data).map((source) => buildSection(source).digest()));
}
