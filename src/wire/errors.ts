// errors.ts — the wire module's named errors: bytes that could not become a core object, and the
// module's assertion (an encoder handed a value the core never produces).
import { InvariantError, assertWith, type Assert } from '../assert.js';

/** CodecErrorCode names why bytes could not become a core object. */
export type CodecErrorCode =
  | 'CODEC_MALFORMED' // not a valid protobuf encoding of the expected message
  | 'CODEC_UNSAFE_INTEGER' // a 64-bit value above Number.MAX_SAFE_INTEGER
  | 'CODEC_INVALID_ENUM' // an enum number the core does not define
  | 'CODEC_MISSING_FIELD' // a required sub-message is absent
  | 'CODEC_INVALID_FIELD'; // a value the core would reject (wrong size, wrong combination)

/** CodecError: decoding refused bytes; `path` names the offending field (e.g. `Message.entries[3].term`). */
export class CodecError extends Error {
  readonly code: CodecErrorCode;
  readonly path: string;
  constructor(code: CodecErrorCode, path: string, detail: string, options?: { cause?: unknown }) {
    super(`codec: ${path}: ${detail}`, options);
    this.code = code;
    this.path = path;
    this.name = 'CodecError';
  }
}

/** WireAssertionError: a broken invariant of an encoder (the caller handed a value the core never makes). Never caught. */
export class WireAssertionError extends InvariantError {
  constructor(message: string) {
    super('WIRE_ASSERTION_FAILED', `wire: assertion failed: ${message}`);
  }
}

/** assert throws WireAssertionError when `condition` is false (kept on in production). */
export const assert: Assert = assertWith((message) => new WireAssertionError(message));
