// device-link.ts — connects a gateway node to its devices (docs/devices.md), as dataplane-link.ts connects
// it to its switch. It sets up the management port on the node's bridge, runs the node's MQTT broker on the
// management address, creates one adapter per protocol (every connection bound to the management address),
// and feeds the DeviceAgent the agreed state after every burst of applied entries. Everything the node signs
// with its own key (readings, alerts, discoveries, deadline ticks, device-command reports) is proposed by the
// one NodeProposer, in sequence order.
import { dirname, join } from 'node:path';
import { unwatchFile, watchFile } from 'node:fs';
import type { Logger } from 'pino';
import { keyIdHex, signCommand } from '../commands/index.js';
import type { CommandBody, KeyPair, Payload } from '../commands/index.js';
import { ensureManagementPort, hostPaths } from '../dataplane/index.js';
import type { Discovery, HostPaths, ManagementPort } from '../dataplane/index.js';
import {
  DeviceAgent, HttpJsonAdapter, HueAdapter, MosquittoBroker, MqttAdapter, NodeProposer,
} from '../devices/index.js';
import type { AdapterEvents, DeviceAdapter, DeviceAgentStatus, ProposeOutcome } from '../devices/index.js';
import type { NodeConfig } from './config.js';
import { DeviceSecrets } from './device-secrets.js';
import { changesPlans } from './gateway-applier.js';
import type { AppliedEvent, GatewayApplier } from './gateway-applier.js';
import type { RaftRuntime } from './raft-runtime.js';
import { RuntimeError } from './runtime-errors.js';
import type { StateMachine } from '../state/index.js';

/** NODE_COMMAND_TTL_MS is how long a node-signed command stays applicable after it was signed. */
const NODE_COMMAND_TTL_MS = 60_000;
/** SETUP_RETRY_MS spaces the attempts to set up the management port and broker (the bridge may not exist yet). */
const SETUP_RETRY_MS = 1_000;

/** NodeSequence hands out this node key's sequence numbers: above what the state applied and what this process signed. */
export interface NodeSequence {
  next(): number;
}

/** nodeSequence creates the node key's one sequence source (shared by the data plane's alerts and the devices). */
export function nodeSequence(applier: GatewayApplier, identity: KeyPair): NodeSequence {
  const signer = keyIdHex(identity.publicKey);
  let local = 0;
  return {
    next: () => {
      local = Math.max(local, applier.machine.lastSeq(signer)) + 1;
      return local;
    },
  };
}

/** DeviceLinkStatus is the device half's part of /v1/status. */
export interface DeviceLinkStatus extends DeviceAgentStatus {
  management: { address: string; port: string; ready: boolean; lastError: string | null };
  broker: { running: boolean; address: string; lastError: string | null } | null;
  secrets: number;
}

/** DeviceLink is a started device half. */
export interface DeviceLink {
  readonly proposer: NodeProposer;
  /**
   * firstProposedAtMs is when this node first proposed these signed bytes (epoch ms; a retry keeps the first
   * time), or undefined for bytes it has not proposed: the log line of a committed alert batch carries it, so
   * bench:reaction-cluster can split the reaction into batching (alert read → proposal) and commit.
   */
  firstProposedAtMs(signed: Uint8Array): number | undefined;
  /** onDiscovery reports an unknown device the data plane's discovery monitor saw. */
  onDiscovery(found: Discovery): void;
  status(): DeviceLinkStatus;
  stop(): Promise<void>;
}

/** DeviceLinkInit is what startDevices needs from the node. */
interface DeviceLinkInit {
  config: NodeConfig;
  identity: KeyPair;
  clusterId: Uint8Array;
  applier: GatewayApplier;
  runtime: RaftRuntime<unknown>;
  sequence: NodeSequence;
  logger: Logger;
}

/** DeviceParts are the parts of a device half that its start-up steps create and share. */
interface DeviceParts {
  readonly devices: NonNullable<NodeConfig['devices']>;
  readonly logger: Logger;
  readonly secrets: DeviceSecrets;
  readonly proposer: NodeProposer;
  readonly broker: MosquittoBroker;
  readonly adapters: Map<string, DeviceAdapter>;
  readonly events: AdapterEvents;
  readonly agent: DeviceAgent;
  /** lifecycle.stopped is set once by stop(): every step checks it before it acts. */
  readonly lifecycle: { stopped: boolean };
}

