// report.ts — what a chaos run leaves behind for a person: the history as recorded, the verdicts, a
// short text summary (with the command that repeats the run) and one self-contained HTML timeline.
//
// Rendering is pure (renderSummary, renderTimeline); writeReport only writes the four files. The HTML
// page has no script and loads nothing: inline SVG and inline CSS, every text escaped.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { faultIntervals, formatMs, type FaultInterval } from './checkers/common.js';
import { forbiddenIntervals } from './checkers/probes.js';
import type { CheckerVerdict, History, Outcome } from './history.js';

/** ReportFiles names the files writeReport wrote. */
export interface ReportFiles {
  readonly history: string;
  readonly verdicts: string;
  readonly summary: string;
  readonly timeline: string;
}

/** writeReport writes history.json, verdicts.json, summary.txt and timeline.html into `dir` (created if needed). */
export async function writeReport(dir: string, history: History, verdicts: readonly CheckerVerdict[]): Promise<ReportFiles> {
  await mkdir(dir, { recursive: true });
  const files: ReportFiles = {
    history: join(dir, 'history.json'),
    verdicts: join(dir, 'verdicts.json'),
    summary: join(dir, 'summary.txt'),
    timeline: join(dir, 'timeline.html'),
  };
  // JSON cannot hold Infinity; the history records none, but a hand-edited one might: write null.
  const json = (value: unknown): string => `${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`;
  await writeFile(files.history, json(history));
  await writeFile(files.verdicts, json(verdicts));
  await writeFile(files.summary, renderSummary(history, verdicts));
  await writeFile(files.timeline, renderTimeline(history, verdicts));
  return files;
}

/** repeatCommand is the command line that repeats a run (same seed, nodes, faults, duration, plant, hostile workload). */
export function repeatCommand(history: History): string {
  const run = history.run;
  const seconds = Number.isInteger(run.durationMs / 1000) ? String(run.durationMs / 1000) : (run.durationMs / 1000).toFixed(3);
  const plant = run.plant === undefined || run.plant === '' ? '' : ` --plant ${run.plant}`;
  const hostile = history.hostile === undefined ? '' : ' --hostile';
  return `npm run chaos -- --nodes ${run.nodes} --faults ${run.faults.join(',')} --duration ${seconds} --seed ${run.seed}${plant}${hostile}${run.topology === 'wan' ? ' --topology wan' : ''}`;
}

/** SUMMARY_PROBLEMS is how many problem lines of a failed checker the text summary shows. */
const SUMMARY_PROBLEMS = 5;
/** SUMMARY_FAULTS is how many injected faults the text summary lists. */
const SUMMARY_FAULTS = 30;

