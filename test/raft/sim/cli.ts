// cli.ts — `npm run sim`: run seeds of the deterministic Raft simulator, or replay one.
//
//   npm run sim -- --seeds N [--nodes 3|5|7] [--liveness] [--seed S] [--plant BUG] [--steps K]
//                  [--profile swarm|churn] [--no-rule-checks] [--trace] [--quiet]
//
// --seeds N runs seeds S .. S+N-1 (S from --seed, default 0); --seed S alone replays that one
// seed. Without --nodes, sizes rotate 3, 5, 7 by seed. Exit status: 0 when every seed passed,
// 1 when an invariant broke (each failing seed prints its replay command), 2 on bad arguments.
// With --plant BUG the simulator expects to fail: exit 0 when the bug was caught, 1 when not.
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { PLANTED_BUGS, type PlantedBug } from '../support/planted-raft.js';
import { defaultStepsFor, formatStats, nodesForSeed, runCampaign, type NodeCount } from './campaign.js';
import { PROFILE_KINDS, type ProfileKind } from './profile.js';
import { LIVENESS_BOUND_ELECTION_TIMEOUTS, runSimulation } from './simulator.js';

/** CliOutput receives the CLI's output lines (the process's streams, or a buffer in tests). */
export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

/** MAX_SEEDS_PER_RUN bounds one invocation. */
const MAX_SEEDS_PER_RUN = 10_000_000;
/** MAX_STEPS bounds a run's length. */
const MAX_STEPS = 10_000_000;

interface ParsedOptions {
  seeds?: number;
  seed?: number;
  nodes?: NodeCount;
  liveness?: boolean;
  plant?: PlantedBug;
  steps?: number;
  trace?: boolean;
  quiet?: boolean;
  ruleChecks?: boolean;
  profile?: ProfileKind;
}

function integerIn(name: string, low: number, high: number): (value: string) => number {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} expects an integer in [${low}, ${high}], got "${value}".`);
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed < low || parsed > high) {
      throw new InvalidArgumentError(`${name} expects an integer in [${low}, ${high}], got ${value}.`);
    }
    return parsed;
  };
}

function buildProgram(output: CliOutput): Command {
  return new Command('sim')
    .description('Deterministic Raft simulator: runs seeds of a faulty cluster and checks Raft\'s safety (and liveness) invariants.')
    .addOption(new Option('--seeds <n>', 'number of seeds to run').argParser(integerIn('--seeds', 1, MAX_SEEDS_PER_RUN)))
    .addOption(new Option('--seed <s>', 'first seed (alone: replay just this seed)').argParser(integerIn('--seed', 0, Number.MAX_SAFE_INTEGER)))
    .addOption(new Option('--nodes <n>', 'founding voters: 3, 5 or 7 (default: 3, 5, 7 in turn by seed)')
      .argParser((value: string): NodeCount => {
        if (value !== '3' && value !== '5' && value !== '7') throw new InvalidArgumentError(`--nodes expects 3, 5 or 7, got "${value}".`);
        return Number(value) as NodeCount;
      }))
    .option('--liveness', 'faults for a phase, then a healed cluster must elect, read and commit within the bound')
    .addOption(new Option('--plant <bug>', 'switch on a planted core defect; the run is expected to fail')
      .argParser((value: string): PlantedBug => {
        if (!(PLANTED_BUGS as readonly string[]).includes(value)) {
          throw new InvalidArgumentError(`--plant expects one of ${PLANTED_BUGS.join(', ')}, got "${value}".`);
        }
        return value as PlantedBug;
      }))
    .addOption(new Option('--steps <k>', 'steps per seed (liveness: steps of the fault phase)').argParser(integerIn('--steps', 1, MAX_STEPS)))
    .addOption(new Option('--profile <kind>', 'fault mix: swarm (random per seed) or churn (leader churn, Figure 8)').choices(PROFILE_KINDS))
    .option('--no-rule-checks', 'check only client-visible outcomes, not the protocol rules (leader-append-only, leader-commit-rule, single-pending-conf-change)')
    .option('--trace', 'print the whole trace (single seed only)')
    .option('--quiet', 'print only the summary and failures')
    .exitOverride()
    .configureOutput({ writeOut: (text) => output.out(text.trimEnd()), writeErr: (text) => output.err(text.trimEnd()) });
}

/** runCli runs the simulator CLI on `argv` (without the node and script names) and returns the exit status. */
export function runCli(argv: readonly string[], output: CliOutput): number {
  const program = buildProgram(output);
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    throw error;
  }
  const options = program.opts<ParsedOptions>();
  const mode = options.liveness === true ? 'liveness' : 'safety';
  const firstSeed = options.seed ?? 0;
  const seeds = options.seeds ?? (options.seed === undefined ? 100 : 1);
  if (options.trace === true && seeds !== 1) {
    output.err('error: --trace prints one run; give --seed S without --seeds (or --seeds 1).');
    return 2;
  }
  const steps = options.steps ?? defaultStepsFor(mode);
  if (options.trace === true) {
    const result = runSimulation({
      seed: firstSeed, nodes: nodesForSeed(firstSeed, options.nodes), mode, steps, keepTrace: true, ruleChecks: options.ruleChecks !== false,
      profile: options.profile ?? 'swarm',
      ...(options.plant === undefined ? {} : { plant: options.plant }),
    });
    for (const line of result.trace ?? []) output.out(line);
  }
  const summary = runCampaign({
    firstSeed, seeds, nodes: options.nodes, mode, steps, plant: options.plant, ruleChecks: options.ruleChecks !== false, profile: options.profile ?? 'swarm',
    stopAtFirstFailure: options.plant !== undefined,
    onResult: (result) => {
      if (result.violation !== undefined) {
        output.out(`FAIL seed ${result.run.seed} (${result.run.nodes} nodes): ${result.violation.message}`);
        if (options.quiet !== true) {
          output.out('  last trace lines:');
          for (const line of result.violation.recentTrace.slice(-25)) output.out(`    ${line}`);
        }
      } else if (options.quiet !== true && seeds <= 20) {
        output.out(`ok   seed ${result.run.seed} (${result.run.nodes} nodes) ${result.stats.steps} steps`);
      }
    },
  });
  const seconds = (summary.elapsedMs / 1000).toFixed(1);
  output.out(`seeds run: ${summary.seedsRun}, failures: ${summary.failures.length}, time: ${seconds} s (${mode}, ${steps} steps per seed)`);
  output.out(`coverage: ${formatStats(summary.totals)}`);
  if (mode === 'liveness' && summary.seedsRun > summary.failures.length) {
    const mean = summary.totals.recoveryTicks / (summary.seedsRun - summary.failures.length);
    output.out(`recovery after faults stopped: mean ${mean.toFixed(1)} ticks, max ${summary.totals.recoveryTicksMax} ticks ` +
      `(bound: ${LIVENESS_BOUND_ELECTION_TIMEOUTS} × 2 × electionTicks)`);
  }
  for (const [kind, count] of summary.failureKinds) output.out(`  ${kind}: ${count}`);
  for (const failure of summary.failures) output.out(`replay: ${failure.violation!.replay}`);
  if (options.plant !== undefined) {
    const caught = summary.failures.length > 0;
    output.out(caught
      ? `planted bug ${options.plant} CAUGHT by seed ${summary.failures[0]!.run.seed} as ${summary.failures[0]!.violation!.kind}`
      : `planted bug ${options.plant} NOT caught in ${summary.seedsRun} seeds`);
    return caught ? 0 : 1;
  }
  return summary.failures.length === 0 ? 0 : 1;
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  process.exitCode = runCli(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
