// nothing-lost.ts — the `nothing-lost` checker (DESIGN.md promises 1 and 5): every acknowledged update
// is in every node's log, nothing is in a log more often than it was sent, and the logs agree.
//
// The audit export lists every entry the state machine saw, applied or rejected, so the checker
// speaks of entries being *present*: an update (a UniqueUpdate, or a RegisterOp write) is present at
// an index of a node's log when the entry there decodes to an envelope whose body hash (sha256 of the
// body bytes, hex — the state machine's dedup key) is the update's bodyHash. Whether a present entry
// was applied or rejected is the valid-envelopes checker's business.
//
// Rules. "Checked part" of a node's log: the reachable node's log entries (from `logFrom`); for a
// node whose log starts at 1 that is its whole log; an empty export from an index above 1 (compacted
// away) has no checked part.
//
// 1. Log agreement: over the index range two reachable nodes both hold, they have the same entries
//    (same indexes; at each, the same term, entry time and payload). Each node is compared with the
//    reference log (the longest that starts at 1) and its first divergence is reported.
// 2. Copies: an envelope may reach the log more than once only when it was submitted more than once.
//    Its allowed copies are: 1 (own submission; `sends` when the harness retried the same bytes)
//    plus one per adversary attempt that sent a body with that hash (a replay, a reorder, or a
//    re-signed tampered-signature copy of the same body, which races its original into the log from a
//    node that has not yet applied it). More copies in one node's log is a duplicated entry.
// 3. `ok` with an index i: on every node whose checked part covers i, the entry at i is the update.
//    A node whose log ends before i has lost it. `ok` without an index: present at least once on
//    every node whose log starts at 1.
// 4. `info`: present at most its allowed copies (rule 2); absent is fine (it never happened).
// 5. `fail` with an index i (a recorded rejection): the entry at i is the update wherever i is
//    checked; it may appear elsewhere only as an allowed extra copy (rule 2, minus the one at i).
// 6. `fail` without an index (refused before proposing): present at most (allowed copies - 1) times,
//    i.e. absent unless a resend or an adversary copy explains it.
import type { AppliedEntry, CheckerVerdict, FinalNodeView, History, Outcome } from '../history.js';
import { EntryDecoder, reachableNodes, shortHash, verdictOf } from './common.js';

interface Update {
  readonly label: string;
  readonly bodyHash: string;
  readonly outcome: Outcome;
  readonly index: number | undefined;
  readonly sends: number;
}

/** checkNothingLost is the `nothing-lost` checker (rules above). */
export function checkNothingLost(history: History): CheckerVerdict {
  if (history.final === null) return verdictOf('nothing-lost', 'no final observation was recorded', ['the run has no final observation: nothing can be checked']);
  const nodes = reachableNodes(history);
  if (nodes.length === 0) return verdictOf('nothing-lost', 'no node was reachable after healing', ['no reachable node: nothing can be checked']);
  const decoder = new EntryDecoder();
  const views = nodes.map((node) => nodeIndex(node, decoder));
  const problems: string[] = [...logAgreement(views)];

  const updates = collectUpdates(history);
  const adversaryCopies = new Map<string, number>();
  for (const attempt of history.adversary) adversaryCopies.set(attempt.bodyHash, (adversaryCopies.get(attempt.bodyHash) ?? 0) + 1);
  let checked = 0;
  for (const update of updates) {
    const allowed = update.sends + (adversaryCopies.get(update.bodyHash) ?? 0);
    for (const view of views) {
      checked += 1;
      problems.push(...checkUpdate(update, allowed, view));
    }
  }
  const counts = { ok: 0, info: 0, fail: 0 };
  for (const update of updates) counts[update.outcome] += 1;
  const summary = `${updates.length} updates (${counts.ok} ok, ${counts.info} info, ${counts.fail} fail) against ${views.length} node log(s)` +
    ` (${views.map((view) => `n${view.node.node}: ${view.node.log.length} entries from ${view.node.logFrom}`).join(', ')}); ${checked} checks`;
  return verdictOf('nothing-lost', summary, problems);
}

interface NodeLog {
  readonly node: FinalNodeView;
  readonly byIndex: ReadonlyMap<number, AppliedEntry>;
  /** hashAt maps an index to the body hash of its entry (null: undecodable). */
  readonly hashAt: ReadonlyMap<number, string | null>;
  /** indexesOf maps a body hash to the indexes holding it, in order. */
  readonly indexesOf: ReadonlyMap<string, number[]>;
  readonly firstIndex: number;
  readonly lastIndex: number;
}

