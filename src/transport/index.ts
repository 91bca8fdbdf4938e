// index.ts — the public surface of the transport module: the TLS 1.3 transport between nodes,
// mutually authenticated by pinned node keys. The Raft protobuf codec it speaks lives in src/wire.
export * from './errors.js';
export * from './constants.js';
export { FrameDecoder, frameHeader } from './framing.js';
export type { AuthenticatedPeer, MembershipCheck } from './peer-certificate.js';
export { checkDialer, checkListener, claimedPeer, nodeCommonName } from './peer-certificate.js';
export { generateNodeIdentity, hex, nodeIdentityFromPrivateKey, nodeIdentityFromSeed, rawPublicKey } from './keys.js';
export type { NodeIdentity } from './keys.js';
export { FRAME_OVERHEAD_BYTES, TLS_VERSION, TlsConnection, createTlsCredentials } from './tls-connection.js';
export type { DialAddress, TlsConnectionInit, TlsCredentials } from './tls-connection.js';
export { DropLog } from './drop-log.js';
export type { DropLogInit, DropLogLogger } from './drop-log.js';
export { Transport, WIRE_MESSAGE_TYPES, decodeFrame, encodeFrame } from './transport.js';
export type { FrameContent, PeerAddress, PeerStats, SnapshotChunkFields, TransportComponents, TransportInit, TransportStats } from './transport.js';
