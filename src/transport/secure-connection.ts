// secure-connection.ts — one TCP connection between two nodes: the handshake of handshake.ts,
// then ChaCha20-Poly1305 frames with implicit counter nonces (proto/transport.proto).
//
// Every failure closes the connection and is reported once through onClose(error): a frame
// above the limit, a frame that fails authentication (tampered, replayed, reordered), a failed
// handshake, a refused non-member, a timeout. Nothing a peer sends can throw out of here except
// a broken invariant of our own (assert), which must crash.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { Socket } from 'node:net';
import { AEAD_TAG_BYTES, FRAME_HEADER_BYTES, HANDSHAKE_MAX_FRAME_BYTES } from './constants.js';
import { DecryptError, HandshakeError, ProtocolError, TransportError, assert } from './errors.js';
import type { Frame } from './framing.js';
import { FrameDecoder, frameHeader } from './framing.js';
import type { AuthenticatedPeer, HandshakeResult, MembershipCheck } from './handshake.js';
import { Initiator, Responder } from './handshake.js';
import type { NodeIdentity } from './keys.js';

const NONCE_BYTES = 12;
/** MAX_FRAME_COUNTER: a connection is closed long before its nonce counter could wrap. */
const MAX_FRAME_COUNTER = Number.MAX_SAFE_INTEGER;

/** CipherState seals or opens the frames of one direction; its counter is the nonce. */
export class CipherState {
  private counter = 0;
  constructor(private readonly key: Buffer) {
    assert(key.length === 32, 'ChaCha20-Poly1305 key must be 32 bytes');
  }

  private nonce(): Buffer {
    assert(this.counter < MAX_FRAME_COUNTER, 'frame counter exhausted');
    const nonce = Buffer.alloc(NONCE_BYTES);
    nonce.writeBigUInt64BE(BigInt(this.counter), 4);
    return nonce;
  }

  /** seal returns a whole frame (length prefix, ciphertext, tag) for `plaintext`; the prefix is the AAD. */
  seal(plaintext: Uint8Array): Buffer {
    const header = frameHeader(plaintext.length + AEAD_TAG_BYTES);
    const cipher = createCipheriv('chacha20-poly1305', this.key, this.nonce(), { authTagLength: AEAD_TAG_BYTES });
    cipher.setAAD(header, { plaintextLength: plaintext.length });
    const body = cipher.update(plaintext);
    cipher.final();
    this.counter++;
    return Buffer.concat([header, body, cipher.getAuthTag()]);
  }

  /** open authenticates and decrypts a received frame; throws DecryptError. */
  open(frame: Frame): Buffer {
    if (frame.body.length < AEAD_TAG_BYTES) throw new DecryptError(this.counter);
    const ciphertext = frame.body.subarray(0, frame.body.length - AEAD_TAG_BYTES);
    const decipher = createDecipheriv('chacha20-poly1305', this.key, this.nonce(), { authTagLength: AEAD_TAG_BYTES });
    decipher.setAuthTag(frame.body.subarray(frame.body.length - AEAD_TAG_BYTES));
    decipher.setAAD(frame.header, { plaintextLength: ciphertext.length });
    const plaintext = decipher.update(ciphertext);
    try {
      decipher.final();
    } catch {
      // OpenSSL reports only "unable to authenticate data"; the counter says which frame failed.
      throw new DecryptError(this.counter);
    }
    this.counter++;
    return plaintext;
  }
}

/** SecureConnectionInit configures one connection. */
export interface SecureConnectionInit {
  readonly role: 'initiator' | 'responder';
  readonly identity: NodeIdentity;
  readonly clusterId: Uint8Array;
  readonly isMember: MembershipCheck;
  /** expectedPeer: for an initiator, the node it dials and the key that node must prove. */
  readonly expectedPeer?: AuthenticatedPeer;
  readonly maxFrameBytes: number;
  readonly handshakeTimeoutMs: number;
  /** onEstablished: both sides are authenticated and the keys confirmed. */
  readonly onEstablished: (connection: SecureConnection) => void;
  /** onFrame: one decrypted frame (never called for the initiator's key-confirmation frame). */
  readonly onFrame: (connection: SecureConnection, plaintext: Buffer) => void;
  /** onClose: called exactly once; `error` says why (undefined for an orderly close by either side). */
  readonly onClose: (connection: SecureConnection, error: Error | undefined) => void;
}

type Phase = 'awaitClientHello' | 'awaitServerHello' | 'awaitClientAuth' | 'awaitConfirmation' | 'established' | 'closed';

