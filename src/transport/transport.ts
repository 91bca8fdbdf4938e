// transport.ts — Transport: the node-to-node messaging adapter. TLS 1.3 (node:tls) with mutual
// authentication by pinned Ed25519 node keys (tls-connection.ts), length-prefixed protobuf frames.
//
// Shape (etcd's rafthttp, simplified): every node dials each peer it sends to and uses that
// connection only to send; it receives on the connections peers dial to it. So there is no
// connection race to break, and a message's sender is always the authenticated dialer.
//
// The Raft loop is never blocked: send() only enqueues. Each peer has a bounded queue (messages
// and bytes); beyond it, messages are dropped and counted (Raft tolerates loss, and the core is
// told through onUnreachable). A connection that fails drops its queue, reports the peer
// unreachable and is re-dialled lazily, with capped exponential backoff and jitter.
//
// Snapshots: a MSG_SNAP message is always streamed as SnapshotChunk frames (at most
// snapshotChunkBytes of data each), never as one frame; the receiver reassembles it within
// maxSnapshotBytes and delivers one ordinary Message. onSnapshotStatus(peer, ok) reports whether
// the whole stream was written to the connection (etcd's ReportSnapshot).
//
// Every received message is checked: its `from` must be the authenticated peer, its `to` this
// node, its type one that travels on the wire. Anything else closes the connection with a
// logged reason; the node keeps running and keeps serving other peers.
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { Logger } from 'pino';
import type protobuf from 'protobufjs';
import type { Message } from '../raft/index.js';
import { MessageType } from '../raft/index.js';
import type { ProtoObject } from '../wire/index.js';
import { decodeProto, messageFromProto, messageToProto, readBytes, readUint64 } from '../wire/index.js';
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_KEEPALIVE_MS, DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_INBOUND_CONNECTIONS,
  DEFAULT_MAX_QUEUE_BYTES, DEFAULT_MAX_QUEUE_MESSAGES, DEFAULT_MAX_SNAPSHOT_BYTES, DEFAULT_RECONNECT_BASE_MS,
  DEFAULT_RECONNECT_MAX_MS, DEFAULT_SNAPSHOT_CHUNK_BYTES, DEFAULT_WRITE_STALL_TIMEOUT_MS, DEFAULT_MAX_UNAUTHENTICATED_PER_SOURCE,
} from './constants.js';
import { DropLog } from './drop-log.js';
import type { DropLogInit } from './drop-log.js';
import { CodecError, NotMemberError, ProtocolError, TransportError, assert } from './errors.js';
import type { NodeIdentity } from './keys.js';
import { hex } from './keys.js';
import type { MembershipCheck } from './peer-certificate.js';
import { protoType } from '../wire/index.js';
import { FRAME_OVERHEAD_BYTES, TlsConnection, createTlsCredentials } from './tls-connection.js';
import type { TlsConnectionInit, TlsCredentials } from './tls-connection.js';

/** WIRE_MESSAGE_TYPES are the message types that travel between nodes; the others are local to a node. */
export const WIRE_MESSAGE_TYPES: ReadonlySet<number> = new Set<number>([
  MessageType.Prop, MessageType.App, MessageType.AppResp, MessageType.Vote, MessageType.VoteResp, MessageType.Snap,
  MessageType.Heartbeat, MessageType.HeartbeatResp, MessageType.TransferLeader, MessageType.TimeoutNow,
  MessageType.ReadIndex, MessageType.ReadIndexResp, MessageType.PreVote, MessageType.PreVoteResp,
]);

/** MAX_MESSAGES_PER_FRAME bounds how many queued messages share one frame. */
const MAX_MESSAGES_PER_FRAME = 4096;
/** MAX_RECONNECT_EXPONENT caps the doubling so the delay computation never overflows. */
const MAX_RECONNECT_EXPONENT = 30;
/** SNAPSHOT_FIRST_CHUNK_ALLOWANCE_BYTES leaves room in the first chunk frame for the message itself. */
const SNAPSHOT_FIRST_CHUNK_ALLOWANCE_BYTES = 64 * 1024;

/** TransportComponents are the transport's collaborators (js-libp2p's (components, init) shape). */
export interface TransportComponents {
  readonly logger: Logger;
  readonly identity: NodeIdentity;
  /** clusterId: the genesis hash; both sides offer it in TLS's ALPN, so nodes of another cluster are refused. */
  readonly clusterId: Uint8Array;
  /** isMember is asked at every handshake and on setPeers(), because membership changes at runtime. */
  readonly isMember: MembershipCheck;
  /**
   * onMessage receives every authenticated, validated message addressed to this node. It runs on
   * the socket's data event and must not throw: queue the message and step it in the Raft loop
   * (anything it throws crashes the process, as a broken invariant should).
   */
  readonly onMessage: (message: Message) => void;
  /** onUnreachable: a message to `nodeId` was lost (connection failure or queue overflow). */
  readonly onUnreachable: (nodeId: number) => void;
  /** onSnapshotStatus: a MSG_SNAP stream to `nodeId` was fully written (true) or abandoned (false). */
  readonly onSnapshotStatus?: (nodeId: number, ok: boolean) => void;
  /** random returns a number in [0, 1) for reconnect jitter (default Math.random). */
  readonly random?: () => number;
  /** dropLog configures the aggregated log of unauthenticated connections dropped (window, bounds, clock). */
  readonly dropLog?: DropLogInit;
}

