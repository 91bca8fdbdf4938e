// valid-envelopes.ts — the `valid-envelopes` checker (DESIGN.md promises 2 and 3): no invalid,
// replayed or reordered envelope is ever applied, anywhere.
//
// The audit export records every entry, applied or rejected, and the checker cannot rerun the state
// machine. So it re-derives, independently and with only the rules it can check itself, which
// entries a correct node may apply ("acceptable") and which it must reject, then holds every answer a
// node gave (the history's acknowledgements) to that.
//
// Derivation, over the reference log (the longest reachable log from index 1), in index order. An
// entry MUST BE REJECTED when:
//   (a) its envelope or body does not decode; or a signature is by a key the harness never issued
//       (history.keys); or any signature fails native Ed25519 verification (node:crypto) over the
//       exact body bytes; or a non-root body has other than one signature, by its signer's key;
//   (b) its body's clusterId is not history.keys.clusterId;
//   (c) its seq is not strictly greater than the signer's last CONSUMED seq (that of its last
//       acceptable entry, or of its last entry rejected after verification: see below);
//   (d) its body hash was already acceptable, or rejected after verification, at an earlier index.
// Every other entry is ACCEPTABLE, except that an entry some node answered as rejected (an op `fail`
// with that index, or an adversary answer with ok=false at it) is taken as rejected: a node may reject
// for reasons this checker cannot see (role, domain, expiry, policy), and such an entry does not claim
// its body hash as applied here. Acceptable is "may be applied", not "was".
// A rejection CONSUMES its signer's seq (src/state StateMachine.consumeSeq, issue 15): a command
// rejected after its signatures verified raises the signer's last seq to its own and its body is
// remembered, so neither it nor an older command of that signer may be applied later. Here, an entry
// taken as rejected that passed (a)-(d) consumes its seq and claims its body hash as rejected — rule
// (c) then measures against it, and a later copy is (d) a duplicate — unless its recorded code is one
// a node reports BEFORE the signatures verify (PRE_VERIFICATION_CODES: the node never learnt the
// signer). A rejection with no code recorded consumes too: every signer the workloads use is known to
// the cluster before the run, so a node can only reject their verified envelopes after verifying them.
// Limitation: an entry rejected for such a reason with no answer recorded is taken as acceptable; that
// only makes the checker stricter about the same signer's later entries, which pass (c) anyway since
// the workloads number each signer's commands in the order they send them.
//
// Problems reported:
//   1. An ok acknowledgement (RegisterOp/UniqueUpdate/StateChange `ok` with an index, an adversary
//      answer ok=true with an index) at an entry that must be rejected, or at an entry whose body
//      hash is not the acknowledged one.
//   2. The same body hash acknowledged ok at two different indexes.
//   3. Answers that contradict each other at one index (ok and rejected).
//   4. An adversary attempt of kind tamper-body / tamper-signature / foreign-cluster answered ok=true,
//      unless it is a duplicate answer (duplicate=true) pointing at an acceptable entry with the same
//      body hash: a tampered-signature copy of an already applied body is answered "duplicate of
//      index i", which reports the genuine copy's application, not the tampered envelope's.
//   5. A replay or reorder attempt answered ok=true with duplicate!==true, unless its index holds an
//      acceptable entry with its body hash (its copy raced ahead of the original and was legitimately
//      first); without an index it is always a problem.
// The planted bug `no-replay-check` applies a replayed body a second time: that copy is (d)
// must-be-rejected yet answered ok (rules 1 and 5) and its body is acknowledged at two indexes (2).
import { fromHex, toHex, verifySignature } from '../../src/commands/index.js';
import type { AdversaryAttempt, AppliedEntry, CheckerVerdict, History } from '../history.js';
import { EntryDecoder, referenceLog, shortHash, verdictOf, type DecodedEntry } from './common.js';

/** Classification is the derived verdict on one entry. */
export type Classification = { acceptable: true } | { acceptable: false; reason: string };

