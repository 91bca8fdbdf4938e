// index.ts — the public surface of the transport module: the Raft protobuf codec and the
// authenticated TCP transport between nodes.
export * from './codec.js';
export * from './errors.js';
export { findRepositoryRoot } from './proto.js';
export * from './constants.js';
export { FrameDecoder, frameHeader } from './framing.js';
export type { Frame } from './framing.js';
export type { AuthenticatedPeer, MembershipCheck, SessionKeys } from './handshake.js';
export { Initiator, Responder } from './handshake.js';
export { ed25519PublicKey, generateNodeIdentity, hex, nodeIdentityFromPrivateKey, nodeIdentityFromSeed, rawPublicKey } from './keys.js';
export type { NodeIdentity } from './keys.js';
export { CipherState, FRAME_OVERHEAD_BYTES, SecureConnection } from './secure-connection.js';
export type { SecureConnectionInit } from './secure-connection.js';
export { DropLog } from './drop-log.js';
export type { DropLogInit, DropLogLogger } from './drop-log.js';
export { Transport, WIRE_MESSAGE_TYPES, decodeFrame, encodeFrame } from './transport.js';
export type { FrameContent, PeerAddress, PeerStats, SnapshotChunkFields, TransportComponents, TransportInit, TransportStats } from './transport.js';