/** TransportInit are the transport's options; every limit has a documented default in constants.ts. */
export interface TransportInit {
  readonly listenHost: string;
  /** listenPort: 0 lets the OS choose (start() returns the port). */
  readonly listenPort: number;
  /**
   * localAddress: the source address of connections this node dials (default: the OS chooses). Giving
   * each node its own address makes its traffic identifiable on the wire (firewall rules, captures).
   */
  readonly localAddress?: string;
  readonly maxFrameBytes?: number;
  readonly maxQueueMessages?: number;
  readonly maxQueueBytes?: number;
  readonly snapshotChunkBytes?: number;
  readonly maxSnapshotBytes?: number;
  readonly handshakeTimeoutMs?: number;
  readonly reconnectBaseMs?: number;
  readonly reconnectMaxMs?: number;
  readonly maxInboundConnections?: number;
  /** maxUnauthenticatedPerSource: connections one remote address may hold before they authenticate. */
  readonly maxUnauthenticatedPerSource?: number;
  readonly keepAliveMs?: number;
  /** writeStallTimeoutMs: an outbound connection whose socket has not drained for this long is closed and redialled. */
  readonly writeStallTimeoutMs?: number;
}

/** PeerAddress says where a peer listens and which Ed25519 key (raw 32 bytes) it must prove. */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
  readonly publicKey: Uint8Array;
}

/** PeerStats are the counters of one peer's outbound link. */
export interface PeerStats {
  readonly connected: boolean;
  readonly queuedMessages: number;
  readonly sentMessages: number;
  readonly droppedMessages: number;
  readonly connectFailures: number;
}

/** TransportStats are the transport's counters, for metrics and tests. */
export interface TransportStats {
  readonly sentMessages: number;
  readonly receivedMessages: number;
  readonly droppedMessages: number;
  readonly snapshotsSent: number;
  readonly snapshotsReceived: number;
  readonly connectionsAccepted: number;
  readonly connectionsEstablished: number;
  /** closedByCode counts connections closed because of an error, by the error's code. */
  readonly closedByCode: Readonly<Record<string, number>>;
  readonly peers: Readonly<Record<number, PeerStats>>;
}

type Settings = Required<Omit<TransportInit, 'listenHost' | 'listenPort' | 'localAddress'>>;

interface Counters {
  sentMessages: number;
  receivedMessages: number;
  droppedMessages: number;
  snapshotsSent: number;
  snapshotsReceived: number;
  connectionsAccepted: number;
  connectionsEstablished: number;
  closedByCode: Record<string, number>;
}

let frameType: protobuf.Type | undefined;
function frameSchema(): protobuf.Type {
  frameType ??= protoType('quorumgate.transport.Frame');
  return frameType;
}

/** Transport carries Raft messages between authenticated members. */
export class Transport {
  private readonly settings: Settings;
  private readonly random: () => number;
  private readonly counters: Counters = {
    sentMessages: 0, receivedMessages: 0, droppedMessages: 0, snapshotsSent: 0, snapshotsReceived: 0,
    connectionsAccepted: 0, connectionsEstablished: 0, closedByCode: {},
  };
  private readonly links = new Map<number, PeerLink>();
  private readonly inbound = new Set<InboundLink>();
  private server: Server | undefined;
  private credentials: TlsCredentials | undefined;
  private stopped = false;
  private readonly dropLog: DropLog;

