// local-cluster.ts — a cluster of real node processes on loopback, each with its own data
// directory, identity key and config file. Used by `npm run cluster`, the cluster tests,
// bench:raft and the chaos harness.
//
// State lives in the cluster directory, so separate commands (start, stop, restart, status) act
// on the same cluster: cluster.json (ports, keys, ids) and one directory per node holding
// config.yaml, node.key, node.log, node.pid and the Raft data.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { ALL_DOMAINS, clusterIdOf, createGenesis, createToken, toHex, type KeyPair } from '../src/commands/index.js';
import type { FetchFunction } from '../src/cli/client.js';
import { PinnedAgent, pinnedFetch } from '../src/cli/https-fetch.js';
import { pollUntil } from '../src/dataplane/exec.js';
import { hostPaths, removeManagementPort, umboxOwner } from '../src/dataplane/index.js';
import { stopBrokerIn } from '../src/devices/index.js';
import { brokerDir } from '../src/node/device-link.js';
import { readIdentityKey, writeIdentityKey } from '../src/node/identity.js';
import { certificateFingerprints, type CertificateFingerprints } from '../src/tls/api-cert.js';
import { apiCertificateFiles } from '../src/tls/api-cert-store.js';
import { WAN, wanGateway } from './wan.js';

/** ClusterNodeInfo is what cluster.json records per node. */
export interface ClusterNodeInfo {
  readonly nodeId: number;
  readonly raftPort: number;
  readonly apiPort: number;
  readonly publicKey: string;
  /** host is the loopback address the node listens on and dials from (default 127.0.0.1). */
  readonly host?: string;
  /** founder: part of the first configuration (otherwise it joined later). */
  readonly founder: boolean;
  /** namespace, in the WAN topology (cluster/wan.ts): the network namespace the node runs in, its own host. */
  readonly namespace?: string;
  /** runDir, in the WAN topology: the host's run directory (its own Open vSwitch), the config's dataplane.runDir. */
  readonly runDir?: string;
}

/** ClusterFile is cluster.json. */
export interface ClusterFile {
  clusterId: string;
  readonly application: 'log' | 'quorumgate';
  readonly timing: Record<string, number>;
  nodes: ClusterNodeInfo[];
  nextNodeId: number;
  dataplanePrefix?: string;
  /** devicesSubnet, when set, gives each gateway a device interface (see LocalClusterInit.devicesSubnet). */
  devicesSubnet?: string;
  /** hostPrefix, when set, gives node N the address `<hostPrefix>N` (e.g. "127.0.77." → 127.0.77.N). */
  hostPrefix?: string;
  /** topology `wan`: every node on its own host of cluster/wan.ts (namespace, WAN address, Open vSwitch). */
  topology?: 'wan';
  /** logStore, when set, is every node's config `storage.log` (the Raft log format; default LevelDB). */
  logStore?: 'leveldb' | 'wal';
}

/** LocalClusterInit configures create(). */
export interface LocalClusterInit {
  readonly dir: string;
  readonly nodes: number;
  readonly application?: 'log' | 'quorumgate';
  /** timing overrides for every node (tickMs, electionTicks, snapshotEveryEntries, ...). */
  readonly timing?: Record<string, number>;
  readonly host?: string;
  /**
   * hostPrefix gives each node its own loopback address `<hostPrefix><nodeId>` (e.g. "127.0.77."), for
   * raft and API, and its outgoing raft connections come from it: firewall rules can then cut the
   * links between two nodes (the chaos harness's partitions). Default: every node on 127.0.0.1.
   */
  readonly hostPrefix?: string;
  /**
   * dataplanePrefix, when set (gateway mode), gives every node a data plane: OVS bridge
   * `<prefix><id>br` and uplink port `<prefix><id>up` (interface names stay within 15 characters).
   */
  readonly dataplanePrefix?: string;
  /**
   * devicesSubnet (with dataplanePrefix), e.g. "10.77.0.", gives every gateway its device interface
   * (docs/devices.md): management address `<devicesSubnet><240 + id>`/24 on port `<prefix><id>m` (host end
   * `<prefix><id>mh`), its MQTT broker there, and a device secrets file `secrets.yaml` (0600) in its directory.
   */
  readonly devicesSubnet?: string;
  /**
   * topology `wan` places node N on gateway host N of cluster/wan.ts: it runs in that host's namespace
   * (`ip netns exec`), listens on its WAN address with the same ports as every other host, and enforces with
   * that host's own Open vSwitch (dataplane.runDir). The hosts are made by WanTopology, not here; it needs
   * dataplanePrefix `qgw` (the names the hosts' switch ports have) and no hostPrefix.
   */
  readonly topology?: 'wan';
  /** logStore: every node's Raft log format, config `storage.log` (default: the node's default, LevelDB). */
  readonly logStore?: 'leveldb' | 'wal';
  /** rootKeys and rootThreshold shape the genesis root (gateway mode; default 2 of 3). */
  readonly rootKeys?: number;
  readonly rootThreshold?: number;
}

