// register-linearizability.ts — the `linearizability` checker: the register workload's history,
// checked with the WGL checker of linearizability.ts against a map of registers (kvModel).
//
// Rules, in the terms of history.ts:
// - A write answered `ok` is a put that took effect between its invocation and its answer.
// - A write answered `info` may have taken effect once, at any time after its invocation, or never:
//   its output is undefined and its return time Infinity.
// - A write answered `fail` never happened and is left out — unless the adversary sent the same envelope
//   too (a replay or a reorder of the same bytes): that copy may have taken effect, so the write counts
//   as `info` (from its own invocation on, at most once).
// - An indeterminate write whose value no read returned is left out: linearizing it after everything
//   else (or never) is always possible and changes nothing a client saw, and leaving it in only widens
//   the search (the adversary's resends make such writes common).
// - A read answered `ok` returned `value` (null: the key had no value); any other read is left out
//   (it observed nothing the client can rely on).
// - The search is bounded: a partition it cannot decide makes the verdict fail with the reason
//   (`unknown` is never reported as passing).
// - On a violation the problems show the smallest failing partition (one key), shrunk further by
//   removing operations one at a time while it stays non-linearizable (under a step budget), listed
//   in invocation order and bounded like every verdict.
import type { CheckerVerdict, History, RegisterOp } from '../history.js';
import { checkLinearizable, kvModel, type KvInput, type KvOutput, type Operation } from './linearizability.js';
import { formatMs, verdictOf } from './common.js';

/** LINEARIZABILITY_MAX_STEPS bounds the search per partition. */
export const LINEARIZABILITY_MAX_STEPS = 5_000_000;
/** SHRINK_MAX_OPERATIONS: failing partitions larger than this are shown unshrunk. */
const SHRINK_MAX_OPERATIONS = 200;
/** SHRINK_STEPS_PER_TRY bounds each search made while shrinking. */
const SHRINK_STEPS_PER_TRY = 50_000;

type KvOperation = Operation<KvInput, KvOutput>;

/** registerOperations converts the register workload's ops into the checker's operations (rules above). */
export function registerOperations(register: readonly RegisterOp[], resent: ReadonlySet<string> = new Set()): KvOperation[] {
  const operations: KvOperation[] = [];
  for (const op of register) {
    if (op.kind === 'write') {
      if (op.outcome === 'fail' && (op.bodyHash === undefined || !resent.has(op.bodyHash))) continue;
      if (op.value === null) continue; // a write always writes a value; nothing to check without one
      const answered = op.outcome === 'ok' && op.completeMs !== null;
      operations.push({
        id: op.id, client: op.process, input: { kind: 'put', key: op.key, value: op.value },
        output: answered ? { value: null } : undefined, callMs: op.invokeMs, returnMs: answered ? op.completeMs! : Infinity,
      });
    } else {
      if (op.outcome !== 'ok' || op.completeMs === null) continue;
      operations.push({ id: op.id, client: op.process, input: { kind: 'get', key: op.key }, output: { value: op.value }, callMs: op.invokeMs, returnMs: op.completeMs });
    }
  }
  const observed = new Set(operations.filter((op) => op.input.kind === 'get' && op.output?.value != null).map((op) => op.output!.value));
  return operations.filter((op) => op.input.kind === 'get' || op.output !== undefined || observed.has(op.input.value));
}

/** checkRegisterLinearizability is the `linearizability` checker. */
export function checkRegisterLinearizability(history: History, options: { maxSteps?: number } = {}): CheckerVerdict {
  const maxSteps = options.maxSteps ?? LINEARIZABILITY_MAX_STEPS;
  const resent = new Set(history.adversary.filter((a) => a.kind === 'replay' || a.kind === 'reorder').map((a) => a.bodyHash));
  const operations = registerOperations(history.register, resent);
  const partitions = kvModel.partition!(operations);
  const failed: KvOperation[][] = [];
  const undecided: string[] = [];
  for (const partition of partitions) {
    const result = checkLinearizable(kvModel, partition, { maxSteps });
    if (result.verdict === 'not-linearizable') failed.push(partition);
    else if (result.verdict === 'unknown') undecided.push(`key ${partition[0]!.input.key}: unknown — ${result.reason}`);
  }
  const counted = `${operations.length} operations on ${partitions.length} keys`;
  if (failed.length === 0 && undecided.length === 0) return verdictOf('linearizability', `linearizable: ${counted}`, []);
  const problems: string[] = [];
  if (failed.length > 0) {
    const smallest = [...failed].sort((a, b) => a.length - b.length)[0]!;
    const shown = shrink(smallest);
    const keys = failed.map((partition) => partition[0]!.input.key);
    problems.push(`not linearizable on ${failed.length} key(s): ${keys.slice(0, 10).join(', ')}${keys.length > 10 ? ', ...' : ''}`);
    problems.push(`key ${smallest[0]!.input.key}: ${shown.length} of its ${smallest.length} operations already fail:`);
    for (const op of [...shown].sort((a, b) => a.callMs - b.callMs)) problems.push(`  ${describe(op)}`);
  }
  problems.push(...undecided);
  const summary = failed.length > 0
    ? `NOT linearizable on ${failed.length} key(s) (${counted})`
    : `undecided: the search bound was reached on ${undecided.length} key(s) (${counted})`;
  return verdictOf('linearizability', summary, problems);
}

/** shrink removes operations one at a time while the partition stays non-linearizable (bounded). */
function shrink(partition: readonly KvOperation[]): KvOperation[] {
  if (partition.length > SHRINK_MAX_OPERATIONS) return [...partition];
  let current = [...partition];
  for (let i = current.length - 1; i >= 0; i--) {
    const without = [...current.slice(0, i), ...current.slice(i + 1)];
    if (without.length === 0) continue;
    if (checkLinearizable(kvModel, without, { maxSteps: SHRINK_STEPS_PER_TRY }).verdict === 'not-linearizable') current = without;
  }
  return current;
}

function describe(op: KvOperation): string {
  const span = `[${formatMs(op.callMs)} .. ${op.returnMs === Infinity ? 'no answer' : formatMs(op.returnMs)}]`;
  const what = op.input.kind === 'put' ? `write ${JSON.stringify(op.input.value)}` : `read -> ${JSON.stringify(op.output?.value ?? null)}`;
  return `op ${op.id} process ${op.client} ${what} ${span}`;
}
