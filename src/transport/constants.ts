// constants.ts — the transport's defaults and protocol constants, resolved once by the Transport
// constructor. Every limit is an option of TransportInit; these are its documented defaults.

/** PROTOCOL_VERSION is part of the ALPN name both sides offer in TLS; a peer with another version is refused. */
export const PROTOCOL_VERSION = 1;

/** DEFAULT_MAX_FRAME_BYTES: a frame (length prefix value) above 16 MiB closes the connection. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

/** DEFAULT_HANDSHAKE_TIMEOUT_MS: a connection that has not completed TLS and the membership check within 5 s is closed. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;

/** DEFAULT_MAX_QUEUE_MESSAGES bounds each peer's send queue; beyond it messages are dropped (Raft tolerates loss). */
export const DEFAULT_MAX_QUEUE_MESSAGES = 4096;

/** DEFAULT_MAX_QUEUE_BYTES bounds the bytes of data and entries queued for one peer (64 MiB). */
export const DEFAULT_MAX_QUEUE_BYTES = 64 * 1024 * 1024;

/** DEFAULT_SNAPSHOT_CHUNK_BYTES: snapshot data is streamed in chunks of 1 MiB. */
export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

/** DEFAULT_MAX_SNAPSHOT_BYTES: a received snapshot stream announcing more than 1 GiB is refused (the state of a gateway cluster is megabytes). */
export const DEFAULT_MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024;

/** DEFAULT_MAX_INBOUND_CONNECTIONS bounds accepted connections (authenticated or not). */
export const DEFAULT_MAX_INBOUND_CONNECTIONS = 64;

/**
 * DEFAULT_MAX_UNAUTHENTICATED_PER_SOURCE bounds the connections one remote address holds before they
 * authenticate: a member dials one at a time, nodes sharing an address (loopback) a few.
 */
export const DEFAULT_MAX_UNAUTHENTICATED_PER_SOURCE = 8;

/** DEFAULT_RECONNECT_BASE_MS: the first redial waits 25..50 ms (equal jitter); each failure doubles it. */
export const DEFAULT_RECONNECT_BASE_MS = 50;

/** DEFAULT_RECONNECT_MAX_MS caps the redial delay at 2.5..5 s. */
export const DEFAULT_RECONNECT_MAX_MS = 5000;

/** DEFAULT_KEEPALIVE_MS: TCP keepalive probes start after 5 s of silence, so a vanished peer is noticed. */
export const DEFAULT_KEEPALIVE_MS = 5000;

/** DEFAULT_WRITE_STALL_TIMEOUT_MS: an outbound socket that has not drained for 5 s is closed and redialled. */
export const DEFAULT_WRITE_STALL_TIMEOUT_MS = 5000;

/** FRAME_HEADER_BYTES is the big-endian length prefix of every frame. */
export const FRAME_HEADER_BYTES = 4;

/** ED25519_PUBLIC_KEY_BYTES is the size of a raw Ed25519 public key (RFC 8032). */
export const ED25519_PUBLIC_KEY_BYTES = 32;
