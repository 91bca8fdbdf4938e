// message-validation.ts — structural checks on messages that arrive from the network, before
// the core sees them. The core trusts its peers' Raft behaviour (Raft is not Byzantine-tolerant),
// but a decoding slip or a corrupted frame must be refused at the edge with a precise error,
// never crash the node on an assertion or be misread as a local message (term 0).
import type { ConfigAndProgress } from './conf-change.js';
import { Changer, decodeConfChange } from './conf-change.js';
import { ConfChangeDecodeError, ConfChangeError, InvalidMessageError } from './errors.js';
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

/**
 * ReceiverView is what validateAgainstReceiver needs to know of the node a message arrives at:
 * its term, its last log index, whether it leads, and its membership (to check a conf change the
 * way RawNode.proposeConfChange checks a local one).
 */
export interface ReceiverView {
  readonly term: number;
  readonly lastIndex: number;
  readonly isLeader: boolean;
  readonly membership: ConfigAndProgress;
  readonly maxInflightMsgs: number;
}

/**
 * validateAgainstReceiver throws InvalidMessageError for a well-formed message (validateWireMessage
 * passed) that the core would otherwise assert on, or that would append what can never apply:
 * - a Heartbeat of the current or a newer term whose commit is beyond the receiver's log. A leader
 *   sends commit = min(its commit, the follower's acknowledged match) (thesis 3.5, etcd's
 *   sendHeartbeat), so more than the follower holds means a corrupted frame or a lost log; the
 *   core's commitTo asserts on it. Stale-term heartbeats still pass: the receiver answers them so
 *   that a deposed leader learns the term (thesis 6.2).
 * - an AppResp of the leader's term acknowledging an index beyond the leader's last index: by
 *   Leader Completeness (thesis 3.6.3) a follower only acknowledges entries this leader sent, and
 *   handleAppendResponse asserts on it.
 * - a forwarded Prop whose ConfChange entry does not decode or could never apply to the current
 *   configuration (thesis 4.1, 4.3): committed, it would crash every node in applyConfChange. Only
 *   the leader checks; a follower forwards the Prop to its leader, which appends it.
 */
export function validateAgainstReceiver(m: Message, receiver: ReceiverView): void {
  if (m.type === MessageType.Heartbeat && m.term >= receiver.term && m.commit > receiver.lastIndex) {
    throw new InvalidMessageError('commit', `<= the receiver's last index ${receiver.lastIndex} on a Heartbeat`, m.commit);
  }
  if (m.type === MessageType.AppResp && receiver.isLeader && m.term === receiver.term && m.index > receiver.lastIndex) {
    throw new InvalidMessageError('index', `<= the leader's last index ${receiver.lastIndex} on an AppResp`, m.index);
  }
  if (m.type === MessageType.Prop && receiver.isLeader) {
    m.entries.forEach((entry, i) => {
      if (entry.type === EntryType.ConfChange) checkConfChange(`entries[${i}].data`, entry.data, receiver);
    });
  }
}

function checkConfChange(where: string, data: Uint8Array, receiver: ReceiverView): void {
  try {
    const change = decodeConfChange(data);
    new Changer(receiver.membership, receiver.lastIndex, receiver.maxInflightMsgs).applyChange(change);
  } catch (error) {
    if (!(error instanceof ConfChangeDecodeError) && !(error instanceof ConfChangeError)) throw error;
    throw new InvalidMessageError(where, `a ConfChange that applies to the current configuration (${error.message})`, `${data.byteLength} bytes`);
  }
}
