// engine.ts — the deterministic policy evaluator. It holds every device's security state and bounded
// histories, and turns events (alerts, sensor readings, manual changes, device changes, time) into
// reactions. Pure: no clock, no timers, no randomness, no I/O; time is the entry time passed in, and
// numeric readings are milli-unit integers, so every node that applies the same events in the same
// order reaches the same states and the same snapshot.
//
// Evaluation rules (KalKi's model with its defects fixed):
// - A rule is considered only for an event its condition refers to: an alert of a type it names, a
//   reading of a sensor it names, a change (state, membership, or a named sensor) of a device its
//   `devices` selector matches, or a time-in-state deadline it names. Among the considered rules the
//   first, in declared order, whose `from` applies and whose condition holds wins.
// - One event moves each device at most once. A move is itself a change that other devices' rules may
//   watch, so a move can cascade, wave after wave, but a device that has moved in this event is not
//   evaluated again: cycles in the rules cannot loop. Within a wave devices go in id order.
// - Time never runs backwards inside the engine: an event stamped earlier than one already seen is
//   evaluated at the latest time seen. Every entry point first fires the time-in-state deadlines that
//   are due, as their own event, then handles its own event.
// - Time of day: a device whose type has timeOfDay leaves holds one more deadline, the next instant at
//   which one of them may change truth (a boundary, or a daylight-saving switch of its zone). It fires
//   like a time-in-state deadline, considers the rules with a timeOfDay leaf, and is re-armed from the
//   time it fired at. A device just added, and every device when a new document arrives, starts with
//   the deadline due at once, so its time-of-day rules are evaluated at the next event.
//   nextDeadlineMs() tells the node when to propose an empty batch so that a deadline fires.
// - A group command (`target: group`) reaches every device of the triggering device's domain and group
//   whose type declares the command, and the triggering device itself, in id order.

import assert from 'node:assert/strict';
import { compilePolicy, nextClockMs, ruleAppliesFrom, type CompiledCondition, type CompiledDomain, type CompiledRule, type CompiledType,
  type SensorValue, type WatchClause } from './compile.js';
import { DEVICE_TAGS_MAX, NAME_PATTERN, NAME_PATTERN_TEXT, STRING_VALUE_LENGTH_MAX, TIMER_HEAP_SLACK, TIMEZONE_CACHE_MAX } from './constants.js';
import { fromMilli, toMilli } from './decimal.js';
import { PolicyRejected, TelemetryRejected } from './errors.js';
import type { ComparisonOp, DeviceInfo, DeviceSelector, Plan, PolicyDocument, Reaction } from './model.js';
import { restoreSnapshot, type DeviceSnapshot, type EngineSnapshot } from './snapshot.js';
import { timeOfDayHolds, wallClock } from './time-of-day.js';
import { TimerHeap, type TimerEntry } from './timer-heap.js';
import { validatePolicy } from './validate.js';
import { TouchedMap } from '../state/touched-map.js';

/** DeviceRecord is the engine's state for one device. */
interface DeviceRecord {
  info: DeviceInfo;
  state: string;
  sinceMs: number;
  /** rule names what moved the device into its state: a rule, `manual`, `initial`, `device-type-changed`. */
  rule: string;
  /** cause is the reason given for a manual change ('' otherwise). */
  cause: string;
  /** sensors: oldest first, at most the type's cap per sensor; numbers are milli-units. */
  sensors: Map<string, SensorValue[]>;
  /** alerts: entry times, ascending, at most the type's cap and none older than its largest window. */
  alerts: Map<string, number[]>;
  /** timersMs: pending time-in-state deadlines, ascending. */
  timersMs: number[];
  /** epoch identifies the current timersMs in the heap; older heap entries are stale. */
  epoch: number;
  /** clockDueMs: the pending time-of-day deadline; null when the type has no timeOfDay leaf. */
  clockDueMs: number | null;
  /** clockEpoch identifies the current clockDueMs in the heap (epochs are unique across both kinds). */
  clockEpoch: number;
}

/** DomainIndex finds a domain's devices by type, group, tag, and type within group. */
interface DomainIndex {
  all: Set<string>;
  byType: Map<string, Set<string>>;
  byGroup: Map<string, Set<string>>;
  byTag: Map<string, Set<string>>;
  byTypeGroup: Map<string, Set<string>>;
}

/** Change is what happened to a device, for the rules of devices that watch it. */
type Change = { kind: 'membership' } | { kind: 'state' } | { kind: 'sensor'; name: string };

/** Pending maps a device id to the indexes of its type's rules an event asks to consider. */
type Pending = Map<string, Set<number>>;

const EMPTY: ReadonlySet<string> = new Set();

function typeGroupKey(type: string, group: string): string {
  return `${type}\u0000${group}`;
}

function addPending(pending: Pending, deviceId: string, ruleIndex: number): void {
  const set = pending.get(deviceId);
  if (set === undefined) pending.set(deviceId, new Set([ruleIndex]));
  else set.add(ruleIndex);
}

/** compare applies a comparison to integers (milli-units), booleans or strings. */
export function compare(left: SensorValue, op: ComparisonOp, right: SensorValue): boolean {
  switch (op) {
    case '==':
      return left === right;
    case '!=':
      return left !== right;
    default:
      assert.ok(typeof left === 'number' && typeof right === 'number', 'compare: ordering only between numbers');
      assert.ok(Number.isSafeInteger(left) && Number.isSafeInteger(right), 'compare: integers only');
      if (op === '<') return left < right;
      if (op === '<=') return left <= right;
      if (op === '>') return left > right;
      return left >= right;
  }
}

