// history.ts — the simulator's global knowledge of the run and the invariants checked against it.
//
// Everything here is incremental: each check costs O(entries touched by the step), never a scan
// of whole logs. The History records
// - the leader of every term ever seen (Election Safety);
// - for every (index, term) ever written to a durable log, the entry's digest and the term of
//   the entry before it: two logs that agree on (index, term) then agree on everything before it,
//   by induction (Log Matching);
// - for every index some node applied, the applied entry and the running digest ("chain") of the
//   applied sequence up to it (State Machine Safety; committed entries never change);
// - acknowledged proposals and the highest acknowledged index (reads must see them).
import type { Entry, HardState, NodeId, Storage } from '../../../src/raft/index.js';
import { EntryType } from '../../../src/raft/index.js';
import { InvariantViolation } from './violation.js';

/** MachineState is a node's applied state machine: what it applied, as a digest chain and a write count. */
export interface MachineState {
  /** applied is the index of the last applied entry (Invariant: applied <= commit). */
  readonly applied: number;
  /** chain digests the whole applied sequence 1..applied. */
  readonly chain: number;
  /** writes counts applied Normal entries that carry data (client writes; no-ops and conf changes excluded). */
  readonly writes: number;
}

/** INITIAL_MACHINE is the state before any entry is applied. */
export const INITIAL_MACHINE: MachineState = Object.freeze({ applied: 0, chain: 0, writes: 0 });

const latin1 = new TextDecoder('latin1');

/** entryDigest identifies an entry's content (type and data; index and term are compared separately). */
export function entryDigest(entry: Entry): string {
  return `${entry.type}:${latin1.decode(entry.data)}`;
}

/** isWrite says whether an applied entry is a client write (counted by reads). */
export function isWrite(entry: Entry): boolean {
  return entry.type === EntryType.Normal && entry.data.byteLength > 0;
}

/** nextChain extends an applied-sequence digest by one entry (FNV-1a, 32 bits). */
export function nextChain(chain: number, index: number, term: number, digest: string): number {
  let hash = (0x811c9dc5 ^ chain) >>> 0;
  const text = `${index}|${term}|${digest}`;
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  }
  return hash;
}

/** LogView is the part of a durable log the checks read (MemoryStorage satisfies it). */
export type LogView = Pick<Storage, 'term' | 'lastIndex' | 'firstIndex'>;

interface EntryIdentity {
  readonly digest: string;
  readonly previousTerm: number;
}

/** History accumulates what the run has shown and throws InvariantViolation when a step contradicts it. */
export class History {
  private readonly leaderByTerm = new Map<number, NodeId>();
  private readonly identities = new Map<string, EntryIdentity>();
  // Indexed by log index; an index is set once some node applied the entry there.
  private readonly committedTerm: number[] = [0];
  private readonly committedDigest: string[] = [''];
  private readonly committedChain: number[] = [0];
  private readonly committedWrites: number[] = [0];
  private readonly ackedDigest = new Map<number, string>();
  /** maxAckedIndex is the highest index of an acknowledged proposal. */
  maxAckedIndex = 0;
  /** ackedCount is the number of acknowledged proposals. */
  ackedCount = 0;

  /** highestApplied is the highest index any node has applied. */
  get highestApplied(): number {
    return this.committedTerm.length - 1;
  }

  /** leaderTerms is the number of terms in which some node was leader. */
  get leaderTerms(): number {
    return this.leaderByTerm.size;
  }

  /** committedWritesAt returns how many writes the applied sequence holds up to `index`. */
  committedWritesAt(index: number): number | undefined {
    return this.committedWrites[index];
  }

  /** observeLeader records that `node` is leader of `term`: at most one leader per term (§5.2). */
  observeLeader(node: NodeId, term: number): void {
    const known = this.leaderByTerm.get(term);
    if (known === undefined) {
      this.leaderByTerm.set(term, node);
    } else if (known !== node) {
      throw new InvariantViolation('election-safety', node, `node ${node} is leader of term ${term}, but node ${known} already was`);
    }
  }

