// liveness.ts — which watched devices are answering. A device is unreachable once it has been silent for
// `afterIntervals` sampling intervals (no message on its readings topic over MQTT, no HTTP answer to a poll;
// a message or answer dropped as oversize, malformed or over the rate still shows it is alive), or silent
// for one interval after it said "offline" (MQTT status, its will: not at once, because a broker that shuts
// down publishes every connected device's will). It is reachable again with its next reading.
// Each change is reported once through the adapter's events.
//
// Silence is measured as the gateway hears it, net of its own intake lag: when the node is behind on what
// its broker already holds for it (a busy event loop, a queue in the broker), every device looks silent for
// as long as that lag, although each published on time. The adapter measures the lag (an echo through the
// same queue, mqtt-adapter.ts) and passes it to check(); a device is unreachable only after
// `afterIntervals` intervals of silence beyond the lag. (At 10,000 devices, without this, each node raised
// ≈21,000 unreachable/reachable pairs in a few minutes of a lagging intake: bench:devices, 2026-12-06.)
import type { AdapterEvents } from './port.js';

interface DeviceLiveness {
  samplingMs: number;
  /** lastHeardMs is when the device last answered, or when its silence clock was last restarted. */
  lastHeardMs: number;
  unreachable: boolean;
  /** offline: the device's status said "offline" since it was last heard. */
  offline: boolean;
  /** why is the latest failure seen for the device (a poll error), used as the reason when it goes silent. */
  why: string | null;
}

/** Liveness tracks silence per watched device and reports transitions. */
export class Liveness {
  private readonly devices = new Map<string, DeviceLiveness>();
  private suspended = false;

  constructor(
    private readonly events: Pick<AdapterEvents, 'onReachable' | 'onUnreachable'>,
    private readonly afterIntervals: number,
    private readonly now: () => number,
  ) {}

  /** track starts (or restarts) the silence clock of a device; an unreachable device stays so until heard. */
  track(deviceId: string, samplingMs: number): void {
    const known = this.devices.get(deviceId);
    this.devices.set(deviceId, { samplingMs, lastHeardMs: this.now(), unreachable: known?.unreachable ?? false, offline: false, why: known?.why ?? null });
  }

  /** setSampling changes the interval and restarts the clock (the device may still be on its old interval). */
  setSampling(deviceId: string, samplingMs: number): void {
    const device = this.devices.get(deviceId);
    if (device === undefined) return;
    device.samplingMs = samplingMs;
    device.lastHeardMs = Math.max(device.lastHeardMs, this.now());
  }

  forget(deviceId: string): void {
    this.devices.delete(deviceId);
  }

  /** heard records an answer; an unreachable device becomes reachable. */
  heard(deviceId: string): void {
    const device = this.devices.get(deviceId);
    if (device === undefined) return;
    device.lastHeardMs = this.now();
    device.why = null;
    device.offline = false;
    if (device.unreachable) {
      device.unreachable = false;
      this.events.onReachable(deviceId);
    }
  }

  /** failed records why the latest attempt to hear a device failed (the reason given if it goes silent). */
  failed(deviceId: string, why: string): void {
    const device = this.devices.get(deviceId);
    if (device !== undefined) device.why = why;
  }

  /** restartClock restarts a device's silence clock without calling it reachable (an "online" status). */
  restartClock(deviceId: string): void {
    const device = this.devices.get(deviceId);
    if (device === undefined) return;
    device.lastHeardMs = this.now();
    device.offline = false;
  }

  /** reportedOffline records the device's own "offline": one silent interval then makes it unreachable. */
  reportedOffline(deviceId: string): void {
    const device = this.devices.get(deviceId);
    if (device !== undefined) device.offline = true;
  }

  /**
   * suspend stops silence detection (the adapter lost its broker: the devices are not to blame); resume
   * restarts every clock.
   */
  suspend(): void {
    this.suspended = true;
  }

  resume(): void {
    this.suspended = false;
    const nowMs = this.now();
    for (const device of this.devices.values()) {
      device.lastHeardMs = nowMs;
      device.offline = false; // a device really offline says so again: its will is retained
    }
  }

  /**
   * check reports every device silent for `afterIntervals` intervals; called periodically by the adapter.
   * `intakeLagMs` is how far behind its source the adapter's intake is now (0 when it is not measured): that
   * much of a device's silence is the gateway's, not the device's.
   */
  check(intakeLagMs = 0): void {
    if (this.suspended) return;
    const nowMs = this.now() - Math.max(0, intakeLagMs);
    for (const [deviceId, device] of this.devices) {
      const silentMs = nowMs - device.lastHeardMs;
      const intervals = device.offline ? 1 : this.afterIntervals;
      if (device.unreachable || silentMs < intervals * device.samplingMs) continue;
      device.unreachable = true;
      const because = device.offline ? ' after it reported offline' : device.why === null ? '' : ` (last error: ${device.why})`;
      const lag = intakeLagMs > 0 ? `, beyond the gateway's own intake lag of ${Math.round(intakeLagMs)} ms` : '';
      this.events.onUnreachable(deviceId, `no reading for ${silentMs} ms (sampling every ${device.samplingMs} ms${lag})${because}`);
    }
  }

  /** unreachable lists the devices currently unreachable, sorted. */
  unreachable(): string[] {
    return [...this.devices].filter(([, device]) => device.unreachable).map(([deviceId]) => deviceId).sort();
  }
}