/**
 * startDevices starts the device half of a gateway; the caller has checked config.devices and config.dataplane.
 * Steps: the proposer of node-signed commands, the agent with its adapters, the management port and broker
 * (retried until they work), then the feeds that keep the agent up to date with the agreed state.
 */
export function startDevices(init: DeviceLinkInit): DeviceLink {
  const { config, applier } = init;
  const devices = config.devices!;
  const logger = init.logger.child({ module: 'devices' });
  const secrets = new DeviceSecrets(devices.secretsFile);
  const reportDelayMs = Number(process.env.QG_DEVICE_COMMAND_REPORT_DELAY_MS ?? '0');
  if (reportDelayMs > 0) logger.warn({ reportDelayMs }, 'QG_DEVICE_COMMAND_REPORT_DELAY_MS is set: device command reports wait after the device answered (a test knob)');

  // Keyed by the signed bytes' object (the proposer proposes the very array it was handed): entries go
  // with the bytes, so the map holds nothing once a command is done.
  const proposedAtMs = new WeakMap<Uint8Array, number>();
  const proposer = nodeProposer(init, logger, proposedAtMs);
  const parts: DeviceParts = { devices, logger, secrets, proposer, ...deviceAgent(init, logger, proposer, secrets, reportDelayMs), lifecycle: { stopped: false } };
  const update = agentUpdater(parts, applier);
  const management = managementSetUp(parts, config, update);
  const unfollow = followAgreedState(parts, applier, update);
  for (const adapter of parts.adapters.values()) void adapter.start();
  proposer.start();
  update();
  management.start();
  return deviceLink(parts, proposedAtMs, management, unfollow);
}

/** nodeProposer creates the one proposer of the commands this node signs with its own key, in sequence order. */
function nodeProposer(init: DeviceLinkInit, logger: Logger, proposedAtMs: WeakMap<Uint8Array, number>): NodeProposer {
  const { config, identity, clusterId, applier, runtime, sequence } = init;
  const memberId = `n${config.nodeId}`;
  const signer = keyIdHex(identity.publicKey);
  return new NodeProposer({
    sign: (domain, payload) => {
      const body: CommandBody = {
        clusterId, domain, signer, seq: sequence.next(), notAfterMs: Date.now() + NODE_COMMAND_TTL_MS, payload: payload as Payload,
      };
      return signCommand(body, [identity]);
    },
    propose: (signed) => {
      if (!proposedAtMs.has(signed)) proposedAtMs.set(signed, Date.now());
      return proposeOutcome(runtime, applier.machine, signed);
    },
    domainOf: (deviceId) => {
      const home = applier.machine.deviceHome(deviceId);
      return home !== undefined && home.nodeId === memberId ? home.domain : null;
    },
    onResult: (what, outcome) => {
      if (outcome.kind === 'committed' && !outcome.ok && outcome.code !== 'duplicate') logger.warn({ what, code: outcome.code, reason: outcome.reason }, 'node command rejected');
      else if (outcome.kind !== 'committed') logger.warn({ what, reason: outcome.reason }, 'node command not committed; given up');
    },
  });
}

/**
 * deviceAgent creates the agent with the adapters that need no broker (HTTP-JSON, Hue; MQTT joins once the
 * broker runs, managementSetUp) and the broker; the adapters' events reach the agent created after them.
 */
