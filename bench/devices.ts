// devices.ts — bench:devices (issue 13 item 9): a real 3-gateway cluster (3 node processes, each with its own
// OVS bridge, management port and Mosquitto) serving 10, 1,000 and 10,000 simulated MQTT temperature sensors,
// each publishing one reading per second with its own credentials, plus one real sensor in a network namespace
// behind gateway 1 whose readings move it between `normal` (allow) and `suspicious` (quarantine).
//
// Per size it measures, over a steady window (--seconds):
//   readings/s     readings committed and applied to the agreed state: the sum over the nodes of GET /metrics
//                  `quorumgate_device_readings_submitted_total` (a node counts a reading once its telemetry batch committed and
//                  applied on that node), against what the fleet published (the simulators' own counters);
//   backlog        each node's `devices.readings.queued` over the window and its dropped readings by reason;
//   CPU            each node process's utime+stime (/proc/<pid>/stat) over the window, per second and per
//                  reading applied cluster-wide (every node applies every reading; each also ingests its third);
//                  the same for each gateway's Mosquitto and each fleet process, to show where the cores go;
//   RSS            each node's VmRSS (/proc/<pid>/status), the maximum over the whole run (sampled every second);
//   reaction       the real sensor: from the moment its temperature is set across the policy's threshold (the
//                  control socket's /set, then /flood of one reading so it publishes at once instead of at its
//                  next 1 s sample) to the new state enforced on gateway 1's switch, seen on the wire: the sensor
//                  sends a UDP packet every 2 ms to a server upstream; quarantine is enforced when they stop
//                  arriving, allow when they arrive again. The moment gateway 1's API shows the new state
//                  (GET /v1/devices/probe, polled every 10 ms) is reported as a stage, and after each toggle
//                  the node's enforcement report (/v1/status `enforced`) must show the probe at the generation
//                  asked for. Toggles alternate up (→ quarantine) and down (→ allow), --reactions per size.
// The fleet of each gateway runs in one simulator process in the host namespace, connecting to its gateway's
// management address: at thousands of devices the fleet does not cross the switch, only the reaction sensor does.
// Fleet devices are registered with an mqtt interface, a credentialRef, an address, and a port that does not
// exist on the bridge (not plugged in: the node waits quietly for them); their secrets are written once per
// gateway (0600) before the nodes start.
//
// Usage: npm run bench:devices -- [--sizes 10,1000,10000] [--seconds 30] [--reactions 20] [--cpu-prof-node G] [--heap-snapshot-node G]
// (--cpu-prof-node G runs node G under node --cpu-prof --trace-gc: its profile lands in LOGS_DIR/cpu-prof when
// the bench stops it, with a long grace so the profile is written, and each garbage collection's heap sizes in
// its node.log. For attribution only: profiling costs CPU.)
// Writes bench/results/devices.json. Needs root, Open vSwitch, Docker (the data plane's facilities) and
// Mosquitto; `npm run build` first (the nodes and qgate run from dist/).
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { LocalCluster, waitUntilAsync } from '../cluster/local-cluster.js';
import { buildNetwork, inNamespace, teardownNetwork, type DemoNetwork } from '../cluster/netlab.js';
import { spawnReady, startDevice, stopProcess, type RunningDevice } from '../cluster/devlab.js';
import { OvsSwitch, hostPaths } from '../src/dataplane/index.js';
import { MOSQUITTO_BINARY, controlRequest, simulatorCommand } from '../src/devices/index.js';
import { facilities, releaseFacilities } from '../test/dataplane/lab.js';
import { repoPath } from '../test/support/paths.js';
import { keyIdHex, signCommand, type DeviceSpec } from '../src/commands/index.js';
import { brokerDir } from '../src/node/device-link.js';
import { readIdentityKey } from '../src/node/identity.js';
import { percentile, submitBatch } from './support.js';
import { Diagnostics, metricValues } from './devices-diagnostics.js';

export { metricValues } from './devices-diagnostics.js';

const execFileAsync = promisify(execFile);

/** PREFIX names the bench's bridges, ports and namespaces; SUBNET is its device network (the demo uses 10.77, the device test 10.78). */
const PREFIX = 'qgf';
const SUBNET = '10.79.0.';
const GATEWAYS = [1, 2, 3] as const;
const DOMAIN = 'bench';
const PROBE = 'probe';
/** BUNDLE_DEVICES bounds one bundle: well under qgate's MAX_BUNDLE_ITEMS (10,000) and its 2 MiB file limit. */
export const BUNDLE_DEVICES = 2_000;
/** REGISTER_BATCH is how many putDevice commands one POST /v1/commands/batch carries (the API takes up to 256). */
const REGISTER_BATCH = 200;
/** WIRE_INTERVAL_MS is the reaction sensor's packet interval to the upstream server (the wire's resolution). */
const WIRE_INTERVAL_MS = 2;
/** STATUS_EVERY_MS spaces the /metrics polls of the settling and the steady window. */
const STATUS_EVERY_MS = 5_000;
const WARMUP_MS = 5_000;
/** SETTLE_MAX_MS bounds the wait for the nodes' queues to drain after the fleet connects. */
const SETTLE_MAX_MS = 150_000;
/** MAX_REACTIONS_BACKLOGGED bounds the reactions taken at a size whose backlog grew in the window. */
const MAX_REACTIONS_BACKLOGGED = 4;
const MAX_SIZE = 20_000;
/** LOGS_DIR keeps the nodes' and brokers' logs of the last run (the cluster directory is removed). */
const LOGS_DIR = join(tmpdir(), 'qg-bench-devices-logs');
/** TRACE_FILE holds the last run's once-a-second trace of each node (devices-diagnostics.ts), one JSON line per node and second. */
const TRACE_FILE = join(tmpdir(), 'qg-bench-devices-trace.jsonl');

/** GOALS are issue 13's goals, printed beside the measured values. */
export const GOALS = { readings_per_s: 10_000, rss_mb_max_at_10000: 200, reaction_p95_ms: 300 } as const;
/** KALKI is the prior art's published figure, for reference. */
export const KALKI = { devices: 125, reaction_ms: 3_000 } as const;

/** Options are the command line's settings. */
export interface Options {
  sizes: number[];
  seconds: number;
  reactions: number;
  /** cpuProfNode: profile this node's process (node --cpu-prof into LOGS_DIR/cpu-prof when it stops, and --trace-gc into its log). */
  cpuProfNode?: number;
  /**
   * heapSnapshotNode: write a heap snapshot of this node into LOGS_DIR/heap after each size's window (SIGUSR2; it holds the
   * node for seconds). The file holds the node's keys and device secrets as they are in memory: delete it after use.
   */
  heapSnapshotNode?: number;
}

/** parseOptions reads --sizes A,B,C, --seconds S and --reactions N; bad input names the flag, expected and got. */
export function parseOptions(argv: readonly string[]): Options {
  const options: Options = { sizes: [10, 1_000, 10_000], seconds: 30, reactions: 20 };
  for (let index = 0; index < argv.length; index += 2) {
    const flag = argv[index];
    const value = argv[index + 1];
    if (value === undefined) throw new Error(`bench:devices: ${flag} expects a value`);
    if (flag === '--sizes') {
      const sizes = value.split(',').map((one) => Number(one));
      if (sizes.length === 0 || sizes.some((size) => !Number.isInteger(size) || size < 1 || size > MAX_SIZE)) {
        throw new Error(`bench:devices: --sizes expected device counts 1..${MAX_SIZE} separated by commas, got ${JSON.stringify(value)}`);
      }
      options.sizes = [...new Set(sizes)].sort((a, b) => a - b);
    } else if (flag === '--seconds') {
      options.seconds = positiveInteger(flag, value, 3_600);
    } else if (flag === '--reactions') {
      options.reactions = positiveInteger(flag, value, 1_000);
    } else if (flag === '--cpu-prof-node') {
      options.cpuProfNode = positiveInteger(flag, value, GATEWAYS.length);
    } else if (flag === '--heap-snapshot-node') {
      options.heapSnapshotNode = positiveInteger(flag, value, GATEWAYS.length);
    } else {
      throw new Error(`bench:devices: unknown argument ${JSON.stringify(flag)}; expected --sizes A,B,C, --seconds S, --reactions N, --cpu-prof-node G or --heap-snapshot-node G`);
    }
  }
  return options;
}

