// devices.test.ts — the arithmetic, sizing and inputs of bench:devices (bench/devices.ts), without a cluster.
//
// Goal: the figures bench:devices reports mean what devices.json says: CPU from the utime and stime fields of
// /proc/<pid>/stat (even when the command name holds spaces and parentheses), RSS from VmRSS, a backlog that
// grows only when the queue gains more than a batch with a rising trend or readings are lost for room,
// dropped counts as deltas over the window, nearest-rank percentiles; fleet devices spread evenly, registered
// with unique ids, addresses and absent ports in bounded bundles; the bench's policy is one the real policy
// validator accepts; bad options are refused with a message naming the flag, what was expected and what came.
// Method: table tests on the exported pure helpers; the policy through src/policy's validatePolicy.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BUNDLE_DEVICES, backlogOf, benchPolicy, chunks, cpuTicksOf, deltaCounts, fleetDevice, fleetId, formatTable, metricValues, parseOptions, rssMbOf, splitAcross, summary,
} from '../../bench/devices.js';
import { schedstatOf, traceLine } from '../../bench/devices-diagnostics.js';
import { validatePolicy } from '../../src/policy/index.js';

describe('bench:devices options', () => {
  test('defaults are 10, 1,000 and 10,000 devices, 30 s windows and 20 reactions', () => {
    assert.deepEqual(parseOptions([]), { sizes: [10, 1_000, 10_000], seconds: 30, reactions: 20 });
    assert.deepEqual(parseOptions(['--sizes', '1000,10', '--seconds', '10', '--reactions', '4']), { sizes: [10, 1_000], seconds: 10, reactions: 4 });
  });

  test('bad options name the flag, what was expected and what came', () => {
    assert.throws(() => parseOptions(['--sizes', '10,abc']), /--sizes expected device counts 1\.\.20000 separated by commas, got "10,abc"/);
    assert.throws(() => parseOptions(['--sizes', '0']), /--sizes expected/);
    assert.throws(() => parseOptions(['--seconds', '-1']), /--seconds expected an integer 1\.\.3600, got "-1"/);
    assert.throws(() => parseOptions(['--reactions']), /--reactions expects a value/);
    assert.throws(() => parseOptions(['--devices', '10']), /unknown argument "--devices"/);
  });
});

describe('the fleet', () => {
  test('devices spread evenly over the three gateways, the first ones taking the remainder', () => {
    assert.deepEqual(splitAcross(10, 3), [4, 3, 3]);
    assert.deepEqual(splitAcross(1_000, 3), [334, 333, 333]);
    assert.deepEqual(splitAcross(10_000, 3), [3_334, 3_333, 3_333]);
    assert.deepEqual(splitAcross(2, 3), [1, 1, 0]);
    for (const total of [1, 7, 10, 999, 10_000]) assert.equal(splitAcross(total, 3).reduce((a, b) => a + b, 0), total);
  });

  test('each fleet device has its own id, credential, address and a port no bridge has', () => {
    const devices = [1, 2, 3].flatMap((gateway) => Array.from({ length: 3_334 }, (_, index) => fleetDevice(gateway, index)));
    assert.equal(new Set(devices.map((d) => d.id)).size, devices.length);
    assert.equal(new Set(devices.map((d) => d.addresses[0])).size, devices.length);
    assert.equal(new Set(devices.map((d) => d.port)).size, devices.length);
    const one = fleetDevice(2, 251);
    assert.deepEqual(one, {
      id: 'g2-251', type: 'temp-sensor', group: 'fleet', nodeId: 'n2', port: 'qgf2x251', addresses: ['10.102.1.2'],
      interface: { protocol: 'mqtt', endpoint: '', credentialRef: 'g2-251' },
    });
    assert.equal(fleetId(2, 251), one.id, 'the simulator\'s --prefix g2- plus its index is the registered id');
    assert.throws(() => fleetDevice(1, -1), /index expected 0\.\.19999, got -1/);
  });

  test('bundles hold at most BUNDLE_DEVICES devices, in order, none lost', () => {
    const ids = Array.from({ length: 4_500 }, (_, i) => i);
    const parts = chunks(ids, BUNDLE_DEVICES);
    assert.deepEqual(parts.map((p) => p.length), [2_000, 2_000, 500]);
    assert.deepEqual(parts.flat(), ids);
    assert.deepEqual(chunks([], 5), []);
    assert.throws(() => chunks([1], 0), /size expected a positive integer, got 0/);
  });

  test('the policy passes the real validator: above 30 °C quarantined, at or below 30 allowed, sampled every second', () => {
    const policy = validatePolicy(benchPolicy(), 'bench:devices');
    const type = policy.deviceTypes[0]!;
    assert.equal(type.name, 'temp-sensor');
    assert.deepEqual(type.states.map((s) => [s.name, 'verdict' in s ? s.verdict : 'chain']), [['normal', 'allow'], ['suspicious', 'quarantine'], ['attack', 'quarantine']]);
    assert.deepEqual(type.rules.map((r) => [r.from, r.to]), [['normal', 'suspicious'], ['suspicious', 'normal']]);
  });
});

describe('what the bench reads from /proc', () => {
  test('CPU is utime + stime, also when the command name holds spaces and parentheses', () => {
    const fields = (name: string): string => `4242 (${name}) S 1 4242 4242 0 -1 4194560 1234 0 5 0 700 300 0 0 20 0 11 0 100 1000000 25000 18446744073709551615`;
    assert.equal(cpuTicksOf(fields('node')), 1_000);
    assert.equal(cpuTicksOf(fields('odd) name (x')), 1_000);
    assert.throws(() => cpuTicksOf('garbage'), /expected \/proc\/<pid>\/stat text/);
  });

  test('RSS is VmRSS in MB; a zombie without it reads 0', () => {
    assert.equal(rssMbOf('Name:\tnode\nVmPeak:\t 999999 kB\nVmRSS:\t  204800 kB\nRssAnon:\t 1 kB\n'), 200);
    assert.equal(rssMbOf('Name:\tnode\nState:\tZ (zombie)\n'), 0);
  });
});

