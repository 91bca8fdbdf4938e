// broker.ts — a Mosquitto 2.0 broker per gateway, managed like src/dataplane/host.ts manages OVS and Docker:
// idempotent ensure (a broker already running with the same configuration and answering is reused), a pid
// file checked against /proc/<pid>/comm before any signal (a stale pid may belong to anything now), stop.
//
// Security: no anonymous access; a password file in mosquitto's `$7$` format (PBKDF2-SHA512, 101 iterations,
// 12-byte salt — what mosquitto_passwd writes) with the gateway user and one user per device; an ACL that
// lets the gateway read and write qg/# and each device only its own topics. The ACL uses mosquitto's
// `pattern` lines with %u (the user name), so it is the same for any number of devices and a device can
// never be granted another device's topics. Started as root, mosquitto drops to its own user (`mosquitto`)
// after opening its listener, and reads the password and ACL files (also on reload) as that user: those
// files are owned by it, mode 0600; the gateway's own password stays root's (0600), and the directory's
// parents must be traversable by the broker user.
import { spawn } from 'node:child_process';
import { pbkdf2, randomBytes } from 'node:crypto';
import {
  chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { GATEWAY_USER, MAX_BROKER_DEVICES, MAX_READING_MESSAGE_BYTES, TOPIC_ROOT } from './constants.js';
import { DeviceError, badInput } from './errors.js';
import { checkDeviceId } from './validate.js';

const pbkdf2Async = promisify(pbkdf2);

/** BROKER_PACKAGES are the Debian packages the broker needs (scripts/setup.sh installs them). */
export const BROKER_PACKAGES = ['mosquitto', 'mosquitto-clients'] as const;
/** MOSQUITTO_BINARY is the broker's executable as Debian installs it. */
export const MOSQUITTO_BINARY = '/usr/sbin/mosquitto';
/** PASSWORD_ITERATIONS and PASSWORD_SALT_BYTES are mosquitto_passwd's `$7$` parameters (mosquitto 2.0). */
const PASSWORD_ITERATIONS = 101;
const PASSWORD_SALT_BYTES = 12;
/**
 * BROKER_MAX_PACKET_BYTES lets a reading a little over the adapter's 4 KiB limit through to the adapter
 * (which drops and counts it); a bigger packet makes the broker disconnect its sender.
 */
export const BROKER_MAX_PACKET_BYTES = MAX_READING_MESSAGE_BYTES + 1024;
const START_TIMEOUT_MS = 10_000;
const RELOAD_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 5_000;

/** BrokerInit is where a broker listens and keeps its files. */
export interface BrokerInit {
  /** dir holds mosquitto.conf, passwd, acl, the gateway's password, the pid and the log. */
  dir: string;
  /** host is the gateway's management address; port the MQTT port. */
  host: string;
  port: number;
  /** user is the system user mosquitto drops to when started as root (default `mosquitto` when it exists). */
  user?: string;
}

/** BrokerDevice is one device's broker credentials. */
export interface BrokerDevice {
  deviceId: string;
  password: string;
}

/** BrokerHealth is the broker's state for `/v1/status`. */
export interface BrokerHealth {
  running: boolean;
  pid: number | null;
  host: string | null;
  port: number | null;
  devices: number;
  lastError: string | null;
  logFile: string | null;
}

/** BrokerFiles are the paths of one broker's files. */
interface BrokerFiles {
  conf: string;
  passwd: string;
  acl: string;
  secret: string;
  pid: string;
  log: string;
  stderr: string;
}

function brokerFiles(dir: string): BrokerFiles {
  return {
    conf: join(dir, 'mosquitto.conf'), passwd: join(dir, 'passwd'), acl: join(dir, 'acl'), secret: join(dir, 'gateway.secret'),
    pid: join(dir, 'mosquitto.pid'), log: join(dir, 'mosquitto.log'), stderr: join(dir, 'mosquitto.stderr'),
  };
}

/** MosquittoBroker runs and configures one gateway's Mosquitto. */
export class MosquittoBroker {
  private init: BrokerInit | null = null;
  private files: BrokerFiles | null = null;
  private owner: { uid: number; gid: number; name: string } | null = null;
  private gatewayPassword: string | null = null;
  /** lines caches each device's password-file line by (device, password), so a new salt is drawn only for a new password. */
  private lines = new Map<string, { password: string; line: string }>();
  private lastError: string | null = null;

  /**
   * ensure writes the configuration and starts the broker, or reuses a running one with the same
   * configuration (reloading its password and ACL files); idempotent. `started` says whether it started one.
   */
  async ensure(init: BrokerInit): Promise<{ started: boolean }> {
    if (!existsSync(MOSQUITTO_BINARY)) throw new DeviceError('broker_not_ready', `${MOSQUITTO_BINARY} is missing (Debian package mosquitto; scripts/setup.sh installs it)`);
    if (!Number.isInteger(init.port) || init.port < 1 || init.port > 65535) throw badInput('broker port', 'a TCP port', init.port);
    if (typeof init.host !== 'string' || !/^[0-9a-fA-F.:]+$/.test(init.host)) throw badInput('broker host', 'an IP address', init.host);
    const dir = resolve(init.dir);
    const files = brokerFiles(dir);
    this.init = { ...init, dir };
    this.files = files;
    this.owner = brokerOwner(init.user);
    mkdirSync(dir, { recursive: true, mode: 0o711 });
    checkTraversable(dir, this.owner);
    this.gatewayPassword = readOrCreateSecret(files.secret);
    await this.writePasswords(this.keptDeviceLines(files.passwd));
    this.writeOwned(files.acl, aclText());
    if (!existsSync(files.log)) this.writeOwned(files.log, ''); // mosquitto opens its log as its own user
    const conf = configText(this.init, files, this.owner);
    const pid = livePid(files.pid);
    if (pid !== null) {
      const same = existsSync(files.conf) && readFileSync(files.conf, 'utf8') === conf;
      if (same && (await answers(init.host, init.port))) {
        await this.reload(pid);
        return { started: false };
      }
      await stopProcess(pid);
    }
    this.writeOwned(files.conf, conf);
    await this.start(files, init);
    return { started: true };
  }

  /** gatewayCredentials are the user and password the gateway's MqttAdapter connects with. */
  gatewayCredentials(): { username: string; password: string } {
    if (this.gatewayPassword === null) throw new DeviceError('broker_not_ready', 'gatewayCredentials before ensure');
    return { username: GATEWAY_USER, password: this.gatewayPassword };
  }

  /**
   * setDevices replaces the device users (the gateway user is kept) and has the running broker reload them;
   * it resolves once the broker has logged its reload. Connected devices no longer listed keep their
   * connection until they reconnect (mosquitto checks passwords at connect).
   */
  async setDevices(devices: readonly BrokerDevice[]): Promise<void> {
    const files = this.requireEnsured();
    if (!Array.isArray(devices) || devices.length > MAX_BROKER_DEVICES) throw badInput('broker setDevices', `at most ${MAX_BROKER_DEVICES} devices`, devices.length);
    const seen = new Set<string>();
    for (const [index, device] of devices.entries()) {
      const where = `broker setDevices[${index}]`;
      checkDeviceId(device.deviceId, `${where}.deviceId`);
      if (device.deviceId === GATEWAY_USER || seen.has(device.deviceId)) throw badInput(`${where}.deviceId`, `a unique id other than ${GATEWAY_USER}`, device.deviceId);
      if (typeof device.password !== 'string' || device.password === '' || device.password.length > 1024 || /[\r\n]/.test(device.password)) {
        throw badInput(`${where}.password`, 'a non-empty single-line password of at most 1024 characters', '<hidden>');
      }
      seen.add(device.deviceId);
    }
    const lines: string[] = [];
    for (let start = 0; start < devices.length; start += 256) {
      // Batches keep the thread pool's queue short; each hash runs off the event loop.
      lines.push(...await Promise.all(devices.slice(start, start + 256).map((device) => this.deviceLine(device))));
    }
    this.lines = new Map(devices.map((device, index) => [device.deviceId, { password: device.password, line: lines[index] ?? '' }]));
    await this.writePasswords(lines);
    const pid = livePid(files.pid);
    if (pid !== null) await this.reload(pid);
  }

  /** stop ends the broker this directory's pid file names (if it is a live mosquitto). */
  async stop(): Promise<void> {
    if (this.files === null) return;
    const pid = livePid(this.files.pid);
    if (pid !== null) await stopProcess(pid);
    rmSync(this.files.pid, { force: true });
  }

  health(): BrokerHealth {
    const pid = this.files === null ? null : livePid(this.files.pid);
    return {
      running: pid !== null, pid, host: this.init?.host ?? null, port: this.init?.port ?? null, devices: this.lines.size,
      lastError: this.lastError, logFile: this.files?.log ?? null,
    };
  }

  private requireEnsured(): BrokerFiles {
    if (this.files === null) throw new DeviceError('broker_not_ready', 'setDevices before ensure');
    return this.files;
  }

  private async start(files: BrokerFiles, init: BrokerInit): Promise<void> {
    rmSync(files.pid, { force: true });
    const stderr = openSync(files.stderr, 'w', 0o600);
    let pid: number | undefined;
    try {
      const child = spawn(MOSQUITTO_BINARY, ['-c', files.conf], { detached: true, stdio: ['ignore', 'ignore', stderr] });
      child.on('error', (error) => {
        this.lastError = error.message;
      });
      child.unref();
      pid = child.pid;
    } finally {
      closeSync(stderr);
    }
    if (pid === undefined) throw new DeviceError('broker_not_ready', `${MOSQUITTO_BINARY} did not start: ${this.lastError ?? 'no pid'}`);
    writeFileSync(files.pid, `${pid}\n`, { mode: 0o600 });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (await answers(init.host, init.port)) {
        this.lastError = null;
        return;
      }
      if (!isMosquitto(pid)) break;
      await sleepMs(50);
    }
    const why = `${tail(files.stderr)} ${tail(files.log)}`.trim();
    this.lastError = `mosquitto did not answer on ${init.host}:${init.port}: ${why || 'no output'}`;
    if (isMosquitto(pid)) await stopProcess(pid);
    throw new DeviceError('broker_not_ready', this.lastError);
  }

  /** reload sends SIGHUP and waits for the broker to log "Reloading config." (so new users can connect after). */
  private async reload(pid: number): Promise<void> {
    const files = this.requireEnsured();
    const offset = existsSync(files.log) ? statSync(files.log).size : 0;
    process.kill(pid, 'SIGHUP');
    const deadline = Date.now() + RELOAD_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (readFrom(files.log, offset).includes('Reloading config.')) return;
      await sleepMs(20);
    }
    this.lastError = `mosquitto pid ${pid} did not log a reload within ${RELOAD_TIMEOUT_MS} ms`;
    throw new DeviceError('broker_not_ready', this.lastError);
  }

  private async deviceLine(device: BrokerDevice): Promise<string> {
    const cached = this.lines.get(device.deviceId);
    if (cached !== undefined && cached.password === device.password) return cached.line;
    return `${device.deviceId}:${await hashPassword(device.password)}`;
  }

  /** keptDeviceLines are the device lines of an existing password file (a restarted node keeps its devices until setDevices). */
  private keptDeviceLines(passwd: string): string[] {
    if (!existsSync(passwd)) return [];
    return readFileSync(passwd, 'utf8').split('\n').filter((line) => line.includes(':') && !line.startsWith(`${GATEWAY_USER}:`));
  }

  private async writePasswords(deviceLines: readonly string[]): Promise<void> {
    const files = this.requireEnsured();
    const gateway = `${GATEWAY_USER}:${await hashPassword(this.gatewayPassword ?? '')}`;
    this.writeOwned(files.passwd, `${[gateway, ...deviceLines].join('\n')}\n`);
  }

  /** writeOwned replaces a file atomically, mode 0600, owned by the broker's user. */
  private writeOwned(path: string, text: string): void {
    const temporary = `${path}.tmp`;
    writeFileSync(temporary, text, { mode: 0o600 });
    if (this.owner !== null) chownSync(temporary, this.owner.uid, this.owner.gid);
    renameSync(temporary, path);
  }
}

