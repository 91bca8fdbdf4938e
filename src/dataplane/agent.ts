// agent.ts — the data plane of one node, wired: the reconciler over OVS and Docker, alert intake from the
// μmboxes, and telemetry batches signed with the node key. The node's composition root creates one agent,
// calls update(state) after every applied entry (or batch of entries), and submits what the agent signs.
// Stopping the agent leaves flows and μmboxes in place: enforcement is fail-static.
// With `management` the agent's input opens the management path (the node makes the port first with
// ensureManagementPort); with `onDiscovery` it runs a DiscoveryMonitor on the bridge; with `watchLinks` a
// LinkWatcher wakes the reconciler when host interfaces appear (a device plugged in after its registration).
import { AlertIntake } from './alerts.js';
import { DiscoveryMonitor, type Discovery } from './discovery.js';
import { LinkWatcher } from './links.js';
import { DockerUmboxRuntime, type UmboxRuntime } from './docker-runtime.js';
import { hostPaths, type HostPaths } from './host.js';
import { OvsSwitch, type Switch } from './ovs.js';
import type { DatapathType } from './datapath.js';
import { Reconciler, type IntegrityAlert, type PassResult } from './reconciler.js';
import { GenerationBook, desiredInputFromState, type ImageConfig, type StateView } from './state-adapter.js';
import { TelemetryBatcher, type SignBatch, type TelemetryBatch } from './telemetry.js';
import type { DeviceReport, NodeManagement, UmboxAlert } from './types.js';

/** AgentStateView is what the agent reads from the agreed state: StateView plus each device's domain. */
export interface AgentStateView extends StateView {
  device(id: string): { domain: string; nodeId: string } | undefined;
}

/** DataplaneAgentInit configures an agent; switch and runtime default to the real adapters on `paths`. */
export interface DataplaneAgentInit {
  /** nodeId is the node's member id: the state assigns devices to it, and its telemetry names it. */
  nodeId: string;
  /**
   * owner owns the node's μmbox containers on the engine (DesiredInput.nodeId; umboxOwner: the member id scoped
   * by the cluster, so clusters sharing an engine never touch each other's). Default: nodeId.
   */
  owner?: string;
  bridge: string;
  uplinkPort: string;
  paths?: HostPaths;
  /** datapath is the bridge's datapath_type for the real switch (default netdev; the node's detection chooses it). */
  datapath?: DatapathType;
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
  /** management is the node's management port (DesiredInput.management), made by ensureManagementPort. */
  management?: NodeManagement;
  /** onDiscovery, when given, runs a DiscoveryMonitor on the bridge (real OVS at `paths`) and hears its reports. */
  onDiscovery?: (discovery: Discovery) => void;
  /** onDiscoveryError hears the monitor's trouble (it restarts itself). */
  onDiscoveryError?: (error: Error) => void;
  /** watchLinks runs a LinkWatcher that calls Reconciler.interfacesChanged (default false). */
  watchLinks?: boolean;
}

/** DataplaneAgent keeps one node's data plane in step with the agreed state. */
export class DataplaneAgent {
  readonly reconciler: Reconciler;
  readonly intake: AlertIntake;
  readonly batcher: TelemetryBatcher;
  private readonly nodeId: string;
  /** owner is DesiredInput.nodeId: what the node's μmbox containers are named and labelled by. */
  private readonly owner: string;
  private readonly book = new GenerationBook();
  private readonly imageConfig: ImageConfig | undefined;
  private state: AgentStateView | null = null;
  private readonly management: NodeManagement | undefined;
  /** discovery is the bridge's discovery monitor, when the agent was given onDiscovery. */
  readonly discovery: DiscoveryMonitor | null;
  private readonly watchLinks: boolean;
  private links: LinkWatcher | null = null;

  constructor(init: DataplaneAgentInit) {
    const paths = init.paths ?? hostPaths();
    this.nodeId = init.nodeId;
    this.owner = init.owner ?? init.nodeId;
    this.imageConfig = init.imageConfig;
    this.management = init.management;
    this.watchLinks = init.watchLinks === true;
    this.discovery = init.onDiscovery === undefined ? null : new DiscoveryMonitor({
      bridge: init.bridge, ovsDir: paths.ovsDir, ...(init.onDiscoveryError === undefined ? {} : { onError: init.onDiscoveryError }),
    });
    if (this.discovery !== null && init.onDiscovery !== undefined) this.discovery.onDiscovery(init.onDiscovery);
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
      switch: init.switch ?? new OvsSwitch({ bridge: init.bridge, ovsDir: paths.ovsDir, ...(init.datapath === undefined ? {} : { datapath: init.datapath }) }),
      runtime: init.runtime ?? new DockerUmboxRuntime({ socketPath: paths.dockerSocket, umboxDir: paths.umboxDir }),
      uplinkPort: init.uplinkPort, channels: this.intake, onIntegrityAlert: init.onIntegrityAlert, onPass: init.onPass,
      ...(init.standbyLimit === undefined ? {} : { standbyLimit: init.standbyLimit }),
      ...(init.interfaceExists ? { interfaceExists: init.interfaceExists } : {}),
    });
  }

  /** start begins reconciling (a full resync first: whatever runs from before is adopted or repaired). */
  start(): void {
    this.reconciler.start();
    this.discovery?.start();
    if (this.watchLinks && this.links === null) this.links = new LinkWatcher({ onChange: () => this.reconciler.interfacesChanged() });
  }

  /** update hands the agent the agreed state after it changed; the reconciler converges on it. */
  update(state: AgentStateView): void {
    this.state = state;
    const options = { owner: this.owner, ...(this.management === undefined ? {} : { management: this.management }) };
    this.reconciler.setDesired(desiredInputFromState(state, this.nodeId, this.book, this.imageConfig, options));
  }

  /** report lists the generation enforced per device. */
  report(): DeviceReport[] {
    return this.reconciler.report();
  }

  /** stop ends reconciling and alert intake, and flushes pending telemetry; flows and μmboxes stay. */
  async stop(): Promise<void> {
    this.links?.close();
    this.links = null;
    await this.discovery?.stop();
    await this.reconciler.stop();
    this.intake.close();
    await this.batcher.close();
  }
}
