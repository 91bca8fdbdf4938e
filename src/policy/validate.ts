// validate.ts — structural and referential validation of a policy document, by hand so that every
// error names the exact path, what was expected and what was found. It returns the normalized
// document (defaults filled in), which validates to itself.

import {
  ALERT_TYPES_MAX,
  ALERTS_AT_LEAST_MAX,
  BUILTIN_ALERT_TYPES,
  CHAIN_IMAGES_MAX,
  COMMAND_ARGS_MAX,
  COMMANDS_PER_RULE_MAX,
  CONDITION_CHILDREN_MAX,
  CONDITION_DEPTH_MAX,
  DEFAULT_INITIAL_STATE,
  DEFAULT_STATES,
  DEVICE_COMMANDS_MAX,
  DEVICE_TYPES_MAX,
  DIGEST_PATTERN,
  NAME_PATTERN,
  NAME_PATTERN_TEXT,
  RULES_MAX,
  SAMPLES_PER_SENSOR_MAX,
  SAMPLING_DEFAULT_MS,
  SAMPLING_MAX_MS,
  SAMPLING_MIN_MS,
  SENSORS_MAX,
  STATES_MAX,
  STRING_VALUE_LENGTH_MAX,
  WINDOW_MS_MAX,
} from './constants.js';
import { toMilli } from './decimal.js';
import { formatPath, PolicyError, type PolicyErrorCode } from './errors.js';
import { checkTimezone, parseTimeOfDay } from './time-of-day.js';
import type {
  Aggregate,
  ComparisonOp,
  Condition,
  DeviceCommand,
  DeviceSelector,
  DeviceTypeSpec,
  ImagePin,
  PolicyDocument,
  RuleSpec,
  SensorKind,
  SensorSpec,
  StateSpec,
} from './model.js';

type Path = ReadonlyArray<string | number>;
type Plain = Record<string, unknown>;

const OPS: readonly ComparisonOp[] = ['<', '<=', '>', '>=', '==', '!='];
const EQUALITY_OPS: readonly ComparisonOp[] = ['==', '!='];
const AGGREGATES: readonly Aggregate[] = ['none', 'avg', 'sum', 'min', 'max'];
const CONDITION_KEYS = ['all', 'any', 'not', 'alert', 'sensor', 'devices', 'timeInState', 'timeOfDay'] as const;
/** DURATION is a sampling interval written with a unit: "500ms", "10s", "2m", "1h". */
const DURATION = /^([0-9]{1,9})(ms|s|m|h)$/;
const DURATION_UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION_TEXT = `an interval from ${SAMPLING_MIN_MS} ms to 24 h: an integer of ms or a string such as "500ms", "10s", "2m", "1h"`;

/** own reads a key only when it is the mapping's own (a state named "constructor" must not find Object's). */
function own(plain: Plain, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(plain, key) ? plain[key] : undefined;
}

/** describeValue renders a found value for an error message: its JSON type and a short excerpt. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return `string ${JSON.stringify(shown)}`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'object') {
    const keys = Object.keys(value);
    return keys.length === 0 ? 'an empty mapping' : `a mapping with keys ${keys.slice(0, 8).join(', ')}`;
  }
  return typeof value;
}

/** Names a device type declares, used to check references inside its rules. */
interface TypeDeclarations {
  name: string;
  sensors: Map<string, SensorKind>;
  alertTypes: Set<string>;
  states: Set<string>;
  commands: Set<string>;
}

/** Validator carries the source name through one validation. */
class Validator {
  constructor(readonly file: string) {}

  fail(code: PolicyErrorCode, path: Path, expected: string, found: string): never {
    throw new PolicyError({ code, file: this.file, pathSegments: path, expected, found });
  }