/** hashPassword renders a password in mosquitto's `$7$` format: $7$<iterations>$<salt base64>$<PBKDF2-SHA512 base64>. */
export async function hashPassword(password: string, salt: Buffer = randomBytes(PASSWORD_SALT_BYTES)): Promise<string> {
  const hash = await pbkdf2Async(password, salt, PASSWORD_ITERATIONS, 64, 'sha512');
  return `$7$${PASSWORD_ITERATIONS}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** aclText is the broker's ACL: the gateway reads and writes qg/#, every other user only its own topics. */
function aclText(): string {
  return [
    '# written by quorumgate (src/devices/broker.ts); %u is the connecting user name (the device id)',
    `user ${GATEWAY_USER}`,
    `topic readwrite ${TOPIC_ROOT}/#`,
    '',
    `pattern write ${TOPIC_ROOT}/%u/readings`,
    `pattern write ${TOPIC_ROOT}/%u/acks`,
    `pattern write ${TOPIC_ROOT}/%u/status`,
    `pattern read ${TOPIC_ROOT}/%u/commands`,
    `pattern read ${TOPIC_ROOT}/%u/config`,
    '',
  ].join('\n');
}

/** configText is mosquitto.conf: one listener on the management address, no anonymous users, bounded clients. */
function configText(init: BrokerInit, files: BrokerFiles, owner: { name: string } | null): string {
  return [
    '# written by quorumgate (src/devices/broker.ts): changes are overwritten',
    ...(owner === null ? [] : [`user ${owner.name}`]),
    'per_listener_settings false',
    `listener ${init.port} ${init.host}`,
    'allow_anonymous false',
    `password_file ${files.passwd}`,
    `acl_file ${files.acl}`,
    'persistence false',
    `log_dest file ${files.log}`,
    'log_type error', 'log_type warning', 'log_type notice', 'log_type information',
    'connection_messages false',
    `max_packet_size ${BROKER_MAX_PACKET_BYTES}`,
    // Per client: a slow or flooding client cannot make the broker queue without bound.
    'max_inflight_messages 20',
    // The gateway's own client receives every device's readings: a burst while its node is busy must wait
    // in the broker, not be dropped (devices receive only commands and their config, a few messages).
    'max_queued_messages 200000',
    'max_queued_bytes 67108864',
    'max_keepalive 300',
    'max_connections 20000',
    'set_tcp_nodelay true',
    '',
  ].join('\n');
}

