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
/** LABEL_PREFIX namespaces the Docker labels of μmbox containers. */
export const LABEL_PREFIX = 'io.quorumgate.';
/** UMBOX_REPOSITORY is the local image repository of μmbox images ("qg-umbox/monitor:<12 hex>"). */
export const UMBOX_REPOSITORY = 'qg-umbox';
/** UMBOX_READY_TIMEOUT_MS is how long a new μmbox may take to load its rules and bridge its interfaces. */
export const UMBOX_READY_TIMEOUT_MS = 15_000;
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
/** RECONCILE_BACKOFF_MIN_MS and RECONCILE_BACKOFF_MAX_MS bound the retry delay after a failed pass. */
export const RECONCILE_BACKOFF_MIN_MS = 100;
export const RECONCILE_BACKOFF_MAX_MS = 5_000;
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