function selectorMatchesStatic(select: DeviceSelector, info: DeviceInfo): boolean {
  return (select.id === undefined || select.id === info.id)
    && (select.type === undefined || select.type === info.type)
    && (select.group === undefined || select.group === info.group)
    && (select.tag === undefined || info.tags.includes(select.tag));
}

function checkTime(timeMs: number): void {
  if (!Number.isSafeInteger(timeMs) || timeMs < 0) {
    throw new PolicyRejected('INVALID_TIME', `expected a time in ms as a non-negative safe integer, found ${String(timeMs)}`);
  }
}

function checkName(value: unknown, what: string): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw new PolicyRejected('INVALID_DEVICE', `${what}: expected ${NAME_PATTERN_TEXT}, found ${JSON.stringify(value)}`);
  }
  return value;
}

/** checkDevice validates a device description and returns a copy with its tags sorted. */
function checkDevice(d: DeviceInfo): DeviceInfo {
  const id = checkName(d.id, 'device id');
  const type = checkName(d.type, `device ${id}: type`);
  const domain = checkName(d.domain, `device ${id}: domain`);
  const group = checkName(d.group, `device ${id}: group`);
  if (!Array.isArray(d.tags) || d.tags.length > DEVICE_TAGS_MAX) {
    throw new PolicyRejected('INVALID_DEVICE', `device ${id}: tags: expected a list of at most ${DEVICE_TAGS_MAX} names`);
  }
  const tags = d.tags.map((tag, i) => checkName(tag, `device ${id}: tags[${i}]`)).sort();
  for (let i = 1; i < tags.length; i++) {
    if (tags[i] === tags[i - 1]) throw new PolicyRejected('INVALID_DEVICE', `device ${id}: tags: "${tags[i]}" appears twice`);
  }
  return { id, type, domain, group, tags };
}

/**
 * PolicyEngine evaluates the policy documents of every domain against its devices' events. Methods
 * that take input throw PolicyRejected (TelemetryRejected for alerts and readings) before changing
 * anything when the input is refused; otherwise they return the reactions, in a deterministic order.
 */
export class PolicyEngine {
  private readonly domains = new Map<string, CompiledDomain>();
  /** devices records touched ids for the incremental state hash; change a record only after get(). */
  private readonly devices = new TouchedMap<string, DeviceRecord>();
  private readonly indexes = new Map<string, DomainIndex>();
  private readonly heap = new TimerHeap();
  /** liveTimerCount: the heap entries that are not stale. Invariant: equals the sum of timersMs lengths. */
  private liveTimerCount = 0;
  private nextEpoch = 0;
  /** nowMs: the latest entry time seen; never decreases. */
  private nowMs = 0;
  /** minutesByZone: the wall-clock minute at nowMs per time zone, so one event reads each zone once (a cache). */
  private readonly minutesByZone = new Map<string, { atMs: number; minuteOfDay: number }>();
  /** work counts evaluation effort, for tests and benchmarks; it is diagnostics, not state (not in snapshots). */
  private readonly work = { devicesEvaluated: 0, devicesScanned: 0 };

  /** setPolicy replaces a domain's document. Throws PolicyRejected if a device of the domain would lose its type or state. */
  setPolicy(doc: PolicyDocument): void {
    const validated = validatePolicy(doc, `policy for domain ${String((doc as { domain?: unknown }).domain)}`);
    const compiled = compilePolicy(validated);
    const ids = [...(this.indexes.get(validated.domain)?.all ?? EMPTY)].sort();
    for (const id of ids) {
      const device = this.device(id);
      const type = compiled.types.get(device.info.type);
      if (type === undefined) {
        throw new PolicyRejected('POLICY_BREAKS_DEVICES', `policy v${validated.version} of domain ${validated.domain} drops device type ${device.info.type}, used by device ${id}`);
      }
      if (!type.states.has(device.state)) {
        throw new PolicyRejected('POLICY_BREAKS_DEVICES', `policy v${validated.version} of domain ${validated.domain} drops state ${device.state} of type ${device.info.type}, the current state of device ${id}`);
      }
    }
    this.domains.set(validated.domain, compiled);
    for (const id of ids) {
      const device = this.device(id);
      const type = this.typeOf(device);
      this.fitHistories(device, type);
      // Deadlines are re-armed from the time the device entered its state; any already passed fire at the next event.
      device.timersMs = (type.timeThresholdsMs.get(device.state) ?? []).map((t) => device.sinceMs + t);
      // Due now: the time-of-day rules of the new document are evaluated at the next event (in the state
      // machine, the onTime that ends this very entry), then re-armed at the next boundary.
      device.clockDueMs = type.clockZones.size === 0 ? null : this.nowMs;
    }
    this.rebuildHeap();
  }

