// mqtt-devices.ts — simulated MQTT devices: a temperature sensor (sensor `temperature`, command `reboot`) and
// a smart plug (sensors `isOn`, `power`; commands `power-off`, `power-on`). Each connects to its gateway's
// broker with its own credentials, leaves the retained will "offline" on qg/<id>/status, reports at the
// interval of its retained qg/<id>/config, and acks each command with its id (duplicate: true for an id
// carried out before, without doing it again). A fleet runs many of them in one process.
import { connect, type MqttClient } from 'mqtt';
import { isObject, type ControlTarget } from './control.js';
import type { CommandJournal } from './journal.js';

/** MqttKind is a simulated MQTT device's kind. */
export type MqttKind = 'temperature' | 'plug';

/** MqttDeviceInit configures one simulated device. */
export interface MqttDeviceInit {
  id: string;
  kind: MqttKind;
  host: string;
  port: number;
  password: string;
  /** samplingMs is the interval until the broker's retained config says otherwise. */
  samplingMs: number;
  journal: CommandJournal;
}

/** MqttDevice is one simulated device. */
export class MqttDevice {
  readonly id: string;
  private readonly init: MqttDeviceInit;
  private client: MqttClient | null = null;
  private timer: NodeJS.Timeout | null = null;
  private samplingMs: number;
  private silent = false;
  private dropped = false;
  /** values are the device's settings: temperature follows `temperature`; the plug's power is `load` while on. */
  private readonly values: { temperature: number; isOn: boolean; load: number } = { temperature: 21.5, isOn: true, load: 60 };
  published = 0;
  acked = 0;
  /** packet is the last reading's PUBLISH packet, kept while the reading stays the same (the fleet's hot path). */
  private packet: { payload: string; bytes: Buffer } | null = null;

  constructor(init: MqttDeviceInit) {
    this.init = init;
    this.id = init.id;
    this.samplingMs = init.samplingMs;
  }

  start(): void {
    const { id, host, port, password } = this.init;
    const status = `qg/${id}/status`;
    const client = connect({
      host, port, username: id, password, clientId: `sim-${id}`, protocolVersion: 4, clean: true, keepalive: 10,
      reconnectPeriod: 500, connectTimeout: 5_000, will: { topic: status, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => {
      client.publish(status, 'online', { qos: 1, retain: true });
      client.subscribe([`qg/${id}/commands`, `qg/${id}/config`], { qos: 1 });
    });
    client.on('message', (topic, payload) => this.message(topic, payload));
    client.on('error', () => undefined); // reconnects on its own; the gateway side reports
    this.schedule();
  }

  /** reading is what the device reports now. */
  reading(): Record<string, unknown> {
    if (this.init.kind === 'temperature') return { temperature: this.values.temperature };
    return { isOn: this.values.isOn, power: this.values.isOn ? this.values.load : 0 };
  }

  state(): Record<string, unknown> {
    return { id: this.id, kind: this.init.kind, samplingMs: this.samplingMs, ...this.reading(), connected: this.client?.connected ?? false, silent: this.silent, published: this.published, acked: this.acked };
  }

  set(values: Record<string, unknown>): void {
    if (typeof values.temperature === 'number') this.values.temperature = values.temperature;
    if (typeof values.isOn === 'boolean') this.values.isOn = values.isOn;
    if (typeof values.load === 'number') this.values.load = values.load;
    if (typeof values.samplingMs === 'number') this.setSampling(values.samplingMs);
  }

  /** stop: "silent" stops reporting and acking; "drop" also cuts the connection without DISCONNECT (the will fires). */
  stop(mode: string): void {
    this.silent = true;
    if (mode === 'drop' && this.client !== null) {
      this.dropped = true;
      this.client.options.reconnectPeriod = 0;
      this.client.stream.destroy();
    }
  }

  resume(): void {
    this.silent = false;
    if (this.dropped && this.client !== null) {
      this.dropped = false;
      this.client.options.reconnectPeriod = 500;
      this.client.reconnect();
    }
  }

  /** flood publishes `count` readings at once, each padded to about `bytes` bytes. */
  async flood(count: number, bytes: number): Promise<void> {
    const client = this.client;
    if (client === null) return;
    for (let sent = 0; sent < Math.min(count, 100_000); sent++) {
      const reading = { ...this.reading(), ...(bytes > 0 ? { padding: 'x'.repeat(bytes) } : {}) };
      await client.publishAsync(`qg/${this.id}/readings`, JSON.stringify(reading), { qos: 0 });
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.client?.endAsync(true);
  }

  private setSampling(samplingMs: number): void {
    if (!Number.isFinite(samplingMs) || samplingMs < 10) return;
    this.samplingMs = samplingMs;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.publishReading();
      this.schedule();
    }, this.samplingMs);
  }

  /**
   * publishReading sends the reading as one prebuilt QoS 0 PUBLISH written straight to the connection: a fleet
   * of 3,333 devices spent ≈55 µs of CPU per reading in mqtt.js's publish path (17-20 % of a core per fleet at
   * 10,000 devices, bench:devices 2026-12-06), which is the load generator's cost, not the gateway's.
   * MQTT.js writes each of its own packets synchronously, so this whole packet cannot interleave with one.
   */
  private publishReading(): void {
    const client = this.client;
    if (this.silent || client === null || !client.connected) return;
    this.published++;
    const payload = JSON.stringify(this.reading());
    if (this.packet?.payload !== payload) this.packet = { payload, bytes: publishPacket(`qg/${this.id}/readings`, payload) };
    client.stream.write(this.packet.bytes);
  }

  private message(topic: string, payload: Buffer): void {
    if (topic.endsWith('/config')) {
      const config = parse(payload);
      if (typeof config?.samplingMs === 'number') this.setSampling(config.samplingMs);
    } else if (topic.endsWith('/commands') && !this.silent) {
      this.command(parse(payload));
    }
  }

  private command(body: Record<string, unknown> | null): void {
    if (body === null || !Number.isSafeInteger(body.id) || typeof body.command !== 'string') return;
    const id = body.id as number;
    const args = isObject(body.args) ? body.args : {};
    const duplicate = this.init.journal.seen(this.id, id);
    const known = this.init.kind === 'temperature' ? ['reboot'] : ['power-off', 'power-on'];
    const executed = !duplicate && known.includes(body.command);
    this.init.journal.record({ device: this.id, id, command: body.command, args, executed });
    if (executed) this.carryOut(body.command);
    const ack = duplicate || executed ? { id, ok: true, duplicate } : { id, ok: false, error: `unknown command ${body.command} (expected ${known.join(', ')})` };
    this.acked++;
    this.client?.publish(`qg/${this.id}/acks`, JSON.stringify(ack), { qos: 1 });
  }

  private carryOut(command: string): void {
    if (command === 'power-off') this.values.isOn = false;
    else if (command === 'power-on') this.values.isOn = true;
    // reboot: the sensor keeps its settings; it reports again at its interval.
    this.publishReading();
  }
}

/** publishPacket encodes an MQTT 3.1.1 PUBLISH at QoS 0, no retain (section 3.3: fixed header, remaining length, topic, payload). */
export function publishPacket(topic: string, payload: string): Buffer {
  const topicBytes = Buffer.from(topic, 'utf8');
  const payloadBytes = Buffer.from(payload, 'utf8');
  if (topicBytes.length > 0xffff) throw new Error(`publishPacket: topic expected at most 65535 bytes, got ${topicBytes.length}`);
  const remaining = 2 + topicBytes.length + payloadBytes.length;
  if (remaining > 268_435_455) throw new Error(`publishPacket: packet expected at most 268435455 bytes, got ${remaining}`);
  const length: number[] = [];
  for (let rest = remaining; ; ) {
    const digit = rest % 128;
    rest = Math.floor(rest / 128);
    length.push(rest > 0 ? digit | 0x80 : digit);
    if (rest === 0) break;
  }
  return Buffer.concat([Buffer.from([0x30, ...length, topicBytes.length >> 8, topicBytes.length & 0xff]), topicBytes, payloadBytes]);
}

function parse(payload: Buffer): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(payload.toString('utf8'));
    return isObject(value) ? value : null;
  } catch {
    return null; // not JSON: ignored, as a real device would
  }
}

