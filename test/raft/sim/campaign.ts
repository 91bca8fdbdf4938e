// campaign.ts — runs many seeds and summarises them (used by the CLI and the CI tests).
import type { PlantedBug } from '../support/planted-raft.js';
import { DEFAULT_LIVENESS_FAULT_STEPS, DEFAULT_SAFETY_STEPS, runSimulation, type SimResult, type SimStats } from './simulator.js';
import type { ProfileKind } from './profile.js';
import type { InvariantKind, RunMode } from './violation.js';

/** NodeCount is a supported founding cluster size. */
export type NodeCount = 3 | 5 | 7;

/** NODE_COUNTS lists the supported cluster sizes; a campaign without a fixed size rotates through them by seed. */
export const NODE_COUNTS: readonly NodeCount[] = [3, 5, 7];

/** CampaignOptions selects a range of seeds. */
export interface CampaignOptions {
  readonly firstSeed: number;
  readonly seeds: number;
  /** nodes: a fixed size, or undefined to mix 3, 5 and 7 (seed modulo 3). */
  readonly nodes: NodeCount | undefined;
  readonly mode: RunMode;
  readonly steps: number | undefined;
  readonly plant: PlantedBug | undefined;
  /** ruleChecks: see SimOptions.ruleChecks (default true). */
  readonly ruleChecks?: boolean;
  /** profile: see SimOptions.profile (default swarm). */
  readonly profile?: ProfileKind;
  /** stopAtFirstFailure: stop once a seed fails (planted-bug searches). */
  readonly stopAtFirstFailure: boolean;
  /** onResult: called after each seed (progress output). */
  readonly onResult?: (result: SimResult) => void;
}

/** CampaignSummary totals a campaign. */
export interface CampaignSummary {
  readonly seedsRun: number;
  readonly failures: readonly SimResult[];
  readonly failureKinds: ReadonlyMap<InvariantKind, number>;
  readonly totals: SimStats;
  readonly elapsedMs: number;
}

/** nodesForSeed gives the cluster size of a seed when the campaign mixes sizes. */
export function nodesForSeed(seed: number, fixed: NodeCount | undefined): NodeCount {
  return fixed ?? NODE_COUNTS[seed % NODE_COUNTS.length]!;
}

/** defaultStepsFor is the default run length of a mode (fault-phase length for liveness). */
export function defaultStepsFor(mode: RunMode): number {
  return mode === 'liveness' ? DEFAULT_LIVENESS_FAULT_STEPS : DEFAULT_SAFETY_STEPS;
}

/** runCampaign runs seeds firstSeed .. firstSeed + seeds - 1 and totals the results. */
export function runCampaign(options: CampaignOptions): CampaignSummary {
  const started = performance.now();
  const failures: SimResult[] = [];
  const failureKinds = new Map<InvariantKind, number>();
  let totals: SimStats | undefined;
  let seedsRun = 0;
  for (let offset = 0; offset < options.seeds; offset++) {
    const seed = options.firstSeed + offset;
    const result = runSimulation({
      seed,
      nodes: nodesForSeed(seed, options.nodes),
      mode: options.mode,
      steps: options.steps ?? defaultStepsFor(options.mode),
      ...(options.plant === undefined ? {} : { plant: options.plant }),
      ruleChecks: options.ruleChecks !== false,
      profile: options.profile ?? 'swarm',
    });
    seedsRun++;
    totals = addStats(totals, result.stats);
    options.onResult?.(result);
    if (result.violation !== undefined) {
      failures.push(result);
      failureKinds.set(result.violation.kind, (failureKinds.get(result.violation.kind) ?? 0) + 1);
      if (options.stopAtFirstFailure) break;
    }
  }
  return { seedsRun, failures, failureKinds, totals: totals ?? emptyStats(), elapsedMs: performance.now() - started };
}

function emptyStats(): SimStats {
  return {
    steps: 0, ticks: 0, messagesSent: 0, messagesDelivered: 0, messagesDropped: 0, messagesDuplicated: 0, crashes: 0,
    crashesInsideReady: 0, restarts: 0, partitions: 0, leaderTerms: 0, proposals: 0, acknowledged: 0, reads: 0,
    readsServed: 0, confChangesProposed: 0, confChangesApplied: 0, confChangesCommitted: 0, transfers: 0, snapshotsTaken: 0, snapshotsInstalled: 0,
    highestApplied: 0, oldTermCommits: 0, recoveryTicks: 0, recoveryTicksMax: 0,
  };
}

function addStats(total: SimStats | undefined, stats: SimStats): SimStats {
  const sum = total ?? emptyStats();
  for (const key of Object.keys(stats) as Array<keyof SimStats>) {
    sum[key] = key.endsWith('Max') ? Math.max(sum[key], stats[key]) : sum[key] + stats[key];
  }
  return sum;
}

/** formatStats renders totals on a few lines. */
export function formatStats(stats: SimStats): string {
  return Object.entries(stats).map(([key, value]) => `${key}=${value}`).join(' ');
}