/** Acknowledgement is one answer a node gave about the entry at an index. */
interface Acknowledgement {
  readonly source: string;
  readonly index: number;
  readonly ok: boolean;
  readonly bodyHash: string | undefined;
  /** code is the rejection code the node gave (rejections only), when it was recorded. */
  readonly code?: string | undefined;
}

/**
 * PRE_VERIFICATION_CODES are the rejection codes a node reports before the command's signatures have
 * verified (src/commands verifyCommand, src/state StateMachine.apply): such a rejection does not consume
 * the signer's seq. Every other code (expired, stale_sequence, role_not_allowed, wrong_domain, and every
 * state rejection) is reported after they verified, and consumes it.
 */
const PRE_VERIFICATION_CODES: ReadonlySet<string> = new Set([
  'too_large', 'malformed_envelope', 'malformed_body', 'non_canonical_body', 'unsafe_integer', 'unknown_payload', 'invalid_payload',
  'no_signatures', 'too_many_signatures', 'bad_key_id', 'bad_signature_length', 'duplicate_signature', 'wrong_cluster', 'bad_signer',
  'unknown_signer', 'unexpected_key', 'bad_signature', 'below_threshold', 'duplicate',
]);

/** consumesSeq says whether a node's rejection with this code consumed the signer's seq (no code: it did). */
export function consumesSeq(code: string | undefined): boolean {
  return code === undefined || !PRE_VERIFICATION_CODES.has(code);
}

const TAMPER_KINDS: ReadonlySet<AdversaryAttempt['kind']> = new Set(['tamper-body', 'tamper-signature', 'foreign-cluster']);