/** SecureConnection wraps a connected socket; it starts the handshake at once. */
export class SecureConnection {
  private phase: Phase;
  private readonly decoder = new FrameDecoder(HANDSHAKE_MAX_FRAME_BYTES);
  private sender: CipherState | undefined;
  private receiver: CipherState | undefined;
  private initiator: Initiator | undefined;
  private responder: Responder | undefined;
  private authenticated: AuthenticatedPeer | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;

  constructor(readonly socket: Socket, private readonly init: SecureConnectionInit) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.close(new TransportError('TRANSPORT_SOCKET', `transport: socket error: ${error.message}`, { cause: error })));
    socket.on('close', () => this.close(this.phase === 'established' ? undefined : new HandshakeError('connection closed during the handshake')));
    this.handshakeTimer = setTimeout(
      () => this.close(new HandshakeError(`not authenticated within ${init.handshakeTimeoutMs} ms`)), init.handshakeTimeoutMs);
    if (init.role === 'initiator') {
      assert(init.expectedPeer !== undefined, 'an initiator needs expectedPeer');
      this.initiator = new Initiator(init.identity, init.clusterId, init.expectedPeer, init.isMember);
      this.phase = 'awaitServerHello';
      this.writeRaw(this.initiator.clientHello());
    } else {
      this.responder = new Responder(init.identity, init.clusterId, init.isMember);
      this.phase = 'awaitClientHello';
    }
  }

  /** peer is the authenticated far end (undefined until the handshake proves it). */
  get peer(): AuthenticatedPeer | undefined {
    return this.authenticated;
  }

  /** claimedPeer is who the far end says it is, for logs about a failed handshake. */
  get claimedPeer(): AuthenticatedPeer | undefined {
    return this.authenticated ?? this.responder?.claimedPeer ?? this.init.expectedPeer;
  }

  get isEstablished(): boolean {
    return this.phase === 'established';
  }

  get isClosed(): boolean {
    return this.phase === 'closed';
  }

  /** send encrypts and writes one frame; returns false when the socket's buffer is full (wait for 'drain'). */
  send(plaintext: Uint8Array): boolean {
    assert(this.phase === 'established' && this.sender !== undefined, () => `send in phase ${this.phase}`);
    return this.socket.write(this.sender.seal(plaintext));
  }

  /** close ends the connection (idempotent) and reports `error` through onClose. */
  close(error?: Error): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.socket.destroy();
    this.init.onClose(this, error);
  }

  private writeRaw(body: Uint8Array): void {
    this.socket.write(Buffer.concat([frameHeader(body.length), body]));
  }

  private onData(chunk: Buffer): void {
    if (this.phase === 'closed') return;
    this.decoder.push(chunk);
    try {
      // Bounded: each pass consumes one whole frame of the finite buffered input.
      for (let frame = this.decoder.next(); frame !== undefined; frame = this.isClosed ? undefined : this.decoder.next()) {
        this.onFrame(frame);
      }
    } catch (error) {
      if (error instanceof TransportError) this.close(error);
      else throw error;
    }
  }

  private onFrame(frame: Frame): void {
    switch (this.phase) {
      case 'awaitClientHello': {
        this.writeRaw(this.responder!.onClientHello(frame.body));
        this.phase = 'awaitClientAuth';
        break;
      }
      case 'awaitServerHello': {
        const { clientAuth, result } = this.initiator!.onServerHello(frame.body);
        this.writeRaw(clientAuth);
        this.useKeys(result);
        this.phase = 'awaitConfirmation';
        break;
      }
      case 'awaitClientAuth': {
        this.useKeys(this.responder!.onClientAuth(frame.body));
        this.establish();
        // Key confirmation and acceptance: the first encrypted frame, an empty Frame message.
        this.send(new Uint8Array(0));
        break;
      }
      case 'awaitConfirmation': {
        const plaintext = this.receiver!.open(frame);
        if (plaintext.length !== 0) throw new ProtocolError('the responder\'s first encrypted frame must be the empty confirmation');
        this.establish();
        break;
      }
      case 'established':
        this.init.onFrame(this, this.receiver!.open(frame));
        break;
      case 'closed':
        break;
    }
  }

  private useKeys(result: HandshakeResult): void {
    this.authenticated = result.peer;
    this.sender = new CipherState(result.keys.sendKey);
    this.receiver = new CipherState(result.keys.receiveKey);
    this.decoder.setMaxFrameBytes(this.init.maxFrameBytes);
  }

  private establish(): void {
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.phase = 'established';
    this.init.onEstablished(this);
  }
}

/** FRAME_OVERHEAD_BYTES is what encryption adds to a plaintext frame (length prefix and tag). */
export const FRAME_OVERHEAD_BYTES = FRAME_HEADER_BYTES + AEAD_TAG_BYTES;
