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
//
// Usage: npm run bench:hostile -- [--seconds S] [--floods LIST] [--out FILE]
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { LocalCluster } from '../cluster/local-cluster.js';
import { packagePath } from '../src/wire/index.js';
import { sleepMs } from '../src/dataplane/exec.js';
import { FLOOD_KINDS, Floods, sampleResources, summarizeCounts, type FloodKind, type ResourceSample } from '../chaos/hostile.js';
import { useClientFetch } from '../chaos/client.js';
import { QuorumgateSystem } from './etcd.js';
import { percentile } from './support.js';

/** GOALS are issue 15's goals for every flood. */
export const GOALS = { leader_changes: 0, p99_ratio: 2, rss_growth_mb: 50, log_bytes_per_s: 10 * 1024 } as const;
const WRITERS = 4;
const WRITE_TIMEOUT_MS = 10_000;
/** AFTER_FLOOD_MS: how long after a flood (and its writes) ended its node's RSS is sampled again. */
const AFTER_FLOOD_MS = 3_000;
/** HOST_PREFIX gives node N its own loopback address, so the adversary's source limits never hit a peer. */
const HOST_PREFIX = '127.0.79.';

/** PhaseFigures are one phase's measurements. */
interface PhaseFigures {
  latenciesMs: number[];
  errors: number;
  terms: Set<number>;
  samples: ResourceSample[];
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
  writes_quiet: number;
  writes_flood: number;
  write_errors: number;
  answers: string[];
}

interface Options {
  seconds: number;
  floods: Array<FloodKind | 'all'>;
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
    .option('--out <file>', 'where the JSON report goes', packagePath('bench', 'results', 'hostile.json'))
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));
  program.parse(argv);
  return program.opts<Options>();
}

/** measurePhase writes through the leader for `seconds` and samples every node once a second. */
async function measurePhase(cluster: LocalCluster, system: QuorumgateSystem, seconds: number): Promise<PhaseFigures> {
  const figures: PhaseFigures = { latenciesMs: [], errors: 0, terms: new Set(), samples: [] };
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
async function measureFlood(cluster: LocalCluster, system: QuorumgateSystem, kinds: readonly FloodKind[], seconds: number): Promise<FloodFigures> {
  const termsBefore = new Set((await Promise.all(cluster.nodes.map((n) => cluster.status(n.nodeId)))).map((s) => s?.term ?? 0));
  const quiet = await measurePhase(cluster, system, seconds);
  const readToken = cluster.readToken();
  const floods = new Floods(() => cluster.nodes.map((n) => ({ node: n.nodeId, apiHost: cluster.hostOf(n.nodeId), apiPort: n.apiPort, raftHost: cluster.hostOf(n.nodeId), raftPort: n.raftPort, apiTls: cluster.apiUrl(n.nodeId).startsWith('https:'), readToken })), kinds);
  floods.start();
  let flood: PhaseFigures;
  try {
    flood = await measurePhase(cluster, system, seconds);
  } finally {
    await floods.stop();
  }
  const figures = figuresOf(quiet, flood, termsBefore, seconds, summarizeCounts(floods.counts));
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

async function main(options: Options): Promise<void> {
  const loadAtStart = loadavg().map((l) => Number(l.toFixed(2)));
  const cluster = await LocalCluster.create({
    dir: mkdtempSync(join(tmpdir(), 'qg-bench-hostile-')), nodes: 3, application: 'quorumgate', hostPrefix: HOST_PREFIX,
    timing: { tickMs: 50, electionTicks: 10, heartbeatTicks: 1, proposalTimeoutMs: 5_000 },
  });
  useClientFetch(cluster.fetch);
  const onSignal = (): void => {
    void cluster.destroy().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    cluster.startAll();
    await cluster.waitForLeader(30_000);
    const system = new QuorumgateSystem(cluster);
    await system.prepare(WRITERS);
    const floods: Record<string, FloodFigures> = {};
    console.log(`${'flood'.padEnd(20)} ${'leaders'.padStart(7)} ${'loop ms'.padStart(9)} ${'p99 q ms'.padStart(9)} ${'p99 f ms'.padStart(9)} ${'ratio'.padStart(6)} ${'rss MB'.padStart(7)} ${'log B/s'.padStart(8)}`);
    for (const name of options.floods) {
      const figures = await measureFlood(cluster, system, name === 'all' ? FLOOD_KINDS : [name], options.seconds);
      floods[name] = figures;
      console.log(formatLine(name, figures));
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
    await cluster.destroy();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(parseOptions(process.argv)).catch((error: unknown) => {
    console.error(`bench:hostile: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  });
}
