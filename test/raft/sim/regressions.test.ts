// Goal: every seed that ever broke an invariant (regressions.json) keeps passing, and the file
// itself stays well-formed, so a fixed defect cannot come back unnoticed.
// Method: load and validate regressions.json (bad entries are refused with the field, the
// expectation and the value), then replay each seed with its recorded nodes, mode and steps.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { repoPath } from '../../support/paths.js';
import { RegressionFileError, loadRegressions, parseRegressions } from './regressions.js';
import { runSimulation } from './simulator.js';

const FILE = repoPath('test', 'raft', 'sim', 'regressions.json');

describe('regression seeds', () => {
  const seeds = loadRegressions(FILE);

  test('regressions.json lists the seeds found so far', () => {
    assert.ok(seeds.length >= 1);
  });

  for (const entry of seeds) {
    test(`seed ${entry.seed} (${entry.nodes} nodes, ${entry.mode}, ${entry.steps} steps) passes: ${entry.note.slice(0, 80)}`, () => {
      const result = runSimulation({ seed: entry.seed, nodes: entry.nodes, mode: entry.mode, steps: entry.steps });
      assert.equal(result.violation, undefined, result.violation?.message);
    });
  }

  test('a malformed entry is refused with the field, the expectation and the value', () => {
    const bad = (entry: unknown): string => JSON.stringify({ seeds: [entry] });
    const ok = { seed: 1, nodes: 3, mode: 'safety', steps: 10, note: 'x' };
    assert.throws(() => parseRegressions(bad({ ...ok, nodes: 4 }), 'r.json'), (error: unknown) =>
      error instanceof RegressionFileError && error.message === 'r.json: seeds[0].nodes: expected 3, 5 or 7, got 4');
    assert.throws(() => parseRegressions(bad({ ...ok, seed: -2 }), 'r.json'), /seeds\[0\]\.seed: expected a non-negative safe integer, got -2/);
    assert.throws(() => parseRegressions(bad({ ...ok, mode: 'fast' }), 'r.json'), /seeds\[0\]\.mode: expected "safety" or "liveness", got "fast"/);
    assert.throws(() => parseRegressions(bad({ ...ok, extra: 1 }), 'r.json'), /expected only seed, nodes, mode, steps, note, got \["extra"\]/);
    assert.throws(() => parseRegressions('{', 'r.json'), /r\.json: top level: expected JSON/);
    assert.deepEqual(parseRegressions(bad(ok), 'r.json'), [ok]);
  });
});
