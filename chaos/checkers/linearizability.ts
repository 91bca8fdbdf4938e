// linearizability.ts — a Porcupine-style linearizability checker (Wing & Gong, with Lowe's
// memoization), for the chaos harness's recorded histories.
//
// A history is a set of operations, each with the time it was invoked and the time its answer came
// back. An operation whose answer never came (a timeout, a dropped connection) has returnMs =
// Infinity: it may have taken effect at any point after its call, or never — linearizing it at the
// very end, after every other operation, is the same as "never", so no special case is needed as
// long as the model accepts an unknown output. Histories are checked per partition (per key for a
// key/value model): linearizability is compositional, and small partitions keep the search cheap.
//
// The search is bounded (`maxSteps`): a history too large to decide is reported as `unknown`, never
// as linearizable.

/** Operation is one invocation and its answer. */
export interface Operation<Input, Output> {
  readonly id: number;
  readonly client: number;
  readonly input: Input;
  /** output is undefined when no answer came back (then returnMs is Infinity). */
  readonly output: Output | undefined;
  readonly callMs: number;
  readonly returnMs: number;
}

/** Model is a sequential specification. `step` says whether the output is possible from `state`. */
export interface Model<State, Input, Output> {
  init(): State;
  step(state: State, input: Input, output: Output | undefined): { ok: boolean; state: State };
  /** key serializes a state for memoization (equal states, equal keys). */
  key(state: State): string;
  /** partition splits a history into independent parts (default: one part). */
  partition?(operations: readonly Operation<Input, Output>[]): Operation<Input, Output>[][];
}

/** CheckResult is the verdict; `failedPartition` is the smallest history that is not linearizable. */
export type CheckResult<Input, Output> =
  | { verdict: 'linearizable' }
  | { verdict: 'not-linearizable'; failedPartition: Operation<Input, Output>[] }
  | { verdict: 'unknown'; reason: string };

interface Node<Input, Output> {
  op: Operation<Input, Output>;
  kind: 'call' | 'return';
  /** match links a call to its return and back. */
  match: Node<Input, Output> | undefined;
  prev: Node<Input, Output> | undefined;
  next: Node<Input, Output> | undefined;
}

/** checkLinearizable decides whether a history is linearizable with respect to a model. */
export function checkLinearizable<State, Input, Output>(
  model: Model<State, Input, Output>,
  operations: readonly Operation<Input, Output>[],
  options: { maxSteps?: number } = {},
): CheckResult<Input, Output> {
  const maxSteps = options.maxSteps ?? 5_000_000;
  const partitions = model.partition ? model.partition(operations) : [[...operations]];
  for (const partition of partitions) {
    const verdict = checkPartition(model, partition, maxSteps);
    if (verdict === 'unknown') return { verdict: 'unknown', reason: `search exceeded ${maxSteps} steps on a partition of ${partition.length} operations` };
    if (!verdict) return { verdict: 'not-linearizable', failedPartition: partition };
  }
  return { verdict: 'linearizable' };
}

function buildList<Input, Output>(operations: readonly Operation<Input, Output>[]): Node<Input, Output> {
  const events: Array<{ time: number; node: Node<Input, Output> }> = [];
  for (const op of operations) {
    if (!(op.callMs <= op.returnMs)) throw new Error(`operation ${op.id}: returnMs ${op.returnMs} is before callMs ${op.callMs}`);
    const call: Node<Input, Output> = { op, kind: 'call', match: undefined, prev: undefined, next: undefined };
    const ret: Node<Input, Output> = { op, kind: 'return', match: call, prev: undefined, next: undefined };
    call.match = ret;
    events.push({ time: op.callMs, node: call }, { time: op.returnMs, node: ret });
  }
  // At equal times calls come first: the operations are then treated as concurrent, which only
  // widens the set of allowed orders (never reports a false violation).
  events.sort((a, b) => a.time - b.time || (a.node.kind === b.node.kind ? a.node.op.id - b.node.op.id : a.node.kind === 'call' ? -1 : 1));
  const head: Node<Input, Output> = { op: undefined as never, kind: 'call', match: undefined, prev: undefined, next: undefined };
  let last = head;
  for (const { node } of events) {
    last.next = node;
    node.prev = last;
    last = node;
  }
  return head;
}

function lift<Input, Output>(call: Node<Input, Output>): void {
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

function unlift<Input, Output>(call: Node<Input, Output>): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}

/** checkPartition runs the WGL search; true = linearizable, false = not, 'unknown' = budget exceeded. */
function checkPartition<State, Input, Output>(model: Model<State, Input, Output>, operations: readonly Operation<Input, Output>[], maxSteps: number): boolean | 'unknown' {
  const head = buildList(operations);
  const index = new Map<number, number>(operations.map((op, i) => [op.id, i]));
  const linearized = new Uint8Array(operations.length);
  const seen = new Set<string>();
  const stack: Array<{ call: Node<Input, Output>; state: State }> = [];
  let state = model.init();
  let entry = head.next;
  for (let steps = 0; head.next !== undefined; steps++) {
    if (steps > maxSteps) return 'unknown';
    if (entry === undefined) return false;
    if (entry.kind === 'call') {
      const result = model.step(state, entry.op.input, entry.op.output);
      if (result.ok) {
        const position = index.get(entry.op.id)!;
        linearized[position] = 1;
        const key = `${Buffer.from(linearized).toString('base64')}|${model.key(result.state)}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ call: entry, state });
          state = result.state;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[position] = 0;
      }
      entry = entry.next;
    } else {
      // A return reached before its call was linearized: undo the last choice and try the next.
      const top = stack.pop();
      if (top === undefined) return false;
      state = top.state;
      linearized[index.get(top.call.op.id)!] = 0;
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return true;
}

/** KvInput and KvOutput are a key/value register's operations. */
export type KvInput = { kind: 'put'; key: string; value: string } | { kind: 'get'; key: string };
export type KvOutput = { value: string | null };

/** kvModel is a map of independent registers (each key starts absent), partitioned by key. */
export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  step: (state, input, output) => {
    if (input.kind === 'put') return { ok: true, state: input.value };
    if (output === undefined) return { ok: true, state };
    return { ok: output.value === state, state };
  },
  key: (state) => (state === null ? '\u0000' : state),
  partition: (operations) => {
    const byKey = new Map<string, Operation<KvInput, KvOutput>[]>();
    for (const op of operations) {
      const list = byKey.get(op.input.key) ?? [];
      list.push(op);
      byKey.set(op.input.key, list);
    }
    return [...byKey.values()];
  },
};
