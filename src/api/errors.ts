// errors.ts — the API's one catalogue of errors: a stable code, an HTTP status, a message that
// says what was expected and what was received. Unknown errors are logged and answered as a bare
// 500, never leaked (STYLE.md, after Fastify).
import { RUNTIME_ERROR_ANSWERS, type RuntimeErrorCode } from './ports.js';

/** API_ERRORS lists every error code the API answers with, and its HTTP status. */
export const API_ERRORS = {
  BAD_REQUEST: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  GONE: 410,
  CONFLICT: 409,
  NOT_LEADER: 421,
  PAYLOAD_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  HEADERS_TOO_LARGE: 431,
  REQUEST_TIMEOUT: 408,
  UNPROCESSABLE: 422,
  OVERLOADED: 429,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
  INTERNAL: 500,
} as const;
export type ApiErrorCode = keyof typeof API_ERRORS;

/** ApiError is an error the API answers with its code and status. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly statusCode: number;
  /** details: optional machine-readable facts (e.g. indeterminate: true). */
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ApiErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.code = code;
    this.statusCode = API_ERRORS[code];
    this.details = details;
    this.name = 'ApiError';
  }
}

/** ErrorBody is the JSON shape of every error answer. */
export interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

/** errorBody is the documented answer for an ApiError. */
export function errorBody(error: ApiError): ErrorBody {
  return { error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
}

/**
 * runtimeToApiError maps the runtime's expected errors (an Error whose `code` is one of the runtime's codes,
 * ports.ts) to the API catalogue; any other error is returned as it is.
 */
export function runtimeToApiError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== 'string' || !Object.hasOwn(RUNTIME_ERROR_ANSWERS, code)) return error;
  const answer: { code: ApiErrorCode; indeterminate?: boolean } = RUNTIME_ERROR_ANSWERS[code as RuntimeErrorCode];
  return new ApiError(answer.code, error.message, answer.indeterminate === undefined ? undefined : { indeterminate: answer.indeterminate });
}

/** BatchItemError is how a batch answers one item that failed. */
export interface BatchItemError {
  readonly code: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

/**
 * batchResults answers a batch route's items in order from their settled outcomes: `{ ok: true, answer }`
 * for each fulfilled one, `{ ok: false, error }` for each rejected with an ApiError. Any other rejection is
 * a bug: reported to `onBug` with the item's position and answered as a bare internal error for that item
 * only, never leaked.
 */
export function batchResults<T, A>(outcomes: readonly PromiseSettledResult<T>[], answer: (value: T) => A, onBug: (error: unknown, item: number) => void):
  Array<{ ok: true; answer: A } | { ok: false; error: BatchItemError }> {
  return outcomes.map((outcome, i) => {
    if (outcome.status === 'fulfilled') return { ok: true as const, answer: answer(outcome.value) };
    const error: unknown = outcome.reason;
    if (error instanceof ApiError) {
      return { ok: false as const, error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
    }
    onBug(error, i);
    return { ok: false as const, error: { code: 'INTERNAL', message: 'internal error' } };
  });
}
