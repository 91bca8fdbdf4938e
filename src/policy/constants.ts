// constants.ts — bounds and fixed-point scale of the policy model. Every limit here bounds a loop, a
// history or a document, so that one hostile document or telemetry stream cannot exhaust a node.

/** MILLI_PER_UNIT is the fixed-point scale of numeric sensor values: 1.5 W is held as 1500 milli-units. */
export const MILLI_PER_UNIT = 1000;

/** DECIMAL_PLACES_MAX is how many decimal places a threshold in a policy document may have (milli). */
export const DECIMAL_PLACES_MAX = 3;

/**
 * SENSOR_ABS_MILLI_MAX bounds the magnitude of a numeric sample or threshold in milli-units (10^9 units).
 * With at most SAMPLES_PER_SENSOR_MAX samples a sum stays below 10^15, well inside 2^53, so every
 * aggregate and every `avg` comparison (sum against value × k) is exact integer arithmetic.
 */
export const SENSOR_ABS_MILLI_MAX = 1_000_000_000_000;

/** SAMPLES_PER_SENSOR_MAX is the largest `over.last` a rule may ask for, and so the longest sensor history. */
export const SAMPLES_PER_SENSOR_MAX = 1000;

/** ALERTS_AT_LEAST_MAX is the largest `atLeast` of an alert condition, and so the longest alert history. */
export const ALERTS_AT_LEAST_MAX = 1000;

/** WINDOW_MS_MAX bounds `withinMs` and `timeInState.atLeastMs` (30 days). */
export const WINDOW_MS_MAX = 30 * 24 * 3600 * 1000;

/** STRING_VALUE_LENGTH_MAX bounds a string sensor value, a command argument, a description, in characters. */
export const STRING_VALUE_LENGTH_MAX = 256;

/** NAME_PATTERN is what a name (domain, device type, sensor, state, rule, image, command, tag) must match. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** NAME_PATTERN_TEXT describes NAME_PATTERN in error messages. */
export const NAME_PATTERN_TEXT = 'a name of 1-64 characters [A-Za-z0-9._:-] starting with a letter or digit';

/** DIGEST_PATTERN is a pinned image digest: sha256 and 64 lowercase hex digits. */
export const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;

/** DEFAULT_STATES are the security states every device type has. */
export const DEFAULT_STATES: readonly string[] = ['normal', 'suspicious', 'attack'];

/** DEFAULT_INITIAL_STATE is where a new device starts unless its type says otherwise. */
export const DEFAULT_INITIAL_STATE = 'normal';

/** Document size limits. */
export const POLICY_TEXT_BYTES_MAX = 1024 * 1024;
export const DEVICE_TYPES_MAX = 64;
export const SENSORS_MAX = 64;
export const ALERT_TYPES_MAX = 64;
export const STATES_MAX = 16;
export const CHAIN_IMAGES_MAX = 8;
export const RULES_MAX = 128;
export const COMMANDS_PER_RULE_MAX = 8;
export const COMMAND_ARGS_MAX = 16;
export const CONDITION_DEPTH_MAX = 8;
export const CONDITION_CHILDREN_MAX = 32;
export const DEVICE_TAGS_MAX = 32;

/** TIMER_HEAP_SLACK is how many stale timer entries may pile up before the heap is rebuilt. */
export const TIMER_HEAP_SLACK = 1024;

/**
 * BUILTIN_ALERT_TYPES are alert types every device type accepts without declaring them: the serving
 * node raises `device-unreachable` when a device stops answering (docs/devices.md).
 */
export const BUILTIN_ALERT_TYPES: readonly string[] = ['device-unreachable'];

/** DEVICE_COMMANDS_MAX bounds the commands a device type declares. */
export const DEVICE_COMMANDS_MAX = 64;

/** Sampling intervals (per device type and state): the default and the bounds. */
export const SAMPLING_DEFAULT_MS = 10_000;
export const SAMPLING_MIN_MS = 100;
export const SAMPLING_MAX_MS = 24 * 3600 * 1000;

/** TIME_OF_DAY_PATTERN is a wall-clock time "HH:MM", 00:00 to 23:59. */
export const TIME_OF_DAY_PATTERN = /^([01][0-9]|2[0-3]):([0-5][0-9])$/;

/** TIMEZONE_PATTERN is the shape of an IANA time zone name (the name is then checked with Intl). */
export const TIMEZONE_PATTERN = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+){0,2}$/;

/** TIMEZONE_CACHE_MAX bounds the cache of Intl formatters, one per time zone in use. */
export const TIMEZONE_CACHE_MAX = 256;
