// mqtt-adapter.ts — devices that speak MQTT to their gateway's Mosquitto (docs/devices.md "MQTT"). The
// gateway connects as GATEWAY_USER, subscribes qg/+/readings, qg/+/acks and qg/+/status, publishes each
// command to qg/<id>/commands (QoS 1) carrying its id and waits for the matching ack, and keeps a retained
// qg/<id>/config {"samplingMs": n} per watched device (published again on every connection: the broker keeps
// no state across its restarts). The broker's ACL keeps each device to its own topics; this adapter still
// drops what comes for a device it does not watch, and bounds size and rate per device.
//
// The gateway measures its own intake lag: every ECHO_INTERVAL_MS it publishes an echo to itself on
// qg/_gateway/echo (no device id starts with "_", so no device may publish there), which comes back through the
// same broker queue and event loop as the readings. Liveness discounts that lag, so a node that is behind
// on its intake does not blame its devices for the silence (health() shows the lag).
//
// Reconnection is ours, not MQTT.js's fixed period: capped exponential backoff with jitter, counted in
// health(). While the broker is unreachable, silence is not blamed on the devices (liveness is suspended).
import { randomBytes } from 'node:crypto';
import { createConnection } from 'node:net';
import { MqttClient, type IClientOptions } from 'mqtt';
import { strict as assert } from 'node:assert';
import { GATEWAY_USER, LIVENESS_CHECK_MS, MAX_COMMAND_TIMEOUT_MS, RECONNECT_BACKOFF_MAX_MS, RECONNECT_BACKOFF_MIN_MS, TOPIC_ROOT } from './constants.js';
import { badInput } from './errors.js';
import { isRecord } from './http-adapter.js';
import { Counters, TokenBucket, backoffMs, resolveLimits } from './limits.js';
import { Liveness } from './liveness.js';
import { checkCommandRequest, parseJson } from './polling-adapter.js';
import type {
  AdapterEvents, AdapterHealth, AdapterLimits, CommandOutcome, CommandRequest, DeviceAdapter, DeviceAdapterInit, WatchedDevice,
} from './port.js';
import { checkDeviceId, checkSamplingMs, checkTimeoutMs, checkWatchedDevice } from './validate.js';

/** MqttAdapterInit names the broker and the gateway's credentials. */
export interface MqttAdapterInit extends DeviceAdapterInit {
  /** host and port of the gateway's broker (its management address). */
  host: string;
  port: number;
  /** username defaults to GATEWAY_USER. */
  username?: string;
  password: string;
  /** keepaliveSeconds is the MQTT keepalive (default 30). */
  keepaliveSeconds?: number;
}

/** PendingCommand is a command published and waiting for its ack. */
interface PendingCommand {
  promise: Promise<CommandOutcome>;
  settle: (outcome: CommandOutcome) => void;
}

/** ECHO_LEVEL is the topic level of the gateway's own echo (qg/_gateway/echo): never a device id (DEVICE_ID_PATTERN). */
const ECHO_LEVEL = '_gateway';
/** ECHO_INTERVAL_MS spaces the echoes that measure the intake lag. */
export const ECHO_INTERVAL_MS = 250;
/** MAX_ECHOES_OUT bounds the echoes awaited at once (a stalled intake keeps the oldest one's age growing). */
const MAX_ECHOES_OUT = 64;

/** commandKey is the pending map's key of (device, command id). */
function commandKey(deviceId: string, id: number): string {
  return `${deviceId}/${id}`;
}

/** MqttAdapter reads and commands MQTT devices through the gateway's broker. */
export class MqttAdapter implements DeviceAdapter {
  readonly protocol = 'mqtt' as const;
  private readonly init: MqttAdapterInit;
  private readonly events: AdapterEvents;
  private readonly limits: AdapterLimits;
  private readonly now: () => number;
  private readonly counters = new Counters();
  private readonly liveness: Liveness;
  private readonly bucket: TokenBucket;
  private readonly devices = new Map<string, WatchedDevice>();
  private readonly pending = new Map<string, PendingCommand>();
  private client: MqttClient | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private lastError: string | null = null;
  /** retries counts failed connection attempts since the last successful one. */
  private retries = 0;
  /** echoesOut are the send times of the echoes not back yet, oldest first (bounded); lastEchoLagMs is the latest one's round trip. */
  private echoesOut: number[] = [];
  private lastEchoLagMs = 0;
  /** lastEchoBackSentMs is when the newest echo that came back was sent (the connection's time before any); null before a connection. */
  private lastEchoBackSentMs: number | null = null;
  private echoTimer: NodeJS.Timeout | null = null;

