// errors.ts — the transport's named errors. Each has a stable `code`; messages say what was
// expected and what was received. Broken invariants use assert() and are never caught.

/** TransportError is the base of the transport's expected errors; `code` is stable across releases. */
export class TransportError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** CodecErrorCode names why bytes could not become a core object. */
export type CodecErrorCode =
  | 'CODEC_MALFORMED' // not a valid protobuf encoding of the expected message
  | 'CODEC_UNSAFE_INTEGER' // a 64-bit value above Number.MAX_SAFE_INTEGER
  | 'CODEC_INVALID_ENUM' // an enum number the core does not define
  | 'CODEC_MISSING_FIELD' // a required sub-message is absent
  | 'CODEC_INVALID_FIELD'; // a value the core would reject (wrong size, wrong combination)

/** CodecError: decoding refused bytes; `path` names the offending field (e.g. `Message.entries[3].term`). */
export class CodecError extends TransportError {
  readonly path: string;
  constructor(code: CodecErrorCode, path: string, detail: string, options?: { cause?: unknown }) {
    super(code, `codec: ${path}: ${detail}`, options);
    this.path = path;
  }
}

/** FrameTooLargeError: a length prefix announced more than maxFrameBytes. */
export class FrameTooLargeError extends TransportError {
  constructor(lengthBytes: number, maxFrameBytes: number) {
    super('TRANSPORT_FRAME_TOO_LARGE', `transport: frame of ${lengthBytes} bytes exceeds maxFrameBytes ${maxFrameBytes}`);
  }
}

/** HandshakeError: the peer failed to authenticate, or is not allowed to connect. */
export class HandshakeError extends TransportError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super('TRANSPORT_HANDSHAKE_FAILED', `transport: handshake failed: ${detail}`, options);
  }
}

/** NotMemberError: the peer authenticated, but its node id and key are not in the current membership. */
export class NotMemberError extends TransportError {
  constructor(nodeId: number, publicKeyHex: string) {
    super('TRANSPORT_NOT_MEMBER', `transport: node ${nodeId} with key ${publicKeyHex} is not a member of the cluster`);
  }
}

/** DecryptError: an encrypted frame failed authentication (tampered, replayed, reordered or truncated). */
export class DecryptError extends TransportError {
  constructor(counter: number) {
    super('TRANSPORT_DECRYPT_FAILED', `transport: frame ${counter} failed authentication (tampered, replayed or reordered)`);
  }
}

/** ProtocolError: an authenticated peer sent something the protocol forbids (bad snapshot stream, local message type, ...). */
export class ProtocolError extends TransportError {
  constructor(detail: string) {
    super('TRANSPORT_PROTOCOL', `transport: protocol violation: ${detail}`);
  }
}

/** TransportAssertionError: a broken invariant of the transport. Never caught. */
export class TransportAssertionError extends Error {
  readonly code = 'TRANSPORT_ASSERTION_FAILED';
  constructor(message: string) {
    super(`transport: assertion failed: ${message}`);
    this.name = 'TransportAssertionError';
  }
}

/** assert throws TransportAssertionError when `condition` is false (kept on in production). */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new TransportAssertionError(typeof message === 'string' ? message : message());
}
