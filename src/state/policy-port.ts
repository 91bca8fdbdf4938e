// policy-port.ts — what the state machine needs from the policy engine (src/policy), as an interface,
// so that the state machine's own logic is independent of the engine's internals.

/** PolicySensor is a sensor declared by a device type. */
export interface PolicySensor {
  name: string;
  type: 'number' | 'boolean' | 'string';
  unit?: string;
  /** min and max bound a number sensor's readings (inclusive). */
  min?: number;
  max?: number;
}

/** PolicyState is a security state: a μmbox chain of pinned images, or a verdict. */
export type PolicyState = { name: string; chain: { name: string; digest: string }[] } | { name: string; verdict: 'allow' | 'quarantine' };

/** PolicyDeviceType is the part of a device type the state machine reads. */
export interface PolicyDeviceType {
  name: string;
  sensors: PolicySensor[];
  alertTypes: string[];
  states: PolicyState[];
  /** commands are the device commands the type declares ([] when it declares none). */
  commands: string[];
  /** samplingMs is the sampling interval per state (one entry per state). */
  samplingMs: Record<string, number>;
}

/** PolicyDocumentView is the part of a validated policy document the state machine reads. */
export interface PolicyDocumentView {
  domain: string;
  version: number;
  deviceTypes: PolicyDeviceType[];
}

/** PolicyReaction is an outcome of evaluation: a state change or a command for the device. */
export type PolicyReaction =
  | { kind: 'state'; deviceId: string; from: string; to: string; rule: string; timeMs?: number }
  | { kind: 'command'; deviceId: string; command: string; args: Record<string, string> };

/** PolicyPort is the deterministic engine: telemetry windows and device security states. */
export interface PolicyPort<Document extends PolicyDocumentView = PolicyDocumentView> {
  /** validate turns untrusted JSON data into a normalized document, or throws an error with a code. */
  validate(value: unknown, source: string): Document;
  setPolicy(document: Document): void;
  upsertDevice(device: { id: string; type: string; domain: string; group: string; tags: string[] }, timeMs: number): PolicyReaction[];
  removeDevice(id: string): PolicyReaction[];
  setState(deviceId: string, state: string, timeMs: number, cause: string): PolicyReaction[];
  onAlert(deviceId: string, alertType: string, timeMs: number): PolicyReaction[];
  onSensor(deviceId: string, sensor: string, value: number | boolean | string, timeMs: number): PolicyReaction[];
  /** onTime advances time to timeMs and fires the time-in-state rules now due. */
  onTime(timeMs: number): PolicyReaction[];
  deviceState(id: string): { state: string; sinceMs: number } | undefined;
  /** nextDeadlineMs is the earliest pending time-in-state or time-of-day deadline, or null. */
  nextDeadlineMs(): number | null;
  /** builtinAlertTypes are the alert types every device type accepts without declaring them. */
  builtinAlertTypes(): readonly string[];
  /** snapshot is plain JSON-able data from which restore() rebuilds an identical engine. */
  snapshot(): unknown;
  /**
   * snapshotHead, snapshotDevice and takeTouchedDevices (optional, all or none) split snapshot() for the
   * incremental state hash: snapshotHead is snapshot() without its devices, snapshotDevice one element
   * of its devices list (undefined for an unknown id), and takeTouchedDevices the ids whose element may
   * have changed since the last call. An engine without them is hashed whole, by snapshot().
   */
  snapshotHead?(): unknown;
  snapshotDevice?(id: string): unknown;
  takeTouchedDevices?(): Iterable<string>;
}

/** PolicyEngineFactory creates a fresh engine or rebuilds one from snapshot data. */
export interface PolicyEngineFactory {
  create(): PolicyPort;
  restore(data: unknown): PolicyPort;
  /**
   * rejection returns code and reason when `error` is an expected refusal by the validator or the
   * engine (bad document, unknown device, ...), and undefined for anything else (a bug: rethrown).
   */
  rejection(error: unknown): { code: string; reason: string } | undefined;
}
