// history-fixtures.ts — hand-built chaos histories for the checker and report tests: a quiet run that
// every checker passes, and real signed envelopes (test/state/fixtures.ts keys) to fill audit logs with.
import { keyIdHex, sha256, signCommand, toHex, decodeSignedCommand, encodeSignedCommand } from '../../src/commands/index.js';
import type { AppliedEntry, FinalNodeView, History, KnownKeys } from '../../chaos/history.js';
import { DAY_MS, T0_MS, TestCluster } from '../state/fixtures.js';

/** HEALED_MS is when every fault of the fixture run was undone. */
export const HEALED_MS = 50_000;

/** Envelopes signs register writes with the fixture cluster's admin key and renders them as log entries. */
export class Envelopes {
  readonly cluster = new TestCluster();

  /** keys lists every key of the fixture cluster, as the harness records them. */
  keys(): KnownKeys {
    const all = [...this.cluster.roots, ...this.cluster.nodes, this.cluster.admin, this.cluster.officeAdmin];
    return { clusterId: toHex(this.cluster.clusterId), keys: Object.fromEntries(all.map((key) => [keyIdHex(key.publicKey), toHex(key.publicKey)])) };
  }

  /** write signs a setDeviceState with the admin key (the next seq unless given). */
  write(label: string, options: { seq?: number; clusterId?: Uint8Array } = {}): { bytes: Uint8Array; bodyHash: string } {
    const bytes = this.cluster.as(this.cluster.admin, { kind: 'setDeviceState', deviceId: 'plug-0', state: 'normal', reason: label }, 'home', options);
    return { bytes, bodyHash: bodyHash(bytes) };
  }

  /** foreign signs a write for another cluster with the admin key. */
  foreign(label: string): { bytes: Uint8Array; bodyHash: string } {
    const bytes = signCommand({
      clusterId: sha256(new TextEncoder().encode('another cluster')), domain: 'home', signer: keyIdHex(this.cluster.admin.publicKey),
      seq: this.cluster.nextSeq('foreign'), notAfterMs: T0_MS + DAY_MS, payload: { kind: 'setDeviceState', deviceId: 'plug-0', state: 'normal', reason: label },
    }, [this.cluster.admin]);
    return { bytes, bodyHash: bodyHash(bytes) };
  }

  /** tamperSignature flips one bit of the first signature (the body, so the body hash, is unchanged). */
  tamperSignature(bytes: Uint8Array): { bytes: Uint8Array; bodyHash: string } {
    const envelope = decodeSignedCommand(bytes);
    const sig = Uint8Array.from(envelope.signatures[0]!.sig);
    sig[10] = sig[10]! ^ 1;
    const tampered = encodeSignedCommand({ body: envelope.body, signatures: [{ keyId: envelope.signatures[0]!.keyId, sig }] });
    return { bytes: tampered, bodyHash: bodyHash(tampered) };
  }
}

/** bodyHash is sha256 of an envelope's body, hex. */
export function bodyHash(bytes: Uint8Array): string {
  return toHex(sha256(decodeSignedCommand(bytes).body));
}

/** entry makes an audit-log entry of an envelope. */
export function entry(index: number, bytes: Uint8Array, term = 1): AppliedEntry {
  return { index, term, timeMs: T0_MS + index * 10, payload: Buffer.from(bytes).toString('base64') };
}

/** nodeView is a reachable, converged node with the given log. */
export function nodeView(node: number, log: readonly AppliedEntry[] = [], overrides: Partial<FinalNodeView> = {}): FinalNodeView {
  return {
    node, reachable: true, applied: log.length === 0 ? 0 : log[log.length - 1]!.index, stateHash: 'a'.repeat(64), auditChain: 'b'.repeat(64),
    deviceStates: { 'plug-0': 'normal' },
    dataplane: [{ deviceId: 'plug-0', desiredGeneration: 3, appliedGeneration: 3, enforcement: 'enforced', reason: null }],
    log, logFrom: 1, convergedAtMs: HEALED_MS + 1_000, ...overrides,
  };
}

/** quietHistory is a 3-node run with no operations in which every checker passes. */
export function quietHistory(keys: KnownKeys = { clusterId: 'c'.repeat(64), keys: {} }, log: readonly AppliedEntry[] = []): History {
  return {
    version: 1,
    run: { seed: 42, nodes: 3, nodeIds: [1, 2, 3], faults: ['kill', 'partition'], durationMs: 60_000, startedAtMs: T0_MS, healedAtMs: HEALED_MS, endedAtMs: 70_000 },
    keys,
    faults: [],
    register: [],
    updates: [],
    adversary: [],
    stateChanges: [],
    probes: [],
    samples: [],
    final: {
      leaderAtMs: HEALED_MS + 800,
      probeCommitAtMs: HEALED_MS + 1_200,
      nodes: [nodeView(1, log), nodeView(2, log), nodeView(3, log)],
      bounds: { leaderMs: 5_000, commitMs: 10_000, convergeMs: 15_000 },
    },
  };
}

/** withNodes replaces the final node views. */
export function withNodes(history: History, nodes: readonly FinalNodeView[]): History {
  return { ...history, final: { ...history.final!, nodes } };
}
