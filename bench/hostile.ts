// hostile.ts — `npm run bench:hostile`: what each flood of the adversary at the edge (chaos/hostile.ts;
// issue 15) costs a real 3-node quorumgate cluster (gateway mode, no data plane).
//
// For each flood alone, then all of them at once: a quiet phase and a flood phase of --seconds each,
// with WRITERS closed-loop writers sending admin-signed putDevice commands to the leader throughout.
// Per flood it reports: leader changes (new terms seen in either phase), the longest event-loop delay
// of any node under the flood (prom-client's lag maximum, scraped every second), write p99 without and
// with the flood and their ratio, the largest RSS growth of a node during the flood, and the fastest
// log growth of a node during the flood. Goals (issue 15): 0 leader changes, p99 under flood <= 2×
// without, RSS growth <= 50 MB, log <= 10 KB/s. Prints a table and writes bench/results/hostile.json.
// Per phase it also reports where the machine's two cores went: each node's, the bench's (the writers'),
// the adversary's and everything else's CPU time (/proc), in cores.
//
// The adversary runs in a process of its own (chaos/adversary-process.ts), so the writers' event loop is
// not the adversary's; `--adversary in-process` runs it beside the writers as runs before 2026-12-07 did.
//
// `--api-read-limit R,B` starts the nodes with that read rate limit per client address (docs/api.md "Rate limits").
//
// Usage: npm run bench:hostile -- [--seconds S] [--floods LIST] [--adversary process|in-process] [--api-read-limit R,B] [--out FILE]
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { LocalCluster } from '../cluster/local-cluster.js';
import { packagePath } from '../src/wire/index.js';
import { sleepMs } from '../src/dataplane/exec.js';
import { FLOOD_KINDS, Floods, sampleResources, summarizeCounts, type FloodCounts, type FloodKind, type FloodTarget, type ResourceSample } from '../chaos/hostile.js';
import { useClientFetch } from '../chaos/client.js';
import { QuorumgateSystem } from './etcd.js';
import { cpuTicksOf } from './devices.js';
import { AdversaryProcess } from '../chaos/adversary-process.js';
import { percentile } from './support.js';

/** GOALS are issue 15's goals for every flood. */
export const GOALS = { leader_changes: 0, p99_ratio: 2, rss_growth_mb: 50, log_bytes_per_s: 10 * 1024 } as const;
const WRITERS = 4;
const WRITE_TIMEOUT_MS = 10_000;
/** AFTER_FLOOD_MS: how long after a flood (and its writes) ended its node's RSS is sampled again. */
const AFTER_FLOOD_MS = 3_000;
/** HOST_PREFIX gives node N its own loopback address, so the adversary's source limits never hit a peer. */
const HOST_PREFIX = '127.0.79.';

/** CLOCK_TICKS_PER_S is the unit of /proc's CPU times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS_PER_S = 100;

/** PhaseFigures are one phase's measurements. */
interface PhaseFigures {
  latenciesMs: number[];
  errors: number;
  terms: Set<number>;
  samples: ResourceSample[];
  /** cpu: cores each part of the run used over the phase (CPU seconds / phase seconds). */
  cpu?: CpuCores;
}

/**
 * CpuCores is where the machine's cores went during a phase, in cores (CPU seconds per second): each
 * node process, the bench process (the writers; with `--adversary in-process` the adversary too), the
 * adversary process, and `other`, the machine's busy time minus those (other work on the shared machine).
 */
export interface CpuCores {
  nodes: Record<string, number>;
  bench: number;
  adversary: number;
  other: number;
  machine_busy: number;
}

