// reaction-cluster.ts — threat reaction through the cluster (issue 18 item 4): the demo's path, measured. Three
// gateway processes (the demo's site, cluster/demo-site.ts) each serve a camera whose `normal` chain is a monitor
// μmbox and whose `attack` state is a block-all chain; an attacker upstream floods a camera (UDP every 1 ms to
// the camera, a TCP connection to its login port every 5 ms); the camera's monitor raises a brute-force alert,
// its gateway signs it as telemetry and proposes it, the cluster commits it, every gateway applies it (the
// policy moves the camera to attack), and its gateway swaps its chain to block-all. Stage by stage, from the
// nodes' logs (src/node: 'μmbox alert', 'telemetry committed' with proposedAtMs, 'device state changed' with
// appliedAtMs) and the packets (reaction-cluster-report.ts reactionStages):
//   alert → batching → commit → apply (on the serving node) → flows (until the attacker's packets stop arriving).
// Modes:
//   warm         every gateway keeps standby μmboxes (the default: the chains a device's rules can move it to),
//                so the camera's block-all runs before the attack and the move is one flow bundle
//   cold         standby off (dataplane.standbyUmboxes: 0 on every node, restarted): the block-all chain must be
//                started; the switch drops the device first (a chain that drops everything), as bench:reaction's cold
//   leader-kill  warm, but the leader is killed (SIGKILL) just before the attack, on a camera behind a survivor:
//                the alert waits for an election; the killed node is restarted and caught up after each run
// Each run attacks the next camera in turn (leader-kill: the next behind a survivor) and resets it to normal
// afterwards (admin-signed `state set`, waited until enforced and, when warm, its standby running again).
// Sizes are the devices registered in the cluster: the cameras plus filler devices (allow verdict, a veth port
// each on their gateway's bridge, registered in batches of signed putDevice commands), spread over the gateways.
// Usage: npm run bench:reaction-cluster -- [--runs 10] [--devices 10,100,1000] [--modes warm,cold,leader-kill]
//   [--out bench/results/reaction.json]; needs root, Open vSwitch, Docker and a build (npm run build).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { waitUntilAsync } from '../cluster/local-cluster.js';
import type { LocalCluster } from '../cluster/local-cluster.js';
import type { DemoDevice, DemoNetwork } from '../cluster/netlab.js';
import { createSite, deviceState, loadPolicy, qgate, read, startHost, tearDownSite } from '../cluster/demo-site.js';
import { keyIdHex, signCommand, type DeviceSpec } from '../src/commands/index.js';
import { DockerUmboxRuntime, hostPaths } from '../src/dataplane/index.js';
import { run } from '../src/dataplane/exec.js';
import { readIdentityKey } from '../src/node/identity.js';
import { facilities, releaseFacilities } from '../test/dataplane/lab.js';
import { repoPath } from '../test/support/paths.js';
import {
  clusterReaction, formatTable, mergeReactionJson, missingStages, modeOrder, parseLogLines, parseOptions, reactionStages,
} from './reaction-cluster-report.js';
import type { CellReport, ClusterMode, NodeLogLine, Options, StageSample } from './reaction-cluster-report.js';
import { ATTACKER_SCRIPT, RECEIVER_SCRIPT, submitBatch } from './support.js';

/** PREFIX names the bench's bridges, ports and namespaces; SUBNET its device network; FILLER_NET its fillers' addresses (10.82.x.y). */
export const PREFIX = 'qgr';
const SUBNET = '10.81.0.';
const FILLER_NET = '10.82.';
const CAMERAS = [{ id: 'cam-1', gateway: 1 }, { id: 'cam-2', gateway: 2 }, { id: 'cam-3', gateway: 3 }];
/** TIMING is the demo's: 100 ms ticks, an election after 1-2 s without a leader. */
const TIMING = { tickMs: 100, electionTicks: 10 };
/** REGISTER_BATCH putDevice commands go in one POST /v1/commands/batch (the API takes up to 256). */
const REGISTER_BATCH = 200;
/** QUIET_MS: the attacker is cut off once no packet of it arrived for this long. */
const QUIET_MS = 400;
const REACTION_TIMEOUT_MS = 30_000;
/**
 * SETTLE_MS is how long the gateways are left alone after new fillers are enforced, before the next attack: the
 * data plane's full passes over the new ports and the standby and warm-pool starts are done by then, as they
 * are long before an attack on a site whose devices were registered earlier.
 */
