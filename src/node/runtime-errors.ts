// runtime-errors.ts — expected operating errors of the node runtime, each with a stable code, and the
// runtime's assertion (a broken invariant of the ready loop: never caught, the node stops).
import { InvariantError, assertWith, type Assert } from '../assert.js';

import type { RuntimeErrorCode } from '../api/index.js';

export type { RuntimeErrorCode } from '../api/index.js';

/** RuntimeError is an expected failure of the runtime; `code` is stable. */
export class RuntimeError extends Error {
  readonly code: RuntimeErrorCode;
  constructor(code: RuntimeErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.name = 'RuntimeError';
  }

  /** indeterminate: the operation may or may not have taken effect (retry with the same envelope). */
  get indeterminate(): boolean {
    return this.code === 'RUNTIME_PROPOSAL_TIMEOUT' || this.code === 'RUNTIME_LEADER_CHANGED' || this.code === 'RUNTIME_STOPPED';
  }
}


/** RuntimeAssertionError: a broken invariant of the ready loop (see ready-invariants.ts). Never caught. */
export class RuntimeAssertionError extends InvariantError {
  constructor(message: string) {
    super('RUNTIME_ASSERTION_FAILED', `runtime: assertion failed: ${message}`);
  }
}

/** assert throws RuntimeAssertionError when `condition` is false (kept on in production). */
export const assert: Assert = assertWith((message) => new RuntimeAssertionError(message));