  /** upsertDevice adds a device (in its type's initial state) or updates its group, tags, type or domain. */
  upsertDevice(d: DeviceInfo, timeMs: number): Reaction[] {
    const info = checkDevice(d);
    const domain = this.domains.get(info.domain);
    if (domain === undefined) throw new PolicyRejected('UNKNOWN_DOMAIN', `device ${info.id}: no policy for domain ${info.domain}`);
    const type = domain.types.get(info.type);
    if (type === undefined) {
      throw new PolicyRejected('UNKNOWN_DEVICE_TYPE', `device ${info.id}: domain ${info.domain} has no device type ${info.type} (it has ${[...domain.types.keys()].join(', ')})`);
    }
    checkTime(timeMs);
    const reactions: Reaction[] = [];
    this.advance(timeMs, reactions);
    const pending: Pending = new Map();
    const existing = this.devices.get(info.id);
    if (existing !== undefined && existing.info.domain === info.domain && existing.info.type === info.type) {
      if (existing.info.group === info.group && existing.info.tags.join('\u0000') === info.tags.join('\u0000')) return reactions;
      this.notify(existing, { kind: 'membership' }, pending);
      this.unindex(existing);
      existing.info = info;
      this.index(existing);
      this.notify(existing, { kind: 'membership' }, pending);
      this.evaluateWaves(pending, new Set(), reactions);
      return reactions;
    }
    if (existing !== undefined) {
      this.notify(existing, { kind: 'membership' }, pending);
      this.forget(existing);
    }
    const device: DeviceRecord = {
      info, state: type.spec.initialState, sinceMs: this.nowMs, rule: existing === undefined ? 'initial' : 'device-type-changed',
      cause: '', sensors: new Map(), alerts: new Map(), timersMs: [], epoch: 0, clockDueMs: null, clockEpoch: 0,
    };
    this.devices.set(info.id, device);
    this.index(device);
    this.schedule(device);
    this.armClock(device, true);
    if (existing !== undefined && existing.state !== device.state) {
      reactions.push({ kind: 'state', deviceId: info.id, from: existing.state, to: device.state, rule: device.rule, timeMs: this.nowMs });
    }
    this.notify(device, { kind: 'membership' }, pending);
    const moved = new Set<string>();
    if (existing !== undefined && existing.state !== device.state) moved.add(info.id);
    this.evaluateWaves(pending, moved, reactions);
    return reactions;
  }

  /** removeDevice forgets a device; devices whose rules watch it are re-evaluated at the latest time seen. */
  removeDevice(id: string): Reaction[] {
    const device = this.device(id);
    const pending: Pending = new Map();
    this.notify(device, { kind: 'membership' }, pending);
    this.forget(device);
    const reactions: Reaction[] = [];
    this.evaluateWaves(pending, new Set(), reactions);
    return reactions;
  }

  /** setState moves a device by hand (an admin's reset, say). Setting the current state again changes nothing. */
  setState(deviceId: string, state: string, timeMs: number, cause: string): Reaction[] {
    const device = this.device(deviceId);
    const type = this.typeOf(device);
    if (!type.states.has(state)) {
      throw new PolicyRejected('UNKNOWN_STATE', `device ${deviceId} of type ${device.info.type} has no state ${JSON.stringify(state)} (it has ${[...type.states.keys()].join(', ')})`);
    }
    if (typeof cause !== 'string' || cause.length > STRING_VALUE_LENGTH_MAX) {
      throw new PolicyRejected('INVALID_DEVICE', `cause: expected a string of at most ${STRING_VALUE_LENGTH_MAX} characters`);
    }
    checkTime(timeMs);
    const reactions: Reaction[] = [];
    this.advance(timeMs, reactions);
    if (device.state === state) return reactions;
    this.transition(device, state, 'manual', reactions);
    device.cause = cause;
    const pending: Pending = new Map();
    this.notify(device, { kind: 'state' }, pending);
    this.evaluateWaves(pending, new Set([deviceId]), reactions);
    return reactions;
  }

  /** onAlert records an alert (from a μmbox of the device) and evaluates the rules that name its type. */
  onAlert(deviceId: string, alertType: string, timeMs: number): Reaction[] {
    const device = this.device(deviceId);
    const type = this.typeOf(device);
    this.checkAlert(deviceId, alertType);
    const cap = type.alertCaps.get(alertType) ?? 0;
    checkTime(timeMs);
    const reactions: Reaction[] = [];
    this.advance(timeMs, reactions);
    if (cap > 0) {
      const times = device.alerts.get(alertType) ?? [];
      times.push(this.nowMs);
      this.trimAlerts(times, cap, type.alertWindowsMs.get(alertType) ?? 0);
      device.alerts.set(alertType, times);
    }
    const pending: Pending = new Map();
    for (const ruleIndex of type.rulesByAlert.get(alertType) ?? []) addPending(pending, deviceId, ruleIndex);
    this.evaluateWaves(pending, new Set(), reactions);
    return reactions;
  }

  /**
   * onSensor records a reading and evaluates the device's rules that name the sensor, and the rules of
   * devices that watch this sensor. Numbers are rounded half away from zero to milli-units. Throws
   * TelemetryRejected for an undeclared sensor, a value of the wrong type, non-finite or out of range.
   */
  onSensor(deviceId: string, sensor: string, value: number | boolean | string, timeMs: number): Reaction[] {
    const device = this.device(deviceId);
    const type = this.typeOf(device);
    const sample = this.checkReading(device, type, sensor, value);
    checkTime(timeMs);
    const reactions: Reaction[] = [];
    this.advance(timeMs, reactions);
    const samples = device.sensors.get(sensor) ?? [];
    samples.push(sample);
    const cap = type.sensorCaps.get(sensor) ?? 1;
    if (samples.length > cap) samples.splice(0, samples.length - cap);
    device.sensors.set(sensor, samples);
    const pending: Pending = new Map();
    for (const ruleIndex of type.rulesBySensor.get(sensor) ?? []) addPending(pending, deviceId, ruleIndex);
    this.notify(device, { kind: 'sensor', name: sensor }, pending);
    this.evaluateWaves(pending, new Set(), reactions);
    return reactions;
  }

