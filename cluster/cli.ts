// cli.ts — `npm run cluster -- <command>`: run a local cluster of node processes on loopback.
//
//   start   [--nodes 3|5] [--dir D] [--application log|quorumgate]   create (if new) and start every node
//   status  [--dir D] [--json]                                        leader, term, commit and applied per node
//   stop    [NODE] [--dir D]                                          stop one node (SIGTERM), or all
//   kill    NODE [--dir D]                                            crash one node (SIGKILL)
//   restart NODE [--dir D]                                            stop then start one node
//   add     [--dir D] [--learner]                                     start a new node and add it to the cluster
//   remove  NODE [--dir D]                                            remove a node from the cluster and stop it
//   destroy [--dir D]                                                 stop everything and delete the directory
import { Command, InvalidArgumentError } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { LocalCluster } from './local-cluster.js';
import type { NodeStatus } from './local-cluster.js';

const DEFAULT_DIR = join(process.cwd(), 'run', 'cluster');

function parseNodeId(value: string): number {
  const id = Number(value);
  if (!Number.isSafeInteger(id) || id <= 0) throw new InvalidArgumentError(`expected a node id (a positive integer), got "${value}"`);
  return id;
}

function parseNodeCount(value: string): number {
  const count = Number(value);
  if (![1, 3, 5, 7].includes(count)) throw new InvalidArgumentError(`expected 1, 3, 5 or 7 nodes, got "${value}"`);
  return count;
}

function formatStatus(statuses: Map<number, NodeStatus | undefined>): string {
  const rows = [['node', 'role', 'leader', 'term', 'commit', 'applied', 'snapshot', 'voters', 'learners']];
  for (const [id, status] of [...statuses.entries()].sort((a, b) => a[0] - b[0])) {
    if (!status) rows.push([String(id), 'down', '-', '-', '-', '-', '-', '-', '-']);
    else rows.push([String(id), status.role, String(status.leader), String(status.term), String(status.commit), String(status.applied),
      String(status.snapshotIndex), status.voters.join(','), status.learners.join(',') || '-']);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ')).join('\n');
}

async function leaderUrl(cluster: LocalCluster): Promise<string> {
  const leader = await cluster.waitForLeader(10_000, cluster.nodes.filter((n) => cluster.pid(n.nodeId) !== undefined).map((n) => n.nodeId));
  return cluster.apiUrl(leader);
}

async function postJson(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
}

const program = new Command('cluster').description('Run a local quorumgate cluster on loopback.').showHelpAfterError();
const dirOption = ['--dir <dir>', 'cluster directory', DEFAULT_DIR] as const;

program.command('start').description('create (if new) and start every node')
  .option(...dirOption)
  .option('--nodes <n>', 'number of nodes for a new cluster (1, 3, 5 or 7)', parseNodeCount, 3)
  .option('--application <mode>', 'log (bare Raft log) or quorumgate', 'log')
  .action(async (options: { dir: string; nodes: number; application: string }) => {
    if (options.application !== 'log' && options.application !== 'quorumgate') {
      throw new InvalidArgumentError(`--application: expected log or quorumgate, got "${options.application}"`);
    }
    const cluster = existsSync(join(options.dir, 'cluster.json'))
      ? LocalCluster.open(options.dir)
      : await LocalCluster.create({ dir: options.dir, nodes: options.nodes, application: options.application });
    cluster.startAll();
    const leader = await cluster.waitForLeader(20_000);
    console.log(`cluster in ${cluster.dir}: leader is node ${leader}\n`);
    console.log(formatStatus(await cluster.statusAll()));
    console.log(`\nstop it with: npm run cluster -- destroy --dir ${cluster.dir}`);
  });

program.command('status').description('show each node\'s role, term, commit and applied index')
  .option(...dirOption).option('--json', 'print JSON')
  .action(async (options: { dir: string; json?: boolean }) => {
    const statuses = await LocalCluster.open(options.dir).statusAll();
    if (options.json) console.log(JSON.stringify(Object.fromEntries(statuses), null, 2));
    else console.log(formatStatus(statuses));
  });

program.command('stop').argument('[node]', 'node id (all when omitted)', parseNodeId).option(...dirOption)
  .description('stop one node gracefully, or all')
  .action(async (node: number | undefined, options: { dir: string }) => {
    const cluster = LocalCluster.open(options.dir);
    if (node === undefined) await cluster.stopAll();
    else await cluster.stop(node);
  });

program.command('kill').argument('<node>', 'node id', parseNodeId).option(...dirOption)
  .description('crash one node with SIGKILL')
  .action(async (node: number, options: { dir: string }) => {
    await LocalCluster.open(options.dir).kill(node);
  });

program.command('restart').argument('<node>', 'node id', parseNodeId).option(...dirOption)
  .description('stop then start one node')
  .action(async (node: number, options: { dir: string }) => {
    const cluster = LocalCluster.open(options.dir);
    await cluster.stop(node);
    cluster.start(node);
  });

program.command('add').option(...dirOption).option('--learner', 'keep the new node a learner')
  .description('start a new node and add it to the cluster (as a learner, promoted once caught up)')
  .action(async (options: { dir: string; learner?: boolean }) => {
    const cluster = LocalCluster.open(options.dir);
    const info = await cluster.prepareJoiner();
    cluster.start(info.nodeId);
    await postJson(`${await leaderUrl(cluster)}/v1/raft/members`, {
      action: 'add', nodeId: info.nodeId, host: '127.0.0.1', port: info.raftPort, publicKey: info.publicKey, voter: !options.learner,
    });
    console.log(`node ${info.nodeId} started and proposed as a ${options.learner ? 'learner' : 'voter (learner until caught up)'}`);
  });

program.command('remove').argument('<node>', 'node id', parseNodeId).option(...dirOption)
  .description('remove a node from the cluster, then stop it')
  .action(async (node: number, options: { dir: string }) => {
    const cluster = LocalCluster.open(options.dir);
    await postJson(`${await leaderUrl(cluster)}/v1/raft/members`, { action: 'remove', nodeId: node });
    console.log(`removal of node ${node} proposed`);
  });

program.command('destroy').option(...dirOption).description('stop every node and delete the cluster directory')
  .action(async (options: { dir: string }) => {
    if (!existsSync(join(options.dir, 'cluster.json'))) return;
    await LocalCluster.open(options.dir).destroy();
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  console.error(`cluster: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
