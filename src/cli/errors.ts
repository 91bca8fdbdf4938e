// errors.ts — the CLI's failures and its exit codes. Every failure the CLI expects is a CliError
// carrying the exit code a script can branch on; anything else is a bug (exit 70, message only).

/** EXIT_CODES are qgate's process exit codes (also listed in `qgate --help` and src/cli/README.md). */
export const EXIT_CODES = {
  /** ok: the command did what was asked. */
  ok: 0,
  /** rejected: the cluster refused the command (result.ok false, a 422 at the edge, or a 409); also "different" (policy get --diff). */
  rejected: 1,
  /** usage: bad arguments or a bad input file (policy YAML, bundle, key, genesis, export). */
  usage: 2,
  /** unavailable: no endpoint gave an answer, or the outcome stayed indeterminate after retries. */
  unavailable: 3,
  /** notFound: the thing asked for does not exist (404). */
  notFound: 4,
  /** internal: a bug in qgate itself. */
  internal: 70,
} as const;

/** ExitCode is one of EXIT_CODES. */
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

/** CliErrorCode names the kinds of expected failure. */
export type CliErrorCode =
  | 'USAGE'
  | 'BAD_INPUT'
  | 'KEY'
  | 'REJECTED'
  | 'UNAVAILABLE'
  | 'INDETERMINATE'
  | 'NOT_FOUND'
  | 'NOT_ENFORCED'
  | 'AUDIT_MISMATCH'
  | 'DIFFERENT';

const EXIT_FOR_CODE: Record<CliErrorCode, ExitCode> = {
  USAGE: EXIT_CODES.usage,
  BAD_INPUT: EXIT_CODES.usage,
  KEY: EXIT_CODES.usage,
  REJECTED: EXIT_CODES.rejected,
  UNAVAILABLE: EXIT_CODES.unavailable,
  INDETERMINATE: EXIT_CODES.unavailable,
  NOT_FOUND: EXIT_CODES.notFound,
  NOT_ENFORCED: EXIT_CODES.unavailable,
  AUDIT_MISMATCH: EXIT_CODES.rejected,
  DIFFERENT: EXIT_CODES.rejected,
};

/** CliError is an expected failure: one clear line for stderr, and the exit code it maps to. */
export class CliError extends Error {
  override readonly name = 'CliError';
  readonly code: CliErrorCode;
  readonly exitCode: ExitCode;
  /** details: machine-readable facts printed with `--output json` (never secrets). */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: CliErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.exitCode = EXIT_FOR_CODE[code];
    this.details = details;
  }
}

/** usageError is a CliError for bad arguments or input files (exit 2). */
export function usageError(message: string): CliError {
  return new CliError('USAGE', message);
}
