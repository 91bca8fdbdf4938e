// support.ts — how the fuzzers run: a fixed seed and bounded runs in CI, a time budget and any seed in
// the long mode (`npm run fuzz -- --minutes N [--seed S]`, scripts/fuzz.ts).
//
// The long mode passes its budget and seed through the environment: QG_FUZZ_SEED, and QG_FUZZ_FILE_MS,
// the time one test file may spend, split evenly between the properties it declares. A failure is
// reported by fast-check with its seed, path and counterexample (shrunk), which replays it.
import fc from 'fast-check';

/** CI_SEED is the seed of the CI slice: fixed, so a CI failure is the same failure on every machine. */
export const CI_SEED = 15;

/** FuzzPlan hands each property of one test file its fast-check parameters. */
export class FuzzPlan {
  readonly seed: number;
  private readonly propertyBudgetMs: number | undefined;

  /** properties is how many properties the file runs (they share the file's budget in the long mode). */
  constructor(properties: number) {
    const seed = process.env.QG_FUZZ_SEED;
    const fileMs = process.env.QG_FUZZ_FILE_MS;
    this.seed = seed === undefined || seed === '' ? CI_SEED : Number(seed);
    if (!Number.isSafeInteger(this.seed)) throw new Error(`QG_FUZZ_SEED: expected an integer, got ${JSON.stringify(seed)}`);
    const budget = fileMs === undefined || fileMs === '' ? undefined : Number(fileMs);
    if (budget !== undefined && !(budget > 0)) throw new Error(`QG_FUZZ_FILE_MS: expected a positive number, got ${JSON.stringify(fileMs)}`);
    this.propertyBudgetMs = budget === undefined ? undefined : Math.max(1_000, Math.floor(budget / properties));
  }

  /** longMode says whether this run has a time budget instead of a fixed number of runs. */
  get longMode(): boolean {
    return this.propertyBudgetMs !== undefined;
  }

  /**
   * parameters: `ciRuns` runs with the fixed seed in CI; in the long mode, as many runs as the budget
   * allows (stopping at the budget is not a failure).
   */
  parameters<T>(ciRuns: number): fc.Parameters<T> {
    if (this.propertyBudgetMs === undefined) return { seed: this.seed, numRuns: ciRuns, includeErrorInReport: true };
    return { seed: this.seed, numRuns: 1_000_000_000, interruptAfterTimeLimit: this.propertyBudgetMs, markInterruptAsFailure: false, includeErrorInReport: true };
  }
}

/** describeError names an unexpected error for an assertion message: its class, code and first stack lines. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return `a thrown ${typeof error}: ${String(error)}`;
  const code = (error as { code?: unknown }).code;
  return `${error.constructor.name}${code === undefined ? '' : ` (${String(code)})`}: ${error.message}\n${(error.stack ?? '').split('\n').slice(1, 5).join('\n')}`;
}

/**
 * mutations turns valid bytes into nearby invalid ones: bit flips, truncation, inserted, deleted and
 * overwritten bytes — the corruptions a hostile or broken peer produces.
 */
export function mutatedBytes(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, fc.array(fc.tuple(fc.constantFrom('flip', 'truncate', 'insert', 'delete', 'set'), fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }))
    .map(([bytes, edits]) => {
      let out = Uint8Array.from(bytes);
      for (const [kind, position, value] of edits) {
        const at = out.length === 0 ? 0 : position % out.length;
        if (kind === 'flip' && out.length > 0) out[at] = out[at]! ^ (1 << (value % 8));
        else if (kind === 'truncate') out = out.subarray(0, at);
        else if (kind === 'insert') out = Uint8Array.from([...out.subarray(0, at), value, ...out.subarray(at)]);
        else if (kind === 'delete' && out.length > 0) out = Uint8Array.from([...out.subarray(0, at), ...out.subarray(at + 1)]);
        else if (kind === 'set' && out.length > 0) out[at] = value;
      }
      return out;
    });
}
