// errors.ts — the transport's named errors. Each has a stable `code`; messages say what was
// expected and what was received. Broken invariants use assert() and are never caught.
import { InvariantError, assertWith, type Assert } from '../assert.js';

/** TransportError is the base of the transport's expected errors; `code` is stable across releases. */
export class TransportError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** CodecError and CodecErrorCode live in src/wire, with the codecs that throw them. */
export { CodecError, type CodecErrorCode } from '../wire/errors.js';

/** FrameTooLargeError: a length prefix announced more than maxFrameBytes. */
export class FrameTooLargeError extends TransportError {
  constructor(lengthBytes: number, maxFrameBytes: number) {
    super('TRANSPORT_FRAME_TOO_LARGE', `transport: frame of ${lengthBytes} bytes exceeds maxFrameBytes ${maxFrameBytes}`);
  }
}

/**
 * HandshakeErrorCode names why a connection failed before both sides were authenticated: a TLS
 * failure (not TLS at all, not TLS 1.3, another cluster, a record that failed authentication) or a
 * peer certificate that does not identify a member.
 */
export type HandshakeErrorCode =
  | 'TRANSPORT_HANDSHAKE_FAILED' // any other failure before authentication (timeout, close, misrouted dial)
  | 'TRANSPORT_NOT_TLS' // the first bytes are not a TLS handshake
  | 'TRANSPORT_TLS_VERSION' // the peer does not offer TLS 1.3
  | 'TRANSPORT_WRONG_CLUSTER' // the peer's ALPN names another cluster or protocol version, or none
  | 'TRANSPORT_TLS_FAILED' // the TLS handshake failed for another reason (OpenSSL's reason is in the message)
  | 'TRANSPORT_NO_CERTIFICATE' // the peer presented no certificate
  | 'TRANSPORT_CERTIFICATE_KEY' // the peer certificate's key is not an Ed25519 node key
  | 'TRANSPORT_CERTIFICATE_SUBJECT' // the peer certificate does not name a node
  | 'TRANSPORT_WRONG_KEY'; // the dialed node presented another key than the peer list names

/** HandshakeError: the peer failed to authenticate, or is not allowed to connect. */
export class HandshakeError extends TransportError {
  constructor(detail: string, options?: { cause?: unknown; code?: HandshakeErrorCode }) {
    super(options?.code ?? 'TRANSPORT_HANDSHAKE_FAILED', `transport: handshake failed: ${detail}`, options);
  }
}

/** NotMemberError: the peer authenticated, but its node id and key are not in the current membership. */
export class NotMemberError extends TransportError {
  constructor(nodeId: number, publicKeyHex: string) {
    super('TRANSPORT_NOT_MEMBER', `transport: node ${nodeId} with key ${publicKeyHex} is not a member of the cluster`);
  }
}

/** DecryptError: a TLS record failed authentication (tampered, replayed, reordered or truncated). */
export class DecryptError extends TransportError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super('TRANSPORT_DECRYPT_FAILED', `transport: a TLS record failed authentication (tampered, replayed or reordered): ${reason}`, options);
  }
}

/** ProtocolError: an authenticated peer sent something the protocol forbids (bad snapshot stream, local message type, ...). */
export class ProtocolError extends TransportError {
  constructor(detail: string) {
    super('TRANSPORT_PROTOCOL', `transport: protocol violation: ${detail}`);
  }
}

/** TransportAssertionError: a broken invariant of the transport. Never caught. */
export class TransportAssertionError extends InvariantError {
  constructor(message: string) {
    super('TRANSPORT_ASSERTION_FAILED', `transport: assertion failed: ${message}`);
  }
}

/** assert throws TransportAssertionError when `condition` is false (kept on in production). */
export const assert: Assert = assertWith((message) => new TransportAssertionError(message));
