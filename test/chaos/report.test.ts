// report.test.ts — the chaos run report: the four files, the summary a person reads, the timeline page.
//
// Goal: a report names what failed, tells how to repeat the run, and the HTML page is self-contained
// (no script, nothing loaded from the network) with every recorded text escaped.
// Method: a small history with faults, samples, operations, state changes and probes (one forbidden
// datagram delivered, and a hostile fault detail), checked by the real checkers, written to a temp dir.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKERS, checkHistory } from '../../chaos/checkers/index.js';
import type { History, NodeSample } from '../../chaos/history.js';
import { escapeHtml, renderSummary, renderTimeline, repeatCommand, writeReport } from '../../chaos/report.js';
import { quietHistory } from './history-fixtures.js';

function busyHistory(): History {
  const base = quietHistory();
  const samples: NodeSample[] = [];
  for (let t = 0; t < 60_000; t += 250) {
    for (const node of [1, 2, 3]) {
      const down = node === 3 && t >= 10_000 && t < 15_000;
      samples.push(down ? { t, node, up: false } : { t, node, up: true, role: node === (t < 20_000 ? 1 : 2) ? 'leader' : 'follower', leader: t < 20_000 ? 1 : 2, term: t < 20_000 ? 1 : 2, commit: t / 250, applied: t / 250 });
    }
  }
  const sent: number[] = [];
  const received: Array<{ seq: number; t: number }> = [];
  for (let t = 0; t < 60_000; t += 100) {
    sent.push(t);
    const forbidden = t >= 30_000 && t < 40_000;
    if (!forbidden || t === 35_000) received.push({ seq: sent.length - 1, t: t + 2 });
  }
  return {
    ...base,
    run: { ...base.run, plant: 'delete-then-add', durationMs: 60_000 },
    faults: [
      { t: 10_000, phase: 'start', fault: 'kill', detail: 'kill -9 n3 <script>alert("x")</script>', nodes: [3] },
      { t: 15_000, phase: 'end', fault: 'kill', detail: 'restart n3', nodes: [3] },
      { t: 20_000, phase: 'start', fault: 'partition', detail: 'isolate n1 (the leader) & friends', nodes: [1] },
      { t: 25_000, phase: 'end', fault: 'partition', detail: 'heal', nodes: [1] },
    ],
    register: [
      { id: 1, process: 1, node: 1, kind: 'write', key: 'k', value: 'v1', invokeMs: 1_000, completeMs: 1_020, outcome: 'ok' },
      { id: 2, process: 2, node: 2, kind: 'read', key: 'k', value: 'v1', invokeMs: 2_000, completeMs: 2_005, outcome: 'ok' },
      { id: 3, process: 1, node: 1, kind: 'write', key: 'k', value: 'v2', invokeMs: 21_000, completeMs: null, outcome: 'info' },
    ],
    updates: [{ id: 'u1', process: 3, node: 2, bodyHash: 'd'.repeat(64), invokeMs: 3_000, completeMs: 3_050, outcome: 'fail', error: 'refused' }],
    stateChanges: [
      { device: 'cam-1', gateway: 2, state: 'attack', forbids: true, invokeMs: 29_900, enforcedMs: 30_000, outcome: 'ok', index: 40 },
      { device: 'cam-1', gateway: 2, state: 'normal', forbids: false, invokeMs: 40_000, enforcedMs: 40_100, outcome: 'ok', index: 41 },
      { device: 'cam-1', gateway: 2, state: 'suspicious', forbids: false, invokeMs: 45_000, enforcedMs: null, outcome: 'info' },
    ],
    probes: [{ device: 'cam-1', gateway: 2, sent, received }],
    samples,
  };
}

describe('report', () => {
  test('writeReport writes the history, the verdicts, the summary and a self-contained timeline naming the failed checker', async () => {
    const history = busyHistory();
    const verdicts = checkHistory(history);
    const failed = verdicts.filter((verdict) => !verdict.ok).map((verdict) => verdict.checker);
    assert.deepEqual(failed, ['probes']);
    const dir = await mkdtemp(join(tmpdir(), 'qg-chaos-report-'));
    try {
      const files = await writeReport(dir, history, verdicts);
      assert.deepEqual(JSON.parse(await readFile(files.history, 'utf8')), JSON.parse(JSON.stringify(history)));
      assert.deepEqual(JSON.parse(await readFile(files.verdicts, 'utf8')), verdicts);
      const summary = await readFile(files.summary, 'utf8');
      assert.match(summary, /npm run chaos -- --nodes 3 --faults kill,partition --duration 60 --seed 42 --plant delete-then-add/);
      assert.match(summary, /FAIL probes: /);
      assert.match(summary, /datagram 350 sent at 35\.000s/);
      const html = await readFile(files.timeline, 'utf8');
      assert.match(html, /^<!DOCTYPE html>/);
      assert.doesNotMatch(html, /(src|href)\s*=\s*["']?\s*(https?:)?\/\//i, 'nothing is loaded from the network');
      assert.doesNotMatch(html, /https?:\/\//i);
      assert.doesNotMatch(html, /<script|<link|@import|url\(/i, 'no script, no external stylesheet');
      assert.match(html, /<svg/);
      assert.match(html, /FAIL<\/b> <code>probes<\/code>/);
      assert.match(html, /<title>quorumgate chaos run, seed 42: FAIL \(probes\)<\/title>/);
      assert.match(html, /kill -9 n3 &lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/, 'fault details are escaped');
      assert.match(html, /isolate n1 \(the leader\) &amp; friends/);
      assert.match(html, /class="violation"/, 'the forbidden delivery is marked');
      for (const lane of ['faults', 'n1', 'n2', 'n3', 'ok writes/s', 'ok latency p50/p99', 'enforce cam-1', 'probes cam-1']) assert.ok(html.includes(`>${escapeHtml(lane)}`), `lane ${lane}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('the summary of a passing run says PASS, counts outcomes and gives the repeat command without a plant', () => {
    const history = quietHistory();
    const summary = renderSummary(history, checkHistory(history));
    assert.match(summary, /^quorumgate chaos run: PASS\n/);
    assert.match(summary, new RegExp(`checkers: ${CHECKERS.length} of ${CHECKERS.length} passed`));
    assert.equal(repeatCommand(history), 'npm run chaos -- --nodes 3 --faults kill,partition --duration 60 --seed 42');
    const busy = renderSummary(busyHistory(), []);
    assert.match(busy, /register writes 2 \(ok 1, fail 0, info 1\); reads 1 \(ok 1, fail 0, info 0\)/);
    assert.match(busy, /faults injected: 2/);
  });

  test('the timeline of an empty run still renders', () => {
    const html = renderTimeline({ ...quietHistory(), final: null }, []);
    assert.match(html, /<\/html>\n$/);
  });

  test('escapeHtml escapes every character that could end a text or an attribute', () => {
    assert.equal(escapeHtml(`<a href='x'>"&"</a>`), '&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;');
  });
});