function positiveInteger(flag: string, value: string, max: number): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > max) throw new Error(`bench:devices: ${flag} expected an integer 1..${max}, got ${JSON.stringify(value)}`);
  return parsed;
}

/** splitAcross spreads `total` devices over `parts` gateways as evenly as possible, the first ones taking the remainder. */
export function splitAcross(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, index) => Math.floor(total / parts) + (index < total % parts ? 1 : 0));
}

/** fleetId names fleet device `index` of a gateway (the simulator's --prefix followed by its index). */
export function fleetId(gateway: number, index: number): string {
  return `g${gateway}-${index}`;
}

/** FleetDevice is a fleet device's registration as a bundle lists it. */
export interface FleetDevice {
  id: string;
  type: string;
  group: string;
  nodeId: string;
  port: string;
  addresses: string[];
  interface: { protocol: 'mqtt'; endpoint: ''; credentialRef: string };
}

/**
 * fleetDevice is the registration of fleet device `index` of a gateway: its port is a name no bridge has (the
 * device is not plugged in), its address unique (10.<100+gateway>.x.y), its credential its own id.
 */
export function fleetDevice(gateway: number, index: number): FleetDevice {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_SIZE) throw new Error(`fleetDevice: index expected 0..${MAX_SIZE - 1}, got ${index}`);
  const id = fleetId(gateway, index);
  return {
    id, type: 'temp-sensor', group: 'fleet', nodeId: `n${gateway}`, port: `${PREFIX}${gateway}x${index}`,
    addresses: [`10.${100 + gateway}.${Math.floor(index / 250)}.${(index % 250) + 1}`],
    interface: { protocol: 'mqtt', endpoint: '', credentialRef: id },
  };
}