  /** checkSensorReading throws exactly what onSensor would refuse the reading with, and changes nothing. */
  checkSensorReading(deviceId: string, sensor: string, value: number | boolean | string): void {
    const device = this.device(deviceId);
    this.checkReading(device, this.typeOf(device), sensor, value);
  }

  /** checkAlert throws exactly what onAlert would refuse the alert with, and changes nothing. */
  checkAlert(deviceId: string, alertType: string): void {
    const device = this.device(deviceId);
    const type = this.typeOf(device);
    if (!type.alertCaps.has(alertType)) {
      throw new TelemetryRejected('UNKNOWN_ALERT_TYPE', `device ${deviceId} of type ${device.info.type} declares no alert type ${JSON.stringify(alertType)} (it has ${type.spec.alertTypes.join(', ') || 'none'})`);
    }
  }

  /** onTime advances the engine's time and fires the time-in-state deadlines now due. */
  onTime(timeMs: number): Reaction[] {
    checkTime(timeMs);
    const reactions: Reaction[] = [];
    this.advance(timeMs, reactions);
    return reactions;
  }

  /**
   * nextDeadlineMs is the earliest pending deadline (time in state or time of day), or null when none is
   * pending. A deadline at or before the latest entry time fires with the next event; the node proposes
   * an empty telemetry batch when this time has come, so that rules move devices without a reading.
   */
  nextDeadlineMs(): number | null {
    for (let guard = this.heap.size; guard > 0; guard--) {
      const top = this.heap.peek();
      if (top === undefined || this.liveKind(top) !== undefined) break;
      this.heap.pop();
    }
    return this.heap.peek()?.dueMs ?? null;
  }

  /** deviceState is a device's current state, since when, and what moved it there. */
  deviceState(id: string): { state: string; sinceMs: number; rule: string; cause: string } | undefined {
    const device = this.devices.get(id);
    if (device === undefined) return undefined;
    return { state: device.state, sinceMs: device.sinceMs, rule: device.rule, cause: device.cause };
  }

  /** planFor is what the data plane must enforce for a device now: its state's μmbox chain or verdict. */
  planFor(deviceId: string): Plan | undefined {
    const device = this.devices.get(deviceId);
    if (device === undefined) return undefined;
    const spec = this.typeOf(device).states.get(device.state);
    assert.ok(spec !== undefined, `planFor: state ${device.state} exists in type ${device.info.type}`);
    if ('chain' in spec) return { state: device.state, chain: spec.chain.map((image) => ({ ...image })) };
    return { state: device.state, verdict: spec.verdict };
  }

  /** policy returns the document in force for a domain. */
  policy(domain: string): PolicyDocument | undefined {
    const compiled = this.domains.get(domain);
    return compiled === undefined ? undefined : structuredClone(compiled.doc);
  }

  /** deviceIds lists the devices the engine knows, sorted. */
  deviceIds(): string[] {
    return [...this.devices.keys()].sort();
  }

  /**
   * workDone reports cumulative evaluation effort since construction or restore: devices whose rules
   * were evaluated, devices looked at by `devices` conditions, and the timer heap's size. An event on
   * one device that no other device watches evaluates one device and scans none, whatever the count
   * of devices (the "touches only the devices an event can affect" promise).
   */
  workDone(): { devicesEvaluated: number; devicesScanned: number; timerHeapEntries: number; liveTimers: number } {
    return { ...this.work, timerHeapEntries: this.heap.size, liveTimers: this.liveTimerCount };
  }

  /** snapshot is the engine's whole state as canonical plain data (sorted, no Maps, numbers as integers). */
  snapshot(): EngineSnapshot {
    return { ...this.snapshotHead(), devices: this.deviceIds().map((id) => this.snapshotDevice(id) as DeviceSnapshot) };
  }

  /** snapshotHead is snapshot() with devices null (for the incremental state hash, src/state/state-hash.ts). */
  snapshotHead(): Omit<EngineSnapshot, 'devices'> & { devices: null } {
    const policies = [...this.domains.keys()].sort().map((domain) => structuredClone((this.domains.get(domain) as CompiledDomain).doc));
    return { format: 2, nowMs: this.nowMs, policies, devices: null };
  }

  /** snapshotDevice is one device's element of snapshot().devices, or undefined; it records no touch. */
  snapshotDevice(id: string): DeviceSnapshot | undefined {
    const d = this.devices.peek(id);
    if (d === undefined) return undefined;
    return {
      id, type: d.info.type, domain: d.info.domain, group: d.info.group, tags: [...d.info.tags],
      state: d.state, sinceMs: d.sinceMs, rule: d.rule, cause: d.cause,
      sensors: [...d.sensors.keys()].sort().map((name) => ({ name, samples: [...(d.sensors.get(name) ?? [])] })),
      alerts: [...d.alerts.keys()].sort().map((type) => ({ type, timesMs: [...(d.alerts.get(type) ?? [])] })),
      timersMs: [...d.timersMs],
      clockMs: d.clockDueMs,
    };
  }