function deviceAgent(init: DeviceLinkInit, logger: Logger, proposer: NodeProposer, secrets: DeviceSecrets, reportDelayMs: number): Pick<DeviceParts, 'broker' | 'adapters' | 'events' | 'agent'> {
  const { config, runtime } = init;
  const devices = config.devices!;
  const late: { agent?: DeviceAgent } = {};
  const events: AdapterEvents = {
    onReading: (reading) => late.agent?.onReading(reading),
    onUnreachable: (deviceId, reason) => late.agent?.onUnreachable(deviceId, reason),
    onReachable: (deviceId) => late.agent?.onReachable(deviceId),
  };
  const address = devices.managementAddress;
  const broker = new MosquittoBroker();
  const adapters = new Map<string, DeviceAdapter>([
    ['http-json', new HttpJsonAdapter({ events, localAddress: address })],
    ['hue', new HueAdapter({ events, localAddress: address })],
  ]);
  const agent = new DeviceAgent({
    nodeId: `n${config.nodeId}`, adapters, proposer, broker,
    secret: (reference) => secrets.get(reference),
    isLeader: () => runtime.status().role === 'leader',
    ...(devices.discoveryDomain !== undefined ? { discoveryDomain: devices.discoveryDomain } : {}),
    ...(devices.commandTimeoutMs !== undefined ? { commandTimeoutMs: devices.commandTimeoutMs } : {}),
    ...(reportDelayMs > 0 ? { beforeCommandReport: (id: number) => new Promise<void>((resolve) => {
      logger.warn({ id, reportDelayMs }, 'device command carried out; waiting before reporting it (test knob)');
      setTimeout(resolve, reportDelayMs);
    }) } : {}),
    log: (level, message, fields) => logger[level](fields, message),
  });
  late.agent = agent;
  return { broker, adapters, events, agent };
}

/** ManagementSetUp is the management port and broker being set up: its state for /v1/status, start and stop. */
interface ManagementSetUp {
  readonly state: { ready: boolean; lastError: string | null; port: ManagementPort | null };
  start(): void;
  stop(): void;
}

/**
 * managementSetUp sets up the management port and the broker. The port needs the bridge (the data plane
 * creates it) and the broker needs the address: both are retried until they work, and the MQTT adapter
 * starts once the broker runs.
 */
function managementSetUp(parts: DeviceParts, config: NodeConfig, update: () => void): ManagementSetUp {
  const { devices, broker, adapters, events, logger, lifecycle } = parts;
  const bridge = config.dataplane!.bridge;
  const paths = hostPaths(config.dataplane?.runDir);
  const address = devices.managementAddress;
  const brokerPort = devices.brokerPort ?? 1883;
  const management = { ready: false, lastError: null as string | null, port: null as ManagementPort | null };
  let setupTimer: NodeJS.Timeout | null = null;
  const setUp = async (): Promise<void> => {
    setupTimer = null;
    if (lifecycle.stopped) return;
    try {
      management.port = await ensureManagementPort({
        ovsDir: paths.ovsDir, bridge, port: devices.managementPort, hostInterface: devices.managementInterface,
        address, prefixLength: devices.managementPrefixLength ?? 24,
      });
      // The broker drops to its own user, which must traverse its directory: it lives beside the private
      // OVS under the host's run directory (a node's data directory is root's alone), one per bridge.
      await broker.ensure({ dir: brokerDir(paths, bridge), host: address, port: brokerPort });
      const credentials = broker.gatewayCredentials();
      const mqtt = new MqttAdapter({ events, localAddress: address, host: address, port: brokerPort, username: credentials.username, password: credentials.password });
      if (lifecycle.stopped) return;
      adapters.set('mqtt', mqtt);
      await mqtt.start();
      management.ready = true;
      management.lastError = null;
      logger.info({ address, port: devices.managementPort, brokerPort }, 'device interface ready: management port, broker and adapters');
      update();
    } catch (error) {
      management.lastError = error instanceof Error ? error.message : String(error);
      logger.warn({ reason: management.lastError }, 'device interface not ready yet; trying again');
      setupTimer = setTimeout(() => void setUp(), SETUP_RETRY_MS);
    }
  };
  return {
    state: management,
    start: () => void setUp(),
    stop: () => {
      if (setupTimer !== null) clearTimeout(setupTimer);
    },
  };
}

/** agentUpdater returns update, which hands the agent the agreed state once per burst of applied entries. */
function agentUpdater(parts: DeviceParts, applier: GatewayApplier): () => void {
  const { agent, lifecycle } = parts;
  let scheduled = false;
  return () => {
    if (scheduled || lifecycle.stopped) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      if (!lifecycle.stopped) agent.update(applier.machine);
    });
  };
}

/**
 * followAgreedState keeps the agent up to date: after applied entries that change plans, a restored
 * snapshot, or a reloaded secrets file. Returns the function that stops following.
 */
