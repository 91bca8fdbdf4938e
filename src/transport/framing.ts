// framing.ts — length-prefixed frames inside the TLS stream: a 4-byte big-endian length, then that
// many bytes (a protobuf Frame of proto/transport.proto). FrameDecoder refuses a frame as soon as its length prefix exceeds the limit, before buffering
// its body, so a hostile peer cannot make the node allocate more than maxFrameBytes.
import { FRAME_HEADER_BYTES } from './constants.js';
import { FrameTooLargeError, assert } from './errors.js';

/** frameHeader returns the 4-byte length prefix for a body of `lengthBytes`. */
export function frameHeader(lengthBytes: number): Buffer {
  assert(Number.isInteger(lengthBytes) && lengthBytes >= 0 && lengthBytes <= 0xffff_ffff, () => `frame length ${lengthBytes} out of range`);
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32BE(lengthBytes, 0);
  return header;
}

/** FrameDecoder splits a byte stream into frames of at most `maxFrameBytes` (changeable, e.g. once the handshake is confirmed). */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private maxFrameBytes: number;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** setMaxFrameBytes changes the limit for the frames not yet returned. */
  setMaxFrameBytes(maxFrameBytes: number): void {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** bufferedBytes is how much is held waiting for the rest of a frame (at most maxFrameBytes + 4). */
  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  /**
   * next returns the next complete frame's body, or undefined if more bytes are needed; throws
   * FrameTooLargeError when a length prefix exceeds the limit. Call push() with new bytes first.
   */
  next(): Buffer | undefined {
    if (this.bufferedBytes < FRAME_HEADER_BYTES) return undefined;
    const head = this.peek(FRAME_HEADER_BYTES);
    const length = head.readUInt32BE(0);
    if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes);
    if (this.bufferedBytes < FRAME_HEADER_BYTES + length) return undefined;
    return this.take(FRAME_HEADER_BYTES + length).subarray(FRAME_HEADER_BYTES);
  }

  /** push appends received bytes. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
  }

  private peek(bytes: number): Buffer {
    if (this.chunks[0]!.length >= bytes) return this.chunks[0]!;
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private take(bytes: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= bytes) {
      out = first.subarray(0, bytes);
      if (first.length === bytes) this.chunks.shift();
      else this.chunks[0] = first.subarray(bytes);
    } else {
      const all = Buffer.concat(this.chunks);
      out = all.subarray(0, bytes);
      this.chunks = all.length > bytes ? [all.subarray(bytes)] : [];
    }
    this.bufferedBytes -= bytes;
    return out;
  }
}