  constructor(private readonly components: TransportComponents, private readonly init: TransportInit) {
    this.settings = {
      maxFrameBytes: init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      maxQueueMessages: init.maxQueueMessages ?? DEFAULT_MAX_QUEUE_MESSAGES,
      maxQueueBytes: init.maxQueueBytes ?? DEFAULT_MAX_QUEUE_BYTES,
      snapshotChunkBytes: init.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES,
      maxSnapshotBytes: init.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES,
      handshakeTimeoutMs: init.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      reconnectBaseMs: init.reconnectBaseMs ?? DEFAULT_RECONNECT_BASE_MS,
      reconnectMaxMs: init.reconnectMaxMs ?? DEFAULT_RECONNECT_MAX_MS,
      maxInboundConnections: init.maxInboundConnections ?? DEFAULT_MAX_INBOUND_CONNECTIONS,
      keepAliveMs: init.keepAliveMs ?? DEFAULT_KEEPALIVE_MS,
      maxUnauthenticatedPerSource: init.maxUnauthenticatedPerSource ?? DEFAULT_MAX_UNAUTHENTICATED_PER_SOURCE,
      writeStallTimeoutMs: init.writeStallTimeoutMs ?? DEFAULT_WRITE_STALL_TIMEOUT_MS,
    };
    const s = this.settings;
    assert(s.snapshotChunkBytes > 0 && s.snapshotChunkBytes + SNAPSHOT_FIRST_CHUNK_ALLOWANCE_BYTES <= s.maxFrameBytes,
      () => `snapshotChunkBytes ${s.snapshotChunkBytes} must be positive and leave 64 KiB within maxFrameBytes ${s.maxFrameBytes}`);
    assert(s.maxQueueMessages > 0 && s.maxQueueBytes > 0 && s.reconnectBaseMs > 0 && s.reconnectMaxMs >= s.reconnectBaseMs,
      'queue bounds and reconnect delays must be positive');
    this.random = components.random ?? Math.random;
    this.dropLog = new DropLog(components.logger, components.dropLog);
  }

