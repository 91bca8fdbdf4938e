// tls-connection.ts — one connection between two nodes: TLS 1.3 (node:tls, OpenSSL's record layer)
// with mutual authentication by node keys, carrying the length-prefixed protobuf frames of
// proto/transport.proto.
//
// Both sides present a certificate made from their Ed25519 node key (src/tls/node-cert.ts). No
// certificate authority is involved: each side reads the key from the peer's certificate and pins
// it against the agreed membership (peer-certificate.ts) at every handshake. ALPN carries the
// protocol version and the cluster id, so a node of another cluster is refused by TLS itself.
//
// In TLS 1.3 the dialer finishes its handshake before the listener has seen the dialer's
// certificate, so the listener, once it has accepted the dialer as a member, sends one empty frame
// (the confirmation, as the former hand-made handshake did); the dialer sends nothing before it.
//
// Every failure closes the connection and is reported once through onClose(error) with a stable
// code; nothing a peer sends can throw out of here except a broken invariant of our own (assert).
import type { KeyObject } from 'node:crypto';
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import { TLSSocket, connect as connectTls, createSecureContext } from 'node:tls';
import type { SecureContext } from 'node:tls';
import { createNodeCertificate } from '../tls/node-cert.js';
import { FRAME_HEADER_BYTES, PROTOCOL_VERSION } from './constants.js';
import { CodecError, DecryptError, HandshakeError, ProtocolError, TransportError, assert } from './errors.js';
import { FrameDecoder, frameHeader } from './framing.js';
import { hex } from './keys.js';
import type { AuthenticatedPeer, MembershipCheck } from './peer-certificate.js';
import { checkDialer, checkListener, nodeCommonName } from './peer-certificate.js';

/** TLS_VERSION is the only protocol version either side offers or accepts. */
export const TLS_VERSION = 'TLSv1.3';
const MAX_ALPN_BYTES = 255;

/** TlsCredentials are a node's certificate and key, ready for node:tls, and the ALPN name of its cluster. */
export interface TlsCredentials {
  readonly secureContext: SecureContext;
  /** alpnProtocol: "quorumgate-raft/<version>/<cluster id hex>"; the only protocol either side offers. */
  readonly alpnProtocol: string;
}

/** createTlsCredentials makes the certificate of node `nodeId`'s Ed25519 key and a TLS 1.3-only context for it. */
export async function createTlsCredentials(nodeId: number, privateKey: KeyObject, clusterId: Uint8Array): Promise<TlsCredentials> {
  const certificate = await createNodeCertificate(privateKey, { commonName: nodeCommonName(nodeId) });
  const secureContext = createSecureContext({ cert: certificate.certPem, key: certificate.keyPem, minVersion: TLS_VERSION, maxVersion: TLS_VERSION });
  const alpnProtocol = `quorumgate-raft/${PROTOCOL_VERSION}/${hex(clusterId)}`;
  assert(Buffer.byteLength(alpnProtocol) <= MAX_ALPN_BYTES, () => `ALPN protocol of ${Buffer.byteLength(alpnProtocol)} bytes`);
  return { secureContext, alpnProtocol };
}

/** TlsConnectionInit configures one connection. */
export interface TlsConnectionInit {
  readonly selfNodeId: number;
  readonly credentials: TlsCredentials;
  readonly isMember: MembershipCheck;
  /** expectedPeer: for a dialer, the node it dials and the key that node must present. */
  readonly expectedPeer?: AuthenticatedPeer;
  readonly maxFrameBytes: number;
  readonly handshakeTimeoutMs: number;
  /** onEstablished: both sides are authenticated (for a dialer: the listener confirmed). */
  readonly onEstablished: (connection: TlsConnection) => void;
  /** onFrame: one received frame's body (never the dialer's confirmation frame). */
  readonly onFrame: (connection: TlsConnection, body: Buffer) => void;
  /** onClose: called exactly once; `error` says why (undefined for an orderly close by either side). */
  readonly onClose: (connection: TlsConnection, error: Error | undefined) => void;
}

/** DialAddress is where a dialer connects, and from which local address. */
export interface DialAddress {
  readonly host: string;
  readonly port: number;
  readonly localAddress?: string | undefined;
  readonly keepAliveMs: number;
}

type Phase = 'handshake' | 'awaitConfirmation' | 'established' | 'closed';

/** TlsConnection wraps one TLS socket between two nodes; build it with dial() or accept(). */
export class TlsConnection {
  private phase: Phase = 'handshake';
  private readonly decoder: FrameDecoder;
  private authenticated: AuthenticatedPeer | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;

