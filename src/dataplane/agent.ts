// agent.ts — the data plane of one node, wired: the reconciler over OVS and Docker, alert intake from the
// μmboxes, and telemetry batches signed with the node key. The node's composition root creates one agent,
// calls update(state) after every applied entry (or batch of entries), and submits what the agent signs.
// Stopping the agent leaves flows and μmboxes in place: enforcement is fail-static.
import { AlertIntake } from './alerts.js';
import { DockerUmboxRuntime, type UmboxRuntime } from './docker-runtime.js';
import { hostPaths, type HostPaths } from './host.js';
import { OvsSwitch, type Switch } from './ovs.js';
import { Reconciler, type IntegrityAlert, type PassResult } from './reconciler.js';
import { GenerationBook, desiredInputFromState, type ImageConfig, type StateView } from './state-adapter.js';
import { TelemetryBatcher, type SignBatch, type TelemetryBatch } from './telemetry.js';
import type { DeviceReport, UmboxAlert } from './types.js';

/** AgentStateView is what the agent reads from the agreed state: StateView plus each device's domain. */
export interface AgentStateView extends StateView {
  device(id: string): { domain: string; nodeId: string } | undefined;
}

/** DataplaneAgentInit configures an agent; switch and runtime default to the real adapters on `paths`. */
export interface DataplaneAgentInit {
  nodeId: string;
  bridge: string;
  uplinkPort: string;
  paths?: HostPaths;
  switch?: Switch;
  runtime?: UmboxRuntime;
  /** interfaceExists defaults to looking in /sys/class/net (override with the in-memory adapters). */
  interfaceExists?: (name: string) => boolean;
  sign: SignBatch;
  submit: (signed: Uint8Array, batch: TelemetryBatch) => Promise<void>;
  imageConfig?: ImageConfig;
  onIntegrityAlert?: (alert: IntegrityAlert) => void;
  onAlert?: (alert: UmboxAlert) => void;
  onPass?: (result: PassResult, error: Error | null) => void;
  /** standbyLimit bounds the node's standby μmboxes (default STANDBY_UMBOXES_DEFAULT; 0 turns standby off). */
  standbyLimit?: number;
  /** plantDeleteThenAdd: PLANTED BUG for the chaos self-test (see ReconcilerInit). */
  plantDeleteThenAdd?: boolean;
}

/** DataplaneAgent keeps one node's data plane in step with the agreed state. */
export class DataplaneAgent {
  readonly reconciler: Reconciler;
  readonly intake: AlertIntake;
  readonly batcher: TelemetryBatcher;
  private readonly nodeId: string;
  private readonly book = new GenerationBook();
  private readonly imageConfig: ImageConfig | undefined;
  private state: AgentStateView | null = null;

  constructor(init: DataplaneAgentInit) {
    const paths = init.paths ?? hostPaths();
    this.nodeId = init.nodeId;
    this.imageConfig = init.imageConfig;
    this.batcher = new TelemetryBatcher({
      nodeId: init.nodeId, sign: init.sign, submit: init.submit,
      domainOf: (deviceId) => {
        const device = this.state?.device(deviceId);
        return device !== undefined && device.nodeId === init.nodeId ? device.domain : null;
      },
    });
    this.intake = new AlertIntake({
      onAlert: (alert) => {
        init.onAlert?.(alert);
        this.batcher.add(alert);
      },
    });
    this.reconciler = new Reconciler({
      switch: init.switch ?? new OvsSwitch({ bridge: init.bridge, ovsDir: paths.ovsDir }),
      runtime: init.runtime ?? new DockerUmboxRuntime({ socketPath: paths.dockerSocket, umboxDir: paths.umboxDir }),
      uplinkPort: init.uplinkPort, channels: this.intake, onIntegrityAlert: init.onIntegrityAlert, onPass: init.onPass,
      ...(init.plantDeleteThenAdd === true ? { plantDeleteThenAdd: true } : {}),
      ...(init.standbyLimit === undefined ? {} : { standbyLimit: init.standbyLimit }),
      ...(init.interfaceExists ? { interfaceExists: init.interfaceExists } : {}),
    });
  }

  /** start begins reconciling (a full resync first: whatever runs from before is adopted or repaired). */
  start(): void {
    this.reconciler.start();
  }

  /** update hands the agent the agreed state after it changed; the reconciler converges on it. */
  update(state: AgentStateView): void {
    this.state = state;
    this.reconciler.setDesired(desiredInputFromState(state, this.nodeId, this.book, this.imageConfig));
  }

  /** report lists the generation enforced per device. */
  report(): DeviceReport[] {
    return this.reconciler.report();
  }

  /** stop ends reconciling and alert intake, and flushes pending telemetry; flows and μmboxes stay. */
  async stop(): Promise<void> {
    await this.reconciler.stop();
    this.intake.close();
    await this.batcher.close();
  }
}