  /** takeTouchedDevices lists the devices read or written since the last call (their snapshot may differ). */
  takeTouchedDevices(): Set<string> {
    return this.devices.takeTouched();
  }

  /** restore rebuilds an engine from snapshot(); it behaves, and snapshots, exactly as the original. */
  static restore(snapshot: unknown): PolicyEngine {
    const engine = new PolicyEngine();
    const restored = restoreSnapshot(snapshot);
    engine.nowMs = restored.nowMs;
    for (const doc of restored.policies) engine.domains.set(doc.domain, compilePolicy(doc));
    for (const d of restored.devices) {
      const where = `snapshot: device ${d.id}`;
      const domain = engine.domains.get(d.domain);
      const type = domain?.types.get(d.type);
      if (type === undefined) throw new PolicyRejected('BAD_SNAPSHOT', `${where}: no type ${d.type} in domain ${d.domain}`);
      if (!type.states.has(d.state)) throw new PolicyRejected('BAD_SNAPSHOT', `${where}: type ${d.type} has no state ${d.state}`);
      const device: DeviceRecord = {
        info: { id: d.id, type: d.type, domain: d.domain, group: d.group, tags: [...d.tags] },
        state: d.state, sinceMs: d.sinceMs, rule: d.rule, cause: d.cause,
        sensors: new Map(d.sensors.map((s) => [s.name, [...s.samples]])),
        alerts: new Map(d.alerts.map((a) => [a.type, [...a.timesMs]])),
        timersMs: [...d.timersMs], epoch: 0, clockDueMs: d.clockMs, clockEpoch: 0,
      };
      if ((d.clockMs === null) !== (type.clockZones.size === 0)) {
        throw new PolicyRejected('BAD_SNAPSHOT', `${where}: clockMs must be ${type.clockZones.size === 0 ? 'null (its type has no timeOfDay rule)' : 'a time (its type has timeOfDay rules)'}`);
      }
      engine.checkRestoredHistories(device, type, where);
      engine.devices.set(d.id, device);
      engine.index(device);
    }
    engine.rebuildHeap();
    return engine;
  }

  // ---- internals -------------------------------------------------------------------------------

  private device(id: string): DeviceRecord {
    const device = this.devices.get(id);
    if (device === undefined) throw new PolicyRejected('UNKNOWN_DEVICE', `no device ${JSON.stringify(id)}`);
    return device;
  }

  private typeOf(device: DeviceRecord): CompiledType {
    const type = this.domains.get(device.info.domain)?.types.get(device.info.type);
    assert.ok(type !== undefined, `device ${device.info.id}: its type ${device.info.type} exists in domain ${device.info.domain}`);
    return type;
  }

  private checkReading(device: DeviceRecord, type: CompiledType, sensor: string, value: unknown): SensorValue {
    const kind = type.sensorKinds.get(sensor);
    const where = `device ${device.info.id} (${device.info.type}) sensor ${JSON.stringify(sensor)}`;
    if (kind === undefined) {
      throw new TelemetryRejected('UNKNOWN_SENSOR', `${where}: not declared (the type has ${[...type.sensorKinds.keys()].join(', ') || 'none'})`);
    }
    if (typeof value !== kind) throw new TelemetryRejected('SENSOR_TYPE_MISMATCH', `${where}: expected a ${kind}, found ${typeof value}`);
    if (typeof value === 'number') {
      const milli = toMilli(value, true);
      if (!milli.ok) {
        throw milli.why === 'not-finite'
          ? new TelemetryRejected('SENSOR_VALUE_NOT_FINITE', `${where}: expected a finite number, found ${String(value)}`)
          : new TelemetryRejected('SENSOR_VALUE_OUT_OF_RANGE', `${where}: expected a magnitude of at most 1e9, found ${String(value)}`);
      }
      const bounds = type.sensorBounds.get(sensor);
      const below = bounds?.minMilli !== undefined && milli.milli < bounds.minMilli;
      const above = bounds?.maxMilli !== undefined && milli.milli > bounds.maxMilli;
      if (below || above) {
        const range = `${bounds?.minMilli === undefined ? '-1e9' : fromMilli(bounds.minMilli)}..${bounds?.maxMilli === undefined ? '1e9' : fromMilli(bounds.maxMilli)}`;
        throw new TelemetryRejected('SENSOR_VALUE_OUT_OF_RANGE', `${where}: expected a value in ${range} (the sensor's min/max), found ${String(value)}`);
      }
      return milli.milli;
    }
    if (typeof value === 'string' && value.length > STRING_VALUE_LENGTH_MAX) {
      throw new TelemetryRejected('SENSOR_VALUE_TOO_LONG', `${where}: expected at most ${STRING_VALUE_LENGTH_MAX} characters, found ${value.length}`);
    }
    return value as SensorValue;
  }

  private trimAlerts(times: number[], cap: number, windowMs: number): void {
    let drop = Math.max(0, times.length - cap);
    while (drop < times.length && (times[drop] as number) < this.nowMs - windowMs) drop++;
    if (drop > 0) times.splice(0, drop);
  }