/** renderSummary is the short text a person reads first (also printed by the CLI). */
export function renderSummary(history: History, verdicts: readonly CheckerVerdict[]): string {
  const run = history.run;
  const failed = verdicts.filter((verdict) => !verdict.ok);
  const lines: string[] = [];
  lines.push(`quorumgate chaos run: ${failed.length === 0 ? 'PASS' : `FAIL (${failed.map((verdict) => verdict.checker).join(', ')})`}`);
  lines.push(`seed ${run.seed}, ${run.nodes} nodes (${run.nodeIds.map((id) => `n${id}`).join(' ')}), duration ${run.durationMs / 1000} s, faults ${run.faults.join(',') || 'none'}, plant ${run.plant ?? 'none'}`);
  lines.push(`repeat: ${repeatCommand(history)}`);
  lines.push(`healed at ${formatMs(run.healedAtMs)}, final observation at ${formatMs(run.endedAtMs)}`);
  lines.push('');
  const intervals = faultIntervals(history.faults);
  lines.push(`faults injected: ${intervals.length}`);
  for (const fault of intervals.slice(0, SUMMARY_FAULTS)) {
    lines.push(`  ${formatMs(fault.startMs)} .. ${Number.isFinite(fault.endMs) ? formatMs(fault.endMs) : 'never undone'}  ${fault.fault}  ${fault.detail}${fault.nodes.length > 0 ? ` [${fault.nodes.map((id) => `n${id}`).join(',')}]` : ''}`);
  }
  if (intervals.length > SUMMARY_FAULTS) lines.push(`  ... and ${intervals.length - SUMMARY_FAULTS} more`);
  lines.push('');
  lines.push('operations:');
  const writes = history.register.filter((op) => op.kind === 'write');
  const reads = history.register.filter((op) => op.kind === 'read');
  lines.push(`  register writes ${outcomeCounts(writes)}; reads ${outcomeCounts(reads)}`);
  lines.push(`  unique updates ${outcomeCounts(history.updates)}`);
  lines.push(`  state changes ${outcomeCounts(history.stateChanges)}, ${history.stateChanges.filter((change) => change.enforcedMs !== null).length} confirmed enforced`);
  const kinds = new Map<string, number>();
  for (const attempt of history.adversary) kinds.set(attempt.kind, (kinds.get(attempt.kind) ?? 0) + 1);
  lines.push(`  adversary attempts ${history.adversary.length}${kinds.size > 0 ? ` (${[...kinds].map(([kind, count]) => `${kind} ${count}`).join(', ')})` : ''}`);
  const sent = history.probes.reduce((sum, series) => sum + series.sent.length, 0);
  const received = history.probes.reduce((sum, series) => sum + series.received.length, 0);
  lines.push(`  probes: ${history.probes.length} device(s), ${sent} datagrams sent, ${received} received`);
  const okWrites = okWriteTimes(history).length;
  const seconds = Math.max(run.durationMs, 1) / 1000;
  const latencies = okLatencies(history).sort((a, b) => a - b);
  lines.push(`throughput: ${(okWrites / seconds).toFixed(1)} ok writes/s (${okWrites} in ${seconds} s); ok latency p50 ${percentile(latencies, 0.5)} ms, p99 ${percentile(latencies, 0.99)} ms`);
  lines.push('');
  lines.push(`checkers: ${verdicts.length - failed.length} of ${verdicts.length} passed`);
  for (const verdict of verdicts) {
    lines.push(`  ${verdict.ok ? 'PASS' : 'FAIL'} ${verdict.checker}: ${verdict.summary}`);
    if (verdict.ok) continue;
    for (const problem of verdict.problems.slice(0, SUMMARY_PROBLEMS)) lines.push(`       ${problem}`);
    if (verdict.problems.length > SUMMARY_PROBLEMS) lines.push(`       (${verdict.problems.length - SUMMARY_PROBLEMS} more lines in verdicts.json)`);
  }
  return `${lines.join('\n')}\n`;
}

function outcomeCounts(ops: ReadonlyArray<{ outcome: Outcome }>): string {
  const counts: Record<Outcome, number> = { ok: 0, fail: 0, info: 0 };
  for (const op of ops) counts[op.outcome] += 1;
  return `${ops.length} (ok ${counts.ok}, fail ${counts.fail}, info ${counts.info})`;
}

/** okWriteTimes lists when each ok write (register write or unique update) was answered. */
function okWriteTimes(history: History): number[] {
  const times: number[] = [];
  for (const op of history.register) if (op.kind === 'write' && op.outcome === 'ok' && op.completeMs !== null) times.push(op.completeMs);
  for (const update of history.updates) if (update.outcome === 'ok' && update.completeMs !== null) times.push(update.completeMs);
  return times;
}

/** okOperations lists the answered ok operations (register and updates) with their latency. */
function okOperations(history: History): Array<{ completeMs: number; latencyMs: number }> {
  const out: Array<{ completeMs: number; latencyMs: number }> = [];
  for (const op of [...history.register, ...history.updates]) {
    if (op.outcome === 'ok' && op.completeMs !== null) out.push({ completeMs: op.completeMs, latencyMs: op.completeMs - op.invokeMs });
  }
  return out;
}

function okLatencies(history: History): number[] {
  return okOperations(history).map((op) => op.latencyMs);
}

function percentile(sorted: readonly number[], q: number): string {
  if (sorted.length === 0) return '-';
  return String(Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!));
}

// ---------------------------------------------------------------------------------------------------
// The timeline page.

/** escapeHtml makes any text safe inside HTML text and double- or single-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const NODE_COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
const WIDTH = 1200;
const LEFT = 230;
const RIGHT = 20;
const PLOT = WIDTH - LEFT - RIGHT;
const ROW = 18;
/** MAX_DRAWN_ITEMS bounds how many marks one lane draws (the page stays small for long runs). */
const MAX_DRAWN_ITEMS = 5_000;