const SETTLE_MS = 15_000;

/** Bench is what one run of the bench holds on to (and cleans up). */
interface Bench {
  readonly dir: string;
  readonly cluster: LocalCluster;
  readonly network: DemoNetwork;
  readonly adminKey: string;
  readonly processes: ChildProcess[];
  fillers: number;
  standby: boolean;
}

/** BenchReport is what runBench returns and writes (beside bench:reaction's fields). */
export interface BenchReport {
  cluster_reaction_ms: ReturnType<typeof clusterReaction>;
  cluster_reaction: Record<string, unknown>;
}

/** lastArrivalFile is where the camera's receiver keeps the time of the last datagram it received. */
const lastArrivalFile = (bench: Pick<Bench, 'dir'>, camera: DemoDevice): string => join(bench.dir, `${camera.id}.last`);

/** startReceivers runs the receiver in every camera's namespace. */
function startReceivers(bench: Bench): void {
  for (const camera of bench.network.devices) {
    const child = spawn('ip', ['netns', 'exec', camera.namespace, process.execPath, '-e', RECEIVER_SCRIPT, lastArrivalFile(bench, camera)], { stdio: 'ignore', detached: true });
    bench.processes.push(child);
  }
}

/** lastArrival reads a camera's last received datagram time (0 before any). */
function lastArrival(bench: Bench, camera: DemoDevice): number {
  const file = lastArrivalFile(bench, camera);
  return existsSync(file) ? Number(readFileSync(file, 'utf8')) || 0 : 0;
}

/** growFillers adds filler devices until the cluster holds `size` devices: veth ports on their gateways' bridges, registered in signed batches. */
async function growFillers(bench: Bench, size: number): Promise<void> {
  const target = size - CAMERAS.length;
  if (target <= bench.fillers) return;
  const script: string[] = [];
  const specs: DeviceSpec[] = [];
  for (let index = bench.fillers; index < target; index++) {
    const gateway = (index % 3) + 1;
    const port = `${PREFIX}${gateway}f${index}`;
    script.push(`link add ${port} type veth peer name ${PREFIX}${gateway}g${index}`, `link set ${port} up`);
    specs.push({
      id: `fill-${index}`, type: 'temp-sensor', group: 'fill', nodeId: `n${gateway}`, port, tags: [],
      addresses: [`${FILLER_NET}${Math.floor(index / 250)}.${(index % 250) + 1}`],
    });
  }
  await run('ip', ['-batch', '-'], { input: `${script.join('\n')}\n`, timeoutMs: 120_000 });
  const pair = readIdentityKey(bench.adminKey);
  const signer = keyIdHex(pair.publicKey);
  const leader = await bench.cluster.waitForLeader(30_000);
  const seqAnswer = await read<{ lastSeq?: number }>(bench.cluster, leader, `/v1/signers/${signer}/seq?consistency=linearizable`);
  let seq = seqAnswer?.lastSeq ?? 0;
  const clusterId = new Uint8Array(Buffer.from(bench.cluster.clusterId, 'hex'));
  for (let start = 0; start < specs.length; start += REGISTER_BATCH) {
    const envelopes = specs.slice(start, start + REGISTER_BATCH).map((device) => {
      seq += 1;
      const signed = signCommand({ clusterId, domain: 'site', signer, seq, notAfterMs: Date.now() + 600_000, payload: { kind: 'putDevice', device } }, [pair]);
      return Buffer.from(signed).toString('base64');
    });
    await submitBatch(bench.cluster, envelopes, `filler devices ${bench.fillers + start}..`);
  }
  bench.fillers = target;
  await waitAllEnforced(bench, 300_000);
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
}