  /** start makes this node's TLS certificate from its node key and listens for peers; resolves with the bound port. */
  async start(): Promise<{ port: number }> {
    assert(this.server === undefined && this.credentials === undefined, 'start called twice');
    const identity = this.components.identity;
    this.credentials = await createTlsCredentials(identity.nodeId, identity.privateKey, this.components.clusterId);
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.init.listenPort, this.init.listenHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.components.logger.error({ err: error }, 'transport: listener error'));
    const address = server.address();
    assert(address !== null && typeof address === 'object', 'listener has no address');
    this.components.logger.info({ port: address.port, nodeId: this.components.identity.nodeId }, 'transport: listening');
    return { port: address.port };
  }

  /**
   * setPeers replaces the peer list: links to peers no longer listed are closed (their queues
   * dropped), links whose address or key changed reconnect, and every established connection,
   * inbound or outbound, whose peer no longer passes isMember is closed.
   */
  setPeers(peers: ReadonlyMap<number, PeerAddress>): void {
    for (const [nodeId, link] of this.links) {
      const next = peers.get(nodeId);
      if (next === undefined) {
        link.shutdown(new TransportError('TRANSPORT_PEER_REMOVED', `transport: node ${nodeId} was removed from the peer list`));
        this.links.delete(nodeId);
      } else {
        link.setAddress(next);
      }
    }
    for (const [nodeId, address] of peers) {
      if (nodeId === this.components.identity.nodeId || this.links.has(nodeId)) continue;
      this.links.set(nodeId, new PeerLink(nodeId, address, this));
    }
    for (const link of this.links.values()) link.recheckMembership();
    for (const link of this.inbound) link.recheckMembership();
  }

  /** send enqueues messages for their peers and returns at once; it never blocks or throws for a peer's state. */
  send(messages: readonly Message[]): void {
    for (const message of messages) {
      assert(WIRE_MESSAGE_TYPES.has(message.type), () => `send: message type ${message.type} is local-only`);
      assert(message.from === this.components.identity.nodeId, () => `send: message from ${message.from}, this is node ${this.components.identity.nodeId}`);
      const link = this.links.get(message.to);
      if (link === undefined || this.stopped) {
        this.counters.droppedMessages++;
        this.components.logger.debug({ to: message.to, type: message.type }, 'transport: dropped a message to a node not in the peer list');
        if (message.type === MessageType.Snap) this.reportSnapshot(message.to, false);
        this.components.onUnreachable(message.to);
        continue;
      }
      link.enqueue(message);
    }
  }

  /** stop closes the listener and every connection; queued messages are dropped. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const link of this.links.values()) link.shutdown(undefined);
    this.links.clear();
    for (const link of this.inbound) link.connection.close(undefined);
    this.inbound.clear();
    this.dropLog.flush();
    const server = this.server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** stats returns the transport's counters. */
  stats(): TransportStats {
    const peers: Record<number, PeerStats> = {};
    for (const [nodeId, link] of this.links) peers[nodeId] = link.stats();
    return { ...this.counters, closedByCode: { ...this.counters.closedByCode }, peers };
  }

  // -------------------------------------------------------------------------------------------
  // Shared with PeerLink and InboundLink.

  /** @internal */ get options(): Settings {
    return this.settings;
  }

  /** @internal */ get localAddress(): string | undefined {
    return this.init.localAddress;
  }

  /** @internal */ get deps(): TransportComponents {
    return this.components;
  }

  /**
   * @internal the parts of a TlsConnectionInit every connection of this node shares. Connections
   * exist only after start(), which made the credentials.
   */
  connectionInit(): Pick<TlsConnectionInit, 'selfNodeId' | 'credentials' | 'isMember' | 'maxFrameBytes' | 'handshakeTimeoutMs'> {
    assert(this.credentials !== undefined, 'a connection before start()');
    return {
      selfNodeId: this.components.identity.nodeId, credentials: this.credentials, isMember: this.components.isMember,
      maxFrameBytes: this.settings.maxFrameBytes, handshakeTimeoutMs: this.settings.handshakeTimeoutMs,
    };
  }

  /** @internal */ get isStopped(): boolean {
    return this.stopped;
  }

  /** @internal */ get count(): Counters {
    return this.counters;
  }

  /** @internal */ nextRandom(): number {
    return this.random();
  }

  /** @internal */ reportSnapshot(nodeId: number, ok: boolean): void {
    this.components.onSnapshotStatus?.(nodeId, ok);
  }

  /**
   * @internal records why a connection closed and logs it. `remote` is the address and port taken
   * when the connection opened (a closed socket no longer knows them). An inbound connection that
   * never authenticated is logged through the drop log: aggregated and rate-limited.
   */
  noteClosed(direction: 'inbound' | 'outbound', connection: TlsConnection, error: Error | undefined, remote: string): void {
    const peer = connection.claimedPeer;
    const authenticated = connection.peer !== undefined;
    const context = { direction, peer: peer?.nodeId, peerKey: peer === undefined ? undefined : hex(peer.publicKey), remote, authenticated };
    const code = error === undefined ? undefined : (error as { code?: unknown }).code;
    const key = typeof code === 'string' ? code : 'UNKNOWN';
    if (error !== undefined) this.counters.closedByCode[key] = (this.counters.closedByCode[key] ?? 0) + 1;
    if (direction === 'inbound' && !authenticated && !this.stopped) {
      this.dropLog.note(sourceOf(remote), error === undefined ? 'CLOSED' : key, { ...context, reason: error?.message }, 'transport: connection closed');
      return;
    }
    if (error === undefined) {
      this.components.logger.info(context, 'transport: connection closed');
      return;
    }
    this.components.logger.warn({ ...context, code: key, reason: error.message }, 'transport: connection closed');
  }

  private accept(socket: Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const source = socket.remoteAddress ?? '?';
    // One source may hold only a few connections that have not authenticated: a member needs one at
    // a time (a few while nodes share an address, as on loopback), a flood from one host is refused
    // here before it costs a handshake or evicts anyone else's.
    let fromSource = 0;
    for (const link of this.inbound) if (!link.connection.isEstablished && link.source === source) fromSource++;
    if (fromSource >= this.settings.maxUnauthenticatedPerSource) {
      this.counters.closedByCode.TRANSPORT_SOURCE_LIMIT = (this.counters.closedByCode.TRANSPORT_SOURCE_LIMIT ?? 0) + 1;
      this.dropLog.note(source, 'TRANSPORT_SOURCE_LIMIT', { remote, limit: this.settings.maxUnauthenticatedPerSource },
        'transport: refused a connection: too many unauthenticated connections from its source');
      socket.destroy();
      return;
    }
    if (this.inbound.size >= this.settings.maxInboundConnections) {
      // At the limit, the oldest connection that has not authenticated yet makes room, so idle
      // unauthenticated sockets cannot lock members out; if every slot is authenticated, refuse.
      const oldestUnauthenticated = [...this.inbound].find((link) => !link.connection.isEstablished);
      if (oldestUnauthenticated === undefined) {
        this.dropLog.note(source, 'TRANSPORT_FULL', { remote, limit: this.settings.maxInboundConnections },
          'transport: refused a connection: every inbound slot holds an authenticated peer');
        socket.destroy();
        return;
      }
      oldestUnauthenticated.connection.close(new TransportError('TRANSPORT_EVICTED',
        `transport: unauthenticated connection evicted: ${this.settings.maxInboundConnections} inbound connections reached`));
    }
    this.counters.connectionsAccepted++;
    const link = new InboundLink(socket, remote, source, this, (closed) => this.inbound.delete(closed), (established) => {
      // One inbound connection per peer: a newer one (e.g. after the peer restarted) replaces the older.
      for (const other of this.inbound) {
        if (other !== established && other.connection.peer?.nodeId === established.connection.peer?.nodeId) {
          other.connection.close(new TransportError('TRANSPORT_REPLACED', 'transport: replaced by a newer connection from the same node'));
        }
      }
    });
    this.inbound.add(link);
  }
}

/** sourceOf is the address part of "address:port" (IPv6 addresses contain colons). */
function sourceOf(remote: string): string {
  const colon = remote.lastIndexOf(':');
  return colon < 0 ? remote : remote.slice(0, colon);
}