interface Lane {
  readonly title: string;
  readonly height: number;
  readonly body: (y: number) => string;
}

/** renderTimeline renders the one-page HTML timeline of a run (no script, no external resource). */
export function renderTimeline(history: History, verdicts: readonly CheckerVerdict[]): string {
  const endMs = Math.max(1, history.run.endedAtMs, history.run.durationMs, ...history.samples.map((sample) => sample.t));
  const x = (t: number): number => LEFT + (Math.min(Math.max(t, 0), endMs) / endMs) * PLOT;
  const faults = faultIntervals(history.faults);
  const lanes: Lane[] = [
    faultLane(faults, x),
    ...leaderLanes(history, x, endMs),
    throughputLane(history, x, endMs),
    latencyLane(history, x, endMs),
    ...enforcementLanes(history, x),
    ...probeLanes(history, x, endMs),
  ];
  const height = 30 + lanes.reduce((sum, lane) => sum + lane.height + 8, 0) + 20;
  const parts: string[] = [];
  let y = 30;
  for (const lane of lanes) {
    parts.push(`<text x="${LEFT - 6}" y="${y + Math.min(lane.height, ROW) / 2 + 4}" text-anchor="end" class="lane">${escapeHtml(lane.title)}</text>`);
    parts.push(`<line x1="${LEFT}" x2="${LEFT + PLOT}" y1="${y + lane.height}" y2="${y + lane.height}" class="grid"/>`);
    parts.push(lane.body(y));
    y += lane.height + 8;
  }
  // Fault bands shade every lane, so cause and effect line up on the shared axis.
  const bands = faults.slice(0, MAX_DRAWN_ITEMS).map((fault) => {
    const x1 = x(fault.startMs);
    const x2 = x(Number.isFinite(fault.endMs) ? fault.endMs : endMs);
    return `<rect x="${x1.toFixed(1)}" y="30" width="${Math.max(1, x2 - x1).toFixed(1)}" height="${height - 50}" class="band"/>`;
  }).join('');
  const healed = `<line x1="${x(history.run.healedAtMs).toFixed(1)}" x2="${x(history.run.healedAtMs).toFixed(1)}" y1="20" y2="${height - 20}" class="healed"><title>healed at ${escapeHtml(formatMs(history.run.healedAtMs))}</title></line>` +
    `<text x="${x(history.run.healedAtMs).toFixed(1)}" y="16" text-anchor="middle" class="small">healed</text>`;
  const svg = `<svg width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="run timeline">` +
    `${bands}${axis(x, endMs, height)}${parts.join('')}${healed}</svg>`;
  return page(history, verdicts, svg);
}