function nodeIndex(node: FinalNodeView, decoder: EntryDecoder): NodeLog {
  const byIndex = new Map<number, AppliedEntry>();
  const hashAt = new Map<number, string | null>();
  const indexesOf = new Map<string, number[]>();
  for (const entry of node.log) {
    byIndex.set(entry.index, entry);
    const { bodyHash } = decoder.decode(entry);
    hashAt.set(entry.index, bodyHash);
    if (bodyHash !== null) {
      const list = indexesOf.get(bodyHash) ?? [];
      list.push(entry.index);
      indexesOf.set(bodyHash, list);
    }
  }
  const last = node.log.length === 0 ? node.logFrom - 1 : node.log[node.log.length - 1]!.index;
  return { node, byIndex, hashAt, indexesOf, firstIndex: node.logFrom, lastIndex: last };
}

function collectUpdates(history: History): Update[] {
  const updates: Update[] = [];
  for (const op of history.register) {
    if (op.kind !== 'write' || op.bodyHash === undefined) continue;
    updates.push({ label: `register write op ${op.id} (key ${op.key}, process ${op.process})`, bodyHash: op.bodyHash, outcome: op.outcome, index: op.index, sends: op.sends ?? 1 });
  }
  for (const update of history.updates) {
    updates.push({ label: `update ${update.id} (process ${update.process})`, bodyHash: update.bodyHash, outcome: update.outcome, index: update.index, sends: update.sends ?? 1 });
  }
  return updates;
}

function checkUpdate(update: Update, allowed: number, view: NodeLog): string[] {
  const problems: string[] = [];
  // A node whose whole export was compacted away (empty, from an index above 1) holds nothing to judge.
  if (view.node.log.length === 0 && view.node.logFrom > 1) return problems;
  const where = `n${view.node.node}`;
  const present = view.indexesOf.get(update.bodyHash) ?? [];
  const complete = view.node.logFrom === 1;
  const at = (index: number): string => `${update.label} ${update.outcome} at index ${index}`;
  if (update.index !== undefined && update.outcome !== 'info') {
    const index = update.index;
    if (index > view.lastIndex) {
      problems.push(`${at(index)} is missing on ${where}: its log ends at index ${view.lastIndex}`);
    } else if (index >= view.firstIndex) {
      const found = view.hashAt.get(index);
      if (found === undefined) problems.push(`${at(index)} is missing on ${where}: no entry at that index`);
      else if (found !== update.bodyHash) problems.push(`${at(index)} is missing on ${where}: index ${index} holds body ${shortHash(found)}, expected ${shortHash(update.bodyHash)}`);
    }
  } else if (update.outcome === 'ok' && complete && present.length === 0) {
    problems.push(`${update.label} ok (no index recorded) is missing from ${where}'s log`);
  }
  // A refusal before proposing leaves no copy of its own; every other outcome may leave one.
  const limit = update.outcome === 'fail' && update.index === undefined ? allowed - 1 : allowed;
  if (present.length > limit) {
    const verb = update.outcome === 'fail' && update.index === undefined ? 'refused before proposing, yet' : update.outcome === 'ok' ? 'duplicated:' : 'present';
    problems.push(`${update.label} ${update.outcome}: ${verb} ${present.length} copies in ${where}'s log at indexes ${present.slice(0, 8).join(', ')}${present.length > 8 ? ', ...' : ''}; at most ${limit} allowed`);
  }
  return problems;
}

/** logAgreement compares every node's log with the reference (the longest log from index 1). */
function logAgreement(views: readonly NodeLog[]): string[] {
  const sorted = [...views].sort((a, b) => (a.firstIndex === 1 ? 0 : 1) - (b.firstIndex === 1 ? 0 : 1) || b.node.log.length - a.node.log.length || a.node.node - b.node.node);
  const reference = sorted[0];
  if (reference === undefined) return [];
  const problems: string[] = [];
  for (const view of sorted.slice(1)) {
    const from = Math.max(reference.firstIndex, view.firstIndex);
    const to = Math.min(reference.lastIndex, view.lastIndex);
    const indexes = new Set<number>();
    for (const index of reference.byIndex.keys()) if (index >= from && index <= to) indexes.add(index);
    for (const index of view.byIndex.keys()) if (index >= from && index <= to) indexes.add(index);
    const first = [...indexes].sort((a, b) => a - b).find((index) => !sameEntry(reference.byIndex.get(index), view.byIndex.get(index)));
    if (first === undefined) continue;
    problems.push(`logs diverge: n${reference.node.node} and n${view.node.node} first differ at index ${first}: ` +
      `${describeEntry(reference.byIndex.get(first), reference.hashAt.get(first))} vs ${describeEntry(view.byIndex.get(first), view.hashAt.get(first))}`);
  }
  return problems;
}

function sameEntry(a: AppliedEntry | undefined, b: AppliedEntry | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.term === b.term && a.timeMs === b.timeMs && a.payload === b.payload;
}

function describeEntry(entry: AppliedEntry | undefined, bodyHash: string | null | undefined): string {
  if (entry === undefined) return 'no entry';
  return `term ${entry.term} time ${entry.timeMs} body ${shortHash(bodyHash)}`;
}
