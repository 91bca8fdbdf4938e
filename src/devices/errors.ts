// errors.ts — the device adapters' expected operating errors, each with a stable code (STYLE.md: broken
// invariants assert and crash; expected failures are these classes; bad input names what, where, expected, got).

/** DeviceErrorCode names every expected way a device adapter or the broker can fail. Codes are stable. */
export type DeviceErrorCode =
  | 'bad_input' // a device, option or argument has the wrong shape (see message)
  | 'broker_not_ready' // Mosquitto did not start or does not answer
  | 'broker_config' // the broker's directory or files cannot be used (permissions, paths)
  | 'not_root' // the broker must be started as root (it drops to its own user)
  | 'closed'; // the adapter was closed

/** DeviceError is an expected device-interface failure with a stable `code`, wrapping its `cause`. */
export class DeviceError extends Error {
  /** code is the stable machine-readable reason. */
  readonly code: DeviceErrorCode;
  constructor(code: DeviceErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'DeviceError';
  }
}

/** badInput builds the error for rejected input: what was wrong, where, what was expected and what came. */
export function badInput(where: string, expected: string, got: unknown): DeviceError {
  const shown = JSON.stringify(got) ?? String(got);
  return new DeviceError('bad_input', `${where}: expected ${expected}, got ${shown.length > 200 ? `${shown.slice(0, 200)}…` : shown}`);
}