/** FrameContent is a decoded transport Frame: a batch of messages, a snapshot chunk, or nothing. */
export interface FrameContent {
  readonly messages?: readonly Message[];
  readonly snapshotChunk?: SnapshotChunkFields;
}

/** encodeFrame encodes a transport Frame (exported for tests that play a hostile peer). */
export function encodeFrame(frame: FrameContent): Uint8Array {
  const object: ProtoObject = {};
  if (frame.messages !== undefined) object.batch = { messages: frame.messages.map(messageToProto) };
  if (frame.snapshotChunk !== undefined) {
    const chunk = frame.snapshotChunk;
    object.snapshotChunk = {
      streamId: chunk.streamId, totalBytes: chunk.totalBytes, offset: chunk.offset, data: chunk.data,
      ...(chunk.message === undefined ? {} : { message: messageToProto(chunk.message) }),
    };
  }
  return frameSchema().encode(object).finish();
}

/** SnapshotChunkFields are the fields of a SnapshotChunk frame. */
export interface SnapshotChunkFields {
  readonly streamId: number;
  readonly message?: Message;
  readonly totalBytes: number;
  readonly offset: number;
  readonly data: Uint8Array;
}

/** decodeFrame decodes and validates a transport Frame; throws CodecError. */
export function decodeFrame(bytes: Uint8Array): FrameContent {
  const frame = decodeProto(frameSchema(), bytes, 'Frame');
  if (frame.body === 'batch') {
    const batch = frame.batch as ProtoObject;
    const list = Array.isArray(batch.messages) ? (batch.messages as unknown[]) : [];
    return { messages: list.map((item, i) => messageFromProto(item as ProtoObject, `Frame.batch.messages[${i}]`)) };
  }
  if (frame.body === 'snapshotChunk') {
    const chunk = frame.snapshotChunk as ProtoObject;
    const message = chunk.message === null || chunk.message === undefined
      ? undefined : messageFromProto(chunk.message as ProtoObject, 'Frame.snapshotChunk.message');
    return {
      snapshotChunk: {
        streamId: readUint64(chunk.streamId, 'Frame.snapshotChunk.streamId'),
        totalBytes: readUint64(chunk.totalBytes, 'Frame.snapshotChunk.totalBytes'),
        offset: readUint64(chunk.offset, 'Frame.snapshotChunk.offset'),
        data: readBytes(chunk.data, 'Frame.snapshotChunk.data'),
        ...(message === undefined ? {} : { message }),
      },
    };
  }
  if (frame.body !== undefined && frame.body !== null) throw new CodecError('CODEC_INVALID_FIELD', 'Frame.body', `unknown body ${String(frame.body)}`);
  return {};
}

/** messageBytes approximates what a queued message holds, for the queue's byte bound. */
function messageBytes(message: Message): number {
  let total = 64 + message.context.byteLength + (message.snapshot?.data.byteLength ?? 0);
  for (const entry of message.entries) total += 24 + entry.data.byteLength;
  return total;
}

interface SnapshotStream {
  readonly message: Message;
  readonly data: Uint8Array;
  readonly streamId: number;
  offset: number;
}

/** PeerLink is the outbound side towards one peer: queue, connection, backoff, snapshot streams. */
class PeerLink {
  private queue: (Message | undefined)[] = [];
  private queueHead = 0;
  private queuedBytes = 0;
  private connection: TlsConnection | undefined;
  private established = false;
  private writable = true;
  private stream: SnapshotStream | undefined;
  private nextStreamId = 1;
  private attempts = 0;
  private backoffTimer: NodeJS.Timeout | undefined;
  private overflowReported = false;
  private pumpScheduled = false;
  private stallTimer: NodeJS.Timeout | undefined;
  private closedForGood = false;
  private sent = 0;
  private dropped = 0;
  private connectFailures = 0;

  constructor(readonly nodeId: number, private address: PeerAddress, private readonly transport: Transport) {}

  stats(): PeerStats {
    return {
      connected: this.established, queuedMessages: this.queue.length - this.queueHead, sentMessages: this.sent,
      droppedMessages: this.dropped, connectFailures: this.connectFailures,
    };
  }

  setAddress(address: PeerAddress): void {
    const changed = address.host !== this.address.host || address.port !== this.address.port
      || Buffer.compare(Buffer.from(address.publicKey), Buffer.from(this.address.publicKey)) !== 0;
    this.address = address;
    if (changed && this.connection !== undefined) {
      this.connection.close(new TransportError('TRANSPORT_PEER_CHANGED', `transport: node ${this.nodeId}'s address or key changed`));
    }
  }