  /** fitHistories drops or trims histories a new policy no longer wants (undeclared, retyped, over cap). */
  private fitHistories(device: DeviceRecord, type: CompiledType): void {
    for (const [name, samples] of [...device.sensors]) {
      const kind = type.sensorKinds.get(name);
      if (kind === undefined || samples.length === 0 || typeof samples[0] !== kind) {
        device.sensors.delete(name);
        continue;
      }
      const cap = type.sensorCaps.get(name) ?? 1;
      if (samples.length > cap) samples.splice(0, samples.length - cap);
    }
    for (const [alertType, times] of [...device.alerts]) {
      const cap = type.alertCaps.get(alertType) ?? 0;
      this.trimAlerts(times, cap, type.alertWindowsMs.get(alertType) ?? 0);
      if (times.length === 0) device.alerts.delete(alertType);
    }
  }

  private checkRestoredHistories(device: DeviceRecord, type: CompiledType, where: string): void {
    for (const [name, samples] of device.sensors) {
      const kind = type.sensorKinds.get(name);
      const cap = type.sensorCaps.get(name) ?? 0;
      const typed = samples.every((s) => typeof s === kind && (typeof s !== 'number' || Number.isSafeInteger(s)));
      if (kind === undefined || !typed || samples.length === 0 || samples.length > cap) {
        throw new PolicyRejected('BAD_SNAPSHOT', `${where}: sensor ${name}: expected 1 to ${cap} samples of type ${kind ?? '(undeclared)'}`);
      }
    }
    for (const [alertType, times] of device.alerts) {
      const cap = type.alertCaps.get(alertType) ?? 0;
      if (times.length === 0 || times.length > cap) {
        throw new PolicyRejected('BAD_SNAPSHOT', `${where}: alert ${alertType}: expected 1 to ${cap} times`);
      }
    }
  }

  private index(device: DeviceRecord): void {
    const { id, domain, type, group, tags } = device.info;
    let index = this.indexes.get(domain);
    if (index === undefined) {
      index = { all: new Set(), byType: new Map(), byGroup: new Map(), byTag: new Map(), byTypeGroup: new Map() };
      this.indexes.set(domain, index);
    }
    index.all.add(id);
    const add = (map: Map<string, Set<string>>, key: string): void => {
      const set = map.get(key);
      if (set === undefined) map.set(key, new Set([id]));
      else set.add(id);
    };
    add(index.byType, type);
    add(index.byGroup, group);
    add(index.byTypeGroup, typeGroupKey(type, group));
    for (const tag of tags) add(index.byTag, tag);
  }

  private unindex(device: DeviceRecord): void {
    const { id, domain, type, group, tags } = device.info;
    const index = this.indexes.get(domain);
    assert.ok(index !== undefined && index.all.has(id), `unindex: device ${id} is indexed`);
    index.all.delete(id);
    const remove = (map: Map<string, Set<string>>, key: string): void => {
      const set = map.get(key);
      set?.delete(id);
      if (set !== undefined && set.size === 0) map.delete(key);
    };
    remove(index.byType, type);
    remove(index.byGroup, group);
    remove(index.byTypeGroup, typeGroupKey(type, group));
    for (const tag of tags) remove(index.byTag, tag);
    if (index.all.size === 0) this.indexes.delete(domain);
  }

  private forget(device: DeviceRecord): void {
    this.unindex(device);
    this.devices.delete(device.info.id);
    this.liveTimerCount -= device.timersMs.length + (device.clockDueMs === null ? 0 : 1);
    device.timersMs = [];
    device.clockDueMs = null;
  }

  /**
   * armClock sets the device's time-of-day deadline to its type's next boundary after now, or to now
   * itself (`dueNow`, for a device just added: its time-of-day rules are evaluated at the next event,
   * so a device added inside a window does not wait for the window's end). None without timeOfDay leaves.
   */
  private armClock(device: DeviceRecord, dueNow = false): void {
    if (device.clockDueMs !== null) this.liveTimerCount -= 1;
    device.clockEpoch = ++this.nextEpoch;
    const next = nextClockMs(this.typeOf(device), this.nowMs);
    device.clockDueMs = next === undefined ? null : dueNow ? this.nowMs : next;
    if (device.clockDueMs === null) return;
    this.heap.push({ dueMs: device.clockDueMs, deviceId: device.info.id, epoch: device.clockEpoch });
    this.liveTimerCount += 1;
  }

  /** liveKind says what a heap entry is for, or undefined when it is stale (its device moved on or is gone). */
  private liveKind(entry: TimerEntry): 'state' | 'clock' | undefined {
    const device = this.devices.get(entry.deviceId);
    if (device === undefined) return undefined;
    if (entry.epoch === device.epoch && device.timersMs.includes(entry.dueMs)) return 'state';
    if (entry.epoch === device.clockEpoch && device.clockDueMs === entry.dueMs) return 'clock';
    return undefined;
  }

  /** schedule arms the deadlines of the device's current state, measured from when it entered it. */
  private schedule(device: DeviceRecord): void {
    this.liveTimerCount -= device.timersMs.length;
    device.epoch = ++this.nextEpoch;
    device.timersMs = (this.typeOf(device).timeThresholdsMs.get(device.state) ?? []).map((t) => device.sinceMs + t);
    for (const dueMs of device.timersMs) this.heap.push({ dueMs, deviceId: device.info.id, epoch: device.epoch });
    this.liveTimerCount += device.timersMs.length;
    if (this.heap.size > 2 * this.liveTimerCount + TIMER_HEAP_SLACK) this.rebuildHeap();
  }

