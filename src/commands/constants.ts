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
/**
 * MAX_BACKGROUND_VERIFICATIONS bounds the verifications verifyInBackground (crypto.ts) has in Node's
 * thread pool at once; beyond it a check is not started and apply verifies on the main thread instead.
 */
export const MAX_BACKGROUND_VERIFICATIONS = 128;
/** MAX_VERIFIED_CACHE_ENTRIES bounds the memo of signatures this process has verified (crypto.ts verifySignature). */
export const MAX_VERIFIED_CACHE_ENTRIES = 8192;
/**
 * MAX_VERIFIED_CACHE_BYTES bounds the bytes (messages and keys) that memo holds. The count alone did not bound
 * it: a telemetry batch's body is 20-50 KB, and a heap snapshot of a node at 10,000 devices (bench:devices,
 * 2026-12-07 03:28) found 2,790 memo entries holding 80 MB, on the way to 8,192 × 50 KB. A memo entry is
 * useful from the check ahead (at the API, or prepare on a follower) to apply, seconds later: 16 MiB holds
 * minutes of entries at 26 a second.
 */
export const MAX_VERIFIED_CACHE_BYTES = 16 * 1024 * 1024;

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

/** DEVICE_PROTOCOLS are the device adapters a registration may name (docs/devices.md "Protocols"). */
export const DEVICE_PROTOCOLS = ['mqtt', 'http-json', 'hue'] as const;
/** MAX_INTERFACE_OPTIONS bounds the options of one device interface. */
export const MAX_INTERFACE_OPTIONS = 32;
/** MAX_INTERFACE_URL_CHARS bounds an interface endpoint (and a URL option such as commandUrl). */
export const MAX_INTERFACE_URL_CHARS = 512;
/** MAX_OPTION_VALUE_CHARS bounds one interface option value. */
export const MAX_OPTION_VALUE_CHARS = 512;
/** CREDENTIAL_REF is the shape of a credential reference: the name of a secret held by the serving node. */
export const CREDENTIAL_REF = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** OPTION_KEY is the shape of an interface option key. */
export const OPTION_KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
/** SWITCH_PORT_NAME is the shape of a port name in a discovery (a Linux interface name is at most 15 bytes). */
export const SWITCH_PORT_NAME = /^[A-Za-z0-9_.:-]{1,15}$/;
/** MAC_ADDRESS is a MAC address as discoveries carry it: six lowercase hex pairs separated by colons. */
export const MAC_ADDRESS = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;
/** MAX_DHCP_TEXT_CHARS bounds the DHCP host name and vendor class of a discovery. */
export const MAX_DHCP_TEXT_CHARS = 64;
/** MAX_ATTEMPT_REASON_CHARS bounds the reason of a failed device-command attempt. */
export const MAX_ATTEMPT_REASON_CHARS = 200;
