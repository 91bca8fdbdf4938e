// errors.ts — the API's one catalogue of errors: a stable code, an HTTP status, a message that
// says what was expected and what was received. Unknown errors are logged and answered as a bare
// 500, never leaked (STYLE.md, after Fastify).

/** ApiErrorCode lists every error code the API answers with. */
export const API_ERRORS = {
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  GONE: 410,
  CONFLICT: 409,
  NOT_LEADER: 421,
  PAYLOAD_TOO_LARGE: 413,
  UNPROCESSABLE: 422,
  OVERLOADED: 429,
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
