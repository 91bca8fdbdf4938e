// types.ts — the data plane's input (what the agreed state asks of this node), its plan (what should be
// in OVS and Docker), what the adapters observe, and what the reconciler reports.

/** ImagePin names a μmbox image and the digest it must have (sha256 of its root-filesystem tar). */
export interface ImagePin {
  /** image is the μmbox image name, e.g. "monitor" (lower case letters, digits and dashes). */
  image: string;
  /** digest is "sha256:<64 hex>", the image's RootFS.Layers[0]. */
  digest: string;
  /** config becomes the container's UMBOX_* environment (e.g. {ALLOW: 'out:tcp:80'} → UMBOX_ALLOW). */
  config?: Readonly<Record<string, string>>;
}

/** ChainPlan sends the device's traffic through μmboxes in declared order (device side first). */
export interface ChainPlan {
  state: string;
  generation: number;
  chain: readonly ImagePin[];
}

/** VerdictPlan passes the device's traffic straight through (`allow`) or drops all of it (`quarantine`). */
export interface VerdictPlan {
  state: string;
  generation: number;
  verdict: 'allow' | 'quarantine';
}

/** DevicePlan is the agreed plan of one device; `generation` increases whenever the plan changes. */
export type DevicePlan = ChainPlan | VerdictPlan;

/**
 * StandbyPlan is a chain the device may need next (the target of one of its type's rules from its current
 * state). Its μmboxes may be started ahead of time ("standby") so that the move is one flow bundle.
 */
export interface StandbyPlan {
  state: string;
  chain: readonly ImagePin[];
}

/** DesiredDevice is one device this node serves. */
export interface DesiredDevice {
  id: string;
  /** port is the OVS port (host interface name) the device is plugged into. */
  port: string;
  /**
   * addresses are the device's IPv4 addresses and, optionally, its MAC addresses ("02:00:00:00:00:14"):
   * traffic from it must carry one of its IPv4 addresses (and, when it has MACs, one of them as its Ethernet
   * source); traffic to it is routed by its IPv4 addresses. At least one IPv4 address.
   */
  addresses: readonly string[];
  /** plan is null when the state has none yet: the device is quarantined. */
  plan: DevicePlan | null;
  /** standby lists the chains the device may move to next, most likely first (none by default). */
  standby?: readonly StandbyPlan[];
  /**
   * standbyPriority orders devices when the node's standby limit binds: higher first (e.g. 1 for a device
   * already out of its initial state), then by device id. Default 0.
   */
  standbyPriority?: number;
  /**
   * management opens the gateway's management path to this device (see DesiredInput.management), in every
   * state of a valid plan. Absent: the gateway does not talk to the device.
   */
  management?: DeviceManagement;
}

/** DeviceManagement is what a device's interface needs of the management path. */
export interface DeviceManagement {
  /** tcpPorts are device-side TCP ports the gateway connects to (HTTP polling), at most MAX_MANAGEMENT_TCP_PORTS. */
  tcpPorts: readonly number[];
  /** broker: the device connects to the gateway's broker (MQTT) on NodeManagement.brokerPort. */
  broker: boolean;
}

/**
 * NodeManagement is the gateway's management port: a port of its bridge whose host end carries the
 * gateway's management address (see management.ts ensureManagementPort).
 */
export interface NodeManagement {
  /** port is the OVS port (host interface name of the veth's bridge end). */
  port: string;
  /** address is the gateway's management IPv4 address, in its devices' subnet. */
  address: string;
  /** mac, when given, is the host end's MAC: frames from the management port must carry it. */
  mac?: string;
  /** brokerPort is the TCP port of the gateway's MQTT broker on `address`. */
  brokerPort: number;
}

/** DesiredInput is everything the data plane needs from the agreed state, for one node. */
export interface DesiredInput {
  nodeId: string;
  devices: readonly DesiredDevice[];
  /**
   * warm lists the pinned images of every chain the policy can put this node's devices in: the node keeps a
   * few unconfigured μmboxes of each running (a warm pool) so a move to such a chain need not start one.
   */
  warm?: ReadonlyArray<{ image: string; digest: string }>;
  /** management is the node's management port, when it talks to devices (absent: no management path). */
  management?: NodeManagement;
}

/** FlowSpec is one OpenFlow 1.3 flow in table 0, with ports by name (the driver resolves them to numbers). */
export interface FlowSpec {
  /** cookie is (deviceNumber << 32) | generation; 0 for the node's own base flows. */
  cookie: bigint;
  priority: number;
  /** inPort is the OVS port name the packet arrived on. */
  inPort: string;
  /** match is the rest of the match, in OVS's canonical spelling: "" or "ip,nw_src=10.0.0.2" or "arp,arp_tpa=...". */
  match: string;
  /** output is the OVS port name to send the packet to; null drops it (and so does a report). */
  output: string | null;
  /**
   * report: instead of an output, the frame goes through the discovery meter to the node's monitor
   * (REPORT_ACTIONS) and no further — it is dropped at the switch and reported. `output` is null.
   */
  report?: true;
}

