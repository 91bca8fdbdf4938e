// log-unstable.ts — the part of the log not yet persisted: an incoming snapshot and entries
// appended after the stable log. The application persists them from a Ready and then advance()
// moves them to "stable" (stableTo / stableSnapTo).
//
// Invariant: entries[i].index === offset + i; if a snapshot is present, offset === snapshot index + 1.
import { assert } from './errors.js';
import type { Entry, Snapshot } from './types.js';

/** Unstable holds entries and a snapshot that the application has not yet persisted. */
export class Unstable {
  snapshot: Snapshot | undefined = undefined;
  entries: Entry[] = [];
  /** offset is the index of entries[0] (the next index to persist). */
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  /** maybeFirstIndex returns the first index if there is an unstable snapshot. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.metadata.index + 1;
  }

  /** maybeLastIndex returns the last index of the unstable part, if it has any entry or snapshot. */
  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot !== undefined) return this.snapshot.metadata.index;
    return undefined;
  }

  /** maybeTerm returns the term of entry i if the unstable part knows it. */
  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.metadata.index === i) return this.snapshot.metadata.term;
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return this.entries[i - this.offset]!.term;
  }

  /** stableTo marks entries up to (i, t) as persisted, unless they were replaced since the Ready. */
  stableTo(i: number, t: number): void {
    const term = this.maybeTerm(i);
    if (term === undefined || i < this.offset) return;
    // The entry at i may have been overwritten by a new leader after the Ready was taken: only
    // drop the prefix that is still what was persisted.
    if (term !== t) return;
    this.entries = this.entries.slice(i + 1 - this.offset);
    this.offset = i + 1;
  }

  /** stableSnapTo drops the unstable snapshot once persisted. */
  stableSnapTo(i: number): void {
    if (this.snapshot !== undefined && this.snapshot.metadata.index === i) this.snapshot = undefined;
  }

  /** restore replaces the unstable part with a snapshot (entries after it are gone). */
  restore(snapshot: Snapshot): void {
    this.offset = snapshot.metadata.index + 1;
    this.entries = [];
    this.snapshot = snapshot;
  }

  /** truncateAndAppend appends entries, overwriting any unstable entries from entries[0].index on. */
  truncateAndAppend(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const after = entries[0]!.index;
    if (after === this.offset + this.entries.length) {
      this.entries = this.entries.concat(entries);
    } else if (after <= this.offset) {
      // The new entries replace everything unstable (and part of the stable log, which the
      // application overwrites when persisting them).
      this.offset = after;
      this.entries = [...entries];
    } else {
      this.entries = this.slice(this.offset, after).concat(entries);
    }
  }

  /** slice returns unstable entries [lo, hi). */
  slice(lo: number, hi: number): Entry[] {
    assert(lo <= hi && lo >= this.offset && hi <= this.offset + this.entries.length,
      () => `Unstable.slice: [${lo}, ${hi}) out of bound [${this.offset}, ${this.offset + this.entries.length})`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