function page(history: History, verdicts: readonly CheckerVerdict[], svg: string): string {
  const failed = verdicts.filter((verdict) => !verdict.ok);
  const verdictRows = verdicts.map((verdict) => {
    const problems = verdict.problems.length === 0 ? '' : `<details${verdict.ok ? '' : ' open'}><summary>${verdict.problems.length} problem line(s)</summary><pre>${escapeHtml(verdict.problems.join('\n'))}</pre></details>`;
    return `<li class="${verdict.ok ? 'pass' : 'fail'}"><b>${verdict.ok ? 'PASS' : 'FAIL'}</b> <code>${escapeHtml(verdict.checker)}</code> — ${escapeHtml(verdict.summary)}${problems}</li>`;
  }).join('\n');
  const run = history.run;
  const title = `quorumgate chaos run, seed ${run.seed}: ${failed.length === 0 ? 'PASS' : `FAIL (${failed.map((verdict) => verdict.checker).join(', ')})`}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 16px; color: #222; }
h1 { font-size: 18px; margin: 0 0 8px; }
ul.verdicts { list-style: none; padding: 0; margin: 8px 0 16px; }
ul.verdicts li { padding: 3px 6px; margin: 2px 0; border-left: 5px solid; }
li.pass { border-color: #2ca02c; background: #f1faf1; }
li.fail { border-color: #d62728; background: #fdf0f0; }
pre { white-space: pre-wrap; margin: 4px 0; font-size: 12px; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
svg text.lane { font-weight: 600; }
svg text.small { font-size: 10px; fill: #555; }
svg .grid { stroke: #ddd; stroke-width: 1; }
svg .tick { stroke: #999; stroke-width: 1; }
svg .band { fill: #ffd54f; opacity: 0.18; }
svg .fault { fill: #ffb300; stroke: #a86f00; stroke-width: 0.5; }
svg .healed { stroke: #2ca02c; stroke-width: 1.5; stroke-dasharray: 4 3; }
svg .down { fill: #bdbdbd; }
svg .bar { fill: #5c7cfa; }
svg .p50 { fill: none; stroke: #1f77b4; stroke-width: 1.2; }
svg .p99 { fill: none; stroke: #d62728; stroke-width: 1.2; }
svg .forbid { stroke: #d62728; stroke-width: 4; }
svg .allow { stroke: #2ca02c; stroke-width: 4; }
svg .pending { stroke-dasharray: 3 2; opacity: 0.6; }
svg .violation { stroke: #d62728; stroke-width: 2; }
svg .forbidden { fill: #d62728; opacity: 0.10; }
p.legend { font-size: 12px; color: #555; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(`${run.nodes} nodes, ${run.durationMs / 1000} s, faults ${run.faults.join(',') || 'none'}, plant ${run.plant ?? 'none'}; healed at ${formatMs(run.healedAtMs)}`)}<br>
repeat: <code>${escapeHtml(repeatCommand(history))}</code></p>
<ul class="verdicts">
${verdictRows}
</ul>
<p class="legend">Yellow bands: faults (start to end). Leader lanes: solid = leader, pale = follower, grey = down. Enforcement: a bar from invocation to confirmed enforcement, red = a state that forbids the probes, green = one that allows them, dashed = never confirmed. Probe lanes: datagrams received per second; red shading = forbidden intervals; red ticks = datagrams delivered while forbidden.</p>
${svg}
</body>
</html>
`;
}