  recheckMembership(): void {
    const peer = this.connection?.peer;
    if (peer !== undefined && !this.transport.deps.isMember(peer.nodeId, peer.publicKey)) {
      this.connection!.close(new NotMemberError(peer.nodeId, hex(peer.publicKey)));
    }
  }

  enqueue(message: Message): void {
    const settings = this.transport.options;
    const bytes = messageBytes(message);
    const length = this.queue.length - this.queueHead;
    if (length >= settings.maxQueueMessages || (length > 0 && this.queuedBytes + bytes > settings.maxQueueBytes)) {
      this.drop(message);
      if (!this.overflowReported) {
        this.overflowReported = true;
        this.transport.deps.logger.warn({ peer: this.nodeId, queued: length, queuedBytes: this.queuedBytes }, 'transport: send queue full, dropping messages');
        this.transport.deps.onUnreachable(this.nodeId);
      }
      return;
    }
    this.queue.push(message);
    this.queuedBytes += bytes;
    if (this.established) this.schedulePump();
    else this.dial();
  }

  /**
   * schedulePump writes once the caller's current batch of send() calls is done (a microtask),
   * so the messages of one Ready share frames instead of paying one AEAD operation each.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  shutdown(error: Error | undefined): void {
    this.closedForGood = true;
    if (this.stallTimer !== undefined) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    if (this.backoffTimer !== undefined) clearTimeout(this.backoffTimer);
    this.backoffTimer = undefined;
    if (this.connection !== undefined) this.connection.close(error);
    this.dropAll();
  }

  private drop(message: Message): void {
    this.dropped++;
    this.transport.count.droppedMessages++;
    if (message.type === MessageType.Snap) this.transport.reportSnapshot(this.nodeId, false);
  }

  private dropAll(): void {
    for (let i = this.queueHead; i < this.queue.length; i++) this.drop(this.queue[i]!);
    this.queue = [];
    this.queueHead = 0;
    this.queuedBytes = 0;
    if (this.stream !== undefined) {
      this.stream = undefined;
      this.transport.reportSnapshot(this.nodeId, false);
    }
  }

  private dial(): void {
    if (this.connection !== undefined || this.backoffTimer !== undefined || this.closedForGood || this.transport.isStopped) return;
    const settings = this.transport.options;
    const connection = this.connection = TlsConnection.dial({ host: this.address.host, port: this.address.port, localAddress: this.transport.localAddress, keepAliveMs: settings.keepAliveMs }, {
      ...this.transport.connectionInit(),
      expectedPeer: { nodeId: this.nodeId, publicKey: this.address.publicKey },
      onEstablished: () => {
        this.established = true;
        this.writable = true;
        this.attempts = 0;
        this.transport.count.connectionsEstablished++;
        this.transport.deps.logger.info({ peer: this.nodeId }, 'transport: connected');
        this.pump();
      },
      onFrame: (connection) => {
        // Data flows only from the dialer; the listener sends nothing after its confirmation.
        connection.close(new ProtocolError('the listener sent a frame after the handshake'));
      },
      onClose: (closed, error) => this.onClosed(closed, error),
    });
    connection.socket.on('drain', () => {
      this.writable = true;
      if (this.stallTimer !== undefined) clearTimeout(this.stallTimer);
      this.stallTimer = undefined;
      this.pump();
    });
  }

  /**
   * watchStall closes a connection whose socket buffer has not drained within writeStallTimeoutMs:
   * a silently partitioned peer would otherwise hold it for the kernel's retransmission timeout
   * (minutes), and reconnecting finds the peer as soon as the partition heals.
   */
  private watchStall(connection: TlsConnection): void {
    if (this.stallTimer !== undefined) return;
    const timeoutMs = this.transport.options.writeStallTimeoutMs;
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined;
      if (!this.writable && this.connection === connection) {
        connection.close(new TransportError('TRANSPORT_WRITE_STALLED', `transport: node ${this.nodeId} has not read for ${timeoutMs} ms`));
      }
    }, timeoutMs);
  }

  private onClosed(connection: TlsConnection, error: Error | undefined): void {
    if (this.connection !== connection) return;
    if (this.stallTimer !== undefined) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
    this.transport.noteClosed('outbound', connection, error, `${this.address.host}:${this.address.port}`);
    const wasEstablished = this.established;
    this.connection = undefined;
    this.established = false;
    if (!wasEstablished) this.connectFailures++;
    this.dropAll();
    if (this.closedForGood || this.transport.isStopped) return;
    this.transport.deps.onUnreachable(this.nodeId);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const settings = this.transport.options;
    const exponent = Math.min(this.attempts, MAX_RECONNECT_EXPONENT);
    const ceilingMs = Math.min(settings.reconnectMaxMs, settings.reconnectBaseMs * 2 ** exponent);
    // Equal jitter: half the delay is fixed, half random, so peers that failed together spread out.
    const delayMs = ceilingMs / 2 + (ceilingMs / 2) * this.transport.nextRandom();
    this.attempts++;
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      if (this.queue.length > this.queueHead) this.dial();
    }, delayMs);
  }

  /**
   * pump writes queued messages until the queue is empty or the socket's buffer is full. Messages
   * in a row (up to a snapshot) share one frame, within maxBatchBytes by the queue's estimate.
   */
  private pump(): void {
    const connection = this.connection;
    if (connection === undefined || !this.established) return;
    const settings = this.transport.options;
    const maxBatchBytes = Math.floor(settings.maxFrameBytes / 2);
    // Bounded: every pass consumes at least one queued message or snapshot chunk, or stops.
    while (this.writable && !connection.isClosed) {
      if (this.stream !== undefined) {
        this.writable = this.writeChunk(connection, this.stream);
        if (!this.writable) this.watchStall(connection);
        continue;
      }
      if (this.queueHead >= this.queue.length) break;
      const head = this.queue[this.queueHead]!;
      if (head.type === MessageType.Snap) {
        this.shift();
        assert(head.snapshot !== undefined, 'a MSG_SNAP message without a snapshot');
        this.stream = { message: { ...head, snapshot: { ...head.snapshot, data: new Uint8Array(0) } }, data: head.snapshot.data, streamId: this.nextStreamId++, offset: 0 };
        continue;
      }
      const batch: Message[] = [this.shift()];
      let batchBytes = messageBytes(head);
      for (let next = this.queue[this.queueHead]; next !== undefined && next.type !== MessageType.Snap; next = this.queue[this.queueHead]) {
        const bytes = messageBytes(next);
        if (batchBytes + bytes > maxBatchBytes || batch.length >= MAX_MESSAGES_PER_FRAME) break;
        batch.push(this.shift());
        batchBytes += bytes;
      }
      const frame = encodeFrame({ messages: batch });
      if (frame.length + FRAME_OVERHEAD_BYTES > settings.maxFrameBytes) {
        // Only a single message can exceed the limit: batches stop at half of it by a generous estimate.
        for (const message of batch) this.drop(message);
        this.transport.deps.logger.error({ peer: this.nodeId, types: batch.map((m) => m.type), bytes: frame.length },
          'transport: message larger than maxFrameBytes dropped');
        continue;
      }
      this.writable = connection.send(frame);
      if (!this.writable) this.watchStall(connection);
      this.sent += batch.length;
      this.transport.count.sentMessages += batch.length;
    }
    if (this.queueHead >= this.queue.length && this.stream === undefined) this.overflowReported = false;
  }

  /** shift takes the queue's head message. */
  private shift(): Message {
    const message = this.queue[this.queueHead]!;
    this.queue[this.queueHead] = undefined; // release it now; the array is compacted below
    this.queueHead++;
    this.queuedBytes -= messageBytes(message);
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    return message;
  }

  private writeChunk(connection: TlsConnection, stream: SnapshotStream): boolean {
    const chunkBytes = this.transport.options.snapshotChunkBytes;
    const data = stream.data.subarray(stream.offset, stream.offset + chunkBytes);
    const frame = encodeFrame({
      snapshotChunk: {
        streamId: stream.streamId, totalBytes: stream.data.byteLength, offset: stream.offset, data,
        ...(stream.offset === 0 ? { message: stream.message } : {}),
      },
    });
    stream.offset += data.byteLength;
    const writable = connection.send(frame);
    if (stream.offset >= stream.data.byteLength) {
      this.stream = undefined;
      this.sent++;
      this.transport.count.sentMessages++;
      this.transport.count.snapshotsSent++;
      this.transport.reportSnapshot(this.nodeId, true);
    }
    return writable;
  }
}

