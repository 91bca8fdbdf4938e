// rolling-restart.test.ts — restarting every node of a running cluster one at a time (issue 17 item 5).
//
// Goal: under a steady write load, each node of a 3-node cluster in turn is stopped (SIGTERM, as systemd
// stops it) and started again from its own data directory, the leader included; no acknowledged write is
// lost, the cluster keeps acknowledging writes through every restart, and each restart costs at most one
// election (the term grows by at most one per restart).
// Device traffic and the enforcement-lapse check during the restarts are in rolling-restart-gateway.test.ts
// (three enforcing gateways, real OVS and devices). Not covered: an upgrade between two different releases
// (only one release exists; the format-version refusals are in format-version.test.ts).
// Method: LocalCluster (real processes on loopback, the bare Raft log application) with the Workload of
// test/node/cluster-support.ts proposing unique ids; every node's applied log is read at the end.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LocalCluster } from '../../cluster/local-cluster.js';
import { appliedIds, createTestCluster, waitConverged, Workload } from '../node/cluster-support.js';

const clusters: LocalCluster[] = [];
after(async () => {
  for (const cluster of clusters) await cluster.destroy();
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** highestTerm is the largest term any answering node reports. */
async function highestTerm(cluster: LocalCluster): Promise<number> {
  const all = await cluster.statusAll();
  return Math.max(...[...all.values()].map((s) => s?.term ?? 0));
}

test('a rolling restart of all three nodes under write load loses no acknowledged write and costs at most one election per restart', { timeout: 240_000 }, async () => {
  const cluster = await createTestCluster({ nodes: 3 });
  clusters.push(cluster);
  const ids = cluster.nodes.map((n) => n.nodeId);
  await cluster.waitForLeader(20_000);
  const workload = new Workload(cluster, 4);
  workload.start();
  await sleep(1_000);
  // Followers first, the leader last: the order an operator follows (one election, at the end).
  const leader = await cluster.waitForLeader();
  const order = [...ids.filter((id) => id !== leader), leader];
  for (const id of order) {
    const termBefore = await highestTerm(cluster);
    const ackedBefore = workload.acked().length;
    await cluster.stop(id);
    cluster.start(id);
    await cluster.waitForLeader(20_000);
    await waitConverged(cluster, ids, 30_000);
    await sleep(500);
    const termAfter = await highestTerm(cluster);
    assert.ok(termAfter - termBefore <= 1, `restarting node ${id} cost ${termAfter - termBefore} elections (term ${termBefore} -> ${termAfter})`);
    assert.ok(workload.acked().length > ackedBefore, `writes were acknowledged while node ${id} restarted`);
  }
  await workload.stop();
  const acked = workload.acked();
  assert.ok(acked.length > 50, `a steady load (${acked.length} acknowledged writes)`);
  await waitConverged(cluster, ids, 30_000);
  for (const id of ids) {
    const applied = new Set((await appliedIds(cluster, id)).ids);
    const lost = acked.filter((write) => !applied.has(write));
    assert.deepEqual(lost, [], `node ${id} has every acknowledged write`);
  }
});
