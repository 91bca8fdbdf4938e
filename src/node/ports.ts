// ports.ts — the interfaces the Raft runtime drives. Adapters (src/storage, src/transport) and the
// state machine implement them; tests may supply in-memory ones.
import type { ConfState, Message, NodeId, Storage } from '../raft/index.js';
import type { SaveBatch } from '../storage/index.js';

/**
 * RaftLogStore is the durable Raft log as the runtime drives it (src/storage's DurableStorage):
 * the core's synchronous Storage view of what is durable, plus the two writes the runtime makes.
 */
export interface RaftLogStore extends Storage {
  /**
   * save writes a Ready's snapshot, entries and hard state in one atomic write, fsynced unless
   * `batch.sync` is false (allowed only when the commit index is the one thing that moves), then
   * shows them to the core.
   */
  save(batch: SaveBatch): Promise<void>;
  /** createSnapshot records the application's snapshot at applied index `index` and compacts the log up to it. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Promise<unknown>;
}

/** PeerAddress locates and identifies a member for the transport. */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
  /** publicKey: the node's Ed25519 public key, hex (32 bytes). */
  readonly publicKey: string;
}

/** RaftTransportPort sends Raft messages; received ones come back through RaftRuntime.receive(). */
export interface RaftTransportPort {
  /** send queues messages without blocking; undeliverable ones are dropped (Raft tolerates loss). */
  send(messages: readonly Message[]): void;
  /** setPeers replaces the set of peers this node may talk to (and accept). */
  setPeers(peers: ReadonlyMap<NodeId, PeerAddress>): void;
}

/** AppliedEntry is a committed entry handed to the state machine. */
export interface AppliedEntry {
  readonly index: number;
  readonly term: number;
  /** timeMs: the leader-stamped entry time; the only clock apply may use. */
  readonly timeMs: number;
  readonly payload: Uint8Array;
}

/** RuntimeApplier is the replicated state machine as the runtime sees it. Apply must be deterministic. */
export interface RuntimeApplier<Result> {
  apply(entry: AppliedEntry): Result;
  /**
   * prepare, when given, is told the payload of each entry this node received from its leader, before
   * the entry is committed: it may get ready to apply it (e.g. verify its signatures ahead, off the
   * main thread) but must not change the state — apply alone does, and decides alone.
   */
  prepare?(payload: Uint8Array): void;
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
}

/** Clock gives time to the runtime (never to the core or the state machine). */
export interface Clock {
  /** nowMs: wall-clock milliseconds since the epoch, used to stamp entries. */
  nowMs(): number;
  /** monotonicMs: a clock that never goes backwards, used for timeouts and ticks. */
  monotonicMs(): number;
}
