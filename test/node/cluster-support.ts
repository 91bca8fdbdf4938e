// cluster-support.ts — helpers for tests that run real node processes: a proposal workload that
// records what was acknowledged, and readers of each node's applied log.
import { LocalCluster } from '../../cluster/local-cluster.js';
import type { LocalClusterInit } from '../../cluster/local-cluster.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** FAST_TIMING makes elections quick on loopback: 50 ms ticks, 10-tick election timeout. */
export const FAST_TIMING = { tickMs: 50, electionTicks: 10, heartbeatTicks: 1, proposalTimeoutMs: 3_000, readTimeoutMs: 2_000 };

/** createTestCluster makes and starts a cluster in a fresh temporary directory. */
export async function createTestCluster(init: Partial<LocalClusterInit> & { nodes: number; env?: Record<string, string> }): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'qg-cluster-'));
  const cluster = await LocalCluster.create({ dir, application: 'log', timing: FAST_TIMING, ...init });
  for (const node of cluster.nodes) cluster.start(node.nodeId, init.env ?? {});
  return cluster;
}

/** ProposeOutcome is one proposal's fate as the client saw it. */
export type ProposeOutcome = { kind: 'ack'; id: string; index: number } | { kind: 'indeterminate'; id: string } | { kind: 'failed'; id: string };

/** propose sends one payload to a node; 'failed' means definitely not applied, 'indeterminate' may have been. */
export async function propose(cluster: LocalCluster, nodeId: number, id: string, timeoutMs = 4_000): Promise<ProposeOutcome> {
  try {
    const response = await fetch(`${cluster.apiUrl(nodeId)}/v1/raft/propose`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ payload: id }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.ok) {
      const body = (await response.json()) as { index: number };
      return { kind: 'ack', id, index: body.index };
    }
    const body = (await response.json().catch(() => ({}))) as { error?: { details?: { indeterminate?: boolean } } };
    return body.error?.details?.indeterminate === false ? { kind: 'failed', id } : { kind: 'indeterminate', id };
  } catch {
    // A connection refused before the request was sent is a definite failure; anything else may have been applied.
    return { kind: 'indeterminate', id };
  }
}

/** Workload runs `proposers` concurrent loops, each proposing unique ids to live nodes in turn. */
export class Workload {
  readonly outcomes: ProposeOutcome[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private counter = 0;

  constructor(private readonly cluster: LocalCluster, private readonly proposers: number, private readonly prefix = 'w') {}

  start(): void {
    this.running = true;
    for (let p = 0; p < this.proposers; p++) this.loops.push(this.loop(p));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  acked(): string[] {
    return this.outcomes.filter((o) => o.kind === 'ack').map((o) => o.id);
  }

  private async loop(proposer: number): Promise<void> {
    let turn = proposer;
    while (this.running) {
      const live = this.cluster.nodes.filter((n) => this.cluster.pid(n.nodeId) !== undefined);
      if (live.length === 0) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const target = live[turn % live.length]!.nodeId;
      turn += 1;
      const id = `${this.prefix}-${proposer}-${++this.counter}`;
      const outcome = await propose(this.cluster, target, id);
      this.outcomes.push(outcome);
      if (outcome.kind !== 'ack') await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** appliedIds fetches every id a node has applied, in order. */
export async function appliedIds(cluster: LocalCluster, nodeId: number): Promise<{ ids: string[]; indexes: number[]; hash: string }> {
  const ids: string[] = [];
  const indexes: number[] = [];
  let hash: string;
  for (let from = 0; ; ) {
    const response = await fetch(`${cluster.apiUrl(nodeId)}/v1/raft/applied?from=${from}&limit=50000`, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) throw new Error(`node ${nodeId}: /v1/raft/applied answered ${response.status}`);
    const page = (await response.json()) as { ids: string[]; indexes: number[]; total: number; hash: string };
    ids.push(...page.ids);
    indexes.push(...page.indexes);
    hash = page.hash;
    from += page.ids.length;
    if (page.ids.length === 0 || from >= page.total) break;
  }
  return { ids, indexes, hash };
}

/** waitConverged waits until every listed node has applied the same number of entries with the same hash. */
export async function waitConverged(cluster: LocalCluster, nodeIds: readonly number[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all(nodeIds.map((id) => cluster.status(id)));
    const views = await Promise.all(nodeIds.map(async (id) => {
      const response = await fetch(`${cluster.apiUrl(id)}/v1/raft/applied?from=0&limit=1`).catch(() => undefined);
      return response?.ok ? ((await response.json()) as { total: number; hash: string }) : undefined;
    }));
    const last = JSON.stringify({ statuses: statuses.map((s) => s && { id: s.id, applied: s.applied, commit: s.commit }), views });
    if (views.every((v) => v !== undefined && v.total === views[0]!.total && v.hash === views[0]!.hash)
      && statuses.every((s) => s !== undefined && s.applied === statuses[0]!.applied)) return;
    if (Date.now() > deadline) throw new Error(`nodes ${nodeIds.join(',')} did not converge within ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
