// etcd.test.ts — the arithmetic and sizing of bench:etcd (bench/etcd.ts), without running a cluster.
//
// Goal: the figures the benchmark reports mean what etcd.json says they mean: percentiles by nearest
// rank, ratios as quorumgate ÷ etcd (null when a side is missing), the report keyed by client
// count with p50/p99; every quorumgate write carries a PutDevice payload of exactly 256 bytes, as
// the protobuf encoder sees it; bad options are refused with a message naming what and got.
// Method: table tests on the exported pure helpers; payload sizes checked against encodeBody.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  COUNTER_METRICS, VALUE_BYTES, bestGoals, bestRatios, benchDevice, levelResources, parseCounters, benchPolicy, clientOf, formatTable, latencyLevelOf, parseLevels, parseOptions, parsePositiveInteger,
  putDevicePayloadBytes, ratioOf, ratios, summarize, systemReport, writeTag, type SystemFigures,
} from '../../bench/etcd.js';
import { decodeBody, encodeBody, generateKeyPair, keyIdHex, type DeviceSpec } from '../../src/commands/index.js';

function figures(init: { throughput?: Array<[number, number]>; latencies?: Array<[number, number[]]>; failovers?: number[]; cpuPerWrite?: Array<[number, number]> }): SystemFigures {
  return {
    throughputPerSecond: new Map(init.throughput ?? []),
    latenciesMs: new Map(init.latencies ?? []),
    errors: new Map(),
    failoversMs: init.failovers ?? [],
    resources: new Map((init.cpuPerWrite ?? []).map(([level, ms]) => [level, { leader_log_syncs_per_s: null, leader_mean_log_sync_ms: null, cluster_cpu_cores: null, cluster_cpu_ms_per_write: ms }])),
  };
}

function bodyWith(device: DeviceSpec): Uint8Array {
  const pair = generateKeyPair();
  return encodeBody({
    clusterId: new Uint8Array(32), domain: 'bench-0', signer: keyIdHex(pair.publicKey), seq: 7, notAfterMs: 1_800_000_000_000,
    payload: { kind: 'putDevice', device },
  });
}

describe('percentiles and ratios', () => {
  test('summarize takes the nearest-rank p50 and p99 and rounds to 0.1 ms', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.deepEqual(summarize(hundred), { p50: 50, p99: 99 });
    assert.deepEqual(summarize([3.14159]), { p50: 3.1, p99: 3.1 });
    // Five failover samples: p99 is the worst of them, p50 the third.
    assert.deepEqual(summarize([900, 1500, 1100, 2000, 1200]), { p50: 1200, p99: 2000 });
  });

  test('summarize of no samples is null, not NaN (JSON cannot hold NaN)', () => {
    assert.deepEqual(summarize([]), { p50: null, p99: null });
  });

  test('ratioOf is quorumgate ÷ etcd to 3 decimals, null when a side is missing or etcd is 0', () => {
    const cases: Array<[number | null | undefined, number | null | undefined, number | null]> = [
      [300, 200, 1.5], [1, 3, 0.333], [200, 200, 1], [0, 5, 0], [5, 0, null], [undefined, 5, null], [5, null, null],
    ];
    for (const [q, e, expected] of cases) assert.equal(ratioOf(q, e), expected, `ratioOf(${q}, ${e})`);
  });

  test('ratios compare throughput at 64 clients and failover p99', () => {
    const quorumgate = figures({ throughput: [[1, 10], [64, 900]], failovers: [1000, 1100, 1300] });
    const etcd = figures({ throughput: [[1, 20], [64, 600]], failovers: [1200, 2600] });
    assert.deepEqual(ratios(quorumgate, etcd), { throughput_64: 1.5, failover_p99: 0.5 });
    assert.deepEqual(ratios(figures({ throughput: [[16, 5]] }), figures({ throughput: [[16, 5]] })), { throughput_64: null, failover_p99: null });
  });

  test('latency is reported at 64 clients, or at the largest level when 64 is not measured', () => {
    assert.equal(latencyLevelOf([1, 16, 64, 256]), 64);
    assert.equal(latencyLevelOf([1, 16]), 16);
  });
});