/** NodeStatus is the JSON of GET /v1/status. */
export interface NodeStatus {
  id: number;
  role: string;
  leader: number;
  term: number;
  commit: number;
  applied: number;
  snapshotIndex: number;
  lastIndex: number;
  voters: number[];
  learners: number[];
  removed: boolean;
}

const HOST = '127.0.0.1';

/** nodeEntryPoint is the compiled node program (npm run build produces it). */
export function nodeEntryPoint(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  // From cluster/ (tsx) or dist/cluster/ (compiled), the node program is dist/src/node/main.js.
  const candidates = [resolve(here, '../dist/src/node/main.js'), resolve(here, '../src/node/main.js')];
  for (const candidate of candidates) if (existsSync(candidate)) return candidate;
  throw new Error(`node program not found (looked at ${candidates.join(', ')}); run "npm run build" first`);
}

/**
 * ephemeralLow is the lowest port of the kernel's range for automatically chosen local ports (bind to
 * port 0 and the source port of every outgoing connection), read once.
 */
let ephemeralLowCache: number | undefined;
function ephemeralLow(): number {
  if (ephemeralLowCache === undefined) {
    ephemeralLowCache = 49152; // Not Linux: assume the IANA range.
    try {
      const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
      if (Number.isInteger(low)) ephemeralLowCache = low;
    } catch {
      // Keep the IANA assumption.
    }
  }
  return ephemeralLowCache;
}

/** Ports handed out by this process, so that two allocations never return the same port. */
const handedOut = new Set<number>();

/**
 * freePort finds a loopback port free to listen on. It picks below the ephemeral range: a port that
 * the OS chose (port 0) is free only until any outgoing connection (a peer dialling, an HTTP client)
 * takes it as its source port, and a node started a moment later then fails to bind — CI saw a node
 * that never answered. Ports below the range are only ever taken by someone binding them on purpose;
 * each candidate is still test-bound before it is returned.
 */
export async function freePort(host: string = HOST): Promise<number> {
  const high = Math.min(ephemeralLow() - 1, 32_767);
  const low = Math.max(1_024, high - 12_000);
  for (let attempt = 0; attempt < 200 && high > low; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (handedOut.has(port)) continue;
    if (await canListen(host, port)) {
      handedOut.add(port);
      return port;
    }
  }
  // No room below the ephemeral range (an unusual kernel setting): let the OS choose.
  return listenOnce(host, 0);
}

async function canListen(host: string, port: number): Promise<boolean> {
  try {
    await listenOnce(host, port);
    return true;
  } catch {
    return false;
  }
}

/** listenOnce binds `host:port`, closes it again and returns the port bound. */
function listenOnce(host: string, port: number): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(bound));
    });
  });
}

/** LocalCluster manages the processes of one cluster directory. */
export class LocalCluster {
  readonly dir: string;
  private file: ClusterFile;
  private rootReader: KeyPair | undefined;
  private transport: FetchFunction | undefined;
  private agent: PinnedAgent | undefined;

  private constructor(dir: string, file: ClusterFile) {
    this.dir = dir;
    this.file = file;
  }

