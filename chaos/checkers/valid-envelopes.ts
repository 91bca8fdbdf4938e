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
//   (c) its seq is not strictly greater than the seq of the signer's last ACCEPTABLE entry;
//   (d) its body hash was already acceptable at an earlier index (a duplicate).
// Every other entry is ACCEPTABLE, except that an entry some node answered as rejected (an op `fail`
// with that index, or an adversary answer with ok=false at it) is taken as rejected: a node may reject
// for reasons this checker cannot see (role, domain, expiry, policy), and such an entry must not
// advance the signer's seq or claim its body hash here. Acceptable is "may be applied", not "was".
// Limitation: an entry rejected for such a reason with no answer recorded is taken as acceptable; that
// could only mislead rule (c) when the same signer's lower seq follows it, which the sequential
// workloads never do.
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
    const rejectedByNode = new Set(acknowledgements.filter((ack) => !ack.ok).map((ack) => ack.index));
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

/** classifyLog derives, entry by entry, which entries a correct node may apply (rules (a)-(d)). */
export function classifyLog(history: History, log: readonly AppliedEntry[], decoder: EntryDecoder, rejectedByNode: ReadonlySet<number>): Array<{ decoded: DecodedEntry; classification: Classification }> {
  const lastSeq = new Map<string, number>();
  const acceptedAt = new Map<string, number>();
  const out: Array<{ decoded: DecodedEntry; classification: Classification }> = [];
  for (const entry of [...log].sort((a, b) => a.index - b.index)) {
    const decoded = decoder.decode(entry);
    const classification = classify(history, decoded, lastSeq, acceptedAt);
    out.push({ decoded, classification });
    if (!classification.acceptable || rejectedByNode.has(entry.index)) continue;
    lastSeq.set(decoded.body!.signer, decoded.body!.seq);
    acceptedAt.set(decoded.bodyHash!, entry.index);
  }
  return out;
}

function classify(history: History, decoded: DecodedEntry, lastSeq: ReadonlyMap<string, number>, acceptedAt: ReadonlyMap<string, number>): Classification {
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
  if (body.seq <= last) return { acceptable: false, reason: `stale seq: seq ${body.seq} of signer ${shortHash(body.signer)} is not above its last acceptable seq ${last}` };
  const earlier = acceptedAt.get(decoded.bodyHash);
  if (earlier !== undefined) return { acceptable: false, reason: `duplicate: body ${shortHash(decoded.bodyHash)} was already acceptable at index ${earlier}` };
  return { acceptable: true };
}

function collectAcknowledgements(history: History): Acknowledgement[] {
  const acks: Acknowledgement[] = [];
  for (const op of history.register) {
    if (op.kind !== 'write' || op.index === undefined || op.outcome === 'info') continue;
    acks.push({ source: `register write op ${op.id}`, index: op.index, ok: op.outcome === 'ok', bodyHash: op.bodyHash });
  }
  for (const update of history.updates) {
    if (update.index === undefined || update.outcome === 'info') continue;
    acks.push({ source: `update ${update.id}`, index: update.index, ok: update.outcome === 'ok', bodyHash: update.bodyHash });
  }
  for (const change of history.stateChanges) {
    if (change.index === undefined || change.outcome === 'info') continue;
    acks.push({ source: `state change of ${change.device} to ${change.state} at ${change.invokeMs} ms`, index: change.index, ok: change.outcome === 'ok', bodyHash: undefined });
  }
  for (const attempt of history.adversary) {
    const answer = attempt.answer;
    if (answer === null || answer.index === undefined || answer.ok === undefined) continue;
    acks.push({ source: `adversary ${attempt.kind} at ${attempt.t} ms via n${attempt.node}`, index: answer.index, ok: answer.ok, bodyHash: attempt.bodyHash });
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
