// polling-adapter.ts — what the HTTP adapters (generic JSON and Hue) share: one poll loop per device at its
// sampling interval with at most one request in flight and a time limit below the interval, liveness, the
// bounds and counters, and the checks of execute. A protocol supplies how to read and how to command.
import { strict as assert } from 'node:assert';
import { HTTP_TIMEOUT_MAX_MS, LIVENESS_CHECK_MS, MAX_COMMAND_TIMEOUT_MS } from './constants.js';
import { badInput } from './errors.js';
import { HttpClient } from './http-request.js';
import { Counters, resolveLimits } from './limits.js';
import { Liveness } from './liveness.js';
import type {
  AdapterEvents, AdapterHealth, AdapterLimits, CommandOutcome, CommandRequest, DeviceAdapter, DeviceAdapterInit, WatchedDevice,
} from './port.js';
import { checkDeviceId, checkSamplingMs, checkTimeoutMs, checkWatchedDevice } from './validate.js';

/** ReadResult is one poll's outcome: sensor values, or a failure counted under `drop`. */
export type ReadResult = { ok: true; values: Record<string, unknown>; bytes: number } | { ok: false; drop: string; reason: string };

/** Polled is one watched device with the protocol's prepared form of it. */
interface Polled<Prepared> {
  device: WatchedDevice;
  prepared: Prepared;
  timer: NodeJS.Timeout | null;
  inFlight: boolean;
}

/** PollingAdapter runs the poll loops; subclasses implement prepare, read and command. */
export abstract class PollingAdapter<Prepared> implements DeviceAdapter {
  abstract readonly protocol: 'http-json' | 'hue';
  protected readonly http: HttpClient;
  protected readonly limits: AdapterLimits;
  protected readonly counters = new Counters();
  protected readonly now: () => number;
  private readonly events: AdapterEvents;
  private readonly liveness: Liveness;
  private readonly devices = new Map<string, Polled<Prepared>>();
  private pendingCommands = 0;
  private started = false;
  private closed = false;
  private checkTimer: NodeJS.Timeout | null = null;
  private lastError: string | null = null;
  private failures = 0;

  constructor(init: DeviceAdapterInit) {
    this.events = init.events;
    this.limits = resolveLimits(init.limits);
    this.now = init.now ?? Date.now;
    this.http = new HttpClient(init.localAddress);
    this.liveness = new Liveness(init.events, this.limits.unreachableAfterIntervals, this.now);
  }

  /** prepare checks a device's protocol fields and computes what each poll needs; bad input throws. */
  protected abstract prepare(device: WatchedDevice): Prepared;
  /** read makes one poll of the device. */
  protected abstract read(device: WatchedDevice, prepared: Prepared, timeoutMs: number): Promise<ReadResult>;
  /** command carries out one command on the device. */
  protected abstract command(device: WatchedDevice, prepared: Prepared, request: CommandRequest, timeoutMs: number): Promise<CommandOutcome>;

  start(): Promise<void> {
    if (this.closed || this.started) return Promise.resolve();
    this.started = true;
    this.checkTimer = setInterval(() => this.liveness.check(), LIVENESS_CHECK_MS);
    for (const entry of this.devices.values()) this.schedule(entry, 0);
    return Promise.resolve();
  }

  watch(device: WatchedDevice): void {
    checkWatchedDevice(device, `${this.protocol} watch`);
    const prepared = this.prepare(device);
    const earlier = this.devices.get(device.deviceId);
    if (earlier === undefined && this.devices.size >= this.limits.maxDevices) {
      throw badInput(`${this.protocol} watch ${device.deviceId}`, `at most ${this.limits.maxDevices} watched devices`, this.devices.size + 1);
    }
    if (earlier?.timer) clearTimeout(earlier.timer);
    // A replaced entry's poll in flight finds itself replaced when it ends and drops its result.
    const entry: Polled<Prepared> = { device: { ...device, options: { ...device.options }, sensors: [...device.sensors] }, prepared, timer: null, inFlight: false };
    this.devices.set(device.deviceId, entry);
    this.liveness.track(device.deviceId, device.samplingMs);
    if (this.started && !this.closed) this.schedule(entry, 0);
  }

  setSampling(deviceId: string, samplingMs: number): void {
    checkSamplingMs(samplingMs, `${this.protocol} setSampling ${deviceId}`);
    const entry = this.devices.get(deviceId);
    if (entry === undefined) return;
    entry.device.samplingMs = samplingMs;
    this.liveness.setSampling(deviceId, samplingMs);
    // At once: poll now (the loop then keeps the new interval); a poll in flight reschedules when it ends.
    if (!entry.inFlight && this.started && !this.closed) this.schedule(entry, 0);
  }

  unwatch(deviceId: string): void {
    const entry = this.devices.get(deviceId);
    if (entry?.timer) clearTimeout(entry.timer);
    this.devices.delete(deviceId);
    this.liveness.forget(deviceId);
  }

