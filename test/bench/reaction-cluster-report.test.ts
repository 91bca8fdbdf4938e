// reaction-cluster-report.test.ts — the pure half of bench:reaction-cluster (bench/reaction-cluster-report.ts).
//
// Goal: a reaction is split into the stages the issue names from the lines the nodes really log (the serving
// node's alert and batch, every node's state change), a stage whose line is missing is reported missing rather
// than guessed, the summaries are nearest-rank p50/p95 with the goals judged per mode, the report merges into
// reaction.json keeping bench:reaction's fields and the sizes of earlier runs, and bad options are refused
// with the flag named. Method: table tests over hand-written log lines shaped as src/node writes them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  cellReport, clusterReaction, formatTable, mergeReactionJson, missingStages, modeOrder, parseLogLines, parseOptions, quantiles, reactionStages,
} from '../../bench/reaction-cluster-report.js';
import type { NodeLogLine, StageSample } from '../../bench/reaction-cluster-report.js';

const T0 = 1_000_000;

/** nodeLines are one reaction as the nodes log it: cam-2 served by node 2, the entry 41 applied by node 1 (leader) first. */
function nodeLines(): NodeLogLine[] {
  return [
    { nodeId: 2, msg: 'μmbox alert', alert: { deviceId: 'cam-2', observedAtMs: T0 + 120 } },
    { nodeId: 2, msg: 'μmbox alert', alert: { deviceId: 'cam-2', observedAtMs: T0 + 90 } },
    { nodeId: 2, msg: 'μmbox alert', alert: { deviceId: 'cam-1', observedAtMs: T0 + 10 } },
    { nodeId: 2, msg: 'telemetry committed', index: 41, proposedAtMs: T0 + 115, appliedAtMs: T0 + 160 },
    { nodeId: 2, msg: 'telemetry committed', index: 44, proposedAtMs: T0 + 300, appliedAtMs: T0 + 330 },
    { nodeId: 1, msg: 'device state changed', deviceId: 'cam-2', to: 'attack', index: 41, appliedAtMs: T0 + 140 },
    { nodeId: 3, msg: 'device state changed', deviceId: 'cam-2', to: 'attack', index: 41, appliedAtMs: T0 + 150 },
    { nodeId: 2, msg: 'device state changed', deviceId: 'cam-2', to: 'attack', index: 41, appliedAtMs: T0 + 158 },
    // The serving node's passes: one that changed nothing, then the bundle that moved cam-2 (ends at +185).
    { nodeId: 2, msg: 'reconcile pass', result: { flowsAdded: 0, earlyBlocked: 0, earlyBlockedAtMs: 0, flowsAppliedAtMs: T0 + 170 } },
    { nodeId: 2, msg: 'reconcile pass', result: { flowsAdded: 4, earlyBlocked: 0, earlyBlockedAtMs: 0, flowsAppliedAtMs: T0 + 185 } },
    { nodeId: 1, msg: 'reconcile pass', result: { flowsAdded: 4, earlyBlocked: 0, earlyBlockedAtMs: 0, flowsAppliedAtMs: T0 + 160 } },
    // The reset of an earlier run, before this attack began: not this reaction.
    { nodeId: 2, msg: 'device state changed', deviceId: 'cam-2', to: 'attack', index: 12, appliedAtMs: T0 - 5_000 },
  ];
}

