// Goal: the simulator catches each planted defect of the core (issue 2, item 5), within a
// bounded number of seeds and as the invariant the defect breaks — evidence that a clean
// campaign on the real core means something.
// Method: for each PlantedBug, run seeds 0..K-1 with the defect switched on (a Raft subclass of
// test/raft/support/planted-raft.ts, handed to RawNode) and
// stop at the first seed that breaks one of the expected invariants. Where the simulator has a
// direct protocol-rule check (leader-commit-rule, single-pending-conf-change), a second search
// switches those checks off and demands the client-visible damage itself: with the leader-churn
// mix, Figure 8 of the Raft paper appears and an applied entry is lost or applied differently.
// No planted core bug breaks reads, so a last test plants one in the harness: reads answered
// from local state instead of ReadIndex must be caught as non-linearizable.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PLANTED_BUGS, type PlantedBug } from '../support/planted-raft.js';
import { nodesForSeed } from './campaign.js';
import type { ProfileKind } from './profile.js';
import { DEFAULT_LIVENESS_FAULT_STEPS, DEFAULT_SAFETY_STEPS, runSimulation } from './simulator.js';
import type { InvariantKind, RunMode } from './violation.js';

/** OUTCOMES: the client-visible safety failures (no protocol-rule checks among them). */
const OUTCOMES: readonly InvariantKind[] = [
  'election-safety', 'log-matching', 'committed-entry-lost', 'state-machine-safety', 'acked-proposal-lost',
  'read-linearizability', 'durability',
];

interface PlantSearch {
  readonly plant: PlantedBug;
  readonly why: string;
  readonly mode: RunMode;
  readonly profile: ProfileKind;
  readonly ruleChecks: boolean;
  /** maxSeeds: the bound on the search (seeds 0..maxSeeds-1). */
  readonly maxSeeds: number;
  readonly expected: readonly InvariantKind[];
}

const SEARCHES: readonly PlantSearch[] = [
  {
    plant: 'no-term-start-entry', why: 'a new leader never commits its predecessors\' entries nor answers ReadIndex without new writes',
    mode: 'liveness', profile: 'swarm', ruleChecks: true, maxSeeds: 40, expected: ['liveness', 'read-linearizability'],
  },
  {
    plant: 'commit-old-term-by-count', why: 'the leader commits an older term\'s entry by counting replicas (§5.4.2)',
    mode: 'safety', profile: 'swarm', ruleChecks: true, maxSeeds: 60, expected: ['leader-commit-rule'],
  },
  {
    plant: 'commit-old-term-by-count', why: 'Figure 8: the entry so committed is later overwritten by a newer leader',
    mode: 'safety', profile: 'churn', ruleChecks: false, maxSeeds: 150, expected: OUTCOMES,
  },
  {
    plant: 'vote-without-log-check', why: 'a stale node wins an election and overwrites applied entries',
    mode: 'safety', profile: 'swarm', ruleChecks: false, maxSeeds: 100, expected: OUTCOMES,
  },
  {
    plant: 'two-pending-conf-changes', why: 'the leader appends a second membership change before the first is applied',
    mode: 'safety', profile: 'swarm', ruleChecks: true, maxSeeds: 60, expected: ['single-pending-conf-change'],
  },
  {
    plant: 'ack-before-persist', why: 'a follower acknowledges entries, then a crash before its write loses them',
    mode: 'safety', profile: 'swarm', ruleChecks: true, maxSeeds: 60, expected: ['durability', ...OUTCOMES],
  },
];

describe('the simulator catches every planted bug', () => {
  test('every PlantedBug has a search', () => {
    assert.deepEqual([...new Set(SEARCHES.map((search) => search.plant))].sort(), [...PLANTED_BUGS].sort());
  });

  for (const search of SEARCHES) {
    const checks = search.ruleChecks ? 'with rule checks' : 'outcomes only';
    test(`${search.plant} (${search.why}) is caught within ${search.maxSeeds} ${search.mode} seeds, ${search.profile} mix, ${checks}`, () => {
      const seen = new Map<InvariantKind, number>();
      for (let seed = 0; seed < search.maxSeeds; seed++) {
        const result = runSimulation({
          seed, nodes: nodesForSeed(seed, undefined), mode: search.mode, plant: search.plant, profile: search.profile,
          ruleChecks: search.ruleChecks, steps: search.mode === 'liveness' ? DEFAULT_LIVENESS_FAULT_STEPS : DEFAULT_SAFETY_STEPS,
        });
        const violation = result.violation;
        if (violation === undefined) continue;
        seen.set(violation.kind, (seen.get(violation.kind) ?? 0) + 1);
        if (search.expected.includes(violation.kind)) {
          process.stdout.write(`${search.plant}: caught by seed ${seed} (${result.run.nodes} nodes) as ${violation.kind}: ${violation.replay}\n`);
          return;
        }
      }
      assert.fail(`${search.plant} not caught as one of ${search.expected.join(', ')} in ${search.maxSeeds} seeds; ` +
        `other failures: ${JSON.stringify([...seen])}`);
    });
  }
});

describe('the simulator catches a defect of the application too', () => {
  test('reads served from a node\'s local state instead of ReadIndex break read-linearizability within 30 seeds', () => {
    for (let seed = 0; seed < 30; seed++) {
      const result = runSimulation({ seed, nodes: nodesForSeed(seed, undefined), mode: 'safety', steps: DEFAULT_SAFETY_STEPS, unsafeLocalReads: true });
      if (result.violation?.kind === 'read-linearizability') return;
    }
    assert.fail('local reads were never caught as stale');
  });
});
