// index.ts — the API's public surface: the app the node serves, the dependencies it needs, and the ports
// (ports.ts) the node implements. Nothing here imports src/node.
export { buildApp, MAX_BODY_BYTES, type ApiApp, type ApiTls, type ApiTlsCredential, type ApiTlsRenewal } from './app.js';
export type { ApiDeps, DeviceAdapterStatus, DevicesStatus, RuntimeApi } from './deps.js';
export { ApiError, runtimeToApiError, type ApiErrorCode } from './errors.js';
export { DEFAULT_READ_RATE_LIMITS, type ReadRateLimits } from './rate-limit.js';
export {
  RUNTIME_ERROR_ANSWERS,
  type AppliedEvent, type AppliedFeed, type Committed, type EnforcementView, type LogApplyResult, type LogFeed, type MemberAddress,
  type RuntimeCounters, type RuntimeErrorCode, type RuntimeStatus,
} from './ports.js';
