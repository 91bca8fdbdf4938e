// errors.ts — the data plane's expected operating errors, each with a stable code (STYLE.md:
// broken invariants assert and crash; expected failures are these classes; bad input is rejected
// at the edge with what, where, expected and got). The data plane's assert is built on the one assertion
// helper, src/assert.ts.
import { InvariantError, assertWith, type Assert } from '../assert.js';

/** DataplaneErrorCode names every expected way the data plane can fail. Codes are stable. */
export type DataplaneErrorCode =
  | 'command_failed' // an external tool (ovs-vsctl, ovs-ofctl, ip, nft, apt-get) exited non-zero
  | 'command_timeout' // an external tool did not finish in time
  | 'host_not_ready' // OVS or the Docker engine did not answer after start
  | 'not_root' // host set-up needs root
  | 'bad_input' // a DesiredInput or config value has the wrong shape (see message)
  | 'image_missing' // a μmbox image is not present in the local engine
  | 'image_digest_mismatch' // a μmbox image's layer digest differs from its pin
  | 'umbox_start_failed' // a μmbox container did not start or did not report ready in time
  | 'port_missing' // a port a flow needs is not on the bridge
  | 'datapath_unavailable' // the node config asks for the kernel datapath and the host has none (datapath.ts)
  | 'flow_parse' // ovs-ofctl printed a flow this driver cannot read
  | 'image_build_failed'; // a μmbox image could not be built

/** DataplaneError is an expected data-plane failure with a stable `code`, wrapping its `cause`. */
export class DataplaneError extends Error {
  /** code is the stable machine-readable reason. */
  readonly code: DataplaneErrorCode;
  constructor(code: DataplaneErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'DataplaneError';
  }
}

/** badInput builds the error for rejected input: what was wrong, where, what was expected and what came. */
export function badInput(where: string, expected: string, got: unknown): DataplaneError {
  const shown = typeof got === 'string' ? JSON.stringify(got) : JSON.stringify(got) ?? String(got);
  return new DataplaneError('bad_input', `${where}: expected ${expected}, got ${shown}`);
}

/** DataplaneAssertionError is a broken data-plane invariant (a bug): never caught as an operating error. */
export class DataplaneAssertionError extends InvariantError {
  constructor(message: string) {
    super('DATAPLANE_ASSERTION_FAILED', `dataplane: assertion failed: ${message}`);
  }
}

/** assert throws DataplaneAssertionError when `condition` is false (kept on in production, TigerStyle). */
export const assert: Assert = assertWith((message) => new DataplaneAssertionError(message));