/** chunks splits a list into lists of at most `size` items. */
export function chunks<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new Error(`chunks: size expected a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}

/** cpuTicksOf reads utime+stime (clock ticks) from the text of /proc/<pid>/stat (the command name may hold spaces). */
export function cpuTicksOf(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the name: field 3 (state) is fields[0], so utime (14) and stime (15) are fields[11] and fields[12].
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isInteger(utime) || !Number.isInteger(stime)) throw new Error(`cpuTicksOf: expected /proc/<pid>/stat text, got ${JSON.stringify(stat.slice(0, 80))}`);
  return utime + stime;
}

/** rssMbOf reads VmRSS (MB) from the text of /proc/<pid>/status; 0 when absent (a zombie). */
export function rssMbOf(status: string): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match === null ? 0 : Number(match[1]) / 1024;
}

/** BacklogSample is one node's reading queue at one moment. */
export interface BacklogSample {
  tMs: number;
  queued: number;
}

/**
 * backlogOf says whether a node's queue of readings grows over the window: the least-squares slope of the
 * queue (readings per second) and whether it grew by more than one full telemetry batch (512 readings) from
 * the first sample to the last with a positive slope, or readings were dropped for lack of room meanwhile.
 */
export function backlogOf(samples: readonly BacklogSample[], droppedInWindow: Readonly<Record<string, number>>): { growing: boolean; slopePerS: number; first: number; last: number; max: number } {
  if (samples.length === 0) return { growing: false, slopePerS: 0, first: 0, last: 0, max: 0 };
  const n = samples.length;
  const meanT = samples.reduce((sum, s) => sum + s.tMs, 0) / n;
  const meanQ = samples.reduce((sum, s) => sum + s.queued, 0) / n;
  const covariance = samples.reduce((sum, s) => sum + (s.tMs - meanT) * (s.queued - meanQ), 0);
  const variance = samples.reduce((sum, s) => sum + (s.tMs - meanT) ** 2, 0);
  const slopePerS = variance === 0 ? 0 : (covariance / variance) * 1000;
  const first = samples[0]!.queued;
  const last = samples[n - 1]!.queued;
  const lostForRoom = (droppedInWindow['buffer_full'] ?? 0) + (droppedInWindow['not_committed'] ?? 0) > 0;
  return { growing: lostForRoom || (last - first > 512 && slopePerS > 0), slopePerS: Math.round(slopePerS * 10) / 10, first, last, max: Math.max(...samples.map((s) => s.queued)) };
}

/** deltaCounts is what each counter of `after` gained over `before` (reasons absent before count from 0). */
export function deltaCounts(before: Readonly<Record<string, number>>, after: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [reason, count] of Object.entries(after)) {
    const gained = count - (before[reason] ?? 0);
    if (gained !== 0) out[reason] = gained;
  }
  return out;
}

/** summary is the nearest-rank p50 and p95 of values, rounded to 1 ms; null for none (JSON holds no NaN). */
export function summary(values: readonly number[]): { p50: number | null; p95: number | null; n: number } {
  if (values.length === 0) return { p50: null, p95: null, n: 0 };
  return { p50: Math.round(percentile(values, 50)), p95: Math.round(percentile(values, 95)), n: values.length };
}

/** benchPolicy is the domain's policy: one sensor type whose temperature above 30 quarantines it, and below 30 frees it. */
export function benchPolicy(): Record<string, unknown> {
  return {
    domain: DOMAIN, version: 1,
    deviceTypes: [{
      name: 'temp-sensor',
      sensors: [{ name: 'temperature', type: 'number', unit: '°C', min: -40, max: 125 }],
      alertTypes: [],
      sampling: { normal: 1000, suspicious: 1000, attack: 1000 },
      states: [{ name: 'normal', verdict: 'allow' }, { name: 'suspicious', verdict: 'quarantine' }, { name: 'attack', verdict: 'quarantine' }],
      rules: [
        { name: 'hot', from: 'normal', to: 'suspicious', when: { sensor: { name: 'temperature', op: '>', value: 30, over: { last: 1 } } } },
        { name: 'cooled', from: 'suspicious', to: 'normal', when: { sensor: { name: 'temperature', op: '<=', value: 30, over: { last: 1 } } } },
      ],
    }],
  };
}

// ---------------------------------------------------------------------------------------------------------
// The run.

/** ReadingsStatus is the `devices.readings` section of a node's /v1/status. */
interface ReadingsStatus {
  queued: number;
  submitted: number;
  dropped: Record<string, number>;
  batches?: number;
  batchMs?: number;
}

interface StatusSample {
  tMs: number;
  statusMs: number;
  readings: ReadingsStatus;
  /** raft: the node's applied index and its log since the last snapshot (commit index - snapshot index, entries). */
  raft: { applied: number; logSinceSnapshot: number };
  /** intakeLagMs: the MQTT adapter's intake lag (null before 2026-12-07's nodes); unreachable: its devices reported unreachable now. */
  intakeLagMs: number | null;
  unreachable: number;
}

interface ProcessWatch {
  name: string;
  pid: number;
  rssMbMax: number;
}

/** Watcher samples the RSS of every watched process each second for the whole run, and reads CPU on demand. */
class Watcher {
  private readonly processes = new Map<string, ProcessWatch>();
  private timer: NodeJS.Timeout | null = null;

  watch(name: string, pid: number): void {
    const known = this.processes.get(name);
    if (known !== undefined && known.pid === pid) return;
    this.processes.set(name, { name, pid, rssMbMax: known?.rssMbMax ?? 0 });
  }

  forget(name: string): void {
    this.processes.delete(name);
  }

  start(): void {
    this.timer = setInterval(() => this.sampleRss(), 1_000);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
  }

  sampleRss(): void {
    for (const watched of this.processes.values()) {
      const rss = readProc(watched.pid, 'status', rssMbOf);
      if (rss !== undefined) watched.rssMbMax = Math.max(watched.rssMbMax, rss);
    }
  }

  /** cpuTicks reads utime+stime of every watched process now. */
  cpuTicks(): Map<string, number> {
    const out = new Map<string, number>();
    for (const watched of this.processes.values()) {
      const ticks = readProc(watched.pid, 'stat', cpuTicksOf);
      if (ticks !== undefined) out.set(watched.name, ticks);
    }
    return out;
  }

  rssMbMax(name: string): number {
    return Math.round((this.processes.get(name)?.rssMbMax ?? 0) * 10) / 10;
  }

  /** resetRss starts a new maximum (per size) for processes whose name starts with `prefix`. */
  resetRss(prefix: string): void {
    for (const watched of this.processes.values()) if (watched.name.startsWith(prefix)) watched.rssMbMax = 0;
  }
}

/** machineTicks reads the machine's busy and idle clock ticks, all CPUs together (/proc/stat's first line). */
function machineTicks(): { busy: number; idle: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  return { busy: user + nice + system + irq + softirq + steal, idle: idle + iowait };
}

/** vswitchdPid is the private OVS's ovs-vswitchd (its pid file), or undefined. */
function vswitchdPid(): number | undefined {
  try {
    const pid = Number(readFileSync(join(hostPaths().ovsDir, 'vswitchd.pid'), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function readProc<T>(pid: number, file: 'stat' | 'status', parse: (text: string) => T): T | undefined {
  try {
    return parse(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
  } catch {
    return undefined; // the process ended
  }
}

/** Fleet is one gateway's fleet simulator process. */
interface Fleet {
  gateway: number;
  count: number;
  pid: number;
  control: string;
}

/** SizeRun is everything measured at one size (bench/results/devices.json `runs`). */
interface SizeRun {
  devices: number;
  fleet_per_gateway: number[];
  registration_s: number;
  connect_s: number;
  /** settle_s: after the warm-up, until every node's reading queue was under a second of its readings (settled: whether it got there). */
  settle_s: number;
  settled: boolean;
  window_s: number;
  offered_per_s: number;
  readings_per_s: number;
  backlog_growing: boolean;
  per_node: Record<string, unknown>;
  mosquitto: Record<string, unknown>;
  fleet_processes: Record<string, unknown>;
  /** cores: the machine's busy and idle CPU over the window and each part of the run's share (ms of CPU per second). */
  cores: Record<string, unknown>;
  rss_mb_max: number;
  reaction_ms: { p50: number | null; p95: number | null; n: number; up: ReturnType<typeof summary>; down: ReturnType<typeof summary>; state_visible: ReturnType<typeof summary> };
  reactions: Reaction[];
}

/** Reaction is one toggle of the reaction sensor: set → enforced on the wire, → state visible on gateway 1, → enforcement report agreeing. */
interface Reaction {
  direction: 'up' | 'down';
  reactionMs: number;
  stateMs: number;
  reportMs: number;
}

const CLK_TCK = 100;

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const loadAtStart = loadavg();
  const startedAt = new Date().toISOString();
  const available = await facilities();
  if (!available.ok) throw new Error(`bench:devices: needs ${available.reason}`);
  if (!existsSync(MOSQUITTO_BINARY)) throw new Error(`bench:devices: needs ${MOSQUITTO_BINARY} (bash scripts/setup.sh)`);
  if (!existsSync(repoPath('dist', 'src', 'cli', 'main.js'))) throw new Error('bench:devices: dist/ is missing; run "npm run build" first');
  const dir = mkdtempSync(join(tmpdir(), 'qg-bench-devices-'));
  const watcher = new Watcher();
  let diagnostics: Diagnostics | undefined;
  const helpers: number[] = [];
  const fleets = new Map<number, Fleet>();
  let cluster: LocalCluster | undefined;
  let probe: RunningDevice | undefined;
  let cleaned = false;
  const failure: { record: (error: unknown) => void } = { record: () => undefined };
  const cleanUp = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    watcher.stop();
    diagnostics?.stop();
    for (const fleet of fleets.values()) await stopProcess(fleet.pid);
    for (const pid of helpers) await stopProcess(pid);
    await probe?.stop().catch(() => undefined);
    if (cluster !== undefined) {
      const brokers = GATEWAYS.map((gateway) => brokerPid(cluster!, gateway)).filter((pid): pid is number => pid !== undefined);
      // A profiled node writes its profile on a graceful exit: give it time (stopAll's grace is 5 s).
      if (options.cpuProfNode !== undefined) await cluster.stop(options.cpuProfNode, 120_000).catch(() => undefined);
      await cluster.stopAll().catch(() => undefined);
      for (const pid of brokers) await stopProcess(pid);
      keepLogs(cluster, dir);
      for (const gateway of GATEWAYS) await new OvsSwitch({ bridge: cluster.dataplaneOf(gateway).bridge, ovsDir: hostPaths().ovsDir }).deleteBridge().catch(() => undefined);
      const brokerDirs = GATEWAYS.map((gateway) => brokerDir(hostPaths(), cluster!.dataplaneOf(gateway).bridge));
      await cluster.destroy().catch(() => undefined);
      // The brokers' directories (config, password file, log) outlive destroy; their logs were kept above.
      for (const brokerPath of brokerDirs) rmSync(brokerPath, { recursive: true, force: true });
    }
    await teardownNetwork(PREFIX).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    await releaseFacilities(available);
  };
  const onSignal = (): void => {
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await teardownNetwork(PREFIX);
    cluster = await LocalCluster.create({
      dir: join(dir, 'cluster'), nodes: 3, application: 'quorumgate', dataplanePrefix: PREFIX, devicesSubnet: SUBNET,
      // The product's Raft timing (RUNTIME_DEFAULTS: 100 ms ticks, a 1 s election timeout). Until 2026-12-07 the bench
      // halved it (50 ms ticks): with the two cores saturated, event-loop pauses of half a second then deposed
      // leaders again and again (34 terms in one 10,000-device run), each change costing the batches in flight.
      timing: { tickMs: 100, electionTicks: 10, heartbeatTicks: 1 },
    });
    const c = cluster;
    const network = await buildNetwork({
      prefix: PREFIX, subnet: SUBNET, devices: [{ id: PROBE, gateway: 1 }],
      gateways: c.nodes.map((n) => ({ nodeId: n.nodeId, uplinkPort: c.dataplaneOf(n.nodeId).uplinkPort })),
    });
    const probeDevice = network.devices[0]!;
    // Every secret, for the largest size, written once per gateway before the nodes start (0600).
    const largest = options.sizes[options.sizes.length - 1]!;
    const secrets = writeSecrets(c, dir, splitAcross(largest, GATEWAYS.length));
    const profileDir = join(LOGS_DIR, 'cpu-prof');
    if (options.cpuProfNode !== undefined) mkdirSync(profileDir, { recursive: true });
    const heapDir = join(LOGS_DIR, 'heap');
    if (options.heapSnapshotNode !== undefined) mkdirSync(heapDir, { recursive: true });
    const nodeArgs = (gateway: number): string[] => [
      ...(gateway === options.cpuProfNode ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--trace-gc'] : []),
      ...(gateway === options.heapSnapshotNode ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${heapDir}`] : []),
    ];
    for (const gateway of GATEWAYS) c.start(gateway, {}, nodeArgs(gateway));
    await c.waitForLeader(60_000);
    for (const gateway of GATEWAYS) watcher.watch(`n${gateway}`, c.pid(gateway)!);
    watcher.start();
    diagnostics = new Diagnostics(TRACE_FILE, GATEWAYS.map((gateway) => ({
      gateway, pid: () => c.pid(gateway),
      metrics: async () => (await c.fetch(`${c.apiUrl(gateway)}/metrics`, { signal: AbortSignal.timeout(20_000) })).text(),
    })));
    diagnostics.start();
    process.stdout.write(`tracing each node every second into ${TRACE_FILE}\n`);

    const qgate = qgateRunner(c);
    // One admin key per gateway: each gateway's devices are registered by its own qgate, in parallel (a key's
    // commands carry consecutive sequence numbers, so one key's submissions must not overlap).
    const adminKeys = GATEWAYS.map((gateway) => join(dir, `admin-${gateway}.key`));
    for (const key of adminKeys) await qgate(['keys', 'gen', '--out', key], []);
    const admins = adminKeys.map((key, i) => ({ name: `bench-admin-${i + 1}`, publicKey: (JSON.parse(readFileSync(key, 'utf8')) as { publicKey: string }).publicKey }));
    const firstBundle = {
      domain: DOMAIN, description: 'bench:devices', admins, images: [], policy: benchPolicy(),
      devices: [{
        id: PROBE, type: 'temp-sensor', group: 'probe', nodeId: 'n1', port: probeDevice.port, addresses: [probeDevice.address],
        interface: { protocol: 'mqtt', endpoint: '', credentialRef: PROBE },
      }],
    };
    writeFileSync(join(dir, 'bundle-0.yaml'), toYaml(firstBundle));
    await qgate(['apply', '-f', join(dir, 'bundle-0.yaml'), '--wait', 'enforced', '--timeout', '120000'], [...c.rootKeyFiles().slice(0, 2), adminKeys[0]!]);
    await waitForBroker(c);
    for (const gateway of GATEWAYS) {
      const pid = brokerPid(c, gateway);
      if (pid !== undefined) watcher.watch(`mosquitto${gateway}`, pid);
    }
    probe = await startDevice(join(dir, 'sims'), PROBE, {
      kind: 'temperature', namespace: probeDevice.namespace, args: ['--id', PROBE, '--broker', `${c.devicesOf(1)!.managementAddress}:1883`, '--password', secrets.get(PROBE)!],
    });
    await probe.set({ temperature: 20 });
    const wire = await startWire(network, probeDevice.namespace, helpers);
    // The rest of what the run puts on the cores, so the nodes' share can be told from the harness's.
    helpers.forEach((pid, i) => watcher.watch(`wire${i + 1}`, pid));
    watcher.watch('bench', process.pid);
    const vswitchd = vswitchdPid();
    if (vswitchd !== undefined) watcher.watch('vswitchd', vswitchd);

    const runs: SizeRun[] = [];
    let registered = splitAcross(0, GATEWAYS.length);
    let current = 0;
    const recordFailure = (error: unknown): void => {
      // A size that breaks is recorded with the sizes measured before it, then the run stops.
      if (current > 0) writeResults(options, runs, startedAt, loadAtStart, { devices: current, error: error instanceof Error ? error.message : String(error) });
    };
    failure.record = recordFailure;
    for (const size of options.sizes) {
      current = size;
      const perGateway = splitAcross(size, GATEWAYS.length);
      process.stdout.write(`\n== ${size} devices (${perGateway.join(' / ')} per gateway)\n`);
      const registrationStarted = Date.now();
      await registerFleet(c, adminKeys, registered, perGateway);
      registered = perGateway;
      const registrationS = (Date.now() - registrationStarted) / 1000;
      process.stdout.write(`registered in ${registrationS.toFixed(1)} s\n`);
      const connectStarted = Date.now();
      await restartFleets(c, dir, fleets, perGateway, watcher);
      const connectS = (Date.now() - connectStarted) / 1000;
      process.stdout.write(`fleet connected in ${connectS.toFixed(1)} s; warming up ${WARMUP_MS / 1000} s\n`);
      watcher.resetRss('');
      await sleep(WARMUP_MS);
      const settleStarted = Date.now();
      const settled = await settle(c, perGateway);
      const settleS = (Date.now() - settleStarted) / 1000;
      process.stdout.write(`${settled ? 'settled' : 'NOT settled (measuring anyway)'} after ${settleS.toFixed(1)} s more: every node's queue under a second of its readings and its readings committing\n`);
      const steady = await steadyWindow(c, fleets, watcher, options.seconds);
      process.stdout.write(`steady: ${steady.readingsPerS.toFixed(0)} readings/s applied (fleet published ${steady.offeredPerS.toFixed(0)}/s); backlog ${steady.backlogGrowing ? 'GROWING' : 'flat'}\n`);
      // With a growing backlog a reaction measures the queue ahead of the probe's reading (≈20 s each at 10,000 devices on
      // 2026-12-06/07), not the path: then at most MAX_REACTIONS_BACKLOGGED are taken, so a run stays within its lock.
      const reactionCount = steady.backlogGrowing ? Math.min(options.reactions, MAX_REACTIONS_BACKLOGGED) : options.reactions;
      const makeRun = (reactions: Reaction[]): SizeRun => {
        const all = reactions.map((r) => r.reactionMs);
        return {
          devices: size, fleet_per_gateway: perGateway, registration_s: Math.round(registrationS * 10) / 10, connect_s: Math.round(connectS * 10) / 10,
          settle_s: Math.round(settleS * 10) / 10, settled,
          window_s: steady.windowS, offered_per_s: Math.round(steady.offeredPerS), readings_per_s: Math.round(steady.readingsPerS), backlog_growing: steady.backlogGrowing,
          per_node: steady.perNode, mosquitto: steady.mosquitto, fleet_processes: steady.fleet, cores: steady.cores,
          rss_mb_max: Math.max(...GATEWAYS.map((gateway) => watcher.rssMbMax(`n${gateway}`))),
          reaction_ms: {
            ...summary(all), up: summary(reactions.filter((r) => r.direction === 'up').map((r) => r.reactionMs)),
            down: summary(reactions.filter((r) => r.direction === 'down').map((r) => r.reactionMs)), state_visible: summary(reactions.map((r) => r.stateMs)),
          },
          reactions,
        };
      };
      // The window's figures are written before the reactions, so a run stopped or failing during them keeps them.
      runs.push(makeRun([]));
      writeResults(options, runs, startedAt, loadAtStart);
      if (options.heapSnapshotNode !== undefined) {
        const file = await heapSnapshot(c.pid(options.heapSnapshotNode)!, heapDir);
        process.stdout.write(`heap snapshot of node ${options.heapSnapshotNode}: ${file}\n`);
      }
      const reactions = await measureReactions(c, probe, wire, reactionCount, size);
      const run = makeRun(reactions);
      runs[runs.length - 1] = run;
      process.stdout.write(`${formatRun(run)}\n`);
      writeResults(options, runs, startedAt, loadAtStart);
    }
    process.stdout.write(`\n${formatTable(runs)}\n`);
  } catch (error) {
    failure.record(error);
    if (cluster !== undefined) {
      for (const gateway of GATEWAYS) process.stderr.write(`node ${gateway}: ${cluster.whyNoAnswer(gateway, 15)}\n`);
    }
    throw error;
  } finally {
    await cleanUp();
  }
}