/** checkValidEnvelopes is the `valid-envelopes` checker (rules above). */
export function checkValidEnvelopes(history: History): CheckerVerdict {
  const reference = referenceLog(history);
  const acknowledgements = collectAcknowledgements(history);
  const problems: string[] = [];
  const decoder = new EntryDecoder();
  const byIndex = new Map<number, { decoded: DecodedEntry; classification: Classification }>();
  if (reference !== null) {
    const rejectedByNode = new Map<number, string | undefined>();
    for (const ack of acknowledgements) {
      if (!ack.ok && (!rejectedByNode.has(ack.index) || rejectedByNode.get(ack.index) === undefined)) rejectedByNode.set(ack.index, ack.code);
    }
    const classified = classifyLog(history, reference.log, decoder, rejectedByNode);
    for (const item of classified) byIndex.set(item.decoded.entry.index, item);
  }
  problems.push(...contradictions(acknowledgements));
  for (const ack of acknowledgements) {
    if (!ack.ok) continue;
    const item = byIndex.get(ack.index);
    if (item === undefined) continue; // not in the reference log: nothing-lost reports a missing entry
    if (!item.classification.acceptable) problems.push(`${ack.source} was acknowledged ok at index ${ack.index}, but that entry must be rejected: ${item.classification.reason}`);
    else if (ack.bodyHash !== undefined && item.decoded.bodyHash !== ack.bodyHash) {
      problems.push(`${ack.source} was acknowledged ok at index ${ack.index}, which holds body ${shortHash(item.decoded.bodyHash)}, not ${shortHash(ack.bodyHash)}`);
    }
  }
  problems.push(...doubleAcknowledgements(acknowledgements));
  problems.push(...adversaryProblems(history.adversary, byIndex));

  const items = [...byIndex.values()];
  const rejected = items.filter((item) => !item.classification.acceptable);
  const reasons = new Map<string, number>();
  for (const item of rejected) {
    const reason = item.classification.acceptable ? '' : item.classification.reason.split(':')[0]!;
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  const answered = history.adversary.filter((attempt) => attempt.answer !== null).length;
  const summary = reference === null
    ? `no reachable log to replay; ${acknowledgements.length} acknowledgements, ${history.adversary.length} adversary attempts checked by their answers only`
    : `${items.length} entries of n${reference.node}'s log${reference.complete ? '' : ` (from index ${reference.log[0]?.index ?? '?'}; earlier seqs unknown)`}: ` +
      `${items.length - rejected.length} acceptable, ${rejected.length} must be rejected (${[...reasons].map(([reason, count]) => `${reason} ${count}`).join(', ') || 'none'}); ` +
      `${acknowledgements.filter((ack) => ack.ok).length} ok acknowledgements; ${history.adversary.length} adversary attempts (${answered} answered)`;
  return verdictOf('valid-envelopes', summary, problems);
}

/**
 * classifyLog derives, entry by entry, which entries a correct node may apply (rules (a)-(d)).
 * rejectedByNode maps the index of every entry some node answered as rejected to the code it gave.
 */
export function classifyLog(history: History, log: readonly AppliedEntry[], decoder: EntryDecoder, rejectedByNode: ReadonlyMap<number, string | undefined>): Array<{ decoded: DecodedEntry; classification: Classification }> {
  const lastSeq = new Map<string, number>();
  const seenAt = new Map<string, { index: number; what: 'acceptable' | 'rejected' }>();
  const out: Array<{ decoded: DecodedEntry; classification: Classification }> = [];
  for (const entry of [...log].sort((a, b) => a.index - b.index)) {
    const decoded = decoder.decode(entry);
    const classification = classify(history, decoded, lastSeq, seenAt);
    out.push({ decoded, classification });
    if (!classification.acceptable) continue;
    const rejected = rejectedByNode.has(entry.index);
    if (rejected && !consumesSeq(rejectedByNode.get(entry.index))) continue;
    // Applied, or rejected after its signatures verified: either way the seq is consumed (issue 15).
    lastSeq.set(decoded.body!.signer, decoded.body!.seq);
    seenAt.set(decoded.bodyHash!, { index: entry.index, what: rejected ? 'rejected' : 'acceptable' });
  }
  return out;
}

function classify(history: History, decoded: DecodedEntry, lastSeq: ReadonlyMap<string, number>, seenAt: ReadonlyMap<string, { index: number; what: string }>): Classification {
  const { envelope, body } = decoded;
  if (envelope === null || body === null || decoded.bodyHash === null) return { acceptable: false, reason: `undecodable: ${decoded.error ?? 'no body'}` };
  for (const [i, signature] of envelope.signatures.entries()) {
    const id = toHex(signature.keyId);
    const publicKeyHex = history.keys.keys[id];
    if (publicKeyHex === undefined) return { acceptable: false, reason: `unknown key: signatures[${i}] is by key ${id}, which the harness never issued` };
    const publicKey = fromHex(publicKeyHex, 32);
    if (publicKey === undefined || !verifySignature(publicKey, envelope.body, signature.sig)) {
      return { acceptable: false, reason: `bad signature: signatures[${i}] by key ${id} does not verify over the body` };
    }
  }
  if (body.signer !== 'root' && (envelope.signatures.length !== 1 || toHex(envelope.signatures[0]!.keyId) !== body.signer)) {
    return { acceptable: false, reason: `bad signature: a ${body.signer} command must carry exactly one signature, by its signer` };
  }
  if (toHex(body.clusterId) !== history.keys.clusterId) return { acceptable: false, reason: `foreign cluster: body is for cluster ${shortHash(toHex(body.clusterId))}` };
  const last = lastSeq.get(body.signer) ?? 0;
  if (body.seq <= last) return { acceptable: false, reason: `stale seq: seq ${body.seq} of signer ${shortHash(body.signer)} is not above its last consumed seq ${last}` };
  const earlier = seenAt.get(decoded.bodyHash);
  if (earlier !== undefined) return { acceptable: false, reason: `duplicate: body ${shortHash(decoded.bodyHash)} was already ${earlier.what} at index ${earlier.index}` };
  return { acceptable: true };
}

function collectAcknowledgements(history: History): Acknowledgement[] {
  const acks: Acknowledgement[] = [];
  for (const op of history.register) {
    if (op.kind !== 'write' || op.index === undefined || op.outcome === 'info') continue;
    acks.push({ source: `register write op ${op.id}`, index: op.index, ok: op.outcome === 'ok', bodyHash: op.bodyHash, code: op.code });
  }
  for (const update of history.updates) {
    if (update.index === undefined || update.outcome === 'info') continue;
    acks.push({ source: `update ${update.id}`, index: update.index, ok: update.outcome === 'ok', bodyHash: update.bodyHash, code: update.code });
  }
  for (const change of history.stateChanges) {
    if (change.index === undefined || change.outcome === 'info') continue;
    acks.push({ source: `state change of ${change.device} to ${change.state} at ${change.invokeMs} ms`, index: change.index, ok: change.outcome === 'ok', bodyHash: undefined });
  }
  for (const attempt of history.adversary) {
    const answer = attempt.answer;
    if (answer === null || answer.index === undefined || answer.ok === undefined) continue;
    acks.push({ source: `adversary ${attempt.kind} at ${attempt.t} ms via n${attempt.node}`, index: answer.index, ok: answer.ok, bodyHash: attempt.bodyHash, code: answer.code });
  }
  return acks;
}

function contradictions(acks: readonly Acknowledgement[]): string[] {
  const byIndex = new Map<number, Acknowledgement[]>();
  for (const ack of acks) byIndex.set(ack.index, [...(byIndex.get(ack.index) ?? []), ack]);
  const problems: string[] = [];
  for (const [index, list] of [...byIndex].sort((a, b) => a[0] - b[0])) {
    const ok = list.find((ack) => ack.ok);
    const rejected = list.find((ack) => !ack.ok);
    if (ok !== undefined && rejected !== undefined) problems.push(`contradictory answers at index ${index}: ${ok.source} was told ok, ${rejected.source} was told rejected`);
  }
  return problems;
}

function doubleAcknowledgements(acks: readonly Acknowledgement[]): string[] {
  const indexes = new Map<string, Set<number>>();
  for (const ack of acks) {
    if (!ack.ok || ack.bodyHash === undefined) continue;
    const set = indexes.get(ack.bodyHash) ?? new Set<number>();
    set.add(ack.index);
    indexes.set(ack.bodyHash, set);
  }
  const problems: string[] = [];
  for (const [bodyHash, set] of indexes) {
    if (set.size > 1) problems.push(`body ${shortHash(bodyHash)} was acknowledged ok at ${set.size} different indexes: ${[...set].sort((a, b) => a - b).join(', ')} (applied more than once)`);
  }
  return problems;
}

function adversaryProblems(attempts: readonly AdversaryAttempt[], byIndex: ReadonlyMap<number, { decoded: DecodedEntry; classification: Classification }>): string[] {
  const problems: string[] = [];
  for (const attempt of attempts) {
    const answer = attempt.answer;
    if (answer === null || answer.ok !== true) continue;
    const label = `adversary ${attempt.kind} of ${shortHash(attempt.originalBodyHash)} at ${attempt.t} ms via n${attempt.node}`;
    const item = answer.index === undefined ? undefined : byIndex.get(answer.index);
    const genuineCopy = item !== undefined && item.classification.acceptable && item.decoded.bodyHash === attempt.bodyHash;
    if (TAMPER_KINDS.has(attempt.kind)) {
      if (answer.duplicate === true && genuineCopy) continue;
      problems.push(`${label} was answered ok${answer.duplicate === true ? ' (duplicate)' : ''}${answer.index === undefined ? '' : ` at index ${answer.index}`}: a tampered envelope must be refused`);
    } else if (answer.duplicate !== true && !genuineCopy) {
      problems.push(`${label} was applied${answer.index === undefined ? ' (no index recorded)' : ` at index ${answer.index}`}: answered ok and not as a duplicate`);
    }
  }
  return problems;
}
