// runtime-snapshot.ts — the bytes of a Raft snapshot taken by the runtime.
//
// A snapshot holds the member directory (addresses and ever-used ids, which the core's ConfState
// does not carry), the last entry time (so a new leader never stamps an earlier time), and the
// application's own snapshot bytes.
// Format (version 1): u8 version | u32 BE length of header JSON | header JSON | application bytes.
import type { MemberDirectoryState } from './member-directory.js';
import { RuntimeError } from './runtime-errors.js';
import { newerFormatAdvice } from './format-version.js';

const VERSION = 1;

/** RuntimeSnapshot is the decoded content of a runtime snapshot. */
export interface RuntimeSnapshot {
  readonly members: MemberDirectoryState;
  readonly lastTimeMs: number;
  readonly application: Uint8Array;
}

/** encodeRuntimeSnapshot serializes a runtime snapshot. */
export function encodeRuntimeSnapshot(snapshot: RuntimeSnapshot): Uint8Array {
  const header = Buffer.from(JSON.stringify({ members: snapshot.members, lastTimeMs: snapshot.lastTimeMs }), 'utf8');
  const out = Buffer.allocUnsafe(5 + header.length + snapshot.application.length);
  out.writeUInt8(VERSION, 0);
  out.writeUInt32BE(header.length, 1);
  header.copy(out, 5);
  out.set(snapshot.application, 5 + header.length);
  return out;
}

/** decodeRuntimeSnapshot parses a runtime snapshot, throwing RuntimeError on malformed bytes. */
export function decodeRuntimeSnapshot(data: Uint8Array): RuntimeSnapshot {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length >= 5 && buf.readUInt8(0) > VERSION) {
    throw new RuntimeError('RUNTIME_SNAPSHOT_INVALID', `runtime snapshot: ${newerFormatAdvice('it', buf.readUInt8(0), VERSION)}`);
  }
  if (buf.length < 5 || buf.readUInt8(0) !== VERSION) {
    throw new RuntimeError('RUNTIME_SNAPSHOT_INVALID', `runtime snapshot: expected version ${VERSION} header, got ${buf.length} bytes`);
  }
  const headerLength = buf.readUInt32BE(1);
  if (5 + headerLength > buf.length) {
    throw new RuntimeError('RUNTIME_SNAPSHOT_INVALID', `runtime snapshot: header length ${headerLength} runs past ${buf.length} bytes`);
  }
  let header: { members: MemberDirectoryState; lastTimeMs: number };
  try {
    header = JSON.parse(buf.subarray(5, 5 + headerLength).toString('utf8')) as typeof header;
  } catch (error) {
    throw new RuntimeError('RUNTIME_SNAPSHOT_INVALID', `runtime snapshot: header is not JSON: ${(error as Error).message}`, error);
  }
  if (!Number.isSafeInteger(header.lastTimeMs) || typeof header.members !== 'object' || header.members === null) {
    throw new RuntimeError('RUNTIME_SNAPSHOT_INVALID', 'runtime snapshot: header lacks members or lastTimeMs');
  }
  return { members: header.members, lastTimeMs: header.lastTimeMs, application: new Uint8Array(buf.subarray(5 + headerLength)) };
}
