// runtime-requests.ts — the runtime's bookkeeping of the requests it answers: proposals waiting to be
// handed to the core (ProposalQueue, in bounded batches), proposals waiting for their entry to be
// applied here, and reads waiting for a read index that this node has applied (RequestBook).
// Each request has a deadline; every request is settled exactly once (answered, refused, timed out, or
// failed when the leader changes or the node stops), and settling removes it. Deadlines are checked by
// expire(), which the runtime calls on every tick: one sweep per tick instead of one timer armed and
// cleared per request (issue #18: at one client, a timer per write was part of the CPU per write). A
// request therefore times out up to one tick after its deadline.
import type { Committed } from './raft-runtime.js';
import { RuntimeError, assert } from './runtime-errors.js';

/** MAX_BATCH_ENTRIES and MAX_BATCH_BYTES bound one batch of proposals handed to the core. */
const MAX_BATCH_ENTRIES = 1024;
const MAX_BATCH_BYTES = 512 * 1024;

/** QueuedProposal is a proposal's envelope parts, waiting to be handed to the core. */
export interface QueuedProposal {
  readonly requestId: string;
  readonly payload: Uint8Array;
}

/**
 * ProposalQueue holds proposals (local, or forwarded by followers) until the ready loop hands them to
 * the core in batches: one append and one App message per follower for many proposals. Bounded.
 */
export class ProposalQueue {
  private readonly queue: QueuedProposal[] = [];
  private readonly maxQueued: number;

  constructor(maxQueued: number) {
    assert(Number.isSafeInteger(maxQueued) && maxQueued > 0, () => `the proposal queue's bound must be a positive integer, got ${maxQueued}`);
    this.maxQueued = maxQueued;
  }

  /** length is the number of queued proposals. */
  get length(): number {
    return this.queue.length;
  }

  /** push queues a proposal; false when the queue is full (the proposal is refused). */
  push(requestId: string, payload: Uint8Array): boolean {
    if (this.queue.length >= this.maxQueued) return false;
    this.queue.push({ requestId, payload });
    return true;
  }

  /**
   * takeBatch removes and returns the oldest proposals: at most MAX_BATCH_ENTRIES, and no more once
   * MAX_BATCH_BYTES are reached (always at least one while any is queued); empty when none is.
   */
  takeBatch(): QueuedProposal[] {
    let bytes = 0;
    let count = 0;
    while (count < this.queue.length && count < MAX_BATCH_ENTRIES && (count === 0 || bytes < MAX_BATCH_BYTES)) {
      bytes += this.queue[count]!.payload.length;
      count += 1;
    }
    const batch = this.queue.splice(0, count);
    assert(batch.length === count, () => `took ${batch.length} proposals, counted ${count}`);
    return batch;
  }
}

interface PendingProposal<Result> {
  resolve(committed: Committed<Result>): void;
  reject(error: Error): void;
  /** deadlineMs: monotonic milliseconds after which expire() refuses it. */
  deadlineMs: number;
  /** handedIn: the leadership (term and leader, see leadershipOf) under which it was handed to the core, once it was. */
  handedIn?: string;
}

/** leadershipOf names a term's leader as the core saw it, for RequestBook.markHandedIn and failProposalsOutside. */
export function leadershipOf(term: number, leader: number): string {
  return `${term}:${leader}`;
}

interface PendingRead {
  resolve(index: number): void;
  reject(error: Error): void;
  deadlineMs: number;
  /** index: the read index the leader answered, once known; the read is answered once it is applied. */
  index?: number;
}

/** RequestLimits bounds the book: how many may wait and for how long. */
export interface RequestLimits {
  readonly maxPendingProposals: number;
  readonly proposalTimeoutMs: number;
  readonly readTimeoutMs: number;
}

/**
 * RequestBook holds the pending proposals and reads of one runtime, keyed by request id or read context.
 * `monotonicMs` is the clock of their deadlines (the runtime's Clock).
 */
export class RequestBook<Result> {
  private readonly limits: RequestLimits;
  private readonly monotonicMs: () => number;
  /**
   * proposals and reads, in the order they were added. Invariant: deadlines never decrease along that
   * order (one timeout per kind, a monotonic clock), so expire() stops at the first request not yet due.
   */
  private readonly proposals = new Map<string, PendingProposal<Result>>();
  private readonly reads = new Map<string, PendingRead>();

  constructor(limits: RequestLimits, monotonicMs: () => number) {
    this.limits = limits;
    this.monotonicMs = monotonicMs;
  }

  /** pendingProposals and pendingReads count the requests still waiting (for /metrics). */
  get pendingProposals(): number {
    return this.proposals.size;
  }

  get pendingReads(): number {
    return this.reads.size;
  }

