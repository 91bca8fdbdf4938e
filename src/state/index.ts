// index.ts — the public surface of src/state: the replicated state machine and the audit chain.
export { StateMachine, type DevicePlan } from './state-machine.js';
export { policyEngines } from './policy-engine.js';
export { verifyAuditChain, extendChain, entryDigest, genesisChain, type AuditCheck, type ChainEntry } from './audit.js';
export { SnapshotError } from './state-data.js';
export type {
  PolicyEngineFactory, PolicyPort, PolicyDocumentView, PolicyReaction, PolicyDeviceType, PolicySensor, PolicyState,
  PolicySensor as SensorSpec,
} from './policy-port.js';
export * from './constants.js';
export type * from './types.js';