  /** dial connects to a listening node and authenticates it as `init.expectedPeer`. */
  static dial(address: DialAddress, init: TlsConnectionInit): TlsConnection {
    assert(init.expectedPeer !== undefined, 'a dialer needs expectedPeer');
    const tcp = connectTcp({ host: address.host, port: address.port, ...(address.localAddress !== undefined ? { localAddress: address.localAddress } : {}) });
    tcp.setKeepAlive(true, address.keepAliveMs);
    tcp.setNoDelay(true);
    const socket = connectTls({
      socket: tcp, secureContext: init.credentials.secureContext, ALPNProtocols: [init.credentials.alpnProtocol],
      // The certificate is self-signed: OpenSSL still verifies the peer's proof of its key
      // (CertificateVerify); which key is acceptable is decided by pinning, in onSecure.
      rejectUnauthorized: false, servername: '',
    });
    return new TlsConnection(socket, tcp, 'dialer', init);
  }

  /** accept takes a connection a node dialed to this one and authenticates it against the membership. */
  static accept(tcp: Socket, keepAliveMs: number, init: TlsConnectionInit): TlsConnection {
    tcp.setKeepAlive(true, keepAliveMs);
    tcp.setNoDelay(true);
    const socket = new TLSSocket(tcp, {
      isServer: true, secureContext: init.credentials.secureContext, ALPNProtocols: [init.credentials.alpnProtocol],
      requestCert: true, rejectUnauthorized: false,
    });
    return new TlsConnection(socket, tcp, 'listener', init);
  }

  private constructor(readonly socket: TLSSocket, private readonly tcp: Socket, private readonly role: 'dialer' | 'listener', private readonly init: TlsConnectionInit) {
    // The dialer accepts only the empty confirmation frame until the listener has accepted it.
    // A server-side TLSSocket signals its finished handshake with 'secure' (what tls.Server's own
    // listener waits for before 'secureConnection'); a client socket with 'secureConnect'.
    this.decoder = new FrameDecoder(role === 'dialer' ? 0 : init.maxFrameBytes);
    socket.on(role === 'dialer' ? 'secureConnect' : 'secure', () => this.guard(() => this.onSecure()));
    socket.on('data', (chunk: Buffer) => this.guard(() => this.onData(chunk)));
    const onError = (error: Error): void => this.close(socketFailure(error, this.phase === 'established', init.credentials.alpnProtocol));
    socket.on('error', onError);
    // A server-side TLSSocket that no tls.Server owns reports OpenSSL's errors after the handshake
    // (a record that fails authentication) only through '_tlsError', the event tls.Server itself
    // listens to (lib/_tls_wrap.js, tlsConnectionListener); without it they would be a bare close.
    if (role === 'listener') socket.on('_tlsError', onError);
    socket.on('close', () => this.close(this.phase === 'established' ? undefined : closedDuringHandshake(this.phase)));
    this.handshakeTimer = setTimeout(
      () => this.close(new HandshakeError(`not authenticated within ${init.handshakeTimeoutMs} ms`)), init.handshakeTimeoutMs);
  }

  /** peer is the authenticated far end (undefined until its certificate passed the membership check). */
  get peer(): AuthenticatedPeer | undefined {
    return this.authenticated;
  }

  /** claimedPeer is who the far end is meant to be, for logs about a failed handshake. */
  get claimedPeer(): AuthenticatedPeer | undefined {
    return this.authenticated ?? this.init.expectedPeer;
  }

  /** isEstablished: both sides are authenticated and frames may flow. */
  get isEstablished(): boolean {
    return this.phase === 'established';
  }

  /** isClosed: close() ran; nothing more is sent or delivered. */
  get isClosed(): boolean {
    return this.phase === 'closed';
  }

  /** send writes one frame (length prefix and body); returns false when the socket's buffer is full (wait for 'drain'). */
  send(body: Uint8Array): boolean {
    assert(this.phase === 'established', () => `send in phase ${this.phase}`);
    return this.socket.write(Buffer.concat([frameHeader(body.length), body]));
  }