  constructor(init: MqttAdapterInit) {
    if (typeof init.host !== 'string' || init.host === '') throw badInput('mqtt adapter host', 'the broker address', init.host);
    if (!Number.isInteger(init.port) || init.port < 1 || init.port > 65535) throw badInput('mqtt adapter port', 'a TCP port', init.port);
    if (typeof init.password !== 'string' || init.password === '') throw badInput('mqtt adapter password', "the gateway user's password", '<empty>');
    this.init = init;
    this.events = init.events;
    this.limits = resolveLimits(init.limits);
    this.now = init.now ?? Date.now;
    this.liveness = new Liveness(init.events, this.limits.unreachableAfterIntervals, this.now);
    this.liveness.suspend(); // until the first connection
    this.bucket = new TokenBucket(this.limits.readingsPerSecond, this.limits.readingBurst);
  }

  /** start connects; it resolves after the first attempt whatever its outcome (later attempts back off on their own). */
  start(): Promise<void> {
    if (this.client !== null || this.closed) return Promise.resolve();
    const options: IClientOptions = {
      username: this.init.username ?? GATEWAY_USER, password: this.init.password,
      clientId: `${GATEWAY_USER}-${process.pid}-${randomBytes(4).toString('hex')}`,
      protocolVersion: 4, clean: true, keepalive: this.init.keepaliveSeconds ?? 30, connectTimeout: 5_000,
      reconnectPeriod: 0, resubscribe: false, manualConnect: true,
    };
    const { host, port, localAddress } = this.init;
    const client = new MqttClient(() => createConnection({ host, port, ...(localAddress === undefined ? {} : { localAddress }) }), options);
    this.client = client;
    client.on('connect', () => this.connected(client));
    client.on('message', (topic, payload) => this.message(topic, payload));
    client.on('error', (error) => {
      this.lastError = error.message;
    });
    client.on('close', () => this.disconnected());
    this.checkTimer = setInterval(() => this.liveness.check(this.intakeLagMs()), LIVENESS_CHECK_MS);
    this.echoTimer = setInterval(() => this.sendEcho(), ECHO_INTERVAL_MS);
    const first = new Promise<void>((resolve) => {
      client.once('connect', () => resolve());
      client.once('close', () => resolve());
    });
    client.connect();
    return first;
  }

  watch(device: WatchedDevice): void {
    checkWatchedDevice(device, 'mqtt watch');
    if (!this.devices.has(device.deviceId) && this.devices.size >= this.limits.maxDevices) {
      throw badInput(`mqtt watch ${device.deviceId}`, `at most ${this.limits.maxDevices} watched devices`, this.devices.size + 1);
    }
    this.devices.set(device.deviceId, { ...device, options: { ...device.options }, sensors: [...device.sensors] });
    this.liveness.track(device.deviceId, device.samplingMs);
    this.publishConfig(device.deviceId, device.samplingMs);
  }

  setSampling(deviceId: string, samplingMs: number): void {
    checkSamplingMs(samplingMs, `mqtt setSampling ${deviceId}`);
    const device = this.devices.get(deviceId);
    if (device === undefined) return;
    device.samplingMs = samplingMs;
    this.liveness.setSampling(deviceId, samplingMs);
    this.publishConfig(deviceId, samplingMs);
  }

  unwatch(deviceId: string): void {
    if (!this.devices.delete(deviceId)) return;
    this.liveness.forget(deviceId);
    this.bucket.forget(deviceId);
    // An empty retained message deletes the retained config: a gateway that no longer serves it stops steering it.
    if (this.client?.connected) this.client.publish(`${TOPIC_ROOT}/${deviceId}/config`, '', { qos: 1, retain: true });
  }

