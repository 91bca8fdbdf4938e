// compile.ts — a validated policy document turned into what the evaluator needs: thresholds as
// milli-unit integers, rules indexed by the alert types, sensors and selectors they refer to, the
// history each sensor and alert type must keep, the time-in-state thresholds of every state, and the
// wall-clock boundaries of its time-of-day conditions.

import assert from 'node:assert/strict';
import { BUILTIN_ALERT_TYPES } from './constants.js';
import { toMilli } from './decimal.js';
import type {
  Aggregate,
  ComparisonOp,
  Condition,
  DeviceCommand,
  DeviceSelector,
  DeviceTypeSpec,
  PolicyDocument,
  SensorKind,
  StateSpec,
} from './model.js';
import { nextBoundaryMs, parseTimeOfDay } from './time-of-day.js';

/** SensorValue is a stored reading: numbers are milli-unit integers. */
export type SensorValue = number | boolean | string;

/** WatchClause is one `devices` condition: who watches (type, rule) and whom (selector, what changes). */
export interface WatchClause {
  watcherType: string;
  ruleIndex: number;
  select: DeviceSelector;
  inStates: ReadonlySet<string> | undefined;
  sensor: { name: string; op: ComparisonOp; value: SensorValue } | undefined;
  quantifier: 'any' | 'all' | 'count';
  count: { op: ComparisonOp; n: number } | undefined;
}

/** CompiledCondition is a condition with integer thresholds and resolved clauses. */
export type CompiledCondition =
  | { kind: 'all'; children: CompiledCondition[] }
  | { kind: 'any'; children: CompiledCondition[] }
  | { kind: 'not'; child: CompiledCondition }
  | { kind: 'alert'; type: string; atLeast: number; withinMs: number }
  | { kind: 'sensor'; name: string; op: ComparisonOp; value: SensorValue; last: number; aggregate: Aggregate }
  | { kind: 'devices'; clause: WatchClause }
  | { kind: 'time'; atLeastMs: number }
  | { kind: 'clock'; fromMinute: number; toMinute: number; timezone: string };

/** CompiledRule is a rule with its condition compiled and the triggers it refers to. */
export interface CompiledRule {
  index: number;
  name: string;
  from: string;
  to: string;
  when: CompiledCondition;
  commands: DeviceCommand[];
  timeThresholdsMs: number[];
}

/** CompiledType is one device type ready for evaluation. */
export interface CompiledType {
  spec: DeviceTypeSpec;
  states: ReadonlyMap<string, StateSpec>;
  sensorKinds: ReadonlyMap<string, SensorKind>;
  /** sensorCaps: samples kept per sensor (the largest `last` referring to it, at least 1). */
  sensorCaps: Map<string, number>;
  /** alertCaps: timestamps kept per alert type (the largest `atLeast`; 0 when no rule refers to it). */
  alertCaps: Map<string, number>;
  /** alertWindowsMs: the largest `withinMs` per alert type; older alerts are pruned. */
  alertWindowsMs: Map<string, number>;
  rules: CompiledRule[];
  rulesByAlert: Map<string, number[]>;
  rulesBySensor: Map<string, number[]>;
  timeRules: number[];
  /** timeThresholdsMs: per state, the distinct timeInState thresholds of the rules that apply from it. */
  timeThresholdsMs: Map<string, number[]>;
  /** clockRules: the rules with a timeOfDay leaf, considered when a time-of-day deadline fires. */
  clockRules: number[];
  /** clockZones: per time zone, the distinct boundaries (minutes of the day) of the type's timeOfDay leaves. */
  clockZones: Map<string, number[]>;
  /** sensorBounds: per number sensor with bounds, min and max in milli-units. */
  sensorBounds: Map<string, { minMilli: number | undefined; maxMilli: number | undefined }>;
  /** commands: the commands the type declares (what a group command may reach). */
  commands: ReadonlySet<string>;
  /** clockMemo: the last nextClockMs answer (devices of one type share their deadline); a cache, not state. */
  clockMemo: { atMs: number; dueMs: number } | undefined;
}

