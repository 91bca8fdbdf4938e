// Goal: Raft's safety properties hold on 1,000 seeds of a faulty cluster (issue 2, item 5):
// at most one leader per term, log matching, committed entries never lost, same entries applied
// in the same order everywhere, acknowledged proposals kept, linearizable ReadIndex reads,
// acknowledged entries durable across crashes, HardState never moving backwards.
// Method: the deterministic simulator runs seeds 0..999 (3, 5 and 7 founding voters in turn),
// each with its own mix of message loss, duplication, delay, partitions, crashes inside Ready
// handling, restarts, membership changes, leadership transfers, proposals and reads; the
// History checks every invariant after every step. A failure prints its replay command. The
// totals must show that every kind of fault and workload actually happened.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SimStats } from './simulator.js';
import { runSeedBlock } from './seed-campaign.js';

/** SEEDS: issue 2 asks for at least 1,000 safety seeds in CI. */
const SEEDS = 1000;
const BLOCK = 250;

test(`${SEEDS} safety seeds keep every invariant, and exercise every fault`, () => {
  const totals: Partial<SimStats> = {};
  for (let first = 0; first < SEEDS; first += BLOCK) {
    const summary = runSeedBlock(first, BLOCK, 'safety');
    for (const [key, value] of Object.entries(summary.totals) as Array<[keyof SimStats, number]>) totals[key] = (totals[key] ?? 0) + value;
  }
  // Coverage: a clean run proves little unless the faults and workload really happened.
  const atLeast: Array<[keyof SimStats, number]> = [
    ['leaderTerms', 2 * SEEDS], ['crashes', SEEDS], ['crashesInsideReady', SEEDS / 2], ['restarts', SEEDS],
    ['partitions', SEEDS], ['messagesDropped', 10 * SEEDS], ['messagesDuplicated', SEEDS], ['acknowledged', 20 * SEEDS],
    ['readsServed', 5 * SEEDS], ['confChangesCommitted', SEEDS / 2], ['transfers', SEEDS / 10], ['snapshotsTaken', SEEDS],
    ['snapshotsInstalled', SEEDS / 2],
  ];
  for (const [key, minimum] of atLeast) {
    assert.ok((totals[key] ?? 0) >= minimum, `coverage: ${key} = ${totals[key]}, expected at least ${minimum}`);
  }
  assert.equal(totals.oldTermCommits, 0, 'a leader committed an older term\'s entry by counting');
});