  /** create makes a new cluster directory (it must not exist yet, or be empty). */
  static async create(init: LocalClusterInit): Promise<LocalCluster> {
    const dir = resolve(init.dir);
    if (existsSync(join(dir, 'cluster.json'))) throw new Error(`${dir} already holds a cluster; destroy it first or choose another directory`);
    mkdirSync(dir, { recursive: true });
    // In the bare-log mode there is no genesis: the cluster id is random. The gateway mode uses the genesis hash.
    const application = init.application ?? 'log';
    const file: ClusterFile = {
      clusterId: toHex(randomBytes(32)), application, timing: init.timing ?? {}, nodes: [], nextNodeId: 1,
      ...(init.dataplanePrefix !== undefined ? { dataplanePrefix: init.dataplanePrefix } : {}),
      ...(init.devicesSubnet !== undefined ? { devicesSubnet: init.devicesSubnet } : {}),
      ...(init.hostPrefix !== undefined ? { hostPrefix: init.hostPrefix } : {}),
      ...(init.topology !== undefined ? { topology: init.topology } : {}),
      ...(init.logStore !== undefined ? { logStore: init.logStore } : {}),
    };
    if (init.topology === 'wan' && (init.dataplanePrefix !== WAN.prefix || init.hostPrefix !== undefined)) {
      throw new Error(`the WAN topology needs dataplanePrefix "${WAN.prefix}" and no hostPrefix (got ${init.dataplanePrefix ?? 'none'}, ${init.hostPrefix ?? 'none'})`);
    }
    const cluster = new LocalCluster(dir, file);
    for (let i = 0; i < init.nodes; i++) await cluster.allocateNode(true);
    if (application === 'quorumgate') file.clusterId = cluster.writeGenesis(init.rootKeys ?? 3, init.rootThreshold ?? 2);
    for (const node of cluster.file.nodes) cluster.writeConfig(node);
    cluster.save();
    return cluster;
  }

  /** open loads an existing cluster directory. */
  static open(dir: string): LocalCluster {
    const path = join(resolve(dir), 'cluster.json');
    if (!existsSync(path)) throw new Error(`${resolve(dir)} holds no cluster (no cluster.json); create one with "npm run cluster -- start"`);
    return new LocalCluster(resolve(dir), JSON.parse(readFileSync(path, 'utf8')) as ClusterFile);
  }

  get nodes(): readonly ClusterNodeInfo[] {
    return this.file.nodes;
  }

  get clusterId(): string {
    return this.file.clusterId;
  }

  /** umboxOwner is what node `nodeId`'s μmbox containers are labelled and named by on the engine (its member id scoped by this cluster). */
  umboxOwner(nodeId: number): string {
    return umboxOwner(`n${nodeId}`, this.file.clusterId);
  }

  nodeDir(nodeId: number): string {
    return join(this.dir, `n${nodeId}`);
  }

  /**
   * apiCertificate is the P-256 certificate node `nodeId` serves browsers (src/tls/api-cert.ts), with the
   * fingerprints an operator compares with what the browser shows; undefined before the node first started.
   */
  apiCertificate(nodeId: number): ({ certFile: string; certPem: string } & CertificateFingerprints) | undefined {
    const { certFile } = apiCertificateFiles(join(this.nodeDir(nodeId), 'data'));
    if (!existsSync(certFile)) return undefined;
    const certPem = readFileSync(certFile, 'utf8');
    return { certFile, certPem, ...certificateFingerprints(certPem) };
  }

  /**
   * apiUrl is a node's API: HTTPS with the certificate of its node key in the gateway mode; plain HTTP on
   * loopback in the bare log mode (no trust store, no domain data; bench:raft measures the Raft path).
   */
  apiUrl(nodeId: number): string {
    return `${this.file.application === 'log' ? 'http' : 'https'}://${this.hostOf(nodeId)}:${this.info(nodeId).apiPort}`;
  }

  /** membersFile pins each node's API key for qgate (--members, QGATE_MEMBERS); written in the gateway mode. */
  get membersFile(): string {
    return join(this.dir, 'members.json');
  }

  /**
   * readToken is a read token for every domain, signed by the first root key (gateway mode), valid for
   * `ttlS` seconds: what the tests, benchmarks and the chaos harness read with.
   */
  readToken(ttlS = 3600): string {
    this.rootReader ??= readIdentityKey(this.rootKeyFiles()[0]!);
    return createToken(this.rootReader, this.file.clusterId, ALL_DOMAINS, Date.now(), ttlS);
  }