  /** mapping checks that a value is a mapping with any keys. */
  mapping(value: unknown, path: Path): Plain {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.fail('POLICY_TYPE', path, 'a mapping', describeValue(value));
    }
    return value as Plain;
  }

  /** object checks a mapping whose keys are all among `required` and `optional`, with every required one. */
  object(value: unknown, path: Path, required: readonly string[], optional: readonly string[]): Plain {
    const plain = this.mapping(value, path);
    for (const key of Object.keys(plain)) {
      if (!required.includes(key) && !optional.includes(key)) {
        const allowed = [...required, ...optional].join(', ');
        this.fail('POLICY_UNKNOWN_KEY', [...path, key], `one of the keys ${allowed}`, `unknown key "${key}"`);
      }
    }
    for (const key of required) {
      if (plain[key] === undefined) this.fail('POLICY_MISSING', [...path, key], `key "${key}"`, 'nothing');
    }
    return plain;
  }

  list(value: unknown, path: Path, minItems: number, maxItems: number): unknown[] {
    if (!Array.isArray(value)) this.fail('POLICY_TYPE', path, 'a list', describeValue(value));
    if (value.length < minItems) {
      this.fail('POLICY_VALUE', path, `a list of at least ${minItems} item(s)`, describeValue(value));
    }
    if (value.length > maxItems) {
      this.fail('POLICY_LIMIT', path, `a list of at most ${maxItems} items`, describeValue(value));
    }
    return value;
  }

  name(value: unknown, path: Path): string {
    if (typeof value !== 'string') this.fail('POLICY_TYPE', path, NAME_PATTERN_TEXT, describeValue(value));
    if (!NAME_PATTERN.test(value)) this.fail('POLICY_VALUE', path, NAME_PATTERN_TEXT, describeValue(value));
    return value;
  }

  text(value: unknown, path: Path): string {
    if (typeof value !== 'string') this.fail('POLICY_TYPE', path, 'a string', describeValue(value));
    if (value.length > STRING_VALUE_LENGTH_MAX) {
      this.fail('POLICY_LIMIT', path, `a string of at most ${STRING_VALUE_LENGTH_MAX} characters`, `${value.length} characters`);
    }
    return value;
  }

  integer(value: unknown, path: Path, min: number, max: number): number {
    if (typeof value !== 'number') this.fail('POLICY_TYPE', path, `an integer from ${min} to ${max}`, describeValue(value));
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      this.fail('POLICY_VALUE', path, `an integer from ${min} to ${max}`, describeValue(value));
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, path: Path, choices: readonly T[]): T {
    const expected = `one of ${choices.join(' ')}`;
    if (typeof value !== 'string') this.fail('POLICY_TYPE', path, expected, describeValue(value));
    if (!(choices as readonly string[]).includes(value)) this.fail('POLICY_VALUE', path, expected, describeValue(value));
    return value as T;
  }

  uniqueName(seen: Set<string>, name: string, path: Path, what: string): void {
    if (seen.has(name)) this.fail('POLICY_DUPLICATE', path, `a ${what} name not declared before`, `"${name}" again`);
    seen.add(name);
  }

  /** typedValue checks a comparison's value against the sensor's type and the operator's domain. */
  typedValue(kind: SensorKind, op: ComparisonOp, value: unknown, opPath: Path, valuePath: Path): number | boolean | string {
    if (kind !== 'number' && !EQUALITY_OPS.includes(op)) {
      this.fail('POLICY_VALUE', opPath, `== or != for a ${kind} sensor`, describeValue(op));
    }
    if (kind === 'number') {
      if (typeof value !== 'number') this.fail('POLICY_TYPE', valuePath, 'a number (the sensor is a number)', describeValue(value));
      const milli = toMilli(value, false);
      if (!milli.ok) {
        const expected = milli.why === 'too-precise'
          ? 'a number with at most 3 decimal places'
          : 'a finite number of magnitude at most 1e9';
        this.fail('POLICY_VALUE', valuePath, expected, describeValue(value));
      }
      return value;
    }
    if (kind === 'boolean') {
      if (typeof value !== 'boolean') this.fail('POLICY_TYPE', valuePath, 'true or false (the sensor is a boolean)', describeValue(value));
      return value;
    }
    if (typeof value !== 'string') this.fail('POLICY_TYPE', valuePath, 'a string (the sensor is a string)', describeValue(value));
    return this.text(value, valuePath);
  }
}

