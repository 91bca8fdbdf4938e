// constants.ts — bounds of the replicated state (every map and queue has one; STYLE.md).

/** MAX_RECENT_REJECTIONS is how many recent rejections the state keeps (a ring; counters keep totals). */
export const MAX_RECENT_REJECTIONS = 256;
/** MAX_REMEMBERED_RESULTS bounds the body-hash → result map used to answer retried submissions. */
export const MAX_REMEMBERED_RESULTS = 65_536;
/** MAX_SIGNERS bounds the per-signer replay windows (kept after revocation, so a key cannot replay). */
export const MAX_SIGNERS = 100_000;
/** MAX_DOMAINS bounds the security domains. */
export const MAX_DOMAINS = 1024;
/** MAX_ADMIN_KEYS_PER_DOMAIN bounds each domain's admin keys. */
export const MAX_ADMIN_KEYS_PER_DOMAIN = 64;
/** MAX_IMAGES_PER_DOMAIN bounds each domain's pinned μmbox images. */
export const MAX_IMAGES_PER_DOMAIN = 256;
/** MAX_DEVICES bounds the devices of the whole cluster. */
export const MAX_DEVICES = 100_000;
/** MAX_CLUSTER_MEMBERS bounds the member nodes (voters and learners). */
export const MAX_CLUSTER_MEMBERS = 64;
/** MAX_PENDING_COMMANDS_PER_NODE bounds the device commands waiting for one node to carry out. */
export const MAX_PENDING_COMMANDS_PER_NODE = 1024;
/** SNAPSHOT_FORMAT_VERSION identifies the snapshot layout written by snapshot() (2: the device interface). */
export const SNAPSHOT_FORMAT_VERSION = 2;
/** MAX_DISCOVERIES_PER_NODE bounds the unknown devices kept per node; the one seen longest ago is evicted. */
export const MAX_DISCOVERIES_PER_NODE = 256;
/** MAX_READINGS_HISTORY is how many readings the state keeps per device and sensor, for people. */
export const MAX_READINGS_HISTORY = 32;
/** MAX_DONE_COMMANDS is how many carried-out device commands the state remembers (the newest). */
export const MAX_DONE_COMMANDS = 256;
/** MAX_FAILED_COMMANDS is how many given-up device commands the state remembers (the newest). */
export const MAX_FAILED_COMMANDS = 256;
/** MAX_COMMAND_ATTEMPTS is the attempt at which a failing device command is given up. */
export const MAX_COMMAND_ATTEMPTS = 10;
/** MAX_REASON_CHARS bounds the reason text kept with a rejection. */
export const MAX_REASON_CHARS = 512;
