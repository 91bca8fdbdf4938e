// seed-campaign.ts — shared by the CI seed tests: run a block of seeds and fail with every
// failing seed's replay command.
import assert from 'node:assert/strict';
import { formatStats, runCampaign, type CampaignSummary } from './campaign.js';
import type { RunMode } from './violation.js';

/** runSeedBlock runs seeds [firstSeed, firstSeed + seeds) with mixed 3/5/7 nodes and asserts none fails. */
export function runSeedBlock(firstSeed: number, seeds: number, mode: RunMode, steps?: number): CampaignSummary {
  const summary = runCampaign({ firstSeed, seeds, nodes: undefined, mode, steps, plant: undefined, stopAtFirstFailure: false });
  const failures = summary.failures.map((result) => result.violation!.message);
  assert.equal(summary.seedsRun, seeds);
  assert.deepEqual(failures, [], `${failures.length} of ${seeds} ${mode} seeds failed:\n${failures.join('\n')}`);
  process.stdout.write(`${mode} seeds ${firstSeed}..${firstSeed + seeds - 1}: ${(summary.elapsedMs / 1000).toFixed(1)} s; ${formatStats(summary.totals)}\n`);
  return summary;
}
