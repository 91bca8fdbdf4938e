// host.ts — host set-up for a gateway's data plane: the Debian packages, a private Open vSwitch
// instance (its own run directory; the kernel datapath left usable where the openvswitch module is, the
// userspace one only otherwise: datapath.ts) and a private Docker engine (its own data,
// exec and socket directories). Idempotent: what is already installed or running and answering is
// reused. The commands are the ones DESIGN.md "What works on these machines" lists.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { DataplaneError } from './errors.js';
import { pollUntil, run, sleepMs } from './exec.js';
import { probeModule, probeSystemBridge, type DatapathProbes } from './datapath.js';

/**
 * HOST_PACKAGES are the Debian packages the data plane runs on (installed only when missing). ethtool turns off
 * transmit checksum offload on veth ends that originate traffic in tests: OVS's userspace datapath forwards
 * frames as read, so a partial checksum left for the NIC would reach the receiver unfinished and be dropped.
 */
export const HOST_PACKAGES = ['openvswitch-switch', 'docker.io', 'busybox-static', 'nftables', 'iproute2', 'ethtool'] as const;

/** HostPaths are where the private OVS and Docker instances keep their sockets, pids, logs and data. */
export interface HostPaths {
  /** ovsDir holds conf.db, db.sock, the pid and log files, and the bridges' management sockets (OVS_RUNDIR). */
  ovsDir: string;
  /** ovsDbSocket is the ovsdb-server socket every ovs-vsctl call names (`--db=unix:...`). */
  ovsDbSocket: string;
  /** dockerExecDir is dockerd's --exec-root. */
  dockerExecDir: string;
  /** dockerDataDir is dockerd's --data-root (images survive a restart). */
  dockerDataDir: string;
  /** dockerSocket is the engine's API socket. */
  dockerSocket: string;
  /** dockerPidFile is dockerd's --pidfile. */
  dockerPidFile: string;
  /** umboxDir holds one sub-directory per μmbox container (its alert channel and ready marker). */
  umboxDir: string;
  /** lockFile serializes concurrent set-ups of the same directories. */
  lockFile: string;
}

/** DEFAULT_RUN_DIR is the host's run directory (sockets, OVS and Docker state) when none is given. */
export const DEFAULT_RUN_DIR = '/run/quorumgate';
/** DEFAULT_DATA_DIR is the host's data directory when none is given. */
export const DEFAULT_DATA_DIR = '/var/lib/quorumgate';

/** hostPaths lays out the directories under a run directory (sockets, pids) and a data directory. */
export function hostPaths(runDir = process.env.QG_RUN_DIR ?? DEFAULT_RUN_DIR, dataDir = process.env.QG_DATA_DIR ?? DEFAULT_DATA_DIR): HostPaths {
  const ovsDir = join(runDir, 'ovs');
  const dockerExecDir = join(runDir, 'docker');
  return {
    ovsDir,
    ovsDbSocket: join(ovsDir, 'db.sock'),
    dockerExecDir,
    dockerDataDir: join(dataDir, 'docker'),
    dockerSocket: join(dockerExecDir, 'docker.sock'),
    dockerPidFile: join(dockerExecDir, 'docker.pid'),
    umboxDir: join(runDir, 'umbox'),
    lockFile: join(runDir, 'setup.lock'),
  };
}

/** HostStatus says, per daemon, whether it answers and whether this call started it. */
export interface HostStatus {
  paths: HostPaths;
  ovsStarted: boolean;
  dockerStarted: boolean;
  installedPackages: string[];
}

/**
 * ensureHost installs missing packages, then starts (or reuses) OVS and the Docker engine; idempotent.
 * `docker: false` leaves the engine alone (a node that runs no μmbox, or a test of OVS alone).
 */
