// log-envelope.ts — the runtime's wrapper around every Normal entry's data.
//
// The Raft core treats entry data as opaque bytes. The runtime wraps the application's payload
// with the two facts it needs around the core:
//  - `requestId`, so the node that proposed an entry learns its outcome when it applies it
//    (the proposal may have been forwarded to the leader and re-proposed there);
//  - `timeMs`, the entry's time, stamped by the leader that appends it (DESIGN.md promise 6:
//    apply never reads the local clock). A follower forwards an unstamped envelope (timeMs 0);
//    the leader stamps it before appending. An unstamped envelope is never appended.
//
// Wire format (version 1), big-endian:
//   u8 version = 1 | u64 timeMs | u16 requestId length | requestId (UTF-8) | payload (rest)
// Chosen over protobuf because it is fixed, tiny and parsed on every apply; it is validated
// as untrusted input (a forwarded proposal arrives from the network).

import { newerFormatAdvice } from './format-version.js';

/** LOG_ENVELOPE_VERSION is the only format version this code reads and writes. */
export const LOG_ENVELOPE_VERSION = 1;

/** MAX_REQUEST_ID_BYTES bounds the request id. */
export const MAX_REQUEST_ID_BYTES = 128;

const HEADER_BYTES = 1 + 8 + 2;

/** LogEnvelope is the decoded form of a Normal entry's data. */
export interface LogEnvelope {
  readonly requestId: string;
  /** timeMs: milliseconds since the Unix epoch, stamped by the leader; 0 = not yet stamped. */
  readonly timeMs: number;
  readonly payload: Uint8Array;
}

/** LogEnvelopeError says why bytes are not a valid envelope. */
export class LogEnvelopeError extends Error {
  readonly code = 'LOG_ENVELOPE_INVALID';
  constructor(detail: string) {
    super(`log envelope: ${detail}`);
    this.name = 'LogEnvelopeError';
  }
}

/** encodeLogEnvelope serializes an envelope. */
export function encodeLogEnvelope(envelope: LogEnvelope): Uint8Array {
  if (!Number.isSafeInteger(envelope.timeMs) || envelope.timeMs < 0) {
    throw new LogEnvelopeError(`timeMs must be a non-negative safe integer, got ${envelope.timeMs}`);
  }
  const id = Buffer.from(envelope.requestId, 'utf8');
  if (id.length > MAX_REQUEST_ID_BYTES) {
    throw new LogEnvelopeError(`requestId is ${id.length} bytes, at most ${MAX_REQUEST_ID_BYTES} allowed`);
  }
  const out = Buffer.allocUnsafe(HEADER_BYTES + id.length + envelope.payload.length);
  out.writeUInt8(LOG_ENVELOPE_VERSION, 0);
  out.writeBigUInt64BE(BigInt(envelope.timeMs), 1);
  out.writeUInt16BE(id.length, 9);
  id.copy(out, HEADER_BYTES);
  out.set(envelope.payload, HEADER_BYTES + id.length);
  return out;
}

/** decodeLogEnvelope parses and validates an envelope; it throws LogEnvelopeError on anything malformed. */
export function decodeLogEnvelope(data: Uint8Array): LogEnvelope {
  if (data.length < HEADER_BYTES) {
    throw new LogEnvelopeError(`expected at least ${HEADER_BYTES} bytes, got ${data.length}`);
  }
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const version = buf.readUInt8(0);
  if (version > LOG_ENVELOPE_VERSION) throw new LogEnvelopeError(newerFormatAdvice('the entry', version, LOG_ENVELOPE_VERSION));
  if (version !== LOG_ENVELOPE_VERSION) {
    throw new LogEnvelopeError(`expected version ${LOG_ENVELOPE_VERSION}, got ${version}`);
  }
  const time = buf.readBigUInt64BE(1);
  if (time > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new LogEnvelopeError(`timeMs ${time} exceeds the largest safe integer`);
  }
  const idLength = buf.readUInt16BE(9);
  if (idLength > MAX_REQUEST_ID_BYTES) {
    throw new LogEnvelopeError(`requestId length ${idLength} exceeds ${MAX_REQUEST_ID_BYTES}`);
  }
  if (HEADER_BYTES + idLength > buf.length) {
    throw new LogEnvelopeError(`requestId length ${idLength} runs past the end (${buf.length} bytes)`);
  }
  const requestId = buf.subarray(HEADER_BYTES, HEADER_BYTES + idLength).toString('utf8');
  const payload = new Uint8Array(buf.subarray(HEADER_BYTES + idLength));
  return { requestId, timeMs: Number(time), payload };
}
