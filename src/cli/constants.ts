// constants.ts — defaults and bounds of the qgate CLI, resolved once here.

/** DEFAULT_ENDPOINT is used when neither --endpoints nor QGATE_ENDPOINTS is given. */
export const DEFAULT_ENDPOINT = 'https://127.0.0.1:8001';
/** DEFAULT_TIMEOUT_MS bounds one HTTP request (and, for a submission, what the server may wait). */
export const DEFAULT_TIMEOUT_MS = 15_000;
/** DEFAULT_EXPIRES_IN_MS is how long after signing a command stays valid (its notAfterMs). */
export const DEFAULT_EXPIRES_IN_MS = 10 * 60 * 1000;
/** MAX_EXPIRES_IN_MS matches the cluster's MAX_COMMAND_LIFETIME_MS: longer expiries are refused there. */
export const MAX_EXPIRES_IN_MS = 30 * 24 * 3600 * 1000;
/** MAX_SUBMIT_ATTEMPTS bounds the tries of one envelope across endpoints (indeterminate answers only). */
export const MAX_SUBMIT_ATTEMPTS = 6;
/** RETRY_BASE_DELAY_MS is the first backoff between submission attempts; it doubles up to RETRY_MAX_DELAY_MS. */
export const RETRY_BASE_DELAY_MS = 200;
/** RETRY_MAX_DELAY_MS caps the backoff between attempts. */
export const RETRY_MAX_DELAY_MS = 2_000;
/** ENFORCED_POLL_MS is the pause between status polls of `--wait enforced`. */
export const ENFORCED_POLL_MS = 100;
/** MAX_ENFORCED_POLLS bounds the status polls of one `--wait enforced` (--timeout bounds them in time). */
export const MAX_ENFORCED_POLLS = 3_000;
/** MAX_ENDPOINTS bounds --endpoints. */
export const MAX_ENDPOINTS = 32;
/** MAX_KEYS bounds the signing keys one invocation loads. */
export const MAX_KEYS = 16;
/** MAX_INPUT_FILE_BYTES bounds a bundle, device or key file read by the CLI. */
export const MAX_INPUT_FILE_BYTES = 2 * 1024 * 1024;
/** MAX_BUNDLE_ITEMS bounds the images, devices or admins of one bundle. */
export const MAX_BUNDLE_ITEMS = 10_000;
/** MAX_AUDIT_ENTRIES bounds the entries of an exported log that `audit verify` reads. */
export const MAX_AUDIT_ENTRIES = 10_000_000;
/** MAX_SSE_EVENT_CHARS bounds one server-sent event (a larger one is a protocol error). */
export const MAX_SSE_EVENT_CHARS = 4 * 1024 * 1024;
/** KEY_TYPE marks a quorumgate key file (the format of src/node/identity.ts). */
export const KEY_TYPE = 'quorumgate-ed25519';
/** ENV_ENDPOINTS names the variable holding the endpoints when --endpoints is not given. */
export const ENV_ENDPOINTS = 'QGATE_ENDPOINTS';
/** ENV_KEY names the variable holding key file paths (comma-separated) when --key is not given. */
export const ENV_KEY = 'QGATE_KEY';
/** ENV_KEY_SEED names the variable holding hex seeds (comma-separated) when --key is not given. */
export const ENV_KEY_SEED = 'QGATE_KEY_SEED';
/** ENV_TOKEN names the variable holding a read token when --token is not given. */
export const ENV_TOKEN = 'QGATE_TOKEN';
/** ENV_MEMBERS names the variable holding the members file when --members is not given. */
export const ENV_MEMBERS = 'QGATE_MEMBERS';
/** ENV_GENESIS names the variable holding the genesis file when --genesis is not given. */
export const ENV_GENESIS = 'QGATE_GENESIS';
/** DEFAULT_TOKEN_TTL_S is the life of the read tokens qgate makes for its own requests (renewed at half). */
export const DEFAULT_TOKEN_TTL_S = 300;
/** MAX_MEMBERS_FILE_ENTRIES bounds the nodes of a members file. */
export const MAX_MEMBERS_FILE_ENTRIES = 1024;