function followAgreedState(parts: DeviceParts, applier: GatewayApplier, update: () => void): () => void {
  const { devices, agent, secrets, logger } = parts;
  const onApplied = (event: AppliedEvent): void => {
    if (changesPlans(event)) update();
    else agent.armDeadlineFrom(applier.machine); // a deadline re-armed without moving any device
  };
  const reloadSecrets = (): void => {
    try {
      secrets.reload();
      logger.info({ secrets: secrets.size }, 'device secrets reloaded');
      update();
    } catch (error) {
      logger.warn({ reason: (error as Error).message }, 'device secrets file refused; keeping the previous secrets');
    }
  };
  if (devices.secretsFile !== undefined) watchFile(devices.secretsFile, { interval: 1_000 }, reloadSecrets);
  applier.on('applied', onApplied);
  applier.on('restored', update);
  return () => {
    if (devices.secretsFile !== undefined) unwatchFile(devices.secretsFile, reloadSecrets);
    applier.off('applied', onApplied);
    applier.off('restored', update);
  };
}

/** deviceLink is the started device half's face to the node: status, discoveries, stop. */
function deviceLink(parts: DeviceParts, proposedAtMs: WeakMap<Uint8Array, number>, management: ManagementSetUp, unfollow: () => void): DeviceLink {
  const { devices, agent, proposer, broker, adapters, secrets, lifecycle } = parts;
  const address = devices.managementAddress;
  const brokerPort = devices.brokerPort ?? 1883;
  return {
    proposer,
    firstProposedAtMs: (signed) => proposedAtMs.get(signed),
    onDiscovery: (found) => agent.onDiscovery({
      port: found.port, mac: found.mac, firstSeenMs: found.firstSeenMs, lastSeenMs: found.lastSeenMs,
      hostname: found.hostname ?? '', vendorClass: found.vendorClass ?? '',
    }),
    status: () => {
      const health = broker.health();
      return {
        ...agent.status(),
        management: { address, port: devices.managementPort, ready: management.state.ready, lastError: management.state.lastError },
        broker: { running: health.running, address: `${address}:${brokerPort}`, lastError: health.lastError },
        secrets: secrets.size,
      };
    },
    stop: async () => {
      lifecycle.stopped = true;
      management.stop();
      unfollow();
      agent.stop();
      await proposer.stop();
      for (const adapter of adapters.values()) await adapter.close().catch(() => undefined);
      // The broker keeps running: devices stay connected while the node restarts (ensure adopts it).
    },
  };
}

/** brokerDir is where a gateway's Mosquitto keeps its files: beside the private OVS, one directory per bridge. */
export function brokerDir(paths: HostPaths, bridge: string): string {
  return join(dirname(paths.ovsDir), 'mosquitto', bridge);
}

/**
 * proposeOutcome proposes signed bytes and classifies what became of them for the NodeProposer. A copy that
 * the state answered 'duplicate' (bytes proposed again after a leader change, whose first copy had committed
 * after all) is reported with the original's outcome and index, as the API answers a retry: the batch's log
 * line then names the entry that applied it (bench:reaction-cluster leader-kill found no stage for it).
 */
export async function proposeOutcome(
  runtime: Pick<RaftRuntime<unknown>, 'propose'>, machine: Pick<StateMachine, 'resultForEnvelope'>, signed: Uint8Array,
): Promise<ProposeOutcome> {
  try {
    const committed = await runtime.propose(signed);
    let result = committed.result as { ok: boolean; code?: string; reason?: string; index?: number };
    let index = committed.index;
    if (!result.ok && result.code === 'duplicate') {
      const original = machine.resultForEnvelope(signed)?.result;
      if (original !== undefined) {
        result = original;
        index = original.index;
      }
    }
    return { kind: 'committed', index, ok: result.ok, ...(result.code !== undefined ? { code: result.code } : {}), ...(result.reason !== undefined ? { reason: result.reason } : {}) };
  } catch (error) {
    if (error instanceof RuntimeError && error.code === 'RUNTIME_STOPPED') return { kind: 'fatal', reason: error.message };
    return { kind: 'retry', reason: error instanceof Error ? error.message : String(error) };
  }
}
