// wan-campaign.test.ts — the chaos smoke on the WAN topology (issue 17 item 4), as CI runs it: every
// gateway a host of its own (a network namespace with its address on a shared WAN bridge, its own Open
// vSwitch, its probe device behind its bridge; cluster/wan.ts), partitions made by iptables in each host's
// namespace, the leader killed, one host's Open vSwitch stopped; every checker must pass, and the partition of
// the leader's host must have cut it off (some node stopped following it). Short on purpose (about 2 minutes on 2 cores): the long
// campaigns run with `npm run chaos -- --topology wan --faults all ...`.
//
// Needs root, OVS and Docker: skipped with a message when missing, failed when CI=true. The run tears down
// its hosts (namespaces, switches, μmboxes, run directories) even when it fails.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckerVerdict, History } from '../../chaos/history.js';
import { WAN } from '../../cluster/wan.js';
import { facilities, releaseFacilities } from '../dataplane/lab.js';
import { findRunDir, repoPath } from '../support/paths.js';

const available = await facilities();
const skip = available.ok ? false : `needs ${available.reason}`;
after(() => releaseFacilities(available));

const FAULTS = ['partition-leader', 'partition-oneway', 'partition-halves', 'kill-leader', 'ovs-restart'];

test('WAN smoke: partitions by iptables between hosts, the leader killed, one host\'s switch stopped; every checker passes', { skip, timeout: 600_000 }, () => {
  const out = mkdtempSync(join(tmpdir(), 'qg-chaos-wan-'));
  const result = spawnSync(process.execPath, [repoPath('dist', 'chaos', 'cli.js'), '--topology', 'wan', '--nodes', '3', '--faults', FAULTS.join(','), '--duration', '15', '--seed', '21', '--out', out],
    { encoding: 'utf8', timeout: 540_000 });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  writeFileSync(join(out, 'output.txt'), output);
  try {
    const runDir = findRunDir(out);
    assert.ok(runDir, `the campaign wrote a run directory (status ${result.status}):\n${output.slice(-3000)}`);
    const history = JSON.parse(readFileSync(join(runDir, 'history.json'), 'utf8')) as History;
    const verdicts = JSON.parse(readFileSync(join(runDir, 'verdicts.json'), 'utf8')) as CheckerVerdict[];
    const explain = verdicts.map((v) => `${v.ok ? 'PASS' : 'FAIL'} ${v.checker}: ${v.summary}\n  ${v.problems.slice(0, 5).join('\n  ')}`).join('\n');
    assert.equal(history.run.topology, 'wan', 'the run stood on the WAN topology');
    const injected = new Set(history.faults.filter((f) => f.phase === 'start' && !f.detail.startsWith('could not start')).map((f) => f.fault));
    assert.deepEqual(FAULTS.filter((family) => !injected.has(family)), [], 'every chosen fault family was injected');
    assert.equal(result.status, 0, `the campaign passes:\n${explain}`);
    assert.deepEqual(verdicts.filter((v) => !v.ok).map((v) => v.checker), []);
    // The iptables cut took effect: during the partition of the leader's host, some node stopped following
    // it (a new leader, or none where the other two could not form a majority: the seed may have killed one just before).
    const cut = history.faults.find((f) => f.phase === 'start' && f.fault === 'partition-leader');
    const end = history.faults.find((f) => f.phase === 'end' && f.fault === 'partition-leader');
    const isolated = cut?.nodes[0];
    assert.ok(cut !== undefined && end !== undefined && isolated !== undefined);
    const lost = history.samples.filter((s) => s.t >= cut.t && s.t <= end.t + 2_000 && s.up && s.leader !== isolated);
    assert.ok(lost.length > 0, `some node stopped following the cut-off n${isolated} during its partition (${cut.t}..${end.t} ms)`);
    assert.ok(history.register.filter((op) => op.kind === 'write' && op.outcome === 'ok').length > 20, 'writes were acknowledged');
    // The WAN gateways forwarded for real: every probe got through its own gateway (each starts allowed;
    // the workload may forbid one for the rest of the run a second in — seed 21 moved probe-2 to attack
    // at 1.3 s once, so no per-probe volume is promised), and the probes checker above judged every loss.
    for (const series of history.probes) assert.ok(series.received.length > 0, `probes of ${series.device} got through while allowed`);
    assert.ok(history.probes.reduce((sum, series) => sum + series.received.length, 0) > 1_000, 'probe traffic crossed the gateways');
    assert.equal(existsSync(WAN.runRoot), false, 'the hosts were torn down (no /run/qgw left)');
  } catch (error) {
    if (error instanceof Error) error.message += `\n(report and the campaign's output kept in ${out})`;
    throw error;
  }
  rmSync(out, { recursive: true, force: true });
});