/**
 * heapSnapshot signals node `pid` (started with --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=`dir`) and waits until
 * its new snapshot file stops growing (at most 180 s); returns the file's path. For attribution only: the node is
 * held while V8 writes it.
 */
async function heapSnapshot(pid: number, dir: string): Promise<string> {
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  let file: string | undefined;
  let size = -1;
  await waitUntilAsync(async () => {
    file ??= readdirSync(dir).find((name) => name.endsWith('.heapsnapshot') && !before.has(name));
    if (file === undefined) return false;
    const now = statSync(join(dir, file)).size;
    const stable = now > 0 && now === size;
    size = now;
    await sleep(2_000);
    return stable;
  }, 180_000, `node ${pid}'s heap snapshot in ${dir}`);
  return join(dir, file!);
}

/** qgateRunner runs the real qgate (dist/) against the cluster, without blocking this process's samplers. */
function qgateRunner(cluster: LocalCluster): (args: readonly string[], keys: readonly string[]) => Promise<string> {
  return async (args, keys) => {
    try {
      const { stdout } = await execFileAsync(process.execPath, [repoPath('dist', 'src', 'cli', 'main.js'), ...keys.flatMap((k) => ['--key', k]), ...args], {
        env: { ...process.env, ...cluster.qgateEnv() }, timeout: 1_800_000, maxBuffer: 64 * 1024 * 1024,
      });
      return stdout;
    } catch (error) {
      const failed = error as { stdout?: string; stderr?: string; message: string };
      throw new Error(`qgate ${args.join(' ')} failed: ${failed.message}\n${(failed.stderr ?? '').slice(-2_000)}${(failed.stdout ?? '').slice(-2_000)}`, { cause: error });
    }
  };
}

/** writeSecrets writes every fleet device's secret (and the probe's, on gateway 1) into each gateway's secrets file. */
function writeSecrets(cluster: LocalCluster, dir: string, perGateway: readonly number[]): Map<string, string> {
  const all = new Map<string, string>();
  for (const gateway of GATEWAYS) {
    const mine: Record<string, string> = {};
    if (gateway === 1) mine[PROBE] = randomBytes(12).toString('hex');
    for (let index = 0; index < perGateway[gateway - 1]!; index++) mine[fleetId(gateway, index)] = randomBytes(12).toString('hex');
    const file = cluster.devicesOf(gateway)!.secretsFile;
    writeFileSync(file, toYaml(mine), { mode: 0o600 });
    chmodSync(file, 0o600);
    for (const [id, secret] of Object.entries(mine)) all.set(id, secret);
    // The fleet simulator reads its passwords from a JSON file (same secrets, 0600 too).
    const passwords = Object.fromEntries(Object.entries(mine).filter(([id]) => id !== PROBE));
    writeFileSync(join(dir, `passwords-${gateway}.json`), JSON.stringify(passwords), { mode: 0o600 });
  }
  return all;
}

