// index.ts — the public surface of the Raft core. Other modules import from here only.
export * from './types.js';
export * from './constants.js';
export {
  AssertionError, CompactedError, ConfChangeDecodeError, ConfChangeError, ConfigError, InvalidMessageError, PeerNotFoundError,
  ProposalDroppedError, RaftError, SnapshotOutOfDateError, SnapshotTemporarilyUnavailableError,
  StepLocalMessageError, UnavailableError, assert,
} from './errors.js';
export type { ProposalDropReason } from './errors.js';
export { MemoryStorage } from './memory-storage.js';
export { RawNode, bootstrapStorage } from './raw-node.js';
export type { BootstrappableStorage } from './raw-node.js';
export { SeededRandom } from './random.js';
export { decodeConfChange, encodeConfChange } from './conf-change.js';
export { confChangeEntry } from './raft.js';
export { validateAgainstReceiver, validateWireMessage } from './message-validation.js';
export type { ReceiverView } from './message-validation.js';
export {
  EMPTY_BYTES, EMPTY_CONF_STATE, EMPTY_HARD_STATE, entrySizeBytes, isEmptySnapshot, makeMessage,
} from './util.js';
