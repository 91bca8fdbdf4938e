// audit.ts — the audit hash chain over applied entries (DESIGN.md "Audit chain").
//
//   entryDigest = sha256(u64be(timeMs) ‖ payload)
//   chain[i]    = sha256(chain[prev] ‖ u64be(index) ‖ u64be(term) ‖ entryDigest)
//
// The entry time is hashed with the command because apply depends on both. The chain starts from
// GENESIS_CHAIN = sha256(cluster id), so chains of different clusters never coincide. Entries the state
// machine never sees (Raft no-ops, configuration changes) are not part of the chain; indexes increase
// strictly but may skip.
import assert from 'node:assert/strict';
import { sha256, toHex } from '../commands/index.js';

/** ChainEntry is what the chain covers of one applied entry. */
export interface ChainEntry {
  index: number;
  term: number;
  timeMs: number;
  payload: Uint8Array;
}

function u64(value: number): Uint8Array {
  assert.ok(Number.isSafeInteger(value) && value >= 0, `u64: ${value} is not a non-negative safe integer`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value));
  return out;
}

/** genesisChain is the chain value before the first entry: sha256(cluster id). */
export function genesisChain(clusterId: Uint8Array): Uint8Array {
  return sha256(clusterId);
}

/** entryDigest is sha256(u64be(timeMs) ‖ payload). */
export function entryDigest(timeMs: number, payload: Uint8Array): Uint8Array {
  return sha256(u64(timeMs), payload);
}

/** extendChain returns the chain value after one more entry. */
export function extendChain(previous: Uint8Array, entry: ChainEntry): Uint8Array {
  assert.equal(previous.length, 32);
  return sha256(previous, u64(entry.index), u64(entry.term), entryDigest(entry.timeMs, entry.payload));
}

/** AuditCheck is the outcome of verifying an exported log against a chain value. */
export type AuditCheck =
  | { ok: true; chain: string; entries: number }
  | { ok: false; at: number; reason: string };

/**
 * verifyAuditChain recomputes the chain over `entries` (in log order) starting from the cluster's genesis
 * chain, checks that indexes strictly increase, and compares the result with `expectedHex` when given.
 * It is pure: the CLI uses it to check an exported log offline against a node's auditChain().
 */
export function verifyAuditChain(clusterId: Uint8Array, entries: readonly ChainEntry[], expectedHex?: string): AuditCheck {
  let chain = genesisChain(clusterId);
  let lastIndex = 0;
  for (const entry of entries) {
    if (!Number.isSafeInteger(entry.index) || entry.index <= lastIndex) {
      return { ok: false, at: entry.index, reason: `index ${entry.index} does not follow ${lastIndex}` };
    }
    if (!Number.isSafeInteger(entry.term) || entry.term < 0 || !Number.isSafeInteger(entry.timeMs) || entry.timeMs < 0) {
      return { ok: false, at: entry.index, reason: 'term and timeMs must be non-negative safe integers' };
    }
    chain = extendChain(chain, entry);
    lastIndex = entry.index;
  }
  const hex = toHex(chain);
  if (expectedHex !== undefined && expectedHex !== hex) {
    return { ok: false, at: lastIndex, reason: `chain is ${hex}, expected ${expectedHex}` };
  }
  return { ok: true, chain: hex, entries: entries.length };
}