/** FloodFigures is one flood's line of the report. */
export interface FloodFigures {
  leader_changes: number;
  max_loop_delay_ms: number | null;
  p99_quiet_ms: number | null;
  p99_flood_ms: number | null;
  p99_ratio: number | null;
  rss_growth_mb: number;
  /** rss_growth_quiet_mb: the same measure in the quiet phase before the flood (the writes alone). */
  rss_growth_quiet_mb?: number;
  /** rss_split_mb: of the flood's largest RSS rise, what was V8's heap (used, total), external memory, and the rest (native). */
  rss_split_mb?: { heap_used: number; heap_total: number; external: number; native: number };
  /** rss_after_mb: that node's RSS 3 s after the flood ended (writers stopped too), above its first flood sample. */
  rss_after_mb?: number;
  log_bytes_per_s: number;
  /** cpu_quiet, cpu_flood: where the cores went in each phase (CpuCores). */
  cpu_quiet?: CpuCores;
  cpu_flood?: CpuCores;
  writes_quiet: number;
  writes_flood: number;
  write_errors: number;
  answers: string[];
}

interface Options {
  seconds: number;
  floods: Array<FloodKind | 'all'>;
  adversary: 'process' | 'in-process';
  /** apiReadLimit: the nodes' apiReadLimit (docs/api.md "Rate limits"); their default when absent. */
  apiReadLimit?: { readsPerSecond: number; burst: number };
  out: string;
}

function parseOptions(argv: readonly string[]): Options {
  const program = new Command('bench:hostile')
    .option('--seconds <S>', 'seconds of each phase (quiet, then flood)', (text) => {
      const value = Number(text);
      if (!Number.isInteger(value) || value < 3 || value > 600) throw new InvalidArgumentError(`expected an integer from 3 to 600, got "${text}"`);
      return value;
    }, 12)
    .option('--floods <list>', `floods, comma-separated (${FLOOD_KINDS.join(', ')}, all)`, (text) => text.split(',').map((name) => {
      if (name !== 'all' && !(FLOOD_KINDS as readonly string[]).includes(name)) throw new InvalidArgumentError(`unknown flood "${name}"; known: ${FLOOD_KINDS.join(', ')}, all`);
      return name as FloodKind | 'all';
    }), [...FLOOD_KINDS, 'all'])
    .option('--adversary <where>', 'where the adversary runs: process (a child process of its own) or in-process (beside the writers, as before 2026-12-07)', (text) => {
      if (text !== 'process' && text !== 'in-process') throw new InvalidArgumentError(`expected process or in-process, got "${text}"`);
      return text;
    }, 'process')
    .option('--api-read-limit <R,B>', 'the nodes\' apiReadLimit: reads per second and burst per client address (default: the node\'s, 200,400)', (text) => {
      const [rate, burst] = text.split(',').map(Number);
      if (!Number.isInteger(rate) || rate! < 0 || !Number.isInteger(burst) || burst! < 1) throw new InvalidArgumentError(`expected READS_PER_SECOND,BURST (integers, burst >= 1), got "${text}"`);
      return { readsPerSecond: rate!, burst: burst! };
    })
    .option('--out <file>', 'where the JSON report goes', packagePath('bench', 'results', 'hostile.json'))
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));
  program.parse(argv);
  return program.opts<Options>();
}

/** Adversary floods the cluster between start() and stop(), in a process of its own or in this one. */
interface Adversary {
  readonly pid: number | undefined;
  start(targets: readonly FloodTarget[], kinds: readonly FloodKind[]): Promise<void>;
  stop(): Promise<Map<FloodKind, FloodCounts>>;
  close(): Promise<void>;
}

/** inProcessAdversary runs the floods in the bench's own process, beside the writers (runs before 2026-12-07). */
function inProcessAdversary(): Adversary {
  let floods: Floods | undefined;
  return {
    pid: undefined,
    start: async (targets, kinds) => {
      floods = new Floods(() => targets, kinds);
      floods.start();
    },
    stop: async () => {
      const running = floods;
      floods = undefined;
      if (running === undefined) return new Map();
      await running.stop();
      return running.counts;
    },
    close: async () => undefined,
  };
}

/** CpuSnapshot is the CPU clock ticks of each watched process and the machine's busy ticks, at one moment. */
interface CpuSnapshot {
  atMs: number;
  ticks: Map<string, number>;
  machineBusy: number;
}