function sensorSpec(v: Validator, value: unknown, path: Path): SensorSpec {
  const raw = v.object(value, path, ['name', 'type'], ['unit', 'min', 'max']);
  const spec: SensorSpec = {
    name: v.name(raw.name, [...path, 'name']),
    type: v.oneOf(raw.type, [...path, 'type'], ['number', 'boolean', 'string'] as const),
  };
  if (raw.unit !== undefined) spec.unit = v.text(raw.unit, [...path, 'unit']);
  for (const bound of ['min', 'max'] as const) {
    if (raw[bound] === undefined) continue;
    if (spec.type !== 'number') v.fail('POLICY_VALUE', [...path, bound], `no ${bound} for a ${spec.type} sensor (bounds are for numbers)`, describeValue(raw[bound]));
    spec[bound] = v.typedValue('number', '<', raw[bound], [...path, bound], [...path, bound]) as number;
  }
  if (spec.min !== undefined && spec.max !== undefined && spec.min > spec.max) {
    v.fail('POLICY_VALUE', [...path, 'max'], `a number no smaller than min (${spec.min})`, describeValue(spec.max));
  }
  return spec;
}

/** duration reads a sampling interval: an integer of ms or "<n>ms|s|m|h", within the sampling bounds. */
function duration(v: Validator, value: unknown, path: Path): number {
  let ms: number | undefined;
  if (typeof value === 'number') ms = Number.isSafeInteger(value) ? value : undefined;
  else if (typeof value === 'string') {
    const match = DURATION.exec(value);
    ms = match === null ? undefined : Number(match[1]) * (DURATION_UNIT_MS[match[2] ?? ''] ?? 0);
  } else v.fail('POLICY_TYPE', path, DURATION_TEXT, describeValue(value));
  if (ms === undefined || ms < SAMPLING_MIN_MS || ms > SAMPLING_MAX_MS) v.fail('POLICY_VALUE', path, DURATION_TEXT, describeValue(value));
  return ms;
}

/**
 * samplingOf normalizes a type's sampling to one interval per state. Input is `sampling` (durations
 * per state and an optional `default`) or, in a normalized document, `samplingMs` (integers per state).
 */
function samplingOf(v: Validator, raw: Plain, path: Path, stateNames: readonly string[]): Record<string, number> {
  if (raw.sampling !== undefined && raw.samplingMs !== undefined) {
    v.fail('POLICY_VALUE', [...path, 'samplingMs'], 'either "sampling" or "samplingMs", not both', 'both');
  }
  const key = raw.samplingMs !== undefined ? 'samplingMs' : 'sampling';
  const at = [...path, key];
  const given = v.mapping(raw[key] ?? {}, at);
  const allowDefault = key === 'sampling';
  for (const name of Object.keys(given)) {
    if (!(allowDefault && name === 'default') && !stateNames.includes(name)) {
      v.fail('POLICY_REFERENCE', [...at, name], `a state of this type (${stateNames.join(', ')})${allowDefault ? ' or default' : ''}`, `"${name}"`);
    }
  }
  const read = (name: string): number | undefined => {
    const value = own(given, name);
    if (value === undefined) return undefined;
    return key === 'samplingMs' ? v.integer(value, [...at, name], SAMPLING_MIN_MS, SAMPLING_MAX_MS) : duration(v, value, [...at, name]);
  };
  const fallback = allowDefault ? read('default') ?? SAMPLING_DEFAULT_MS : SAMPLING_DEFAULT_MS;
  const out: Record<string, number> = {};
  for (const name of stateNames) out[name] = read(name) ?? fallback;
  return out;
}

