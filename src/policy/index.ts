// index.ts — the policy module's public surface: the device-security policy model (KalKi's, with its
// defects fixed), its YAML/JSON loading with precise errors, and the deterministic evaluator that the
// replicated state machine calls inside apply.

export { PolicyEngine, compare } from './engine.js';
export { parsePolicyYaml } from './yaml.js';
export { validatePolicy, describeValue } from './validate.js';
export { toMilli, fromMilli, type MilliResult } from './decimal.js';
export { checkTimezone, nextBoundaryMs, parseTimeOfDay, timeOfDayHolds, wallClock, type WallClock } from './time-of-day.js';
export {
  PolicyError,
  PolicyRejected,
  TelemetryRejected,
  formatPath,
  type PolicyErrorCode,
  type PolicyErrorInit,
  type PolicyRejectedCode,
  type TelemetryRejectedCode,
} from './errors.js';
export type { EngineSnapshot, DeviceSnapshot } from './snapshot.js';
export type {
  Aggregate,
  AlertCondition,
  CommandTarget,
  ComparisonOp,
  Condition,
  DeviceCommand,
  DeviceInfo,
  DeviceSelector,
  DevicesCondition,
  DeviceTypeSpec,
  ImagePin,
  Plan,
  PolicyDocument,
  Reaction,
  RuleSpec,
  SensorCondition,
  SensorKind,
  SensorSpec,
  StateSpec,
  TimeInStateCondition,
  TimeOfDayCondition,
  Verdict,
} from './model.js';
export * as policyLimits from './constants.js';
