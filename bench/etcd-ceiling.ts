// etcd-ceiling.ts — what etcd itself reaches on this machine (npm run bench:etcd-ceiling).
//
// The reference for bench:raft's throughput goal: a 3-member etcd on loopback (the same EtcdCluster
// as bench:etcd: fsync on, heartbeat 100 ms, election timeout 1000 ms), driven by etcd's own load
// generator, `etcdctl check perf` (Go, gRPC, many clients over shared connections, 60 s). Its
// workloads: s = 50 clients aiming at 150 writes/s, m = 200 at 1,000, l = 500 at 8,000, xl = 1,000
// at 15,000. It prints the throughput reached and writes bench/results/etcd-ceiling.json.
// Options: --load s|m|l|xl (default xl).
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Command } from 'commander';
import { EtcdCluster, findEtcdBinary } from './etcd-cluster.js';

const LOADS = ['s', 'm', 'l', 'xl'] as const;

/** throughputOf reads "PASS: Throughput is N writes/s" or "FAIL: Throughput too low: N writes/s". */
export function throughputOf(output: string): number {
  const match = /Throughput (?:is|too low:) (\d+) writes\/s/.exec(output);
  if (match === null) throw new Error(`etcdctl check perf printed no throughput:\n${output.slice(-2_000)}`);
  return Number(match[1]);
}

async function main(): Promise<void> {
  const options = new Command('bench:etcd-ceiling')
    .option('--load <load>', `etcdctl check perf workload (${LOADS.join('|')})`, 'xl')
    .parse(process.argv)
    .opts<{ load: string }>();
  if (!(LOADS as readonly string[]).includes(options.load)) throw new Error(`--load must be one of ${LOADS.join(', ')}, got "${options.load}"`);
  const etcdVersion = execFileSync(findEtcdBinary(), ['--version'], { encoding: 'utf8' }).split('\n')[0]?.trim() ?? 'unknown';
  const loadAtStart = loadavg();
  const cluster = await EtcdCluster.start({ heartbeatIntervalMs: 100, electionTimeoutMs: 1_000, preVote: true });
  try {
    await cluster.waitForLeader(15_000);
    const endpoints = cluster.members.map((m) => m.clientUrl).join(',');
    console.log(`etcdctl check perf --load=${options.load} against ${endpoints} (60 s)`);
    // check perf exits 1 when etcd misses the workload's target; the figure is printed either way.
    const output = await new Promise<string>((resolve) => {
      execFile('etcdctl', ['--endpoints', endpoints, 'check', 'perf', `--load=${options.load}`], { env: { ...process.env, ETCDCTL_API: '3' }, maxBuffer: 16 * 1024 * 1024 },
        (_error, stdout, stderr) => resolve(`${stdout}\n${stderr}`));
    });
    const perSecond = throughputOf(output);
    const verdict = output.split('\n').map((l) => l.trim()).filter((l) => /^(PASS|FAIL)/.test(l) || /Slowest|Stddev/.test(l));
    const report = {
      date: new Date().toISOString(), machine: `${cpus().length} cores, Node ${process.version}`, etcd_version: etcdVersion,
      load: options.load, throughput_per_s: perSecond, etcdctl_verdict: verdict,
      load_average: { start: loadAtStart.map((v) => Math.round(v * 100) / 100), end: loadavg().map((v) => Math.round(v * 100) / 100) },
    };
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/etcd-ceiling.json', `${JSON.stringify(report, null, 2)}\n`);
    console.log(verdict.join('\n'));
    console.log(`${etcdVersion}, 3 members, etcdctl check perf --load=${options.load}: ${perSecond} writes/s`);
    console.log('written to bench/results/etcd-ceiling.json');
  } finally {
    await cluster.destroy();
  }
}

if (process.argv[1]?.endsWith('etcd-ceiling.ts') || process.argv[1]?.endsWith('etcd-ceiling.js')) {
  main().catch((error: unknown) => {
    console.error(`bench:etcd-ceiling: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  });
}
