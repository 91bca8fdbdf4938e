// reaction-cluster-report.ts — the pure half of bench:reaction-cluster: its options, the stages of one reaction
// read from the nodes' log lines, the summaries (p50/p95 per mode and size), the report merged into
// bench/results/reaction.json beside bench:reaction's fields, and the printed table. No I/O here.
import { percentile } from './support.js';

/** ClusterMode is how the victim's gateway meets the attack (see bench/reaction-cluster.ts). */
export type ClusterMode = 'warm' | 'cold' | 'leader-kill';
export const CLUSTER_MODES: readonly ClusterMode[] = ['warm', 'cold', 'leader-kill'];

/** STAGES are the reaction's stages in path order; each sample measures every one of them or says which it could not. */
export const STAGES = ['alert', 'batching', 'commit', 'apply', 'flows'] as const;
export type Stage = (typeof STAGES)[number];

/** GOALS_P95_MS are issue 18's goals for the whole reaction's p95 (the leader-kill mode has none). */
export const GOALS_P95_MS: Readonly<Record<ClusterMode, number | null>> = { warm: 300, cold: 1_000, 'leader-kill': null };

/** Options are the command line's settings. */
export interface Options {
  runs: number;
  sizes: number[];
  modes: ClusterMode[];
  out: string;
}

/** parseOptions reads --runs N, --devices A,B,C, --modes M,N and --out FILE; bad input names the flag, expected and got. */
export function parseOptions(argv: readonly string[], defaultOut: string): Options {
  const options: Options = { runs: 10, sizes: [10, 100, 1_000], modes: [...CLUSTER_MODES], out: defaultOut };
  for (let index = 0; index < argv.length; index += 2) {
    const flag = argv[index]!;
    const value = argv[index + 1];
    if (value === undefined) throw new Error(`reaction-cluster: ${flag} expects a value`);
    if (flag === '--runs') options.runs = integerIn(flag, value, 1, 1_000);
    else if (flag === '--devices') options.sizes = value.split(',').map((one) => integerIn(flag, one, 3, 3_000));
    else if (flag === '--modes') options.modes = value.split(',').map((one) => modeOf(one));
    else if (flag === '--out') options.out = value;
    else throw new Error(`reaction-cluster: unknown argument ${JSON.stringify(flag)}; expected --runs N, --devices A,B,C, --modes ${CLUSTER_MODES.join(',')} or --out FILE`);
  }
  if (options.sizes.some((size, i) => i > 0 && size <= options.sizes[i - 1]!)) throw new Error(`reaction-cluster: --devices expected increasing sizes, got ${options.sizes.join(',')}`);
  return options;
}

function integerIn(flag: string, value: string, min: number, max: number): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) throw new Error(`reaction-cluster: ${flag} expected integers ${min}..${max}, got ${JSON.stringify(value)}`);
  return parsed;
}

function modeOf(value: string): ClusterMode {
  const mode = CLUSTER_MODES.find((one) => one === value);
  if (mode === undefined) throw new Error(`reaction-cluster: --modes expected some of ${CLUSTER_MODES.join(',')}, got ${JSON.stringify(value)}`);
  return mode;
}

/** NodeLogLine is one parsed line of a node's log (pino JSON), with the node it came from. */
export interface NodeLogLine {
  readonly nodeId: number;
  readonly msg?: unknown;
  readonly [field: string]: unknown;
}

/** parseLogLines parses the JSON lines of a node's log; lines that are not JSON objects (a crash trace) are skipped. */
export function parseLogLines(nodeId: number, text: string): NodeLogLine[] {
  const out: NodeLogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed === 'object' && parsed !== null) out.push({ ...(parsed as Record<string, unknown>), nodeId });
    } catch {
      // A line cut by a rotation or a crash: not one of the lines read here.
    }
  }
  return out;
}

/** ReactionInput is what one attack gave: the victim, its gateway, the bench's two packet times and every node's log since the attack. */
export interface ReactionInput {
  readonly deviceId: string;
  readonly servingNode: number;
  /** attackStartMs: the attacker's first packet (its own clock reading just before sending). */
  readonly attackStartMs: number;
  /** lastArrivalMs: the last attacker packet the victim received. */
  readonly lastArrivalMs: number;
  readonly lines: readonly NodeLogLine[];
}

/** StageSample is one reaction, split by stage (ms; null for a stage whose log line was not found). */
export interface StageSample {
  readonly totalMs: number;
  readonly stages: Record<Stage, number | null>;
  /** index is the entry that moved the victim to attack (null when no node logged it). */
  readonly index: number | null;
  /**
   * flowsSplit divides `flows` at the end of the serving node's flow bundle that stopped the attacker (its
   * debug 'reconcile pass' line): switch = apply → that bundle committed (planning, the pass, the bundle),
   * wire = → the last attacker packet. Null when the node logged no such pass (log level above debug).
   */
  readonly flowsSplit: { switchMs: number; wireMs: number } | null;
}