/** ticksOfPid reads utime+stime of a process (clock ticks), undefined when it is gone. */
function ticksOfPid(pid: number): number | undefined {
  try {
    return cpuTicksOf(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** machineBusyTicks reads the machine's busy clock ticks, all CPUs together (/proc/stat's first line). */
function machineBusyTicks(): number {
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  return user + nice + system + irq + softirq + steal;
}

/** cpuSnapshot reads `pids` (named) and the machine now. */
function cpuSnapshot(pids: ReadonlyMap<string, number | undefined>): CpuSnapshot {
  const ticks = new Map<string, number>();
  for (const [name, pid] of pids) {
    const value = pid === undefined ? undefined : ticksOfPid(pid);
    if (value !== undefined) ticks.set(name, value);
  }
  return { atMs: Date.now(), ticks, machineBusy: machineBusyTicks() };
}

/** cpuCores turns two snapshots into cores used per part of the run (see CpuCores). */
export function cpuCores(before: CpuSnapshot, after: CpuSnapshot): CpuCores {
  const seconds = Math.max(1e-3, (after.atMs - before.atMs) / 1000);
  const cores = (ticks: number): number => Number((ticks / CLOCK_TICKS_PER_S / seconds).toFixed(2));
  const used = (name: string): number => Math.max(0, (after.ticks.get(name) ?? 0) - (before.ticks.get(name) ?? 0));
  const nodes: Record<string, number> = {};
  let ours = 0;
  for (const name of after.ticks.keys()) {
    ours += used(name);
    if (name.startsWith('n')) nodes[name] = cores(used(name));
  }
  const busy = after.machineBusy - before.machineBusy;
  return { nodes, bench: cores(used('bench')), adversary: cores(used('adversary')), other: cores(Math.max(0, busy - ours)), machine_busy: cores(busy) };
}

/** measurePhase writes through the leader for `seconds` and samples every node once a second. */
async function measurePhase(cluster: LocalCluster, system: QuorumgateSystem, seconds: number, adversaryPid?: number): Promise<PhaseFigures> {
  const figures: PhaseFigures = { latenciesMs: [], errors: 0, terms: new Set(), samples: [] };
  const pids = new Map<string, number | undefined>([['bench', process.pid], ['adversary', adversaryPid], ...cluster.nodes.map((n) => [`n${n.nodeId}`, cluster.pid(n.nodeId)] as const)]);
  const cpuBefore = cpuSnapshot(pids);
  const until = Date.now() + seconds * 1000;
  const writer = async (client: number): Promise<void> => {
    // The leader is asked for again only after a failed write: asking before each would itself be a status poll.
    let leader = await system.leader();
    while (Date.now() < until) {
      const started = performance.now();
      const outcome = await system.write(client, leader, WRITE_TIMEOUT_MS);
      if (outcome.ok) figures.latenciesMs.push(performance.now() - started);
      else {
        figures.errors += 1;
        leader = await system.leader();
      }
    }
  };
  const sampler = async (): Promise<void> => {
    while (Date.now() < until) {
      const started = Date.now();
      const nodes = cluster.nodes.map((n) => ({ node: n.nodeId, pid: cluster.pid(n.nodeId), dir: cluster.nodeDir(n.nodeId), apiUrl: cluster.apiUrl(n.nodeId) }));
      figures.samples.push(...await sampleResources(started, nodes));
      for (const n of cluster.nodes) {
        const status = await cluster.status(n.nodeId, 1_000);
        if (status !== undefined && status.leader !== 0) figures.terms.add(status.term);
      }
      await sleepMs(Math.max(0, 1_000 - (Date.now() - started)));
    }
  };
  await Promise.all([...Array.from({ length: WRITERS }, (_, client) => writer(client)), sampler()]);
  figures.cpu = cpuCores(cpuBefore, cpuSnapshot(pids));
  return figures;
}

/** growth is the largest rise of a node's `field` from its first sample of the phase, per node. */
function growth(samples: readonly ResourceSample[], field: 'rssBytes' | 'logBytes'): Map<number, number> {
  const out = new Map<number, number>();
  for (const node of new Set(samples.map((s) => s.node))) {
    const mine = samples.filter((s) => s.node === node).sort((a, b) => a.t - b.t);
    out.set(node, Math.max(0, ...mine.map((s) => s[field] - mine[0]![field])));
  }
  return out;
}

/**
 * rssSplit takes the node whose RSS rose most in `samples` and splits that rise (first sample to its
 * highest) into V8's heap used and total, external memory, and the rest: native memory (OpenSSL,
 * libuv, malloc's arenas and free lists). Undefined without the heap figures.
 */
export function rssSplit(samples: readonly ResourceSample[]): FloodFigures['rss_split_mb'] {
  let best: { first: ResourceSample; peak: ResourceSample } | undefined;
  for (const node of new Set(samples.map((s) => s.node))) {
    const mine = samples.filter((s) => s.node === node).sort((a, b) => a.t - b.t);
    const peak = mine.reduce((a, b) => (b.rssBytes > a.rssBytes ? b : a));
    if (best === undefined || peak.rssBytes - mine[0]!.rssBytes > best.peak.rssBytes - best.first.rssBytes) best = { first: mine[0]!, peak };
  }
  if (best === undefined) return undefined;
  const { first, peak } = best;
  if (first.heapTotalBytes === undefined || peak.heapTotalBytes === undefined || first.heapUsedBytes === undefined || peak.heapUsedBytes === undefined
    || first.externalBytes === undefined || peak.externalBytes === undefined) return undefined;
  const mb = (bytes: number): number => Number((bytes / 1048576).toFixed(1));
  const heapTotal = peak.heapTotalBytes - first.heapTotalBytes;
  const external = peak.externalBytes - first.externalBytes;
  return {
    heap_used: mb(peak.heapUsedBytes - first.heapUsedBytes), heap_total: mb(heapTotal), external: mb(external),
    native: mb(peak.rssBytes - first.rssBytes - heapTotal - external),
  };
}

/** figuresOf turns a quiet and a flood phase into the flood's report line. */
export function figuresOf(quiet: PhaseFigures, flood: PhaseFigures, termsBefore: ReadonlySet<number>, seconds: number, answers: string[]): FloodFigures {
  const newTerms = new Set([...quiet.terms, ...flood.terms].filter((term) => !termsBefore.has(term)));
  const delays = flood.samples.map((s) => s.loopDelayMaxMs).filter((d): d is number => d !== undefined);
  const p99Quiet = quiet.latenciesMs.length === 0 ? null : percentile(quiet.latenciesMs, 99);
  const p99Flood = flood.latenciesMs.length === 0 ? null : percentile(flood.latenciesMs, 99);
  const round = (value: number, digits = 1): number => Number(value.toFixed(digits));
  return {
    leader_changes: newTerms.size,
    max_loop_delay_ms: delays.length === 0 ? null : round(Math.max(...delays)),
    p99_quiet_ms: p99Quiet === null ? null : round(p99Quiet),
    p99_flood_ms: p99Flood === null ? null : round(p99Flood),
    p99_ratio: p99Quiet === null || p99Flood === null || p99Quiet === 0 ? null : round(p99Flood / p99Quiet, 2),
    rss_growth_mb: round(Math.max(0, ...growth(flood.samples, 'rssBytes').values()) / 1048576),
    ...(quiet.samples.length === 0 ? {} : { rss_growth_quiet_mb: round(Math.max(0, ...growth(quiet.samples, 'rssBytes').values()) / 1048576) }),
    ...(rssSplit(flood.samples) === undefined ? {} : { rss_split_mb: rssSplit(flood.samples)! }),
    log_bytes_per_s: round(Math.max(0, ...growth(flood.samples, 'logBytes').values()) / seconds, 0),
    ...(quiet.cpu === undefined ? {} : { cpu_quiet: quiet.cpu }),
    ...(flood.cpu === undefined ? {} : { cpu_flood: flood.cpu }),
    writes_quiet: quiet.latenciesMs.length,
    writes_flood: flood.latenciesMs.length,
    write_errors: quiet.errors + flood.errors,
    answers,
  };
}

/** goalsMet says, per goal, whether every flood met it. */
export function goalsMet(floods: Record<string, FloodFigures>): Record<keyof typeof GOALS, boolean> {
  const all = Object.values(floods);
  return {
    leader_changes: all.every((f) => f.leader_changes <= GOALS.leader_changes),
    p99_ratio: all.every((f) => f.p99_ratio !== null && f.p99_ratio <= GOALS.p99_ratio),
    rss_growth_mb: all.every((f) => f.rss_growth_mb <= GOALS.rss_growth_mb),
    log_bytes_per_s: all.every((f) => f.log_bytes_per_s <= GOALS.log_bytes_per_s),
  };
}

/** measureFlood runs one quiet phase and one flood phase. */
async function measureFlood(cluster: LocalCluster, system: QuorumgateSystem, adversary: Adversary, kinds: readonly FloodKind[], seconds: number): Promise<FloodFigures> {
  const termsBefore = new Set((await Promise.all(cluster.nodes.map((n) => cluster.status(n.nodeId)))).map((s) => s?.term ?? 0));
  const quiet = await measurePhase(cluster, system, seconds, adversary.pid);
  const readToken = cluster.readToken();
  const targets = cluster.nodes.map((n) => ({ node: n.nodeId, apiHost: cluster.hostOf(n.nodeId), apiPort: n.apiPort, raftHost: cluster.hostOf(n.nodeId), raftPort: n.raftPort, apiTls: cluster.apiUrl(n.nodeId).startsWith('https:'), readToken }));
  await adversary.start(targets, kinds);
  let flood: PhaseFigures;
  let counts: Map<FloodKind, FloodCounts>;
  try {
    flood = await measurePhase(cluster, system, seconds, adversary.pid);
  } finally {
    counts = await adversary.stop();
  }
  const figures = figuresOf(quiet, flood, termsBefore, seconds, summarizeCounts(counts));
  // Does the memory come back? One more sample per node a few seconds after the flood (and the writers) stopped.
  await sleepMs(AFTER_FLOOD_MS);
  const after = await sampleResources(Date.now(), cluster.nodes.map((n) => ({ node: n.nodeId, pid: cluster.pid(n.nodeId), dir: cluster.nodeDir(n.nodeId), apiUrl: cluster.apiUrl(n.nodeId) })));
  return { ...figures, rss_after_mb: rssAfter(flood.samples, after) };
}

/** rssAfter is how far above its first flood sample the node that rose most is in `after`. */
export function rssAfter(flood: readonly ResourceSample[], after: readonly ResourceSample[]): number {
  const rises = growth(flood, 'rssBytes');
  const node = [...rises].sort((a, b) => b[1] - a[1])[0]?.[0];
  const first = flood.filter((s) => s.node === node).sort((a, b) => a.t - b.t)[0];
  const later = after.find((s) => s.node === node && s.pid === first?.pid);
  if (first === undefined || later === undefined) return 0;
  return Number(((later.rssBytes - first.rssBytes) / 1048576).toFixed(1));
}

function formatLine(name: string, f: FloodFigures): string {
  const cell = (value: number | null, width: number): string => (value === null ? '-' : String(value)).padStart(width);
  const split = f.rss_split_mb === undefined ? '' : `  (quiet ${f.rss_growth_quiet_mb ?? '-'}, heap ${f.rss_split_mb.heap_used}/${f.rss_split_mb.heap_total}, ext ${f.rss_split_mb.external}, native ${f.rss_split_mb.native}, after ${f.rss_after_mb ?? '-'})`;
  return `${name.padEnd(20)} ${cell(f.leader_changes, 7)} ${cell(f.max_loop_delay_ms, 9)} ${cell(f.p99_quiet_ms, 9)} ${cell(f.p99_flood_ms, 9)} ${cell(f.p99_ratio, 6)} ${cell(f.rss_growth_mb, 7)} ${cell(f.log_bytes_per_s, 8)}${split}`;
}

/** setApiReadLimit writes `limit` into every node's config (before the nodes start). */
function setApiReadLimit(cluster: LocalCluster, limit: { readsPerSecond: number; burst: number }): void {
  for (const n of cluster.nodes) {
    const file = join(cluster.nodeDir(n.nodeId), 'config.yaml');
    writeFileSync(file, toYaml({ ...(parseYaml(readFileSync(file, 'utf8')) as Record<string, unknown>), apiReadLimit: limit }));
  }
}

/** formatCores renders a phase's CpuCores on one line. */
function formatCores(cpu: CpuCores | undefined): string {
  if (cpu === undefined) return '-';
  const nodes = Object.entries(cpu.nodes).map(([name, cores]) => `${name} ${cores}`).join(', ');
  return `${nodes}, bench ${cpu.bench}, adversary ${cpu.adversary}, other ${cpu.other} (machine ${cpu.machine_busy})`;
}

async function main(options: Options): Promise<void> {
  const loadAtStart = loadavg().map((l) => Number(l.toFixed(2)));
  const cluster = await LocalCluster.create({
    dir: mkdtempSync(join(tmpdir(), 'qg-bench-hostile-')), nodes: 3, application: 'quorumgate', hostPrefix: HOST_PREFIX,
    timing: { tickMs: 50, electionTicks: 10, heartbeatTicks: 1, proposalTimeoutMs: 5_000 },
  });
  if (options.apiReadLimit !== undefined) setApiReadLimit(cluster, options.apiReadLimit);
  useClientFetch(cluster.fetch);
  const onSignal = (): void => {
    void cluster.destroy().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let adversary: Adversary | undefined;
  try {
    cluster.startAll();
    await cluster.waitForLeader(30_000);
    const system = new QuorumgateSystem(cluster);
    await system.prepare(WRITERS);
    adversary = options.adversary === 'process' ? await AdversaryProcess.spawn() : inProcessAdversary();
    const floods: Record<string, FloodFigures> = {};
    console.log(`${'flood'.padEnd(20)} ${'leaders'.padStart(7)} ${'loop ms'.padStart(9)} ${'p99 q ms'.padStart(9)} ${'p99 f ms'.padStart(9)} ${'ratio'.padStart(6)} ${'rss MB'.padStart(7)} ${'log B/s'.padStart(8)}`);
    for (const name of options.floods) {
      const figures = await measureFlood(cluster, system, adversary, name === 'all' ? FLOOD_KINDS : [name], options.seconds);
      floods[name] = figures;
      console.log(formatLine(name, figures));
      console.log(`    cores quiet: ${formatCores(figures.cpu_quiet)}; flood: ${formatCores(figures.cpu_flood)}`);
      for (const line of figures.answers) console.log(`    ${line}`);
    }
    const all = Object.values(floods);
    const report = {
      date: new Date().toISOString(),
      machine: `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, shared with other work`,
      load_average_at_start: loadAtStart,
      load_average_at_end: loadavg().map((l) => Number(l.toFixed(2))),
      seconds_per_phase: options.seconds,
      writers: WRITERS,
      adversary: options.adversary === 'process' ? 'a child process of its own' : 'in the bench process, beside the writers',
      api_read_limit: options.apiReadLimit ?? 'the node default (200 reads/s, burst 400, per client address)',
      goals: GOALS,
      leader_changes: all.reduce((sum, f) => sum + f.leader_changes, 0),
      max_loop_delay_ms: Math.max(0, ...all.map((f) => f.max_loop_delay_ms ?? 0)),
      p99_ratio: Math.max(0, ...all.map((f) => f.p99_ratio ?? 0)),
      rss_growth_mb: Math.max(0, ...all.map((f) => f.rss_growth_mb)),
      log_bytes_per_s: Math.max(0, ...all.map((f) => f.log_bytes_per_s)),
      goals_met: goalsMet(floods),
      floods,
    };
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`worst of all floods: ${report.leader_changes} leader changes, loop delay ${report.max_loop_delay_ms} ms, p99 ratio ${report.p99_ratio}, RSS growth ${report.rss_growth_mb} MB, log ${report.log_bytes_per_s} B/s`);
    console.log(`goals: ${Object.entries(report.goals_met).map(([goal, met]) => `${goal} ${met ? 'met' : 'NOT met'}`).join(', ')}; load average ${loadAtStart.join(' ')} -> ${report.load_average_at_end.join(' ')}`);
    console.log(`written to ${options.out}`);
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await adversary?.close();
    await cluster.destroy();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(parseOptions(process.argv)).catch((error: unknown) => {
    console.error(`bench:hostile: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  });
}