/**
 * registerFleet registers the fleet devices from `from` to `to` per gateway: admin-signed putDevice commands,
 * REGISTER_BATCH per POST /v1/commands/batch (committed and applied in bursts), the gateways' devices in
 * parallel, each lane signed by that gateway's admin key (its sequence numbers follow each other within the
 * lane). qgate apply submits one command at a time and waits for each: 1,000 devices took 107 s that way
 * (three bundles in parallel, 2026-12-06), so 10,000 would take most of an hour.
 */
async function registerFleet(cluster: LocalCluster, adminKeys: readonly string[], from: readonly number[], to: readonly number[]): Promise<void> {
  const clusterId = new Uint8Array(Buffer.from(cluster.clusterId, 'hex'));
  const leader = await metricsLeader(cluster, 60_000);
  await Promise.all(GATEWAYS.map(async (gateway) => {
    const pair = readIdentityKey(adminKeys[gateway - 1]!);
    const signer = keyIdHex(pair.publicKey);
    const seqAnswer = await getJson(cluster, `${cluster.apiUrl(leader)}/v1/signers/${signer}/seq?consistency=linearizable`) as { lastSeq?: number };
    let seq = seqAnswer.lastSeq ?? 0;
    const devices: FleetDevice[] = [];
    for (let index = from[gateway - 1]!; index < to[gateway - 1]!; index++) devices.push(fleetDevice(gateway, index));
    for (const batch of chunks(devices, REGISTER_BATCH)) {
      const envelopes = batch.map((device) => {
        seq += 1;
        const spec: DeviceSpec = { ...device, tags: [], interface: { ...device.interface, options: {} } };
        const signed = signCommand({ clusterId, domain: DOMAIN, signer, seq, notAfterMs: Date.now() + 600_000, payload: { kind: 'putDevice', device: spec } }, [pair]);
        return Buffer.from(signed).toString('base64');
      });
      await submitBatch(cluster, envelopes, `gateway ${gateway}'s devices`, () => metricsLeader(cluster, 60_000));
    }
    process.stdout.write(`  gateway ${gateway}: ${devices.length} devices registered\n`);
  }));
}

/**
 * metricsLeader waits until exactly one node says, in GET /metrics, that it leads (the highest term wins a tie
 * of stale answers). Not cluster.waitForLeader: its GET /v1/status computes the state hash, which at 10,000
 * freshly registered devices outlasted its 1 s timeout on every node (run of 2026-12-07 00:44).
 */
async function metricsLeader(cluster: LocalCluster, timeoutMs: number): Promise<number> {
  let leader = 0;
  await waitUntilAsync(async () => {
    const answers = await Promise.all(GATEWAYS.map(async (gateway) => {
      try {
        const response = await cluster.fetch(`${cluster.apiUrl(gateway)}/metrics`, { signal: AbortSignal.timeout(10_000) });
        const metrics = metricValues(await response.text());
        return { gateway, leads: metrics.get('quorumgate_raft_is_leader') === 1, term: metrics.get('quorumgate_raft_term') ?? 0 };
      } catch {
        return undefined; // not answering now
      }
    }));
    const leading = answers.flatMap((a) => (a?.leads === true ? [a] : [])).sort((a, b) => b.term - a.term);
    leader = leading[0]?.gateway ?? 0;
    return leader !== 0;
  }, timeoutMs, 'a leader (GET /metrics)');
  return leader;
}

async function getJson(cluster: LocalCluster, url: string): Promise<unknown> {
  const response = await cluster.fetch(url, { signal: AbortSignal.timeout(30_000) });
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return response.json();
}

/** keepLogs copies each node's log and its broker's log out of the cluster directory (removed next) into LOGS_DIR. */
function keepLogs(cluster: LocalCluster, dir: string): void {
  mkdirSync(LOGS_DIR, { recursive: true });
  for (const gateway of GATEWAYS) {
    for (const [from, to] of [[join(cluster.nodeDir(gateway), 'node.log'), `node${gateway}.log`], [join(brokerDir(hostPaths(), cluster.dataplaneOf(gateway).bridge), 'mosquitto.log'), `mosquitto${gateway}.log`],
      [join(dir, 'sims', `fleet-${gateway}.log`), `fleet${gateway}.log`]] as const) {
      if (existsSync(from)) copyFileSync(from, join(LOGS_DIR, to));
    }
  }
  process.stdout.write(`node and broker logs kept in ${LOGS_DIR}\n`);
}

/** brokerPid is the live Mosquitto of a gateway (its pid file, checked against /proc/<pid>/comm), or undefined. */
function brokerPid(cluster: LocalCluster, gateway: number): number | undefined {
  const file = join(brokerDir(hostPaths(), cluster.dataplaneOf(gateway).bridge), 'mosquitto.pid');
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'mosquitto' ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function waitForBroker(cluster: LocalCluster): Promise<void> {
  await waitUntilAsync(async () => GATEWAYS.every((gateway) => brokerPid(cluster, gateway) !== undefined), 60_000, 'every gateway\'s Mosquitto to run');
}

/** restartFleets ends each gateway's fleet process and starts one with the new count, then waits until every device is connected. */
async function restartFleets(cluster: LocalCluster, dir: string, fleets: Map<number, Fleet>, perGateway: readonly number[], watcher: Watcher): Promise<void> {
  for (const gateway of GATEWAYS) {
    const old = fleets.get(gateway);
    if (old !== undefined) {
      await stopProcess(old.pid);
      fleets.delete(gateway);
      watcher.forget(`fleet${gateway}`);
    }
  }
  for (const gateway of GATEWAYS) {
    const count = perGateway[gateway - 1]!;
    if (count === 0) continue;
    const control = join(dir, 'sims', `fleet-${gateway}.sock`);
    mkdirSync(join(dir, 'sims'), { recursive: true });
    const argv = [...simulatorCommand(), '--kind', 'temperature', '--fleet', String(count), '--prefix', `g${gateway}-`, '--rate', '1',
      '--broker', `${cluster.devicesOf(gateway)!.managementAddress}:1883`, '--passwords-file', join(dir, `passwords-${gateway}.json`), '--control', control];
    const pid = await spawnReady(argv[0]!, argv.slice(1), 'fleet simulator', join(dir, 'sims', `fleet-${gateway}.log`), 60_000);
    fleets.set(gateway, { gateway, count, pid, control });
    watcher.watch(`fleet${gateway}`, pid);
  }
  await waitUntilAsync(async () => {
    const states = await Promise.all([...fleets.values()].map(async (fleet) => (await controlRequest(fleet.control, 'GET', '/state')) as { connected?: number; devices?: number; id?: string }));
    // A fleet of one answers with that device's state (connected: boolean).
    return states.every((state, i) => {
      const fleet = [...fleets.values()][i]!;
      return fleet.count === 1 ? (state as { connected?: unknown }).connected === true : state.connected === fleet.count;
    });
  }, 300_000, 'every fleet device to connect to its broker');
}


/**
 * readingsStatus samples a node's readings counters from GET /metrics: not from /v1/status, whose state hash
 * re-serializes every device whose readings changed since the last call (all of them at 10,000 devices) and
 * held each node's event loop for seconds under this load, so polling it perturbed what it measured.
 */
async function readingsStatus(cluster: LocalCluster, gateway: number): Promise<StatusSample> {
  const started = performance.now();
  const response = await cluster.fetch(`${cluster.apiUrl(gateway)}/metrics`, { signal: AbortSignal.timeout(30_000) });
  if (!response.ok) throw new Error(`GET /metrics of node ${gateway}: HTTP ${response.status}`);
  const metrics = metricValues(await response.text());
  const statusMs = performance.now() - started;
  const must = (name: string): number => {
    const value = metrics.get(name);
    if (value === undefined) throw new Error(`GET /metrics of node ${gateway}: expected ${name}`);
    return value;
  };
  const dropped: Record<string, number> = {};
  for (const [key, value] of metrics) {
    const match = /^quorumgate_device_readings_dropped_total\{reason="([^"]+)"\}$/.exec(key);
    if (match !== null) dropped[match[1]!] = value;
  }
  const lag = metrics.get('quorumgate_device_intake_lag_seconds{protocol="mqtt"}');
  return {
    tMs: Date.now(), statusMs,
    readings: {
      queued: must('quorumgate_device_readings_queued'), submitted: must('quorumgate_device_readings_submitted_total'), dropped,
      batches: metrics.get('quorumgate_device_reading_batches_total') ?? 0, batchMs: (metrics.get('quorumgate_device_reading_batch_seconds_total') ?? 0) * 1000,
    },
    raft: { applied: must('quorumgate_raft_applied_index'), logSinceSnapshot: must('quorumgate_raft_commit_index') - must('quorumgate_raft_snapshot_index') },
    intakeLagMs: lag === undefined ? null : Math.round(lag * 1000), unreachable: metrics.get('quorumgate_device_unreachable{protocol="mqtt"}') ?? 0,
  };
}

