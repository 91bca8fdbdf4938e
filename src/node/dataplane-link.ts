// dataplane-link.ts — connects a gateway node to its data plane (src/dataplane's DataplaneAgent).
//
// After every applied entry the agent is handed the agreed state and converges OVS and the μmbox
// containers on it (level-triggered). Alerts the μmboxes raise come back as telemetry commands
// signed by this node's key and proposed through Raft like any command. The API reads the
// enforced generation per device from here, so a client can wait for enforcement, not only for
// commit.
import type { Logger } from 'pino';
import { DataplaneAgent, DataplaneError, OvsSwitch, detectDatapath, hostDatapathProbes, hostPaths, nodeSigner, probeBridgeName, umboxOwner } from '../dataplane/index.js';
import type { DatapathDecision, DatapathProbes, Discovery, TelemetryBatch } from '../dataplane/index.js';
import type { KeyPair } from '../commands/index.js';
import type { NodeConfig } from './config.js';
import { changesPlans } from './gateway-applier.js';
import type { AppliedEvent, GatewayApplier } from './gateway-applier.js';
import type { RaftRuntime } from './raft-runtime.js';
import type { NodeSequence } from './device-link.js';
import type { ProposeOutcome } from '../devices/index.js';
import { RuntimeError } from './runtime-errors.js';
import { DeleteThenAddSwitch } from './plant-delete-then-add.js';
import { StartupError } from './startup-error.js';
import type { EnforcementView } from '../api/index.js';

/** TELEMETRY_ATTEMPTS bounds the proposals of one telemetry batch (≈30 s of retries; the batch expires after 60 s). */
const TELEMETRY_ATTEMPTS = 20;

/** EnforcementView is what the API reads about enforcement on this node. */
export type { EnforcementView } from '../api/index.js';

/** DataplaneLink is a started data plane. */
export interface DataplaneLink {
  readonly enforcement: EnforcementView;
  stop(): Promise<void>;
}

/**
 * detectNodeDatapath chooses the datapath of this node's bridge before the node starts (datapath.ts), from
 * `dataplane.datapath` (default auto) and this host's probes (`probes` replaces them in tests). A config
 * that insists on the kernel datapath on a host without one is a StartupError naming the setting.
 */
export async function detectNodeDatapath(config: NodeConfig, probes?: DatapathProbes): Promise<DatapathDecision> {
  const dataplane = config.dataplane;
  if (dataplane === undefined) throw new StartupError('DATAPATH', 'detectNodeDatapath: the config has no dataplane section');
  const paths = hostPaths(dataplane.runDir);
  try {
    return await detectDatapath(dataplane.datapath ?? 'auto', probes ?? hostDatapathProbes(paths, probeBridgeName(dataplane.bridge)));
  } catch (error) {
    if (error instanceof DataplaneError && error.code === 'datapath_unavailable') throw new StartupError('DATAPATH', `node ${config.nodeId}: ${error.message}`, error);
    throw error;
  }
}

/** DataplaneInit is what startDataplane needs of the node. */
export interface DataplaneInit {
  config: NodeConfig;
  /** datapath is what detectNodeDatapath chose for this node's bridge. */
  datapath: DatapathDecision;
  identity: KeyPair;
  clusterId: Uint8Array;
  applier: GatewayApplier;
  runtime: RaftRuntime<unknown>;
  logger: Logger;
  /** sequence is the node key's one sequence source (device-link.ts nodeSequence). */
  sequence: NodeSequence;
  /** management is the node's management port (config devices), so the planner installs the device management flows. */
  management?: { port: string; address: string; brokerPort: number };
  /** onDiscovery, when set, runs the bridge's discovery monitor and hears unknown devices. */
  onDiscovery?: (found: Discovery) => void;
  /** submitSigned, when set, proposes the alert batches (the device half's NodeProposer keeps the node's commands in sequence order). */
  submitSigned?: (signed: Uint8Array) => Promise<ProposeOutcome>;
  /** firstProposedAtMs, with submitSigned, says when the proposer first proposed a batch's bytes (for its log line). */
  firstProposedAtMs?: (signed: Uint8Array) => number | undefined;
  /** plantDeleteThenAdd: PLANTED BUG (chaos self-test) — flow swaps delete before they add. */
  plantDeleteThenAdd?: boolean;
}

