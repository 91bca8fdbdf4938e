// index.ts — the public surface of the wire module: the protobuf schemas of proto/ (loaded once,
// from the one package-root finder), the codecs between the Raft core's plain types and their
// protobuf messages, and the codec's errors. Storage, the transport and the command codec use it.
export * from './codec.js';
export { CodecError, WireAssertionError, type CodecErrorCode } from './errors.js';
export { commandTypes, protoRoot, protoType, type CommandTypes } from './proto.js';
export { packagePath, packageRoot } from './package-root.js';
