// application.ts — what runs on top of the Raft log: the gateway (signed commands, state machine,
// data plane) or the bare log (for Raft tests and bench:raft). The composition root asks the
// application for its applier, its founders and cluster id, and its API dependencies.
import type { Logger } from 'pino';
import { clusterIdOf, loadGenesis, toHex, GenesisError } from '../commands/index.js';
import type { Genesis, KeyPair } from '../commands/index.js';
import type { NodeId } from '../raft/index.js';
import type { Discovery } from '../dataplane/index.js';
import { StateMachine, policyEngines } from '../state/index.js';
import type { ApiDeps, DevicesStatus, RuntimeApi } from '../api/index.js';
import type { NodeConfig } from './config.js';
import { GatewayApplier } from './gateway-applier.js';
import type { AppliedEvent } from './gateway-applier.js';
import { LogApplier } from './log-applier.js';
import type { PeerAddress, RuntimeApplier } from './ports.js';
import type { RaftRuntime } from './raft-runtime.js';
import { StartupError } from './startup-error.js';
import { ReplayBlindStateMachine, withLocalReads, type Plant } from './plants.js';
import { detectNodeDatapath, startDataplane } from './dataplane-link.js';
import type { DatapathDecision } from '../dataplane/index.js';
import type { DataplaneLink } from './dataplane-link.js';
import { nodeSequence, startDevices } from './device-link.js';
import type { DeviceLink } from './device-link.js';

/** DesiredMember is one member the leader converges the Raft configuration to. */
export interface DesiredMember {
  readonly address: PeerAddress;
  readonly voter: boolean;
}

/** Application is the part of a node above the Raft log. */
export interface Application {
  readonly kind: 'log' | 'quorumgate';
  readonly clusterId: Uint8Array;
  /** founders: the first members (and, for a joiner, the members it accepts connections from). */
  readonly founders: ReadonlyMap<NodeId, PeerAddress>;
  readonly applier: RuntimeApplier<unknown>;
  /** initialState: the application's snapshot bytes at bootstrap (identical on every founder). */
  initialState(): Uint8Array;
  readonly desiredMembers?: () => ReadonlyMap<NodeId, DesiredMember>;
  /** attach wires the application to the running runtime (effects it carries out, the data plane). */
  attach(runtime: RaftRuntime<unknown>, logger: Logger): void;
  /** stop releases what attach started (the data plane keeps enforcing: fail-static). */
  stop(): Promise<void>;
  apiDeps(runtime: RaftRuntime<unknown>): ApiDeps;
}

/** raftNodeId maps a gateway member id ("n1") to its Raft node id (1). */
export function raftNodeId(memberId: string): NodeId | undefined {
  const match = /^n([1-9][0-9]{0,14})$/.exec(memberId);
  if (!match) return undefined;
  const id = Number(match[1]);
  return Number.isSafeInteger(id) ? id : undefined;
}

/** parseHostPort splits "host:port" (IPv6 in brackets). */
export function parseHostPort(address: string): { host: string; port: number } | undefined {
  const match = /^\[?([^\]]+?)\]?:([0-9]{1,5})$/.exec(address);
  if (!match) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1]!, port };
}

/** logApplication is the bare Raft log: payloads recorded in order, for tests and benchmarks. */
export function logApplication(config: NodeConfig): Application {
  const applier = new LogApplier();
  const founders = new Map<NodeId, PeerAddress>((config.members ?? []).map((m) => [m.nodeId, { host: m.host, port: m.port, publicKey: m.publicKey }]));
  return {
    kind: 'log',
    clusterId: Buffer.from(config.clusterId ?? '', 'hex'),
    founders,
    applier,
    initialState: () => new LogApplier().snapshot(),
    attach: () => undefined,
    stop: async () => undefined,
    apiDeps: (runtime) => ({ runtime, logApplier: applier, logRuntime: runtime as unknown as NonNullable<ApiDeps['logRuntime']> }),
  };
}

/**
 * gatewayApplication is quorumgate proper: the signed-command state machine from the genesis. With a data
 * plane it first chooses its bridge's datapath (dataplane-link.ts detectNodeDatapath), before anything is
 * opened or written, and refuses to start when the config asks for one this host lacks.
 */
