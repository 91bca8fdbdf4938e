// index.ts — the data plane's public surface: the desired plan (pure), the OVS and Docker adapters and
// their in-memory twins, the reconciler, alert intake, telemetry, host set-up and μmbox images, the
// management port (the gateway's path to its devices) and the discovery monitor (unknown devices).
export * from './constants.js';
export { DataplaneError, type DataplaneErrorCode } from './errors.js';
export type * from './types.js';
export { planDataplane, cookieOf, splitCookie, umboxName, umboxOwner, ownsUmbox, umboxPorts, isIpv4, isMac, unknownPortFlows, type PlannerOptions } from './planner.js';
export { OvsSwitch, parseFlowDump, flowKey, type Switch, type SwitchPortInfo, type FlowChange, type OvsSwitchInit } from './ovs.js';
export { DockerUmboxRuntime, imageReference, type UmboxRuntime, type ImageCheck, type DockerUmboxRuntimeInit } from './docker-runtime.js';
export { MemorySwitch, MemoryUmboxRuntime, HostInterfaces } from './memory.js';
export { Reconciler, type ReconcilerInit, type PassResult, type IntegrityAlert, type UmboxChannelSink } from './reconciler.js';
export { composeTable, composeChanges, diffFlows, renderFlow, flowText, holdForDrain, type RenderedFlow, type ComposedDevice } from './flow-table.js';
export { UmboxPools, findFreeSlots, aliasPorts, type PortSlot } from './umbox-pools.js';
export { systemClock, SimulatedClock, type Clock, type TimerHandle } from './clock.js';
export { PassSchedule, type Signals } from './pass-schedule.js';
export { AlertIntake, type AlertIntakeInit } from './alerts.js';
export { TelemetryBatcher, batchAlerts, nodeSigner, type TelemetryBatch, type TelemetryAlertEvent, type SignBatch, type TelemetryBatcherInit, type NodeSignerInit } from './telemetry.js';
export {
  decideDatapath, detectDatapath, probeModule, probeSystemBridge, probeBridgeName, DATAPATH_SETTINGS, type DatapathType, type DatapathSetting, type DatapathDecision,
  type DatapathProbes, type ModuleProbe, type BridgeProbe, type OvsLocation,
} from './datapath.js';
export { ensureHost, stopHost, hostPaths, ovsAnswers, hostDatapathProbes, dockerAnswers, HOST_PACKAGES, DEFAULT_DATA_DIR, DEFAULT_RUN_DIR, type HostPaths, type HostStatus } from './host.js';
export { buildImage, buildImageTar, buildAllImages, UMBOX_IMAGES, type BuiltImage, type ImageManifest } from './umbox-images.js';
export {
  desiredInputFromState, managementOf, nextChains, GenerationBook, type StateView, type StatePlan, type ImageConfig, type StandbyDeviceType, type DeviceInterfaceView,
  type DesiredInputOptions,
} from './state-adapter.js';
export { LinkWatcher, type LinkWatcherInit } from './links.js';
export { ensureManagementPort, removeManagementPort, managementTable, subnetOf, type ManagementPortInit, type ManagementPort } from './management.js';
export {
  DiscoveryMonitor, DiscoveryBook, PacketInParser, parseFrame, MAX_DHCP_TEXT_CHARS, type Discovery, type DiscoveryMonitorInit, type DiscoveryBookInit, type PacketIn,
  type FrameFacts,
} from './discovery.js';
export { DataplaneAgent, type DataplaneAgentInit, type AgentStateView } from './agent.js';
