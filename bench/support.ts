// support.ts — load generation and statistics shared by the benchmarks.
import type { LocalCluster } from '../cluster/local-cluster.js';

/** percentile returns the p-th percentile (nearest rank) of values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** SendOutcome is one request's result. */
export interface SendOutcome {
  readonly ok: boolean;
}

/** ClosedLoopResult summarizes a closed-loop run. */
export interface ClosedLoopResult {
  readonly perSecond: number;
  readonly latenciesMs: number[];
  readonly errors: number;
}

/**
 * runClosedLoop runs `proposers` loops that each send one request and wait for its answer, for
 * `seconds` after `warmupSeconds`; only acknowledged requests in the measured window count.
 */
export async function runClosedLoop(init: {
  proposers: number;
  seconds: number;
  warmupSeconds: number;
  send: (id: string) => Promise<SendOutcome>;
}): Promise<ClosedLoopResult> {
  const start = performance.now();
  const measureFrom = start + init.warmupSeconds * 1000;
  const measureTo = measureFrom + init.seconds * 1000;
  const latenciesMs: number[] = [];
  let acked = 0;
  let errors = 0;
  let counter = 0;
  const loop = async (proposer: number): Promise<void> => {
    while (performance.now() < measureTo) {
      const sentAt = performance.now();
      const outcome = await init.send(`p${proposer}-${++counter}`);
      const doneAt = performance.now();
      if (sentAt < measureFrom || doneAt > measureTo) continue;
      if (outcome.ok) {
        acked += 1;
        latenciesMs.push(doneAt - sentAt);
      } else {
        errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: init.proposers }, (_, p) => loop(p)));
  return { perSecond: acked / init.seconds, latenciesMs, errors };
}

/** proposeOnce posts one payload of `bytes` bytes (id first) to a node in the bare-log mode. */
export async function proposeOnce(apiUrl: string, id: string, bytes: number, timeoutMs = 10_000): Promise<SendOutcome> {
  const payload = `${id}:`.padEnd(bytes, 'x');
  try {
    const response = await fetch(`${apiUrl}/v1/raft/propose`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payload }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    await response.arrayBuffer();
    return { ok: response.ok };
  } catch {
    return { ok: false };
  }
}

/** waitForAllApplied waits until the listed nodes report the same applied index (the cluster is idle and caught up). */
export async function waitForAllApplied(cluster: LocalCluster, ids: readonly number[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all(ids.map((id) => cluster.status(id)));
    if (statuses.every((s) => s !== undefined && s.applied === statuses[0]!.applied && s.leader !== 0)) return;
    if (Date.now() > deadline) {
      const seen = statuses.map((s, i) => (s ? `${ids[i]}: ${s.role} leader ${s.leader} term ${s.term} commit ${s.commit} applied ${s.applied}` : `${ids[i]}: no answer`));
      throw new Error(`nodes ${ids.join(',')} did not catch up within ${timeoutMs} ms (${seen.join('; ')})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
