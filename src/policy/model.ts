// model.ts — the policy document as data: device types with typed sensors, security states with a
// μmbox chain or a verdict each, and ordered transition rules. These are the normalized shapes that
// validatePolicy returns (every default filled in), so a document is canonical JSON and
// validatePolicy(validatePolicy(x)) equals validatePolicy(x).

/** SensorKind is the type of a sensor's readings. */
export type SensorKind = 'number' | 'boolean' | 'string';

/** SensorSpec declares one sensor of a device type. */
export interface SensorSpec {
  name: string;
  type: SensorKind;
  /** unit is documentation only (e.g. "W", "°C"). */
  unit?: string;
  /** min and max bound a number sensor's readings (inclusive, at most 3 decimal places); others are refused. */
  min?: number;
  max?: number;
}

/** ImagePin names a μmbox image and pins its content digest (`sha256:` + 64 hex digits). */
export interface ImagePin {
  name: string;
  digest: string;
}

/** Verdict is a flow decision without a μmbox: pass the device's traffic, or drop it. */
export type Verdict = 'allow' | 'quarantine';

/** StateSpec is a security state and what the data plane enforces in it: exactly one of chain, verdict. */
export type StateSpec = { name: string; chain: ImagePin[] } | { name: string; verdict: Verdict };

/** ComparisonOp compares a reading (or an aggregate of readings) with a value. */
export type ComparisonOp = '<' | '<=' | '>' | '>=' | '==' | '!=';

/** Aggregate says how the last k samples are combined; `none` means every one of them must compare true. */
export type Aggregate = 'none' | 'avg' | 'sum' | 'min' | 'max';

/** AlertCondition holds when at least `atLeast` alerts of `type` arrived within the last `withinMs`. */
export interface AlertCondition {
  alert: { type: string; atLeast: number; withinMs: number };
}

/** SensorCondition compares the device's own sensor over its last `over.last` samples. */
export interface SensorCondition {
  sensor: {
    name: string;
    op: ComparisonOp;
    value: number | boolean | string;
    over: { last: number; aggregate: Aggregate };
  };
}

/**
 * DeviceSelector picks other devices of the same domain; every key present must match (AND).
 * `sameGroup: true` selects devices in the evaluated device's own group.
 */
export interface DeviceSelector {
  id?: string;
  type?: string;
  group?: string;
  tag?: string;
  sameGroup?: boolean;
}

/**
 * DevicesCondition holds when the devices `select` picks satisfy it (any, all, or a count of them); each
 * must be in a state among `in`, and/or have a latest reading that compares as `sensor` says.
 */
export interface DevicesCondition {
  devices: {
    select: DeviceSelector;
    in?: string[];
    sensor?: { name: string; op: ComparisonOp; value: number | boolean | string };
    quantifier: 'any' | 'all' | 'count';
    count?: { op: ComparisonOp; n: number };
  };
}

/** TimeInStateCondition holds when the device has been in its current state at least `atLeastMs`. */
export interface TimeInStateCondition {
  timeInState: { atLeastMs: number };
}

/**
 * TimeOfDayCondition holds when the entry time, read in the IANA `timezone`, is in [from, to) ("HH:MM",
 * wrapping past midnight when from > to; from == to is refused).
 */
export interface TimeOfDayCondition {
  timeOfDay: { from: string; to: string; timezone: string };
}

/** Condition is a tree of all/any/not over the leaf conditions. */
export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | AlertCondition
  | SensorCondition
  | DevicesCondition
  | TimeInStateCondition
  | TimeOfDayCondition;

/** CommandTarget says who receives a rule's command: the device, or every device of its group that declares it. */
export type CommandTarget = 'device' | 'group';

/**
 * DeviceCommand is a command carried out once by the node that serves each receiving device: the
 * device itself (`target: device`), or every device of the same domain and group whose type declares
 * the command, the triggering device included (`target: group`).
 */
export interface DeviceCommand {
  command: string;
  args: Record<string, string>;
  target: CommandTarget;
}

/** RuleSpec moves a device `from` a state (or any other state) `to` another when `when` holds. */
export interface RuleSpec {
  name: string;
  from: string; // a state name or 'any' (any state other than `to`)
  to: string;
  when: Condition;
  commands: DeviceCommand[];
}

/** DeviceTypeSpec is one kind of device and its whole security policy. */
export interface DeviceTypeSpec {
  name: string;
  description?: string;
  sensors: SensorSpec[];
  alertTypes: string[];
  states: StateSpec[];
  initialState: string;
  rules: RuleSpec[];
  /** commands are the device commands the type declares (what its adapters can carry out); [] = undeclared. */
  commands: string[];
  /** samplingMs is how often the serving node reads a device of this type, per state (one entry per state). */
  samplingMs: Record<string, number>;
}

/** PolicyDocument is one security domain's policy, at one version. */
export interface PolicyDocument {
  domain: string;
  version: number;
  deviceTypes: DeviceTypeSpec[];
}

/** DeviceInfo is what the engine needs to know about a device. */
export interface DeviceInfo {
  id: string;
  type: string;
  domain: string;
  group: string;
  tags: string[];
}

/** Reaction is an outcome of an event: a state change, or a command for the serving node to run once. */
export type Reaction =
  | { kind: 'state'; deviceId: string; from: string; to: string; rule: string; timeMs: number }
  | { kind: 'command'; deviceId: string; command: string; args: Record<string, string> };

/** Plan is what the data plane must enforce for a device in its current state. */
export type Plan = { state: string; chain: ImagePin[] } | { state: string; verdict: Verdict };
