// log.ts — RaftLog: the node's view of the log, stable part (Storage) plus unstable part.
//
// Invariants: applied <= committed <= lastIndex(); firstIndex() - 1 <= applied.
import { CompactedError, UnavailableError, assert } from './errors.js';
import { Unstable } from './log-unstable.js';
import type { Entry, Snapshot, Storage } from './types.js';
import { limitSize, entrySizeBytes } from './util.js';

/** RaftLog manages the log entries of one node. */
export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  /** committed is the highest index known to be stored on a quorum. */
  committed: number;
  /** applied is the highest index handed to the application and acknowledged by advance(). */
  applied: number;
  private readonly maxCommittedSizePerReadyBytes: number;

  constructor(storage: Storage, maxCommittedSizePerReadyBytes: number) {
    this.storage = storage;
    this.maxCommittedSizePerReadyBytes = maxCommittedSizePerReadyBytes;
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    this.unstable = new Unstable(lastIndex + 1);
    this.committed = firstIndex - 1;
    this.applied = firstIndex - 1;
  }

  toString(): string {
    return `committed=${this.committed}, applied=${this.applied}, unstable.offset=${this.unstable.offset}, unstable.entries=${this.unstable.entries.length}`;
  }

  /**
   * maybeAppend handles an App message's payload: if the entry at `index` has term `logTerm`
   * (the log matching check, paper 5.3), appends `entries` after it, truncating any conflicting
   * suffix, and advances commit to min(committed, last new index). Returns the last new index,
   * or undefined when the check fails.
   */
  maybeAppend(index: number, logTerm: number, committed: number, entries: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNewIndex = index + entries.length;
    const conflictIndex = this.findConflict(entries);
    if (conflictIndex !== 0) {
      assert(conflictIndex > this.committed, () => `entry ${conflictIndex} conflicts with committed entry [committed(${this.committed})]`);
      this.append(entries.slice(conflictIndex - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNewIndex));
    return lastNewIndex;
  }

  /** append adds entries to the unstable log and returns the new last index. */
  append(entries: readonly Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    const after = entries[0]!.index - 1;
    assert(after >= this.committed, () => `after(${after}) is out of range [committed(${this.committed})]`);
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  /**
   * findConflict returns the index of the first entry whose term differs from the log's entry at
   * the same index, or the first entry beyond the log; 0 when all entries are already present.
   */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * findConflictByTerm returns the largest index <= `index` whose term is <= `term`, with that
   * term (etcd's fast backtracking, thesis 3.5 optimization). Used on both sides of a rejected App.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; i >= 0; i--) {
      const ourTerm = this.termOrUndefined(i);
      // Unknown (compacted) terms end the search: the caller falls back to a snapshot.
      if (ourTerm === undefined) return { index: i, term: 0 };
      if (ourTerm <= term) return { index: i, term: ourTerm };
    }
    return { index: 0, term: 0 };
  }

  /** unstableEntries returns the entries not yet persisted (a copy). */
  unstableEntries(): Entry[] {
    return [...this.unstable.entries];
  }

  /**
   * nextCommittedEntries returns committed entries not yet applied, bounded by
   * maxCommittedSizePerReadyBytes (at least one). Entries up to lastIndex() are eligible: the
   * unstable ones are in the same Ready's `entries`, which the application persists before it
   * applies anything.
   */
  nextCommittedEntries(): Entry[] {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    const hi = Math.min(this.committed, this.lastIndex()) + 1;
    if (lo >= hi) return [];
    return this.slice(lo, hi, this.maxCommittedSizePerReadyBytes);
  }

  /** hasNextCommittedEntries says whether nextCommittedEntries() would return anything. */
  hasNextCommittedEntries(): boolean {
    const lo = Math.max(this.applied + 1, this.firstIndex());
    return Math.min(this.committed, this.lastIndex()) + 1 > lo;
  }

  /** snapshot returns the unstable snapshot if any, else the storage's. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** commitTo raises the commit index; it never decreases. */
  commitTo(toCommit: number): void {
    if (this.committed >= toCommit) return;
    assert(toCommit <= this.lastIndex(),
      () => `tocommit(${toCommit}) is out of range [lastIndex(${this.lastIndex()})]. Was the raft log corrupted, truncated, or lost?`);
    this.committed = toCommit;
  }

  /** appliedTo records that the application applied up to index i. */
  appliedTo(i: number): void {
    if (i === 0) return;
    assert(this.committed >= i && i >= this.applied,
      () => `applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  lastTerm(): number {
    const term = this.termOrUndefined(this.lastIndex());
    assert(term !== undefined, 'unexpected error when getting the last term');
    return term;
  }

  /** term returns the term of entry i; throws CompactedError or UnavailableError. */
  term(i: number): number {
    const dummyIndex = this.firstIndex() - 1;
    if (i < dummyIndex) throw new CompactedError(i, dummyIndex + 1);
    if (i > this.lastIndex()) throw new UnavailableError(i, this.lastIndex());
    const unstableTerm = this.unstable.maybeTerm(i);
    if (unstableTerm !== undefined) return unstableTerm;
    return this.storage.term(i);
  }

  /** termOrUndefined is term() returning undefined instead of throwing for compacted/unavailable indexes. */
  termOrUndefined(i: number): number | undefined {
    // Checked without exceptions: this is on the hot path (every appended entry is checked).
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return undefined;
    const unstableTerm = this.unstable.maybeTerm(i);
    if (unstableTerm !== undefined) return unstableTerm;
    try {
      return this.storage.term(i);
    } catch (error) {
      // The storage may have compacted concurrently with our view of firstIndex.
      if (error instanceof CompactedError || error instanceof UnavailableError) return undefined;
      throw error;
    }
  }

  /** entries returns entries from i to the end, at most maxBytes (at least one). */
  entries(i: number, maxBytes: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxBytes);
  }

  /** allEntries returns every entry still available (test helper). */
  allEntries(): Entry[] {
    return this.entries(this.firstIndex(), Number.MAX_SAFE_INTEGER);
  }

  /**
   * isUpToDate says whether a log ending at (lastIndex, term) is at least as up to date as ours
   * (paper 5.4.1: compare last terms, then lengths).
   */
  isUpToDate(lastIndex: number, term: number): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lastIndex >= this.lastIndex());
  }

  matchTerm(i: number, term: number): boolean {
    const ourTerm = this.termOrUndefined(i);
    return ourTerm !== undefined && ourTerm === term;
  }

  /**
   * maybeCommit commits maxIndex if its entry has the current term (paper 5.4.2: a leader
   * commits only entries of its own term by counting replicas).
   */
  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex <= this.committed) return false;
    if (this.termOrUndefined(maxIndex) !== term) return false;
    this.commitTo(maxIndex);
    return true;
  }

  /** restore resets the log to a snapshot: everything is committed up to its index. */
  restore(snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }

  /** slice returns entries [lo, hi) limited to maxBytes (at least one), from storage then unstable. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    this.mustCheckOutOfBounds(lo, hi);
    if (lo === hi) return [];
    let result: Entry[] = [];
    if (lo < this.unstable.offset) {
      const stored = this.storage.entries(lo, Math.min(hi, this.unstable.offset), maxBytes);
      // A short read from storage means the size limit stopped it: return what we have.
      if (stored.length < Math.min(hi, this.unstable.offset) - lo) return stored;
      result = stored;
    }
    if (hi > this.unstable.offset) {
      const fresh = this.unstable.slice(Math.max(lo, this.unstable.offset), hi);
      result = result.length > 0 ? result.concat(fresh) : fresh;
    }
    return limitSize(result, maxBytes);
  }

  private mustCheckOutOfBounds(lo: number, hi: number): void {
    assert(lo <= hi, () => `invalid slice ${lo} > ${hi}`);
    const first = this.firstIndex();
    if (lo < first) throw new CompactedError(lo, first);
    const length = this.lastIndex() + 1 - first;
    assert(hi <= first + length, () => `slice[${lo},${hi}) out of bound [${first},${this.lastIndex()}]`);
  }
}

/** sizeOfEntries sums entrySizeBytes over entries. */
export function sizeOfEntries(entries: readonly Entry[]): number {
  let total = 0;
  for (const entry of entries) total += entrySizeBytes(entry);
  return total;
}