  /**
   * beforeAppend checks a durable append before it happens: the entries it overwrites or cuts off
   * ([first new index, old last index]) must not include an entry some node already applied.
   */
  beforeAppend(node: NodeId, entries: readonly Entry[], log: LogView): void {
    if (entries.length === 0) return;
    const start = Math.max(entries[0]!.index, log.firstIndex());
    const last = entries[entries.length - 1]!.index;
    const oldLast = log.lastIndex();
    for (let index = start; index <= oldLast; index++) {
      const oldTerm = log.term(index);
      const newTerm = index <= last ? entries[index - entries[0]!.index]!.term : undefined;
      if (newTerm !== oldTerm && this.committedTerm[index] === oldTerm) {
        const what = newTerm === undefined ? 'cut off' : `overwritten by term ${newTerm}`;
        throw new InvariantViolation('committed-entry-lost', node,
          `durable log of node ${node}: applied entry ${index} (term ${oldTerm}) is ${what}${this.ackNote(index)}`);
      }
    }
  }

  /** afterAppend records each appended entry's identity and checks it against every other log's (§5.3). */
  afterAppend(node: NodeId, entries: readonly Entry[], log: LogView): void {
    const first = log.firstIndex();
    for (let k = 0; k < entries.length; k++) {
      const entry = entries[k]!;
      if (entry.index < first) continue;
      const previousTerm = k > 0 && entries[k - 1]!.index >= first - 1 ? entries[k - 1]!.term : log.term(entry.index - 1);
      const digest = entryDigest(entry);
      const key = `${entry.index}/${entry.term}`;
      const known = this.identities.get(key);
      if (known === undefined) {
        this.identities.set(key, { digest, previousTerm });
      } else if (known.digest !== digest || known.previousTerm !== previousTerm) {
        throw new InvariantViolation('log-matching', node,
          `durable log of node ${node} has entry ${entry.index} term ${entry.term} with content ${JSON.stringify(digest)} ` +
          `after term ${previousTerm}, but another log has ${JSON.stringify(known.digest)} after term ${known.previousTerm}`);
      }
    }
  }

  /** beforeSnapshotInstall checks that installing `snapshot` does not discard an applied entry the log holds. */
  beforeSnapshotInstall(node: NodeId, index: number, term: number, log: LogView): void {
    const known = this.committedTerm[index];
    if (known !== undefined && known !== term) {
      throw new InvariantViolation('committed-entry-lost', node,
        `node ${node} installs a snapshot at index ${index} term ${term}, but the entry applied there has term ${known}`);
    }
    const oldLast = log.lastIndex();
    for (let i = Math.max(index + 1, log.firstIndex()); i <= oldLast; i++) {
      if (this.committedTerm[i] === log.term(i)) {
        throw new InvariantViolation('committed-entry-lost', node,
          `node ${node} installs a snapshot at index ${index}, discarding applied entry ${i} (term ${log.term(i)}) it held${this.ackNote(i)}`);
      }
    }
  }

  /** checkHardState checks a durable HardState change: term never decreases, one vote per term, commit never decreases. */
  checkHardState(node: NodeId, previous: HardState, next: HardState): void {
    const describe = (hs: HardState): string => `{term ${hs.term}, vote ${hs.vote}, commit ${hs.commit}}`;
    let problem: string | undefined;
    if (next.term < previous.term) problem = 'term decreased';
    else if (next.term === previous.term && previous.vote !== 0 && next.vote !== previous.vote) problem = 'vote changed within a term';
    else if (next.commit < previous.commit) problem = 'commit decreased';
    if (problem !== undefined) {
      throw new InvariantViolation('durable-state-regressed', node,
        `node ${node} persists HardState ${describe(next)} after ${describe(previous)}: ${problem}`);
    }
  }