function imagePin(v: Validator, value: unknown, path: Path): ImagePin {
  const raw = v.object(value, path, ['name', 'digest'], []);
  const name = v.name(raw.name, [...path, 'name']);
  const digestPath = [...path, 'digest'];
  const expected = 'a digest "sha256:" followed by 64 lowercase hex digits';
  if (typeof raw.digest !== 'string') v.fail('POLICY_TYPE', digestPath, expected, describeValue(raw.digest));
  if (!DIGEST_PATTERN.test(raw.digest)) v.fail('POLICY_VALUE', digestPath, expected, describeValue(raw.digest));
  return { name, digest: raw.digest };
}

function stateSpec(v: Validator, value: unknown, path: Path): StateSpec {
  const raw = v.object(value, path, ['name'], ['chain', 'verdict']);
  const name = v.name(raw.name, [...path, 'name']);
  if (name === 'any') v.fail('POLICY_VALUE', [...path, 'name'], 'a state name other than "any" (reserved in rules)', describeValue(name));
  if ((raw.chain === undefined) === (raw.verdict === undefined)) {
    v.fail('POLICY_VALUE', path, 'exactly one of "chain" (μmbox images) or "verdict" (allow, quarantine)',
      raw.chain === undefined ? 'neither' : 'both');
  }
  if (raw.verdict !== undefined) {
    return { name, verdict: v.oneOf(raw.verdict, [...path, 'verdict'], ['allow', 'quarantine'] as const) };
  }
  const chainPath = [...path, 'chain'];
  const images = v.list(raw.chain, chainPath, 1, CHAIN_IMAGES_MAX);
  return { name, chain: images.map((image, i) => imagePin(v, image, [...chainPath, i])) };
}

/** declarations validates everything of a device type but its rules. */
function declarations(v: Validator, raw: Plain, path: Path): Omit<DeviceTypeSpec, 'rules'> {
  const name = v.name(raw.name, [...path, 'name']);
  const sensorsPath = [...path, 'sensors'];
  const sensorNames = new Set<string>();
  const sensors = v.list(raw.sensors ?? [], sensorsPath, 0, SENSORS_MAX).map((item, i) => {
    const spec = sensorSpec(v, item, [...sensorsPath, i]);
    v.uniqueName(sensorNames, spec.name, [...sensorsPath, i, 'name'], 'sensor');
    return spec;
  });
  const alertsPath = [...path, 'alertTypes'];
  const alertNames = new Set<string>();
  const alertTypes = v.list(raw.alertTypes ?? [], alertsPath, 0, ALERT_TYPES_MAX).map((item, i) => {
    const alert = v.name(item, [...alertsPath, i]);
    v.uniqueName(alertNames, alert, [...alertsPath, i], 'alert type');
    return alert;
  });
  const statesPath = [...path, 'states'];
  const stateNames = new Set<string>();
  const states = v.list(raw.states, statesPath, 1, STATES_MAX).map((item, i) => {
    const spec = stateSpec(v, item, [...statesPath, i]);
    v.uniqueName(stateNames, spec.name, [...statesPath, i, 'name'], 'state');
    return spec;
  });
  for (const required of DEFAULT_STATES) {
    if (!stateNames.has(required)) {
      v.fail('POLICY_MISSING', statesPath, `a state named "${required}" (every device type has normal, suspicious and attack)`,
        `states ${[...stateNames].join(', ')}`);
    }
  }
  const initialState = raw.initialState === undefined ? DEFAULT_INITIAL_STATE : v.name(raw.initialState, [...path, 'initialState']);
  if (!stateNames.has(initialState)) {
    v.fail('POLICY_REFERENCE', [...path, 'initialState'], `one of the declared states ${[...stateNames].join(', ')}`, describeValue(initialState));
  }
  const commandsPath = [...path, 'commands'];
  const commandNames = new Set<string>();
  const commands = v.list(raw.commands ?? [], commandsPath, 0, DEVICE_COMMANDS_MAX).map((item, i) => {
    const command = v.name(item, [...commandsPath, i]);
    v.uniqueName(commandNames, command, [...commandsPath, i], 'command');
    return command;
  });
  const samplingMs = samplingOf(v, raw, path, states.map((s) => s.name));
  const spec: Omit<DeviceTypeSpec, 'rules'> = { name, sensors, alertTypes, states, initialState, commands, samplingMs };
  if (raw.description !== undefined) spec.description = v.text(raw.description, [...path, 'description']);
  return spec;
}