  private rebuildHeap(): void {
    this.heap.clear();
    this.liveTimerCount = 0;
    for (const id of this.deviceIds()) {
      const device = this.device(id);
      device.epoch = ++this.nextEpoch;
      for (const dueMs of device.timersMs) this.heap.push({ dueMs, deviceId: id, epoch: device.epoch });
      this.liveTimerCount += device.timersMs.length;
      device.clockEpoch = ++this.nextEpoch;
      if (device.clockDueMs !== null) {
        this.heap.push({ dueMs: device.clockDueMs, deviceId: id, epoch: device.clockEpoch });
        this.liveTimerCount += 1;
      }
    }
  }

  /** advance moves time forward and fires due deadlines, as one event. */
  private advance(timeMs: number, reactions: Reaction[]): void {
    if (timeMs > this.nowMs) this.nowMs = timeMs;
    const pending: Pending = new Map();
    for (let guard = this.heap.size; guard > 0; guard--) {
      const top = this.heap.peek();
      if (top === undefined || top.dueMs > this.nowMs) break;
      this.heap.pop();
      const device = this.devices.get(top.deviceId);
      if (device === undefined) continue;
      if (device.clockEpoch === top.epoch && device.clockDueMs === top.dueMs) {
        // Re-armed from now: the next boundary after the latest entry time (pushed beyond nowMs, so
        // this loop does not pop it again).
        this.armClock(device);
        for (const ruleIndex of this.typeOf(device).clockRules) addPending(pending, top.deviceId, ruleIndex);
        continue;
      }
      if (device.epoch !== top.epoch) continue;
      const at = device.timersMs.indexOf(top.dueMs);
      assert.ok(at >= 0, `advance: live deadline ${top.dueMs} of ${top.deviceId} is in its timers`);
      device.timersMs.splice(at, 1);
      this.liveTimerCount -= 1;
      for (const ruleIndex of this.typeOf(device).timeRules) addPending(pending, top.deviceId, ruleIndex);
    }
    this.evaluateWaves(pending, new Set(), reactions);
  }

  /** notify adds, for each device whose rules watch `device` for this change, those rules to `pending`. */
  private notify(device: DeviceRecord, change: Change, pending: Pending): void {
    const domain = this.domains.get(device.info.domain);
    const index = this.indexes.get(device.info.domain);
    if (domain === undefined || index === undefined) return;
    for (const clause of domain.clausesBySelectedType.get(device.info.type) ?? []) {
      const relevant = change.kind === 'membership'
        || (change.kind === 'state' && clause.inStates !== undefined)
        || (change.kind === 'sensor' && clause.sensor?.name === change.name);
      if (!relevant || !selectorMatchesStatic(clause.select, device.info)) continue;
      const watchers = clause.select.sameGroup === true
        ? index.byTypeGroup.get(typeGroupKey(clause.watcherType, device.info.group))
        : index.byType.get(clause.watcherType);
      for (const watcher of watchers ?? EMPTY) {
        if (watcher !== device.info.id) addPending(pending, watcher, clause.ruleIndex);
      }
    }
  }

  /** evaluateWaves runs the considered rules, wave after wave, each device moving at most once. */
  private evaluateWaves(first: Pending, moved: Set<string>, reactions: Reaction[]): void {
    let wave = first;
    for (let round = 0; wave.size > 0; round++) {
      assert.ok(round <= this.devices.size + 1, 'evaluateWaves: a cascade ends (each device moves at most once)');
      const next: Pending = new Map();
      for (const id of [...wave.keys()].sort()) {
        const device = this.devices.get(id);
        if (device === undefined || moved.has(id)) continue;
        const candidates = [...(wave.get(id) ?? [])].sort((a, b) => a - b);
        this.work.devicesEvaluated += 1;
        const rule = this.firstMatch(device, candidates);
        if (rule === undefined) continue;
        this.transition(device, rule.to, rule.name, reactions);
        for (const command of rule.commands) {
          const targets = command.target === 'group' ? this.groupTargets(device, command.command) : [id];
          for (const target of targets) reactions.push({ kind: 'command', deviceId: target, command: command.command, args: { ...command.args } });
        }
        moved.add(id);
        this.notify(device, { kind: 'state' }, next);
      }
      wave = next;
    }
  }

  private firstMatch(device: DeviceRecord, candidates: number[]): CompiledRule | undefined {
    const type = this.typeOf(device);
    for (const ruleIndex of candidates) {
      const rule = type.rules[ruleIndex];
      assert.ok(rule !== undefined, `firstMatch: rule ${ruleIndex} of ${device.info.type}`);
      if (ruleAppliesFrom(rule, device.state) && this.holds(device, rule.when)) return rule;
    }
    return undefined;
  }

  private transition(device: DeviceRecord, to: string, rule: string, reactions: Reaction[]): void {
    const from = device.state;
    assert.ok(from !== to, `transition: ${device.info.id} moves to a different state`);
    device.state = to;
    device.sinceMs = this.nowMs;
    device.rule = rule;
    device.cause = '';
    this.schedule(device);
    reactions.push({ kind: 'state', deviceId: device.info.id, from, to, rule, timeMs: this.nowMs });
  }

