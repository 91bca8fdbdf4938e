// port.ts — the port every device adapter implements (one per protocol: MQTT, generic JSON over HTTP, the
// Philips Hue bridge). The node watches the devices it serves through it, hears their readings, learns which
// stopped answering, and carries out device commands with their id. The adapter owns its protocol's quirks
// (topics, polling, Hue's error arrays); what crosses the port is readings, commands and outcomes. The
// contract suite in test/devices/contract.ts runs against every adapter over its real protocol.
//
// What an adapter does NOT do: check readings against the policy (the node's edge check, reading-check.ts,
// does that with the policy's bounds), sign anything, or decide retries of commands (it says whether a
// failure is worth retrying; the node retries with backoff).

/** Protocol is the device protocol an adapter speaks (the registration's `interface.protocol`). */
export type Protocol = 'mqtt' | 'http-json' | 'hue';

/** SensorType is a sensor's declared value type (the policy's sensor declaration). */
export type SensorType = 'number' | 'boolean' | 'string';

/**
 * WatchedDevice is what an adapter needs to read and command one device: the registration's interface with
 * its secret resolved on this gateway (never the credential reference's secret from the log: it is not there),
 * the sensors its type declares and the sampling interval of its current state.
 */
export interface WatchedDevice {
  /** deviceId is the registered id (also the device's MQTT user name and topic level). */
  deviceId: string;
  /** endpoint is the URL polled (http-json) or the bridge's base URL (hue); empty for MQTT. */
  endpoint: string;
  /** options are the registration's protocol options (sensor.<name> pointers, commandUrl, light). */
  options: Record<string, string>;
  /** secret is the device's credential from the gateway's secrets file: a bearer token, or the Hue user name. */
  secret: string;
  /** sensors are the sensors the device's type declares. */
  sensors: { name: string; type: SensorType }[];
  /** samplingMs is how often the device reports (MQTT: sent to it; HTTP: the poll interval). */
  samplingMs: number;
}

/** RawReading is one message of sensor values as received, before the node's edge check. */
export interface RawReading {
  deviceId: string;
  /** values maps sensor names to the values as the device sent them (JSON types). */
  values: Record<string, unknown>;
  /** receivedMs is the gateway's wall-clock time of receipt. */
  receivedMs: number;
  /** bytes is the size of the message or body the values came from. */
  bytes: number;
}

/** CommandRequest is one device command to carry out; `id` is the command's id in the agreed state. */
export interface CommandRequest {
  id: number;
  command: string;
  args: Record<string, string>;
}

/**
 * CommandOutcome is what became of a command. `duplicate` says the device had already carried out this id
 * (and did not do it again). A failure says whether retrying may help (no answer, peer unreachable) or not
 * (the device refused the command).
 */
export type CommandOutcome = { ok: true; duplicate: boolean } | { ok: false; reason: string; retryable: boolean };

/** AdapterHealth is an adapter's state for `/v1/status`. */
export interface AdapterHealth {
  protocol: string;
  /** connected: MQTT — connected to the broker; HTTP — started and not closed (HTTP keeps no connection). */
  connected: boolean;
  /** lastError is the latest connection or poll error, or null. */
  lastError: string | null;
  /** retries counts failed attempts to reach the peer since the last success (broker) or in total (polls). */
  retries: number;
  /** devices is how many devices are watched. */
  devices: number;
  /** unreachable lists the watched devices currently reported unreachable, sorted. */
  unreachable: string[];
  /** intakeLagMs (MQTT): how far behind its broker the adapter's intake is (silence this long is not blamed on devices). */
  intakeLagMs?: number;
}

/** AdapterEvents are the callbacks an adapter is constructed with. They must not throw. */
export interface AdapterEvents {
  /** onReading receives each accepted reading message. */
  onReading(reading: RawReading): void;
  /** onUnreachable is called once when a device misses UNREACHABLE_AFTER_INTERVALS sampling intervals. */
  onUnreachable(deviceId: string, reason: string): void;
  /** onReachable is called once when an unreachable device is heard again. */
  onReachable(deviceId: string): void;
}

/**
 * AdapterLimits are the bounds an adapter enforces (defaults in constants.ts). Input beyond them is dropped
 * and counted in `stats()`, never buffered.
 */
export interface AdapterLimits {
  /** maxReadingBytes bounds one MQTT reading message. */
  maxReadingBytes: number;
  /** maxBodyBytes bounds one HTTP answer. */
  maxBodyBytes: number;
  /** readingsPerSecond and readingBurst shape the per-device token bucket. */
  readingsPerSecond: number;
  readingBurst: number;
  /** unreachableAfterIntervals is how many missed intervals make a device unreachable. */
  unreachableAfterIntervals: number;
  /** maxDevices bounds the watched devices. */
  maxDevices: number;
  /** maxPendingCommands bounds the commands waiting for an answer. */
  maxPendingCommands: number;
}

/** DeviceAdapterInit is what every adapter is constructed with, besides its protocol's own settings. */
export interface DeviceAdapterInit {
  events: AdapterEvents;
  /** localAddress is the gateway's management address: every outgoing connection is bound to it. */
  localAddress?: string;
  limits?: Partial<AdapterLimits>;
  /** now is the wall clock (injected for tests); defaults to Date.now. */
  now?: () => number;
}

/** DeviceAdapter is the port: one protocol's way to read and command the devices a gateway serves. */
export interface DeviceAdapter {
  readonly protocol: Protocol;
  /** start connects (MQTT) or arms the pollers; it never fails for an unreachable peer, it keeps retrying with capped backoff. */
  start(): Promise<void>;
  /** watch begins reading a device (subscribe or poll); watching an id again replaces the earlier watch. Bad input throws. */
  watch(device: WatchedDevice): void;
  /** setSampling applies a new interval at once (MQTT: a retained config message; HTTP: the poll timer). */
  setSampling(deviceId: string, samplingMs: number): void;
  /** unwatch stops reading a device and forgets it (no more events for it). */
  unwatch(deviceId: string): void;
  /** execute carries out one command on a device, its id travelling to the device where the protocol allows. Never rejects. */
  execute(deviceId: string, request: CommandRequest, timeoutMs: number): Promise<CommandOutcome>;
  health(): AdapterHealth;
  /** stats counts readings, commands and every drop reason (e.g. oversize, rate_limited, unwatched, malformed). */
  stats(): Record<string, number>;
  /** close stops everything; pending commands end as retryable failures. */
  close(): Promise<void>;
}