/** MqttFleet runs many simulated devices in one process, connecting them at a bounded pace. */
export class MqttFleet implements ControlTarget {
  readonly devices = new Map<string, MqttDevice>();
  private startTimer: NodeJS.Timeout | null = null;

  constructor(inits: readonly MqttDeviceInit[], private readonly connectsPerSecond = 500) {
    for (const init of inits) this.devices.set(init.id, new MqttDevice(init));
  }

  /** start connects the devices, `connectsPerSecond` at a time, so the broker is not hit by thousands at once. */
  start(): void {
    const queue = [...this.devices.values()];
    const batch = Math.max(1, Math.ceil(this.connectsPerSecond / 10));
    const next = (): void => {
      for (const device of queue.splice(0, batch)) device.start();
      this.startTimer = queue.length > 0 ? setTimeout(next, 100) : null;
    };
    next();
  }

  state(): unknown {
    const all = [...this.devices.values()];
    if (all.length === 1) return all[0]?.state();
    return {
      devices: all.length, connected: all.filter((device) => device.state().connected === true).length,
      published: all.reduce((sum, device) => sum + device.published, 0), acked: all.reduce((sum, device) => sum + device.acked, 0),
    };
  }

  set(device: string | undefined, values: Record<string, unknown>): void {
    for (const target of this.pick(device)) target.set(values);
  }

  stop(mode: string): void {
    for (const device of this.devices.values()) device.stop(mode);
  }

  resume(): void {
    for (const device of this.devices.values()) device.resume();
  }

  async flood(device: string | undefined, count: number, bytes: number): Promise<void> {
    await Promise.all(this.pick(device).map((target) => target.flood(count, bytes)));
  }

  async close(): Promise<void> {
    if (this.startTimer) clearTimeout(this.startTimer);
    await Promise.all([...this.devices.values()].map((device) => device.close()));
  }

  private pick(device: string | undefined): MqttDevice[] {
    if (device === undefined) return [...this.devices.values()];
    const target = this.devices.get(device);
    if (target === undefined) throw new Error(`no simulated device ${device}`);
    return [target];
  }
}