interface Reassembly {
  readonly streamId: number;
  readonly message: Message;
  readonly totalBytes: number;
  receivedBytes: number;
  readonly parts: Buffer[];
}

/** InboundLink is one accepted connection: TLS authenticates the dialer, and this delivers its messages. */
class InboundLink {
  readonly connection: TlsConnection;
  private reassembly: Reassembly | undefined;

  constructor(
    socket: Socket,
    private readonly remote: string,
    /** source is the remote address (without port) the connection came from. */
    readonly source: string,
    private readonly transport: Transport,
    onGone: (link: InboundLink) => void,
    onEstablished: (link: InboundLink) => void,
  ) {
    this.connection = TlsConnection.accept(socket, transport.options.keepAliveMs, {
      ...transport.connectionInit(),
      onEstablished: () => {
        transport.count.connectionsEstablished++;
        transport.deps.logger.info({ peer: this.connection.peer?.nodeId }, 'transport: accepted');
        onEstablished(this);
      },
      onFrame: (_connection, plaintext) => this.onFrame(plaintext),
      onClose: (connection, error) => {
        transport.noteClosed('inbound', connection, error, this.remote);
        onGone(this);
      },
    });
  }

  recheckMembership(): void {
    const peer = this.connection.peer;
    if (peer !== undefined && !this.transport.deps.isMember(peer.nodeId, peer.publicKey)) {
      this.connection.close(new NotMemberError(peer.nodeId, hex(peer.publicKey)));
    }
  }

