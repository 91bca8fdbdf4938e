// constants.ts — the data plane's limits and defaults, in one place.

/** DEVICE_FLOW_PRIORITY is the priority of every per-device flow. */
export const DEVICE_FLOW_PRIORITY = 100;
/** BASE_DROP_PRIORITY is the priority of the table-miss drop flow (fail-closed default). */
export const BASE_DROP_PRIORITY = 0;
/** MAX_GENERATION bounds plan generations: they share a 64-bit cookie with the 32-bit device number. */
export const MAX_GENERATION = 0xffff_ffff;
/** MAX_DEVICES_PER_NODE bounds the devices one node serves (bounded queues and tables). */
export const MAX_DEVICES_PER_NODE = 10_000;
/** MAX_CHAIN_LENGTH bounds a μmbox chain. */
export const MAX_CHAIN_LENGTH = 8;
/** MAX_ADDRESSES_PER_DEVICE bounds a device's addresses. */
export const MAX_ADDRESSES_PER_DEVICE = 16;
/**
 * CLUSTER_TAG_HEX_CHARS is how many hex digits of its cluster's id scope a node's μmbox containers on the
 * container engine (umboxOwner, planner.ts): 48 bits, so two clusters sharing an engine never share names.
 */
export const CLUSTER_TAG_HEX_CHARS = 12;
/** LABEL_PREFIX namespaces the Docker labels of μmbox containers. */
export const LABEL_PREFIX = 'io.quorumgate.';
/** UMBOX_REPOSITORY is the local image repository of μmbox images ("qg-umbox/monitor:<12 hex>"). */
export const UMBOX_REPOSITORY = 'qg-umbox';
/** UMBOX_READY_TIMEOUT_MS is how long a new μmbox may take to load its rules and bridge its interfaces. */
export const UMBOX_READY_TIMEOUT_MS = 15_000;
/**
 * DOCKER_CALL_TIMEOUT_MS: an engine call whose connection stays silent this long is abandoned, so the pass that
 * made it fails and is retried. Without it an engine that accepts a connection and never answers (a dockerd
 * restarting: chaos seed 93002, 2026-12-07) held a reconcile pass, and with it the node's enforcement, for 67 s.
 * Engine calls answer in milliseconds, a few seconds under load; an image import keeps its connection busy.
 * The events stream, silent by nature, has a client of its own without this bound.
 */
export const DOCKER_CALL_TIMEOUT_MS = 10_000;
/** UMBOX_START_CONCURRENCY bounds how many μmboxes one reconcile pass starts at once. */
export const UMBOX_START_CONCURRENCY = 4;
/** MAX_ALERT_LINE_BYTES bounds one alert line; longer lines are cut and counted as malformed. */
export const MAX_ALERT_LINE_BYTES = 512;
/** MAX_ALERT_DETAIL_BYTES bounds an alert's detail. */
export const MAX_ALERT_DETAIL_BYTES = 256;
/** MAX_PENDING_ALERTS bounds the alerts waiting for a telemetry batch; more are dropped and counted. */
export const MAX_PENDING_ALERTS = 4096;
/** ALERT_BATCH_MAX is the most alerts one signed telemetry batch carries. */
export const ALERT_BATCH_MAX = 256;
/** RECONCILE_BACKOFF_MIN_MS is the first retry delay after a failed pass (it doubles per failure). */
export const RECONCILE_BACKOFF_MIN_MS = 100;
/** RECONCILE_BACKOFF_MAX_MS caps the retry delay after failed passes. */
export const RECONCILE_BACKOFF_MAX_MS = 5_000;
/**
 * DRAIN_MS is how long the flows out of an old chain's μmboxes stay after the bundle that moves their device
 * off that chain (make-before-break in the datapath, not only in the flow table): Open vSwitch's datapath
 * keeps forwarding by flows it cached from the old table until its revalidators update them, one by one,
 * after the bundle; a packet it still sends into the old chain must find its way out. Tens of milliseconds
 * on a loaded machine; the chaos run of seed 90901 lost 3 datagrams in 15 ms without it.
 */
