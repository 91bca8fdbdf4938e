// raft-helpers.ts — helpers for unit tests that drive the Raft state machine directly (the
// etcd-io/raft test style): build a Raft over MemoryStorage, read and clear its outbox,
// persist its unstable entries, and build messages and entries tersely.
import type { Raft } from '../../../src/raft/raft.js';
import { EntryType, MemoryStorage, MessageType, SeededRandom, makeMessage } from '../../../src/raft/index.js';
import type { Config, Entry, HardState, Message, NodeId } from '../../../src/raft/index.js';
import type { MessageFields } from '../../../src/raft/util.js';
import { bytes, confState } from './network.js';
import { createRaftFor, type PlantedBug } from './planted-raft.js';

/** RaftOptions overrides Config for newRaft; preVote and checkQuorum default to off (paper behaviour). */
export type RaftOptions = Partial<Omit<Config, 'id' | 'storage' | 'random'>> & { readonly seed?: number; readonly plant?: PlantedBug };

/** newStorage builds a MemoryStorage with peers, optional entries (index from 1) and hard state. */
export function newStorage(peers: readonly NodeId[], entries: readonly Entry[] = [], hardState?: HardState, learners: readonly NodeId[] = []): MemoryStorage {
  const storage = MemoryStorage.withConfState(confState(peers, learners));
  storage.append(entries);
  if (hardState !== undefined) storage.setHardState(hardState);
  return storage;
}

/** newRaft builds a Raft for node `id` over `storage` (or a fresh storage with `peers`). */
export function newRaft(id: NodeId, peers: readonly NodeId[], options: RaftOptions = {}, storage?: MemoryStorage): { raft: Raft; storage: MemoryStorage } {
  const store = storage ?? newStorage(peers);
  const { seed, plant, ...rest } = options;
  const raft = createRaftFor(plant)({
    id, storage: store, random: new SeededRandom(seed ?? id), electionTicks: 10, heartbeatTicks: 1,
    preVote: false, checkQuorum: false, ...rest,
  });
  return { raft, storage: store };
}

/** takeMessages returns and clears the Raft's outgoing messages, sorted by destination. */
export function takeMessages(raft: Raft): Message[] {
  const out = [...raft.messages];
  raft.messages = [];
  return out.sort((a, b) => a.to - b.to);
}

/** persist moves unstable entries to storage (as the application does) and returns committed entries to apply, marking them applied. */
export function persistAndApply(raft: Raft, storage: MemoryStorage): Entry[] {
  const unstable = raft.raftLog.unstableEntries();
  storage.append(unstable);
  if (unstable.length > 0) {
    const last = unstable[unstable.length - 1]!;
    raft.raftLog.stableTo(last.index, last.term);
  }
  storage.setHardState(raft.hardState());
  const committed = raft.raftLog.nextCommittedEntries();
  if (committed.length > 0) raft.advanceApplied(committed[committed.length - 1]!.index, committed);
  return committed;
}

/** msg builds a message with zero defaults. */
export function msg(fields: MessageFields): Message {
  return makeMessage(fields);
}

/** entry builds a normal entry; data defaults to empty. */
export function entry(index: number, term: number, data = ''): Entry {
  return { index, term, type: EntryType.Normal, data: bytes(data) };
}

/** entries builds entries at indexes 1.. with the given terms. */
export function entriesWithTerms(terms: readonly number[]): Entry[] {
  return terms.map((term, i) => entry(i + 1, term));
}

/** commitNoopEntry makes a new leader's empty entry committed and applied on every follower's behalf. */
export function commitNoopEntry(raft: Raft, storage: MemoryStorage): void {
  if (raft.state !== 'leader') throw new Error('commitNoopEntry: not leader');
  raft.bcastAppend();
  for (const m of takeMessages(raft)) {
    if (m.type !== MessageType.App || m.entries.length !== 1 || m.entries[0]!.data.byteLength !== 0) {
      throw new Error('commitNoopEntry: expected one App with the empty entry');
    }
    raft.step(acceptAndReply(m));
  }
  takeMessages(raft);
  persistAndApply(raft, storage);
}

/** acceptAndReply builds the successful AppResp a follower would send for an App. */
export function acceptAndReply(m: Message): Message {
  if (m.type !== MessageType.App) throw new Error('acceptAndReply: not an App');
  return msg({ type: MessageType.AppResp, from: m.to, to: m.from, term: m.term, index: m.index + m.entries.length });
}

/** entryTerms summarises a log as "index:term" strings. */
export function entryTerms(list: readonly Entry[]): string[] {
  return list.map((e) => `${e.index}:${e.term}`);
}
