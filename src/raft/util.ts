// util.ts — small pure helpers shared by the core's modules: entry sizes, message construction,
// empty values and comparisons.
import { ENTRY_OVERHEAD_BYTES } from './constants.js';
import type { ConfState, Entry, HardState, Message, MessageType, Snapshot } from './types.js';

/** EMPTY_BYTES is the shared empty byte array for absent data and contexts. */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/** EMPTY_CONF_STATE is a configuration with no members. */
export const EMPTY_CONF_STATE: ConfState = Object.freeze({
  voters: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false,
});

/** EMPTY_HARD_STATE is the hard state of a node that never voted, never saw a term, never committed. */
export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: 0, commit: 0 });

/** EMPTY_SNAPSHOT is the snapshot of a fresh log: index 0, term 0. */
export const EMPTY_SNAPSHOT: Snapshot = Object.freeze({
  metadata: { index: 0, term: 0, confState: EMPTY_CONF_STATE },
  data: EMPTY_BYTES,
});

/** entrySizeBytes is the size an entry counts for message and Ready limits (data plus fixed overhead). */
export function entrySizeBytes(entry: Entry): number {
  return entry.data.byteLength + ENTRY_OVERHEAD_BYTES;
}

/** payloadSizeBytes is what an entry counts against maxUncommittedEntriesBytes (data only, so no-ops are free). */
export function payloadSizeBytes(entries: readonly Entry[]): number {
  let total = 0;
  for (const entry of entries) total += entry.data.byteLength;
  return total;
}

/** limitSize keeps the longest prefix of `entries` within maxBytes, but always at least one entry. */
export function limitSize<T extends Entry>(entries: T[], maxBytes: number): T[] {
  if (entries.length === 0) return entries;
  let size = entrySizeBytes(entries[0]!);
  let limit = 1;
  for (; limit < entries.length; limit++) {
    size += entrySizeBytes(entries[limit]!);
    if (size > maxBytes) break;
  }
  return limit === entries.length ? entries : entries.slice(0, limit);
}

/** isEmptySnapshot says whether a snapshot is the empty one (index 0). */
export function isEmptySnapshot(snapshot: Snapshot | undefined): boolean {
  return snapshot === undefined || snapshot.metadata.index === 0;
}

/** hardStateEqual compares two hard states field by field. */
export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** isEmptyHardState says whether a hard state carries nothing. */
export function isEmptyHardState(hardState: HardState): boolean {
  return hardStateEqual(hardState, EMPTY_HARD_STATE);
}

/** bytesEqual compares two byte arrays. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** MessageFields is the subset of Message fields a caller sets; the rest default to 0 / empty. */
export type MessageFields = Partial<Message> & { readonly type: MessageType };

/** makeMessage builds a Message with every unset field at its zero value. */
export function makeMessage(fields: MessageFields): Message {
  return {
    to: 0, from: 0, term: 0, logTerm: 0, index: 0, entries: [], commit: 0,
    reject: false, rejectHint: 0, context: EMPTY_BYTES,
    ...fields,
  };
}

/** sortedIds returns the ids of an iterable, sorted ascending, without duplicates. */
export function sortedIds(ids: Iterable<number>): number[] {
  return [...new Set(ids)].sort((a, b) => a - b);
}