/** startDataplane creates and starts the agent for this node and feeds it every applied state. */
export function startDataplane(init: DataplaneInit): DataplaneLink {
  const { config, identity, clusterId, applier } = init;
  const logger = init.logger.child({ module: 'dataplane' });
  const memberId = `n${config.nodeId}`;
  // Telemetry sequence numbers must exceed what the state last applied for this key, and what this
  // process signed before (batches in flight are not applied yet): one source for the whole node.
  const nextSeq = (): number => init.sequence.next();
  const paths = hostPaths(config.dataplane?.runDir);
  const agent = new DataplaneAgent({
    nodeId: memberId,
    // The node's μmbox containers are its cluster's: another cluster's n1 on the same engine is not this node.
    owner: umboxOwner(memberId, Buffer.from(clusterId).toString('hex')),
    bridge: config.dataplane!.bridge,
    uplinkPort: config.dataplane!.uplinkPort,
    paths,
    datapath: init.datapath.datapath,
    // The planted bug is a wrapper around the switch, made here in the composition root.
    ...(init.plantDeleteThenAdd === true ? { switch: new DeleteThenAddSwitch(new OvsSwitch({ bridge: config.dataplane!.bridge, ovsDir: paths.ovsDir, datapath: init.datapath.datapath })) } : {}),
    ...(config.dataplane?.standbyUmboxes === undefined ? {} : { standbyLimit: config.dataplane.standbyUmboxes }),
    sign: nodeSigner({ clusterId, keyPair: identity, nextSeq }),
    ...(init.management ? { management: init.management, watchLinks: true } : {}),
    ...(init.onDiscovery ? { onDiscovery: init.onDiscovery, onDiscoveryError: (error: Error) => logger.debug({ err: error }, 'discovery monitor') } : {}),
    submit: telemetrySubmitter(init, logger),
    onAlert: (alert) => logger.info({ alert }, 'μmbox alert'),
    onIntegrityAlert: (alert) => logger.warn({ alert }, 'μmbox image failed its integrity check; device quarantined'),
    onPass: (result, error) => {
      if (error) logger.warn({ err: error }, 'reconcile pass failed; retrying');
      else logger.debug({ result }, 'reconcile pass');
    },
  });
  let desiredIndex = 0;
  let scheduled = false;
  const updateNow = (): void => {
    scheduled = false;
    desiredIndex = applier.machine.lastApplied().index;
    agent.update(applier.machine);
  };
  // One update per burst of applied entries (a Ready applies many): planning reads every device.
  const update = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(updateNow);
  };
  const onApplied = (event: AppliedEvent): void => {
    if (changesPlans(event)) update();
    // Nothing to plan: the plans enforced at desiredIndex are those of this entry too — unless an update is
    // still pending, whose new plans the agent has not been given yet (advancing then would report a state
    // change enforced before its flows are: the chaos smoke's probes caught packets passing after "enforced").
    else if (!scheduled) desiredIndex = applier.machine.lastApplied().index;
  };
  applier.on('applied', onApplied);
  applier.on('restored', update);
  updateNow();
  agent.start();
  logger.info({ bridge: config.dataplane!.bridge, ovsDir: paths.ovsDir, dockerSocket: paths.dockerSocket, datapath: init.datapath }, 'data plane started');
  return {
    enforcement: { ...enforcementOf(agent, applier, memberId, () => desiredIndex), datapath: init.datapath },
    stop: async () => {
      applier.off('applied', onApplied);
      applier.off('restored', update);
      await agent.stop();
    },
  };
}

/**
 * telemetrySubmitter proposes a signed telemetry batch: through the device half's proposer when the node has
 * one (it keeps the node's commands in sequence order), else straight to Raft, the same signed bytes again
 * until they commit (at most TELEMETRY_ATTEMPTS): an alert must not be lost to a leader change.
 */
function telemetrySubmitter(init: Pick<DataplaneInit, 'submitSigned' | 'firstProposedAtMs' | 'runtime'>, logger: Logger): (signed: Uint8Array, batch: TelemetryBatch) => Promise<void> {
  const runtime = init.runtime;
  return async (signed, batch) => {
  if (init.submitSigned) {
    const outcome = await init.submitSigned(signed);
    // The times split an alert's reaction (bench:reaction-cluster): proposed, then applied here.
    const times = { proposedAtMs: init.firstProposedAtMs?.(signed), appliedAtMs: Date.now() };
    if (outcome.kind === 'committed' && (outcome.ok || outcome.code === 'duplicate')) logger.info({ domain: batch.domain, events: batch.events.length, index: outcome.index, ...times }, 'telemetry committed');
    else logger.warn({ domain: batch.domain, outcome }, 'telemetry batch not applied');
    return;
  }
  // An alert must not be lost to a leader change: the same signed bytes are proposed again
  // until they commit (the state machine applies a body once; a repeat is answered 'duplicate').
  const proposedAtMs = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      const committed = await runtime.propose(signed);
      const result = committed.result as { ok: boolean; code?: string; reason?: string };
      if (result.ok) logger.info({ domain: batch.domain, events: batch.events.length, index: committed.index, proposedAtMs, appliedAtMs: Date.now() }, 'telemetry committed');
      else if (result.code === 'duplicate') logger.info({ domain: batch.domain, index: committed.index }, 'telemetry had already been committed');
      else logger.warn({ domain: batch.domain, code: result.code, reason: result.reason }, 'telemetry batch rejected');
      return;
    } catch (error) {
      const retriable = error instanceof RuntimeError && error.code !== 'RUNTIME_STOPPED';
      if (!retriable || attempt >= TELEMETRY_ATTEMPTS) throw error;
      logger.info({ attempt, reason: error.message }, 'telemetry not committed yet; proposing the same batch again');
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 50 * 2 ** attempt)));
    }
  }
  };
}

/**
 * enforcementOf is the enforcement view of a started agent: its reports, and the highest applied index whose
 * plans are all enforced — every device this node serves reported and enforced at the generation asked for
 * (a node that restarted and has not reconciled yet reports nothing, and so enforces nothing).
 */
function enforcementOf(agent: DataplaneAgent, applier: GatewayApplier, memberId: string, desiredIndex: () => number): EnforcementView {
  return {
    report: () => agent.report(),
    enforcedIndex: () => {
      const reports = new Map(agent.report().map((d) => [d.deviceId, d]));
      const served = applier.machine.devices({ nodeId: memberId });
      const enforced = served.every((device) => {
        const report = reports.get(device.id);
        return report !== undefined && report.appliedGeneration === report.desiredGeneration;
      });
      return enforced ? desiredIndex() : 0;
    },
  };
}
