// devices-diagnostics.ts — bench:devices' once-a-second trace of each node, for attribution (why commits are
// slow, why leaders change): from GET /metrics the event-loop delay (prom-client's monitorEventLoopDelay, reset
// at every scrape, so `loop_max_ms` is the longest delay since the previous line), GC time, Raft term, leader,
// commit and applied index, storage writes, pending proposals and the reading queue; from
// /proc/<pid>/task/*/schedstat the node's CPU time and its time **runnable but waiting for a core** (all
// threads: the main thread, libuv's pool, V8's GC helpers). A node that waits for a core as long as it runs is
// starved, not idle: CPU ms/s alone cannot tell the two apart. One JSON line per node and second in the file.
import { appendFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';

/**
 * metricValues reads a Prometheus text exposition into name{labels} → value (comments skipped). Exported for
 * its test.
 */
export function metricValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    const value = Number(line.slice(space + 1));
    if (space > 0 && Number.isFinite(value)) out.set(line.slice(0, space), value);
  }
  return out;
}

/** NodeTarget is one node to trace: its number, its process id, and how to read its /metrics text. */
export interface NodeTarget {
  readonly gateway: number;
  readonly pid: () => number | undefined;
  readonly metrics: () => Promise<string>;
}

/** SchedTotals are a process's summed thread times: on a CPU and runnable-waiting, in ns. */
export interface SchedTotals {
  runNs: number;
  waitNs: number;
}

/** schedstatOf parses /proc/<pid>/task/<tid>/schedstat's text: "run_ns wait_ns timeslices". */
export function schedstatOf(text: string): SchedTotals {
  const [run, wait] = text.trim().split(/\s+/).map(Number);
  if (!Number.isFinite(run) || !Number.isFinite(wait)) throw new Error(`schedstatOf: expected "run_ns wait_ns slices", got ${JSON.stringify(text.slice(0, 60))}`);
  return { runNs: run!, waitNs: wait! };
}

/** processSched sums schedstat over every thread of `pid` (threads that ended meanwhile are left out); undefined once the process is gone. */
export function processSched(pid: number): SchedTotals | undefined {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const total = { runNs: 0, waitNs: 0 };
  for (const task of tasks) {
    try {
      const one = schedstatOf(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8'));
      total.runNs += one.runNs;
      total.waitNs += one.waitNs;
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return total;
}

/** METRICS are the /metrics values traced, by the field name they get in a line. */
const METRICS: Readonly<Record<string, string>> = {
  term: 'quorumgate_raft_term', leader: 'quorumgate_raft_leader_id', commit: 'quorumgate_raft_commit_index', applied: 'quorumgate_raft_applied_index',
  snapshot: 'quorumgate_raft_snapshot_index', readies: 'quorumgate_ready_total', saves: 'quorumgate_storage_saves_total',
  synced_saves: 'quorumgate_storage_synced_saves_total', save_s: 'quorumgate_storage_save_seconds_total', synced_save_s: 'quorumgate_storage_synced_save_seconds_total',
  saved_entries: 'quorumgate_storage_saved_entries_total', dropped_input: 'quorumgate_dropped_input_total', pending_proposals: 'quorumgate_pending_proposals',
  queued: 'quorumgate_device_readings_queued', submitted: 'quorumgate_device_readings_submitted_total', batches: 'quorumgate_device_reading_batches_total',
  batch_s: 'quorumgate_device_reading_batch_seconds_total', heap_used_bytes: 'quorumgate_process_nodejs_heap_size_used_bytes',
  heap_total_bytes: 'quorumgate_process_nodejs_heap_size_total_bytes', rss_bytes: 'quorumgate_process_process_resident_memory_bytes',
};

/** traceLine builds one node's line from its /metrics values and its schedstat delta over `intervalMs`. */
export function traceLine(metrics: ReadonlyMap<string, number>, sched: { run_ms: number; wait_ms: number } | null): Record<string, number | null> {
  const line: Record<string, number | null> = {};
  for (const [field, name] of Object.entries(METRICS)) line[field] = metrics.get(name) ?? null;
  const seconds = (name: string): number | null => {
    const value = metrics.get(name);
    return value === undefined ? null : Math.round(value * 10_000) / 10;
  };
  line['loop_max_ms'] = seconds('quorumgate_process_nodejs_eventloop_lag_max_seconds');
  line['loop_p99_ms'] = seconds('quorumgate_process_nodejs_eventloop_lag_p99_seconds');
  let gcS = 0;
  for (const [key, value] of metrics) if (key.startsWith('quorumgate_process_nodejs_gc_duration_seconds_sum')) gcS += value;
  line['gc_total_ms'] = Math.round(gcS * 1000);
  line['sched_run_ms'] = sched?.run_ms ?? null;
  line['sched_wait_ms'] = sched?.wait_ms ?? null;
  return line;
}

/**
 * Diagnostics writes a trace line per node each second to `file` (truncated at start) until stop(). A
 * scrape still in flight is not repeated: a node whose loop is held shows as a gap and a large loop_max_ms.
 */
export class Diagnostics {
  private timer: NodeJS.Timeout | null = null;
  private readonly busy = new Set<number>();
  private readonly lastSched = new Map<number, { pid: number; totals: SchedTotals; atMs: number }>();

  constructor(private readonly file: string, private readonly targets: readonly NodeTarget[]) {
    writeFileSync(file, '');
  }

  /** start samples every `everyMs`. */
  start(everyMs = 1_000): void {
    this.timer = setInterval(() => {
      for (const target of this.targets) void this.sample(target);
    }, everyMs);
  }

  /** stop ends the sampling (scrapes in flight finish on their own). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private async sample(target: NodeTarget): Promise<void> {
    if (this.busy.has(target.gateway)) return;
    this.busy.add(target.gateway);
    const startedMs = Date.now();
    try {
      const sched = this.schedDelta(target);
      const text = await target.metrics();
      const line = { t: new Date(startedMs).toISOString(), node: target.gateway, scrape_ms: Date.now() - startedMs, ...traceLine(metricValues(text), sched) };
      appendFileSync(this.file, `${JSON.stringify(line)}\n`);
    } catch (error) {
      appendFileSync(this.file, `${JSON.stringify({ t: new Date(startedMs).toISOString(), node: target.gateway, error: error instanceof Error ? error.message : String(error) })}\n`);
    } finally {
      this.busy.delete(target.gateway);
    }
  }

  /** schedDelta is the node's run and wait time (ms per second) since its previous sample; null for the first or after a restart. */
  private schedDelta(target: NodeTarget): { run_ms: number; wait_ms: number } | null {
    const pid = target.pid();
    if (pid === undefined) return null;
    const totals = processSched(pid);
    if (totals === undefined) return null;
    const nowMs = Date.now();
    const previous = this.lastSched.get(target.gateway);
    this.lastSched.set(target.gateway, { pid, totals, atMs: nowMs });
    if (previous === undefined || previous.pid !== pid || nowMs <= previous.atMs) return null;
    const perS = (ns: number): number => Math.round(ns / 1e6 / ((nowMs - previous.atMs) / 1000));
    return { run_ms: perS(totals.runNs - previous.totals.runNs), wait_ms: perS(totals.waitNs - previous.totals.waitNs) };
  }
}
