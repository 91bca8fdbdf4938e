// fixtures.ts — a small deterministic cluster for state-machine tests: fixed keys (from fixed seeds),
// a genesis, a policy for one domain, and a command builder that tracks each signer's sequence numbers.
import {
  createGenesis, keyIdHex, keyPairFromSeed, sha256, signCommand, clusterIdOf,
  type Genesis, type KeyPair, type Payload, type SignerImplementation,
} from '../../src/commands/index.js';
import type { LogEntryInput } from '../../src/state/index.js';

/** T0_MS is the entry time of the first test entry (2026-01-01T00:00:00Z). */
export const T0_MS = 1_767_225_600_000;
/** DAY_MS is a command's default lifetime in tests. */
export const DAY_MS = 24 * 3600 * 1000;

/** testKey derives a fixed key pair from a label, so failures reproduce exactly. */
export function testKey(label: string): KeyPair {
  return keyPairFromSeed(sha256(new TextEncoder().encode(`quorumgate test key ${label}`)));
}

export const MONITOR_DIGEST = `sha256:${'1'.repeat(64)}`;
export const FIREWALL_DIGEST = `sha256:${'2'.repeat(64)}`;

/** homePolicy is a realistic policy for domain "home": a metering smart plug and a camera. */
export function homePolicy(version = 1): Record<string, unknown> {
  return {
    domain: 'home',
    version,
    deviceTypes: [
      {
        name: 'smart-plug',
        sensors: [{ name: 'power', type: 'number', unit: 'W' }, { name: 'relay-on', type: 'boolean' }],
        alertTypes: ['brute-force-login', 'firmware-tamper'],
        states: [
          { name: 'normal', chain: [{ name: 'monitor', digest: MONITOR_DIGEST }] },
          { name: 'suspicious', chain: [{ name: 'monitor', digest: MONITOR_DIGEST }, { name: 'firewall', digest: FIREWALL_DIGEST }] },
          { name: 'attack', verdict: 'quarantine' },
        ],
        rules: [
          { name: 'login-brute-force', from: 'any', to: 'attack', when: { alert: { type: 'brute-force-login', atLeast: 3, withinMs: 10_000 } } },
          {
            name: 'overload', from: 'normal', to: 'suspicious',
            when: { sensor: { name: 'power', op: '>', value: 1800, over: { last: 3, aggregate: 'avg' } } },
            commands: [{ command: 'power-off', args: { reason: 'overload' } }],
          },
        ],
      },
      {
        name: 'camera',
        sensors: [{ name: 'motion', type: 'boolean' }],
        alertTypes: ['port-scan'],
        states: [
          { name: 'normal', verdict: 'allow' },
          { name: 'suspicious', chain: [{ name: 'firewall', digest: FIREWALL_DIGEST }] },
          { name: 'attack', verdict: 'quarantine' },
        ],
        rules: [
          { name: 'scanning', from: 'normal', to: 'suspicious', when: { alert: { type: 'port-scan', atLeast: 2, withinMs: 60_000 } } },
        ],
      },
    ],
  };
}

/** TestCluster holds the keys and genesis of a 3-node cluster with a 2-of-3 root. */
export class TestCluster {
  readonly roots = [testKey('root-1'), testKey('root-2'), testKey('root-3')];
  readonly nodes = [testKey('node-1'), testKey('node-2'), testKey('node-3')];
  readonly admin = testKey('admin-home');
  readonly officeAdmin = testKey('admin-office');
  readonly genesis: Genesis;
  readonly clusterId: Uint8Array;
  private readonly seqs = new Map<string, number>();

  constructor() {
    this.genesis = createGenesis({
      clusterName: 'test-cluster',
      rootKeys: this.roots.map((k) => k.publicKey),
      rootThreshold: 2,
      members: this.nodes.map((k, i) => ({ nodeId: `n${i + 1}`, nodeKey: k.publicKey, address: `127.0.0.1:${7001 + i}` })),
    });
    this.clusterId = clusterIdOf(this.genesis);
  }

  /** nextSeq returns the next sequence number for a signer (1, 2, ...). */
  nextSeq(signer: string): number {
    const seq = (this.seqs.get(signer) ?? 0) + 1;
    this.seqs.set(signer, seq);
    return seq;
  }

  /** root signs a cluster- or domain-scoped root command with the first `count` root keys. */
  root(payload: Payload, domain = '', options: { count?: number; keys?: KeyPair[]; seq?: number; notAfterMs?: number } = {}): Uint8Array {
    const keys = options.keys ?? this.roots.slice(0, options.count ?? 2);
    return signCommand({
      clusterId: this.clusterId, domain, signer: 'root', seq: options.seq ?? this.nextSeq('root'),
      notAfterMs: options.notAfterMs ?? T0_MS + DAY_MS, payload,
    }, keys);
  }

  /** as signs a command with one admin or node key (signer = its key id). */
  as(key: KeyPair, payload: Payload, domain = '', options: { seq?: number; notAfterMs?: number; implementation?: SignerImplementation; clusterId?: Uint8Array } = {}): Uint8Array {
    const signer = keyIdHex(key.publicKey);
    return signCommand({
      clusterId: options.clusterId ?? this.clusterId, domain, signer, seq: options.seq ?? this.nextSeq(signer),
      notAfterMs: options.notAfterMs ?? T0_MS + DAY_MS, payload,
    }, [key], options.implementation ?? 'native');
  }

  /** setup returns the commands that create domain "home" with an admin, pinned images, a policy and devices. */
  setup(devices = 2): Uint8Array[] {
    const commands = [
      this.root({ kind: 'createDomain', description: 'the house' }, 'home'),
      this.root({ kind: 'addAdminKey', publicKey: this.admin.publicKey, name: 'alice' }, 'home'),
      this.as(this.admin, { kind: 'putImage', name: 'monitor', digest: MONITOR_DIGEST }, 'home'),
      this.as(this.admin, { kind: 'putImage', name: 'firewall', digest: FIREWALL_DIGEST }, 'home'),
      this.as(this.admin, { kind: 'setPolicy', documentJson: JSON.stringify(homePolicy(1)) }, 'home'),
    ];
    for (let i = 0; i < devices; i++) commands.push(this.putDevice(`plug-${i}`, 'smart-plug', `n${(i % 3) + 1}`));
    return commands;
  }

  /** putDevice is an admin command adding a device of domain "home". */
  putDevice(id: string, type: string, nodeId: string, group = 'kitchen'): Uint8Array {
    return this.as(this.admin, {
      kind: 'putDevice',
      device: { id, type, group, tags: ['iot'], nodeId, port: `p-${id}`, addresses: ['02:00:00:00:00:01'] },
    }, 'home');
  }
}

/** toEntries wraps command bytes as consecutive log entries, one second apart, from `firstIndex`. */
export function toEntries(commands: readonly Uint8Array[], firstIndex = 1, startMs = T0_MS, term = 1): LogEntryInput[] {
  return commands.map((payload, i) => ({ index: firstIndex + i, term, timeMs: startMs + i * 1000, payload }));
}
