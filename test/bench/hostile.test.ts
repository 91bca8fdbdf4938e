// hostile.test.ts — bench:hostile's figures from its measurements (bench/hostile.ts): leader changes are
// the terms seen that were not there before, the loop delay is the flood phase's worst, p99 ratio is
// flood over quiet, RSS and log growth are measured from each node's first sample of the flood phase,
// and a goal is met only when every flood meets it. Method: hand-built phases with known answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { figuresOf, goalsMet } from '../../bench/hostile.js';
import type { ResourceSample } from '../../chaos/hostile.js';

const MB = 1024 * 1024;
function samples(node: number, rssMb: readonly number[], logBytes: readonly number[], delays: readonly number[] = []): ResourceSample[] {
  return rssMb.map((rss, i) => ({ t: i * 1_000, node, pid: 10 + node, rssBytes: rss * MB, logBytes: logBytes[i]!, ...(delays[i] === undefined ? {} : { loopDelayMaxMs: delays[i] }) }));
}

test('figures: new terms, worst loop delay, p99 ratio, RSS and log growth from the flood phase\'s start', () => {
  const quiet = { latenciesMs: Array.from({ length: 100 }, (_, i) => 10 + (i >= 98 ? 10 : 0)), errors: 0, terms: new Set([4]), samples: samples(1, [100, 300], [0, 99_999]) };
  const flood = {
    latenciesMs: Array.from({ length: 100 }, (_, i) => 10 + (i >= 98 ? 50 : 0)), errors: 1, terms: new Set([4, 5]),
    samples: [...samples(1, [120, 150, 130], [1_000, 2_000, 9_000], [3, 17.25, 4]), ...samples(2, [90, 95, 91], [0, 10, 20])],
  };
  const figures = figuresOf(quiet, flood, new Set([4]), 8, ['deep-json: 10 attempts']);
  assert.equal(figures.leader_changes, 1, 'term 5 appeared');
  assert.equal(figures.max_loop_delay_ms, 17.3);
  assert.equal(figures.p99_quiet_ms, 20);
  assert.equal(figures.p99_flood_ms, 60);
  assert.equal(figures.p99_ratio, 3);
  assert.equal(figures.rss_growth_mb, 30, 'n1 rose from 120 to 150 MB; the quiet phase\'s 300 MB is not the flood\'s');
  assert.equal(figures.log_bytes_per_s, 1_000, 'n1 wrote 8,000 bytes in 8 s');
  assert.equal(figures.write_errors, 1);
});

test('a goal is met only when every flood meets it; a flood without a p99 ratio does not meet the latency goal', () => {
  const good = { leader_changes: 0, max_loop_delay_ms: 5, p99_quiet_ms: 10, p99_flood_ms: 12, p99_ratio: 1.2, rss_growth_mb: 3, log_bytes_per_s: 100, writes_quiet: 50, writes_flood: 50, write_errors: 0, answers: [] };
  assert.deepEqual(goalsMet({ a: good, b: good }), { leader_changes: true, p99_ratio: true, rss_growth_mb: true, log_bytes_per_s: true });
  assert.deepEqual(goalsMet({ a: good, b: { ...good, leader_changes: 1, p99_ratio: null, rss_growth_mb: 51, log_bytes_per_s: 10_241 } }),
    { leader_changes: false, p99_ratio: false, rss_growth_mb: false, log_bytes_per_s: false });
});