  private onFrame(plaintext: Buffer): void {
    const frame = decodeFrame(plaintext);
    if (frame.snapshotChunk !== undefined) {
      this.onChunk(frame.snapshotChunk);
      return;
    }
    if (frame.messages === undefined) return; // an empty frame: keepalive
    if (this.reassembly !== undefined) throw new ProtocolError(`messages arrived inside snapshot stream ${this.reassembly.streamId}`);
    // Validate the whole batch before delivering any of it: a bad frame delivers nothing.
    for (const message of frame.messages) this.check(message);
    for (const message of frame.messages) {
      if (message.type === MessageType.Snap) throw new ProtocolError('a MSG_SNAP message must be streamed in SnapshotChunk frames');
    }
    for (const message of frame.messages) this.deliver(message);
  }

  private onChunk(chunk: SnapshotChunkFields): void {
    const maxSnapshotBytes = this.transport.options.maxSnapshotBytes;
    if (chunk.offset === 0) {
      if (this.reassembly !== undefined) throw new ProtocolError(`snapshot stream ${chunk.streamId} started inside stream ${this.reassembly.streamId}`);
      if (chunk.message === undefined || chunk.message.type !== MessageType.Snap) {
        throw new ProtocolError(`the first chunk of snapshot stream ${chunk.streamId} must carry a MSG_SNAP message`);
      }
      if (chunk.totalBytes > maxSnapshotBytes) {
        throw new ProtocolError(`snapshot stream ${chunk.streamId} announces ${chunk.totalBytes} bytes, above maxSnapshotBytes ${maxSnapshotBytes}`);
      }
      if (chunk.message.snapshot!.data.byteLength !== 0) throw new ProtocolError('the streamed MSG_SNAP message must have empty snapshot data');
      this.reassembly = { streamId: chunk.streamId, message: chunk.message, totalBytes: chunk.totalBytes, receivedBytes: 0, parts: [] };
    } else {
      const current = this.reassembly;
      if (current === undefined || current.streamId !== chunk.streamId) throw new ProtocolError(`chunk of snapshot stream ${chunk.streamId} without its start`);
      if (chunk.message !== undefined) throw new ProtocolError('only the first snapshot chunk carries the message');
      if (chunk.offset !== current.receivedBytes) throw new ProtocolError(`snapshot chunk at offset ${chunk.offset}, expected ${current.receivedBytes}`);
      if (chunk.totalBytes !== current.totalBytes) throw new ProtocolError('snapshot chunks disagree on the total size');
      if (chunk.data.byteLength === 0) throw new ProtocolError('an empty snapshot chunk after the first');
    }
    const stream = this.reassembly!;
    if (stream.receivedBytes + chunk.data.byteLength > stream.totalBytes) {
      throw new ProtocolError(`snapshot stream ${stream.streamId} exceeds its announced ${stream.totalBytes} bytes`);
    }
    if (chunk.data.byteLength > 0) stream.parts.push(Buffer.from(chunk.data.buffer, chunk.data.byteOffset, chunk.data.byteLength));
    stream.receivedBytes += chunk.data.byteLength;
    if (stream.receivedBytes === stream.totalBytes) {
      this.reassembly = undefined;
      const data = Buffer.concat(stream.parts, stream.totalBytes);
      this.transport.count.snapshotsReceived++;
      this.deliver({ ...stream.message, snapshot: { ...stream.message.snapshot!, data } });
    }
  }

  /** check refuses a message that its authenticated sender may not send to this node. */
  private check(message: Message): void {
    const peer = this.connection.peer;
    assert(peer !== undefined, 'checking a message on an unauthenticated connection');
    const self = this.transport.deps.identity.nodeId;
    if (message.from !== peer.nodeId) throw new ProtocolError(`node ${peer.nodeId} sent a message claiming to be from node ${message.from}`);
    if (message.to !== self) throw new ProtocolError(`node ${peer.nodeId} sent a message for node ${message.to} to node ${self}`);
    if (!WIRE_MESSAGE_TYPES.has(message.type)) throw new ProtocolError(`message type ${message.type} is local-only`);
  }

  private deliver(message: Message): void {
    this.check(message);
    this.transport.count.receivedMessages++;
    this.transport.deps.onMessage(message);
  }
}