export async function ensureHost(paths: HostPaths = hostPaths(), options: { install?: boolean; docker?: boolean } = {}): Promise<HostStatus> {
  if (process.getuid?.() !== 0) throw new DataplaneError('not_root', 'host set-up needs root (it starts OVS and dockerd)');
  const installedPackages = options.install === false ? [] : await ensurePackages();
  return withLock(paths.lockFile, async () => {
    const ovsStarted = await ensureOvs(paths);
    const dockerStarted = options.docker === false ? false : await ensureDocker(paths);
    return { paths, ovsStarted, dockerStarted, installedPackages };
  });
}

/** missingPackages lists the HOST_PACKAGES dpkg does not report as installed. */
export async function missingPackages(): Promise<string[]> {
  const missing: string[] = [];
  for (const name of HOST_PACKAGES) {
    const result = await run('dpkg-query', ['-W', '-f=${Status}', name], { allowFailure: true });
    if (!result.stdout.includes('install ok installed')) missing.push(name);
  }
  return missing;
}

/** ensurePackages apt-installs whatever HOST_PACKAGES are missing and returns their names. */
export async function ensurePackages(): Promise<string[]> {
  const missing = await missingPackages();
  if (missing.length === 0) return [];
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { env, timeoutMs: 300_000 });
  await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env, timeoutMs: 900_000 });
  return missing;
}

/** ovsAnswers says whether ovsdb-server and ovs-vswitchd both answer on their control sockets. */
export async function ovsAnswers(paths: HostPaths): Promise<boolean> {
  if (!existsSync(paths.ovsDbSocket)) return false;
  const db = await run('ovs-vsctl', [`--db=unix:${paths.ovsDbSocket}`, '--timeout=10', 'show'], { allowFailure: true, timeoutMs: 15_000 })
    .catch(() => ({ code: -1 }));
  if (db.code !== 0) return false;
  const pid = livePid(join(paths.ovsDir, 'vswitchd.pid'), 'ovs-vswitchd');
  if (pid === null) return false;
  const ctl = join(paths.ovsDir, `ovs-vswitchd.${pid}.ctl`);
  const appctl = await run('ovs-appctl', ['-t', ctl, 'version'], { allowFailure: true, timeoutMs: 15_000 }).catch(() => ({ code: -1 }));
  return appctl.code === 0;
}

/**
 * ensureOvs starts whichever of ovsdb-server and ovs-vswitchd is not running; returns true only when it
 * started one (so a caller that stops "what it started" never stops a daemon someone else started).
 */
async function ensureOvs(paths: HostPaths): Promise<boolean> {
  if (await ovsAnswers(paths)) return false;
  mkdirSync(paths.ovsDir, { recursive: true });
  const env = { OVS_RUNDIR: paths.ovsDir, OVS_LOGDIR: paths.ovsDir, OVS_DBDIR: paths.ovsDir };
  const dbFile = join(paths.ovsDir, 'conf.db');
  let started = false;
  let dbPid = livePid(join(paths.ovsDir, 'ovsdb.pid'), 'ovsdb-server') ?? liveCtlPid(paths.ovsDir, 'ovsdb-server');
  if (dbPid !== null && !existsSync(paths.ovsDbSocket)) {
    // Alive but unreachable (its socket file is gone): nothing can talk to it, so replace it.
    await stopProcess(dbPid, 10_000);
    dbPid = null;
  }
  if (dbPid === null) {
    if (!existsSync(dbFile)) await run('ovsdb-tool', ['create', dbFile, '/usr/share/openvswitch/vswitch.ovsschema'], { env });
    rmSync(paths.ovsDbSocket, { force: true });
    await run('ovsdb-server', [dbFile, `--remote=punix:${paths.ovsDbSocket}`, `--pidfile=${join(paths.ovsDir, 'ovsdb.pid')}`,
      '--detach', `--log-file=${join(paths.ovsDir, 'ovsdb.log')}`], { env, timeoutMs: 30_000 });
    await run('ovs-vsctl', [`--db=unix:${paths.ovsDbSocket}`, '--no-wait', 'init'], { env });
    started = true;
  }
  const switchPid = livePid(join(paths.ovsDir, 'vswitchd.pid'), 'ovs-vswitchd') ?? liveCtlPid(paths.ovsDir, 'ovs-vswitchd');
  if (switchPid === null) {
    // --disable-system (no kernel datapath: every bridge is netdev) unless the openvswitch module is there:
    // then the nodes' probe (datapath.ts) can open bridges of type system.
    const kernel = (await probeModule()).available;
    await run('ovs-vswitchd', [`unix:${paths.ovsDbSocket}`, `--pidfile=${join(paths.ovsDir, 'vswitchd.pid')}`, '--detach',
      `--log-file=${join(paths.ovsDir, 'vswitchd.log')}`, ...(kernel ? [] : ['--disable-system'])], { env, timeoutMs: 30_000 });
    started = true;
  }
  if (!(await pollUntil(() => ovsAnswers(paths), 60_000, 200))) {
    throw new DataplaneError('host_not_ready', `Open vSwitch in ${paths.ovsDir} does not answer (see its logs there)`);
  }
  return started;
}