/** EnforcedReport is a device's line in GET /v1/status `enforced`. */
interface EnforcedReport { deviceId: string; desiredGeneration: number; appliedGeneration: number | null }

/** servedEnforced says whether a gateway enforces every device it serves at the generation asked for (and reports `count` of them). */
async function servedEnforced(bench: Bench, gateway: number, count?: number): Promise<boolean> {
  const status = await read<{ enforced?: EnforcedReport[] }>(bench.cluster, gateway, '/v1/status');
  const reports = status?.enforced;
  if (reports === undefined) return false;
  return (count === undefined || reports.length === count) && reports.every((one) => one.appliedGeneration === one.desiredGeneration);
}

/** waitAllEnforced waits until every gateway enforces all it serves: its camera and its share of the fillers. */
async function waitAllEnforced(bench: Bench, timeoutMs: number): Promise<void> {
  await waitUntilAsync(async () => {
    const answers = await Promise.all([1, 2, 3].map((gateway) => {
      const fillers = Math.floor(bench.fillers / 3) + (gateway - 1 < bench.fillers % 3 ? 1 : 0);
      return servedEnforced(bench, gateway, fillers + 1);
    }));
    return answers.every(Boolean);
  }, timeoutMs, `every gateway to enforce its ${bench.fillers + 3} devices' share`);
}

/** editConfigs changes every node's config.yaml (the nodes read it when they start). */
function editConfigs(cluster: LocalCluster, edit: (config: { dataplane: Record<string, unknown> } & Record<string, unknown>) => void): void {
  for (const node of cluster.nodes) {
    const file = join(cluster.nodeDir(node.nodeId), 'config.yaml');
    const config = parseYaml(readFileSync(file, 'utf8')) as { dataplane: Record<string, unknown> } & Record<string, unknown>;
    edit(config);
    writeFileSync(file, toYaml(config));
  }
}

/** setStandby turns the gateways' standby μmboxes on (the default) or off, restarting them when it changes (true then). */
async function setStandby(bench: Bench, standby: boolean): Promise<boolean> {
  if (bench.standby === standby) return false;
  await bench.cluster.stopAll();
  editConfigs(bench.cluster, (config) => {
    if (standby) delete config.dataplane['standbyUmboxes'];
    else config.dataplane['standbyUmboxes'] = 0;
  });
  bench.cluster.startAll();
  bench.standby = standby;
  await bench.cluster.waitForLeader(60_000);
  await waitAllEnforced(bench, 120_000);
  return true;
}

/** standbyReady says whether a camera's standby block-all μmbox runs on its gateway (of this bench's cluster, not another's on the engine). */
async function standbyReady(bench: Bench, camera: DemoDevice): Promise<boolean> {
  const paths = hostPaths();
  const runtime = new DockerUmboxRuntime({ socketPath: paths.dockerSocket, umboxDir: paths.umboxDir });
  const umboxes = await runtime.list(bench.cluster.umboxOwner(camera.gateway));
  return umboxes.some((one) => one.deviceId === camera.id && one.image === 'block-all' && one.running && one.ready);
}

/** resetCamera moves a camera back to normal (admin-signed), waits until its gateway enforces it and, when warm, its standby runs again. */
async function resetCamera(bench: Bench, camera: DemoDevice): Promise<void> {
  if ((await deviceState(bench.cluster, camera.gateway, camera.id)) !== 'normal') {
    qgate(bench.cluster, ['state', 'set', camera.id, 'normal', '--reason', 'bench reset', '--wait', 'enforced'], [bench.adminKey], false);
  }
  await waitUntilAsync(async () => (await servedEnforced(bench, camera.gateway)) && (!bench.standby || (await standbyReady(bench, camera))), 60_000, `${camera.id} to be enforced in normal${bench.standby ? ' with its standby block-all running' : ''}`);
  // Its packets flow again (the monitor passes them): the next attack starts from a settled camera.
  await new Promise((resolve) => setTimeout(resolve, 300));
}

