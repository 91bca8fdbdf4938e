// reaction-cluster.test.ts — one short run of bench:reaction-cluster end to end (runBench in bench/reaction-cluster.ts).
//
// Goal: the benchmark really measures the demo's path on three gateway processes with real packets — attack,
// monitor alert, node-signed telemetry, commit, apply, block-all — in every mode (warm, cold, right after a
// leader kill), splits every reaction into all five stages from the nodes' own log lines, merges its figures
// into the report file without dropping what bench:reaction wrote there, and leaves nothing behind: no
// namespace, link, broker or node process of its site. The figures' values are not judged (the machine is
// shared; the goals are the benchmark's business). Method: runBench at the smallest size (10 devices), 2 runs per
// mode, the report written to a temporary file that already holds a field of bench:reaction. Needs root, Open
// vSwitch, Docker and a build (npm run build); without root it is skipped, and fails in CI.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PREFIX, runBench } from '../../bench/reaction-cluster.js';
import { STAGES } from '../../bench/reaction-cluster-report.js';
import type { CellReport } from '../../bench/reaction-cluster-report.js';
import { leftovers } from '../../cluster/demo-site.js';
import { requireInCi } from '../support/paths.js';

function processesNaming(fragment: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', fragment], { encoding: 'utf8' }).split('\n').filter((line) => line.length > 0 && !line.includes('pgrep'));
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

const isRoot = process.getuid?.() === 0;
if (!isRoot && requireInCi()) throw new Error('bench:reaction-cluster needs root (CI=true: failing instead of skipping)');

describe('bench:reaction-cluster end to end', { timeout: 900_000 }, () => {
  test('measures every stage of every mode at 10 devices, merges its report and cleans up', { skip: isRoot ? false : 'needs root' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qg-reaction-cluster-test-'));
    const out = join(dir, 'reaction.json');
    writeFileSync(out, `${JSON.stringify({ benchmark: 'reaction', reaction_ms: { warm: { p50: 1, p95: 2 } } })}\n`);
    try {
      const lines: string[] = [];
      const report = await runBench({ runs: 2, sizes: [10], modes: ['warm', 'cold', 'leader-kill'], out }, (line) => lines.push(line));
      const written = JSON.parse(readFileSync(out, 'utf8')) as Record<string, unknown>;
      assert.equal(written['benchmark'], 'reaction', 'bench:reaction\'s fields are kept');
      assert.deepEqual(written['reaction_ms'], { warm: { p50: 1, p95: 2 } });
      assert.deepEqual(written['cluster_reaction_ms'], JSON.parse(JSON.stringify(report.cluster_reaction_ms)));

      assert.deepEqual(Object.keys(report.cluster_reaction_ms).sort(), ['cold', 'leader-kill', 'warm']);
      for (const [mode, bySize] of Object.entries(report.cluster_reaction_ms)) {
        assert.deepEqual(Object.keys(bySize), ['10'], mode);
        const cell: CellReport = bySize['10']!;
        assert.equal(cell.runs, 2, mode);
        assert.equal(cell.unmeasured_stages, 0, `${mode}: every stage of every run was measured (${lines.join('\n')})`);
        assert.ok(cell.p50 !== null && cell.p95 !== null && cell.p50 > 0 && cell.p50 <= cell.p95, `${mode}: ${JSON.stringify(cell)}`);
        for (const stage of STAGES) assert.equal(typeof cell.stages[stage].p95, 'number', `${mode}: ${stage}`);
        // The nodes run at debug level: the data plane's pass lines split the flows stage too.
        assert.equal(typeof cell.flows_split.switch.p95, 'number', `${mode}: flows split`);
        assert.equal(typeof cell.load_average_1m?.[0], 'number');
      }
      assert.equal(lines.filter((line) => / run \d\/2 \(cam-\d\): \d+ ms \(alert \d+, batching \d+, commit \d+, apply \d+, flows -?\d+(; flows: switch -?\d+, wire -?\d+)?\)$/.test(line)).length, 6, lines.join('\n'));
      assert.ok(lines.some((line) => line.includes('reaction p50/p95') && line.includes('flows p50/p95')), 'the table was printed');
      // Nothing of the site is left: namespaces, links, brokers (leftovers), and no node process of its cluster.
      assert.deepEqual(leftovers(dir, PREFIX), []);
      assert.deepEqual(processesNaming('qg-bench-reaction-cluster-'), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
