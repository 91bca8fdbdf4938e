// deps.ts — what the API needs from the node: narrow interfaces, so tests can build the app
// around a real runtime or a small in-memory one.
import type { AppliedFeed, Committed, EnforcementView, LogApplyResult, LogFeed, MemberAddress, RuntimeCounters, RuntimeStatus } from './ports.js';
import type { ApplyResult } from '../state/index.js';
import type { WatchLimits } from './watch.js';
import type { ReadRateLimits } from './rate-limit.js';

/** RuntimeApi is the part of the Raft runtime the API drives. */
export interface RuntimeApi<Result> {
  status(): RuntimeStatus;
  counters(): RuntimeCounters;
  propose(payload: Uint8Array): Promise<Committed<Result>>;
  readIndex(): Promise<number>;
  addMember(id: number, address: MemberAddress, asVoter: boolean): void;
  removeMember(id: number): void;
  transferLeadership(to: number): void;
}

/** ApiDeps are the API's dependencies. `logApplier` is set only in the bare-log application mode. */
export interface ApiDeps {
  readonly runtime: RuntimeApi<unknown>;
  readonly logApplier?: LogFeed;
  readonly logRuntime?: RuntimeApi<LogApplyResult>;
  /** gateway is set in the gateway mode: the state machine (through its applier) and the runtime. */
  readonly gateway?: {
    readonly applier: AppliedFeed;
    readonly runtime: RuntimeApi<ApplyResult>;
    /** appliedEnvelopes exports applied commands (for `qgate audit verify`); see RaftRuntime.appliedEnvelopes. */
    readonly appliedEnvelopes?: (from: number, limit: number) => { firstIndex: number; entries: Array<{ index: number; term: number; timeMs: number; payload: Uint8Array }> };
    /** enforcement is set when this node runs a data plane. */
    readonly enforcement?: EnforcementView;
  };
  /**
   * devices is set by a node that runs the device interface (docs/devices.md): its adapters, broker,
   * reading intake and command executor, reported as the `devices` section of GET /v1/status.
   */
  readonly devices?: { status(): DevicesStatus };
  /** nowMs: the wall clock the edge checks of commands use (expiry); Date.now by default. */
  readonly nowMs?: () => number;
  /** watchLimits bound GET /v1/watch (clients per node and per address, bytes per client); DEFAULT_WATCH_LIMITS by default. */
  readonly watchLimits?: WatchLimits;
  /** readRateLimit bounds each client address's reads (GET /v1/...); DEFAULT_READ_RATE_LIMITS by default (rate-limit.ts). */
  readonly readRateLimit?: ReadRateLimits;
}

/** DeviceAdapterStatus is one protocol adapter of this node (docs/devices.md "Protocols"). */
export interface DeviceAdapterStatus {
  /** protocol is the adapter's protocol: mqtt, http-json or hue. */
  protocol: string;
  /** connected says whether the adapter reaches its peer (the broker; for polling adapters, the last poll answered). */
  connected: boolean;
  lastError: string | null;
  /** retries counts reconnections or failed polls since the adapter last succeeded. */
  retries: number;
  /** devices is how many devices this adapter serves. */
  devices: number;
  /** unreachable lists the ids of its devices that stopped answering (the alert device-unreachable). */
  unreachable: string[];
  /** intakeLagMs (MQTT): how far behind its broker the node's intake is; silence this long is not blamed on devices. */
  intakeLagMs?: number;
}

/** DevicesStatus is the node-local device section of GET /v1/status (docs/api.md "Cluster"). */
export interface DevicesStatus {
  adapters: DeviceAdapterStatus[];
  /** broker is this gateway's Mosquitto, null when the node runs none. */
  broker: { running: boolean; address: string; lastError: string | null } | null;
  /**
   * readings: waiting for a telemetry batch, dropped (by reason), and submitted to the cluster; batches of
   * readings proposed and settled, and the sum of their time from first proposal to outcome (ms).
   */
  readings: { queued: number; dropped: Record<string, number>; submitted: number; batches?: number; batchMs?: number };
  /** commands: device commands being carried out now, and those given up (listed as failed). */
  commands: { inFlight: number; failed: number };
  /** management: the gateway's management port and address, and why it is not ready yet (docs/devices.md). */
  management: { address: string; port: string; ready: boolean; lastError: string | null };
  /** problems lists served devices that are not read, and why (no secret on this node, no adapter), at most 100. */
  problems: { deviceId: string; problem: string }[];
}
