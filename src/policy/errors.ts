// errors.ts — the policy module's failures. A bad document is a PolicyError (what, where, expected,
// found); bad engine input (unknown device, mistyped telemetry) is a PolicyRejected that the state
// machine records as a deterministic rejection. Broken invariants are assertions, not these.

/** PolicyErrorCode names every way a policy document can be wrong. */
export type PolicyErrorCode =
  | 'POLICY_SYNTAX' // not parseable YAML / JSON
  | 'POLICY_TYPE' // wrong JSON type at a path
  | 'POLICY_MISSING' // required key absent
  | 'POLICY_UNKNOWN_KEY' // key not part of the model
  | 'POLICY_VALUE' // right type, bad value (pattern, range, operator for the sensor type)
  | 'POLICY_DUPLICATE' // a name declared twice
  | 'POLICY_REFERENCE' // reference to an undeclared state, sensor, alert type or device type
  | 'POLICY_LIMIT'; // a size limit exceeded

/** PolicyErrorInit is what a PolicyError is built from. */
export interface PolicyErrorInit {
  code: PolicyErrorCode;
  file: string;
  /** pathSegments locate the offending value inside the document (keys and list indexes). */
  pathSegments: ReadonlyArray<string | number>;
  expected: string;
  found: string;
  line?: number;
  column?: number;
}

/** formatPath renders path segments as `deviceTypes[1].rules[0].when.all[2].sensor`. */
export function formatPath(segments: ReadonlyArray<string | number>): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out === '' ? '(document)' : out;
}

/**
 * PolicyError reports a policy document that cannot be loaded: the file (or source), the path inside
 * it, what was expected and what was found, and the line and column when the source was YAML.
 */
export class PolicyError extends Error {
  readonly code: PolicyErrorCode;
  readonly file: string;
  readonly path: string;
  readonly pathSegments: ReadonlyArray<string | number>;
  readonly expected: string;
  readonly found: string;
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(init: PolicyErrorInit) {
    const path = formatPath(init.pathSegments);
    const where = init.line === undefined ? init.file : `${init.file}:${init.line}:${init.column ?? 1}`;
    super(`${where}: ${path}: expected ${init.expected}, found ${init.found}`);
    this.name = 'PolicyError';
    this.code = init.code;
    this.file = init.file;
    this.path = path;
    this.pathSegments = [...init.pathSegments];
    this.expected = init.expected;
    this.found = init.found;
    this.line = init.line;
    this.column = init.column;
  }

  /** withPosition returns the same error located at a line and column of the source text. */
  withPosition(line: number, column: number): PolicyError {
    return new PolicyError({
      code: this.code,
      file: this.file,
      pathSegments: this.pathSegments,
      expected: this.expected,
      found: this.found,
      line,
      column,
    });
  }
}

/** PolicyRejectedCode names every way an engine input can be refused. */
export type PolicyRejectedCode =
  | 'UNKNOWN_DEVICE'
  | 'UNKNOWN_DOMAIN'
  | 'UNKNOWN_DEVICE_TYPE'
  | 'UNKNOWN_STATE'
  | 'INVALID_DEVICE'
  | 'INVALID_TIME'
  | 'POLICY_BREAKS_DEVICES'
  | 'BAD_SNAPSHOT'
  | TelemetryRejectedCode;

/**
 * PolicyRejected is thrown by PolicyEngine for input it refuses (a device it does not know, a state
 * the device's type lacks, a policy that would strand existing devices). Nothing has changed when it
 * is thrown. The state machine catches it and records `code` and `reason` as the entry's rejection,
 * identically on every node.
 */
export class PolicyRejected extends Error {
  readonly code: PolicyRejectedCode;
  readonly reason: string;

  constructor(code: PolicyRejectedCode, reason: string) {
    super(`${code}: ${reason}`);
    this.name = 'PolicyRejected';
    this.code = code;
    this.reason = reason;
  }
}

/** TelemetryRejectedCode names every way an alert or a sensor reading can be refused. */
export type TelemetryRejectedCode =
  | 'UNKNOWN_SENSOR'
  | 'UNKNOWN_ALERT_TYPE'
  | 'SENSOR_TYPE_MISMATCH'
  | 'SENSOR_VALUE_NOT_FINITE'
  | 'SENSOR_VALUE_OUT_OF_RANGE'
  | 'SENSOR_VALUE_TOO_LONG';

/**
 * TelemetryRejected is the PolicyRejected of onAlert and onSensor: a reading of a sensor the device's
 * type does not declare, of the wrong type, non-finite or out of range, or an undeclared alert type.
 */
export class TelemetryRejected extends PolicyRejected {
  constructor(code: PolicyRejectedCode, reason: string) {
    super(code, reason);
    this.name = 'TelemetryRejected';
  }
}