  execute(deviceId: string, request: CommandRequest, timeoutMs: number): Promise<CommandOutcome> {
    const where = `mqtt execute ${deviceId}`;
    try {
      checkDeviceId(deviceId, where);
      checkTimeoutMs(timeoutMs, `${where} timeoutMs`, MAX_COMMAND_TIMEOUT_MS);
      checkCommandRequest(request, where);
    } catch (error) {
      return Promise.resolve({ ok: false, reason: (error as Error).message, retryable: false });
    }
    const key = commandKey(deviceId, request.id);
    const waiting = this.pending.get(key);
    if (waiting !== undefined) return waiting.promise; // the same id already on its way: one publish, one answer
    const refuse = (reason: string, retryable: boolean): Promise<CommandOutcome> => {
      this.counters.add('commands_failed');
      return Promise.resolve({ ok: false, reason: `${where} command ${request.id}: ${reason}`, retryable });
    };
    if (!this.devices.has(deviceId)) return refuse('device not watched by this adapter', false);
    if (this.closed) return refuse('adapter closed', true);
    const client = this.client;
    if (client === null || !client.connected) return refuse(`not connected to the broker (${this.lastError ?? 'not started'})`, true);
    if (this.pending.size >= this.limits.maxPendingCommands) return refuse(`${this.pending.size} commands already waiting for acks`, true);
    this.counters.add('commands');
    return this.publishCommand(client, deviceId, request, timeoutMs, key);
  }

  health(): AdapterHealth {
    return {
      protocol: this.protocol, connected: this.client?.connected ?? false, lastError: this.lastError, retries: this.retries,
      devices: this.devices.size, unreachable: this.liveness.unreachable(), intakeLagMs: Math.round(this.intakeLagMs()),
    };
  }

