// handshake.ts — the authenticated key exchange of proto/transport.proto, as two small state
// machines (Initiator, Responder) that turn received handshake frames into frames to send and,
// at the end, a pair of per-direction ChaCha20-Poly1305 keys. No I/O here: SecureConnection
// drives them over a socket.
//
// The design is a SIGMA-style exchange: fresh X25519 ephemeral keys per connection give forward
// secrecy; each side signs the transcript hash (both hellos exactly as received: both ephemeral
// keys, both identities, both node ids, the cluster id) with its Ed25519 node key under a
// role-specific label, so a signature cannot be replayed into another connection or reflected
// back; HKDF-SHA256 over the X25519 secret, salted with the transcript hash, yields one key per
// direction. The responder's first encrypted frame confirms the keys and that it accepted the
// initiator.
import { createHash, diffieHellman, generateKeyPairSync, hkdfSync, sign, timingSafeEqual, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type protobuf from 'protobufjs';
import { decodeProto, readBytes, readUint32, readUint64 } from './codec.js';
import { ED25519_PUBLIC_KEY_BYTES, PROTOCOL_VERSION, X25519_PUBLIC_KEY_BYTES } from './constants.js';
import { HandshakeError, NotMemberError, assert } from './errors.js';
import type { NodeIdentity } from './keys.js';
import { ed25519PublicKey, hex, rawPublicKey, x25519PublicKey } from './keys.js';
import { protoType } from './proto.js';

const TRANSCRIPT_LABEL = Buffer.from('quorumgate/transport/v1');
const INITIATOR_SIGNATURE_LABEL = Buffer.from('quorumgate/transport/v1 initiator');
const RESPONDER_SIGNATURE_LABEL = Buffer.from('quorumgate/transport/v1 responder');
const INITIATOR_TO_RESPONDER_LABEL = Buffer.from('quorumgate/transport/v1 key initiator->responder ');
const RESPONDER_TO_INITIATOR_LABEL = Buffer.from('quorumgate/transport/v1 key responder->initiator ');
const KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;

/** MembershipCheck says whether `nodeId` with raw Ed25519 `publicKey` is a current member (asked at every handshake). */
export type MembershipCheck = (nodeId: number, publicKey: Uint8Array) => boolean;

/** SessionKeys are the per-direction AEAD keys of one connection. */
export interface SessionKeys {
  readonly sendKey: Buffer;
  readonly receiveKey: Buffer;
}

/** AuthenticatedPeer is the far end of a connection once the handshake has proven its identity. */
export interface AuthenticatedPeer {
  readonly nodeId: number;
  readonly publicKey: Uint8Array;
}

/** HandshakeResult is what a finished handshake yields. */
export interface HandshakeResult {
  readonly peer: AuthenticatedPeer;
  readonly keys: SessionKeys;
}

let messageTypes: { clientHello: protobuf.Type; serverHelloBody: protobuf.Type; serverHello: protobuf.Type; clientAuth: protobuf.Type } | undefined;
function types(): NonNullable<typeof messageTypes> {
  messageTypes ??= {
    clientHello: protoType('quorumgate.transport.ClientHello'),
    serverHelloBody: protoType('quorumgate.transport.ServerHelloBody'),
    serverHello: protoType('quorumgate.transport.ServerHello'),
    clientAuth: protoType('quorumgate.transport.ClientAuth'),
  };
  return messageTypes;
}

function u32(length: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(length, 0);
  return out;
}

function transcriptHash(clientHello: Uint8Array, serverHelloBody: Uint8Array): Buffer {
  return createHash('sha256')
    .update(TRANSCRIPT_LABEL)
    .update(u32(clientHello.length)).update(clientHello)
    .update(u32(serverHelloBody.length)).update(serverHelloBody)
    .digest();
}

function sharedSecret(ephemeralPrivate: KeyObject, peerEphemeral: Uint8Array): Buffer {
  let secret: Buffer;
  try {
    secret = diffieHellman({ privateKey: ephemeralPrivate, publicKey: x25519PublicKey(peerEphemeral) });
  } catch (error) {
    throw new HandshakeError('the peer\'s ephemeral key is not a valid X25519 key', { cause: error });
  }
  // A low-order peer key yields the all-zero secret (RFC 7748 section 6.1): refuse it.
  if (secret.every((byte) => byte === 0)) throw new HandshakeError('the peer\'s ephemeral key is a low-order point');
  return secret;
}

function deriveKeys(secret: Buffer, transcript: Buffer, clusterId: Uint8Array, role: 'initiator' | 'responder'): SessionKeys {
  const initiatorToResponder = Buffer.from(hkdfSync('sha256', secret, transcript, Buffer.concat([INITIATOR_TO_RESPONDER_LABEL, clusterId]), KEY_BYTES));
  const responderToInitiator = Buffer.from(hkdfSync('sha256', secret, transcript, Buffer.concat([RESPONDER_TO_INITIATOR_LABEL, clusterId]), KEY_BYTES));
  return role === 'initiator'
    ? { sendKey: initiatorToResponder, receiveKey: responderToInitiator }
    : { sendKey: responderToInitiator, receiveKey: initiatorToResponder };
}

function verifySignature(publicKey: Uint8Array, label: Buffer, transcript: Buffer, signature: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_BYTES) return false;
  try {
    return verify(null, Buffer.concat([label, transcript]), ed25519PublicKey(publicKey), signature);
  } catch {
    // A key that is not a valid Ed25519 point cannot have made a valid signature.
    return false;
  }
}

