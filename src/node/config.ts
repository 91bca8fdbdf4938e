// config.ts — the gateway node's configuration file: schema, defaults, and precise errors.
//
// The file is YAML (JSON is valid YAML). Every field is checked against the schema below; an
// unknown key is an error, not ignored, so a typo never silently falls back to a default.
import { readFileSync } from 'node:fs';
import { isIP, isIPv4 } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { Type } from '@sinclair/typebox';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';

const Endpoint = Type.Object(
  {
    host: Type.String({ minLength: 1, maxLength: 253 }),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
  },
  { additionalProperties: false },
);

const Member = Type.Object(
  {
    nodeId: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    host: Type.String({ minLength: 1, maxLength: 253 }),
    port: Type.Integer({ minimum: 1, maximum: 65535 }),
    publicKey: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  },
  { additionalProperties: false },
);

const Timing = Type.Object(
  {
    tickMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
    electionTicks: Type.Optional(Type.Integer({ minimum: 2, maximum: 1_000 })),
    heartbeatTicks: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    snapshotEveryEntries: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000_000 })),
    snapshotEveryBytes: Type.Optional(Type.Integer({ minimum: 1024, maximum: 1_073_741_824 })),
    proposalTimeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000 })),
    readTimeoutMs: Type.Optional(Type.Integer({ minimum: 1, maximum: 3_600_000 })),
  },
  { additionalProperties: false },
);

/** NodeConfigSchema is the schema of a node's configuration file. */
export const NodeConfigSchema = Type.Object(
  {
    nodeId: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    /** dataDir: the node's own directory (Raft log, keys it generated, sockets). */
    dataDir: Type.String({ minLength: 1 }),
    /** clusterId: hex; names the cluster in the transport handshake. Required in the log mode; in the gateway mode it is the genesis hash. */
    clusterId: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
    /** genesisFile: the cluster's genesis document (gateway mode). */
    genesisFile: Type.Optional(Type.String({ minLength: 1 })),
    /** identityKeyFile: the node's Ed25519 key file (see keys/README.md). */
    identityKeyFile: Type.String({ minLength: 1 }),
    raft: Endpoint,
    api: Endpoint,
    /**
     * apiTls: how the API serves HTTPS (docs/api.md "Transport"). `node-key` (the default): a certificate
     * derived from this node's Ed25519 key, which clients pin through the genesis or a members file;
     * `{certFile, keyFile}`: an operator's CA-issued certificate and key (PEM); `off`: plain HTTP, allowed
     * only on a loopback address.
     */
    apiTls: Type.Optional(Type.Union([
      Type.Literal('node-key'),
      Type.Literal('off'),
      Type.Object({ certFile: Type.String({ minLength: 1 }), keyFile: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
    ])),
    /**
     * apiReadLimit: how fast one client address may read this node's API (GET and HEAD under /v1/; docs/api.md
     * "Rate limits"): `readsPerSecond` sustained (0 turns the limit off), `burst` at once. Default 200 and 400.
     */
    apiReadLimit: Type.Optional(Type.Object({
      readsPerSecond: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
      burst: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    }, { additionalProperties: false })),
    /**
     * members: the founding members (log mode), or — for a node that joins later — the current
     * members it accepts connections from. In the gateway mode the founders come from the genesis.
     */
    members: Type.Optional(Type.Array(Member, { minItems: 1, maxItems: 1024 })),
    /** join: this node joins an existing cluster (it is added with `members add`), not a founder. */
    join: Type.Optional(Type.Boolean()),
    /** application: 'quorumgate' (the gateway) or 'log' (the bare Raft log, for tests and benchmarks). */
    application: Type.Optional(Type.Union([Type.Literal('quorumgate'), Type.Literal('log')])),
    timing: Type.Optional(Timing),
    /**
     * storage: how the node keeps its Raft log (deploy/README.md "Raft log format"). `log`: `leveldb` (the default) or `wal`,
     * preallocated write-ahead-log segments as etcd keeps them (issue #18: a cheaper synced append). A node refuses
     * to start on a Raft directory that holds the other format; nothing converts one into the other.
     */
    storage: Type.Optional(Type.Object({
      log: Type.Optional(Type.Union([Type.Literal('leveldb'), Type.Literal('wal')])),
    }, { additionalProperties: false })),
    /**
     * dataplane: enforce the agreed state on this host (gateway mode). `bridge` is this node's OVS
     * bridge, `uplinkPort` its port towards the network; `runDir` holds the private OVS and Docker
     * engine started by deploy/ (default /run/quorumgate). `standbyUmboxes` bounds the μmboxes
     * pre-started for the states devices may move to next (default 32, at most 256, 0 turns standby off).
     * `datapath` chooses Open vSwitch's datapath (docs/datapath.md): `auto` (default) the kernel one where
     * the openvswitch module is there and a probe bridge of type system opens, the userspace one otherwise;
     * `system` insists on the kernel one (the node refuses to start without it); `netdev` the userspace one.
     * Without it the node replicates and serves the API but enforces nothing.
     */
    dataplane: Type.Optional(Type.Object({
      bridge: Type.String({ pattern: '^[a-zA-Z0-9_.-]{1,15}$' }),
      uplinkPort: Type.String({ pattern: '^[a-zA-Z0-9_.-]{1,15}$' }),
      runDir: Type.Optional(Type.String({ minLength: 1 })),
      standbyUmboxes: Type.Optional(Type.Integer({ minimum: 0, maximum: 256 })),
      datapath: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('system'), Type.Literal('netdev')])),
    }, { additionalProperties: false })),
    /**
     * devices: the device interface (docs/devices.md): this gateway's management address on its devices'
     * network (a port `managementPort` on the data plane's bridge, host end `managementInterface`), the MQTT
     * broker it runs there (`brokerPort`, default 1883), and `secretsFile`, the device credentials this node
     * holds (a YAML map from credential reference to secret, mode 0600). Needs `dataplane`.
     */
    devices: Type.Optional(Type.Object({
      managementAddress: Type.String({ pattern: '^[0-9]{1,3}([.][0-9]{1,3}){3}$' }),
      managementPrefixLength: Type.Optional(Type.Integer({ minimum: 8, maximum: 30 })),
      managementPort: Type.String({ pattern: '^[a-zA-Z0-9_.-]{1,15}$' }),
      managementInterface: Type.String({ pattern: '^[a-zA-Z0-9_.-]{1,15}$' }),
      brokerPort: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
      secretsFile: Type.Optional(Type.String({ minLength: 1 })),
      discoveryDomain: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
      commandTimeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 120_000 })),
    }, { additionalProperties: false })),
    logLevel: Type.Optional(Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)))),
  },
  { additionalProperties: false },
);