  stats(): Record<string, number> {
    return this.counters.snapshot();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.checkTimer) clearInterval(this.checkTimer);
    if (this.echoTimer) clearInterval(this.echoTimer);
    for (const waiting of [...this.pending.values()]) waiting.settle({ ok: false, reason: 'adapter closed before the ack', retryable: true });
    const client = this.client;
    if (client !== null) await new Promise<void>((resolve) => client.end(true, {}, () => resolve()));
  }

  private publishCommand(client: MqttClient, deviceId: string, request: CommandRequest, timeoutMs: number, key: string): Promise<CommandOutcome> {
    let settle: (outcome: CommandOutcome) => void = () => undefined;
    const promise = new Promise<CommandOutcome>((resolve) => {
      const timer = setTimeout(() => settle({ ok: false, reason: `command ${request.id} to ${deviceId}: no ack within ${timeoutMs} ms`, retryable: true }), timeoutMs);
      settle = (outcome) => {
        if (this.pending.get(key)?.promise !== promise) return; // settled already
        clearTimeout(timer);
        this.pending.delete(key);
        this.counters.add(outcome.ok ? (outcome.duplicate ? 'commands_duplicate' : 'commands_ok') : 'commands_failed');
        resolve(outcome);
      };
    });
    this.pending.set(key, { promise, settle: (outcome) => settle(outcome) });
    const payload = JSON.stringify({ id: request.id, command: request.command, args: request.args });
    client.publish(`${TOPIC_ROOT}/${deviceId}/commands`, payload, { qos: 1 }, (error) => {
      if (error) settle({ ok: false, reason: `command ${request.id} to ${deviceId}: publish failed: ${error.message}`, retryable: true });
    });
    return promise;
  }

  /**
   * intakeLagMs is how far behind the broker the intake may be now: the last echo's round trip, or the time
   * since the newest echo that came back was sent, less one echo interval, whichever is larger. The second
   * covers a node whose event loop stood still: its liveness check may run before the readings that waited
   * in the socket meanwhile, and no echo was out to show it (bench:devices 2026-12-07: thousands of devices
   * "silent for 5 s beyond a lag of 12 ms" after such pauses). Everything published before an echo that came
   * back has been read, so that much is known; anything later may still be on its way.
   */
  intakeLagMs(): number {
    if (this.lastEchoBackSentMs === null) return 0;
    return Math.max(this.lastEchoLagMs, this.now() - this.lastEchoBackSentMs - ECHO_INTERVAL_MS);
  }

  private sendEcho(): void {
    const client = this.client;
    if (client === null || !client.connected || this.echoesOut.length >= MAX_ECHOES_OUT) return;
    const sentMs = this.now();
    this.echoesOut.push(sentMs);
    client.publish(`${TOPIC_ROOT}/${ECHO_LEVEL}/echo`, `${client.options.clientId ?? ''} ${sentMs}`, { qos: 0 });
  }

  /** echo takes one of this adapter's echoes back (another gateway client's, after a restart, is ignored). */
  private echo(client: MqttClient, payload: Buffer): void {
    const [clientId, sent] = payload.toString('latin1').split(' ');
    const sentMs = Number(sent);
    if (clientId !== client.options.clientId || !Number.isFinite(sentMs)) return;
    while (this.echoesOut.length > 0 && this.echoesOut[0]! <= sentMs) this.echoesOut.shift();
    this.lastEchoLagMs = Math.max(0, this.now() - sentMs);
    this.lastEchoBackSentMs = Math.max(this.lastEchoBackSentMs ?? sentMs, sentMs);
  }

  private connected(client: MqttClient): void {
    assert.equal(client, this.client, 'events come from the current client');
    this.retries = 0;
    this.lastError = null;
    this.counters.add('connects');
    this.echoesOut = [];
    this.lastEchoLagMs = 0;
    this.lastEchoBackSentMs = this.now();
    client.subscribe({
      [`${TOPIC_ROOT}/+/readings`]: { qos: 0 }, [`${TOPIC_ROOT}/+/acks`]: { qos: 1 }, [`${TOPIC_ROOT}/+/status`]: { qos: 1 },
      [`${TOPIC_ROOT}/${ECHO_LEVEL}/echo`]: { qos: 0 },
    }, (error) => {
      if (error) this.lastError = `subscribe failed: ${error.message}`;
    });
    for (const device of this.devices.values()) this.publishConfig(device.deviceId, device.samplingMs);
    this.liveness.resume();
  }

  private disconnected(): void {
    this.liveness.suspend();
    if (this.closed || this.reconnectTimer !== null) return;
    this.retries++;
    this.lastError ??= 'connection closed';
    const delayMs = backoffMs(this.retries, RECONNECT_BACKOFF_MIN_MS, RECONNECT_BACKOFF_MAX_MS);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.closed) this.client?.reconnect();
    }, delayMs);
  }

  private publishConfig(deviceId: string, samplingMs: number): void {
    const client = this.client;
    if (client === null || !client.connected) return; // sent on connection
    client.publish(`${TOPIC_ROOT}/${deviceId}/config`, JSON.stringify({ samplingMs }), { qos: 1, retain: true });
  }

  /** message routes one incoming message by its topic qg/<deviceId>/<kind>. */
  private message(topic: string, payload: Buffer): void {
    const levels = topic.split('/');
    const [root, deviceId, kind] = levels;
    if (levels.length !== 3 || root !== TOPIC_ROOT || deviceId === undefined) {
      this.counters.add('bad_topic');
      return;
    }
    if (deviceId === ECHO_LEVEL) {
      if (kind === 'echo' && this.client !== null) this.echo(this.client, payload);
      return;
    }
    if (!this.devices.has(deviceId)) {
      this.counters.add('unwatched');
      return;
    }
    if (kind === 'readings') this.reading(deviceId, payload);
    else if (kind === 'acks') this.ack(deviceId, payload);
    else if (kind === 'status') this.status(deviceId, payload);
    else this.counters.add('bad_topic');
  }

  private reading(deviceId: string, payload: Buffer): void {
    // Any message shows the device is alive, even one dropped below: flooding or oversize is not silence.
    this.liveness.heard(deviceId);
    if (payload.length > this.limits.maxReadingBytes) {
      this.counters.add('oversize');
      return;
    }
    if (!this.bucket.take(deviceId, this.now())) {
      this.counters.add('rate_limited');
      return;
    }
    const values = parseJson(payload.toString('utf8'));
    if (!isRecord(values)) {
      this.counters.add('malformed');
      return;
    }
    this.counters.add('readings');
    this.events.onReading({ deviceId, values, receivedMs: this.now(), bytes: payload.length });
  }

  private ack(deviceId: string, payload: Buffer): void {
    const ack = payload.length > this.limits.maxReadingBytes ? undefined : parseJson(payload.toString('utf8'));
    if (!isRecord(ack) || !Number.isSafeInteger(ack.id) || typeof ack.ok !== 'boolean') {
      this.counters.add('malformed_ack');
      return;
    }
    const waiting = this.pending.get(commandKey(deviceId, ack.id as number));
    if (waiting === undefined) {
      this.counters.add('ack_unmatched'); // late (after its timeout) or never asked for
      return;
    }
    const error = typeof ack.error === 'string' ? ack.error.slice(0, 200) : 'no reason given';
    waiting.settle(ack.ok ? { ok: true, duplicate: ack.duplicate === true } : { ok: false, reason: `command ${String(ack.id)} refused by ${deviceId}: ${error}`, retryable: false });
  }

  private status(deviceId: string, payload: Buffer): void {
    const text = payload.toString('utf8').trim().replace(/^"(.*)"$/, '$1');
    if (text === 'offline') this.liveness.reportedOffline(deviceId);
    else if (text === 'online') this.liveness.restartClock(deviceId);
    else if (text !== '') this.counters.add('malformed_status');
  }
}