describe('the report', () => {
  test('a system report keys throughput by client count and gives latency and failover as p50/p99', () => {
    const report = systemReport(figures({
      throughput: [[1, 99.6], [64, 1234.4]], latencies: [[1, [1, 2, 3]], [64, Array.from({ length: 100 }, (_, i) => i)]], failovers: [1500.04, 1000],
    }), 64);
    assert.deepEqual(report.throughput_per_s, { 1: 100, 64: 1234 });
    assert.deepEqual(report.latency_ms, { p50: 49, p99: 98 });
    assert.equal(report.latency_clients, 64);
    assert.deepEqual(report.latency_by_clients_ms['1'], { p50: 2, p99: 3 });
    assert.deepEqual(report.failover_ms, { p50: 1000, p99: 1500, samples: [1500, 1000] });
    assert.deepEqual(report.errors_by_clients, { 1: 0, 64: 0 });
  });

  test('the printed table shows the three systems per level, the best ratio and whether each goal is met', () => {
    const quorumgate = figures({ throughput: [[64, 900]], latencies: [[64, [10, 20]]], failovers: [1000], cpuPerWrite: [[64, 1.2]] });
    const etcd = figures({ throughput: [[64, 600]], latencies: [[64, [5, 6]]], failovers: [2000], cpuPerWrite: [[64, 0.5]] });
    const grpc = figures({ throughput: [[64, 800]], latencies: [[64, [4, 5]]], failovers: [1500], cpuPerWrite: [[64, 0.4]] });
    const table = formatTable([64], quorumgate, etcd, grpc);
    assert.match(table, /^\s+64 \|\s+900\s+10\s+20\s+1\.2 \|\s+600\s+5\s+6\s+0\.5 \|\s+800\s+4\s+5\s+0\.4 \|\s+1\.125$/m);
    assert.match(table, /throughput at 64 clients >= etcd's: met \(ratio 1\.5\)/);
    assert.match(table, /failover p99 <= etcd's: met \(ratio 0\.5\)/);
    assert.match(table, /vs the faster etcd API: throughput at 64 >= 1\.0x: met \(ratio 1\.125\)/);
    assert.match(table, /CPU\/write at 64 <= 1\.5x: NOT met \(ratio 3\)/);
    const slower = formatTable([64], etcd, quorumgate);
    assert.match(slower, /throughput at 64 clients >= etcd's: NOT met/);
  });
});

describe('against the faster etcd API', () => {
  test('each best ratio takes the better etcd API for that figure, and null when no API measured it', () => {
    const quorumgate = figures({ throughput: [[1, 100], [64, 1000]], latencies: [[1, [6]]], failovers: [500], cpuPerWrite: [[1, 8], [64, 1.3]] });
    const json = figures({ throughput: [[1, 500], [64, 2600]], latencies: [[1, [2]]], failovers: [1500], cpuPerWrite: [[1, 2.3], [64, 0.5]] });
    const grpc = figures({ throughput: [[1, 340], [64, 2900]], latencies: [[1, [3]]], failovers: [1000], cpuPerWrite: [[1, 2], [64, 0.65]] });
    const r = bestRatios(quorumgate, [json, grpc]);
    assert.deepEqual(r, { throughput_64_best: 0.345, p50_1_best: 3, cpu_per_write_64: 2.6, cpu_per_write_1: 4, failover_p99_best: 0.5 });
    assert.deepEqual(bestGoals(r), { throughput_64_best: false, p50_1_best: false, cpu_per_write_64: false, cpu_per_write_1: false, failover_p99_best: true });
    const none = bestRatios(quorumgate, [figures({}), figures({})]);
    assert.deepEqual(none, { throughput_64_best: null, p50_1_best: null, cpu_per_write_64: null, cpu_per_write_1: null, failover_p99_best: null });
    assert.deepEqual(bestGoals(none), { throughput_64_best: null, p50_1_best: null, cpu_per_write_64: null, cpu_per_write_1: null, failover_p99_best: null });
  });

  test('a goal at its exact bound is met', () => {
    const r = { throughput_64_best: 1, p50_1_best: 1.5, cpu_per_write_64: 1.5, cpu_per_write_1: 1.5, failover_p99_best: 1 };
    assert.deepEqual(Object.values(bestGoals(r)), [true, true, true, true, true]);
  });
});

describe('where the time went', () => {
  test('counters are read from Prometheus text, unlabelled samples only, undefined when a series is missing', () => {
    const etcdText = [
      '# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.',
      'process_cpu_seconds_total 12.5',
      'etcd_disk_wal_fsync_duration_seconds_bucket{le="0.001"} 3',
      'etcd_disk_wal_fsync_duration_seconds_sum 0.0174',
      'etcd_disk_wal_fsync_duration_seconds_count 8',
    ].join('\n');
    assert.deepEqual(parseCounters(etcdText, COUNTER_METRICS.etcd), { cpuSeconds: 12.5, logSyncs: 8, logSyncSeconds: 0.0174 });
    const quorumgateText = 'quorumgate_process_process_cpu_seconds_total 3\nquorumgate_storage_saves_total 75\nquorumgate_storage_synced_saves_total 40\n'
      + 'quorumgate_storage_save_seconds_total 0.25\nquorumgate_storage_synced_save_seconds_total 0.2\n';
    assert.deepEqual(parseCounters(quorumgateText, COUNTER_METRICS.quorumgate), { cpuSeconds: 3, logSyncs: 40, logSyncSeconds: 0.2 });
    assert.equal(parseCounters('process_cpu_seconds_total 1', COUNTER_METRICS.etcd), undefined);
    assert.equal(parseCounters(quorumgateText, COUNTER_METRICS.etcd), undefined, 'the other system\'s names do not match');
  });

  test('a level\'s resources are rates over its elapsed time: leader syncs, mean sync time, cluster CPU and CPU per write', () => {
    const c = (cpuSeconds: number, logSyncs: number, logSyncSeconds: number) => ({ cpuSeconds, logSyncs, logSyncSeconds });
    const resources = levelResources({
      leaderBefore: c(10, 100, 1), leaderAfter: c(12, 300, 2),
      before: [c(10, 100, 1), c(5, 0, 0), c(5, 0, 0)], after: [c(12, 300, 2), c(6, 0, 0), c(6, 0, 0)],
      elapsedS: 2, writesPerSecond: 1000,
    });
    // 200 syncs in 2 s, 1 s of syncing in 200 syncs, 4 CPU seconds in 2 s over 2,000 writes.
    assert.deepEqual(resources, { leader_log_syncs_per_s: 100, leader_mean_log_sync_ms: 5, cluster_cpu_cores: 2, cluster_cpu_ms_per_write: 2 });
    const silent = levelResources({ leaderBefore: undefined, leaderAfter: c(1, 1, 1), before: [undefined], after: [c(1, 1, 1)], elapsedS: 1, writesPerSecond: 0 });
    assert.deepEqual(silent, { leader_log_syncs_per_s: null, leader_mean_log_sync_ms: null, cluster_cpu_cores: null, cluster_cpu_ms_per_write: null });
  });
});

describe('the quorumgate write', () => {
  test('every write carries a PutDevice payload of exactly 256 bytes, whatever the client and write number', () => {
    for (const client of [0, 7, 63, 255, 1023]) {
      for (const write of [0, 1, 999, 2 ** 40]) {
        assert.equal(putDevicePayloadBytes(benchDevice(client, write, 'n1')), VALUE_BYTES, `client ${client} write ${write}`);
      }
    }
  });

  test('the payload size agrees with the protobuf encoder', () => {
    // Payloads of 128..16383 bytes have a 2-byte length prefix, so body sizes differ exactly as payloads do.
    const sizes = [200, 256, 300, 1000];
    const bodies = sizes.map((size) => bodyWith(benchDevice(3, 42, 'n1', size)).length);
    for (let i = 1; i < sizes.length; i++) assert.equal(bodies[i]! - bodies[0]!, sizes[i]! - sizes[0]!, `payload ${sizes[i]}`);
    const small: DeviceSpec = { id: 'd', type: 't', group: 'g', tags: [], nodeId: 'n1', port: 'p', addresses: [] };
    // 1-byte length prefix for payloads under 128 bytes.
    assert.equal(bodyWith(benchDevice(3, 42, 'n1', 200)).length - bodyWith(small).length, 200 + 2 - (putDevicePayloadBytes(small) + 1));
  });

  test('the padded device is a valid command: it encodes, decodes and names the client and the write', () => {
    const device = benchDevice(17, 5, 'n2');
    const decoded = decodeBody(bodyWith(device));
    assert.equal(decoded.payload.kind, 'putDevice');
    assert.deepEqual(decoded.payload.kind === 'putDevice' ? decoded.payload.device : undefined, device);
    assert.equal(device.id, 'bench-c17');
    assert.equal(device.tags[0], writeTag(5));
    assert.equal(new Set(device.tags).size, device.tags.length);
  });

  test('write tags have a fixed width, so payload size does not drift with the counter', () => {
    assert.equal(writeTag(0).length, writeTag(Number.MAX_SAFE_INTEGER).length);
    assert.notEqual(writeTag(1), writeTag(2));
  });

  test('the bench policy declares the one device type the writes use, with the three required states', () => {
    const policy = JSON.parse(benchPolicy('bench-3')) as { domain: string; version: number; deviceTypes: Array<{ name: string; states: Array<{ name: string }> }> };
    assert.equal(policy.domain, 'bench-3');
    assert.equal(policy.deviceTypes[0]!.name, benchDevice(0, 0, 'n1').type);
    assert.deepEqual(policy.deviceTypes[0]!.states.map((s) => s.name), ['normal', 'suspicious', 'attack']);
  });

  test('clientOf reads the client number out of the load generator\'s request id', () => {
    assert.equal(clientOf('p0-1'), 0);
    assert.equal(clientOf('p255-123456'), 255);
    assert.throws(() => clientOf('probe-1'), /unexpected request id "probe-1"/);
  });
});

describe('options', () => {
  test('--levels takes distinct client counts from 1 to 1024', () => {
    assert.deepEqual(parseLevels('1,16,64,256'), [1, 16, 64, 256]);
    assert.deepEqual(parseLevels(' 8 , 2'), [8, 2]);
    assert.throws(() => parseLevels('1,x'), /--levels item 2: expected an integer from 1 to 1024, got "x"/);
    assert.throws(() => parseLevels('0'), /--levels item 1: expected an integer from 1 to 1024, got "0"/);
    assert.throws(() => parseLevels('2000'), /got "2000"/);
    assert.throws(() => parseLevels('4,4'), /--levels: expected distinct client counts, got "4,4"/);
  });

  test('integer options name themselves and the minimum', () => {
    assert.equal(parsePositiveInteger('--kills', 1)('5'), 5);
    assert.throws(() => parsePositiveInteger('--kills', 1)('0'), /--kills: expected an integer of at least 1, got "0"/);
    assert.throws(() => parsePositiveInteger('--seconds', 1)('1.5'), /--seconds: expected an integer of at least 1, got "1.5"/);
  });

  test('the defaults are the issue\'s: 1, 16, 64 and 256 clients, 5 kills, 100 ms ticks and a 1000 ms election timeout', () => {
    const options = parseOptions(['node', 'etcd.ts']);
    assert.deepEqual(options.levels, [1, 16, 64, 256]);
    assert.equal(options.kills, 5);
    assert.equal(options.tickMs * options.electionTicks, 1000);
    assert.match(options.out, /bench\/results\/etcd\.json$/);
    const custom = parseOptions(['node', 'etcd.ts', '--levels', '2,4', '--kills', '7', '--seconds', '3', '--out', '/tmp/x.json']);
    assert.deepEqual([custom.levels, custom.kills, custom.seconds, custom.out], [[2, 4], 7, 3, '/tmp/x.json']);
  });
});