/** brokerOwner is the user mosquitto runs as: as root, `user` or `mosquitto` when it exists; otherwise ourselves. */
function brokerOwner(user?: string): { uid: number; gid: number; name: string } | null {
  if (process.getuid?.() !== 0) return null;
  const name = user ?? 'mosquitto';
  const entry = readFileSync('/etc/passwd', 'utf8').split('\n').map((line) => line.split(':')).find((fields) => fields[0] === name);
  if (entry === undefined) {
    if (user !== undefined) throw badInput('broker user', 'a system user', user);
    return null; // no mosquitto user: it stays root
  }
  return { name, uid: Number(entry[2]), gid: Number(entry[3]) };
}

/** checkTraversable refuses a directory whose parents the broker user cannot pass through. */
function checkTraversable(dir: string, owner: { uid: number } | null): void {
  if (owner === null) return;
  for (let path = dir; ; path = dirname(path)) {
    const stat = statSync(path);
    if (stat.uid !== owner.uid && (stat.mode & 0o001) === 0) {
      throw new DeviceError('broker_config', `broker directory ${dir}: ${path} (mode ${(stat.mode & 0o777).toString(8)}) cannot be traversed by the broker's user; expected o+x on every parent`);
    }
    if (path === dirname(path)) return;
  }
}

