// etcd-ceiling.test.ts — reading etcd's own load generator (etcdctl check perf) in bench:etcd-ceiling.
//
// Goal: the figure recorded as etcd's throughput on this machine is the one etcdctl printed, whether
// etcd met the workload's target or not, and output without a figure is an error, not a zero.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { throughputOf } from '../../bench/etcd-ceiling.js';

describe('bench:etcd-ceiling reads etcdctl check perf', () => {
  test('the throughput of a passed and of a failed check', () => {
    assert.equal(throughputOf(' 60 / 60 100.00% 1m0s\nPASS: Throughput is 151 writes/s\nPASS: Slowest request took 0.2s\nPASS\n'), 151);
    assert.equal(throughputOf('FAIL: Throughput too low: 2434 writes/s\nSlowest request took too long: 1.503998s\nFAIL\n'), 2434);
  });

  test('output without a throughput line is an error that shows the output', () => {
    assert.throws(() => throughputOf('Error: context deadline exceeded'), /printed no throughput:\nError: context deadline exceeded/);
  });
});