export async function gatewayApplication(config: NodeConfig, identity: KeyPair, logger: Logger, plant?: Plant): Promise<Application> {
  const genesis = loadGenesisOrExplain(config.genesisFile!);
  const clusterId = clusterIdOf(genesis);
  if (config.clusterId !== undefined && config.clusterId !== toHex(clusterId)) {
    throw new StartupError('CLUSTER_ID', `clusterId ${config.clusterId} in the config is not the hash of ${config.genesisFile} (${toHex(clusterId)}); remove clusterId or fix it`);
  }
  const founders = checkedFounders(config, genesis, identity);
  const applier = new GatewayApplier(plant === 'no-replay-check' ? new ReplayBlindStateMachine(genesis, policyEngines) : new StateMachine(genesis, policyEngines));
  const machine = (): StateMachine => applier.machine;
  let dataplane: DataplaneLink | undefined;
  let devices: DeviceLink | undefined;
  const datapath: DatapathDecision | undefined = config.dataplane ? await detectNodeDatapath(config) : undefined;
  if (datapath !== undefined) logger.info({ datapath }, `Open vSwitch datapath: ${datapath.datapath}`);
  return {
    kind: 'quorumgate',
    clusterId,
    founders,
    applier,
    initialState: () => new StateMachine(genesis, policyEngines).snapshot(),
    desiredMembers: () => desiredMembersOf(machine()),
    attach: (runtime, logger) => {
      // One sequence source for the node key: the data plane's alert batches and the device half's
      // commands must never be signed with the same or out-of-order numbers.
      const sequence = nodeSequence(applier, identity);
      if (config.dataplane && config.devices) {
        devices = startDevices({ config, identity, clusterId, applier, runtime, sequence, logger });
      }
      if (config.dataplane && datapath !== undefined) {
        const proposer = devices?.proposer;
        dataplane = startDataplane({
          config, identity, clusterId, applier, runtime, logger, sequence, datapath, plantDeleteThenAdd: plant === 'delete-then-add',
          ...(config.devices ? { management: { port: config.devices.managementPort, address: config.devices.managementAddress, brokerPort: config.devices.brokerPort ?? 1883 } } : {}),
          ...(proposer ? { submitSigned: (signed: Uint8Array) => proposer.addSigned('alerts', signed), firstProposedAtMs: (signed: Uint8Array) => devices!.firstProposedAtMs(signed) } : {}),
          ...(devices ? { onDiscovery: (found: Discovery) => devices!.onDiscovery(found) } : {}),
        });
      }
      logStateChanges(applier, logger);
      applier.on('applied', (event: { result: { ok: boolean; effects?: Array<{ kind: string; nodeId?: string }> } }) => {
        if (!event.result.ok) return;
        for (const effect of event.result.effects ?? []) {
          if (effect.kind !== 'transferLeader' || effect.nodeId === undefined) continue;
          const to = raftNodeId(effect.nodeId);
          if (to !== undefined && runtime.status().role === 'leader' && to !== runtime.status().id) {
            logger.info({ to }, 'transferring leadership as the log asks');
            runtime.transferLeadership(to);
          }
        }
      });
    },
    stop: async () => {
      await devices?.stop();
      await dataplane?.stop();
    },
    apiDeps: (runtime) => ({
      runtime,
      gateway: {
        applier,
        runtime: gatewayRuntime(runtime as unknown as NonNullable<ApiDeps['gateway']>['runtime'], plant),
        appliedEnvelopes: (from: number, limit: number) => runtime.appliedEnvelopes(from, limit),
        ...(dataplane ? { enforcement: dataplane.enforcement } : {}),
      },
      ...(devices ? { devices: { status: () => devicesStatus(devices!) } } : {}),
    }),
  };
}

/**
 * logStateChanges logs every device state change this node applies, with the entry's index, the leader's
 * stamp and this node's apply time: an operator sees when each gateway learnt of a move, and
 * bench:reaction-cluster reads commit (the first node to apply) and apply on the serving node from it.
 */