/** LogTail reads what the nodes appended to their logs since it was made. */
class LogTail {
  private readonly offsets = new Map<number, number>();

  constructor(private readonly cluster: LocalCluster) {
    for (const node of cluster.nodes) this.offsets.set(node.nodeId, this.size(node.nodeId));
  }

  /** lines parses every node's lines appended since the tail was made (a rotated log is read from its start). */
  lines(): NodeLogLine[] {
    return this.cluster.nodes.flatMap((node) => {
      const file = join(this.cluster.nodeDir(node.nodeId), 'node.log');
      const from = this.offsets.get(node.nodeId) ?? 0;
      const size = this.size(node.nodeId);
      const start = size < from ? 0 : from;
      const buffer = Buffer.alloc(size - start);
      const fd = openSync(file, 'r');
      try {
        readSync(fd, buffer, 0, buffer.length, start);
      } finally {
        closeSync(fd);
      }
      return parseLogLines(node.nodeId, buffer.toString('utf8'));
    });
  }

  private size(nodeId: number): number {
    const file = join(this.cluster.nodeDir(nodeId), 'node.log');
    return existsSync(file) ? statSync(file).size : 0;
  }
}

/** startAttack runs the attacker against a camera and resolves with its process and its first packet's time. */
async function startAttack(bench: Bench, camera: DemoDevice): Promise<{ child: ChildProcess; startMs: number }> {
  const child = spawn('ip', ['netns', 'exec', bench.network.attacker, process.execPath, '-e', ATTACKER_SCRIPT, camera.address], { stdio: ['ignore', 'pipe', 'ignore'], detached: true });
  bench.processes.push(child);
  const startMs = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the attacker did not start within 10 s')), 10_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^t0=(\d+)/.exec(line);
      if (match === null) return;
      clearTimeout(timer);
      resolve(Number(match[1]));
    });
  });
  return { child, startMs };
}

/** stopProcess ends one of the bench's processes (by its own handle) and waits for it. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** attackOnce attacks a camera, waits until it is contained, and splits the reaction by stage from the nodes' logs. */
async function attackOnce(bench: Bench, camera: DemoDevice): Promise<StageSample> {
  const tail = new LogTail(bench.cluster);
  const { child, startMs } = await startAttack(bench, camera);
  try {
    await waitUntilAsync(async () => (await deviceState(bench.cluster, camera.gateway, camera.id)) === 'attack', REACTION_TIMEOUT_MS, `${camera.id} to move to attack`);
    await waitUntilAsync(async () => {
      const last = lastArrival(bench, camera);
      return last > startMs && Date.now() - last > QUIET_MS;
    }, REACTION_TIMEOUT_MS, `the attacker's packets to stop arriving at ${camera.id}`);
  } finally {
    await stopChild(child);
  }
  // The nodes may write their lines a moment after the state is visible, and a reconcile pass is logged at its
  // end (after its standby starts): read until every stage and the flows split are there (or 10 s).
  let sample = reactionStages({ deviceId: camera.id, servingNode: camera.gateway, attackStartMs: startMs, lastArrivalMs: lastArrival(bench, camera), lines: tail.lines() });
  for (let attempt = 0; attempt < 100 && (missingStages(sample).length > 0 || sample.flowsSplit === null); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    sample = reactionStages({ deviceId: camera.id, servingNode: camera.gateway, attackStartMs: startMs, lastArrivalMs: lastArrival(bench, camera), lines: tail.lines() });
  }
  return sample;
}

