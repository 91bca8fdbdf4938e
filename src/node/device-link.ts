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

/** startDevices starts the device half of a gateway; the caller has checked config.devices and config.dataplane. */
export function startDevices(init: {
  config: NodeConfig;
  identity: KeyPair;
  clusterId: Uint8Array;
  applier: GatewayApplier;
  runtime: RaftRuntime<unknown>;
  sequence: NodeSequence;
  logger: Logger;
}): DeviceLink {
  const { config, identity, clusterId, applier, runtime, sequence } = init;
  const devices = config.devices!;
  const bridge = config.dataplane!.bridge;
  const logger = init.logger.child({ module: 'devices' });
  const memberId = `n${config.nodeId}`;
  const signer = keyIdHex(identity.publicKey);
  const secrets = new DeviceSecrets(devices.secretsFile);
  const brokerPort = devices.brokerPort ?? 1883;
  const paths = hostPaths(config.dataplane?.runDir);
  const reportDelayMs = Number(process.env.QG_DEVICE_COMMAND_REPORT_DELAY_MS ?? '0');
  if (reportDelayMs > 0) logger.warn({ reportDelayMs }, 'QG_DEVICE_COMMAND_REPORT_DELAY_MS is set: device command reports wait after the device answered (a test knob)');

  // Keyed by the signed bytes' object (the proposer proposes the very array it was handed): entries go
  // with the bytes, so the map holds nothing once a command is done.
  const proposedAtMs = new WeakMap<Uint8Array, number>();
  const proposer = new NodeProposer({
    sign: (domain, payload) => {
      const body: CommandBody = {
        clusterId, domain, signer, seq: sequence.next(), notAfterMs: Date.now() + NODE_COMMAND_TTL_MS, payload: payload as Payload,
      };
      return signCommand(body, [identity]);
    },
    propose: (signed) => {
      if (!proposedAtMs.has(signed)) proposedAtMs.set(signed, Date.now());
      return proposeOutcome(runtime, signed);
    },
    domainOf: (deviceId) => {
      const device = applier.machine.device(deviceId);
      return device !== undefined && device.nodeId === memberId ? device.domain : null;
    },
    onResult: (what, outcome) => {
      if (outcome.kind === 'committed' && !outcome.ok && outcome.code !== 'duplicate') logger.warn({ what, code: outcome.code, reason: outcome.reason }, 'node command rejected');
      else if (outcome.kind !== 'committed') logger.warn({ what, reason: outcome.reason }, 'node command not committed; given up');
    },
  });

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
    nodeId: memberId, adapters, proposer, broker,
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

  const management = { ready: false, lastError: null as string | null, port: null as ManagementPort | null };
  let stopped = false;
  let setupTimer: NodeJS.Timeout | null = null;

  // The management port needs the bridge (the data plane creates it) and the broker needs the address:
  // both are retried until they work, and the MQTT adapter starts once the broker runs.
  const setUp = async (): Promise<void> => {
    setupTimer = null;
    if (stopped) return;
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
      if (stopped) return;
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

  let scheduled = false;
  const onApplied = (event: AppliedEvent): void => {
    if (changesPlans(event)) update();
    else agent.armDeadlineFrom(applier.machine); // a deadline re-armed without moving any device
  };
  const update = (): void => {
    if (scheduled || stopped) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      if (!stopped) agent.update(applier.machine);
    });
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
  for (const adapter of adapters.values()) void adapter.start();
  proposer.start();
  update();
  void setUp();

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
        management: { address, port: devices.managementPort, ready: management.ready, lastError: management.lastError },
        broker: { running: health.running, address: `${address}:${brokerPort}`, lastError: health.lastError },
        secrets: secrets.size,
      };
    },
    stop: async () => {
      stopped = true;
      if (setupTimer !== null) clearTimeout(setupTimer);
      if (devices.secretsFile !== undefined) unwatchFile(devices.secretsFile, reloadSecrets);
      applier.off('applied', onApplied);
      applier.off('restored', update);
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

/** proposeOutcome proposes signed bytes and classifies what became of them for the NodeProposer. */
async function proposeOutcome(runtime: RaftRuntime<unknown>, signed: Uint8Array): Promise<ProposeOutcome> {
  try {
    const committed = await runtime.propose(signed);
    const result = committed.result as { ok: boolean; code?: string; reason?: string };
    return { kind: 'committed', index: committed.index, ok: result.ok, ...(result.code !== undefined ? { code: result.code } : {}), ...(result.reason !== undefined ? { reason: result.reason } : {}) };
  } catch (error) {
    if (error instanceof RuntimeError && error.code === 'RUNTIME_STOPPED') return { kind: 'fatal', reason: error.message };
    return { kind: 'retry', reason: error instanceof Error ? error.message : String(error) };
  }
}