  async execute(deviceId: string, request: CommandRequest, timeoutMs: number): Promise<CommandOutcome> {
    const where = `${this.protocol} execute ${deviceId}`;
    try {
      checkDeviceId(deviceId, where);
      checkTimeoutMs(timeoutMs, `${where} timeoutMs`, MAX_COMMAND_TIMEOUT_MS);
      checkCommandRequest(request, where);
    } catch (error) {
      return { ok: false, reason: (error as Error).message, retryable: false };
    }
    const entry = this.devices.get(deviceId);
    if (entry === undefined) return { ok: false, reason: `${where}: device not watched by this adapter`, retryable: false };
    if (this.closed) return { ok: false, reason: `${where}: adapter closed`, retryable: true };
    if (this.pendingCommands >= this.limits.maxPendingCommands) {
      this.counters.add('commands_refused_busy');
      return { ok: false, reason: `${where}: ${this.pendingCommands} commands already waiting`, retryable: true };
    }
    this.pendingCommands++;
    this.counters.add('commands');
    try {
      const outcome = await this.command(entry.device, entry.prepared, request, timeoutMs);
      this.counters.add(outcome.ok ? (outcome.duplicate ? 'commands_duplicate' : 'commands_ok') : 'commands_failed');
      return outcome;
    } finally {
      this.pendingCommands--;
    }
  }

  health(): AdapterHealth {
    return {
      protocol: this.protocol, connected: this.started && !this.closed, lastError: this.lastError, retries: this.failures,
      devices: this.devices.size, unreachable: this.liveness.unreachable(),
    };
  }

  stats(): Record<string, number> {
    return this.counters.snapshot();
  }

  close(): Promise<void> {
    this.closed = true;
    if (this.checkTimer) clearInterval(this.checkTimer);
    for (const entry of this.devices.values()) if (entry.timer) clearTimeout(entry.timer);
    this.http.close();
    return Promise.resolve();
  }

  private schedule(entry: Polled<Prepared>, delayMs: number): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = setTimeout(() => {
      entry.timer = null;
      void this.poll(entry);
    }, delayMs);
  }

  private async poll(entry: Polled<Prepared>): Promise<void> {
    assert.ok(!entry.inFlight, 'one poll in flight per device');
    entry.inFlight = true;
    const startedMs = this.now();
    const { device } = entry;
    const timeoutMs = Math.max(1, Math.min(HTTP_TIMEOUT_MAX_MS, Math.floor(device.samplingMs * 0.8)));
    const result = await this.read(device, entry.prepared, timeoutMs);
    entry.inFlight = false;
    if (this.closed || this.devices.get(device.deviceId) !== entry) return; // unwatched or replaced meanwhile
    if (result.ok) {
      this.counters.add('readings');
      this.liveness.heard(device.deviceId);
      this.events.onReading({ deviceId: device.deviceId, values: result.values, receivedMs: this.now(), bytes: result.bytes });
    } else {
      this.counters.add(result.drop);
      this.failures++;
      this.lastError = `${device.deviceId}: ${result.reason}`;
      // An answer of any kind (a bad status, oversize, not JSON) shows the device is alive; only no answer is silence.
      if (result.drop === 'poll_timeout' || result.drop === 'poll_error') this.liveness.failed(device.deviceId, result.reason);
      else this.liveness.heard(device.deviceId);
    }
    this.schedule(entry, Math.max(0, device.samplingMs - (this.now() - startedMs)));
  }
}

/** checkCommandRequest checks a command's id, name and arguments. */
export function checkCommandRequest(request: CommandRequest, where: string): void {
  if (!Number.isSafeInteger(request?.id) || request.id < 0) throw badInput(`${where} id`, 'a non-negative safe integer', request?.id);
  if (typeof request.command !== 'string' || !/^[a-z][a-z0-9-]{0,63}$/.test(request.command)) {
    throw badInput(`${where} command`, 'a command name of lower-case letters, digits and "-"', request.command);
  }
  const args = Object.entries(request.args ?? {});
  if (args.length > 32 || args.some(([, value]) => typeof value !== 'string' || value.length > 256)) {
    throw badInput(`${where} args`, 'at most 32 string arguments of at most 256 characters', request.args);
  }
}

/** httpFailureOutcome turns an HTTP status or transport failure into a command outcome (5xx, 408, 429 and no answer retry). */
export function httpFailureOutcome(what: string, status: number | null, detail: string): CommandOutcome {
  if (status === null) return { ok: false, reason: `${what}: ${detail}`, retryable: true };
  return { ok: false, reason: `${what}: HTTP ${status}${detail === '' ? '' : `: ${detail}`}`, retryable: status >= 500 || status === 408 || status === 429 };
}

/** parseJson parses a body, or returns undefined (the caller counts it as malformed). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined; // Not JSON: the caller reports it as malformed with the device's id.
  }
}

/** httpUrl checks that `value` is an http(s) URL; `where` names it in the error. */
export function httpUrl(value: string, where: string): URL {
  let url: URL | null;
  try {
    url = new URL(value);
  } catch {
    url = null; // not a URL: refused below
  }
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw badInput(where, 'an http:// or https:// URL', value);
  return url;
}