/** runMode measures `runs` reactions of one mode at the current size. */
async function runMode(bench: Bench, mode: ClusterMode, runs: number, size: number, say: (line: string) => void): Promise<StageSample[]> {
  const restartedAt = Date.now();
  if (await setStandby(bench, mode !== 'cold')) say(`gateways restarted with standby μmboxes ${bench.standby ? 'on' : 'off'} in ${Date.now() - restartedAt} ms`);
  const cameras = bench.network.devices;
  for (const camera of cameras) await resetCamera(bench, camera);
  const samples: StageSample[] = [];
  for (let attempt = 0; attempt < runs; attempt++) {
    let killed: number | undefined;
    let camera = cameras[attempt % cameras.length]!;
    if (mode === 'leader-kill') {
      killed = await bench.cluster.waitForLeader(30_000);
      const survivors = cameras.filter((one) => one.gateway !== killed);
      camera = survivors[attempt % survivors.length]!;
      await bench.cluster.kill(killed);
    }
    const sample = await attackOnce(bench, camera);
    samples.push(sample);
    const stages = Object.entries(sample.stages).map(([stage, ms]) => `${stage} ${ms ?? '?'}`).join(', ');
    const split = sample.flowsSplit === null ? '' : `; flows: switch ${sample.flowsSplit.switchMs}, wire ${sample.flowsSplit.wireMs}`;
    say(`${size} devices, ${mode}, run ${attempt + 1}/${runs} (${camera.id}): ${sample.totalMs} ms (${stages}${split})`);
    if (killed !== undefined) {
      bench.cluster.start(killed);
      await bench.cluster.waitForLeader(60_000);
      await waitAllEnforced(bench, 120_000);
    }
    await resetCamera(bench, camera);
  }
  return samples;
}

/** setUp brings up the site: host, three gateways with a camera each, the policy, and a receiver on every camera. */
async function setUp(dir: string): Promise<Bench> {
  const digests = await startHost(() => undefined);
  const { cluster, network } = await createSite({ dir: join(dir, 'cluster'), prefix: PREFIX, subnet: SUBNET, devices: CAMERAS, timing: TIMING });
  const bench: Bench = { dir, cluster, network, adminKey: '', processes: [], fillers: 0, standby: true };
  // Debug level: the data plane's 'reconcile pass' lines split the flows stage (switch, wire).
  editConfigs(cluster, (config) => {
    config['logLevel'] = 'debug';
  });
  cluster.startAll();
  await cluster.waitForLeader(60_000);
  const adminKey = loadPolicy(cluster, network, digests, new Set(), false);
  const ready = { ...bench, adminKey };
  startReceivers(ready);
  return ready;
}

/** keepNodeLogs copies every *.log under the site's directory to a new temporary directory and returns it (undefined when none). */
export function keepNodeLogs(siteDir: string): string | undefined {
  if (!existsSync(siteDir)) return undefined;
  const kept = mkdtempSync(join(tmpdir(), 'qg-reaction-cluster-logs-'));
  cpSync(siteDir, kept, { recursive: true, filter: (source) => statSync(source).isDirectory() || source.endsWith('.log') });
  return kept;
}

/** cleanUp ends the bench's processes and removes the site; it throws naming whatever is left. */
async function cleanUp(dir: string, bench: Bench | undefined): Promise<void> {
  for (const child of bench?.processes ?? []) await stopChild(child);
  await tearDownSite(join(dir, 'cluster'), PREFIX, false);
  rmSync(dir, { recursive: true, force: true });
}

/**
 * runBench measures every mode at every size, writes the report into `options.out` (merged with what the file
 * holds) and returns it; `say` hears one line per run and the table. It cleans up whatever happens.
 */