/**
 * hostDatapathProbes are this host's datapath probes (datapath.ts detectDatapath): the openvswitch module,
 * and a probe bridge named `probeBridge` on the OVS instance at `paths`.
 */
export function hostDatapathProbes(paths: HostPaths, probeBridge: string): DatapathProbes {
  const location = { ovsDir: paths.ovsDir, ovsDbSocket: paths.ovsDbSocket, answers: () => ovsAnswers(paths) };
  return { module: () => probeModule(), systemBridge: () => probeSystemBridge(location, probeBridge) };
}

/** dockerAnswers says whether the engine answers GET /_ping on its socket. */
export function dockerAnswers(socketPath: string): Promise<boolean> {
  if (!existsSync(socketPath)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

async function ensureDocker(paths: HostPaths): Promise<boolean> {
  if (await dockerAnswers(paths.dockerSocket)) return false;
  const pid = livePid(paths.dockerPidFile, 'dockerd');
  if (pid !== null) {
    // A dockerd that is starting, or slow on a loaded machine: give it time before declaring it dead.
    if (await pollUntil(() => dockerAnswers(paths.dockerSocket), 60_000, 200)) return false;
    throw new DataplaneError('host_not_ready', `dockerd pid ${pid} runs but does not answer on ${paths.dockerSocket}`);
  }
  mkdirSync(paths.dockerExecDir, { recursive: true });
  mkdirSync(paths.dockerDataDir, { recursive: true });
  rmSync(paths.dockerSocket, { force: true });
  rmSync(paths.dockerPidFile, { force: true });
  const logFd = openSync(join(paths.dockerExecDir, 'dockerd.log'), 'a');
  try {
    const child = spawn('dockerd', [
      '--data-root', paths.dockerDataDir, '--exec-root', paths.dockerExecDir, '-H', `unix://${paths.dockerSocket}`,
      '--pidfile', paths.dockerPidFile, '--iptables=false', '--ip6tables=false', '--bridge=none', '--ip-masq=false',
    ], { detached: true, stdio: ['ignore', logFd, logFd] });
    child.unref();
  } finally {
    closeSync(logFd);
  }
  if (!(await pollUntil(() => dockerAnswers(paths.dockerSocket), 60_000, 200))) {
    throw new DataplaneError('host_not_ready', `dockerd did not answer on ${paths.dockerSocket} within 60 s (see ${paths.dockerExecDir}/dockerd.log)`);
  }
  return true;
}

/** stopHost stops the OVS instance and Docker engine that live in `paths` (what is not running is skipped). */
export async function stopHost(paths: HostPaths = hostPaths(), which: { ovs?: boolean; docker?: boolean } = {}): Promise<void> {
  if (which.docker !== false) await stopPid(paths.dockerPidFile, 'dockerd', 30_000);
  if (which.ovs !== false) {
    for (const [pidFile, daemon] of [['vswitchd.pid', 'ovs-vswitchd'], ['ovsdb.pid', 'ovsdb-server']] as const) {
      await stopPid(join(paths.ovsDir, pidFile), daemon, 10_000);
      const orphan = liveCtlPid(paths.ovsDir, daemon); // running without its pid file
      if (orphan !== null) await stopProcess(orphan, 10_000);
    }
  }
}

async function stopPid(pidFile: string, daemon: Daemon, timeoutMs: number): Promise<void> {
  const pid = livePid(pidFile, daemon);
  if (pid !== null) await stopProcess(pid, timeoutMs);
  rmSync(pidFile, { force: true });
}

/** stopProcess sends SIGTERM, then SIGKILL after `timeoutMs`, and waits until the process is gone. */
async function stopProcess(pid: number, timeoutMs: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return; // Already gone.
  }
  if (await pollUntil(() => !processAlive(pid), timeoutMs, 100)) return;
  process.kill(pid, 'SIGKILL');
  await pollUntil(() => !processAlive(pid), 10_000, 100);
}

/** Daemon is a host daemon's process name (its /proc/<pid>/comm). */
type Daemon = 'ovsdb-server' | 'ovs-vswitchd' | 'dockerd';

/** livePid is the pid in `pidFile` if that process is alive and is `daemon` (a stale file's pid may be reused by anything). */
function livePid(pidFile: string, daemon: Daemon): number | null {
  const pid = readPid(pidFile);
  return pid !== null && isDaemon(pid, daemon) ? pid : null;
}

/** liveCtlPid finds a live daemon by its control socket name (<daemon>.<pid>.ctl) when its pid file is gone. */
function liveCtlPid(dir: string, daemon: Daemon): number | null {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return null;
  }
  for (const name of names) {
    const match = new RegExp(`^${daemon}\\.(\\d+)\\.ctl$`).exec(name);
    const pid = match?.[1] === undefined ? NaN : Number.parseInt(match[1], 10);
    if (Number.isSafeInteger(pid) && pid > 0 && isDaemon(pid, daemon)) return pid;
  }
  return null;
}

