// device-agent.ts — the device half of one gateway: it keeps the adapters watching exactly the devices this
// node serves (at the sampling interval of each device's current state), turns what they read into checked
// readings for the NodeProposer, raises `device-unreachable` alerts, carries out pending device commands
// (CommandRunner), reports unknown devices (discoveries), and proposes an empty telemetry batch when a policy
// deadline (time in state, time of day) is due so rules fire on time without waiting for a reading.
//
// Level-triggered like the data plane: update(view) after every burst of applied entries compares what the
// agreed state asks with what the adapters do and changes only the difference.
import { strict as assert } from 'node:assert';
import type { DiscoveryEvent } from '../commands/index.js';
import { CommandRunner, type CommandRunnerStats, type PendingCommandView } from './command-runner.js';
import type { NodeProposer, NodeProposerStats } from './node-proposer.js';
import type { AdapterHealth, DeviceAdapter, RawReading, WatchedDevice } from './port.js';
import { checkReading, type ReadingSensor } from './reading-check.js';

/** DeviceInterfaceView is a device's registered interface (src/commands DeviceSpec.interface). */
export interface DeviceInterfaceView {
  protocol: string;
  endpoint: string;
  credentialRef: string;
  options: Record<string, string>;
}

/** DeviceStateView is what the agent reads of the agreed state (StateMachine satisfies it). */
export interface DeviceStateView {
  devices(filter: { nodeId?: string }): { id: string; domain: string; interface?: DeviceInterfaceView | undefined }[];
  domains(): { name: string }[];
  samplingMs(deviceId: string): number | undefined;
  sensorSpecs(deviceId: string): readonly ReadingSensor[] | undefined;
  pendingCommands(nodeId: string): PendingCommandView[];
  nextDeadlineMs(): number | null;
}

/** MqttCredentialSink receives the credentials of the MQTT devices this node serves (the broker's password file). */
export interface MqttCredentialSink {
  setDevices(devices: { deviceId: string; password: string }[]): Promise<void>;
}

/** DiscoveryReport is an unknown device seen on this node's switch (src/dataplane's DiscoveryMonitor), as the discovery event carries it. */
export type DiscoveryReport = Omit<DiscoveryEvent, 'kind'>;

/** DeviceAgentInit wires an agent. */
export interface DeviceAgentInit {
  /** nodeId is this node's member id ("n1"). */
  nodeId: string;
  adapters: ReadonlyMap<string, DeviceAdapter>;
  /** secret returns the secret a credential reference names on this node, or undefined. */
  secret: (credentialRef: string) => string | undefined;
  broker?: MqttCredentialSink;
  proposer: NodeProposer;
  /** isLeader says whether this node leads now (only the leader proposes deadline ticks). */
  isLeader: () => boolean;
  /** discoveryDomain names the domain discoveries are reported in (default: the first domain by name). */
  discoveryDomain?: string;
  beforeCommandReport?: (id: number) => Promise<void>;
  commandTimeoutMs?: number;
  log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
  clock?: () => number;
}

/** DeviceProblem says why a served device is not being read. */
export interface DeviceProblem {
  deviceId: string;
  problem: string;
}

/** DeviceAgentStatus is the agent's part of /v1/status. */
export interface DeviceAgentStatus {
  adapters: AdapterHealth[];
  watched: number;
  problems: DeviceProblem[];
  readings: NodeProposerStats;
  commands: CommandRunnerStats;
}

interface Watch {
  key: string;
  protocol: string;
  samplingMs: number;
  domain: string;
  /** sensors are the type's sensor declarations, read once per update (not once per reading). */
  sensors: readonly ReadingSensor[];
}

/** DeviceAgent runs the device half of one gateway. */
export class DeviceAgent {
  private readonly init: DeviceAgentInit;
  private readonly runner: CommandRunner;
  private readonly watches = new Map<string, Watch>();
  private problems: DeviceProblem[] = [];
  private view: DeviceStateView | null = null;
  private brokerKey = '';
  private deadlineTimer: NodeJS.Timeout | null = null;
  private tickedDeadlineMs = -1;
  private readonly unreachable = new Set<string>();
  private stopped = false;

