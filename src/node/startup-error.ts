// startup-error.ts — a start-up failure with a message that says what is wrong and how to fix it.

/** StartupError is raised by startNode for a condition the operator can fix (port in use, unreadable directory, ...). */
export class StartupError extends Error {
  readonly code: string;
  constructor(code: string, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.name = 'StartupError';
  }
}