function readPid(pidFile: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * isDaemon says whether process `pid` is alive and named `daemon`. A daemon stopped hard leaves its pid file
 * or control socket (<daemon>.<pid>.ctl) behind; once the pid is reused, signalling it would stop whatever
 * now has it — likely how a CI run lost a test process (it asked ensureHost for OVS, which found a stale
 * ovsdb-server.<pid>.ctl naming the test process itself, and stopped it).
 */
function isDaemon(pid: number, daemon: Daemon): boolean {
  if (!processAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === daemon;
  } catch {
    return false; // gone meanwhile
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const LOCK_STALE_MS = 120_000;
const LOCK_WAIT_MS = 180_000;

/** withLock runs `body` holding an exclusive lock file (O_EXCL); a lock older than LOCK_STALE_MS is broken. */
async function withLock<T>(lockFile: string, body: () => Promise<T>): Promise<T> {
  mkdirSync(join(lockFile, '..'), { recursive: true });
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      closeSync(openSync(lockFile, 'wx'));
      break;
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') throw cause;
      let ageMs: number;
      try {
        ageMs = Date.now() - statSync(lockFile).mtimeMs;
      } catch {
        continue; // The holder released it between our open and stat: try again at once.
      }
      if (ageMs > LOCK_STALE_MS) rmSync(lockFile, { force: true });
      else if (Date.now() > deadline) throw new DataplaneError('host_not_ready', `lock ${lockFile} held for ${ageMs} ms`);
      else await sleepMs(100);
    }
  }
  try {
    return await body();
  } finally {
    rmSync(lockFile, { force: true });
  }
}
