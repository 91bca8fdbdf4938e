// gateway-node.ts — the composition root: the only place that creates adapters (STYLE.md).
//
// startNode(config) opens the durable log, the transport, the Raft runtime and the API, in that
// order, and stop() closes them in reverse. In the bare-log application mode the state machine
// is the LogApplier (for Raft tests and bench:raft); the gateway mode adds the signed-command
// state machine and the data plane.
import { mkdirSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { rotatingLog } from './runtime-log.js';
import type { RotatingLogInit } from './runtime-log.js';
import type { Logger } from 'pino';
import { SeededRandom, bootstrapStorage } from '../raft/index.js';
import type { ConfState, Message, NodeId, RaftLogger } from '../raft/index.js';
import { DurableStorage, FaultLogStore, openLogStore } from '../storage/index.js';
import type { LogStore } from '../storage/index.js';
import { Transport, nodeIdentityFromSeed } from '../transport/index.js';
import { buildApp, DEFAULT_READ_RATE_LIMITS, type ApiApp } from '../api/index.js';
import type { KeyPair } from '../commands/index.js';
import { isSpecificAddress, type NodeConfig } from './config.js';
import { apiTls } from './api-tls.js';
import { readIdentityKey } from './identity.js';
import { gatewayApplication, logApplication } from './application.js';
import type { Application } from './application.js';
import { MemberDirectory } from './member-directory.js';
import { encodeRuntimeSnapshot } from './runtime-snapshot.js';
import type { RaftTransportPort } from './ports.js';
import { RaftRuntime } from './raft-runtime.js';
import { StartupError } from './startup-error.js';
import { checkDataDir, markDataDir } from './data-dir.js';
import type { DataDirMark } from './data-dir.js';
import { AckBeforeFsyncStore, plantFromEnv } from './plants.js';
import type { Plant } from './plants.js';

/** RunningNode is a started node. */
export interface RunningNode {
  readonly logger: Logger;
  readonly runtime: RaftRuntime<unknown>;
  readonly apiUrl: string;
  stop(): Promise<void>;
}

/** REDACTED_LOG_PATHS keeps keys and signatures out of logs. */
export const REDACTED_LOG_PATHS = ['seed', 'privateKey', '*.seed', '*.privateKey', 'signature', '*.signature', 'signatures', 'req.headers.authorization'];

function raftLogger(logger: Logger): RaftLogger {
  const child = logger.child({ module: 'raft' });
  return {
    debug: (message) => child.debug(message),
    info: (message) => child.info(message),
    warn: (message) => child.warn(message),
  };
}

/** StartOverrides are the command line's overrides of the config: log level and log file. */
type StartOverrides = { logLevel?: string | undefined; logFile?: RotatingLogInit | undefined };

/**
 * startNode starts every part of a node; on failure it closes what it opened and throws. Steps: the
 * logger, the identity and application, the data directory, then storage, transport, runtime and API,
 * each pushing its closer so that stop() (or a failed start) closes them in reverse.
 */
export async function startNode(config: NodeConfig, overrides: StartOverrides = {}): Promise<RunningNode> {
  const logger = nodeLogger(config, overrides);
  const identity = readIdentityKey(config.identityKeyFile);
  const plant = plantFromEnv();
  if (plant !== undefined) logger.warn({ plant }, `PLANTED BUG "${plant}" IS ON: this node breaks a promise on purpose (chaos self-test); never run it in production`);
  const application = config.application === 'log' ? logApplication(config) : await gatewayApplication(config, identity, logger, plant);
  checkOwnKey(config, identity, application);
  const dataDir = prepareDataDir(config, identity, application);
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.reverse()) await close().catch((error: unknown) => logger.warn({ err: error }, 'close failed'));
  };
  try {
    const storage = await openStorage(dataDir.raftDir, config, logger, plant);
    closers.push(() => storage.close());
    await bootstrapIfNew(storage, config, application, logger);
    if (!dataDir.marked) markDataDir(config.dataDir, dataDir.mark);
    // The transport's callbacks reach the runtime, which needs the transport: late binding.
    const late: { runtime?: RaftRuntime<unknown> } = {};
    const transport = await startTransport(config, identity, application, late, logger);
    closers.push(() => transport.stop());
    const started = createRuntime(config, identity, application, storage, transport, logger);
    late.runtime = started;
    application.attach(started, logger);
    closers.push(() => application.stop());
    closers.push(() => started.stop());
    const apiUrl = await startApi(config, identity, application, started, logger, closers);
    started.start();
    logger.info({ api: apiUrl, raft: `${config.raft.host}:${config.raft.port}`, application: application.kind }, 'node started');
    return { logger, runtime: started, apiUrl, stop: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** nodeLogger: with a log file the node bounds and rotates it itself (runtime-log.ts); otherwise it logs to stdout. */
function nodeLogger(config: NodeConfig, overrides: StartOverrides): Logger {
  const options = { level: overrides.logLevel ?? config.logLevel ?? 'info', redact: REDACTED_LOG_PATHS, base: { node: config.nodeId } };
  return overrides.logFile === undefined ? pino(options) : pino(options, rotatingLog(overrides.logFile));
}

/** checkOwnKey refuses a key file that is not the key the founders list for this node. */
function checkOwnKey(config: NodeConfig, identity: KeyPair, application: Application): void {
  const self = application.founders.get(config.nodeId);
  if (self && self.publicKey !== Buffer.from(identity.publicKey).toString('hex')) {
    throw new StartupError('KEY_MISMATCH', `the key in ${config.identityKeyFile} is not the key listed for node ${config.nodeId}; use that node's key file`);
  }
}

/**
 * prepareDataDir refuses another cluster's, node's or key's data directory before anything is opened or
 * written, and creates the Raft log's directory (0700, and the data directory too if it is new); the mark
 * is written once storage is bootstrapped.
 */
function prepareDataDir(config: NodeConfig, identity: KeyPair, application: Application): { raftDir: string; mark: DataDirMark; marked: boolean } {
  const mark = { clusterId: Buffer.from(application.clusterId).toString('hex'), nodeId: config.nodeId, publicKey: Buffer.from(identity.publicKey).toString('hex') };
  const marked = checkDataDir(config.dataDir, mark, { config: config.genesisFile ?? 'the config', keyFile: config.identityKeyFile });
  const raftDir = join(config.dataDir, 'raft');
  try {
    // Owner-only, like the keys (etcd warns of a wider data directory): the log holds every signed command.
    mkdirSync(raftDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new StartupError('DATA_DIR', `cannot create data directory ${raftDir}: ${(error as Error).message}`, error);
  }
  return { raftDir, mark, marked };
}

/**
 * bootstrapIfNew bootstraps empty storage of a founder (not of a joining node). Every founder bootstraps the
 * same snapshot: the founding configuration, the member directory (addresses and keys) and the
 * application's initial state.
 */
async function bootstrapIfNew(storage: DurableStorage, config: NodeConfig, application: Application, logger: Logger): Promise<void> {
  if (!storage.isEmpty() || config.join) return;
  const founders = application.founders;
  const confState: ConfState = { voters: [...founders.keys()].sort((a, b) => a - b), learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
  const directory = new MemberDirectory();
  directory.seed(founders);
  const initial = encodeRuntimeSnapshot({ members: directory.toState(), lastTimeMs: 0, application: application.initialState() });
  await storage.bootstrap((scratch) => bootstrapStorage(scratch, confState, initial));
  logger.info({ voters: confState.voters }, 'bootstrapped a new cluster member');
}

/** startTransport starts the Raft transport; its callbacks reach the runtime through `late`, set once it exists. */
async function startTransport(config: NodeConfig, identity: KeyPair, application: Application, late: { runtime?: RaftRuntime<unknown> }, logger: Logger): Promise<Transport> {
  const founders = application.founders;
  const transport = new Transport({
    logger: logger.child({ module: 'transport' }),
    identity: nodeIdentityFromSeed(config.nodeId, identity.seed),
    clusterId: application.clusterId,
    isMember: (nodeId: NodeId, publicKey: Uint8Array) => {
      const address = late.runtime?.peerAddress(nodeId) ?? founders.get(nodeId);
      return address !== undefined && address.publicKey === Buffer.from(publicKey).toString('hex');
    },
    onMessage: (message: Message) => late.runtime?.receive(message),
    onUnreachable: (nodeId: NodeId) => late.runtime?.reportUnreachable(nodeId),
    onSnapshotStatus: (nodeId: NodeId, ok: boolean) => late.runtime?.reportSnapshot(nodeId, ok),
  }, {
    listenHost: config.raft.host,
    listenPort: config.raft.port,
    // A node bound to one address dials from it too, so its traffic is identifiable (chaos partitions).
    ...(isSpecificAddress(config.raft.host) ? { localAddress: config.raft.host } : {}),
  });
  await transport.start().catch((error: unknown) => {
    throw portError('raft', config.raft.host, config.raft.port, error);
  });
  return transport;
}

/** createRuntime creates the Raft runtime (not started) with the real clock and a seeded random source. */
function createRuntime(config: NodeConfig, identity: KeyPair, application: Application, storage: DurableStorage, transport: Transport, logger: Logger): RaftRuntime<unknown> {
  const seed = Buffer.from(identity.seed).readUInt32BE(0) ^ config.nodeId ^ (Date.now() & 0xffffffff);
  const started = new RaftRuntime<unknown>({
    id: config.nodeId,
    store: storage,
    transport: transportPort(transport),
    applier: application.applier,
    clock: { nowMs: () => Date.now(), monotonicMs: () => performance.now() },
    random: new SeededRandom(seed),
    logger: raftLogger(logger),
    founders: application.founders,
    ...(application.desiredMembers ? { desiredMembers: application.desiredMembers } : {}),
  }, config.timing ?? {});
  started.on('leader', (leader: number) => logger.info({ leader }, 'leader changed'));
  started.on('fatal', (error: unknown) => {
    logger.fatal({ err: error }, 'the Raft runtime stopped on an unrecoverable error; exiting');
    process.exit(70);
  });
  return started;
}

/** startApi builds the API (its closer pushed before it listens) and listens; answers the API's URL. */
async function startApi(config: NodeConfig, identity: KeyPair, application: Application, started: RaftRuntime<unknown>, logger: Logger, closers: Array<() => Promise<void>>): Promise<string> {
  const https = await apiTls(config, identity.seed, logger.child({ module: 'api' }));
  const readRateLimit = config.apiReadLimit === undefined ? undefined : { ...DEFAULT_READ_RATE_LIMITS, ...config.apiReadLimit };
  const app: ApiApp = await buildApp({ ...application.apiDeps(started), ...(readRateLimit === undefined ? {} : { readRateLimit }) }, logger.child({ module: 'api' }), https);
  closers.push(() => app.close());
  await app.listen({ host: config.api.host, port: config.api.port }).catch((error: unknown) => {
    throw portError('api', config.api.host, config.api.port, error);
  });
  return `${https === undefined ? 'http' : 'https'}://${hostForUrl(config.api.host)}:${config.api.port}`;
}

/** hostForUrl brackets an IPv6 address for a URL. */
function hostForUrl(host: string): string {
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** openStorage opens the Raft log in the format the config names (storage.log, LevelDB by default). */
async function openStorage(raftDir: string, config: NodeConfig, logger: Logger, plant: Plant | undefined): Promise<DurableStorage> {
  const format = config.storage?.log ?? 'leveldb';
  const store = await openLogStore(raftDir, format).catch((error: unknown) => {
    throw new StartupError('STORAGE', `cannot open the Raft log in ${raftDir}: ${(error as Error).message}`, error);
  });
  logger.info({ format }, 'Raft log opened');
  return DurableStorage.open(withStorageFaults(store, logger, plant));
}

/**
 * withStorageFaults wraps the store in the fault model when a test asks for it through the
 * environment (never in production): QUORUMGATE_STORAGE_SYNC_DELAY_MS keeps every write unsynced
 * for that long, so a kill -9 loses it; QUORUMGATE_PLANT=ack-before-fsync acknowledges writes
 * before they are durable (a planted bug the chaos checkers must catch).
 */
function withStorageFaults(store: LogStore, logger: Logger, plant: Plant | undefined): LogStore {
  const delayText = process.env.QUORUMGATE_STORAGE_SYNC_DELAY_MS;
  if (delayText === undefined && plant !== 'ack-before-fsync') return store;
  const syncDelayMs = Number(delayText ?? '20');
  if (!Number.isInteger(syncDelayMs) || syncDelayMs < 0 || syncDelayMs > 10_000) {
    throw new StartupError('FAULT_CONFIG', `QUORUMGATE_STORAGE_SYNC_DELAY_MS must be an integer in 0..10000, got "${delayText}"`);
  }
  const ackBeforeFsync = plant === 'ack-before-fsync';
  logger.warn({ syncDelayMs, ackBeforeFsync }, 'TEST FAULT MODE: storage writes are delayed before they are durable');
  const faulty = new FaultLogStore(store, { syncDelayMs });
  return ackBeforeFsync ? new AckBeforeFsyncStore(faulty) : faulty;
}

/** transportPort adapts the transport to the runtime's port (hex keys in the directory, raw bytes on the wire). */
function transportPort(transport: Transport): RaftTransportPort {
  return {
    send: (messages) => transport.send(messages),
    setPeers: (peers) => transport.setPeers(new Map([...peers].map(([id, address]) => [id, {
      host: address.host, port: address.port, publicKey: Buffer.from(address.publicKey, 'hex'),
    }]))),
  };
}

function portError(what: string, host: string, port: number, error: unknown): StartupError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new StartupError('PORT_IN_USE', `the ${what} port ${host}:${port} is already in use (another node running?); choose another port in the config`, error);
  }
  return new StartupError('LISTEN', `cannot listen on ${host}:${port} for ${what}: ${(error as Error).message}`, error);
}

