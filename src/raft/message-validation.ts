// message-validation.ts — structural checks on messages that arrive from the network, before
// the core sees them. The core trusts its peers' Raft behaviour (Raft is not Byzantine-tolerant),
// but a decoding slip or a corrupted frame must be refused at the edge with a precise error,
// never crash the node on an assertion or be misread as a local message (term 0).
import { InvalidMessageError } from './errors.js';
import type { Entry, Message } from './types.js';
import { EntryType, MessageType } from './types.js';

const TYPES = new Set<number>(Object.values(MessageType));
const ENTRY_TYPES = new Set<number>(Object.values(EntryType));
/** MAX_ENTRIES_PER_MESSAGE bounds the entries one message may carry. */
export const MAX_ENTRIES_PER_MESSAGE = 1_000_000;

function checkCount(field: string, value: unknown, min = 0): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidMessageError(field, `a safe integer >= ${min}`, value);
  }
}

function checkEntry(where: string, entry: Entry, checkPosition: boolean): void {
  if (typeof entry !== 'object' || entry === null) throw new InvalidMessageError(where, 'an entry object', entry);
  if (!ENTRY_TYPES.has(entry.type)) throw new InvalidMessageError(`${where}.type`, `one of ${[...ENTRY_TYPES].join('|')}`, entry.type);
  if (!(entry.data instanceof Uint8Array)) throw new InvalidMessageError(`${where}.data`, 'a Uint8Array', typeof entry.data);
  if (checkPosition) {
    checkCount(`${where}.term`, entry.term, 1);
    checkCount(`${where}.index`, entry.index, 1);
  }
}

/**
 * validateWireMessage throws InvalidMessageError unless `m` is a well-formed wire message:
 * known type, non-negative safe integers, a sender, a term (0 only on forwarded Prop and
 * ReadIndex, which must have 0), App entries contiguous after `index` and not newer than the
 * message's term, and a snapshot on Snap.
 */
export function validateWireMessage(m: Message): void {
  if (!TYPES.has(m.type)) throw new InvalidMessageError('type', 'a known MessageType', m.type);
  for (const field of ['to', 'from', 'term', 'logTerm', 'index', 'commit', 'rejectHint'] as const) checkCount(field, m[field]);
  checkCount('from', m.from, 1);
  const forwarded = m.type === MessageType.Prop || m.type === MessageType.ReadIndex;
  if (forwarded && m.term !== 0) throw new InvalidMessageError('term', `0 on a forwarded ${m.type === MessageType.Prop ? 'Prop' : 'ReadIndex'}`, m.term);
  if (!forwarded && m.term === 0) throw new InvalidMessageError('term', 'a term >= 1 on a wire message', m.term);
  if (!(m.context instanceof Uint8Array)) throw new InvalidMessageError('context', 'a Uint8Array', typeof m.context);
  if (!Array.isArray(m.entries) || m.entries.length > MAX_ENTRIES_PER_MESSAGE) {
    throw new InvalidMessageError('entries', `an array of at most ${MAX_ENTRIES_PER_MESSAGE}`, Array.isArray(m.entries) ? m.entries.length : typeof m.entries);
  }
  const isApp = m.type === MessageType.App;
  for (let i = 0; i < m.entries.length; i++) {
    const entry = m.entries[i]!;
    checkEntry(`entries[${i}]`, entry, isApp);
    if (isApp) {
      if (entry.index !== m.index + 1 + i) throw new InvalidMessageError(`entries[${i}].index`, `${m.index + 1 + i} (contiguous after index ${m.index})`, entry.index);
      if (entry.term > m.term) throw new InvalidMessageError(`entries[${i}].term`, `<= the message term ${m.term}`, entry.term);
      const previousTerm = i === 0 ? m.logTerm : m.entries[i - 1]!.term;
      if (entry.term < previousTerm) throw new InvalidMessageError(`entries[${i}].term`, `>= the previous term ${previousTerm}`, entry.term);
    }
  }
  if (m.type === MessageType.Snap) {
    const snapshot = m.snapshot;
    if (snapshot === undefined) throw new InvalidMessageError('snapshot', 'a snapshot on a Snap message', undefined);
    checkCount('snapshot.metadata.index', snapshot.metadata.index, 1);
    checkCount('snapshot.metadata.term', snapshot.metadata.term, 1);
    if (snapshot.metadata.term > m.term) throw new InvalidMessageError('snapshot.metadata.term', `<= the message term ${m.term}`, snapshot.metadata.term);
    const cs = snapshot.metadata.confState;
    for (const key of ['voters', 'learners', 'votersOutgoing', 'learnersNext'] as const) {
      if (!Array.isArray(cs[key])) throw new InvalidMessageError(`snapshot.metadata.confState.${key}`, 'an array of node ids', typeof cs[key]);
      cs[key].forEach((id, i) => checkCount(`snapshot.metadata.confState.${key}[${i}]`, id, 1));
    }
    if (cs.voters.length === 0) throw new InvalidMessageError('snapshot.metadata.confState.voters', 'at least one voter', 0);
    if (!(snapshot.data instanceof Uint8Array)) throw new InvalidMessageError('snapshot.data', 'a Uint8Array', typeof snapshot.data);
  }
}
