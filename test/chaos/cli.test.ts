// cli.test.ts — `npm run chaos` refuses bad arguments with a message that says what was wrong, and
// exits 2 before touching anything; the fault list parser names the unknown family and the known ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { FAULT_FAMILIES, parseFaults } from '../../chaos/faults.js';
import { between, oneWay } from '../../chaos/partition.js';
import { repoPath } from '../support/paths.js';

function chaos(args: string[]): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [repoPath('dist', 'chaos', 'cli.js'), ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

test('bad arguments exit 2 with a message naming the argument', () => {
  for (const [args, message] of [
    [['--nodes', '4'], /--nodes must be 3, 5 or 7, got 4/],
    [['--nodes', 'three'], /--nodes must be an integer from 3 to 7, got "three"/],
    [['--faults', 'kill,meteor'], /unknown fault "meteor"; known: kill, kill-leader/],
    [['--plant', 'no-fsync'], /--plant must be one of ack-before-fsync, local-reads, no-replay-check, delete-then-add, got "no-fsync"/],
    [['--duration', '-3'], /--duration must be an integer from 5 to 86400/],
    [['--topology', 'mesh'], /--topology must be one of loopback, wan, got "mesh"/],
    [['--topology', 'wan', '--hostile'], /--hostile runs on the loopback topology only/],
  ] as const) {
    const result = chaos([...args]);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.output}`);
    assert.match(result.output, message);
  }
});

test('parseFaults: "all" is every family; a list keeps its order without duplicates; empty is refused', () => {
  assert.deepEqual(parseFaults('all'), [...FAULT_FAMILIES]);
  assert.deepEqual(parseFaults('pause, kill,pause'), ['pause', 'kill']);
  assert.throws(() => parseFaults(' , '), /expected a comma-separated list/);
});

test('partitions: a symmetric cut drops both directions, a one-way cut only one', () => {
  assert.deepEqual(between([1], [2, 3]), [{ from: 1, to: 2 }, { from: 2, to: 1 }, { from: 1, to: 3 }, { from: 3, to: 1 }]);
  assert.deepEqual(oneWay([1], [2, 3]), [{ from: 1, to: 2 }, { from: 1, to: 3 }]);
});
