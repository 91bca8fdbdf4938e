// errors.ts — the one catalogue of ways a signed command can be wrong, each with a stable code.

/**
 * CommandErrorCode names every way an envelope or its body can be rejected. Codes are stable: the
 * state machine records them in its rejection log (identically on every node) and the API returns them.
 */
export type CommandErrorCode =
  | 'too_large' // the envelope exceeds MAX_COMMAND_BYTES
  | 'malformed_envelope' // SignedCommand bytes are not valid protobuf, or fields are missing
  | 'malformed_body' // CommandBody bytes are not valid protobuf
  | 'non_canonical_body' // the body decodes but is not in canonical encoding (unknown or repeated fields)
  | 'unsafe_integer' // a 64-bit field exceeds 2^53 - 1
  | 'unknown_payload' // no payload, or a payload kind this version does not know
  | 'invalid_payload' // a payload field has the wrong shape (see path)
  | 'no_signatures' // the envelope carries no signature
  | 'too_many_signatures' // more than MAX_SIGNATURES signatures
  | 'bad_key_id' // a key id is not KEY_ID_BYTES long
  | 'bad_signature_length' // a signature is not SIGNATURE_BYTES long
  | 'duplicate_signature' // two signatures name the same key id (a key is never counted twice)
  | 'wrong_cluster' // the body names another cluster
  | 'bad_signer' // the signer field is neither "root" nor a hex key id
  | 'unknown_signer' // the signer is not a key this cluster knows
  | 'unexpected_key' // a signature is by a key that may not sign for this signer
  | 'bad_signature' // a signature does not verify over the body bytes
  | 'below_threshold' // fewer valid distinct signatures than the role's threshold
  | 'expired' // the entry time is later than the body's not_after_ms
  | 'lifetime_too_long' // not_after_ms is further than MAX_COMMAND_LIFETIME_MS after the entry time
  | 'duplicate' // this exact body was already applied
  | 'stale_sequence' // seq is not greater than the signer's last applied seq
  | 'role_not_allowed' // the signer's role may not issue this command
  | 'wrong_domain' // the command's domain is not one the signer administers, or has the wrong scope
  | 'rejected'; // the command is well-formed and authorized but the state forbids it (see reason)

/** CommandError is an expected failure of a command, with a stable code and the path of the bad field. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  /** code is the stable machine-readable reason. */
  readonly code: CommandErrorCode;
  /** path names the offending field, e.g. "body.put_device.tags[3]"; empty when not about one field. */
  readonly path: string;

  constructor(code: CommandErrorCode, message: string, path = '', options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.path = path;
  }
}

/** describeValue renders a found value for an error message: short, quoted, never huge. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (typeof value === 'string') return value.length > 48 ? `"${value.slice(0, 45)}..." (${value.length} chars)` : `"${value}"`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  return String(value);
}