describe('reactionStages', () => {
  test('splits a reaction into alert, batching, commit, apply and flows from the nodes\' lines', () => {
    const sample = reactionStages({ deviceId: 'cam-2', servingNode: 2, attackStartMs: T0, lastArrivalMs: T0 + 200, lines: nodeLines() });
    assert.equal(sample.totalMs, 200);
    assert.equal(sample.index, 41);
    // alert: the first of cam-2's alerts; commit: the first node to apply entry 41; apply: the serving node's apply.
    assert.deepEqual(sample.stages, { alert: 90, batching: 25, commit: 25, apply: 18, flows: 42 });
    const sum = Object.values(sample.stages).reduce<number>((total, ms) => total + (ms ?? 0), 0);
    assert.equal(sum, sample.totalMs, 'the stages add up to the reaction');
    assert.deepEqual(missingStages(sample), []);
    // flows splits at the serving node's first bundle that changed flows after its apply.
    assert.deepEqual(sample.flowsSplit, { switchMs: 27, wireMs: 15 });
  });

  test('a device dropped early (its block-all chain not started yet) is blocked at the early bundle', () => {
    const lines = nodeLines().filter((line) => line.msg !== 'reconcile pass');
    lines.push({ nodeId: 2, msg: 'reconcile pass', result: { flowsAdded: 6, earlyBlocked: 1, earlyBlockedAtMs: T0 + 175, flowsAppliedAtMs: T0 + 700 } });
    const sample = reactionStages({ deviceId: 'cam-2', servingNode: 2, attackStartMs: T0, lastArrivalMs: T0 + 200, lines });
    assert.deepEqual(sample.flowsSplit, { switchMs: 17, wireMs: 25 });
    const none = reactionStages({ deviceId: 'cam-2', servingNode: 2, attackStartMs: T0, lastArrivalMs: T0 + 200, lines: nodeLines().filter((line) => line.msg !== 'reconcile pass') });
    assert.equal(none.flowsSplit, null, 'without debug lines the split is unknown, the five stages are not');
    assert.deepEqual(missingStages(none), []);
  });

  const without = (drop: (line: NodeLogLine) => boolean): NodeLogLine[] => nodeLines().filter((line) => !drop(line));
  const table: Array<{ name: string; lines: NodeLogLine[]; missing: string[] }> = [
    { name: 'no alert line: alert and batching unknown', lines: without((line) => line.msg === 'μmbox alert'), missing: ['alert', 'batching'] },
    { name: 'no batch line for the entry: batching and commit unknown', lines: without((line) => line.msg === 'telemetry committed' && line['index'] === 41), missing: ['batching', 'commit'] },
    { name: 'the serving node did not log its apply: apply and flows unknown', lines: without((line) => line.msg === 'device state changed' && line.nodeId === 2), missing: ['apply', 'flows'] },
    { name: 'no state change at all: everything after the alert unknown', lines: without((line) => line.msg === 'device state changed'), missing: ['batching', 'commit', 'apply', 'flows'] },
  ];
  for (const row of table) {
    test(`a missing line is a missing stage, never a guess: ${row.name}`, () => {
      const sample = reactionStages({ deviceId: 'cam-2', servingNode: 2, attackStartMs: T0, lastArrivalMs: T0 + 200, lines: row.lines });
      assert.deepEqual(missingStages(sample), row.missing);
    });
  }
});

describe('parseLogLines', () => {
  test('reads pino JSON lines with their node and skips anything else', () => {
    const text = ['{"level":30,"msg":"μmbox alert","alert":{"deviceId":"cam-1"}}', 'TypeError: boom', '    at x (y.js:1)', '{"msg":"cut', ''].join('\n');
    assert.deepEqual(parseLogLines(3, text), [{ level: 30, msg: 'μmbox alert', alert: { deviceId: 'cam-1' }, nodeId: 3 }]);
  });
});

describe('summaries', () => {
  test('quantiles are nearest-rank and leave unmeasured values out', () => {
    assert.deepEqual(quantiles([]), { p50: null, p95: null });
    assert.deepEqual(quantiles([null, null]), { p50: null, p95: null });
    assert.deepEqual(quantiles([5, null, 1, 3, 2, 4]), { p50: 3, p95: 5 });
    assert.deepEqual(quantiles(Array.from({ length: 20 }, (_, i) => i + 1)), { p50: 10, p95: 19 });
  });

  const sample = (totalMs: number, commit: number | null = 10): StageSample => ({ totalMs, index: 1, stages: { alert: 1, batching: 2, commit, apply: 3, flows: 4 }, flowsSplit: commit === null ? null : { switchMs: 3, wireMs: 1 } });
  test('the goal is judged on the p95 per mode: 300 ms warm, 1 s cold, none after a leader kill', () => {
    assert.equal(cellReport('warm', [sample(100), sample(300)]).goal_met, true);
    assert.equal(cellReport('warm', [sample(100), sample(301)]).goal_met, false);
    assert.equal(cellReport('cold', [sample(999)]).goal_met, true);
    assert.equal(cellReport('leader-kill', [sample(5_000)]).goal_met, null);
    assert.equal(cellReport('warm', []).goal_met, null);
  });

  test('a cell counts its runs and its unmeasured stages', () => {
    const cell = cellReport('cold', [sample(100), sample(200, null)]);
    assert.equal(cell.runs, 2);
    assert.equal(cell.unmeasured_stages, 1);
    assert.deepEqual(cell.stages.commit, { p50: 10, p95: 10 });
    assert.deepEqual(cell.flows_split, { switch: { p50: 3, p95: 3 }, wire: { p50: 1, p95: 1 } });
  });

  test('the table has a row per mode and size with every stage and the goal', () => {
    const report = clusterReaction(new Map([['warm', new Map([[10, [sample(120)]], [100, [sample(400)]]])], ['leader-kill', new Map([[10, [sample(900)]]])]]));
    const lines = formatTable(report).split('\n');
    assert.equal(lines.length, 2 + 3);
    assert.match(lines[0]!, /reaction p50\/p95.*alert.*batching.*commit.*apply.*flows.*switch, wire.*goal/);
    assert.match(lines[2]!, /warm\s+\| 10\s+\| 1\s+\| 120\/120 .*≤ 300: met/);
    assert.match(lines[3]!, /warm\s+\| 100 .*≤ 300: NOT met/);
    assert.match(lines[4]!, /leader-kill .*\| —\s+\|$/);
  });
});