  /**
   * addProposal registers proposal `requestId` and returns the promise of its outcome; the proposal
   * is refused at once (RUNTIME_OVERLOADED) beyond maxPendingProposals, and times out after
   * proposalTimeoutMs with an indeterminate answer.
   */
  addProposal(requestId: string): Promise<Committed<Result>> {
    if (this.proposals.size >= this.limits.maxPendingProposals) {
      return Promise.reject(new RuntimeError('RUNTIME_OVERLOADED',
        `too many proposals in flight (${this.proposals.size}, limit ${this.limits.maxPendingProposals})`));
    }
    assert(!this.proposals.has(requestId), () => `proposal ${requestId} registered twice`);
    const deadlineMs = this.monotonicMs() + this.limits.proposalTimeoutMs;
    return new Promise<Committed<Result>>((resolve, reject) => {
      this.proposals.set(requestId, { resolve, reject, deadlineMs });
    });
  }

  /**
   * expire refuses every proposal and read whose deadline has passed: proposals as indeterminate
   * (RUNTIME_PROPOSAL_TIMEOUT), reads as RUNTIME_READ_TIMEOUT. Called on every tick.
   */
  expire(): void {
    const nowMs = this.monotonicMs();
    for (const [requestId, pending] of this.proposals) {
      if (pending.deadlineMs > nowMs) break;
      this.failProposal(requestId, new RuntimeError('RUNTIME_PROPOSAL_TIMEOUT',
        `no outcome within ${this.limits.proposalTimeoutMs} ms: the proposal may or may not be committed`));
    }
    for (const [context, pending] of this.reads) {
      if (pending.deadlineMs > nowMs) break;
      this.failRead(context, new RuntimeError('RUNTIME_READ_TIMEOUT',
        `no read index within ${this.limits.readTimeoutMs} ms (no leader, or the leader is partitioned)`));
    }
  }

  /** resolveProposal answers proposal `requestId` with where it was applied, if this node is waiting for it. */
  resolveProposal(requestId: string, committed: Committed<Result>): void {
    take(this.proposals, requestId)?.resolve(committed);
  }

  /** failProposal refuses proposal `requestId` with `error`, if it is still pending. */
  failProposal(requestId: string, error: Error): void {
    take(this.proposals, requestId)?.reject(error);
  }

  /** markHandedIn records that proposal `requestId` was handed to the core under `leadership` (leadershipOf). */
  markHandedIn(requestId: string, leadership: string): void {
    const pending = this.proposals.get(requestId);
    if (pending !== undefined) pending.handedIn = leadership;
  }

  /**
   * failProposalsOutside refuses, with the error `makeError` builds, every pending proposal handed to the
   * core under another leadership than `leadership`: the leader it went to may be gone, so its outcome is
   * unknown. A proposal handed in under `leadership` itself went to the leader now known (the core changed
   * leader before it was handed in; the Ready that says so came after), and one not handed in yet will go
   * to it: both stay pending, answered when applied or at their deadline.
   */
  failProposalsOutside(leadership: string, makeError: () => Error): void {
    for (const [requestId, pending] of [...this.proposals]) {
      if (pending.handedIn !== undefined && pending.handedIn !== leadership) this.failProposal(requestId, makeError());
    }
  }

  /** failAllProposals refuses every pending proposal with the error `makeError` builds. */
  failAllProposals(makeError: () => Error): void {
    for (const requestId of [...this.proposals.keys()]) this.failProposal(requestId, makeError());
    assert(this.proposals.size === 0, () => `${this.proposals.size} proposals still pending after failing all`);
  }

  /** addRead registers read `context` and returns the promise of its read index; times out after readTimeoutMs. */
  addRead(context: string): Promise<number> {
    assert(!this.reads.has(context), () => `read ${context} registered twice`);
    const deadlineMs = this.monotonicMs() + this.limits.readTimeoutMs;
    return new Promise<number>((resolve, reject) => {
      this.reads.set(context, { resolve, reject, deadlineMs });
    });
  }

  /** failRead refuses read `context` with `error`, if it is still pending. */
  failRead(context: string, error: Error): void {
    take(this.reads, context)?.reject(error);
  }

  /** recordReadIndex notes the read index the core answered for `context` (a ReadState). */
  recordReadIndex(context: string, index: number): void {
    const pending = this.reads.get(context);
    if (pending !== undefined) pending.index = index;
  }

  /** settleReads answers every read whose read index this node has applied (`applied`). */
  settleReads(applied: number): void {
    for (const [context, pending] of [...this.reads]) {
      if (pending.index === undefined || pending.index > applied) continue;
      take(this.reads, context)?.resolve(pending.index);
    }
  }

  /** failAll refuses every pending proposal and read with `error` (the node is stopping). */
  failAll(error: Error): void {
    this.failAllProposals(() => error);
    for (const context of [...this.reads.keys()]) this.failRead(context, error);
  }
}

/** take removes the request `key` from `pending`; the caller settles it (once). */
function take<Request>(pending: Map<string, Request>, key: string): Request | undefined {
  const request = pending.get(key);
  if (request === undefined) return undefined;
  pending.delete(key);
  return request;
}