/** CompiledDomain is one domain's compiled policy document. */
export interface CompiledDomain {
  doc: PolicyDocument;
  types: Map<string, CompiledType>;
  /** clausesBySelectedType: the clauses that can select a device of a given type. */
  clausesBySelectedType: Map<string, WatchClause[]>;
}

function milli(value: number | boolean | string): SensorValue {
  if (typeof value !== 'number') return value;
  const result = toMilli(value, false);
  assert.ok(result.ok, `compile: threshold ${value} was validated as exact milli-units`);
  return result.milli;
}

function addIndex(index: Map<string, number[]>, key: string, ruleIndex: number): void {
  const list = index.get(key) ?? [];
  if (list[list.length - 1] !== ruleIndex) list.push(ruleIndex);
  index.set(key, list);
}

/** ruleRefs collects, while compiling one rule, what it refers to. */
interface RuleRefs {
  type: CompiledType;
  ruleIndex: number;
  typeName: string;
  clauses: WatchClause[];
  timeThresholdsMs: Set<number>;
  clock: boolean;
}

function compileCondition(condition: Condition, refs: RuleRefs): CompiledCondition {
  if ('all' in condition) return { kind: 'all', children: condition.all.map((c) => compileCondition(c, refs)) };
  if ('any' in condition) return { kind: 'any', children: condition.any.map((c) => compileCondition(c, refs)) };
  if ('not' in condition) return { kind: 'not', child: compileCondition(condition.not, refs) };
  if ('alert' in condition) {
    const { type, atLeast, withinMs } = condition.alert;
    addIndex(refs.type.rulesByAlert, type, refs.ruleIndex);
    refs.type.alertCaps.set(type, Math.max(refs.type.alertCaps.get(type) ?? 0, atLeast));
    refs.type.alertWindowsMs.set(type, Math.max(refs.type.alertWindowsMs.get(type) ?? 0, withinMs));
    return { kind: 'alert', type, atLeast, withinMs };
  }
  if ('sensor' in condition) {
    const { name, op, value, over } = condition.sensor;
    addIndex(refs.type.rulesBySensor, name, refs.ruleIndex);
    refs.type.sensorCaps.set(name, Math.max(refs.type.sensorCaps.get(name) ?? 1, over.last));
    return { kind: 'sensor', name, op, value: milli(value), last: over.last, aggregate: over.aggregate };
  }
  if ('devices' in condition) {
    const d = condition.devices;
    const clause: WatchClause = {
      watcherType: refs.typeName,
      ruleIndex: refs.ruleIndex,
      select: { ...d.select },
      inStates: d.in === undefined ? undefined : new Set(d.in),
      sensor: d.sensor === undefined ? undefined : { name: d.sensor.name, op: d.sensor.op, value: milli(d.sensor.value) },
      quantifier: d.quantifier,
      count: d.count === undefined ? undefined : { ...d.count },
    };
    refs.clauses.push(clause);
    return { kind: 'devices', clause };
  }
  if ('timeOfDay' in condition) {
    const { from, to, timezone } = condition.timeOfDay;
    const fromMinute = parseTimeOfDay(from);
    const toMinute = parseTimeOfDay(to);
    assert.ok(fromMinute !== undefined && toMinute !== undefined, 'compile: timeOfDay was validated');
    const boundaries = new Set(refs.type.clockZones.get(timezone) ?? []).add(fromMinute).add(toMinute);
    refs.type.clockZones.set(timezone, [...boundaries].sort((a, b) => a - b));
    refs.clock = true;
    return { kind: 'clock', fromMinute, toMinute, timezone };
  }
  refs.timeThresholdsMs.add(condition.timeInState.atLeastMs);
  return { kind: 'time', atLeastMs: condition.timeInState.atLeastMs };
}

function boundsOf(spec: DeviceTypeSpec): CompiledType['sensorBounds'] {
  const bounds: CompiledType['sensorBounds'] = new Map();
  for (const sensor of spec.sensors) {
    if (sensor.min === undefined && sensor.max === undefined) continue;
    const minMilli = sensor.min === undefined ? undefined : milli(sensor.min) as number;
    const maxMilli = sensor.max === undefined ? undefined : milli(sensor.max) as number;
    bounds.set(sensor.name, { minMilli, maxMilli });
  }
  return bounds;
}