/**
 * settle waits (up to SETTLE_MAX_MS) until, in two polls 5 s apart, every node's reading queue is under a
 * second of its fleet's readings and its submitted count advanced: the registration leaves each node a
 * device-unreachable alert per device that was not connected yet (one command each, ahead of any reading,
 * before c5a2871; in the readings' batches since), and the window must not start while a node drains them.
 */
async function settle(cluster: LocalCluster, perGateway: readonly number[]): Promise<boolean> {
  const deadline = Date.now() + SETTLE_MAX_MS;
  let previous: StatusSample[] | undefined;
  let good = 0;
  while (Date.now() < deadline) {
    const now = await Promise.all(GATEWAYS.map((gateway) => readingsStatus(cluster, gateway)));
    const ok = previous !== undefined && now.every((sample, i) => sample.readings.queued <= Math.max(100, perGateway[i]!) && sample.readings.submitted > previous![i]!.readings.submitted);
    good = ok ? good + 1 : 0;
    if (good >= 2) return true;
    process.stdout.write(`  settling: queued ${now.map((sample) => sample.readings.queued).join(' / ')}, submitted ${now.map((sample) => sample.readings.submitted).join(' / ')}`
      + `, batches ${now.map((sample) => sample.readings.batches ?? '-').join(' / ')}, intake lag ${now.map((sample) => sample.intakeLagMs ?? '-').join(' / ')} ms, unreachable ${now.map((sample) => sample.unreachable).join(' / ')}\n`);
    previous = now;
    await sleep(STATUS_EVERY_MS);
  }
  return false;
}

async function fleetPublished(fleets: ReadonlyMap<number, Fleet>): Promise<number> {
  const states = await Promise.all([...fleets.values()].map(async (fleet) => (await controlRequest(fleet.control, 'GET', '/state')) as { published?: number }));
  return states.reduce((sum, state) => sum + (state.published ?? 0), 0);
}

/** steadyWindow measures readings applied, backlog, CPU and RSS over `seconds`, polling each node's status every STATUS_EVERY_MS. */
async function steadyWindow(cluster: LocalCluster, fleets: ReadonlyMap<number, Fleet>, watcher: Watcher, seconds: number): Promise<{
  windowS: number; readingsPerS: number; offeredPerS: number; backlogGrowing: boolean; perNode: Record<string, unknown>; mosquitto: Record<string, unknown>; fleet: Record<string, unknown>;
  cores: Record<string, unknown>;
}> {
  const samples = new Map<number, StatusSample[]>(GATEWAYS.map((gateway) => [gateway, []]));
  const take = async (): Promise<void> => {
    const taken = await Promise.all(GATEWAYS.map((gateway) => readingsStatus(cluster, gateway)));
    taken.forEach((sample, i) => samples.get(GATEWAYS[i]!)!.push(sample));
  };
  const publishedBefore = await fleetPublished(fleets);
  const cpuBefore = watcher.cpuTicks();
  const machineBefore = machineTicks();
  const startMs = Date.now();
  await take();
  const endAt = startMs + seconds * 1000;
  while (Date.now() + STATUS_EVERY_MS <= endAt) {
    await sleep(STATUS_EVERY_MS - ((Date.now() - startMs) % STATUS_EVERY_MS));
    await take();
  }
  await sleep(Math.max(0, endAt - Date.now()));
  const publishedAfter = await fleetPublished(fleets);
  const cpuAfter = watcher.cpuTicks();
  const machineAfter = machineTicks();
  const endMs = Date.now();
  await take();
  const windowS = (endMs - startMs) / 1000;
  let applied = 0;
  let growing = false;
  const perNode: Record<string, unknown> = {};
  for (const gateway of GATEWAYS) {
    const series = samples.get(gateway)!;
    const first = series[0]!;
    const last = series[series.length - 1]!;
    const submitted = last.readings.submitted - first.readings.submitted;
    applied += submitted;
    const dropped = deltaCounts(first.readings.dropped, last.readings.dropped);
    const backlog = backlogOf(series.map((s) => ({ tMs: s.tMs, queued: s.readings.queued })), dropped);
    growing ||= backlog.growing;
    perNode[`n${gateway}`] = {
      submitted_per_s: Math.round(submitted / windowS), queued: series.map((s) => s.readings.queued), backlog, dropped_in_window: dropped, dropped_total: last.readings.dropped,
      metrics_ms: summary(series.map((s) => s.statusMs)),
      entries_applied_per_s: Math.round((last.raft.applied - first.raft.applied) / windowS),
      log_since_snapshot: series.map((s) => s.raft.logSinceSnapshot),
      // The node's own batches of readings: how many settled in the window and their mean time from proposal to outcome.
      batches_per_s: Math.round(((last.readings.batches ?? 0) - (first.readings.batches ?? 0)) / windowS * 10) / 10,
      batch_ms_mean: (last.readings.batches ?? 0) > (first.readings.batches ?? 0)
        ? Math.round(((last.readings.batchMs ?? 0) - (first.readings.batchMs ?? 0)) / ((last.readings.batches ?? 0) - (first.readings.batches ?? 0))) : null,
      intake_lag_ms: series.map((s) => s.intakeLagMs),
      unreachable: last.unreachable,
    };
  }
  const cpuOf = (name: string): { cpu_ms_per_s: number; cpu_ms_total: number } => {
    const ticks = (cpuAfter.get(name) ?? 0) - (cpuBefore.get(name) ?? 0);
    const ms = (ticks * 1000) / CLK_TCK;
    return { cpu_ms_per_s: Math.round(ms / windowS), cpu_ms_total: Math.round(ms) };
  };
  const perReading = (ms: number): number | null => (applied === 0 ? null : Math.round((ms / applied) * 1000) / 1000);
  for (const gateway of GATEWAYS) {
    const cpu = cpuOf(`n${gateway}`);
    Object.assign(perNode[`n${gateway}`] as Record<string, unknown>, { ...cpu, cpu_ms_per_reading: perReading(cpu.cpu_ms_total), rss_mb_max: watcher.rssMbMax(`n${gateway}`) });
  }
  const mosquitto: Record<string, unknown> = {};
  const fleet: Record<string, unknown> = {};
  for (const gateway of GATEWAYS) {
    const broker = cpuOf(`mosquitto${gateway}`);
    mosquitto[`n${gateway}`] = { ...broker, cpu_ms_per_reading: perReading(broker.cpu_ms_total), rss_mb_max: watcher.rssMbMax(`mosquitto${gateway}`) };
    if (fleets.has(gateway)) fleet[`g${gateway}`] = { ...cpuOf(`fleet${gateway}`), rss_mb_max: watcher.rssMbMax(`fleet${gateway}`) };
  }
  // Where the two cores went over the window: the machine as a whole (/proc/stat) and each process of the run.
  const machineMs = (ticks: number): number => Math.round((ticks * 1000) / CLK_TCK / windowS);
  const processes: Record<string, number> = {};
  for (const name of cpuAfter.keys()) processes[name] = cpuOf(name).cpu_ms_per_s;
  const sum = (prefix: string): number => Object.entries(processes).filter(([name]) => name.startsWith(prefix)).reduce((total, [, ms]) => total + ms, 0);
  const busy = machineMs(machineAfter.busy - machineBefore.busy);
  const cores = {
    machine_busy_ms_per_s: busy, machine_idle_ms_per_s: machineMs(machineAfter.idle - machineBefore.idle),
    nodes_ms_per_s: sum('n'), mosquitto_ms_per_s: sum('mosquitto'), fleet_ms_per_s: sum('fleet'), vswitchd_ms_per_s: sum('vswitchd'),
    wire_and_bench_ms_per_s: sum('wire') + sum('bench'),
    other_ms_per_s: busy - Object.values(processes).reduce((total, ms) => total + ms, 0),
    per_reading_ms: applied === 0 ? null : {
      nodes: perReading(sum('n') * windowS), mosquitto: perReading(sum('mosquitto') * windowS), fleet: perReading(sum('fleet') * windowS),
    },
  };
  return {
    windowS: Math.round(windowS * 10) / 10, readingsPerS: applied / windowS, offeredPerS: (publishedAfter - publishedBefore) / windowS,
    backlogGrowing: growing, perNode, mosquitto, fleet, cores,
  };
}

