// index.ts — the public surface of the transport module: the Raft protobuf codec and the
// authenticated TCP transport between nodes.
export * from './codec.js';
export * from './errors.js';
export { findRepositoryRoot } from './proto.js';
