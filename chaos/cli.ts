// cli.ts — `npm run chaos -- [--nodes N] [--faults LIST|all] [--runs N] [--duration S] [--seed S] [--plant BUG] [--hostile] [--topology loopback|wan]`
//
// Runs a campaign of chaos runs (run i uses seed S+i), checks each history, writes each run's report
// (history.json, verdicts.json, summary.txt, timeline.html) under --out, prints the summaries, and exits
// non-zero when any checker failed in any run (2 for bad arguments or a run that could not be carried out).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { PLANTS } from '../src/node/plants.js';
import { checkHistory } from './checkers/index.js';
import { parseFaults } from './faults.js';
import { renderSummary, writeReport } from './report.js';
import { runOnce } from './run.js';
import { TOPOLOGIES } from './environment.js';
import type { Topology } from './environment.js';

function integer(name: string, min: number, max: number): (text: string) => number {
  return (text: string) => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, got "${text}"`);
    }
    return value;
  };
}

interface CliOptions {
  nodes: number;
  faults: string;
  runs: number;
  duration: number;
  seed?: number;
  plant?: string;
  hostile?: boolean;
  topology: Topology;
  out: string;
}

const program = new Command('chaos')
  .description('Chaos campaign against a real quorumgate cluster: faults, workloads, checkers, reports.')
  .option('--nodes <n>', 'gateways in the cluster: 3, 5 or 7', (text) => {
    const value = integer('--nodes', 3, 7)(text);
    if (value % 2 === 0) throw new InvalidArgumentError(`--nodes must be 3, 5 or 7, got ${value}`);
    return value;
  }, 3)
  .option('--faults <list>', 'fault families, comma-separated, or "all"', 'all')
  .option('--runs <n>', 'runs in the campaign (seeds S, S+1, ...)', integer('--runs', 1, 1000), 1)
  .option('--duration <s>', 'seconds of faults and workloads per run (every chosen fault family is injected at least once, even if that takes longer)', integer('--duration', 5, 86_400), 60)
  .option('--seed <s>', 'seed of the first run (default: from the clock; printed so the run can be repeated)', integer('--seed', 0, 2 ** 31 - 1))
  .option('--plant <bug>', `switch a planted bug on in every node (${PLANTS.join(', ')}): the campaign must then fail`, (text) => {
    if (!(PLANTS as readonly string[]).includes(text)) throw new InvalidArgumentError(`--plant must be one of ${PLANTS.join(', ')}, got "${text}"`);
    return text;
  })
  .option('--hostile', 'add the hostile workload: floods of every node\'s API and Raft port in alternating windows (chaos/hostile.ts), checked by hostile-bounds and hostile-latency')
  .option('--topology <name>', 'where the nodes live: loopback (every node on its own 127.0.77.N of this host) or wan (every node a host of its own: a network namespace with its address on a shared WAN bridge, its own Open vSwitch; partitions by iptables in each host; cluster/wan.ts)', (text) => {
    if (!(TOPOLOGIES as readonly string[]).includes(text)) throw new InvalidArgumentError(`--topology must be one of ${TOPOLOGIES.join(', ')}, got "${text}"`);
    return text;
  }, 'loopback')
  .option('--out <dir>', 'where the reports go', resolve('run', 'chaos'))
  .showHelpAfterError()
  .exitOverride();

async function main(): Promise<number> {
  try {
    program.parse(process.argv);
  } catch (error) {
    // Help and version exit 0; a bad argument (commander printed why) exits 2, like a bad --faults list.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
  const options = program.opts<CliOptions>();
  let faults;
  try {
    faults = parseFaults(options.faults);
  } catch (error) {
    console.error(`chaos: ${(error as Error).message}`);
    return 2;
  }
  if (options.topology === 'wan' && options.hostile === true) {
    // The hostile workload floods from its own loopback addresses (127.0.66.x), which reach no WAN host.
    console.error('chaos: --hostile runs on the loopback topology only (its floods come from 127.0.66.x, which reaches no WAN host)');
    return 2;
  }
  if (process.getuid?.() !== 0) {
    console.error('chaos: needs root (network namespaces, iptables, Open vSwitch, the Docker engine); run it as root');
    return 2;
  }
  const seed = options.seed ?? (Date.now() % 2 ** 31);
  const campaign = join(resolve(options.out), `${new Date().toISOString().replace(/[:.]/g, '-')}-seed${seed}`);
  mkdirSync(campaign, { recursive: true });
  let failedRuns = 0;
  const lines: string[] = [];
  for (let i = 0; i < options.runs; i++) {
    const runSeed = seed + i;
    const dir = join(campaign, `run-${i + 1}-seed${runSeed}`);
    console.log(`\n== chaos run ${i + 1}/${options.runs}: ${options.nodes} nodes${options.topology === 'wan' ? ' (WAN topology)' : ''}, seed ${runSeed}, ${options.duration} s, faults ${faults.join(',')}${options.plant ? `, PLANTED BUG ${options.plant}` : ''}${options.hostile ? ', HOSTILE workload' : ''}`);
    const history = await runOnce({
      nodes: options.nodes, faults, durationMs: options.duration * 1000, seed: runSeed, dir,
      ...(options.plant !== undefined ? { plant: options.plant } : {}),
      ...(options.hostile === true ? { hostile: true } : {}),
      topology: options.topology,
      log: (line) => console.log(`   ${line}`),
    });
    const verdicts = checkHistory(history);
    await writeReport(dir, history, verdicts);
    console.log(renderSummary(history, verdicts));
    const failed = verdicts.filter((v) => !v.ok).map((v) => v.checker);
    if (failed.length > 0) failedRuns += 1;
    lines.push(`run ${i + 1} seed ${runSeed}: ${failed.length === 0 ? 'PASS' : `FAIL (${failed.join(', ')})`} — ${dir}`);
  }
  writeFileSync(join(campaign, 'campaign.txt'), `${lines.join('\n')}\n`);
  console.log(`\n== campaign: ${options.runs - failedRuns} of ${options.runs} runs passed every checker\n${lines.join('\n')}`);
  return failedRuns > 0 ? 1 : 0;
}

main().then((code) => process.exit(code), (error: unknown) => {
  console.error(`chaos: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  process.exit(2);
});