/** Wire is the reaction sensor's packet stream to the upstream server, as the server sees it. */
interface Wire {
  /** lastArrivalMs is the arrival time of the newest packet (0 before any). */
  lastArrivalMs(): number;
  /** resumedAfter resolves with the first arrival after a gap that began before `sinceMs`, or rejects after `timeoutMs`. */
  resumedAfter(sinceMs: number, timeoutMs: number): Promise<number>;
}

const SENDER = `
const socket = require('node:dgram').createSocket('udp4');
const [target, interval] = [process.argv[1], Number(process.argv[2])];
setInterval(() => socket.send(Buffer.from(String(Date.now())), 9998, target, () => {}), interval);
`;
const RECEIVER = `
const socket = require('node:dgram').createSocket('udp4');
let last = 0;
socket.on('message', () => {
  const now = Date.now();
  if (now - last > 30) process.stdout.write('R ' + now + '\\n');
  last = now;
});
setInterval(() => process.stdout.write('L ' + last + '\\n'), 5);
socket.bind(9998, () => process.stdout.write('ready\\n'));
`;

/**
 * startWire starts the sensor's packet stream (every WIRE_INTERVAL_MS to the upstream server) and the server's
 * receiver; neighbours are static on both ends, so a quarantine (which drops ARP too) leaves no stale entry
 * whose re-resolution would be counted as reaction time.
 */
async function startWire(network: DemoNetwork, probeNamespace: string, helpers: number[]): Promise<Wire> {
  const mac = async (ns: string): Promise<string> => (await inNamespace(ns, ['cat', '/sys/class/net/eth0/address'])).stdout.trim();
  const serverAddress = `${SUBNET}1`;
  const probeAddress = network.devices[0]!.address;
  await inNamespace(probeNamespace, ['ip', 'neigh', 'replace', serverAddress, 'lladdr', await mac(network.server), 'dev', 'eth0', 'nud', 'permanent']);
  await inNamespace(network.server, ['ip', 'neigh', 'replace', probeAddress, 'lladdr', await mac(probeNamespace), 'dev', 'eth0', 'nud', 'permanent']);
  let last = 0;
  const resumes: number[] = [];
  const receiver = spawn('ip', ['netns', 'exec', network.server, process.execPath, '-e', RECEIVER], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  helpers.push(receiver.pid!);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the wire receiver did not start within 10 s')), 10_000);
    createInterface({ input: receiver.stdout! }).on('line', (line) => {
      if (line === 'ready') {
        clearTimeout(timer);
        resolve();
      } else if (line.startsWith('L ')) {
        last = Number(line.slice(2));
      } else if (line.startsWith('R ')) {
        resumes.push(Number(line.slice(2)));
        if (resumes.length > 1_000) resumes.splice(0, 500);
      }
    });
  });
  const sender = spawn('ip', ['netns', 'exec', probeNamespace, process.execPath, '-e', SENDER, serverAddress, String(WIRE_INTERVAL_MS)], { stdio: 'ignore', detached: true });
  helpers.push(sender.pid!);
  await waitUntilAsync(async () => last > 0 && Date.now() - last < 100, 30_000, 'the reaction sensor\'s packets to reach the upstream server (verdict allow)');
  return {
    lastArrivalMs: () => last,
    resumedAfter: async (sinceMs, timeoutMs) => {
      let found: number | undefined;
      await waitUntilAsync(async () => {
        found = resumes.find((at) => at > sinceMs);
        return found !== undefined;
      }, timeoutMs, 'the reaction sensor\'s packets to arrive again');
      return found!;
    },
  };
}

/** probeView is gateway 1's view of the reaction sensor: its state (stale read: this node's applied state). */
async function probeState(cluster: LocalCluster): Promise<string | undefined> {
  try {
    const response = await cluster.fetch(`${cluster.apiUrl(1)}/v1/devices/${PROBE}?consistency=stale`, { signal: AbortSignal.timeout(2_000) });
    if (!response.ok) return undefined;
    return ((await response.json()) as { state?: string }).state;
  } catch {
    return undefined;
  }
}

/** probeEnforced asks gateway 1's enforcement report whether the probe is enforced at the generation asked for. */
async function probeEnforced(cluster: LocalCluster): Promise<{ enforced: boolean; detail: string }> {
  const response = await cluster.fetch(`${cluster.apiUrl(1)}/v1/status`, { signal: AbortSignal.timeout(30_000) });
  const body = (await response.json()) as { enforced?: Array<{ deviceId: string; desiredGeneration: number; appliedGeneration: number | null; enforcement: string }> };
  const report = body.enforced?.find((one) => one.deviceId === PROBE);
  return { enforced: report !== undefined && report.appliedGeneration === report.desiredGeneration, detail: JSON.stringify(report ?? null) };
}

/**
 * measureReactions toggles the probe `count` times (up: 45 °C → suspicious, quarantined; down: 20 °C → normal,
 * allowed), each from a settled start, and times set → enforced on the wire, and set → state visible on gateway 1.
 */