  /**
   * fetch is the one HTTP client of the tools around a local cluster: node keys pinned from cluster.json,
   * and in the gateway mode a root read token on every request that carries none.
   */
  readonly fetch = async (url: string, init: RequestInit = {}): Promise<Response> => {
    this.transport ??= pinnedFetch({ kind: 'pins', pins: { byOrigin: this.pins(), members: new Set(), source: `${join(this.dir, 'cluster.json')}` } });
    const headers = new Headers(init.headers);
    if (this.file.application !== 'log' && !headers.has('authorization')) headers.set('authorization', `Bearer ${this.readToken()}`);
    return this.transport(url, { ...init, headers: Object.fromEntries(headers.entries()) });
  };

  /** httpsAgent is a kept-alive HTTPS agent that pins the nodes' keys (the benchmarks' load generators). */
  httpsAgent(): PinnedAgent {
    this.agent ??= new PinnedAgent({ kind: 'pins', pins: { byOrigin: this.pins(), members: new Set(), source: `${join(this.dir, 'cluster.json')}` } });
    return this.agent;
  }

  /** qgateEnv is the environment for running qgate against this cluster: endpoints, pinned keys, a read token. */
  qgateEnv(): Record<string, string> {
    return {
      QGATE_ENDPOINTS: this.nodes.map((n) => this.apiUrl(n.nodeId)).join(','),
      ...(this.file.application === 'log' ? {} : { QGATE_MEMBERS: this.membersFile, QGATE_TOKEN: this.readToken(6 * 3600) }),
    };
  }

  /** pins maps each node's API origin to its key (a node's API certificate is derived from its node key). */
  private pins(): Map<string, string> {
    return new Map(this.file.nodes.map((n) => [this.apiUrl(n.nodeId), n.publicKey]));
  }

  /** hostOf is the address a node listens on (its own loopback address when the cluster has a hostPrefix). */
  hostOf(nodeId: number): string {
    return this.info(nodeId).host ?? HOST;
  }

  info(nodeId: number): ClusterNodeInfo {
    const node = this.file.nodes.find((n) => n.nodeId === nodeId);
    if (!node) throw new Error(`no node ${nodeId} in this cluster (nodes: ${this.file.nodes.map((n) => n.nodeId).join(', ')})`);
    return node;
  }

