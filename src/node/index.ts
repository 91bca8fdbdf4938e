// index.ts — what tools outside the node (qgate, the cluster tool, benches) use of it: the identity key
// file, the node config, and the start-up error. It is kept light on purpose: qgate imports it, and a
// barrel that re-exported the running node (gateway-node.ts, device-link.ts) would load Fastify, the
// data plane and the device adapters into every qgate call. The node program is main.ts.
export { IDENTITY_KEY_TYPE, IdentityKeyError, readIdentityKey, writeIdentityKey } from './identity.js';
export { ConfigError, NodeConfigSchema, isLoopbackHost, loadNodeConfig, parseNodeConfig, type NodeConfig } from './config.js';
export { StartupError } from './startup-error.js';