  constructor(init: DeviceAgentInit) {
    this.init = init;
    this.runner = new CommandRunner({
      execute: (deviceId, request) => {
        const watch = this.watches.get(deviceId);
        const adapter = watch === undefined ? undefined : init.adapters.get(watch.protocol);
        if (adapter === undefined) {
          return Promise.resolve({ ok: false as const, reason: `device ${deviceId} has no usable interface on this node`, retryable: true });
        }
        return adapter.execute(deviceId, request, init.commandTimeoutMs ?? 5_000);
      },
      report: (report) => new Promise<boolean>((resolve) => {
        const queued = init.proposer.addCommand('deviceCommandsDone', '', { kind: 'deviceCommandsDone', ids: report.ids, failures: report.failures }, (outcome) => {
          resolve(outcome.kind === 'committed' && outcome.ok);
        });
        if (!queued) resolve(false);
      }),
      ...(init.beforeCommandReport ? { beforeReport: init.beforeCommandReport } : {}),
      onOutcome: (command, outcome) => {
        if (outcome.ok) this.log('info', 'device command carried out', { id: command.id, deviceId: command.deviceId, command: command.command, duplicate: outcome.duplicate });
        else this.log('warn', 'device command failed', { id: command.id, deviceId: command.deviceId, command: command.command, reason: outcome.reason });
      },
    });
  }

  /** onReading takes what an adapter read (wire it as every adapter's reading callback). */
  onReading(raw: RawReading): void {
    const watch = this.watches.get(raw.deviceId);
    const sensors = watch?.sensors;
    const checked = checkReading(raw.deviceId, raw.values, raw.bytes, sensors);
    for (const drop of checked.dropped) this.init.proposer.countDrop(drop.reason);
    if (checked.dropped.length > 0) this.logDrop(raw.deviceId, checked.dropped[0]!.reason);
    if (checked.accepted.length > 0) this.init.proposer.addReadings(checked.accepted);
  }

  /** onUnreachable raises the `device-unreachable` alert once per outage. */
  onUnreachable(deviceId: string, reason: string): void {
    const watch = this.watches.get(deviceId);
    if (watch === undefined || this.unreachable.has(deviceId)) return;
    this.unreachable.add(deviceId);
    this.log('warn', 'device unreachable', { deviceId, reason });
    this.init.proposer.addAlert({ deviceId, alertType: 'device-unreachable', source: `adapter:${watch.protocol}` });
  }

  /** onReachable ends an outage (the next outage raises the alert again). */
  onReachable(deviceId: string): void {
    if (this.unreachable.delete(deviceId)) this.log('info', 'device reachable again', { deviceId });
  }

  /** onDiscovery reports an unknown device as a node-signed discovery. */
  onDiscovery(report: DiscoveryReport): void {
    const domains = (this.view?.domains() ?? []).map((d) => d.name).sort();
    const domain = this.init.discoveryDomain ?? domains[0];
    if (domain === undefined || !domains.includes(domain)) {
      this.log('warn', 'unknown device seen, but there is no domain to report it in', { port: report.port, mac: report.mac });
      return;
    }
    this.init.proposer.addCommand('discovery', domain, { kind: 'telemetry', events: [{ kind: 'discovery', ...report }] });
  }

  /** update converges the adapters, the broker's credentials and the command runner on the agreed state. */
  update(view: DeviceStateView): void {
    if (this.stopped) return;
    this.view = view;
    const served = view.devices({ nodeId: this.init.nodeId });
    const problems: DeviceProblem[] = [];
    const wanted = new Set<string>();
    const mqttCredentials: { deviceId: string; password: string }[] = [];
    for (const device of served) {
      const spec = device.interface;
      if (spec === undefined) continue;
      const adapter = this.init.adapters.get(spec.protocol);
      const secret = spec.credentialRef === '' ? '' : this.init.secret(spec.credentialRef);
      if (adapter === undefined) {
        problems.push({ deviceId: device.id, problem: `no ${spec.protocol} adapter on this node` });
        continue;
      }
      if (secret === undefined) {
        problems.push({ deviceId: device.id, problem: `this node holds no secret "${spec.credentialRef}" (devices.secretsFile)` });
        continue;
      }
      wanted.add(device.id);
      if (spec.protocol === 'mqtt') mqttCredentials.push({ deviceId: device.id, password: secret });
      this.converge(device.id, device.domain, spec, secret, adapter, view);
    }
    for (const [deviceId, watch] of this.watches) {
      if (wanted.has(deviceId)) continue;
      this.init.adapters.get(watch.protocol)?.unwatch(deviceId);
      this.watches.delete(deviceId);
      this.unreachable.delete(deviceId);
    }
    this.problems = problems;
    this.updateBroker(mqttCredentials);
    this.runner.update(view.pendingCommands(this.init.nodeId));
    this.armDeadline(view.nextDeadlineMs());
  }