function checkKeyLength(key: Uint8Array, expected: number, what: string): void {
  if (key.length !== expected) throw new HandshakeError(`${what} must be ${expected} bytes, got ${key.length}`);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function newEphemeral(): { privateKey: KeyObject; publicKey: Uint8Array } {
  const pair = generateKeyPairSync('x25519');
  return { privateKey: pair.privateKey, publicKey: rawPublicKey(pair.publicKey) };
}

/** Initiator runs the dialing side: clientHello(), then onServerHello() returns ClientAuth and the keys. */
export class Initiator {
  private readonly ephemeral = newEphemeral();
  private clientHelloBytes: Uint8Array | undefined;

  constructor(
    private readonly identity: NodeIdentity,
    private readonly clusterId: Uint8Array,
    /** expected: the node this connection is meant to reach and the key it must prove (from the peer list). */
    private readonly expected: AuthenticatedPeer,
    private readonly isMember: MembershipCheck,
  ) {}

  /** clientHello returns the first frame's body. */
  clientHello(): Uint8Array {
    assert(this.clientHelloBytes === undefined, 'clientHello called twice');
    this.clientHelloBytes = types().clientHello.encode({
      protocolVersion: PROTOCOL_VERSION,
      clusterId: this.clusterId,
      nodeId: this.identity.nodeId,
      identityPublicKey: this.identity.publicKey,
      ephemeralPublicKey: this.ephemeral.publicKey,
      responderNodeId: this.expected.nodeId,
    }).finish();
    return this.clientHelloBytes;
  }

  /** onServerHello authenticates the responder and returns the ClientAuth body and the session keys. */
  onServerHello(bytes: Uint8Array): { clientAuth: Uint8Array; result: HandshakeResult } {
    assert(this.clientHelloBytes !== undefined, 'onServerHello before clientHello');
    const hello = decodeProto(types().serverHello, bytes, 'ServerHello');
    const bodyBytes = readBytes(hello.body, 'ServerHello.body');
    const signature = readBytes(hello.signature, 'ServerHello.signature');
    const body = decodeProto(types().serverHelloBody, bodyBytes, 'ServerHelloBody');
    const version = readUint32(body.protocolVersion, 'ServerHelloBody.protocolVersion');
    if (version !== PROTOCOL_VERSION) throw new HandshakeError(`protocol version ${version}, expected ${PROTOCOL_VERSION}`);
    const nodeId = readUint64(body.nodeId, 'ServerHelloBody.nodeId');
    const identityKey = readBytes(body.identityPublicKey, 'ServerHelloBody.identityPublicKey');
    const ephemeralKey = readBytes(body.ephemeralPublicKey, 'ServerHelloBody.ephemeralPublicKey');
    checkKeyLength(identityKey, ED25519_PUBLIC_KEY_BYTES, 'ServerHelloBody.identityPublicKey');
    checkKeyLength(ephemeralKey, X25519_PUBLIC_KEY_BYTES, 'ServerHelloBody.ephemeralPublicKey');
    if (nodeId !== this.expected.nodeId) throw new HandshakeError(`dialed node ${this.expected.nodeId}, but node ${nodeId} answered`);
    if (!sameBytes(identityKey, this.expected.publicKey)) {
      throw new HandshakeError(`node ${nodeId} presented key ${hex(identityKey)}, expected ${hex(this.expected.publicKey)}`);
    }
    const transcript = transcriptHash(this.clientHelloBytes, bodyBytes);
    if (!verifySignature(identityKey, RESPONDER_SIGNATURE_LABEL, transcript, signature)) {
      throw new HandshakeError(`node ${nodeId}'s signature over the handshake transcript is invalid`);
    }
    if (!this.isMember(nodeId, identityKey)) throw new NotMemberError(nodeId, hex(identityKey));
    const keys = deriveKeys(sharedSecret(this.ephemeral.privateKey, ephemeralKey), transcript, this.clusterId, 'initiator');
    const authSignature = sign(null, Buffer.concat([INITIATOR_SIGNATURE_LABEL, transcript]), this.identity.privateKey);
    const clientAuth = types().clientAuth.encode({ signature: authSignature }).finish();
    return { clientAuth, result: { peer: { nodeId, publicKey: identityKey }, keys } };
  }
}

/** Responder runs the listening side: onClientHello() returns ServerHello, onClientAuth() the keys. */
export class Responder {
  private readonly ephemeral = newEphemeral();
  private state: { claimed: AuthenticatedPeer; transcript: Buffer; peerEphemeral: Uint8Array } | undefined;

  constructor(
    private readonly identity: NodeIdentity,
    private readonly clusterId: Uint8Array,
    private readonly isMember: MembershipCheck,
  ) {}

  /** claimedPeer is the node id the initiator claims (not yet proven), for logs. */
  get claimedPeer(): AuthenticatedPeer | undefined {
    return this.state?.claimed;
  }

  /** onClientHello checks the hello and returns the ServerHello body. */
  onClientHello(bytes: Uint8Array): Uint8Array {
    assert(this.state === undefined, 'onClientHello called twice');
    const hello = decodeProto(types().clientHello, bytes, 'ClientHello');
    const version = readUint32(hello.protocolVersion, 'ClientHello.protocolVersion');
    if (version !== PROTOCOL_VERSION) throw new HandshakeError(`protocol version ${version}, expected ${PROTOCOL_VERSION}`);
    const clusterId = readBytes(hello.clusterId, 'ClientHello.clusterId');
    if (!sameBytes(clusterId, this.clusterId)) {
      throw new HandshakeError(`cluster id ${hex(clusterId)} is not this cluster's ${hex(this.clusterId)}`);
    }
    const nodeId = readUint64(hello.nodeId, 'ClientHello.nodeId');
    const responderNodeId = readUint64(hello.responderNodeId, 'ClientHello.responderNodeId');
    if (responderNodeId !== this.identity.nodeId) {
      throw new HandshakeError(`the initiator meant to reach node ${responderNodeId}, this is node ${this.identity.nodeId}`);
    }
    if (nodeId === 0 || nodeId === this.identity.nodeId) throw new HandshakeError(`initiator node id ${nodeId} is invalid here`);
    const identityKey = readBytes(hello.identityPublicKey, 'ClientHello.identityPublicKey');
    const ephemeralKey = readBytes(hello.ephemeralPublicKey, 'ClientHello.ephemeralPublicKey');
    checkKeyLength(identityKey, ED25519_PUBLIC_KEY_BYTES, 'ClientHello.identityPublicKey');
    checkKeyLength(ephemeralKey, X25519_PUBLIC_KEY_BYTES, 'ClientHello.ephemeralPublicKey');
    // Refuse a claimed identity that is not a member before spending a key exchange and a
    // signature on it (checked again once the claim is proven, in onClientAuth).
    if (!this.isMember(nodeId, identityKey)) throw new NotMemberError(nodeId, hex(identityKey));
    const body = types().serverHelloBody.encode({
      protocolVersion: PROTOCOL_VERSION,
      nodeId: this.identity.nodeId,
      identityPublicKey: this.identity.publicKey,
      ephemeralPublicKey: this.ephemeral.publicKey,
    }).finish();
    const transcript = transcriptHash(bytes, body);
    this.state = { claimed: { nodeId, publicKey: identityKey }, transcript, peerEphemeral: ephemeralKey };
    const signature = sign(null, Buffer.concat([RESPONDER_SIGNATURE_LABEL, transcript]), this.identity.privateKey);
    return types().serverHello.encode({ body, signature }).finish();
  }

  /** onClientAuth verifies the initiator's proof of identity and membership; returns the session keys. */
  onClientAuth(bytes: Uint8Array): HandshakeResult {
    assert(this.state !== undefined, 'onClientAuth before onClientHello');
    const { claimed, transcript, peerEphemeral } = this.state;
    const auth = decodeProto(types().clientAuth, bytes, 'ClientAuth');
    const signature = readBytes(auth.signature, 'ClientAuth.signature');
    if (!verifySignature(claimed.publicKey, INITIATOR_SIGNATURE_LABEL, transcript, signature)) {
      throw new HandshakeError(`node ${claimed.nodeId}'s signature over the handshake transcript is invalid`);
    }
    if (!this.isMember(claimed.nodeId, claimed.publicKey)) throw new NotMemberError(claimed.nodeId, hex(claimed.publicKey));
    const keys = deriveKeys(sharedSecret(this.ephemeral.privateKey, peerEphemeral), transcript, this.clusterId, 'responder');
    return { peer: claimed, keys };
  }
}
