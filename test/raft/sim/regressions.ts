// regressions.ts — the list of seeds that ever failed (regressions.json), validated on load.
//
// Every seed that once broke an invariant stays here with its run parameters and a note of what
// it found, and the regression test replays each one. A seed whose schedule the simulator has
// since changed still replays as an ordinary seed: cheap, and it keeps the list honest.
import { readFileSync } from 'node:fs';
import type { NodeCount } from './campaign.js';
import type { RunMode } from './violation.js';

/** RegressionSeed is one entry of regressions.json. */
export interface RegressionSeed {
  readonly seed: number;
  readonly nodes: NodeCount;
  readonly mode: RunMode;
  readonly steps: number;
  /** note: what the seed found, and the commit that fixed it. */
  readonly note: string;
}

/** RegressionFileError: regressions.json does not have the expected shape. */
export class RegressionFileError extends Error {
  readonly code = 'SIM_REGRESSION_FILE_INVALID';
  constructor(path: string, where: string, expected: string, got: unknown) {
    super(`${path}: ${where}: expected ${expected}, got ${JSON.stringify(got) ?? String(got)}`);
    this.name = 'RegressionFileError';
  }
}

/** MAX_REGRESSION_SEEDS bounds the file (the replay test runs them all). */
const MAX_REGRESSION_SEEDS = 1000;

/** parseRegressions validates the text of regressions.json; throws RegressionFileError naming the bad field. */
export function parseRegressions(text: string, path: string): RegressionSeed[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new RegressionFileError(path, 'top level', 'JSON', (error as Error).message);
  }
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { seeds?: unknown }).seeds)) {
    throw new RegressionFileError(path, 'top level', 'an object with a "seeds" array', parsed);
  }
  const seeds = (parsed as { seeds: unknown[] }).seeds;
  if (seeds.length > MAX_REGRESSION_SEEDS) throw new RegressionFileError(path, 'seeds', `at most ${MAX_REGRESSION_SEEDS} entries`, seeds.length);
  return seeds.map((raw, i) => parseEntry(raw, `seeds[${i}]`, path));
}

function parseEntry(raw: unknown, where: string, path: string): RegressionSeed {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new RegressionFileError(path, where, 'an object', raw);
  const entry = raw as Record<string, unknown>;
  const { seed, nodes, mode, steps, note } = entry;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed) || seed < 0) {
    throw new RegressionFileError(path, `${where}.seed`, 'a non-negative safe integer', seed);
  }
  if (nodes !== 3 && nodes !== 5 && nodes !== 7) throw new RegressionFileError(path, `${where}.nodes`, '3, 5 or 7', nodes);
  if (mode !== 'safety' && mode !== 'liveness') throw new RegressionFileError(path, `${where}.mode`, '"safety" or "liveness"', mode);
  if (typeof steps !== 'number' || !Number.isSafeInteger(steps) || steps < 1 || steps > 1_000_000) {
    throw new RegressionFileError(path, `${where}.steps`, 'an integer in [1, 1000000]', steps);
  }
  if (typeof note !== 'string' || note.length === 0) throw new RegressionFileError(path, `${where}.note`, 'a non-empty string', note);
  const extra = Object.keys(entry).filter((key) => !['seed', 'nodes', 'mode', 'steps', 'note'].includes(key));
  if (extra.length > 0) throw new RegressionFileError(path, where, 'only seed, nodes, mode, steps, note', extra);
  return { seed, nodes, mode, steps, note };
}

/** loadRegressions reads and validates a regressions file. */
export function loadRegressions(path: string): RegressionSeed[] {
  return parseRegressions(readFileSync(path, 'utf8'), path);
}
