// constants.ts — the Raft core's defaults, resolved once when a RawNode is built.
//
// Every limit of Config has its default here, so that a reader sees every bound in one place.

/** DEFAULT_ELECTION_TICKS: a follower waits a random [10, 20) ticks without a leader before campaigning. */
export const DEFAULT_ELECTION_TICKS = 10;

/** DEFAULT_HEARTBEAT_TICKS: a leader sends heartbeats every tick. Must be < electionTicks. */
export const DEFAULT_HEARTBEAT_TICKS = 1;

/** DEFAULT_MAX_SIZE_PER_MSG_BYTES bounds the entries' bytes in one App message (1 MiB). */
export const DEFAULT_MAX_SIZE_PER_MSG_BYTES = 1024 * 1024;

/** DEFAULT_MAX_INFLIGHT_MSGS bounds the App messages in flight to one follower (pipelining window). */
export const DEFAULT_MAX_INFLIGHT_MSGS = 256;

/** DEFAULT_MAX_UNCOMMITTED_ENTRIES_BYTES: a leader refuses proposals beyond 64 MiB of uncommitted payload. */
export const DEFAULT_MAX_UNCOMMITTED_ENTRIES_BYTES = 64 * 1024 * 1024;

/** DEFAULT_MAX_COMMITTED_SIZE_PER_READY_BYTES bounds committedEntries in one Ready (64 MiB). */
export const DEFAULT_MAX_COMMITTED_SIZE_PER_READY_BYTES = 64 * 1024 * 1024;

/** DEFAULT_CHECK_QUORUM: leaders step down without a live quorum; followers ignore votes while led. */
export const DEFAULT_CHECK_QUORUM = true;

/** DEFAULT_PRE_VOTE: candidates first run a pre-vote that does not disrupt the cluster (thesis 9.6). */
export const DEFAULT_PRE_VOTE = true;

/** DEFAULT_READ_ONLY_OPTION: ReadIndex confirms leadership with a heartbeat round (thesis 6.4). */
export const DEFAULT_READ_ONLY_OPTION = 'safe' as const;

/**
 * ENTRY_OVERHEAD_BYTES is added to an entry's data length when sizing messages and Readys, so
 * that empty entries are not free: it approximates the encoded term, index and type.
 */
export const ENTRY_OVERHEAD_BYTES = 16;

/** MAX_PENDING_READ_INDEX_REQUESTS bounds queued ReadIndex requests (leader and pre-commit). */
export const MAX_PENDING_READ_INDEX_REQUESTS = 4096;

/** MAX_MESSAGES_PER_READY bounds the outgoing message queue; beyond it messages are dropped (Raft tolerates loss). */
export const MAX_MESSAGES_PER_READY = 65536;

/** CAMPAIGN_TRANSFER_CONTEXT marks a Vote/PreVote sent because of a leadership transfer. */
export const CAMPAIGN_TRANSFER_CONTEXT: Uint8Array = new TextEncoder().encode('CampaignTransfer');