function logStateChanges(applier: GatewayApplier, logger: Logger): void {
  applier.on('applied', (event: AppliedEvent) => {
    if (!event.result.ok) return;
    for (const effect of event.result.effects) {
      if (effect.kind !== 'deviceState') continue;
      logger.info({ deviceId: effect.deviceId, from: effect.from, to: effect.to, rule: effect.rule, index: event.index, entryTimeMs: event.timeMs, appliedAtMs: Date.now() }, 'device state changed');
    }
  });
}

/**
 * checkedFounders returns the genesis founders plus the config's members, after checking that this
 * node is one of them (unless it joins later) under the key in its key file.
 */
function checkedFounders(config: NodeConfig, genesis: Genesis, identity: KeyPair): Map<NodeId, PeerAddress> {
  const founders = genesisFounders(genesis, config.genesisFile!);
  for (const member of config.members ?? []) founders.set(member.nodeId, { host: member.host, port: member.port, publicKey: member.publicKey });
  const self = founders.get(config.nodeId);
  if (!config.join && self === undefined) {
    throw new StartupError('NOT_A_MEMBER', `node ${config.nodeId} (member id "n${config.nodeId}") is not in ${config.genesisFile}; set join: true for a node added later`);
  }
  if (self && self.publicKey !== toHex(identity.publicKey)) {
    throw new StartupError('KEY_MISMATCH', `the key in ${config.identityKeyFile} (${toHex(identity.publicKey)}) is not node ${config.nodeId}'s key `
      + `(${self.publicKey} in ${config.genesisFile} or the config's members): node ${config.nodeId} exists already; use its own key file, or give this node a new id`);
  }
  return founders;
}

/** desiredMembersOf is the membership the leader converges to: the replicated state's members with valid ids and addresses. */
function desiredMembersOf(machine: StateMachine): Map<NodeId, DesiredMember> {
  const desired = new Map<NodeId, DesiredMember>();
  for (const member of machine.members()) {
    const id = raftNodeId(member.nodeId);
    const address = parseHostPort(member.address);
    if (id === undefined || address === undefined) continue;
    desired.set(id, { address: { ...address, publicKey: member.nodeKey }, voter: member.role === 'voter' });
  }
  return desired;
}

/** gatewayRuntime is the runtime the gateway API reads through: the node's own, or the planted local-reads wrapper. */
function gatewayRuntime<Result>(runtime: RuntimeApi<Result>, plant: Plant | undefined): RuntimeApi<Result> {
  return plant === 'local-reads' ? withLocalReads(runtime) : runtime;
}

/** devicesStatus maps the device half's status onto the API's /v1/status section. */
function devicesStatus(link: DeviceLink): DevicesStatus {
  const status = link.status();
  return {
    adapters: status.adapters,
    broker: status.broker,
    readings: {
      queued: status.readings.queuedReadings, dropped: status.readings.droppedReadings, submitted: status.readings.submittedReadings,
      batches: status.readings.readingBatches, batchMs: Math.round(status.readings.readingBatchMs),
    },
    commands: { inFlight: status.commands.inFlight, failed: status.commands.failed },
    management: status.management,
    problems: status.problems,
  };
}

/** loadGenesisOrExplain loads the genesis file, turning its GenesisError into a start-up error. */
function loadGenesisOrExplain(file: string): Genesis {
  try {
    return loadGenesis(file);
  } catch (error) {
    if (error instanceof GenesisError) throw new StartupError('GENESIS', `${error.message}`, error);
    throw error;
  }
}

/** genesisFounders maps the genesis members to Raft ids and addresses; a malformed member is a start-up error naming it. */
function genesisFounders(genesis: Genesis, file: string): Map<NodeId, PeerAddress> {
  const founders = new Map<NodeId, PeerAddress>();
  for (const [i, member] of genesis.members.entries()) {
    const id = raftNodeId(member.nodeId);
    if (id === undefined) throw new StartupError('GENESIS', `${file}: members[${i}].nodeId: expected "n" and a number (e.g. "n1"), found "${member.nodeId}"`);
    const address = parseHostPort(member.address);
    if (address === undefined) throw new StartupError('GENESIS', `${file}: members[${i}].address: expected "host:port", found "${member.address}"`);
    founders.set(id, { ...address, publicKey: member.nodeKey });
  }
  return founders;
}