export async function runBench(options: Options, say: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Promise<BenchReport> {
  const available = await facilities();
  if (!available.ok) throw new Error(`reaction-cluster: needs ${available.reason}`);
  if (!existsSync(repoPath('dist', 'src', 'cli', 'main.js'))) throw new Error('reaction-cluster: dist/ is missing; run "npm run build" first');
  const loadAtStart = loadavg();
  const dir = mkdtempSync(join(tmpdir(), 'qg-bench-reaction-cluster-'));
  let bench: Bench | undefined;
  const results = new Map<ClusterMode, Map<number, StageSample[]>>(options.modes.map((mode) => [mode, new Map()]));
  const stamps = new Map<string, Pick<CellReport, 'measured_at' | 'load_average_1m'>>();
  try {
    await tearDownSite(join(dir, 'cluster'), PREFIX, false);
    const startedAt = Date.now();
    bench = await setUp(dir);
    say(`site up (3 gateways, a camera each, the policy enforced) in ${Date.now() - startedAt} ms`);
    for (const size of options.sizes) {
      const growingAt = Date.now();
      await growFillers(bench, size);
      say(`${size} devices registered and enforced in ${Date.now() - growingAt} ms`);
      for (const mode of modeOrder(options.modes, bench.standby)) {
        const loadBefore = loadavg()[0] ?? 0;
        const samples = await runMode(bench, mode, options.runs, size, say);
        results.get(mode)!.set(size, samples);
        stamps.set(`${mode}/${size}`, { measured_at: new Date().toISOString(), load_average_1m: [loadBefore, loadavg()[0] ?? 0] });
      }
    }
  } catch (error) {
    // The site is removed below: keep the nodes' logs (only *.log files, never keys or data) for a post-mortem.
    const kept = keepNodeLogs(join(dir, 'cluster'));
    if (error instanceof Error && kept !== undefined) error.message += ` (node logs kept in ${kept})`;
    throw error;
  } finally {
    await cleanUp(dir, bench).finally(() => releaseFacilities(available));
  }
  const report = reportOf(results, options, loadAtStart);
  for (const [mode, bySize] of Object.entries(report.cluster_reaction_ms)) {
    for (const [size, cell] of Object.entries(bySize)) Object.assign(cell, stamps.get(`${mode}/${size}`));
  }
  say(formatTable(report.cluster_reaction_ms));
  const existing: unknown = existsSync(options.out) ? JSON.parse(readFileSync(options.out, 'utf8')) : undefined;
  writeFileSync(options.out, `${JSON.stringify(mergeReactionJson(existing, { ...report }), null, 2)}\n`);
  return report;
}

function reportOf(results: Map<ClusterMode, Map<number, StageSample[]>>, options: Options, loadAtStart: number[]): BenchReport {
  return {
    cluster_reaction_ms: clusterReaction(results),
    cluster_reaction: {
      benchmark: 'reaction-cluster',
      runs_per_mode: options.runs,
      sizes: options.sizes,
      modes: options.modes,
      machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, load_average: { start: loadAtStart, end: loadavg() } },
      notes: [
        'cluster_reaction_ms: first attack packet → last attacker packet received by the camera, on 3 gateway processes (the demo\'s site), by mode and devices registered in the cluster (cameras + allow-verdict fillers with veth ports, spread over the gateways).',
        'stages: alert = first packet → the serving node reads the monitor\'s alert; batching = → the serving node first proposes the telemetry batch; commit = → the first node applies the entry (the leader, in the Ready that commits it); apply = → the serving node applies it; flows = → the last attacker packet arrives.',
        'warm: standby μmboxes on (default), the camera\'s block-all runs before the attack; cold: dataplane.standbyUmboxes 0 on every node; leader-kill: warm, the leader killed with SIGKILL just before the attack on a camera behind a survivor.',
        'each run attacks the next camera in turn (a third are served by the leader); the camera is reset to normal (admin state set, enforced) between runs.',
      ],
    },
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runBench(parseOptions(process.argv.slice(2), repoPath('bench', 'results', 'reaction.json'))).then(() => process.exit(0), (error: unknown) => {
    console.error(`bench:reaction-cluster: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    process.exit(1);
  });
}
