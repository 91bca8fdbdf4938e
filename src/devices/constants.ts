// constants.ts — the device adapters' limits and defaults, in one place (each a documented default that an
// adapter's init may override through `limits`).

/** MAX_READING_MESSAGE_BYTES bounds one MQTT reading message; bigger ones are dropped and counted `oversize`. */
export const MAX_READING_MESSAGE_BYTES = 4096;
/** MAX_HTTP_BODY_BYTES bounds one HTTP answer a poll or a command reads; bigger ones are dropped and counted `oversize`. */
export const MAX_HTTP_BODY_BYTES = 64 * 1024;
/** READINGS_PER_SECOND_PER_DEVICE is the token bucket's refill rate: one flooding device cannot starve the others. */
export const READINGS_PER_SECOND_PER_DEVICE = 10;
/** READING_BURST_PER_DEVICE is the token bucket's capacity (a short burst above the rate is accepted). */
export const READING_BURST_PER_DEVICE = 20;
/** UNREACHABLE_AFTER_INTERVALS: a device that misses this many sampling intervals is reported unreachable. */
export const UNREACHABLE_AFTER_INTERVALS = 3;
/** MIN_SAMPLING_MS and MAX_SAMPLING_MS bound a device's sampling interval. */
export const MIN_SAMPLING_MS = 50;
export const MAX_SAMPLING_MS = 24 * 3600 * 1000;
/** MAX_WATCHED_DEVICES bounds the devices one adapter watches (the node serves at most 10,000). */
export const MAX_WATCHED_DEVICES = 10_000;
/** MAX_PENDING_COMMANDS bounds the commands one adapter waits on at once; more are refused as retryable. */
export const MAX_PENDING_COMMANDS = 1024;
/** MAX_COMMAND_TIMEOUT_MS caps the time a command may wait for its device's answer. */
export const MAX_COMMAND_TIMEOUT_MS = 60_000;
/** RECONNECT_BACKOFF_MIN_MS and RECONNECT_BACKOFF_MAX_MS bound the delay between attempts to reach a broker. */
export const RECONNECT_BACKOFF_MIN_MS = 100;
export const RECONNECT_BACKOFF_MAX_MS = 5_000;
/** HTTP_TIMEOUT_MAX_MS caps a poll's time limit (which is otherwise 80 % of the sampling interval). */
export const HTTP_TIMEOUT_MAX_MS = 10_000;
/** LIVENESS_CHECK_MS is how often an adapter looks for devices that went silent. */
export const LIVENESS_CHECK_MS = 100;
/** MAX_DEVICE_ID_CHARS bounds a device id; ids must also be safe as an MQTT topic level and a user name. */
export const MAX_DEVICE_ID_CHARS = 128;
/** DEVICE_ID_PATTERN is what a device id may contain (no MQTT wildcards, no '/', no ':' of the password file). */
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** GATEWAY_USER is the broker user the gateway itself connects as (read and write on qg/#). */
export const GATEWAY_USER = 'qg-gateway';
/** TOPIC_ROOT is the first level of every device topic. */
export const TOPIC_ROOT = 'qg';
/** MAX_BROKER_DEVICES bounds the devices one broker's password file holds. */
export const MAX_BROKER_DEVICES = 20_000;