async function measureReactions(cluster: LocalCluster, probe: RunningDevice, wire: Wire, count: number, size: number): Promise<Reaction[]> {
  const out: Reaction[] = [];
  for (let attempt = 0; attempt < count; attempt++) {
    const up = (await probeState(cluster)) === 'normal';
    const direction: 'up' | 'down' = up ? 'up' : 'down';
    const target = up ? 'suspicious' : 'normal';
    // Settled start: the wire flows (normal) or has been silent for a while (quarantined).
    await waitUntilAsync(async () => (up ? Date.now() - wire.lastArrivalMs() < 50 : Date.now() - wire.lastArrivalMs() > 300), 30_000, `the wire to be ${up ? 'flowing' : 'silent'} before a toggle`);
    await sleep(300 + Math.floor(Math.random() * 400));
    const setAt = Date.now();
    await probe.set({ temperature: up ? 45 : 20 });
    await controlRequest(probe.control, 'POST', '/flood', { count: 1, bytes: 0 });
    let stateAt = 0;
    await waitUntilAsync(async () => {
      if ((await probeState(cluster)) !== target) return false;
      stateAt = Date.now();
      return true;
    }, 60_000, `the probe to move to ${target} on gateway 1 (${size} devices)`);
    let enforcedAt: number;
    if (up) {
      // Quarantine is enforced when the packets stop: wait for 300 ms of silence, then take the last arrival.
      await waitUntilAsync(async () => Date.now() - wire.lastArrivalMs() > 300, 60_000, `the probe's packets to stop (quarantine, ${size} devices)`);
      enforcedAt = wire.lastArrivalMs();
    } else {
      enforcedAt = await wire.resumedAfter(setAt, 60_000);
    }
    // The node's own enforcement report must agree (it is written at the end of the reconcile pass, after the
    // bundle the wire saw; each poll computes the whole status, so this is a check, not a timing).
    let check = await probeEnforced(cluster);
    const checkUntil = Date.now() + 30_000;
    while (!check.enforced && Date.now() < checkUntil) {
      await sleep(100);
      check = await probeEnforced(cluster);
    }
    if (!check.enforced) throw new Error(`gateway 1's enforcement report never showed the probe enforced after toggle ${attempt + 1} (${size} devices): ${check.detail}`);
    const reportMs = Date.now() - setAt;
    const reactionMs = Math.max(0, enforcedAt - setAt);
    out.push({ direction, reactionMs, stateMs: stateAt - setAt, reportMs });
    process.stdout.write(`  ${size} devices, reaction ${attempt + 1}/${count} (${direction}): enforced ${reactionMs} ms, state visible ${stateAt - setAt} ms, report agreed by ${reportMs} ms\n`);
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function goalText(met: boolean | null): string {
  return met === null ? 'not measured' : met ? 'met' : 'NOT met';
}

/** formatRun prints one size's figures beside the goals. */
export function formatRun(run: Pick<SizeRun, 'devices' | 'readings_per_s' | 'offered_per_s' | 'backlog_growing' | 'rss_mb_max' | 'reaction_ms' | 'per_node' | 'cores'>): string {
  const cpu = Object.entries(run.per_node).map(([node, figures]) => `${node} ${(figures as { cpu_ms_per_reading?: number | null }).cpu_ms_per_reading ?? '-'} ms`).join(', ');
  return [
    `${run.devices} devices: ${run.readings_per_s} readings/s applied (offered ${run.offered_per_s}/s), backlog ${run.backlog_growing ? 'growing' : 'flat'}`,
    `  CPU per reading: ${cpu}; RSS max ${run.rss_mb_max} MB`,
    `  cores (ms of CPU per s): ${Object.entries(run.cores).filter(([, v]) => typeof v === 'number').map(([k, v]) => `${k.replace(/_ms_per_s$/, '')} ${String(v)}`).join(', ')}`,
    `  batches per node: ${Object.entries(run.per_node).map(([node, f]) => `${node} ${String((f as { batches_per_s?: unknown }).batches_per_s)}/s of ${String((f as { batch_ms_mean?: unknown }).batch_ms_mean)} ms, lag ${JSON.stringify((f as { intake_lag_ms?: unknown }).intake_lag_ms)}`).join('; ')}`,
    `  reaction p50 ${run.reaction_ms.p50 ?? '-'} ms, p95 ${run.reaction_ms.p95 ?? '-'} ms (goal p95 <= ${GOALS.reaction_p95_ms}: ${goalText(run.reaction_ms.p95 === null ? null : run.reaction_ms.p95 <= GOALS.reaction_p95_ms)})`,
  ].join('\n');
}

/** TableRow is what formatTable reads of one size's run. */
export type TableRow = Pick<SizeRun, 'devices' | 'readings_per_s' | 'offered_per_s' | 'backlog_growing' | 'rss_mb_max'> & { reaction_ms: { p50: number | null; p95: number | null } };

/** formatTable prints every size side by side with the goals and KalKi's figures. */
export function formatTable(runs: readonly TableRow[]): string {
  const lines = ['devices | offered/s | applied/s | backlog | RSS max MB | reaction p50 | p95'];
  for (const run of runs) {
    lines.push(`${run.devices} | ${run.offered_per_s} | ${run.readings_per_s} | ${run.backlog_growing ? 'growing' : 'flat'} | ${run.rss_mb_max} | ${run.reaction_ms.p50 ?? '-'} | ${run.reaction_ms.p95 ?? '-'}`);
  }
  const largest = runs[runs.length - 1];
  if (largest !== undefined) {
    lines.push(`goals: ${GOALS.readings_per_s} readings/s with no growing backlog: ${goalText(largest.devices >= 10_000 ? largest.readings_per_s >= GOALS.readings_per_s && !largest.backlog_growing : null)}`
      + `; RSS <= ${GOALS.rss_mb_max_at_10000} MB per node at 10,000: ${goalText(largest.devices >= 10_000 ? largest.rss_mb_max <= GOALS.rss_mb_max_at_10000 : null)}`
      + `; reaction p95 <= ${GOALS.reaction_p95_ms} ms at every size: ${goalText(runs.every((run) => run.reaction_ms.p95 !== null) ? runs.every((run) => run.reaction_ms.p95! <= GOALS.reaction_p95_ms) : null)}`);
  }
  lines.push(`KalKi (published): ${KALKI.devices} devices, reaction ${KALKI.reaction_ms / 1000} s`);
  return lines.join('\n');
}

function writeResults(options: Options, runs: readonly SizeRun[], startedAt: string, loadAtStart: number[], failed?: { devices: number; error: string }): void {
  const largest = runs[runs.length - 1];
  if (largest === undefined) return;
  const output = {
    benchmark: 'devices',
    date: startedAt,
    finished: new Date().toISOString(),
    command: `npm run bench:devices -- --sizes ${options.sizes.join(',')} --seconds ${options.seconds} --reactions ${options.reactions}${options.cpuProfNode === undefined ? '' : ` --cpu-prof-node ${options.cpuProfNode}`}`,
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', memory_gb: Math.round(totalmem() / 2 ** 30), node: process.version, load_average: { start: loadAtStart, end: loadavg() } },
    devices: largest.devices,
    readings_per_s: largest.readings_per_s,
    offered_per_s: largest.offered_per_s,
    backlog_growing: largest.backlog_growing,
    reaction_ms: { p50: largest.reaction_ms.p50, p95: largest.reaction_ms.p95 },
    rss_mb_max: largest.rss_mb_max,
    goals: {
      ...GOALS,
      met: {
        readings_per_s: largest.devices >= 10_000 ? largest.readings_per_s >= GOALS.readings_per_s && !largest.backlog_growing : null,
        rss: largest.devices >= 10_000 ? largest.rss_mb_max <= GOALS.rss_mb_max_at_10000 : null,
        reaction: runs.every((run) => run.reaction_ms.p95 !== null && run.reaction_ms.p95 <= GOALS.reaction_p95_ms),
      },
    },
    kalki: KALKI,
    runs,
    ...(failed === undefined ? {} : { failed }),
    notes: [
      'readings_per_s: readings committed and applied, summed over the nodes\' GET /metrics quorumgate_device_readings_submitted_total (GET /v1/status devices.readings.submitted before 2026-12-07) (each node counts the readings of its own telemetry batches once they committed and applied on it), over the steady window, which starts 5 s after every fleet device connected and once every node\'s queue is under a second of its readings (settle_s).',
      'offered_per_s: what the fleet simulators published (their own counters) over the same window; the reaction sensor publishes besides (1/s).',
      'cpu_ms_per_reading: a process\'s utime+stime over the window divided by the readings applied cluster-wide in it (every node applies every reading; each also receives and batches its own third).',
      'rss_mb_max: the largest VmRSS of any node process, sampled every second from registration to the end of the size\'s reactions.',
      'reaction: set the sensor\'s temperature (control socket) and have it publish at once (/flood of 1) → the new verdict enforced on gateway 1\'s switch, seen on the wire (UDP every 2 ms to an upstream server: quarantine = last packet before they stop, allow = first packet again). state_visible: the same start → GET /v1/devices/probe on gateway 1 shows the new state.',
      'fleet: one simulator process per gateway in the host namespace, connecting to its gateway\'s management address (the fleet does not cross the switch; the reaction sensor, in its own namespace behind gateway 1, does). Fleet devices are registered with ports that are not on the bridge (not plugged in).',
      'metrics_ms: how long each GET /metrics took (the window polls it every 5 s; status_ms in runs before 2026-12-07: GET /v1/status, whose state hash held the nodes for seconds at 10,000 devices). batches_per_s and batch_ms_mean: the node\'s batches of readings settled and their mean time from proposal to outcome; intake_lag_ms: its MQTT intake lag at each poll; cores: the machine\'s busy and idle CPU (/proc/stat) and each part of the run over the window, other = busy minus the run\'s processes (other engineers\' work on the shared machine).',
      'entries_applied_per_s: Raft entries the node applied per second over the window (readings_per_s / entries = readings per entry); log_since_snapshot: commit index - snapshot index at each poll (the log a node holds in memory).',
    ],
  };
  mkdirSync(repoPath('bench', 'results'), { recursive: true });
  writeFileSync(repoPath('bench', 'results', 'devices.json'), `${JSON.stringify(output, null, 2)}\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(() => process.exit(0), (error: unknown) => {
    console.error(`bench:devices: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    process.exit(1);
  });
}