const numberField = (line: NodeLogLine, field: string): number | undefined => (typeof line[field] === 'number' ? (line[field] as number) : undefined);

/**
 * reactionStages splits one reaction, from the nodes' log lines:
 *   alert     first attack packet → the serving node reads the monitor μmbox's first alert ('μmbox alert' observedAtMs)
 *   batching  that alert → the serving node first proposes the batch that moved the victim ('telemetry committed' proposedAtMs)
 *   commit    that proposal → the first node applies the entry (the leader applies in the Ready that commits it)
 *   apply     commit → the serving node applies it ('device state changed' appliedAtMs on the serving node)
 *   flows     that apply → the last attacker packet received by the victim
 */
export function reactionStages(input: ReactionInput): StageSample {
  const { deviceId, servingNode, attackStartMs, lastArrivalMs, lines } = input;
  const serving = lines.filter((line) => line.nodeId === servingNode);
  const alertTimes = serving.filter((line) => line.msg === 'μmbox alert').map((line) => line['alert'] as { deviceId?: string; observedAtMs?: number } | undefined)
    .filter((alert) => alert?.deviceId === deviceId && typeof alert.observedAtMs === 'number' && alert.observedAtMs >= attackStartMs).map((alert) => alert!.observedAtMs!);
  const alertAt = alertTimes.length > 0 ? Math.min(...alertTimes) : undefined;
  const changes = lines.filter((line) => line.msg === 'device state changed' && line['deviceId'] === deviceId && line['to'] === 'attack' && (numberField(line, 'appliedAtMs') ?? 0) >= attackStartMs);
  const index = changes.length > 0 ? Math.min(...changes.map((line) => numberField(line, 'index') ?? Number.MAX_SAFE_INTEGER)) : undefined;
  const ofEntry = changes.filter((line) => numberField(line, 'index') === index);
  const committedAt = ofEntry.length > 0 ? Math.min(...ofEntry.map((line) => numberField(line, 'appliedAtMs')!)) : undefined;
  const appliedAt = ofEntry.find((line) => line.nodeId === servingNode)?.['appliedAtMs'] as number | undefined;
  const batch = serving.find((line) => line.msg === 'telemetry committed' && numberField(line, 'index') === index);
  const proposedAt = batch === undefined ? undefined : numberField(batch, 'proposedAtMs');
  const span = (from: number | undefined, to: number | undefined): number | null => (from === undefined || to === undefined ? null : to - from);
  const blockedAt = appliedAt === undefined ? undefined : bundleEnd(serving, appliedAt);
  return {
    totalMs: lastArrivalMs - attackStartMs,
    index: index ?? null,
    flowsSplit: appliedAt === undefined || blockedAt === undefined ? null : { switchMs: blockedAt - appliedAt, wireMs: lastArrivalMs - blockedAt },
    stages: {
      alert: span(attackStartMs, alertAt), batching: span(alertAt, proposedAt), commit: span(proposedAt, committedAt),
      apply: span(committedAt, appliedAt), flows: span(appliedAt, lastArrivalMs),
    },
  };
}

/**
 * bundleEnd is when the first flow bundle that changed something on the serving node after `appliedAt` was
 * committed on its switch: the early drop of a device whose block-all chain must start, else the chain's bundle.
 */
function bundleEnd(serving: readonly NodeLogLine[], appliedAt: number): number | undefined {
  for (const line of serving) {
    if (line.msg !== 'reconcile pass') continue;
    const result = line['result'] as { flowsAdded?: number; earlyBlocked?: number; earlyBlockedAtMs?: number; flowsAppliedAtMs?: number } | undefined;
    if (result === undefined || ((result.flowsAdded ?? 0) === 0 && (result.earlyBlocked ?? 0) === 0)) continue;
    const end = (result.earlyBlockedAtMs ?? 0) > 0 ? result.earlyBlockedAtMs! : result.flowsAppliedAtMs;
    if (end !== undefined && end >= appliedAt) return end;
  }
  return undefined;
}

/** missingStages names the stages a sample could not measure. */
export function missingStages(sample: StageSample): Stage[] {
  return STAGES.filter((stage) => sample.stages[stage] === null);
}

/** Quantiles are a p50 and a p95 (nearest rank, whole ms), or nulls for no values. */
export interface Quantiles {
  p50: number | null;
  p95: number | null;
}

/** quantiles summarizes values (nulls are left out: a stage not measured in one run). */
export function quantiles(values: ReadonlyArray<number | null>): Quantiles {
  const measured = values.filter((value): value is number => value !== null);
  if (measured.length === 0) return { p50: null, p95: null };
  return { p50: Math.round(percentile(measured, 50)), p95: Math.round(percentile(measured, 95)) };
}