function readOrCreateSecret(path: string): string {
  if (existsSync(path)) {
    const secret = readFileSync(path, 'utf8').trim();
    if (/^[A-Za-z0-9_-]{32,}$/.test(secret)) return secret;
  }
  const secret = randomBytes(24).toString('base64url');
  writeFileSync(`${path}.tmp`, `${secret}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
  return secret;
}

/** answers says whether something accepts TCP connections on host:port. */
function answers(host: string, port: number): Promise<boolean> {
  return new Promise((resolveAnswer) => {
    const socket = connect({ host, port, timeout: 1000 });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolveAnswer(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/** livePid is the pid in `pidFile` if that process is alive and is mosquitto. */
function livePid(pidFile: string): number | null {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
  } catch {
    return null; // no pid file: nothing runs from this directory
  }
  return Number.isSafeInteger(pid) && pid > 0 && isMosquitto(pid) ? pid : null;
}

/** isMosquitto says whether `pid` is alive and named mosquitto (a stale pid file's pid may have been reused). */
function isMosquitto(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'mosquitto';
  } catch {
    return false; // gone
  }
}

async function stopProcess(pid: number): Promise<void> {
  if (!isMosquitto(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!isMosquitto(pid)) return;
    await sleepMs(25);
  }
  if (isMosquitto(pid)) process.kill(pid, 'SIGKILL');
  for (let waited = 0; isMosquitto(pid) && waited < STOP_TIMEOUT_MS; waited += 25) await sleepMs(25);
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

/** readFrom reads a file from `offset` (at most 64 KiB); '' when it is missing. */
function readFrom(path: string, offset: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return ''; // not written yet
  }
  try {
    const buffer = Buffer.alloc(64 * 1024);
    const bytes = readSync(fd, buffer, 0, buffer.length, offset);
    return buffer.subarray(0, bytes).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** tail is the last 500 characters of a file, for error messages. */
function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').slice(-500).trim();
  } catch {
    return '';
  }
}

/** stopBrokerIn ends the broker whose files are in `dir` (if its pid file names a live mosquitto); for clean-ups by a process that did not start it. */
export async function stopBrokerIn(dir: string): Promise<void> {
  const files = brokerFiles(resolve(dir));
  const pid = livePid(files.pid);
  if (pid !== null) await stopProcess(pid);
  rmSync(files.pid, { force: true });
}