/** RuleContext is what a condition may refer to: its own type's declarations and the document's. */
interface RuleContext {
  own: TypeDeclarations;
  types: Map<string, TypeDeclarations>;
  allStates: Set<string>;
}

function reference(v: Validator, known: Iterable<string>, name: string, path: Path, what: string): void {
  const list = [...known];
  if (!list.includes(name)) {
    const expected = list.length === 0 ? `a declared ${what} (none are declared)` : `a declared ${what}: one of ${list.join(', ')}`;
    v.fail('POLICY_REFERENCE', path, expected, describeValue(name));
  }
}

function selector(v: Validator, value: unknown, path: Path, ctx: RuleContext): DeviceSelector {
  const raw = v.object(value, path, [], ['id', 'type', 'group', 'tag', 'sameGroup']);
  const select: DeviceSelector = {};
  if (raw.id !== undefined) select.id = v.name(raw.id, [...path, 'id']);
  if (raw.type !== undefined) {
    select.type = v.name(raw.type, [...path, 'type']);
    reference(v, ctx.types.keys(), select.type, [...path, 'type'], 'device type of this document');
  }
  if (raw.group !== undefined) select.group = v.name(raw.group, [...path, 'group']);
  if (raw.tag !== undefined) select.tag = v.name(raw.tag, [...path, 'tag']);
  if (raw.sameGroup !== undefined) {
    if (raw.sameGroup !== true) v.fail('POLICY_VALUE', [...path, 'sameGroup'], 'true (or leave it out)', describeValue(raw.sameGroup));
    select.sameGroup = true;
  }
  if (Object.keys(select).length === 0) {
    v.fail('POLICY_MISSING', path, 'at least one of id, type, group, tag, sameGroup', 'an empty selector');
  }
  return select;
}

function devicesCondition(v: Validator, value: unknown, path: Path, ctx: RuleContext): Condition {
  const raw = v.object(value, path, ['select'], ['in', 'sensor', 'quantifier', 'count']);
  const select = selector(v, raw.select, [...path, 'select'], ctx);
  const selectedType = select.type === undefined ? undefined : ctx.types.get(select.type);
  const out: { select: DeviceSelector; in?: string[]; sensor?: { name: string; op: ComparisonOp; value: number | boolean | string };
    quantifier: 'any' | 'all' | 'count'; count?: { op: ComparisonOp; n: number } } = { select, quantifier: 'any' };
  if (raw.in !== undefined) {
    const inPath = [...path, 'in'];
    const seen = new Set<string>();
    out.in = v.list(raw.in, inPath, 1, STATES_MAX).map((item, i) => {
      const state = v.name(item, [...inPath, i]);
      reference(v, selectedType?.states ?? ctx.allStates, state, [...inPath, i],
        selectedType === undefined ? 'state of some device type of this document' : `state of device type ${selectedType.name}`);
      v.uniqueName(seen, state, [...inPath, i], 'state');
      return state;
    });
  }
  if (raw.sensor !== undefined) {
    const sensorPath = [...path, 'sensor'];
    if (selectedType === undefined) {
      v.fail('POLICY_MISSING', [...path, 'select', 'type'], 'a device type in the selector (so the sensor has a known type)', 'no type');
    }
    const sensorRaw = v.object(raw.sensor, sensorPath, ['name', 'op', 'value'], []);
    const name = v.name(sensorRaw.name, [...sensorPath, 'name']);
    reference(v, selectedType.sensors.keys(), name, [...sensorPath, 'name'], `sensor of device type ${selectedType.name}`);
    const op = v.oneOf(sensorRaw.op, [...sensorPath, 'op'], OPS);
    const kind = selectedType.sensors.get(name) ?? 'number';
    const compared = v.typedValue(kind, op, sensorRaw.value, [...sensorPath, 'op'], [...sensorPath, 'value']);
    out.sensor = { name, op, value: compared };
  }
  if (raw.quantifier !== undefined) out.quantifier = v.oneOf(raw.quantifier, [...path, 'quantifier'], ['any', 'all', 'count'] as const);
  if (out.quantifier === 'count') {
    if (raw.count === undefined) v.fail('POLICY_MISSING', [...path, 'count'], 'key "count" ({op, n}) with quantifier count', 'nothing');
    const countRaw = v.object(raw.count, [...path, 'count'], ['op', 'n'], []);
    out.count = {
      op: v.oneOf(countRaw.op, [...path, 'count', 'op'], OPS),
      n: v.integer(countRaw.n, [...path, 'count', 'n'], 0, 1_000_000),
    };
  } else if (raw.count !== undefined) {
    v.fail('POLICY_VALUE', [...path, 'count'], 'no "count" unless quantifier is count', describeValue(raw.count));
  }
  return { devices: out };
}