/** CellReport is one mode at one size: the whole reaction, each stage, the runs and how many stages went unmeasured. */
export interface CellReport extends Quantiles {
  runs: number;
  /** measured_at and load_average_1m say when the cell was measured and how loaded the machine was (start, end). */
  measured_at?: string;
  load_average_1m?: [number, number];
  goal_p95: number | null;
  goal_met: boolean | null;
  stages: Record<Stage, Quantiles>;
  /** flows_split divides the flows stage (reactionStages' flowsSplit), over the runs that logged it. */
  flows_split: { switch: Quantiles; wire: Quantiles };
  unmeasured_stages: number;
  /** reactions_ms are the runs' reactions, in the order measured. */
  reactions_ms: number[];
}

/** cellReport summarizes the samples of one mode at one size. */
export function cellReport(mode: ClusterMode, samples: readonly StageSample[]): CellReport {
  const total = quantiles(samples.map((sample) => sample.totalMs));
  const goal = GOALS_P95_MS[mode];
  return {
    ...total, runs: samples.length, goal_p95: goal, goal_met: goal === null || total.p95 === null ? null : total.p95 <= goal,
    stages: Object.fromEntries(STAGES.map((stage) => [stage, quantiles(samples.map((sample) => sample.stages[stage]))])) as Record<Stage, Quantiles>,
    flows_split: {
      switch: quantiles(samples.map((sample) => sample.flowsSplit?.switchMs ?? null)),
      wire: quantiles(samples.map((sample) => sample.flowsSplit?.wireMs ?? null)),
    },
    unmeasured_stages: samples.reduce((sum, sample) => sum + missingStages(sample).length, 0),
    reactions_ms: samples.map((sample) => sample.totalMs),
  };
}

/** ClusterReaction is the `cluster_reaction_ms` field: by mode, then by size (devices in the cluster). */
export type ClusterReaction = Record<string, Record<string, CellReport>>;

/** clusterReaction summarizes every mode and size measured (sizes as keys, in the order measured). */
export function clusterReaction(results: ReadonlyMap<ClusterMode, ReadonlyMap<number, readonly StageSample[]>>): ClusterReaction {
  const out: ClusterReaction = {};
  for (const [mode, bySize] of results) {
    out[mode] = Object.fromEntries([...bySize].map(([size, samples]) => [String(size), cellReport(mode, samples)]));
  }
  return out;
}

/**
 * mergeReactionJson puts this bench's fields into the existing bench/results/reaction.json: bench:reaction's
 * fields are kept as they are, and `cluster_reaction_ms` is merged by mode and size, so that sizes measured in
 * separate runs sit side by side (a cell measured again is replaced). A file that is missing or not a JSON
 * object starts empty.
 */
export function mergeReactionJson(existing: unknown, fields: { cluster_reaction_ms: ClusterReaction } & Record<string, unknown>): Record<string, unknown> {
  const base = isRecord(existing) ? existing : {};
  const before = isRecord(base['cluster_reaction_ms']) ? base['cluster_reaction_ms'] : {};
  const merged: Record<string, unknown> = { ...before };
  for (const [mode, bySize] of Object.entries(fields.cluster_reaction_ms)) {
    merged[mode] = { ...(isRecord(before[mode]) ? before[mode] : {}), ...bySize };
  }
  return { ...base, ...fields, cluster_reaction_ms: merged };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** modeOrder puts first the modes that need no restart from the gateways' standby setting (cold turns it off). */
export function modeOrder(modes: readonly ClusterMode[], standby: boolean): ClusterMode[] {
  return [...modes.filter((mode) => (mode !== 'cold') === standby), ...modes.filter((mode) => (mode !== 'cold') !== standby)];
}

/** formatTable prints one row per mode and size: p50 and p95 of the reaction and of every stage, and the goal. */
export function formatTable(report: ClusterReaction): string {
  const cell = (q: Quantiles): string => `${q.p50 ?? '—'}/${q.p95 ?? '—'}`;
  const header = ['mode', 'devices', 'runs', 'reaction p50/p95', ...STAGES.map((stage) => `${stage} p50/p95`), 'flows: switch, wire', 'goal p95'];
  const rows = Object.entries(report).flatMap(([mode, bySize]) => Object.entries(bySize).map(([size, one]) => [
    mode, size, String(one.runs), cell(one), ...STAGES.map((stage) => cell(one.stages[stage])), `${cell(one.flows_split.switch)}, ${cell(one.flows_split.wire)}`,
    one.goal_p95 === null ? '—' : `≤ ${one.goal_p95}: ${one.goal_met === true ? 'met' : one.goal_met === false ? 'NOT met' : '—'}`,
  ]));
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (row: readonly string[]): string => `| ${row.map((value, i) => value.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
