// helpers.ts — shared fixtures for the transport tests: nodes with real Transports on 127.0.0.1
// (OS-chosen ports), a membership table, captured pino logs, and polling with a deadline.
import { pino } from 'pino';
import type { Message } from '../../src/raft/index.js';
import { Transport, generateNodeIdentity, hex } from '../../src/transport/index.js';
import type { DropLogInit, NodeIdentity, PeerAddress, TransportInit } from '../../src/transport/index.js';

export const CLUSTER_ID = new Uint8Array(32).fill(0xc1);

/** LogLine is one captured pino record. */
export interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly code?: string;
  readonly reason?: string;
  readonly peer?: number;
  readonly [key: string]: unknown;
}

/** Membership is the cluster's table of node id -> public key, changeable at runtime. */
export class Membership {
  readonly keys = new Map<number, string>();
  add(identity: NodeIdentity): void {
    this.keys.set(identity.nodeId, hex(identity.publicKey));
  }
  readonly isMember = (nodeId: number, publicKey: Uint8Array): boolean => this.keys.get(nodeId) === hex(publicKey);
}

/** TestNode is one transport with everything it received, reported and logged. */
export interface TestNode {
  readonly identity: NodeIdentity;
  readonly transport: Transport;
  readonly port: number;
  readonly received: Message[];
  readonly unreachable: number[];
  readonly snapshotStatus: { nodeId: number; ok: boolean }[];
  readonly logs: LogLine[];
}

/** startNode starts a transport for `identity` (or a fresh one) on an OS-chosen port. */
export async function startNode(
  nodeId: number, membership: Membership,
  options: { identity?: NodeIdentity; init?: Partial<TransportInit>; clusterId?: Uint8Array; random?: () => number; dropLog?: DropLogInit } = {},
): Promise<TestNode> {
  const identity = options.identity ?? generateNodeIdentity(nodeId);
  const logs: LogLine[] = [];
  const received: Message[] = [];
  const unreachable: number[] = [];
  const snapshotStatus: { nodeId: number; ok: boolean }[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => { logs.push(JSON.parse(line) as LogLine); } });
  const transport = new Transport(
    {
      logger, identity, clusterId: options.clusterId ?? CLUSTER_ID, isMember: membership.isMember,
      onMessage: (message) => received.push(message),
      onUnreachable: (id) => unreachable.push(id),
      onSnapshotStatus: (id, ok) => snapshotStatus.push({ nodeId: id, ok }),
      ...(options.random === undefined ? {} : { random: options.random }),
      ...(options.dropLog === undefined ? {} : { dropLog: options.dropLog }),
    },
    { listenHost: '127.0.0.1', listenPort: 0, handshakeTimeoutMs: 2000, reconnectBaseMs: 20, reconnectMaxMs: 200, ...options.init },
  );
  const { port } = await transport.start();
  return { identity, transport, port, received, unreachable, snapshotStatus, logs };
}

/** address is how other nodes reach `node`. */
export function address(node: TestNode): PeerAddress {
  return { host: '127.0.0.1', port: node.port, publicKey: node.identity.publicKey };
}

/** connectAll gives every node the others as peers. */
export function connectAll(nodes: readonly TestNode[]): void {
  for (const node of nodes) {
    node.transport.setPeers(new Map(nodes.filter((n) => n !== node).map((n) => [n.identity.nodeId, address(n)])));
  }
}

/** message builds a Heartbeat-like message with recognisable fields. */
export function message(from: number, to: number, overrides: Partial<Message> = {}): Message {
  return {
    type: 8, to, from, term: 5, logTerm: 0, index: 0, entries: [], commit: 3, reject: false, rejectHint: 0,
    context: new Uint8Array(0), ...overrides,
  };
}

/** waitFor polls `condition` every 10 ms until it holds or `timeoutMs` passes (then fails with `what`). */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** sleep waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** closedWith says whether `node` closed a connection for an error with `code`. */
export function closedWith(node: TestNode, code: string): boolean {
  return (node.transport.stats().closedByCode[code] ?? 0) > 0;
}