  private holds(device: DeviceRecord, condition: CompiledCondition): boolean {
    switch (condition.kind) {
      case 'all':
        return condition.children.every((c) => this.holds(device, c));
      case 'any':
        return condition.children.some((c) => this.holds(device, c));
      case 'not':
        return !this.holds(device, condition.child);
      case 'alert': {
        const times = device.alerts.get(condition.type) ?? [];
        if (times.length < condition.atLeast) return false;
        return (times[times.length - condition.atLeast] as number) >= this.nowMs - condition.withinMs;
      }
      case 'sensor':
        return this.sensorHolds(device.sensors.get(condition.name) ?? [], condition);
      case 'devices':
        return this.devicesHold(device, condition.clause);
      case 'time':
        return this.nowMs - device.sinceMs >= condition.atLeastMs;
      case 'clock':
        return timeOfDayHolds(this.minuteOfDay(condition.timezone), condition.fromMinute, condition.toMinute);
    }
  }

  /** minuteOfDay is the wall-clock minute of the latest entry time in a time zone. */
  private minuteOfDay(timezone: string): number {
    const cached = this.minutesByZone.get(timezone);
    if (cached?.atMs === this.nowMs) return cached.minuteOfDay;
    if (this.minutesByZone.size >= TIMEZONE_CACHE_MAX) this.minutesByZone.clear();
    const minuteOfDay = wallClock(this.nowMs, timezone).minuteOfDay;
    this.minutesByZone.set(timezone, { atMs: this.nowMs, minuteOfDay });
    return minuteOfDay;
  }

  /**
   * groupTargets lists the devices a group command reaches, in id order: every device of the triggering
   * device's domain and group whose type declares the command (the triggering device too, if its type
   * declares it). A sensor whose reading orders the plugs of its group off is not itself switched off.
   */
  private groupTargets(trigger: DeviceRecord, command: string): string[] {
    const members = this.indexes.get(trigger.info.domain)?.byGroup.get(trigger.info.group) ?? EMPTY;
    const targets: string[] = [];
    for (const id of members) {
      const other = this.devices.get(id);
      if (other === undefined) continue;
      if (this.typeOf(other).commands.has(command)) targets.push(id);
    }
    return targets.sort();
  }

  /**
   * sensorHolds compares the last `last` samples; with too few samples it is false. `none` needs every
   * sample to compare true; `avg` compares the sum with value × k, so no division is ever made.
   */
  private sensorHolds(samples: SensorValue[], c: Extract<CompiledCondition, { kind: 'sensor' }>): boolean {
    if (samples.length < c.last) return false;
    const window = samples.slice(samples.length - c.last);
    if (c.aggregate === 'none') return window.every((s) => compare(s, c.op, c.value));
    const numbers = window as number[];
    const value = c.value as number;
    switch (c.aggregate) {
      case 'avg':
        return compare(numbers.reduce((a, b) => a + b, 0), c.op, value * c.last);
      case 'sum':
        return compare(numbers.reduce((a, b) => a + b, 0), c.op, value);
      case 'min':
        return compare(Math.min(...numbers), c.op, value);
      case 'max':
        return compare(Math.max(...numbers), c.op, value);
    }
  }

  /** devicesHold counts the other devices the selector picks and those among them that match. */
  private devicesHold(watcher: DeviceRecord, clause: WatchClause): boolean {
    let selected = 0;
    let matching = 0;
    for (const id of this.candidates(watcher, clause.select)) {
      const device = this.devices.get(id);
      this.work.devicesScanned += 1;
      if (device === undefined || id === watcher.info.id || !selectorMatchesStatic(clause.select, device.info)) continue;
      if (clause.select.sameGroup === true && device.info.group !== watcher.info.group) continue;
      selected += 1;
      if (clause.inStates !== undefined && !clause.inStates.has(device.state)) continue;
      if (clause.sensor !== undefined) {
        const samples = device.sensors.get(clause.sensor.name);
        const latest = samples?.[samples.length - 1];
        if (latest === undefined || !compare(latest, clause.sensor.op, clause.sensor.value)) continue;
      }
      matching += 1;
    }
    if (clause.quantifier === 'any') return matching > 0;
    // `all` over an empty selection is false: "every light is off" must not hold when there are no lights.
    if (clause.quantifier === 'all') return selected > 0 && matching === selected;
    assert.ok(clause.count !== undefined, 'devicesHold: count quantifier has a count');
    return compare(matching, clause.count.op, clause.count.n);
  }

  /** candidates is the smallest indexed set that contains every device the selector can pick. */
  private candidates(watcher: DeviceRecord, select: DeviceSelector): ReadonlySet<string> {
    const index = this.indexes.get(watcher.info.domain);
    if (index === undefined) return EMPTY;
    if (select.id !== undefined) return index.all.has(select.id) ? new Set([select.id]) : EMPTY;
    const sets: Array<ReadonlySet<string>> = [];
    const group = select.sameGroup === true ? watcher.info.group : select.group;
    if (select.type !== undefined && group !== undefined) sets.push(index.byTypeGroup.get(typeGroupKey(select.type, group)) ?? EMPTY);
    if (select.type !== undefined) sets.push(index.byType.get(select.type) ?? EMPTY);
    if (group !== undefined) sets.push(index.byGroup.get(group) ?? EMPTY);
    if (select.tag !== undefined) sets.push(index.byTag.get(select.tag) ?? EMPTY);
    let best: ReadonlySet<string> = index.all;
    for (const set of sets) if (set.size < best.size) best = set;
    return sets.length === 0 ? index.all : best;
  }
}
