// common.ts — helpers shared by the chaos checkers: bounded verdicts, decoding audit-log entries, and
// pairing fault events into intervals. Everything here is pure.
import { decodeBody, decodeSignedCommand, sha256, toHex, type CommandBody, type SignedCommand } from '../../src/commands/index.js';
import type { AppliedEntry, CheckerVerdict, FaultEvent, FinalNodeView, History } from '../history.js';

/** MAX_PROBLEMS is how many problem lines a verdict lists before "... and N more". */
export const MAX_PROBLEMS = 20;

/**
 * verdictOf builds a CheckerVerdict: ok exactly when there is no problem, and at most MAX_PROBLEMS
 * problem lines (then one line saying how many more there were).
 */
export function verdictOf(checker: string, summary: string, problems: readonly string[]): CheckerVerdict {
  const shown = problems.length <= MAX_PROBLEMS ? [...problems] : [...problems.slice(0, MAX_PROBLEMS), `... and ${problems.length - MAX_PROBLEMS} more`];
  return { checker, ok: problems.length === 0, summary, problems: shown };
}

/** DecodedEntry is one audit-log entry as a checker sees it; bodyHash is null when the envelope does not decode. */
export interface DecodedEntry {
  readonly entry: AppliedEntry;
  readonly bodyHash: string | null;
  readonly envelope: SignedCommand | null;
  readonly body: CommandBody | null;
  /** error says why the envelope or body did not decode. */
  readonly error: string | null;
}

/**
 * bodyHashOfEnvelope is the dedup key the state machine uses (src/state StateMachine.bodyHashOf):
 * sha256 of the envelope's body bytes, hex. Throws CommandError when the envelope does not decode.
 */
export function bodyHashOfEnvelope(envelopeBytes: Uint8Array): string {
  return toHex(sha256(decodeSignedCommand(envelopeBytes).body));
}

/** decodeEntry decodes an entry's base64 SignedCommand and its body; it never throws. */
export function decodeEntry(entry: AppliedEntry): DecodedEntry {
  let envelope: SignedCommand;
  try {
    envelope = decodeSignedCommand(new Uint8Array(Buffer.from(entry.payload, 'base64')));
  } catch (error) {
    return { entry, bodyHash: null, envelope: null, body: null, error: (error as Error).message };
  }
  const bodyHash = toHex(sha256(envelope.body));
  try {
    return { entry, bodyHash, envelope, body: decodeBody(envelope.body), error: null };
  } catch (error) {
    return { entry, bodyHash, envelope, body: null, error: (error as Error).message };
  }
}

/** EntryDecoder decodes entries once per distinct payload (every node holds the same entries). */
export class EntryDecoder {
  private readonly cache = new Map<string, Omit<DecodedEntry, 'entry'>>();

  decode(entry: AppliedEntry): DecodedEntry {
    const hit = this.cache.get(entry.payload);
    if (hit !== undefined) return { ...hit, entry };
    const decoded = decodeEntry(entry);
    this.cache.set(entry.payload, decoded);
    return decoded;
  }
}

/** reachableNodes lists the final views of the nodes that answered after healing. */
export function reachableNodes(history: History): FinalNodeView[] {
  return history.final === null ? [] : history.final.nodes.filter((node) => node.reachable);
}

/**
 * referenceLog picks the log the envelope rules are replayed over: the longest log of a reachable node
 * that starts at index 1, else the one that starts earliest. `complete` says whether it starts at 1.
 */
export function referenceLog(history: History): { node: number; log: readonly AppliedEntry[]; complete: boolean } | null {
  const nodes = reachableNodes(history).filter((node) => node.log.length > 0);
  if (nodes.length === 0) return null;
  const sorted = [...nodes].sort((a, b) => (a.logFrom === 1 ? 0 : 1) - (b.logFrom === 1 ? 0 : 1) || a.logFrom - b.logFrom || b.log.length - a.log.length || a.node - b.node);
  const best = sorted[0]!;
  return { node: best.node, log: best.log, complete: best.logFrom === 1 };
}

/** FaultInterval is a fault from its start to its end (Infinity when it was never undone). */
export interface FaultInterval {
  readonly fault: string;
  readonly detail: string;
  readonly nodes: readonly number[];
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * faultIntervals pairs each `start` with the first later `end` of the same fault family on the same
 * nodes. A start never undone lasts until Infinity; an end without a start is an instant [end, end].
 */
export function faultIntervals(faults: readonly FaultEvent[]): FaultInterval[] {
  const sorted = [...faults].sort((a, b) => a.t - b.t);
  const open: FaultEvent[] = [];
  const intervals: FaultInterval[] = [];
  const sameNodes = (a: FaultEvent, b: FaultEvent): boolean => [...a.nodes].sort().join(',') === [...b.nodes].sort().join(',');
  for (const event of sorted) {
    if (event.phase === 'start') {
      open.push(event);
      continue;
    }
    const at = open.findIndex((start) => start.fault === event.fault && sameNodes(start, event));
    if (at < 0) {
      intervals.push({ fault: event.fault, detail: event.detail, nodes: event.nodes, startMs: event.t, endMs: event.t });
      continue;
    }
    const start = open.splice(at, 1)[0]!;
    intervals.push({ fault: start.fault, detail: start.detail, nodes: start.nodes, startMs: start.t, endMs: event.t });
  }
  for (const start of open) intervals.push({ fault: start.fault, detail: start.detail, nodes: start.nodes, startMs: start.t, endMs: Infinity });
  return intervals.sort((a, b) => a.startMs - b.startMs);
}

/** formatMs renders a run time (ms since start) as seconds with millisecond precision. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return 'never';
  if (!Number.isFinite(ms)) return String(ms);
  return `${(ms / 1000).toFixed(3)}s`;
}

/** shortHash abbreviates a hex hash for problem lines. */
export function shortHash(hash: string | null | undefined): string {
  return hash === null || hash === undefined ? '(none)' : hash.slice(0, 12);
}
