// raft.ts — benchmark of a real 3-node cluster on loopback (npm run bench:raft).
//
// Measures, with separate node processes, LevelDB fsync and the authenticated transport:
//  - throughput_per_s: acknowledged 256-byte proposals per second at 1, 16, 64 and 256 concurrent
//    proposers (each proposer waits for its answer before sending the next, over HTTP keep-alive
//    to the leader, which is where etcd's clients send writes too);
//  - commit_latency_ms p50/p99: from request to acknowledgement, over every level;
//  - failover_ms p50/p99: kill -9 the leader, then the time until a new leader acknowledges the
//    first proposal (a prober sends to the survivors every 10 ms), over at least 10 kills.
// Prints the figures and writes bench/results/raft.json. Options: --seconds S per level (default 5),
// --kills K (default 10), --tick-ms, --election-ticks.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { LocalCluster } from '../cluster/local-cluster.js';
import { BatchingProposer, percentile, proposeOnce, runClosedLoop, waitForAllApplied } from './support.js';

const PAYLOAD_BYTES = 256;
const LEVELS = [1, 16, 64, 256];

async function main(): Promise<void> {
  const options = new Command('bench:raft')
    .option('--seconds <s>', 'seconds per concurrency level', (v) => Number(v), 5)
    .option('--kills <k>', 'leader kills for the failover figure', (v) => Number(v), 10)
    .option('--tick-ms <ms>', 'Raft tick', (v) => Number(v), 100)
    .option('--election-ticks <n>', 'election timeout in ticks', (v) => Number(v), 10)
    .option('--batch-connections <n>', 'connections of the batching client', (v) => Number(v), 2)
    .parse(process.argv)
    .opts<{ seconds: number; kills: number; tickMs: number; electionTicks: number; batchConnections: number }>();
  const electionTimeoutMs = options.tickMs * options.electionTicks;
  const dir = mkdtempSync(join(tmpdir(), 'qg-bench-raft-'));
  const cluster = await LocalCluster.create({
    dir, nodes: 3, application: 'log',
    timing: { tickMs: options.tickMs, electionTicks: options.electionTicks, heartbeatTicks: 1, proposalTimeoutMs: 5_000 },
  });
  cluster.startAll();
  try {
    await cluster.waitForLeader(30_000);
    /**
     * measureLevels runs every level of proposers against the current leader through the client that
     * `clientFor` makes for that level, prints each level (with the client's own note) and returns the figures.
     */
    const measureLevels = async (label: string, clientFor: (apiUrl: string, proposers: number) => { send: (id: string) => Promise<{ ok: boolean }>; note: () => string }):
      Promise<{ throughput: Record<string, number>; latencies: number[] }> => {
      const figures = { throughput: {} as Record<string, number>, latencies: [] as number[] };
      for (const proposers of LEVELS) {
        const client = clientFor(cluster.apiUrl(await cluster.waitForLeader(10_000)), proposers);
        const result = await runClosedLoop({ proposers, seconds: options.seconds, warmupSeconds: 1, send: client.send });
        figures.throughput[String(proposers)] = Math.round(result.perSecond);
        figures.latencies.push(...result.latenciesMs);
        console.log(`proposers ${String(proposers).padStart(3)}${label}: ${Math.round(result.perSecond).toString().padStart(6)} proposals/s  p50 ${percentile(result.latenciesMs, 50).toFixed(1)} ms  p99 ${percentile(result.latenciesMs, 99).toFixed(1)} ms  errors ${result.errors}${client.note()}`);
      }
      return figures;
    };
    const { throughput, latencies } = await measureLevels('', (apiUrl) => ({ send: (id) => proposeOnce(apiUrl, id, PAYLOAD_BYTES), note: () => '' }));
    // The same proposers through a client that coalesces their proposals into batch requests.
    const meanBatch: Record<string, number> = {};
    const batched = await measureLevels(' (batching client)', (apiUrl, proposers) => {
      const client = new BatchingProposer({ apiUrl, bytes: PAYLOAD_BYTES, connections: options.batchConnections });
      return {
        send: (id) => client.propose(id),
        note: () => {
          meanBatch[proposers] = round(client.meanBatch());
          return `  mean batch ${meanBatch[proposers]}`;
        },
      };
    });
    const failovers: number[] = [];
    for (let kill = 0; kill < options.kills; kill++) {
      const ids = cluster.nodes.map((n) => n.nodeId);
      await waitForAllApplied(cluster, ids);
      const leader = await cluster.waitForLeader(15_000);
      const survivors = ids.filter((id) => id !== leader);
      await cluster.kill(leader);
      const killedAt = performance.now();
      let acked = false;
      for (let attempt = 0; !acked && performance.now() - killedAt < 20 * electionTimeoutMs; attempt++) {
        const target = survivors[attempt % survivors.length]!;
        const outcome = await proposeOnce(cluster.apiUrl(target), `failover-${kill}-${attempt}`, PAYLOAD_BYTES, 2 * electionTimeoutMs);
        if (outcome.ok) acked = true;
        else await new Promise((r) => setTimeout(r, 10));
      }
      if (!acked) throw new Error(`no proposal acknowledged within ${20 * electionTimeoutMs} ms of killing leader ${leader}`);
      const failoverMs = performance.now() - killedAt;
      failovers.push(failoverMs);
      console.log(`kill ${kill + 1}/${options.kills}: leader ${leader} killed, first commit after ${failoverMs.toFixed(0)} ms`);
      cluster.start(leader);
    }
    const report = {
      date: new Date().toISOString(),
      machine: `${(await import('node:os')).cpus().length} cores, Node ${process.version}`,
      payload_bytes: PAYLOAD_BYTES,
      seconds_per_level: options.seconds,
      election_timeout_ms: electionTimeoutMs,
      throughput_per_s: throughput,
      commit_latency_ms: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)) },
      batching_client: {
        connections: options.batchConnections,
        throughput_per_s: batched.throughput,
        commit_latency_ms: { p50: round(percentile(batched.latencies, 50)), p99: round(percentile(batched.latencies, 99)) },
        mean_batch: meanBatch,
      },
      failover_ms: { p50: round(percentile(failovers, 50)), p99: round(percentile(failovers, 99)), samples: failovers.map(round) },
    };
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/raft.json', `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nthroughput at 64 proposers: ${throughput['64']} proposals/s (goal >= 20,000)`);
    console.log(`failover p50 ${report.failover_ms.p50} ms, p99 ${report.failover_ms.p99} ms (goal p99 < ${2 * electionTimeoutMs} ms = 2 election timeouts)`);
    console.log('written to bench/results/raft.json');
  } finally {
    await cluster.destroy();
  }
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

main().catch((error: unknown) => {
  console.error(`bench:raft: ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(1);
});