/** NodeConfig is a validated configuration, with paths made absolute. */
export type NodeConfig = Static<typeof NodeConfigSchema>;

/** ConfigError says what is wrong in a configuration file and how to fix it. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(file: string, detail: string) {
    super(`config ${file}: ${detail}`);
    this.name = 'ConfigError';
  }
}

/** parseNodeConfig validates a parsed document; `file` names it in errors and anchors relative paths. */
export function parseNodeConfig(value: unknown, file: string): NodeConfig {
  if (!Value.Check(NodeConfigSchema, value)) {
    const first = [...Value.Errors(NodeConfigSchema, value)][0];
    const where = first?.path ? first.path.replace(/^\//, '').replace(/\//g, '.') : '(root)';
    const found = first ? JSON.stringify(first.value) : 'nothing';
    throw new ConfigError(file, `at ${where}: ${first?.message ?? 'invalid'} (found ${found})`);
  }
  const config = value;
  const application = config.application ?? 'quorumgate';
  if (application === 'log' && config.clusterId === undefined) throw new ConfigError(file, 'at clusterId: required when application is log');
  if (application === 'log' && config.members === undefined) throw new ConfigError(file, 'at members: required when application is log');
  if (application === 'quorumgate' && config.genesisFile === undefined) {
    throw new ConfigError(file, 'at genesisFile: required for a gateway (create one with "qgate genesis create")');
  }
  const ids = new Set<number>();
  for (const [i, member] of (config.members ?? []).entries()) {
    if (ids.has(member.nodeId)) throw new ConfigError(file, `at members.${i}.nodeId: node id ${member.nodeId} appears twice`);
    ids.add(member.nodeId);
  }
  if (application === 'log' && !config.join && !ids.has(config.nodeId)) {
    throw new ConfigError(file, `at nodeId: ${config.nodeId} is not one of members (${[...ids].join(', ')}); set join: true for a node that joins later`);
  }
  if (config.devices !== undefined && !isIPv4(config.devices.managementAddress)) {
    throw new ConfigError(file, `at devices.managementAddress: expected an IPv4 address, found "${config.devices.managementAddress}"`);
  }
  if (config.apiTls === 'off' && !isLoopbackHost(config.api.host)) {
    throw new ConfigError(file, `at apiTls: "off" serves the API in plain HTTP, allowed only on a loopback address; api.host is "${config.api.host}" (remove apiTls to serve HTTPS with the node key's certificate)`);
  }
  if (config.devices !== undefined && config.dataplane === undefined) throw new ConfigError(file, 'at devices: needs dataplane (the management port is on the data plane\'s bridge)');
  const base = dirname(resolve(file));
  const absolute = (path: string): string => (isAbsolute(path) ? path : resolve(base, path));
  return {
    ...config,
    application,
    dataDir: absolute(config.dataDir),
    identityKeyFile: absolute(config.identityKeyFile),
    ...(config.genesisFile !== undefined ? { genesisFile: absolute(config.genesisFile) } : {}),
    ...(typeof config.apiTls === 'object' ? { apiTls: { certFile: absolute(config.apiTls.certFile), keyFile: absolute(config.apiTls.keyFile) } } : {}),
    ...(config.devices?.secretsFile !== undefined ? { devices: { ...config.devices, secretsFile: absolute(config.devices.secretsFile) } } : {}),
  };
}

/** isLoopbackHost says whether a listen address only accepts connections from this host. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(?:\.[0-9]{1,3}){3}$/.test(host);
}

/** isSpecificAddress: an IP address other than the wildcards (a host name is left to the OS). */
export function isSpecificAddress(host: string): boolean {
  return isIP(host) !== 0 && host !== '0.0.0.0' && host !== '::';
}

/** loadNodeConfig reads and validates a configuration file. */
export function loadNodeConfig(file: string): NodeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, `cannot read the file: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new ConfigError(file, `not valid YAML: ${(error as Error).message}`);
  }
  return parseNodeConfig(value, file);
}