/**
 * PlannedUmbox is one μmbox container: deterministic name and ports, derived from (node, device, image,
 * digest, config, occurrence) — not from the generation or the state, so a container started as a standby
 * for a chain is the very container that chain's plan names when the device moves (see umboxName).
 */
export interface PlannedUmbox {
  name: string;
  nodeId: string;
  deviceId: string;
  /** generation is the plan generation that asks for the μmbox (for a standby: the device's current one). */
  generation: number;
  /** position in the chain, 0 nearest the device. */
  position: number;
  image: string;
  digest: string;
  config: Readonly<Record<string, string>>;
  /** inPort is the host end of the veth whose container end is eth1 (device side). */
  inPort: string;
  /** outPort is the host end of the veth whose container end is eth2 (upstream side). */
  outPort: string;
}

/** Enforcement says how a device's traffic is being treated. */
export type Enforcement = 'chain' | 'allow' | 'quarantine';

/** PlannedDevice is the desired data plane of one device. */
export interface PlannedDevice {
  deviceId: string;
  /** deviceNumber is the device's 32-bit number in flow cookies (never 0). */
  deviceNumber: number;
  port: string;
  /** addresses are the device's addresses as given (untrusted, and unused by its flows, when it has a problem). */
  addresses: readonly string[];
  /** generation is the plan's generation, 0 when the device has no plan. */
  generation: number;
  state: string | null;
  enforcement: Enforcement;
  umboxes: readonly PlannedUmbox[];
  /**
   * standby are μmboxes of chains the device may move to next, not in its current chain: started ahead of
   * time and kept running, but never referenced by a flow until a plan's chain names them.
   */
  standby: readonly PlannedUmbox[];
  /** flows enforce the plan once its μmboxes are ready. */
  flows: readonly FlowSpec[];
  /** quarantineFlows drop all of the device's traffic; used while the plan cannot be enforced. */
  quarantineFlows: readonly FlowSpec[];
  /**
   * managementFlows open the management path to the device (DesiredDevice.management): installed with
   * `flows` or `quarantineFlows` alike (every state), at MANAGEMENT_FLOW_PRIORITY, with the same cookie.
   * Empty for a device without management or with a plan problem. Left out while the management port is
   * not on the bridge (the rest of the device's flows do not wait for it).
   */
  managementFlows: readonly FlowSpec[];
}

/** PlanProblem is a device the planner could not plan; it is quarantined. */
export interface PlanProblem {
  deviceId: string;
  message: string;
}

/** DesiredDataplane is the pure plan for one node: per-device flows and μmboxes, plus the node's base flows. */
export interface DesiredDataplane {
  nodeId: string;
  uplinkPort: string;
  devices: readonly PlannedDevice[];
  baseFlows: readonly FlowSpec[];
  problems: readonly PlanProblem[];
  /** standbyLeftOut counts standby μmboxes asked for but left out by the node's standby limit. */
  standbyLeftOut: number;
  /** warm is DesiredInput.warm without duplicates, in image order. */
  warm: ReadonlyArray<{ image: string; digest: string }>;
  /** management is DesiredInput.management (the management port is attached like a device port). */
  management: NodeManagement | null;
}

/** ObservedUmbox is a μmbox container as the runtime reports it (found by its labels). */
export interface ObservedUmbox {
  name: string;
  containerId: string;
  nodeId: string;
  deviceId: string;
  generation: number;
  position: number;
  image: string;
  digest: string;
  running: boolean;
  /** ready is true once the container has loaded its rules and brought eth1/eth2 up. */
  ready: boolean;
  pid: number;
  /**
   * ports are the host ends of its veths as the container's labels record them: the μmbox's own names
   * (umboxPorts of its name) or, when it started on a slot of the node's port pool, the slot's.
   */
  ports?: { inPort: string; outPort: string };
  /**
   * pooled marks a free warm-pool container: started from a pinned image before any device needed it,
   * unconfigured, dropping everything; `ready` means it holds. A claim makes it a device's μmbox.
   */
  pooled?: boolean;
}

/** ObservedFlow is one flow as the switch reports it, ports by number. */
export interface ObservedFlow {
  cookie: bigint;
  priority: number;
  /** match is the match without priority, in OVS's spelling (e.g. "ip,in_port=3,nw_src=10.0.0.2"). */
  match: string;
  /** actions as OVS prints them ("drop", "output:4"). */
  actions: string;
}

/** DeviceReport is what the reconciler last enforced for a device. */
export interface DeviceReport {
  deviceId: string;
  /** desiredGeneration is the generation asked for. */
  desiredGeneration: number;
  /** appliedGeneration is the generation whose flows are installed (null while none is). */
  appliedGeneration: number | null;
  enforcement: Enforcement;
  /** reason is set when the device is quarantined although its plan asked otherwise. */
  reason: string | null;
}

/** UmboxAlert is one alert a μmbox raised, attributed by the channel it arrived on. */
export interface UmboxAlert {
  deviceId: string;
  image: string;
  generation: number;
  alertType: string;
  /** detail is the rest of the μmbox's line (key=value pairs), at most MAX_ALERT_DETAIL_BYTES. */
  detail: string;
  /** observedAtMs is the node's clock when the line arrived (telemetry, not used in apply). */
  observedAtMs: number;
}
