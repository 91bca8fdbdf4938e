// etcd-profile.ts — bench:etcd's profile mode (`npm run bench:etcd -- --cpu-prof DIR --levels 1,64`):
// where each process's CPU goes per write, quorumgate only (issue #18 item 2).
//
// Method: the same 3-node gateway cluster, set-up and closed-loop signed writes as bench:etcd, with every
// node under `node --cpu-prof` and the load generator profiled through the inspector. For each level the
// measured window (after the warm-up) is noted in monotonic microseconds, the clock V8 stamps samples
// with, and every process's main-thread and other-thread CPU is read from /proc/<pid>/task/*/stat at its
// ends. After the run the nodes stop gracefully (which writes their profiles), each profile is cut to each
// window and sorted into costs (cpu-profile.ts), and the shares are scaled to the main thread's measured
// CPU: samples are wall-clock ticks and include descheduled time on a shared machine. CPU of the other
// threads (libuv's pool: LevelDB writes and fsyncs) is reported beside, unsplit.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../cluster/local-cluster.js';
import { breakdown, CATEGORIES, perWrite, readProfile, type Category, type CpuProfile, type ProfileBreakdown } from './cpu-profile.js';
import { QuorumgateSystem, clientOf } from './etcd.js';
import { runClosedLoop } from './support.js';

/** ProfileOptions configure runProfile. */
export interface ProfileOptions {
  readonly dir: string;
  readonly levels: readonly number[];
  readonly seconds: number;
  readonly tickMs: number;
  readonly electionTicks: number;
}

/** ThreadCpu is a process's CPU milliseconds so far: its main thread and all its other threads. */
export interface ThreadCpu {
  readonly mainMs: number;
  readonly otherMs: number;
  /** otherByNameMs: the other threads' CPU by thread name (/proc/.../comm: libuv-worker, V8 workers, ...). */
  readonly otherByNameMs: Record<string, number>;
}

const WARMUP_SECONDS = 1;
const WRITE_TIMEOUT_MS = 10_000;

