// json-body.ts — bounds the shape of a JSON body while it arrives, before JSON.parse sees it.
//
// JSON.parse is synchronous and its cost grows with the number of values and escapes, not only
// with bytes: a 2 MB body of nested brackets held the event loop for about a second (issue 15),
// long enough to move leadership, and a 2 MB flat array costs as much. Every body this API accepts
// is small in values (at most a few hundred envelopes, each one base64 string), so the scanner
// below refuses a body nested deeper than maxDepth, with more than maxValues values or more than
// maxEscapes backslashes, chunk by chunk as it arrives: a hostile body is refused at its first
// chunk over a bound (the rest is never buffered), and no chunk costs more than a pass over 64 KiB.
// Scanning bytes is safe for UTF-8: every byte of a multi-byte character is >= 0x80, so none is
// taken for a quote, a bracket or a backslash.
import type { Readable } from 'node:stream';

/** JsonBodyLimits bounds the shape of a JSON body. */
export interface JsonBodyLimits {
  /** maxDepth: the deepest nesting of arrays and objects. */
  readonly maxDepth: number;
  /** maxValues: how many containers and separators (array items, object members) a body may hold. */
  readonly maxValues: number;
  /** maxEscapes: how many backslashes (string escapes) a body may hold. */
  readonly maxEscapes: number;
}

/** DEFAULT_JSON_BODY_LIMITS are the API's bounds: far above any route's schema, far below a stall. */
export const DEFAULT_JSON_BODY_LIMITS: JsonBodyLimits = { maxDepth: 32, maxValues: 4096, maxEscapes: 16_384 };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const COMMA = 0x2c;

/**
 * JsonShapeScanner follows a JSON text chunk by chunk and reports the first bound it crosses. It
 * does not validate JSON (JSON.parse does, afterwards, on a body now known to be cheap to parse).
 */
export class JsonShapeScanner {
  private depth = 0;
  private values = 0;
  private escapes = 0;
  private inString = false;
  /** escaping: the previous byte was a backslash inside a string (the next byte is escaped). */
  private escaping = false;
  private offset = 0;

  constructor(private readonly limits: JsonBodyLimits = DEFAULT_JSON_BODY_LIMITS) {}

  /** push scans the next chunk; returns a message (what, where, expected, got) at the first bound crossed. */
  push(chunk: Uint8Array): string | undefined {
    const bytes = chunk;
    let at = 0;
    // Bounded: every pass moves `at` forward by at least one byte.
    while (at < bytes.length) {
      if (this.inString) {
        at = this.skipString(bytes, at);
        if (this.escapes > this.limits.maxEscapes) return this.problem(`at most ${this.limits.maxEscapes} backslash escapes`, at);
        continue;
      }
      const c = bytes[at]!;
      at += 1;
      if (c === QUOTE) {
        this.inString = true;
      } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
        this.depth += 1;
        this.values += 1;
        if (this.depth > this.limits.maxDepth) return this.problem(`JSON nested at most ${this.limits.maxDepth} deep`, at);
      } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
        this.depth -= 1;
      } else if (c === COMMA) {
        this.values += 1;
      }
      if (this.values > this.limits.maxValues) return this.problem(`at most ${this.limits.maxValues} JSON values`, at);
    }
    this.offset += bytes.length;
    return undefined;
  }

  /** skipString moves through a string from `at` to just past its closing quote, or to the chunk's end. */
  private skipString(bytes: Uint8Array, at: number): number {
    let i = at;
    if (this.escaping) {
      this.escaping = false;
      i += 1;
    }
    for (; i < bytes.length; i++) {
      const c = bytes[i];
      if (c === BACKSLASH) {
        this.escapes += 1;
        if (this.escapes > this.limits.maxEscapes) return i + 1;
        if (i + 1 === bytes.length) {
          this.escaping = true;
          return bytes.length;
        }
        i += 1;
      } else if (c === QUOTE) {
        this.inString = false;
        return i + 1;
      }
    }
    return bytes.length;
  }

  private problem(expected: string, at: number): string {
    return `body: expected ${expected}, got more (at byte ${this.offset + at})`;
  }
}

/** jsonShapeProblem scans a whole JSON text at once (see JsonShapeScanner); undefined when within `limits`. */
export function jsonShapeProblem(text: string, limits: JsonBodyLimits = DEFAULT_JSON_BODY_LIMITS): string | undefined {
  return new JsonShapeScanner(limits).push(Buffer.from(text, 'utf8'));
}

/** JsonBodyRefusal is why readJsonBody refused a body: too large (413) or of a costly shape (400). */
export interface JsonBodyRefusal {
  readonly kind: 'too-large' | 'shape' | 'length-mismatch' | 'stream';
  readonly message: string;
}

/**
 * readJsonBody reads a request body of at most `maxBytes`, scanning each chunk as it arrives, and
 * calls `done` once: with the body as text, or with the refusal at the first bound crossed (the
 * rest of the body is then neither buffered nor scanned). `declaredBytes` is the content-length
 * header, if any: a body over the limit is refused before a byte is read.
 */
export function readJsonBody(payload: Readable, declaredBytes: number | undefined, maxBytes: number,
  done: (refusal: JsonBodyRefusal | undefined, text: string | undefined) => void, limits: JsonBodyLimits = DEFAULT_JSON_BODY_LIMITS): void {
  if (declaredBytes !== undefined && declaredBytes > maxBytes) {
    done({ kind: 'too-large', message: `body: expected at most ${maxBytes} bytes, got a content-length of ${declaredBytes}` }, undefined);
    return;
  }
  const scanner = new JsonShapeScanner(limits);
  const chunks: Buffer[] = [];
  let receivedBytes = 0;
  const finish = (refusal: JsonBodyRefusal | undefined, text: string | undefined): void => {
    payload.off('data', onData);
    payload.off('end', onEnd);
    payload.off('error', onError);
    done(refusal, text);
  };
  function onData(chunk: Buffer | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    receivedBytes += bytes.length;
    if (receivedBytes > maxBytes) {
      finish({ kind: 'too-large', message: `body: expected at most ${maxBytes} bytes, got more` }, undefined);
      return;
    }
    const problem = scanner.push(bytes);
    if (problem !== undefined) {
      finish({ kind: 'shape', message: problem }, undefined);
      return;
    }
    chunks.push(bytes);
  }
  function onEnd(): void {
    if (declaredBytes !== undefined && receivedBytes !== declaredBytes) {
      finish({ kind: 'length-mismatch', message: `body: expected ${declaredBytes} bytes (content-length), got ${receivedBytes}` }, undefined);
      return;
    }
    finish(undefined, Buffer.concat(chunks, receivedBytes).toString('utf8'));
  }
  function onError(error: Error): void {
    finish({ kind: 'stream', message: `body: the request stream failed (${error.message})` }, undefined);
  }
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onError);
  payload.resume();
}
