// snapshot.ts — the policy engine's snapshot format and its validation on restore. A snapshot is
// plain canonical data (sorted by name, numbers as integers) so that equal engines give byte-equal
// JSON; restoring checks every field, since a snapshot may come from disk or another node.

import { NAME_PATTERN, STRING_VALUE_LENGTH_MAX } from './constants.js';
import { PolicyError, PolicyRejected } from './errors.js';
import type { PolicyDocument } from './model.js';
import { describeValue, validatePolicy } from './validate.js';

/** DeviceSnapshot is one device's state and bounded histories (numbers in milli-units). */
export interface DeviceSnapshot {
  id: string;
  type: string;
  domain: string;
  group: string;
  tags: string[];
  state: string;
  sinceMs: number;
  rule: string;
  cause: string;
  sensors: Array<{ name: string; samples: Array<number | boolean | string> }>;
  alerts: Array<{ type: string; timesMs: number[] }>;
  timersMs: number[];
  /** clockMs is the pending time-of-day deadline; null when the device's type has no timeOfDay leaf. */
  clockMs: number | null;
}

/** EngineSnapshot is PolicyEngine.snapshot(): every domain's document and every device, sorted. */
export interface EngineSnapshot {
  format: 2;
  nowMs: number;
  policies: PolicyDocument[];
  devices: DeviceSnapshot[];
}

type Plain = Record<string, unknown>;

function bad(path: string, expected: string, found: unknown): never {
  throw new PolicyRejected('BAD_SNAPSHOT', `snapshot ${path}: expected ${expected}, found ${describeValue(found)}`);
}

function record(value: unknown, path: string, keys: readonly string[]): Plain {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad(path, 'a mapping', value);
  const plain = value as Plain;
  const actual = Object.keys(plain);
  if (actual.length !== keys.length || !keys.every((k) => k in plain)) bad(path, `exactly the keys ${keys.join(', ')}`, value);
  return plain;
}

function list(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) bad(path, 'a list', value);
  return value;
}

function time(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) bad(path, 'a non-negative integer', value);
  return value;
}

function name(value: unknown, path: string): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) bad(path, 'a name', value);
  return value;
}

function text(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length > STRING_VALUE_LENGTH_MAX) bad(path, 'a short string', value);
  return value;
}

/** sortedUnique checks that names are strictly ascending (the canonical order, without duplicates). */
function sortedUnique(names: string[], path: string): void {
  for (let i = 1; i < names.length; i++) {
    if ((names[i - 1] as string) >= (names[i] as string)) bad(path, 'names in strictly ascending order', names[i]);
  }
}

function ascendingTimes(value: unknown, path: string, strict: boolean): number[] {
  const times = list(value, path).map((t, i) => time(t, `${path}[${i}]`));
  for (let i = 1; i < times.length; i++) {
    const ordered = strict ? (times[i - 1] as number) < (times[i] as number) : (times[i - 1] as number) <= (times[i] as number);
    if (!ordered) bad(`${path}[${i}]`, 'times in ascending order', times[i]);
  }
  return times;
}

function deviceSnapshot(value: unknown, path: string): DeviceSnapshot {
  const raw = record(value, path, ['id', 'type', 'domain', 'group', 'tags', 'state', 'sinceMs', 'rule', 'cause', 'sensors', 'alerts', 'timersMs', 'clockMs']);
  const tags = list(raw.tags, `${path}.tags`).map((t, i) => name(t, `${path}.tags[${i}]`));
  sortedUnique(tags, `${path}.tags`);
  const sensors = list(raw.sensors, `${path}.sensors`).map((item, i) => {
    const at = `${path}.sensors[${i}]`;
    const s = record(item, at, ['name', 'samples']);
    const samples = list(s.samples, `${at}.samples`).map((sample, j) => {
      if (typeof sample === 'boolean' || (typeof sample === 'number' && Number.isSafeInteger(sample))) return sample;
      return typeof sample === 'string' ? text(sample, `${at}.samples[${j}]`) : bad(`${at}.samples[${j}]`, 'an integer, boolean or string', sample);
    });
    return { name: name(s.name, `${at}.name`), samples };
  });
  sortedUnique(sensors.map((s) => s.name), `${path}.sensors`);
  const alerts = list(raw.alerts, `${path}.alerts`).map((item, i) => {
    const at = `${path}.alerts[${i}]`;
    const a = record(item, at, ['type', 'timesMs']);
    return { type: name(a.type, `${at}.type`), timesMs: ascendingTimes(a.timesMs, `${at}.timesMs`, false) };
  });
  sortedUnique(alerts.map((a) => a.type), `${path}.alerts`);
  return {
    id: name(raw.id, `${path}.id`), type: name(raw.type, `${path}.type`), domain: name(raw.domain, `${path}.domain`),
    group: name(raw.group, `${path}.group`), tags, state: name(raw.state, `${path}.state`), sinceMs: time(raw.sinceMs, `${path}.sinceMs`),
    rule: name(raw.rule, `${path}.rule`), cause: text(raw.cause, `${path}.cause`), sensors, alerts,
    timersMs: ascendingTimes(raw.timersMs, `${path}.timersMs`, true),
    clockMs: raw.clockMs === null ? null : time(raw.clockMs, `${path}.clockMs`),
  };
}

/**
 * restoreSnapshot checks a value that should be an EngineSnapshot and returns it typed, with every
 * policy document validated. Throws PolicyRejected (BAD_SNAPSHOT) naming the path that is wrong.
 */
export function restoreSnapshot(value: unknown): EngineSnapshot {
  const raw = record(value, '(root)', ['format', 'nowMs', 'policies', 'devices']);
  if (raw.format !== 2) bad('format', '2 (this version\'s engine snapshot)', raw.format);
  const policies = list(raw.policies, 'policies').map((doc, i) => {
    try {
      return validatePolicy(doc, `snapshot policies[${i}]`);
    } catch (error) {
      if (error instanceof PolicyError) throw new PolicyRejected('BAD_SNAPSHOT', error.message);
      throw error;
    }
  });
  sortedUnique(policies.map((p) => p.domain), 'policies');
  const devices = list(raw.devices, 'devices').map((d, i) => deviceSnapshot(d, `devices[${i}]`));
  sortedUnique(devices.map((d) => d.id), 'devices');
  return { format: 2, nowMs: time(raw.nowMs, 'nowMs'), policies, devices };
}