  /**
   * applyEntry checks that `node`, whose state is `before`, may apply `entry` next, and returns the new state:
   * indexes are applied in order with no gap, and every node applies the same entry at each index (§5.4.3).
   */
  applyEntry(node: NodeId, before: MachineState, entry: Entry): MachineState {
    if (entry.index !== before.applied + 1) {
      throw new InvariantViolation('state-machine-safety', node,
        `node ${node} applies index ${entry.index} right after index ${before.applied}`);
    }
    const digest = entryDigest(entry);
    const after: MachineState = {
      applied: entry.index,
      chain: nextChain(before.chain, entry.index, entry.term, digest),
      writes: before.writes + (isWrite(entry) ? 1 : 0),
    };
    const acked = this.ackedDigest.get(entry.index);
    if (acked !== undefined && acked !== digest) {
      throw new InvariantViolation('acked-proposal-lost', node,
        `node ${node} applies ${JSON.stringify(digest)} at index ${entry.index}, where the acknowledged proposal ${JSON.stringify(acked)} was applied`);
    }
    const knownTerm = this.committedTerm[entry.index];
    if (knownTerm === undefined) {
      if (entry.index !== this.committedTerm.length) {
        throw new InvariantViolation('state-machine-safety', node, `node ${node} applies index ${entry.index} before any node applied ${entry.index - 1}`);
      }
      this.committedTerm.push(entry.term);
      this.committedDigest.push(digest);
      this.committedChain.push(after.chain);
      this.committedWrites.push(after.writes);
    } else if (knownTerm !== entry.term || this.committedDigest[entry.index] !== digest || this.committedChain[entry.index] !== after.chain) {
      throw new InvariantViolation('state-machine-safety', node,
        `node ${node} applies entry ${entry.index} term ${entry.term} ${JSON.stringify(digest)}, but another node applied ` +
        `term ${knownTerm} ${JSON.stringify(this.committedDigest[entry.index])}` +
        (knownTerm === entry.term && this.committedDigest[entry.index] === digest ? ' after a different history' : ''));
    }
    return after;
  }

  /** restoreSnapshot checks a snapshot being applied by a running node against the applied history, and returns the state. */
  restoreSnapshot(node: NodeId, before: MachineState, term: number, state: MachineState): MachineState {
    if (state.applied <= before.applied) {
      throw new InvariantViolation('applied-regressed', node,
        `node ${node} applies a snapshot at index ${state.applied} while it has applied up to ${before.applied}`);
    }
    this.checkSnapshotState(node, term, state);
    return state;
  }

  /** checkSnapshotState checks that a snapshot's state equals the applied history at its index. */
  checkSnapshotState(node: NodeId, term: number, state: MachineState): void {
    const index = state.applied;
    if (index === 0) return;
    const knownTerm = this.committedTerm[index];
    if (knownTerm === undefined || knownTerm !== term || this.committedChain[index] !== state.chain || this.committedWrites[index] !== state.writes) {
      throw new InvariantViolation('state-machine-safety', node,
        `node ${node} holds a snapshot at index ${index} term ${term} (chain ${state.chain}, ${state.writes} writes) that differs ` +
        `from the applied history (term ${knownTerm}, chain ${this.committedChain[index]}, ${this.committedWrites[index]} writes)`);
    }
  }

  /** ack records that the client of a proposal saw it applied at `index`. */
  ack(index: number): void {
    const digest = this.committedDigest[index];
    if (digest === undefined) throw new Error(`History.ack: index ${index} was never applied`);
    this.ackedDigest.set(index, digest);
    this.maxAckedIndex = Math.max(this.maxAckedIndex, index);
    this.ackedCount++;
  }

  private ackNote(index: number): string {
    return this.ackedDigest.has(index) ? ` (an acknowledged proposal ${JSON.stringify(this.ackedDigest.get(index))})` : '';
  }
}