  /** armDeadlineFrom re-arms the deadline tick alone (after entries that changed nothing else the agent reads). */
  armDeadlineFrom(view: Pick<DeviceStateView, 'nextDeadlineMs'>): void {
    if (!this.stopped) this.armDeadline(view.nextDeadlineMs());
  }

  /** status is the agent's part of /v1/status. */
  status(): DeviceAgentStatus {
    return {
      adapters: [...this.init.adapters.values()].map((adapter) => adapter.health()),
      watched: this.watches.size,
      problems: this.problems.slice(0, 100),
      readings: this.init.proposer.snapshotStats(),
      commands: this.runner.stats(),
    };
  }

  /** stop ends the agent's timers and watches (adapters are closed by their owner). */
  stop(): void {
    this.stopped = true;
    this.runner.stop();
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    for (const [deviceId, watch] of this.watches) this.init.adapters.get(watch.protocol)?.unwatch(deviceId);
    this.watches.clear();
  }

  private converge(deviceId: string, domain: string, spec: DeviceInterfaceView, secret: string, adapter: DeviceAdapter, view: DeviceStateView): void {
    const samplingMs = view.samplingMs(deviceId) ?? 10_000;
    const declared = view.sensorSpecs(deviceId) ?? [];
    const sensors = declared.map((s) => ({ name: s.name, type: s.type }));
    const key = JSON.stringify([spec.protocol, spec.endpoint, spec.options, secret, sensors]);
    const current = this.watches.get(deviceId);
    if (current !== undefined && current.key === key) {
      current.domain = domain;
      current.sensors = declared;
      if (current.samplingMs !== samplingMs) {
        adapter.setSampling(deviceId, samplingMs);
        current.samplingMs = samplingMs;
        this.log('info', 'sampling interval changed with the device state', { deviceId, samplingMs });
      }
      return;
    }
    if (current !== undefined && current.protocol !== spec.protocol) this.init.adapters.get(current.protocol)?.unwatch(deviceId);
    const watched: WatchedDevice = { deviceId, endpoint: spec.endpoint, options: spec.options, secret, sensors, samplingMs };
    adapter.watch(watched);
    this.watches.set(deviceId, { key, protocol: spec.protocol, samplingMs, domain, sensors: declared });
  }

  private updateBroker(credentials: { deviceId: string; password: string }[]): void {
    const broker = this.init.broker;
    if (broker === undefined) return;
    credentials.sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
    const key = JSON.stringify(credentials);
    if (key === this.brokerKey) return;
    this.brokerKey = key;
    broker.setDevices(credentials).catch((error: unknown) => {
      this.brokerKey = '';
      this.log('warn', 'could not update the broker\'s device credentials', { reason: error instanceof Error ? error.message : String(error) });
    });
  }

  /**
   * armDeadline proposes an empty telemetry batch (it only advances the state's time) once the earliest
   * policy deadline is due, so a time-in-state or time-of-day rule fires on time. Only the leader does it,
   * once per deadline; the entry's leader-stamped time is what the state machine judges.
   */
  private armDeadline(deadlineMs: number | null): void {
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    if (deadlineMs === null || deadlineMs <= this.tickedDeadlineMs) return;
    const clock = this.init.clock ?? Date.now;
    const delayMs = Math.max(0, Math.min(2 ** 31 - 1, deadlineMs - clock() + 5));
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = null;
      if (this.stopped || !this.init.isLeader()) return;
      assert(deadlineMs > this.tickedDeadlineMs, 'each deadline is ticked once');
      this.tickedDeadlineMs = deadlineMs;
      this.init.proposer.addCommand('deadline', '', { kind: 'telemetry', events: [] });
    }, delayMs);
    this.deadlineTimer.unref();
  }

  private lastDropLogMs = 0;

  private logDrop(deviceId: string, reason: string): void {
    // Rate-limited: a device sending garbage must not fill the node's log.
    const now = (this.init.clock ?? Date.now)();
    if (now - this.lastDropLogMs < 5_000) return;
    this.lastDropLogMs = now;
    this.log('warn', 'reading dropped (counted in /v1/status readings.droppedReadings; further drops logged at most every 5 s)', { deviceId, reason });
  }

  private log(level: 'info' | 'warn', message: string, fields: Record<string, unknown>): void {
    this.init.log?.(level, message, fields);
  }
}
