// network.ts — an in-test network of RawNodes for the Raft core's unit tests.
//
// Each TestNode owns a MemoryStorage and handles its Ready exactly as the contract in
// src/raft/types.ts says (persist, send, apply, advance). The Network delivers messages
// synchronously, in FIFO order, and can isolate nodes, cut links one way, or drop messages by a
// predicate. Nothing here is random: tests are deterministic given their seeds.
import {
  EntryType, MemoryStorage, MessageType, PeerNotFoundError, RawNode, SeededRandom, bootstrapStorage, decodeConfChange,
} from '../../../src/raft/index.js';
import type { ConfState, Config, Entry, Message, NodeId, ReadState, Ready } from '../../../src/raft/index.js';
import { createRaftFor, earlyMessages, type PlantedBug } from './planted-raft.js';

/** confState builds a ConfState from voters (and optionally learners). */
export function confState(voters: readonly NodeId[], learners: readonly NodeId[] = []): ConfState {
  return { voters: [...voters], learners: [...learners], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

/** bytes encodes a string as UTF-8. */
export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** text decodes UTF-8 bytes. */
export function text(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}

/** describeConfChange renders an encoded ConfChange for traces, e.g. `conf(auto: +4 -2 ~5)`. */
export function describeConfChange(data: Uint8Array): string {
  const change = decodeConfChange(data);
  const marks = ['+', '-', '~'];
  const parts = change.changes.map((c) => `${marks[c.type]}${c.nodeId}`);
  return `conf(${change.transition}:${parts.length === 0 ? ' leave' : ` ${parts.join(' ')}`})`;
}

/** TestNode is one RawNode with its storage and what it applied. */
export class TestNode {
  readonly storage: MemoryStorage;
  node: RawNode;
  /** applied: every committed entry handed to the application, in order. */
  readonly applied: Entry[] = [];
  readonly readStates: ReadState[] = [];
  /** confStates: every configuration applyConfChange returned, in order. */
  readonly confStates: ConfState[] = [];
  /** snapshotsApplied: indexes of snapshots received in Readys. */
  readonly snapshotsApplied: number[] = [];
  /** eventSink receives one line per notable Ready content (role change, apply, read state), for traces. */
  eventSink: ((line: string) => void) | undefined = undefined;
  readonly config: Omit<Config, 'storage'>;
  /** plant: the planted bug this node's core runs with (test/raft/support/planted-raft.ts), if any. */
  readonly plant: PlantedBug | undefined;

  constructor(config: Omit<Config, 'storage'>, storage: MemoryStorage, plant?: PlantedBug) {
    this.storage = storage;
    this.config = config;
    this.plant = plant;
    this.node = new RawNode({ ...config, storage }, createRaftFor(plant));
  }

  get id(): NodeId {
    return this.node.id;
  }

  /**
   * flush handles every pending Ready: persists entries, hard state and snapshot, applies
   * committed entries (conf changes included) and returns the messages to send.
   */
  flush(): Message[] {
    const out: Message[] = [];
    for (let round = 0; round < 1000 && this.node.hasReady(); round++) {
      const ready = this.node.ready();
      this.reportReady(ready);
      const { early, late } = earlyMessages(ready, this.plant);
      out.push(...early);
      if (ready.snapshot !== undefined) {
        this.storage.applySnapshot(ready.snapshot);
        this.snapshotsApplied.push(ready.snapshot.metadata.index);
      }
      this.storage.append(ready.entries);
      if (ready.hardState !== undefined) this.storage.setHardState(ready.hardState);
      out.push(...late);
      for (const entry of ready.committedEntries) {
        this.applied.push(entry);
        if (entry.type === EntryType.ConfChange) this.confStates.push(this.node.applyConfChange(decodeConfChange(entry.data)));
      }
      this.readStates.push(...ready.readStates);
      this.node.advance();
    }
    return out;
  }

  private reportReady(ready: Ready): void {
    const sink = this.eventSink;
    if (sink === undefined) return;
    const id = this.id;
    if (ready.softState !== undefined) sink(`n${id} is ${ready.softState.role} (leader ${ready.softState.leader})`);
    if (ready.snapshot !== undefined) sink(`n${id} installs snapshot ${ready.snapshot.metadata.index}/${ready.snapshot.metadata.term} voters=[${ready.snapshot.metadata.confState.voters.join(',')}]`);
    for (const entry of ready.committedEntries) {
      const body = entry.type === EntryType.ConfChange ? describeConfChange(entry.data) : JSON.stringify(text(entry.data));
      sink(`n${id} applies ${entry.index}/${entry.term} ${body}`);
    }
    for (const state of ready.readStates) sink(`n${id} read ${JSON.stringify(text(state.requestContext))} at index ${state.index}`);
  }

  /** restart rebuilds the RawNode from its storage (a crash after the last flush). */
  restart(overrides: Partial<Omit<Config, 'storage'>> = {}): void {
    this.node = new RawNode({ ...this.config, ...overrides, storage: this.storage }, createRaftFor(this.plant));
  }

  /** appliedData returns the data of applied normal entries that are not empty, as strings. */
  appliedData(): string[] {
    return this.applied.filter((e) => e.type === EntryType.Normal && e.data.byteLength > 0).map((e) => text(e.data));
  }
}

/** NetworkOptions configures every node of a Network. */
export interface NetworkOptions {
  /** seed for the nodes' random sources (each node gets seed + id). */
  readonly seed?: number;
  /** config returns per-node Config overrides. */
  readonly config?: (id: NodeId) => Partial<Omit<Config, 'storage' | 'id' | 'random'>>;
  /** learners among the ids. */
  readonly learners?: readonly NodeId[];
  /** plant: a planted bug every node's core runs with (test/raft/support/planted-raft.ts). */
  readonly plant?: PlantedBug;
  /**
   * bootstrap: founders' storages are prepared with bootstrapStorage (a snapshot at index 1),
   * so that members added later with an empty storage are caught up by snapshot. Otherwise
   * every storage starts with the configuration at index 0 (founders only).
   */
  readonly bootstrap?: boolean;
}

/** Network connects TestNodes and delivers their messages synchronously. */
export class Network {
  readonly nodes = new Map<NodeId, TestNode>();
  private readonly cut = new Set<string>();
  private readonly isolated = new Set<NodeId>();
  /** filter: return false to drop a message (in addition to cuts and isolation). */
  filter: (message: Message) => boolean = () => true;
  /** delivered: every message delivered, in order (for traces). */
  readonly delivered: Message[] = [];
  /** traceSink receives delivered and dropped messages and node events, in order, when set. */
  traceSink: ((line: string) => void) | undefined = undefined;
  /** formatMessage renders messages for traceSink. */
  formatMessage: (message: Message) => string = (m) => `${m.from}->${m.to} type ${m.type}`;

  constructor(ids: readonly NodeId[], options: NetworkOptions = {}) {
    const learners = options.learners ?? [];
    const voters = ids.filter((id) => !learners.includes(id));
    for (const id of ids) {
      let storage: MemoryStorage;
      if (options.bootstrap === true) {
        storage = new MemoryStorage();
        bootstrapStorage(storage, confState(voters, learners));
      } else {
        storage = MemoryStorage.withConfState(confState(voters, learners));
      }
      this.add(id, storage, options);
    }
  }

  /** add puts a node with the given storage into the network (e.g. a node joining later). */
  add(id: NodeId, storage: MemoryStorage, options: NetworkOptions = {}): TestNode {
    const seed = (options.seed ?? 1) + id;
    const node = new TestNode({ id, random: new SeededRandom(seed), ...(options.config?.(id) ?? {}) }, storage, options.plant);
    node.eventSink = (line) => this.traceSink?.(line);
    this.nodes.set(id, node);
    return node;
  }

  get(id: NodeId): TestNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  raw(id: NodeId): RawNode {
    return this.get(id).node;
  }

  /** isolate cuts a node off from every other (both directions). */
  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  /** cutLink drops messages from `from` to `to` (one way). */
  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}->${to}`);
  }

  /** heal removes every isolation, cut and filter. */
  heal(): void {
    this.cut.clear();
    this.isolated.clear();
    this.filter = () => true;
  }

  private passes(message: Message): boolean {
    if (this.isolated.has(message.from) || this.isolated.has(message.to)) return false;
    if (this.cut.has(`${message.from}->${message.to}`)) return false;
    return this.filter(message);
  }

  /** stabilize flushes every node and delivers messages until nothing is left (bounded). */
  stabilize(maxSteps = 100_000): void {
    const queue: Message[] = [];
    for (let step = 0; step < maxSteps; step++) {
      if (queue.length === 0) {
        for (const node of this.nodes.values()) queue.push(...node.flush());
        if (queue.length === 0) return;
      }
      const message = queue.shift()!;
      const target = this.nodes.get(message.to);
      if (target === undefined || !this.passes(message)) {
        this.traceSink?.(`${this.formatMessage(message)} (dropped)`);
        continue;
      }
      this.delivered.push(message);
      this.traceSink?.(this.formatMessage(message));
      try {
        target.node.step(message);
      } catch (error) {
        if (!(error instanceof PeerNotFoundError)) throw error;
      }
      queue.push(...target.flush());
    }
    throw new Error(`network did not stabilize within ${maxSteps} steps`);
  }

  /** tick ticks the given nodes (all by default) `count` times, stabilizing after each tick. */
  tick(count = 1, ids: readonly NodeId[] = [...this.nodes.keys()]): void {
    for (let i = 0; i < count; i++) {
      for (const id of ids) this.get(id).node.tick();
      this.stabilize();
    }
  }

  /** campaign makes `id` campaign now and runs the election to its end. */
  campaign(id: NodeId): void {
    this.get(id).node.campaign();
    this.stabilize();
  }

  /** propose proposes data on `id` and delivers the resulting messages. */
  propose(id: NodeId, data: string): void {
    this.get(id).node.propose(bytes(data));
    this.stabilize();
  }

  /** leaderIds returns every node that believes it is leader. */
  leaderIds(): NodeId[] {
    return [...this.nodes.values()].filter((n) => n.node.raft.state === 'leader').map((n) => n.id);
  }

  /** countType counts delivered messages of a type. */
  countType(type: MessageType): number {
    return this.delivered.filter((m) => m.type === type).length;
  }
}