function condition(v: Validator, value: unknown, path: Path, depth: number, ctx: RuleContext): Condition {
  if (depth > CONDITION_DEPTH_MAX) v.fail('POLICY_LIMIT', path, `conditions nested at most ${CONDITION_DEPTH_MAX} deep`, 'deeper nesting');
  const raw = v.object(value, path, [], CONDITION_KEYS);
  const keys = Object.keys(raw);
  if (keys.length !== 1) {
    v.fail(keys.length === 0 ? 'POLICY_MISSING' : 'POLICY_VALUE', path, `exactly one of ${CONDITION_KEYS.join(', ')}`,
      keys.length === 0 ? 'an empty mapping' : `keys ${keys.join(', ')}`);
  }
  const key = keys[0] as (typeof CONDITION_KEYS)[number];
  const inner = raw[key];
  const at = [...path, key];
  switch (key) {
    case 'all':
    case 'any': {
      const children = v.list(inner, at, 1, CONDITION_CHILDREN_MAX).map((child, i) => condition(v, child, [...at, i], depth + 1, ctx));
      return key === 'all' ? { all: children } : { any: children };
    }
    case 'not':
      return { not: condition(v, inner, at, depth + 1, ctx) };
    case 'alert': {
      const alert = v.object(inner, at, ['type', 'withinMs'], ['atLeast']);
      const type = v.name(alert.type, [...at, 'type']);
      reference(v, [...ctx.own.alertTypes, ...BUILTIN_ALERT_TYPES.filter((b) => !ctx.own.alertTypes.has(b))], type, [...at, 'type'],
        `alert type of device type ${ctx.own.name} (or a built-in one)`);
      const atLeast = alert.atLeast === undefined ? 1 : v.integer(alert.atLeast, [...at, 'atLeast'], 1, ALERTS_AT_LEAST_MAX);
      return { alert: { type, atLeast, withinMs: v.integer(alert.withinMs, [...at, 'withinMs'], 1, WINDOW_MS_MAX) } };
    }
    case 'sensor': {
      const sensor = v.object(inner, at, ['name', 'op', 'value'], ['over']);
      const name = v.name(sensor.name, [...at, 'name']);
      reference(v, ctx.own.sensors.keys(), name, [...at, 'name'], `sensor of device type ${ctx.own.name}`);
      const kind = ctx.own.sensors.get(name) ?? 'number';
      const op = v.oneOf(sensor.op, [...at, 'op'], OPS);
      const compared = v.typedValue(kind, op, sensor.value, [...at, 'op'], [...at, 'value']);
      const overRaw = v.object(sensor.over ?? {}, [...at, 'over'], [], ['last', 'aggregate']);
      const last = overRaw.last === undefined ? 1 : v.integer(overRaw.last, [...at, 'over', 'last'], 1, SAMPLES_PER_SENSOR_MAX);
      const aggregate = overRaw.aggregate === undefined ? 'none' : v.oneOf(overRaw.aggregate, [...at, 'over', 'aggregate'], AGGREGATES);
      if (kind !== 'number' && aggregate !== 'none') {
        v.fail('POLICY_VALUE', [...at, 'over', 'aggregate'], `none for a ${kind} sensor`, describeValue(aggregate));
      }
      return { sensor: { name, op, value: compared, over: { last, aggregate } } };
    }
    case 'devices':
      return devicesCondition(v, inner, at, ctx);
    case 'timeInState': {
      const time = v.object(inner, at, ['atLeastMs'], []);
      return { timeInState: { atLeastMs: v.integer(time.atLeastMs, [...at, 'atLeastMs'], 1, WINDOW_MS_MAX) } };
    }
    case 'timeOfDay':
      return timeOfDayCondition(v, inner, at);
  }
}

