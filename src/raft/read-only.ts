// read-only.ts — ReadIndex bookkeeping on the leader (thesis 6.4): each request remembers the
// commit index at arrival and the heartbeat acknowledgements that confirm leadership.
import { MAX_PENDING_READ_INDEX_REQUESTS } from './constants.js';
import type { Message, NodeId, ReadOnlyOption } from './types.js';

/** ReadIndexStatus is one pending ReadIndex request. */
export interface ReadIndexStatus {
  readonly request: Message;
  readonly index: number;
  /** acks: voters that acknowledged a heartbeat carrying this request's context. */
  readonly acks: Map<NodeId, boolean>;
}

/** contextKey turns a request context into a map key (lowercase hex). */
export function contextKey(context: Uint8Array): string {
  let out = '';
  for (const byte of context) out += byte.toString(16).padStart(2, '0');
  return out;
}

/** ReadOnly tracks pending ReadIndex requests, in arrival order. */
export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  constructor(readonly option: ReadOnlyOption) {}

  /**
   * addRequest records a request with the commit index at its arrival. A duplicate context is
   * ignored (the earlier request answers it); beyond the bound the request is dropped and false
   * is returned (the client retries).
   */
  addRequest(index: number, request: Message): boolean {
    const key = contextKey(request.context);
    if (this.pending.has(key)) return true;
    if (this.queue.length >= MAX_PENDING_READ_INDEX_REQUESTS) return false;
    this.pending.set(key, { request, index, acks: new Map() });
    this.queue.push(key);
    return true;
  }

  /** recvAck records a heartbeat acknowledgement; returns the acks of that request, if pending. */
  recvAck(id: NodeId, context: Uint8Array): Map<NodeId, boolean> | undefined {
    const status = this.pending.get(contextKey(context));
    if (status === undefined) return undefined;
    status.acks.set(id, true);
    return status.acks;
  }

  /**
   * advance returns, and forgets, every request up to and including the one with `context`:
   * leadership confirmed for a later request confirms it for the earlier ones too.
   */
  advance(context: Uint8Array): ReadIndexStatus[] {
    const key = contextKey(context);
    const position = this.queue.indexOf(key);
    if (position < 0) return [];
    const done = this.queue.slice(0, position + 1);
    this.queue = this.queue.slice(position + 1);
    return done.map((k) => {
      const status = this.pending.get(k)!;
      this.pending.delete(k);
      return status;
    });
  }

  /** lastPendingRequestContext is the context of the newest pending request, or undefined. */
  lastPendingRequestContext(): Uint8Array | undefined {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? undefined : this.pending.get(key)!.request.context;
  }

  pendingCount(): number {
    return this.queue.length;
  }
}