  /** close ends the connection (idempotent) and reports `error` through onClose. */
  close(error?: Error): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.socket.destroy();
    this.tcp.destroy();
    this.init.onClose(this, error);
  }

  /** guard closes the connection with an expected error thrown by `step`; anything else is a bug and propagates. */
  private guard(step: () => void): void {
    if (this.phase === 'closed') return;
    try {
      step();
    } catch (error) {
      if (error instanceof TransportError || error instanceof CodecError) this.close(error);
      else throw error;
    }
  }

  private onSecure(): void {
    const protocol = this.socket.getProtocol();
    if (protocol !== TLS_VERSION) throw new HandshakeError(`the peer negotiated ${protocol ?? 'no protocol'}, only ${TLS_VERSION} is accepted`, { code: 'TRANSPORT_TLS_VERSION' });
    const alpn = this.socket.alpnProtocol;
    if (alpn !== this.init.credentials.alpnProtocol) {
      throw new HandshakeError(`the peer offered ALPN ${alpn === false ? 'none' : `"${alpn}"`}, expected "${this.init.credentials.alpnProtocol}" (another cluster or protocol version)`, { code: 'TRANSPORT_WRONG_CLUSTER' });
    }
    const certificate = this.socket.getPeerX509Certificate();
    if (this.role === 'dialer') {
      this.authenticated = checkListener(certificate, this.init.expectedPeer!, this.init.isMember);
      this.phase = 'awaitConfirmation';
      return;
    }
    this.authenticated = checkDialer(certificate, this.init.selfNodeId, this.init.isMember);
    this.establish();
    // The confirmation: the dialer starts sending once it reads this empty frame.
    this.socket.write(frameHeader(0));
  }

  private onData(chunk: Buffer): void {
    if (this.phase !== 'established' && this.phase !== 'awaitConfirmation') throw new ProtocolError('data before the TLS handshake completed');
    this.decoder.push(chunk);
    // Bounded: each pass consumes one whole frame of the finite buffered input.
    for (let body = this.decoder.next(); body !== undefined; body = this.isClosed ? undefined : this.decoder.next()) {
      if (this.phase === 'awaitConfirmation') {
        // The decoder's limit of 0 bytes admits only the empty confirmation frame here.
        this.decoder.setMaxFrameBytes(this.init.maxFrameBytes);
        this.establish();
      } else {
        this.init.onFrame(this, body);
      }
    }
  }

  private establish(): void {
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.phase = 'established';
    this.init.onEstablished(this);
  }
}

/** FRAME_OVERHEAD_BYTES is what framing adds to a frame's body (the length prefix; TLS's own overhead is not counted). */
export const FRAME_OVERHEAD_BYTES = FRAME_HEADER_BYTES;

const BAD_RECORD_CODES = new Set(['ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC', 'ERR_SSL_BAD_RECORD_MAC', 'ERR_SSL_SSLV3_ALERT_BAD_RECORD_MAC', 'ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR']);
const VERSION_CODES = new Set(['ERR_SSL_UNSUPPORTED_PROTOCOL', 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', 'ERR_SSL_NO_PROTOCOLS_AVAILABLE', 'ERR_SSL_WRONG_SSL_VERSION']);
const ALPN_CODES = new Set(['ERR_SSL_NO_APPLICATION_PROTOCOL', 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL']);
const NOT_TLS_CODES = new Set(['ERR_SSL_HTTP_REQUEST', 'ERR_SSL_HTTPS_PROXY_REQUEST', 'ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_UNKNOWN_PROTOCOL', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_RECORD_LENGTH_MISMATCH']);

/** socketFailure turns a socket or OpenSSL error into the transport's named error. */
function socketFailure(error: Error & { code?: unknown; reason?: unknown }, established: boolean, alpnProtocol: string): TransportError {
  const code = typeof error.code === 'string' ? error.code : '';
  const reason = typeof error.reason === 'string' ? error.reason : error.message.split('\n')[0]!;
  if (BAD_RECORD_CODES.has(code)) return new DecryptError(reason, { cause: error });
  if (established || !code.startsWith('ERR_SSL_')) return new TransportError('TRANSPORT_SOCKET', `transport: socket error: ${error.message.split('\n')[0]!}`, { cause: error });
  if (VERSION_CODES.has(code)) return new HandshakeError(`the peer does not speak ${TLS_VERSION} (${reason})`, { code: 'TRANSPORT_TLS_VERSION', cause: error });
  if (ALPN_CODES.has(code)) {
    return new HandshakeError(`the peer does not speak "${alpnProtocol}": another cluster or protocol version (${reason})`, { code: 'TRANSPORT_WRONG_CLUSTER', cause: error });
  }
  if (NOT_TLS_CODES.has(code)) return new HandshakeError(`the peer's first bytes are not a TLS handshake (${reason})`, { code: 'TRANSPORT_NOT_TLS', cause: error });
  return new HandshakeError(`TLS handshake failed: ${reason} (${code})`, { code: 'TRANSPORT_TLS_FAILED', cause: error });
}

function closedDuringHandshake(phase: Phase): HandshakeError {
  return phase === 'awaitConfirmation'
    ? new HandshakeError('the listener closed the connection instead of accepting this node (is this node\'s key in its membership?)')
    : new HandshakeError('connection closed during the handshake');
}