describe('backlog, drops and percentiles', () => {
  const series = (values: number[]): { tMs: number; queued: number }[] => values.map((queued, i) => ({ tMs: i * 5_000, queued }));

  test('a queue that gains more than one batch with a rising trend is growing', () => {
    const growing = backlogOf(series([3_418, 5_083, 6_777]), {});
    assert.equal(growing.growing, true);
    assert.equal(growing.slopePerS, 335.9);
    assert.equal(backlogOf(series([12, 38, 38]), {}).growing, false, 'a few readings waiting for the next batch');
    assert.equal(backlogOf(series([5_564, 0, 14]), {}).growing, false, 'a queue that drains');
  });

  test('readings lost for room mean a growing backlog even when the queue looks flat (it is full)', () => {
    assert.equal(backlogOf(series([50_000, 50_000, 50_000]), { buffer_full: 3_000 }).growing, true);
    assert.equal(backlogOf(series([0, 0]), { not_committed: 12 }).growing, true);
    assert.equal(backlogOf(series([0, 0]), { out_of_range: 12 }).growing, false, 'a bad reading is not a backlog');
    assert.deepEqual(backlogOf([], {}), { growing: false, slopePerS: 0, first: 0, last: 0, max: 0 });
  });

  test('dropped readings are counted over the window, by reason', () => {
    assert.deepEqual(deltaCounts({ rate_limited: 3 }, { rate_limited: 10, buffer_full: 2 }), { rate_limited: 7, buffer_full: 2 });
    assert.deepEqual(deltaCounts({ rate_limited: 3 }, { rate_limited: 3 }), {});
  });

  test('p50 and p95 by nearest rank, null (not NaN) for no samples', () => {
    const twenty = Array.from({ length: 20 }, (_, i) => (i + 1) * 10);
    assert.deepEqual(summary(twenty), { p50: 100, p95: 190, n: 20 });
    assert.deepEqual(summary([]), { p50: null, p95: null, n: 0 });
  });

  test('the table judges the goals at the largest size only when it is 10,000 devices', () => {
    const run = (devices: number, readings: number, rss: number, p95: number) => ({
      devices, offered_per_s: devices, readings_per_s: readings, backlog_growing: false, rss_mb_max: rss, reaction_ms: { p50: p95 / 2, p95 },
    });
    assert.match(formatTable([run(10, 10, 140, 120)]), /10000 readings\/s with no growing backlog: not measured.*reaction p95 <= 300 ms at every size: met/);
    assert.match(formatTable([run(10, 10, 140, 120), run(10_000, 6_000, 450, 900)]), /no growing backlog: NOT met; RSS <= 200 MB per node at 10,000: NOT met; reaction p95 <= 300 ms at every size: NOT met/);
    assert.match(formatTable([]), /KalKi \(published\): 125 devices, reaction 3 s/);
  });
});

describe('bench:devices metrics', () => {
  test('a Prometheus exposition is read by name and labels; comments and malformed lines are skipped', () => {
    const text = [
      '# HELP quorumgate_device_readings_queued Readings waiting.', '# TYPE quorumgate_device_readings_queued gauge',
      'quorumgate_device_readings_queued 1234', 'quorumgate_device_readings_dropped_total{reason="buffer_full"} 56',
      'quorumgate_device_intake_lag_seconds{protocol="mqtt"} 0.25', 'garbage', 'not_a_number NaNx', '',
    ].join('\n');
    const values = metricValues(text);
    assert.equal(values.get('quorumgate_device_readings_queued'), 1234);
    assert.equal(values.get('quorumgate_device_readings_dropped_total{reason="buffer_full"}'), 56);
    assert.equal(values.get('quorumgate_device_intake_lag_seconds{protocol="mqtt"}'), 0.25);
    assert.equal(values.size, 3);
  });

  test('the trace reads a thread\'s run and wait time from schedstat, and the loop delay, GC and Raft figures from /metrics', () => {
    assert.deepEqual(schedstatOf('123456789 987654321 42\n'), { runNs: 123_456_789, waitNs: 987_654_321 });
    assert.throws(() => schedstatOf('garbage'), /expected "run_ns wait_ns slices", got "garbage"/);
    const metrics = metricValues([
      'quorumgate_process_nodejs_eventloop_lag_max_seconds 1.23456', 'quorumgate_process_nodejs_eventloop_lag_p99_seconds 0.0105',
      'quorumgate_process_nodejs_gc_duration_seconds_sum{kind="major"} 0.5', 'quorumgate_process_nodejs_gc_duration_seconds_sum{kind="minor"} 0.25',
      'quorumgate_raft_term 7', 'quorumgate_pending_proposals 2',
    ].join('\n'));
    const line = traceLine(metrics, { run_ms: 150, wait_ms: 600 });
    assert.equal(line['loop_max_ms'], 1234.6);
    assert.equal(line['loop_p99_ms'], 10.5);
    assert.equal(line['gc_total_ms'], 750);
    assert.equal(line['term'], 7);
    assert.equal(line['pending_proposals'], 2);
    assert.equal(line['commit'], null, 'a figure the node does not export is null');
    assert.equal(line['sched_wait_ms'], 600);
  });
});