function timeOfDayCondition(v: Validator, value: unknown, path: Path): Condition {
  const raw = v.object(value, path, ['from', 'to', 'timezone'], []);
  const clock = (key: 'from' | 'to'): string => {
    const text = raw[key];
    const expected = 'a wall-clock time "HH:MM" from 00:00 to 23:59 (quote it in YAML)';
    if (typeof text !== 'string') v.fail('POLICY_TYPE', [...path, key], expected, describeValue(text));
    if (parseTimeOfDay(text) === undefined) v.fail('POLICY_VALUE', [...path, key], expected, describeValue(text));
    return text;
  };
  const from = clock('from');
  const to = clock('to');
  if (from === to) v.fail('POLICY_VALUE', [...path, 'to'], `a time other than from (${from}); the window is [from, to)`, describeValue(to));
  const timezone = raw.timezone;
  if (typeof timezone !== 'string') v.fail('POLICY_TYPE', [...path, 'timezone'], 'an IANA time zone name such as Europe/Berlin', describeValue(timezone));
  const problem = checkTimezone(timezone);
  if (problem !== undefined) v.fail('POLICY_VALUE', [...path, 'timezone'], `an IANA time zone name such as Europe/Berlin (${problem})`, describeValue(timezone));
  return { timeOfDay: { from, to, timezone } };
}

function deviceCommand(v: Validator, value: unknown, path: Path, declared: TypeDeclarations): DeviceCommand {
  const raw = v.object(value, path, ['command'], ['args', 'target']);
  const command = v.name(raw.command, [...path, 'command']);
  const target = raw.target === undefined ? 'device' : v.oneOf(raw.target, [...path, 'target'], ['device', 'group'] as const);
  // A group command goes to the group's devices whose types declare it, not to this type's devices.
  if (target === 'device' && declared.commands.size > 0) reference(v, declared.commands, command, [...path, 'command'], `command of device type ${declared.name}`);
  const argsRaw = v.mapping(raw.args === undefined ? {} : raw.args, [...path, 'args']);
  const keys = Object.keys(argsRaw);
  if (keys.length > COMMAND_ARGS_MAX) v.fail('POLICY_LIMIT', [...path, 'args'], `at most ${COMMAND_ARGS_MAX} arguments`, `${keys.length}`);
  const args: Record<string, string> = {};
  for (const key of [...keys].sort()) {
    v.name(key, [...path, 'args', key]);
    args[key] = v.text(argsRaw[key], [...path, 'args', key]);
  }
  return { command, args, target };
}

function ruleSpec(v: Validator, value: unknown, path: Path, ctx: RuleContext): RuleSpec {
  const raw = v.object(value, path, ['name', 'from', 'to', 'when'], ['commands']);
  const name = v.name(raw.name, [...path, 'name']);
  const from = v.name(raw.from, [...path, 'from']);
  if (from !== 'any') reference(v, ctx.own.states, from, [...path, 'from'], `state of device type ${ctx.own.name} (or any)`);
  const to = v.name(raw.to, [...path, 'to']);
  reference(v, ctx.own.states, to, [...path, 'to'], `state of device type ${ctx.own.name}`);
  if (from === to) v.fail('POLICY_VALUE', [...path, 'to'], `a state other than "from" (${from})`, describeValue(to));
  const when = condition(v, raw.when, [...path, 'when'], 1, ctx);
  const commandsPath = [...path, 'commands'];
  const commands = v.list(raw.commands ?? [], commandsPath, 0, COMMANDS_PER_RULE_MAX)
    .map((item, i) => deviceCommand(v, item, [...commandsPath, i], ctx.own));
  return { name, from, to, when, commands };
}