/**
 * nextClockMs is the first instant after `timeMs` at which one of the type's timeOfDay leaves may
 * change truth, or undefined when it has none. Devices of one type share the answer (memoized).
 */
export function nextClockMs(type: CompiledType, timeMs: number): number | undefined {
  if (type.clockZones.size === 0) return undefined;
  if (type.clockMemo?.atMs === timeMs) return type.clockMemo.dueMs;
  let dueMs = Number.MAX_SAFE_INTEGER;
  for (const [timezone, boundaries] of type.clockZones) dueMs = Math.min(dueMs, nextBoundaryMs(timeMs, timezone, boundaries));
  type.clockMemo = { atMs: timeMs, dueMs };
  return dueMs;
}

function emptyType(spec: DeviceTypeSpec): CompiledType {
  return {
    spec,
    states: new Map(spec.states.map((s) => [s.name, s])),
    sensorKinds: new Map(spec.sensors.map((s) => [s.name, s.type])),
    sensorCaps: new Map(spec.sensors.map((s) => [s.name, 1])),
    alertCaps: new Map([...spec.alertTypes, ...BUILTIN_ALERT_TYPES].map((a) => [a, 0])),
    alertWindowsMs: new Map([...spec.alertTypes, ...BUILTIN_ALERT_TYPES].map((a) => [a, 0])),
    rules: [],
    rulesByAlert: new Map(),
    rulesBySensor: new Map(),
    timeRules: [],
    timeThresholdsMs: new Map(),
    clockRules: [],
    clockZones: new Map(),
    sensorBounds: boundsOf(spec),
    commands: new Set(spec.commands),
    clockMemo: undefined,
  };
}

/** ruleAppliesFrom says whether a rule is considered for a device in `state` (`any` excludes `to`). */
export function ruleAppliesFrom(rule: { from: string; to: string }, state: string): boolean {
  return rule.from === state || (rule.from === 'any' && rule.to !== state);
}

/** compilePolicy compiles a document that validatePolicy returned. */
export function compilePolicy(doc: PolicyDocument): CompiledDomain {
  const types = new Map<string, CompiledType>();
  const clauses: WatchClause[] = [];
  for (const spec of doc.deviceTypes) types.set(spec.name, emptyType(spec));
  for (const spec of doc.deviceTypes) {
    const type = types.get(spec.name);
    assert.ok(type !== undefined, 'compilePolicy: type registered');
    spec.rules.forEach((rule, ruleIndex) => {
      const refs: RuleRefs = { type, ruleIndex, typeName: spec.name, clauses, timeThresholdsMs: new Set(), clock: false };
      const when = compileCondition(rule.when, refs);
      const timeThresholdsMs = [...refs.timeThresholdsMs].sort((a, b) => a - b);
      if (timeThresholdsMs.length > 0) type.timeRules.push(ruleIndex);
      if (refs.clock) type.clockRules.push(ruleIndex);
      type.rules.push({ index: ruleIndex, name: rule.name, from: rule.from, to: rule.to, when, commands: rule.commands, timeThresholdsMs });
    });
    for (const state of spec.states) {
      const thresholds = new Set<number>();
      for (const rule of type.rules) {
        if (ruleAppliesFrom(rule, state.name)) for (const t of rule.timeThresholdsMs) thresholds.add(t);
      }
      type.timeThresholdsMs.set(state.name, [...thresholds].sort((a, b) => a - b));
    }
  }
  // A devices clause naming a sensor needs the latest reading of the selected type's sensor (cap >= 1,
  // which every declared sensor already has).
  const clausesBySelectedType = new Map<string, WatchClause[]>();
  for (const spec of doc.deviceTypes) {
    clausesBySelectedType.set(spec.name, clauses.filter((c) => c.select.type === undefined || c.select.type === spec.name));
  }
  return { doc, types, clausesBySelectedType };
}
