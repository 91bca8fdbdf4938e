// constants.ts — limits and fixed values of the signed command envelope (DESIGN.md "Trust model").

/** MAX_COMMAND_BYTES bounds one encoded SignedCommand; larger input is rejected before decoding. */
export const MAX_COMMAND_BYTES = 1024 * 1024;
/** MAX_SIGNATURES bounds the signatures on one envelope (the root role needs at most old + new sets). */
export const MAX_SIGNATURES = 32;
/** MAX_ROOT_KEYS bounds the size of a root key set. */
export const MAX_ROOT_KEYS = 16;
/** MAX_MEMBERS bounds the members named by a genesis document. */
export const MAX_MEMBERS = 64;
/** MAX_TAGS bounds the tags of one device. */
export const MAX_TAGS = 32;
/** MAX_ADDRESSES bounds the addresses of one device. */
export const MAX_ADDRESSES = 16;
/** MAX_TELEMETRY_EVENTS bounds the events of one telemetry batch. */
export const MAX_TELEMETRY_EVENTS = 1024;
/** MAX_DONE_IDS bounds the device-command ids acknowledged by one command. */
export const MAX_DONE_IDS = 1024;
/** MAX_TEXT_CHARS bounds free text (reasons, descriptions, names of people). */
export const MAX_TEXT_CHARS = 1024;
/** MAX_REASON_CHARS bounds the reason of a manual state change (the policy engine keeps it as the cause). */
export const MAX_REASON_CHARS = 200;
/** MAX_POLICY_JSON_CHARS bounds the JSON text of one policy document. */
export const MAX_POLICY_JSON_CHARS = 512 * 1024;
/** MAX_KEY_CACHE_ENTRIES bounds the cache of parsed native public keys used by the verifier. */
export const MAX_KEY_CACHE_ENTRIES = 4096;
/** MAX_VERIFIED_CACHE_ENTRIES bounds the memo of signatures this process has verified (crypto.ts verifySignature). */
export const MAX_VERIFIED_CACHE_ENTRIES = 8192;

/**
 * MAX_COMMAND_LIFETIME_MS bounds how far past the entry time a command's expiry may lie. A command is
 * valid only inside this window, so a signed command that was rejected (for example, sent before its
 * domain had a policy) cannot be held back and replayed months later.
 */
export const MAX_COMMAND_LIFETIME_MS = 30 * 24 * 3600 * 1000;

/** ROOT_SIGNER is the signer name of commands signed by the root role (m-of-n). */
export const ROOT_SIGNER = 'root';

/** PUBLIC_KEY_BYTES is the size of a raw Ed25519 public key (RFC 8032). */
export const PUBLIC_KEY_BYTES = 32;
/** SEED_BYTES is the size of a raw Ed25519 private key (the seed of RFC 8032). */
export const SEED_BYTES = 32;
/** SIGNATURE_BYTES is the size of an Ed25519 signature. */
export const SIGNATURE_BYTES = 64;
/** KEY_ID_BYTES is the size of a key id: the first bytes of sha256(public key). */
export const KEY_ID_BYTES = 16;
/** CLUSTER_ID_BYTES is the size of a cluster id: sha256 of the canonical genesis. */
export const CLUSTER_ID_BYTES = 32;

/**
 * IDENTIFIER is the shape of every name in the model: domains, device ids, node ids, device types,
 * groups, tags, image names, sensors, alert types, states. Printable, no spaces, 1..64 characters.
 */
export const IDENTIFIER = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** IMAGE_DIGEST is a pinned μmbox image digest. */
export const IMAGE_DIGEST = /^sha256:[0-9a-f]{64}$/;

/** NODE_ADDRESS is a member's Raft address, "host:port". */
export const NODE_ADDRESS = /^[A-Za-z0-9.\-[\]:]{1,253}:[0-9]{1,5}$/;