/** checkImagePins refuses a document that pins one image name to two digests (a copy-paste slip). */
function checkImagePins(v: Validator, types: ReadonlyArray<Omit<DeviceTypeSpec, 'rules'>>): void {
  const first = new Map<string, { digest: string; path: Path }>();
  types.forEach((type, t) => type.states.forEach((state, s) => {
    if (!('chain' in state)) return;
    state.chain.forEach((image, i) => {
      const path = ['deviceTypes', t, 'states', s, 'chain', i, 'digest'];
      const earlier = first.get(image.name);
      if (earlier === undefined) first.set(image.name, { digest: image.digest, path });
      else if (earlier.digest !== image.digest) {
        v.fail('POLICY_VALUE', path, `${earlier.digest} (image ${image.name} is pinned so at ${formatPath(earlier.path)})`, describeValue(image.digest));
      }
    });
  }));
}

/**
 * validatePolicy checks a policy document that arrived as plain data (JSON inside a signed command,
 * or YAML already parsed) and returns it normalized. It throws PolicyError naming `source`, the path,
 * what was expected and what was found.
 */
export function validatePolicy(value: unknown, source: string): PolicyDocument {
  const v = new Validator(source);
  const raw = v.object(value, [], ['domain', 'version', 'deviceTypes'], []);
  const domain = v.name(raw.domain, ['domain']);
  const version = v.integer(raw.version, ['version'], 1, Number.MAX_SAFE_INTEGER);
  const typesRaw = v.list(raw.deviceTypes, ['deviceTypes'], 1, DEVICE_TYPES_MAX);
  const typeNames = new Set<string>();
  const declared = typesRaw.map((item, i) => {
    const path = ['deviceTypes', i];
    const typeRaw = v.object(item, path, ['name', 'states'],
      ['description', 'sensors', 'alertTypes', 'initialState', 'rules', 'commands', 'sampling', 'samplingMs']);
    const spec = declarations(v, typeRaw, path);
    v.uniqueName(typeNames, spec.name, [...path, 'name'], 'device type');
    return { typeRaw, spec };
  });
  checkImagePins(v, declared.map(({ spec }) => spec));
  const types = new Map<string, TypeDeclarations>();
  const allStates = new Set<string>();
  for (const { spec } of declared) {
    types.set(spec.name, {
      name: spec.name,
      sensors: new Map(spec.sensors.map((s) => [s.name, s.type])),
      alertTypes: new Set(spec.alertTypes),
      states: new Set(spec.states.map((s) => s.name)),
      commands: new Set(spec.commands),
    });
    for (const state of spec.states) allStates.add(state.name);
  }
  const deviceTypes = declared.map(({ typeRaw, spec }, i): DeviceTypeSpec => {
    const own = types.get(spec.name);
    if (own === undefined) throw new Error('validatePolicy: declared type missing from its own index');
    const ctx: RuleContext = { own, types, allStates };
    const rulesPath = ['deviceTypes', i, 'rules'];
    const ruleNames = new Set<string>();
    const rules = v.list(typeRaw.rules ?? [], rulesPath, 0, RULES_MAX).map((item, r) => {
      const rule = ruleSpec(v, item, [...rulesPath, r], ctx);
      v.uniqueName(ruleNames, rule.name, [...rulesPath, r, 'name'], 'rule');
      return rule;
    });
    return { ...spec, rules };
  });
  return { domain, version, deviceTypes };
}
