// member-directory.ts — who the members are and where to reach them, replicated through the log.
//
// The core's ConfState holds only node ids. Each ConfChange carries a MemberContext in its
// `context`, so every node learns a new member's address and key from the log itself, and the
// directory travels inside runtime snapshots. Node ids are never reused: an id that was ever a
// member (or was ever proposed as one) stays in `everUsed` for good.
import type { NodeId } from '../raft/index.js';
import type { PeerAddress } from './ports.js';

/** MemberContext is the JSON carried in a ConfChange's context. */
export interface MemberContext {
  readonly nodeId: NodeId;
  /** address is required when adding a node; absent when removing. */
  readonly address?: PeerAddress;
  /** promote: add as a learner first and promote to voter once caught up (thesis 4.2.1). */
  readonly promote?: boolean;
}

/** MemberDirectoryState is the serializable form, inside runtime snapshots. */
export interface MemberDirectoryState {
  readonly addresses: Array<[NodeId, PeerAddress]>;
  readonly promote: NodeId[];
  readonly everUsed: NodeId[];
  readonly removed: NodeId[];
}

/** MemberDirectoryError is raised for a context or a state that does not parse. */
export class MemberDirectoryError extends Error {
  readonly code = 'MEMBER_CONTEXT_INVALID';
  constructor(detail: string) {
    super(`member directory: ${detail}`);
    this.name = 'MemberDirectoryError';
  }
}

/** MemberDirectory maps node ids to addresses and remembers every id ever used. */
export class MemberDirectory {
  private readonly addresses = new Map<NodeId, PeerAddress>();
  private readonly promoteIntents = new Set<NodeId>();
  private readonly everUsed = new Set<NodeId>();
  private readonly removedIds = new Set<NodeId>();

  /** seed records the founding members (from the genesis/config), before any log entry. */
  seed(members: ReadonlyMap<NodeId, PeerAddress>): void {
    for (const [id, address] of members) {
      this.addresses.set(id, address);
      this.everUsed.add(id);
    }
  }

  address(id: NodeId): PeerAddress | undefined {
    return this.addresses.get(id);
  }

  peers(exclude: NodeId): Map<NodeId, PeerAddress> {
    const out = new Map<NodeId, PeerAddress>();
    for (const [id, address] of this.addresses) if (id !== exclude && !this.removedIds.has(id)) out.set(id, address);
    return out;
  }

  wasEverUsed(id: NodeId): boolean {
    return this.everUsed.has(id);
  }

  isRemoved(id: NodeId): boolean {
    return this.removedIds.has(id);
  }

  wantsPromotion(id: NodeId): boolean {
    return this.promoteIntents.has(id);
  }

  /** recordAdd applies an applied AddNode/AddLearner's context. */
  recordAdd(context: MemberContext, asVoter: boolean): void {
    if (context.address) this.addresses.set(context.nodeId, context.address);
    this.everUsed.add(context.nodeId);
    if (asVoter) this.promoteIntents.delete(context.nodeId);
    else if (context.promote) this.promoteIntents.add(context.nodeId);
  }

  /** recordRemove applies an applied RemoveNode. */
  recordRemove(id: NodeId): void {
    this.removedIds.add(id);
    this.promoteIntents.delete(id);
    this.addresses.delete(id);
    this.everUsed.add(id);
  }

  toState(): MemberDirectoryState {
    const byId = (a: NodeId, b: NodeId): number => a - b;
    return {
      addresses: [...this.addresses.entries()].sort((a, b) => a[0] - b[0]),
      promote: [...this.promoteIntents].sort(byId),
      everUsed: [...this.everUsed].sort(byId),
      removed: [...this.removedIds].sort(byId),
    };
  }

  static fromState(state: MemberDirectoryState): MemberDirectory {
    const directory = new MemberDirectory();
    for (const [id, address] of state.addresses) directory.addresses.set(id, parseAddress(address, `addresses[${id}]`));
    for (const id of state.promote) directory.promoteIntents.add(id);
    for (const id of state.everUsed) directory.everUsed.add(id);
    for (const id of state.removed) directory.removedIds.add(id);
    return directory;
  }
}

/** encodeMemberContext serializes a context for a ConfChange. */
export function encodeMemberContext(context: MemberContext): Uint8Array {
  return Buffer.from(JSON.stringify(context), 'utf8');
}

/** decodeMemberContext parses a ConfChange context, validating every field. */
export function decodeMemberContext(bytes: Uint8Array): MemberContext {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (error) {
    throw new MemberDirectoryError(`context is not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null) throw new MemberDirectoryError('context: expected an object');
  const record = value as Record<string, unknown>;
  const nodeId = record.nodeId;
  if (typeof nodeId !== 'number' || !Number.isSafeInteger(nodeId) || nodeId <= 0) {
    throw new MemberDirectoryError(`context.nodeId: expected a positive safe integer, got ${JSON.stringify(nodeId)}`);
  }
  const address = record.address === undefined ? undefined : parseAddress(record.address, 'context.address');
  const promote = record.promote;
  if (promote !== undefined && typeof promote !== 'boolean') {
    throw new MemberDirectoryError(`context.promote: expected a boolean, got ${JSON.stringify(promote)}`);
  }
  return { nodeId, ...(address ? { address } : {}), ...(promote !== undefined ? { promote } : {}) };
}

function parseAddress(value: unknown, where: string): PeerAddress {
  if (typeof value !== 'object' || value === null) throw new MemberDirectoryError(`${where}: expected an object`);
  const record = value as Record<string, unknown>;
  const { host, port, publicKey } = record;
  if (typeof host !== 'string' || host.length === 0 || host.length > 253) {
    throw new MemberDirectoryError(`${where}.host: expected a host name or address, got ${JSON.stringify(host)}`);
  }
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new MemberDirectoryError(`${where}.port: expected an integer in 1..65535, got ${JSON.stringify(port)}`);
  }
  if (typeof publicKey !== 'string' || !/^[0-9a-f]{64}$/.test(publicKey)) {
    throw new MemberDirectoryError(`${where}.publicKey: expected 64 lowercase hex characters, got ${JSON.stringify(publicKey)}`);
  }
  return { host, port, publicKey };
}
