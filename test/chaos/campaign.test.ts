// campaign.test.ts — the chaos suite run as CI runs it (issue #7): a smoke campaign that injects every
// fault family into a real 3-gateway cluster (processes, OVS, Docker, packets) and must pass every
// checker; a short hostile campaign (--hostile: floods of every API and Raft port during pauses and
// partitions) that must pass every checker too; then the self-test: with each planted bug switched on,
// the campaign must FAIL, and fail on the checker that guards the promise the bug breaks.
//
// Needs root, OVS and Docker: skipped with a message when missing, failed when CI=true. Each run tears
// down what it made (nodes, bridges, μmboxes, namespaces, firewall chain), even when it fails.
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckerVerdict, History } from '../../chaos/history.js';
import { FAULT_FAMILIES } from '../../chaos/faults.js';
import { facilities, releaseFacilities } from '../dataplane/lab.js';
import { findRunDir, repoPath } from '../support/paths.js';

const available = await facilities();
const skip = available.ok ? false : `needs ${available.reason}`;

interface CampaignResult {
  /** out is the campaign's report directory: removed when the test passes, kept (and named) when it fails. */
  out: string;
  status: number | null;
  output: string;
  history: History;
  verdicts: CheckerVerdict[];
}

/** campaign runs `npm run chaos` (compiled) with `args` and reads the one run's history and verdicts. */
function campaign(args: readonly string[]): CampaignResult {
  const out = mkdtempSync(join(tmpdir(), 'qg-chaos-'));
  const result = spawnSync(process.execPath, [repoPath('dist', 'chaos', 'cli.js'), ...args, '--out', out], { encoding: 'utf8', timeout: 600_000 });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  writeFileSync(join(out, 'output.txt'), output);
  const runDir = findRunDir(out);
  assert.ok(runDir, `the campaign wrote a run directory (status ${result.status}; kept in ${out}):\n${output.slice(-3000)}`);
  return {
    out,
    status: result.status,
    output,
    history: JSON.parse(readFileSync(join(runDir, 'history.json'), 'utf8')) as History,
    verdicts: JSON.parse(readFileSync(join(runDir, 'verdicts.json'), 'utf8')) as CheckerVerdict[],
  };
}

/** judged runs the assertions; the report directory is removed when they pass and kept when they fail. */
function judged(result: CampaignResult, assertions: () => void): void {
  try {
    assertions();
  } catch (error) {
    if (error instanceof Error) error.message += `\n(report and the campaign's output kept in ${result.out})\n${result.output.split('\n').filter((line) => /fault|membership|could not|undoing/.test(line)).slice(-40).join('\n')}`;
    throw error;
  }
  rmSync(result.out, { recursive: true, force: true });
}

function failed(result: CampaignResult): string[] {
  return result.verdicts.filter((v) => !v.ok).map((v) => v.checker);
}

function explain(result: CampaignResult): string {
  return result.verdicts.map((v) => `${v.ok ? 'PASS' : 'FAIL'} ${v.checker}: ${v.summary}\n  ${v.problems.slice(0, 5).join('\n  ')}`).join('\n');
}

describe('chaos campaign with real processes and packets', { skip, timeout: 1_800_000 }, () => {
  after(() => releaseFacilities(available));

  test('smoke: every fault family is injected and every checker passes', () => {
    const result = campaign(['--nodes', '3', '--faults', 'all', '--duration', '60', '--seed', '1']);
    judged(result, () => {
      const injected = new Set(result.history.faults.filter((f) => f.phase === 'start').map((f) => f.fault));
      assert.deepEqual([...FAULT_FAMILIES].filter((family) => !injected.has(family)), [], 'every fault family was injected');
      assert.equal(result.status, 0, `the campaign passes:\n${explain(result)}`);
      assert.deepEqual(failed(result), []);
      // The run did real work: acknowledged writes, checked reads, probes through every gateway.
      assert.ok(result.history.register.filter((op) => op.kind === 'write' && op.outcome === 'ok').length > 20, 'writes were acknowledged');
      assert.ok(result.history.register.filter((op) => op.kind === 'read' && op.outcome === 'ok').length > 20, 'reads answered');
      assert.ok(result.history.adversary.length > 20, 'the adversary was busy');
      for (const series of result.history.probes) assert.ok(series.received.length > 100, `probes of ${series.device} got through while allowed`);
    });
  });

  test('hostile smoke: the adversary floods every API and Raft port while nodes are paused and partitioned; every checker passes', () => {
    const result = campaign(['--nodes', '3', '--faults', 'pause,partition-one', '--duration', '40', '--seed', '3', '--hostile']);
    judged(result, () => {
      assert.equal(result.status, 0, `the campaign passes:\n${explain(result)}`);
      assert.deepEqual(failed(result), []);
      const hostile = result.history.hostile;
      assert.ok(hostile !== undefined && hostile.windows.length >= 2, 'the adversary flooded in at least two windows');
      for (const kind of hostile.floods) assert.ok((hostile.counts[kind]?.attempts ?? 0) > 0, `the ${kind} flood ran`);
      assert.ok((hostile.counts['deep-json']?.answers['400'] ?? 0) > 0, 'deep bodies were refused with 400');
      assert.ok(result.history.register.filter((op) => op.kind === 'write' && op.outcome === 'ok').length > 20, 'writes were acknowledged under the floods');
      assert.ok(hostile.resources.length > 30, 'node resources were sampled');
    });
  });

  // Each planted bug with the faults that expose it, and the checker that must catch it. The durations
  // are CI's slice (a run costs its duration plus ≈20 s of set-up, observation and tear-down): at the
  // durations before (20, 30, 30 s) one run each on 2026-12-07 was caught from its first seconds —
  // no-replay-check by the first register write (200 stale entries applied in 20 s), local-reads from
  // the first read at 1 s (every operation of a key failing), ack-before-fsync by the first power cut at
  // 3.4 s (11 acknowledged writes lost) — so they run half as long; a second fault still hits each run.
  // delete-then-add keeps 50 s: only a swap between two allowing states loses traffic, and the first
  // came at 19 s (5 in 50 s).
  const plants: Array<{ plant: string; faults: string; duration: string; seed: string; caughtBy: string }> = [
    { plant: 'no-replay-check', faults: 'pause', duration: '10', seed: '11', caughtBy: 'valid-envelopes' },
    { plant: 'local-reads', faults: 'partition-leader,partition-one', duration: '15', seed: '12', caughtBy: 'linearizability' },
    { plant: 'ack-before-fsync', faults: 'lose-unsynced', duration: '15', seed: '13', caughtBy: 'nothing-lost' },
    { plant: 'delete-then-add', faults: 'pause,partition-one', duration: '50', seed: '14', caughtBy: 'probes' },
  ];
  for (const { plant, faults, duration, seed, caughtBy } of plants) {
    test(`self-test: the planted bug ${plant} makes the campaign fail, caught by ${caughtBy}`, () => {
      const result = campaign(['--nodes', '3', '--faults', faults, '--duration', duration, '--seed', seed, '--plant', plant]);
      judged(result, () => {
        assert.equal(result.history.run.plant, plant);
        assert.equal(result.status, 1, `the campaign exits 1 with ${plant} on:\n${explain(result)}`);
        assert.ok(failed(result).includes(caughtBy), `${caughtBy} catches ${plant}:\n${explain(result)}`);
      });
    });
  }
});
