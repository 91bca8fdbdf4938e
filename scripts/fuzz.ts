// scripts/fuzz.ts — the fuzzers' long mode: `npm run fuzz -- --minutes N [--seed S] [--only NAME]`.
//
// Runs every test/fuzz/*.test.ts file in turn, each for an equal share of N minutes (its properties
// split the share), with seed S (random when not given, and printed first, so any run can be
// repeated). fast-check prints a failing property's seed, path and shrunk counterexample; this script
// prints the seed again at the end with the files that failed. Exit status: 0 when every property held,
// 1 when one failed, 2 for bad arguments. The CI slice is the same files under `npm test` (fixed seed,
// bounded runs: test/fuzz/support.ts).
import { spawnSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { packagePath } from '../src/wire/index.js';

function positiveNumber(text: string): number {
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value)) throw new InvalidArgumentError(`expected a positive number, got "${text}"`);
  return value;
}

function integer(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new InvalidArgumentError(`expected an integer, got "${text}"`);
  return value;
}

/** runFile runs one fuzz file with its time share and the seed; true when every property held. */
function runFile(file: string, seed: number, fileMs: number): boolean {
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', file], {
    stdio: 'inherit',
    env: { ...process.env, QG_FUZZ_SEED: String(seed), QG_FUZZ_FILE_MS: String(Math.floor(fileMs)) },
  });
  return result.status === 0;
}

function main(): void {
  const program = new Command('fuzz')
    .description('run the fuzzers for a time budget with a seed (the CI slice runs them with a fixed seed under npm test)')
    .requiredOption('--minutes <N>', 'total time, split evenly between the fuzz files', positiveNumber)
    .option('--seed <S>', 'seed (random by default; printed either way)', integer)
    .option('--only <NAME>', 'run only the fuzz files whose name contains NAME')
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));
  program.parse();
  const options = program.opts<{ minutes: number; seed?: number; only?: string }>();
  const seed = options.seed ?? randomInt(1, 2 ** 31 - 1);
  const directory = packagePath('test', 'fuzz');
  const files = readdirSync(directory).filter((name) => name.endsWith('.test.ts') && (options.only === undefined || name.includes(options.only))).sort();
  if (files.length === 0) {
    console.error(`fuzz: no fuzz file under ${directory}${options.only === undefined ? '' : ` matches "${options.only}"`}`);
    process.exit(2);
  }
  const fileMs = (options.minutes * 60_000) / files.length;
  console.log(`fuzz: seed ${seed}, ${options.minutes} min over ${files.length} files (${(fileMs / 1000).toFixed(0)} s each)`);
  const failed = files.filter((name) => !runFile(join(directory, name), seed, fileMs));
  if (failed.length === 0) {
    console.log(`fuzz: every property held (seed ${seed})`);
    return;
  }
  console.log(`fuzz: FAILED in ${failed.join(', ')} with seed ${seed}; the counterexamples are above. Repeat: npm run fuzz -- --minutes ${options.minutes} --seed ${seed} --only ${failed[0]!.replace('.test.ts', '')}`);
  process.exit(1);
}

main();
