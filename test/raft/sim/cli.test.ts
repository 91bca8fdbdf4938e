// Goal: `npm run sim` behaves as documented: it runs or replays seeds, exits non-zero with the
// replay command when an invariant breaks, reports whether a planted bug was caught, and
// refuses bad arguments with a message naming the flag, the expectation and the value.
// Method: call runCli (the CLI's entry point) with argument lists and a buffered output.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './cli.js';

function run(...argv: string[]): { status: number; out: string; err: string } {
  const out: string[] = [];
  const err: string[] = [];
  const status = runCli(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { status, out: out.join('\n'), err: err.join('\n') };
}

describe('npm run sim', () => {
  test('runs a range of seeds and prints a summary', () => {
    const result = run('--seeds', '3', '--seed', '10', '--steps', '500');
    assert.equal(result.status, 0, result.out);
    assert.match(result.out, /ok {3}seed 10 \(5 nodes\) 500 steps/);
    assert.match(result.out, /seeds run: 3, failures: 0, time: [\d.]+ s \(safety, 500 steps per seed\)/);
    assert.match(result.out, /coverage: steps=1500 /);
  });

  test('replays one seed, with its whole trace on request', () => {
    const result = run('--seed', '5', '--nodes', '7', '--steps', '300', '--trace');
    assert.equal(result.status, 0, result.out);
    assert.match(result.out, /^0 t0 profile kind=/m);
    assert.match(result.out, /seeds run: 1, failures: 0/);
  });

  test('a planted bug that is caught exits 0 and prints the replay command; the search stops there', () => {
    const result = run('--seeds', '20', '--plant', 'two-pending-conf-changes', '--quiet');
    assert.equal(result.status, 0, result.out);
    assert.match(result.out, /planted bug two-pending-conf-changes CAUGHT by seed \d+ as single-pending-conf-change/);
    assert.match(result.out, /replay: npm run sim -- --seed \d+ --nodes [357] --plant two-pending-conf-changes/);
  });

  test('a failing seed names the invariant, seed, step and node; a planted bug not caught exits 1', () => {
    const result = run('--seeds', '60', '--plant', 'ack-before-persist', '--quiet');
    assert.equal(result.status, 0, result.out);
    assert.match(result.out, /FAIL seed (\d+) \(([357]) nodes\): invariant durability broken \(seed \1, \2 nodes, safety, plant ack-before-persist\) at step \d+ node \d+: node \d+ acknowledged log entries up to index \d+/);
    assert.match(result.out, /replay: npm run sim -- --seed \d+ --nodes [357] --plant ack-before-persist/);
    const uncaught = run('--seed', '0', '--nodes', '3', '--steps', '50', '--plant', 'ack-before-persist', '--quiet');
    assert.equal(uncaught.status, 1);
    assert.match(uncaught.out, /planted bug ack-before-persist NOT caught in 1 seeds/);
  });

  test('bad arguments are refused with exit status 2 and a precise message', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--nodes', '4'], /option '--nodes <n>' argument '4' is invalid\. --nodes expects 3, 5 or 7, got "4"\./],
      [['--seeds', 'ten'], /--seeds expects an integer in \[1, 10000000\], got "ten"\./],
      [['--seeds', '0'], /--seeds expects an integer in \[1, 10000000\], got 0\./],
      [['--plant', 'off-by-one'], /--plant expects one of no-term-start-entry, commit-old-term-by-count, .*, got "off-by-one"\./],
      [['--profile', 'calm'], /argument 'calm' is invalid\. Allowed choices are swarm, churn\./],
      [['--bogus'], /unknown option '--bogus'/],
      [['--seeds', '2', '--trace'], /--trace prints one run/],
    ];
    for (const [argv, message] of cases) {
      const result = run(...argv);
      assert.equal(result.status, 2, `${argv.join(' ')}: ${result.out}`);
      assert.match(result.err, message);
    }
  });
});