/** parseTaskStat reads utime + stime (fields 14 and 15, in clock ticks) out of a /proc/.../stat line. */
export function parseTaskStat(line: string): number {
  // The command name (field 2) is in parentheses and may hold spaces: count fields after its ')'.
  const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unexpected /proc stat line: ${line.slice(0, 80)}`);
  return utime + stime;
}

/** CLOCK_TICKS_PER_S is the kernel's USER_HZ (100 on Linux for every architecture Node supports). */
const CLOCK_TICKS_PER_S = 100;

/** threadCpu reads a process's main-thread and other-thread CPU from /proc. */
export function threadCpu(pid: number): ThreadCpu {
  let mainMs = 0;
  let otherMs = 0;
  const otherByNameMs: Record<string, number> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let ticks: number;
    let name: string;
    try {
      ticks = parseTaskStat(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
      name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    } catch {
      continue; // a thread that ended between the listing and the read
    }
    const ms = (ticks * 1000) / CLOCK_TICKS_PER_S;
    if (Number(tid) === pid) {
      mainMs += ms;
    } else {
      otherMs += ms;
      otherByNameMs[name] = (otherByNameMs[name] ?? 0) + ms;
    }
  }
  return { mainMs, otherMs, otherByNameMs };
}

function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** LevelWindow is one measured level: its window and every process's CPU at both ends. */
interface LevelWindow {
  readonly level: number;
  readonly fromUs: number;
  readonly toUs: number;
  readonly writes: number;
  readonly writesPerSecond: number;
  readonly cpuBefore: Record<string, ThreadCpu>;
  readonly cpuAfter: Record<string, ThreadCpu>;
  readonly p50Ms: number;
}

/** ProcessReport is one process's figures at one level. */
export interface ProcessReport {
  readonly main_thread_cpu_ms_per_write: number;
  readonly other_threads_cpu_ms_per_write: number;
  readonly other_threads_by_name_ms_per_write: Record<string, number>;
  readonly main_thread_busy_share: number;
  readonly per_write_ms: Record<Category, number>;
  readonly top_self_ms: ProfileBreakdown['topSelf'];
}

/** runProfile runs the profile mode and writes DIR/summary.json; returns the summary. */
export async function runProfile(options: ProfileOptions, log: (line: string) => void = console.log): Promise<unknown> {
  mkdirSync(options.dir, { recursive: true });
  const loadAtStart = loadavg();
  const cluster = await LocalCluster.create({
    dir: mkdtempSync(join(tmpdir(), 'qg-bench-profile-')), nodes: 3, application: 'quorumgate',
    timing: { tickMs: options.tickMs, electionTicks: options.electionTicks, heartbeatTicks: 1, proposalTimeoutMs: 5_000 },
  });
  const nodeIds = cluster.nodes.map((n) => n.nodeId);
  const session = new Session();
  const windows: LevelWindow[] = [];
  let leaderName = '';
  try {
    for (const id of nodeIds) cluster.start(id, {}, ['--cpu-prof', `--cpu-prof-dir=${join(options.dir, `node-${id}`)}`]);
    const system = new QuorumgateSystem(cluster);
    log(`profile mode: setting up ${Math.max(...options.levels)} admin keys`);
    await system.prepare(Math.max(64, ...options.levels));
    await system.settled();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 1000 });
    for (const level of options.levels) {
      leaderName = await system.leader();
      const pids: Record<string, number> = { client: process.pid };
      for (const id of nodeIds) pids[`node-${id}`] = cluster.pid(id)!;
      const readAll = (): Record<string, ThreadCpu> => Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, threadCpu(pid)]));
      await session.post('Profiler.start');
      const startUs = monotonicUs();
      let cpuBefore: Record<string, ThreadCpu> = {};
      let cpuAfter: Record<string, ThreadCpu> = {};
      const fromUs = startUs + WARMUP_SECONDS * 1e6;
      const toUs = fromUs + options.seconds * 1e6;
      const marks = [
        setTimeout(() => { cpuBefore = readAll(); }, WARMUP_SECONDS * 1000),
        setTimeout(() => { cpuAfter = readAll(); }, (WARMUP_SECONDS + options.seconds) * 1000),
      ];
      const result = await runClosedLoop({ proposers: level, seconds: options.seconds, warmupSeconds: WARMUP_SECONDS, send: (id) => system.write(clientOf(id), leaderName, WRITE_TIMEOUT_MS) });
      marks.forEach(clearTimeout);
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(join(options.dir, `client-${level}.cpuprofile`), JSON.stringify(profile));
      const sorted = [...result.latenciesMs].sort((a, b) => a - b);
      windows.push({ level, fromUs, toUs, writes: result.perSecond * options.seconds, writesPerSecond: result.perSecond, cpuBefore, cpuAfter, p50Ms: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN });
      log(`profile mode: ${level} clients: ${Math.round(result.perSecond)} writes/s, p50 ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)} ms, errors ${result.errors}`);
    }
  } finally {
    session.disconnect();
    // A profiled node writes its profile on a graceful exit: give it time.
    for (const id of nodeIds) await cluster.stop(id, 60_000).catch(() => undefined);
    await cluster.destroy().catch(() => undefined);
  }
  const summary = summarize(options, windows, leaderName, loadAtStart);
  writeFileSync(join(options.dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  log(formatSummary(summary));
  log(`profiles and summary.json in ${options.dir}`);
  return summary;
}

interface Summary {
  readonly date: string;
  readonly load_average: { readonly start: number[]; readonly end: number[] };
  readonly leader: string;
  readonly levels: Record<string, { writes_per_s: number; p50_ms: number; processes: Record<string, ProcessReport> }>;
}

function summarize(options: ProfileOptions, windows: readonly LevelWindow[], leader: string, loadAtStart: number[]): Summary {
  const profiles = new Map<string, CpuProfile>();
  for (const name of readdirSync(options.dir)) {
    if (!name.startsWith('node-')) continue;
    const files = readdirSync(join(options.dir, name)).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length > 0) profiles.set(name, readProfile(join(options.dir, name, files.sort().at(-1)!)));
  }
  const levels: Summary['levels'] = {};
  for (const w of windows) {
    const processes: Record<string, ProcessReport> = {};
    const profileOf = (name: string): CpuProfile | undefined => name === 'client' ? readProfile(join(options.dir, `client-${w.level}.cpuprofile`)) : profiles.get(name);
    for (const name of Object.keys(w.cpuAfter)) {
      const profile = profileOf(name);
      const before = w.cpuBefore[name];
      const after = w.cpuAfter[name];
      if (profile === undefined || before === undefined || after === undefined) continue;
      const cut = breakdown(profile, w.fromUs, w.toUs);
      const mainMs = after.mainMs - before.mainMs;
      const busy = CATEGORIES.filter((c) => c !== 'idle').reduce((s, c) => s + cut.byCategoryMs[c], 0);
      const label = name === `node-${leader}` ? `${name} (leader)` : name;
      processes[label] = {
        main_thread_cpu_ms_per_write: round3(mainMs / w.writes),
        other_threads_cpu_ms_per_write: round3((after.otherMs - before.otherMs) / w.writes),
        other_threads_by_name_ms_per_write: Object.fromEntries(Object.entries(after.otherByNameMs)
          .map(([thread, ms]) => [thread, round3((ms - (before.otherByNameMs[thread] ?? 0)) / w.writes)] as const).filter(([, ms]) => ms > 0)),
        main_thread_busy_share: cut.sampledMs > 0 ? Math.round((busy / cut.sampledMs) * 1000) / 1000 : 0,
        per_write_ms: perWrite(cut, mainMs, w.writes),
        top_self_ms: cut.topSelf,
      };
    }
    levels[String(w.level)] = { writes_per_s: Math.round(w.writesPerSecond), p50_ms: Math.round(w.p50Ms * 10) / 10, processes };
  }
  return { date: new Date().toISOString(), load_average: { start: loadAtStart.map(round1), end: loadavg().map(round1) }, leader, levels };
}

/** formatSummary prints, per level, a table of CPU ms per write by category and process. */
function formatSummary(summary: Summary): string {
  const lines: string[] = [];
  for (const [level, figures] of Object.entries(summary.levels)) {
    const names = Object.keys(figures.processes);
    lines.push(`\n${level} clients: ${figures.writes_per_s} writes/s, p50 ${figures.p50_ms} ms — CPU ms per write`);
    lines.push(`${'category'.padEnd(14)}${names.map((n) => n.padStart(18)).join('')}${'all'.padStart(9)}`);
    const row = (label: string, pick: (p: ProcessReport) => number): void => {
      const values = names.map((n) => pick(figures.processes[n]!));
      lines.push(`${label.padEnd(14)}${values.map((v) => v.toFixed(3).padStart(18)).join('')}${values.reduce((a, b) => a + b, 0).toFixed(3).padStart(9)}`);
    };
    for (const category of CATEGORIES) if (category !== 'idle') row(category, (p) => p.per_write_ms[category]);
    row('main thread', (p) => p.main_thread_cpu_ms_per_write);
    row('other threads', (p) => p.other_threads_cpu_ms_per_write);
    row('busy share', (p) => p.main_thread_busy_share);
  }
  return lines.join('\n');
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