export const DRAIN_MS = 200;
/** RECONCILE_RESYNC_MS is how often a full pass runs with no new input, to repair drift made by hand. */
export const RECONCILE_RESYNC_MS = 2_000;
/**
 * STANDBY_UMBOXES_DEFAULT is how many standby μmboxes (pre-started for the states devices may move to next)
 * one node runs unless configured otherwise. Each is a container plus two OVS ports; on a 2-core node with
 * a userspace datapath every port costs polling time, so the default is small and devices out of their
 * initial state come first (see planner.ts).
 */
export const STANDBY_UMBOXES_DEFAULT = 32;

/**
 * PORT_POOL_DEFAULT is how many port slots (two veth pairs each, host ends already on the bridge) a node
 * keeps for μmboxes that must start: a μmbox started on a slot needs no bridge reconfiguration, which on a
 * bridge of 1,000 ports takes as long as the container start and slows the switch's next bundle.
 */
export const PORT_POOL_DEFAULT = 2;
/** MAX_STANDBY_UMBOXES_PER_NODE caps the configurable standby limit. */
export const MAX_STANDBY_UMBOXES_PER_NODE = 256;
/** STANDBY_STARTS_PER_PASS bounds the standby μmboxes one pass starts (after its flow bundle), so a pass stays short. */
export const STANDBY_STARTS_PER_PASS = 4;
/**
 * WARM_POOL_DEFAULT is how many free warm-pool μmboxes a node keeps per pinned image its devices' policy
 * can put them in (DesiredInput.warm): a move to a chain no standby covers claims one (its configuration
 * loaded in place, no container start, no link change) instead of starting a container.
 */
export const WARM_POOL_DEFAULT = 1;
/** MAX_WARM_IMAGES caps the images a node keeps warm containers of. */
export const MAX_WARM_IMAGES = 16;

/**
 * MANAGEMENT_FLOW_PRIORITY is the priority of a device's management-path flows (device ↔ the gateway's
 * management port): above every chain, allow and quarantine flow of the device, so the gateway reaches a
 * device in every state.
 */
export const MANAGEMENT_FLOW_PRIORITY = 200;
/**
 * MANAGEMENT_GUARD_PRIORITY is the priority of the drops that close the management path to everything else:
 * the management port's own traffic, and a device's IPv4 towards the management address (by any path).
 */
export const MANAGEMENT_GUARD_PRIORITY = 150;
/**
 * DEVICE_REPORT_PRIORITY is the priority of the flow that reports (and drops) what arrives on a registered
 * device's port with a source the device does not own: below its plan's flows, which match its own sources.
 */
export const DEVICE_REPORT_PRIORITY = 10;
/** UNKNOWN_PORT_REPORT_PRIORITY is the priority of the flow that reports (and drops) what arrives on a port no device owns. */
export const UNKNOWN_PORT_REPORT_PRIORITY = 5;
/** DISCOVERY_METER_ID is the OpenFlow 1.3 meter every report flow goes through (one per bridge). */
export const DISCOVERY_METER_ID = 1;
/** DISCOVERY_METER_PPS bounds the frames a bridge reports to the node a second: a flood costs the node a few packet-ins. */
export const DISCOVERY_METER_PPS = 5;
/** DISCOVERY_METER_BURST is the burst the discovery meter lets through above DISCOVERY_METER_PPS. */
export const DISCOVERY_METER_BURST = 5;
/** REPORT_ACTIONS are a report flow's actions as OVS prints them: through the meter to the controller (the node's monitor), nothing else. */
export const REPORT_ACTIONS = `meter:${DISCOVERY_METER_ID},CONTROLLER:65535`;
/** MAX_MANAGEMENT_TCP_PORTS bounds the device-side TCP ports of one device's management path. */
export const MAX_MANAGEMENT_TCP_PORTS = 16;
/** DISCOVERY_REPORT_INTERVAL_MS is how often, at most, a DiscoveryMonitor reports the same (port, MAC). */
export const DISCOVERY_REPORT_INTERVAL_MS = 10_000;
/** MAX_DISCOVERIES bounds the (port, MAC) pairs a DiscoveryMonitor remembers (the oldest is evicted). */
export const MAX_DISCOVERIES = 256;
/** MAX_PACKET_IN_BYTES bounds the frame bytes a DiscoveryMonitor reads of one packet-in (the rest is ignored). */
export const MAX_PACKET_IN_BYTES = 1600;