describe('mergeReactionJson', () => {
  const cell = cellReport('warm', [{ totalMs: 100, index: 1, stages: { alert: 1, batching: 1, commit: 1, apply: 1, flows: 1 }, flowsSplit: null }]);
  test('keeps bench:reaction\'s fields and merges the cluster figures by mode and size', () => {
    const existing = { benchmark: 'reaction', reaction_ms: { warm: { p50: 1, p95: 2 } }, cluster_reaction_ms: { warm: { '10': { ...cell, p50: 7 }, '100': cell }, cold: { '10': cell } } };
    const merged = mergeReactionJson(existing, { cluster_reaction_ms: { warm: { '10': cell, '1000': cell } }, cluster_reaction: { runs_per_mode: 2 } });
    assert.equal(merged['benchmark'], 'reaction');
    assert.deepEqual(merged['reaction_ms'], existing.reaction_ms);
    assert.deepEqual(merged['cluster_reaction'], { runs_per_mode: 2 });
    const cluster = merged['cluster_reaction_ms'] as Record<string, Record<string, { p50: number }>>;
    assert.deepEqual(Object.keys(cluster.warm!), ['10', '100', '1000']);
    assert.equal(cluster.warm!['10']!.p50, 100, 'a cell measured again is replaced');
    assert.deepEqual(Object.keys(cluster.cold!), ['10']);
  });

  test('a missing or malformed file starts empty', () => {
    for (const existing of [undefined, null, [], 'text']) {
      assert.deepEqual(Object.keys(mergeReactionJson(existing, { cluster_reaction_ms: {} })), ['cluster_reaction_ms']);
    }
  });
});

describe('options', () => {
  test('defaults: 10 runs of every mode at 10, 100 and 1,000 devices', () => {
    assert.deepEqual(parseOptions([], '/x.json'), { runs: 10, sizes: [10, 100, 1_000], modes: ['warm', 'cold', 'leader-kill'], out: '/x.json' });
    assert.deepEqual(parseOptions(['--runs', '2', '--devices', '10', '--modes', 'cold,warm', '--out', '/y'], '/x.json'), { runs: 2, sizes: [10], modes: ['cold', 'warm'], out: '/y' });
  });

  const bad: Array<[string[], RegExp]> = [
    [['--runs', '0'], /--runs expected integers 1\.\.1000, got "0"/],
    [['--devices', '10,x'], /--devices expected integers 3\.\.3000, got "x"/],
    [['--devices', '100,10'], /--devices expected increasing sizes, got 100,10/],
    [['--modes', 'hot'], /--modes expected some of warm,cold,leader-kill, got "hot"/],
    [['--runs'], /--runs expects a value/],
    [['--fast', '1'], /unknown argument "--fast"/],
  ];
  for (const [argv, message] of bad) {
    test(`refuses ${argv.join(' ')}`, () => assert.throws(() => parseOptions(argv, '/x.json'), message));
  }

  test('modes that need no restart go first', () => {
    assert.deepEqual(modeOrder(['warm', 'cold', 'leader-kill'], true), ['warm', 'leader-kill', 'cold']);
    assert.deepEqual(modeOrder(['warm', 'cold', 'leader-kill'], false), ['cold', 'warm', 'leader-kill']);
  });
});