function axis(x: (t: number) => number, endMs: number, height: number): string {
  const stepMs = niceStep(endMs / 12);
  const ticks: string[] = [];
  for (let t = 0; t <= endMs && ticks.length < 100; t += stepMs) {
    ticks.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="22" y2="${height - 20}" class="grid"/>` +
      `<text x="${x(t).toFixed(1)}" y="${height - 6}" text-anchor="middle" class="small">${escapeHtml(`${Math.round(t / 100) / 10}s`)}</text>`);
  }
  return ticks.join('');
}

function niceStep(roughMs: number): number {
  for (const step of [100, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000]) if (step >= roughMs) return step;
  return 3_600_000;
}

function faultLane(faults: readonly FaultInterval[], x: (t: number) => number): Lane {
  // Overlapping faults are stacked into sub-rows (first row free at the fault's start).
  const rowEnds: number[] = [];
  const placed = faults.slice(0, MAX_DRAWN_ITEMS).map((fault) => {
    let row = rowEnds.findIndex((end) => end <= fault.startMs);
    if (row < 0) row = rowEnds.push(0) - 1;
    rowEnds[row] = fault.endMs;
    return { fault, row };
  });
  const rows = Math.max(1, rowEnds.length);
  return {
    title: 'faults', height: rows * ROW,
    body: (y) => placed.map(({ fault, row }) => {
      const x1 = x(fault.startMs);
      const x2 = Number.isFinite(fault.endMs) ? x(fault.endMs) : LEFT + PLOT;
      const label = `${fault.fault} ${fault.detail}`;
      // The box shows as much of the family's name as fits (about 5.5 px a character); the tooltip has it all.
      const fits = Math.floor((x2 - x1 - 4) / 5.5);
      const shown = fits >= fault.fault.length ? fault.fault : fits >= 4 ? `${fault.fault.slice(0, fits - 1)}…` : '';
      const tip = `${label} [${fault.nodes.map((id) => `n${id}`).join(',')}] ${formatMs(fault.startMs)} .. ${Number.isFinite(fault.endMs) ? formatMs(fault.endMs) : 'never undone'}`;
      return `<g><title>${escapeHtml(tip)}</title><rect x="${x1.toFixed(1)}" y="${y + row * ROW + 2}" width="${Math.max(2, x2 - x1).toFixed(1)}" height="${ROW - 4}" class="fault"/>` +
        (shown === '' ? '' : `<text x="${(x1 + 2).toFixed(1)}" y="${y + row * ROW + ROW - 5}" class="small">${escapeHtml(shown)}</text>`) + '</g>';
    }).join(''),
  };
}

function leaderLanes(history: History, x: (t: number) => number, endMs: number): Lane[] {
  const nodes = [...new Set([...history.run.nodeIds, ...history.samples.map((sample) => sample.node)])].sort((a, b) => a - b);
  return nodes.map((node, i) => {
    const colour = NODE_COLOURS[i % NODE_COLOURS.length]!;
    const samples = history.samples.filter((sample) => sample.node === node).sort((a, b) => a.t - b.t);
    // Consecutive samples in the same condition merge into one segment.
    const segments: Array<{ fromMs: number; toMs: number; kind: string; detail: string }> = [];
    samples.forEach((sample, k) => {
      const toMs = samples[k + 1]?.t ?? Math.min(endMs, sample.t + 250);
      const kind = !sample.up ? 'down' : sample.role === 'leader' ? 'leader' : sample.role === 'candidate' || sample.role === 'precandidate' ? 'candidate' : 'follower';
      const detail = sample.up ? `${sample.role ?? '?'} term ${sample.term ?? '?'} leader ${sample.leader === undefined ? '?' : `n${sample.leader}`} commit ${sample.commit ?? '?'} applied ${sample.applied ?? '?'}` : 'down';
      const last = segments[segments.length - 1];
      if (last !== undefined && last.kind === kind && last.toMs === sample.t) last.toMs = toMs;
      else segments.push({ fromMs: sample.t, toMs, kind, detail });
    });
    return {
      title: `n${node}`, height: ROW,
      body: (y: number) => segments.slice(0, MAX_DRAWN_ITEMS).map((segment) => {
        const x1 = x(segment.fromMs);
        const width = Math.max(1, x(segment.toMs) - x1).toFixed(1);
        const style = segment.kind === 'down' ? 'class="down"' : `fill="${colour}" opacity="${segment.kind === 'leader' ? 1 : segment.kind === 'candidate' ? 0.55 : 0.22}"`;
        return `<rect x="${x1.toFixed(1)}" y="${y + 2}" width="${width}" height="${ROW - 4}" ${style}><title>${escapeHtml(`n${node} ${formatMs(segment.fromMs)} .. ${formatMs(segment.toMs)}: ${segment.kind === 'down' ? 'down' : `${segment.kind} (first sample: ${segment.detail})`}`)}</title></rect>`;
      }).join(''),
    };
  });
}

/** perSecond counts times into one-second buckets over [0, endMs]. */
function perSecond(times: readonly number[], endMs: number): number[] {
  const buckets = new Array<number>(Math.ceil(endMs / 1000) + 1).fill(0);
  for (const t of times) if (t >= 0 && t <= endMs) buckets[Math.floor(t / 1000)]! += 1;
  return buckets;
}

function barLane(title: string, values: readonly number[], x: (t: number) => number, height: number, unit: string): Lane {
  const max = Math.max(1, ...values);
  return {
    title: `${title} (max ${max}${unit})`, height,
    body: (y) => values.map((value, second) => {
      if (value === 0) return '';
      const h = (value / max) * (height - 2);
      const x1 = x(second * 1000);
      return `<rect x="${x1.toFixed(1)}" y="${(y + height - h).toFixed(1)}" width="${Math.max(1, x(second * 1000 + 1000) - x1 - 0.5).toFixed(1)}" height="${h.toFixed(1)}" class="bar"><title>${escapeHtml(`${second}s: ${value}${unit}`)}</title></rect>`;
    }).join(''),
  };
}

function throughputLane(history: History, x: (t: number) => number, endMs: number): Lane {
  return barLane('ok writes/s', perSecond(okWriteTimes(history), endMs), x, 40, '/s');
}

function latencyLane(history: History, x: (t: number) => number, endMs: number): Lane {
  const buckets = new Map<number, number[]>();
  for (const op of okOperations(history)) {
    if (op.completeMs < 0 || op.completeMs > endMs) continue;
    const second = Math.floor(op.completeMs / 1000);
    buckets.set(second, [...(buckets.get(second) ?? []), op.latencyMs]);
  }
  const points = [...buckets].sort((a, b) => a[0] - b[0]).map(([second, list]) => {
    const sorted = [...list].sort((a, b) => a - b);
    return { second, p50: sorted[Math.floor(0.5 * sorted.length)]!, p99: sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))]! };
  });
  const height = 50;
  const max = Math.max(1, ...points.map((point) => point.p99));
  const line = (y: number, pick: (point: { p50: number; p99: number }) => number, cls: string): string => points.length === 0 ? '' :
    `<polyline class="${cls}" points="${points.map((point) => `${x(point.second * 1000 + 500).toFixed(1)},${(y + height - (pick(point) / max) * (height - 2)).toFixed(1)}`).join(' ')}"/>`;
  return {
    title: `ok latency p50/p99 (max ${Math.round(max)} ms)`, height,
    body: (y) => `${line(y, (point) => point.p50, 'p50')}${line(y, (point) => point.p99, 'p99')}`,
  };
}

function enforcementLanes(history: History, x: (t: number) => number): Lane[] {
  const devices = [...new Set(history.stateChanges.map((change) => change.device))].sort();
  return devices.map((device) => {
    const changes = history.stateChanges.filter((change) => change.device === device).slice(0, MAX_DRAWN_ITEMS);
    return {
      title: `enforce ${device}`, height: ROW,
      body: (y: number) => changes.map((change) => {
        const x1 = x(change.invokeMs);
        const x2 = change.enforcedMs === null ? x(change.invokeMs + 1000) : x(change.enforcedMs);
        const tip = `${device} -> ${change.state} (${change.forbids ? 'forbids' : 'allows'} probes) via n${change.gateway}: invoked ${formatMs(change.invokeMs)}, ${change.enforcedMs === null ? `never confirmed (${change.outcome})` : `enforced ${formatMs(change.enforcedMs)}`}`;
        return `<line x1="${x1.toFixed(1)}" x2="${Math.max(x1 + 2, x2).toFixed(1)}" y1="${y + ROW / 2}" y2="${y + ROW / 2}" class="${change.forbids ? 'forbid' : 'allow'}${change.enforcedMs === null ? ' pending' : ''}"><title>${escapeHtml(tip)}</title></line>`;
      }).join(''),
    };
  });
}

function probeLanes(history: History, x: (t: number) => number, endMs: number): Lane[] {
  return history.probes.map((series) => {
    const counts = perSecond(series.received.map((datagram) => datagram.t), endMs);
    const bars = barLane(`probes ${series.device}`, counts, x, 30, ' recv/s');
    const intervals = forbiddenIntervals(history.stateChanges.filter((change) => change.device === series.device));
    const violations = series.received.filter((datagram) => {
      const sentMs = series.sent[datagram.seq];
      return sentMs !== undefined && intervals.some((interval) => sentMs >= interval.fromMs && sentMs < interval.toMs);
    }).slice(0, MAX_DRAWN_ITEMS);
    return {
      title: bars.title, height: bars.height,
      body: (y: number) => intervals.map((interval) => {
        const x1 = x(interval.fromMs);
        const x2 = x(Number.isFinite(interval.toMs) ? interval.toMs : endMs);
        return `<rect x="${x1.toFixed(1)}" y="${y}" width="${Math.max(1, x2 - x1).toFixed(1)}" height="${bars.height}" class="forbidden"><title>${escapeHtml(`${series.device} forbidden (${interval.change.state}) ${formatMs(interval.fromMs)} .. ${formatMs(interval.toMs)}`)}</title></rect>`;
      }).join('') + bars.body(y) + violations.map((datagram) => {
        const sx = x(series.sent[datagram.seq]!).toFixed(1);
        return `<line x1="${sx}" x2="${sx}" y1="${y}" y2="${y + bars.height}" class="violation"><title>${escapeHtml(`${series.device} datagram ${datagram.seq} sent ${formatMs(series.sent[datagram.seq])} delivered ${formatMs(datagram.t)} while forbidden`)}</title></line>`;
      }).join(''),
    };
  });
}