  /** pid returns the running process id of a node, or undefined. */
  pid(nodeId: number): number | undefined {
    const path = join(this.nodeDir(nodeId), 'node.pid');
    if (!existsSync(path)) return undefined;
    const pid = Number(readFileSync(path, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    // A killed node that its parent has not reaped yet is a zombie: it answers signal 0 but runs nothing,
    // and taking it for running made start() (and `cluster restart`) leave the node down.
    return isAlive(pid) ? pid : undefined;
  }

  /**
   * start launches a node process (detached, logging to node.log) unless it runs already. `nodeArgs`
   * go to Node itself (e.g. --cpu-prof, which NODE_OPTIONS refuses).
   */
  start(nodeId: number, extraEnv: Record<string, string> = {}, nodeArgs: readonly string[] = []): number {
    const running = this.pid(nodeId);
    if (running) return running;
    const dir = this.nodeDir(nodeId);
    // The node writes node.log itself, rotated by size (node.log.1, .2, .3; src/node/runtime-log.ts);
    // what it prints on stdout or stderr (a start-up error, a crash) is appended to the node.log of
    // its start (after a rotation, that file is node.log.N: whyNoAnswer reads the newest).
    const log = openSync(join(dir, 'node.log'), 'a');
    const argv = [process.execPath, '--enable-source-maps', ...nodeArgs, nodeEntryPoint(), '--config', join(dir, 'config.yaml'), '--log-file', join(dir, 'node.log')];
    // On a host of the WAN topology the node runs in that host's namespace: `ip netns exec` enters it and
    // execs the node, so the pid recorded is the node's own.
    const namespace = this.info(nodeId).namespace;
    const [file, ...args] = namespace === undefined ? argv : ['ip', 'netns', 'exec', namespace, ...argv];
    const child = spawn(file!, args, {
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...process.env, ...extraEnv },
    });
    closeSync(log);
    child.unref();
    if (!child.pid) throw new Error(`could not start node ${nodeId}`);
    writeFileSync(join(dir, 'node.pid'), `${child.pid}\n`);
    return child.pid;
  }

  startAll(): void {
    for (const node of this.file.nodes) this.start(node.nodeId);
  }

  /** signal sends a signal to a node (SIGKILL for a crash, SIGSTOP/SIGCONT to pause). */
  signal(nodeId: number, signal: NodeJS.Signals): boolean {
    const pid = this.pid(nodeId);
    if (!pid) return false;
    process.kill(pid, signal);
    return true;
  }

  /** kill crashes a node with SIGKILL and waits until the process is gone. */
  async kill(nodeId: number): Promise<void> {
    const pid = this.pid(nodeId);
    if (!pid) return;
    process.kill(pid, 'SIGKILL');
    await waitUntil(() => !isAlive(pid), 5_000, `node ${nodeId} (pid ${pid}) to exit after SIGKILL`);
  }

  /** stop asks a node to shut down (SIGTERM) and waits, escalating to SIGKILL after `graceMs`. */
  async stop(nodeId: number, graceMs = 5_000): Promise<void> {
    const pid = this.pid(nodeId);
    if (!pid) return;
    process.kill(pid, 'SIGCONT');
    process.kill(pid, 'SIGTERM');
    try {
      await waitUntil(() => !isAlive(pid), graceMs, `node ${nodeId} to stop`);
    } catch {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
      await waitUntil(() => !isAlive(pid), 5_000, `node ${nodeId} to exit after SIGKILL`);
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.file.nodes.map((n) => this.stop(n.nodeId)));
  }

  /** status asks a node for its status; undefined when it does not answer. */
  async status(nodeId: number, timeoutMs = 1_000): Promise<NodeStatus | undefined> {
    try {
      const response = await this.fetch(`${this.apiUrl(nodeId)}/v1/status`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!response.ok) return undefined;
      return (await response.json()) as NodeStatus;
    } catch {
      return undefined;
    }
  }

  /**
   * whyNoAnswer explains a node that does not answer its API: whether its process runs, and the
   * last lines of its node.log (for error messages of tests and benchmarks).
   */
  whyNoAnswer(nodeId: number, lines = 8): string {
    const pid = this.pid(nodeId);
    const state = pid !== undefined ? `process ${pid} running` : 'process not running';
    // A crash trace goes to the file the node's stderr was opened on, which a rotation renames to
    // node.log.N: read whichever of them changed last.
    const dir = this.nodeDir(nodeId);
    const candidates = ['node.log', 'node.log.1', 'node.log.2', 'node.log.3'].filter((name) => existsSync(join(dir, name)));
    const newest = candidates.sort((a, b) => statSync(join(dir, b)).mtimeMs - statSync(join(dir, a)).mtimeMs)[0];
    if (newest === undefined) return `${state}; (no node.log)`;
    const tail = readFileSync(join(dir, newest), 'utf8').trimEnd().split('\n').slice(-lines).join('\n    ');
    return `${state}; ${newest} ends:\n    ${tail}`;
  }

  /** statusAll reports every node (undefined for a node that does not answer). */
  async statusAll(): Promise<Map<number, NodeStatus | undefined>> {
    const out = new Map<number, NodeStatus | undefined>();
    await Promise.all(this.file.nodes.map(async (n) => out.set(n.nodeId, await this.status(n.nodeId))));
    return out;
  }

  /** waitForLeader waits until the answering nodes among `among` agree on one leader in one term. */
  async waitForLeader(timeoutMs = 15_000, among: readonly number[] = this.file.nodes.map((n) => n.nodeId)): Promise<number> {
    let leader = 0;
    await waitUntilAsync(async () => {
      const statuses = (await Promise.all(among.map((id) => this.status(id)))).filter((s): s is NodeStatus => s !== undefined);
      const leaders = statuses.filter((s) => s.role === 'leader' && among.includes(s.id));
      if (leaders.length !== 1) return false;
      const candidate = leaders[0]!;
      const agree = statuses.filter((s) => s.leader === candidate.id && s.term === candidate.term).length;
      if (agree * 2 <= among.length) return false;
      leader = candidate.id;
      return true;
    }, timeoutMs, 'a leader to be elected');
    return leader;
  }

  /** allocateNode adds a node to cluster.json (ports, key) without starting it; returns its id. */
  async allocateNode(founder: boolean): Promise<ClusterNodeInfo> {
    const nodeId = this.file.nextNodeId;
    this.file.nextNodeId += 1;
    const dir = this.nodeDir(nodeId);
    mkdirSync(dir, { recursive: true });
    const pair = writeIdentityKey(join(dir, 'node.key'));
    let info: ClusterNodeInfo;
    if (this.file.topology === 'wan') {
      const gateway = wanGateway(nodeId);
      info = {
        nodeId, raftPort: WAN.raftPort, apiPort: WAN.apiPort, publicKey: toHex(pair.publicKey), founder, host: gateway.address, namespace: gateway.namespace, runDir: gateway.runDir,
      };
    } else {
      const host = this.file.hostPrefix !== undefined ? `${this.file.hostPrefix}${nodeId}` : undefined;
      info = { nodeId, raftPort: await freePort(host), apiPort: await freePort(host), publicKey: toHex(pair.publicKey), founder, ...(host !== undefined ? { host } : {}) };
    }
    this.file.nodes.push(info);
    return info;
  }

  /** prepareJoiner allocates a node that will join the running cluster and writes its config. */
  async prepareJoiner(): Promise<ClusterNodeInfo> {
    const info = await this.allocateNode(false);
    this.writeConfig(info);
    this.save();
    return info;
  }

  /** forget removes a node from cluster.json (after it was removed from the cluster). */
  forget(nodeId: number): void {
    this.file.nodes = this.file.nodes.filter((n) => n.nodeId !== nodeId);
    this.save();
  }

  /** destroy stops every node and deletes the cluster directory. */
  async destroy(): Promise<void> {
    await this.stopAll();
    await this.releaseDevices();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** dataplaneOf names a node's OVS bridge and uplink port (clusters created with dataplanePrefix). */
  dataplaneOf(nodeId: number): { bridge: string; uplinkPort: string } {
    const prefix = this.file.dataplanePrefix ?? 'qg';
    return { bridge: `${prefix}${nodeId}br`, uplinkPort: `${prefix}${nodeId}up` };
  }

  /** devicesOf is a node's device interface settings (clusters created with devicesSubnet), or undefined. */
  devicesOf(nodeId: number): { managementAddress: string; managementPort: string; managementInterface: string; brokerPort: number; secretsFile: string } | undefined {
    if (this.file.devicesSubnet === undefined) return undefined;
    const prefix = this.file.dataplanePrefix ?? 'qg';
    return {
      managementAddress: `${this.file.devicesSubnet}${240 + nodeId}`, managementPort: `${prefix}${nodeId}m`, managementInterface: `${prefix}${nodeId}mh`,
      brokerPort: 1883, secretsFile: join(this.nodeDir(nodeId), 'secrets.yaml'),
    };
  }

  /**
   * releaseDevices stops the gateways' brokers and removes their management ports (they outlive a node
   * process on purpose, so devices stay connected across a restart); destroy() calls it.
   */
  async releaseDevices(): Promise<void> {
    const paths = hostPaths();
    for (const node of this.file.nodes) {
      const devices = this.devicesOf(node.nodeId);
      if (devices === undefined) continue;
      const { bridge } = this.dataplaneOf(node.nodeId);
      await stopBrokerIn(brokerDir(paths, bridge));
      await removeManagementPort({
        ovsDir: paths.ovsDir, bridge, port: devices.managementPort, hostInterface: devices.managementInterface,
        address: devices.managementAddress, prefixLength: 24,
      }).catch(() => undefined);
    }
  }

  /** setDeviceSecret stores a device credential on one gateway (its secrets file, 0600); the node picks it up within seconds. */
  setDeviceSecret(nodeId: number, reference: string, secret: string): void {
    const devices = this.devicesOf(nodeId);
    if (devices === undefined) throw new Error('this cluster has no device interface (create it with devicesSubnet)');
    const current = existsSync(devices.secretsFile) ? (parseYaml(readFileSync(devices.secretsFile, 'utf8')) as Record<string, string> | null) ?? {} : {};
    current[reference] = secret;
    writeFileSync(devices.secretsFile, toYaml(current), { mode: 0o600 });
    chmodSync(devices.secretsFile, 0o600);
  }

  /** genesisFile is the cluster's genesis document (gateway mode). */
  get genesisFile(): string {
    return join(this.dir, 'genesis.json');
  }

  /** rootKeyFiles are the root key files created with the cluster (gateway mode; private, never committed). */
  rootKeyFiles(): string[] {
    return readdirSync(join(this.dir, 'keys')).filter((f) => f.startsWith('root-')).sort().map((f) => join(this.dir, 'keys', f));
  }

  /** writeGenesis creates root keys and the genesis of the founders; returns the cluster id (hex). */
  private writeGenesis(rootKeys: number, rootThreshold: number): string {
    const keysDir = join(this.dir, 'keys');
    mkdirSync(keysDir, { recursive: true, mode: 0o700 });
    const roots = Array.from({ length: rootKeys }, (_, i) => writeIdentityKey(join(keysDir, `root-${i + 1}.key`)));
    const genesis = createGenesis({
      clusterName: `local-${this.file.nodes.length}`,
      rootKeys: roots.map((r) => r.publicKey),
      rootThreshold,
      members: this.file.nodes.map((n) => ({ nodeId: `n${n.nodeId}`, nodeKey: Buffer.from(n.publicKey, 'hex'), address: `${n.host ?? HOST}:${n.raftPort}` })),
    });
    writeFileSync(this.genesisFile, `${JSON.stringify(genesis, null, 2)}\n`);
    return toHex(clusterIdOf(genesis));
  }

  private writeConfig(node: ClusterNodeInfo): void {
    const founders = this.file.nodes.filter((n) => n.founder);
    const config = {
      nodeId: node.nodeId,
      dataDir: './data',
      ...(this.file.application === 'log' ? { clusterId: this.file.clusterId } : { genesisFile: '../genesis.json' }),
      identityKeyFile: './node.key',
      raft: { host: node.host ?? HOST, port: node.raftPort },
      api: { host: node.host ?? HOST, port: node.apiPort },
      ...(this.file.application === 'log' ? { apiTls: 'off' } : {}),
      ...(this.file.application === 'log' || !node.founder
        ? { members: (node.founder ? founders : this.file.nodes).map((n) => ({ nodeId: n.nodeId, host: n.host ?? HOST, port: n.raftPort, publicKey: n.publicKey })) }
        : {}),
      ...(node.founder ? {} : { join: true }),
      application: this.file.application,
      ...(Object.keys(this.file.timing).length > 0 ? { timing: this.file.timing } : {}),
      ...(this.file.logStore !== undefined ? { storage: { log: this.file.logStore } } : {}),
      ...(this.file.dataplanePrefix !== undefined ? { dataplane: { ...this.dataplaneOf(node.nodeId), ...(node.runDir !== undefined ? { runDir: node.runDir } : {}) } } : {}),
      ...(this.devicesOf(node.nodeId) !== undefined ? { devices: { ...this.devicesOf(node.nodeId)!, managementPrefixLength: 24, secretsFile: './secrets.yaml' } } : {}),
    };
    const devices = this.devicesOf(node.nodeId);
    if (devices !== undefined && !existsSync(devices.secretsFile)) writeFileSync(devices.secretsFile, '{}\n', { mode: 0o600 });
    writeFileSync(join(this.nodeDir(node.nodeId), 'config.yaml'), toYaml(config));
  }

  private save(): void {
    writeFileSync(join(this.dir, 'cluster.json'), `${JSON.stringify(this.file, null, 2)}\n`);
    this.transport = undefined;
    this.agent = undefined;
    if (this.file.application !== 'log') {
      const members = this.file.nodes.map((n) => ({ nodeId: String(n.nodeId), endpoint: this.apiUrl(n.nodeId), publicKey: n.publicKey }));
      writeFileSync(this.membersFile, `${JSON.stringify({ members }, null, 2)}\n`);
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A killed child of ours may linger as a zombie until reaped; /proc tells.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** waitUntil polls a condition every 50 ms until it holds or `timeoutMs` passes. */
export async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  await waitUntilAsync(async () => condition(), timeoutMs, what);
}

/** waitUntilAsync polls an async condition every 50 ms until it holds or `timeoutMs` passes. */
export async function waitUntilAsync(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  if (!(await pollUntil(condition, timeoutMs, 50))) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
