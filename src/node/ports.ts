// ports.ts — the interfaces the Raft runtime drives. Adapters (src/storage, src/transport) and the
// state machine implement them; tests may supply in-memory ones.
import type { ConfState, Entry, HardState, Message, NodeId, Snapshot, Storage } from '../raft/index.js';

/** SaveBatch is what one Ready asks to make durable, in one synced write. */
export interface SaveBatch {
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
}

/**
 * RaftLogStore is the durable Raft log. `storage` is the core's synchronous view of what has been
 * made durable; `save` makes a Ready's output durable (fsync) and only then updates that view.
 */
export interface RaftLogStore {
  readonly storage: Storage;
  save(batch: SaveBatch): Promise<void>;
  /** snapshot records the application's snapshot at `index` and discards entries up to `compactIndex`. */
  snapshot(index: number, confState: ConfState, data: Uint8Array, compactIndex: number): Promise<void>;
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
  snapshot(): Uint8Array;
  restore(data: Uint8Array): void;
}

/** MonotonicClock gives time to the runtime (never to the core or the state machine). */
export interface Clock {
  /** nowMs: wall-clock milliseconds since the epoch, used to stamp entries. */
  nowMs(): number;
  /** monotonicMs: a clock that never goes backwards, used for timeouts and ticks. */
  monotonicMs(): number;
}
