// support.ts — a stand-in Raft runtime for API tests: it applies every proposal at once through the
// real GatewayApplier and StateMachine, as a one-node cluster would.
import type { RuntimeApi } from '../../src/api/deps.js';
import type { GatewayApplier } from '../../src/node/gateway-applier.js';
import type { Committed, RuntimeCounters, RuntimeStatus } from '../../src/node/raft-runtime.js';
import type { ApplyResult } from '../../src/state/index.js';
import type { InjectOptions } from 'fastify';
import { createToken, toHex, type KeyPair } from '../../src/commands/index.js';
import type { TestCluster } from '../state/fixtures.js';

/** StandInRuntime applies every proposal at once; `term` is the term it stamps on entries. */
export class StandInRuntime implements RuntimeApi<ApplyResult> {
  proposals = 0;
  term = 2;
  private index = 0;
  constructor(private readonly applier: GatewayApplier, private readonly clock: () => number) {}
  status(): RuntimeStatus {
    return { id: 1, role: 'leader', leader: 1, term: this.term, commit: this.index, applied: this.index,
      snapshotIndex: 0, lastIndex: this.index, voters: [1], learners: [], removed: false };
  }
  counters(): RuntimeCounters {
    return { readies: 0, saves: 0, syncedSaves: 0, savedEntries: 0, saveMs: 0, syncedSaveMs: 0, appliedEntries: this.index, sentMessages: 0, droppedMessages: 0, pendingProposals: 0, pendingReads: 0 };
  }
  /**
   * deferApply: apply each proposal on a later turn of the event loop, as a real cluster does after a
   * round trip, so that copies submitted meanwhile are checked against a state without it.
   */
  deferApply = false;
  async propose(payload: Uint8Array): Promise<Committed<ApplyResult>> {
    this.proposals += 1;
    if (this.deferApply) await new Promise((resolve) => setImmediate(resolve));
    this.index += 1;
    const timeMs = this.clock();
    const result = this.applier.apply({ index: this.index, term: this.term, timeMs, payload });
    return { index: this.index, term: this.term, timeMs, result };
  }
  async readIndex(): Promise<number> {
    return this.index;
  }
  addMember(): void {}
  removeMember(): void {}
  transferLeadership(): void {}
}

/**
 * readToken is a read token for every domain of a test cluster, signed by its first root key at
 * `nowMs` (docs/api.md "Authentication").
 */
export function readToken(cluster: TestCluster, nowMs: number, signer: KeyPair = cluster.roots[0]!, domains: readonly string[] | '*' = '*'): string {
  return createToken(signer, toHex(cluster.clusterId), domains, nowMs, 3600);
}

/**
 * withReadToken makes every app.inject() of a test carry a root read token made at the app's clock, as
 * a client holding the root key would (a request that sets its own Authorization header keeps it). The
 * one place the API tests get their tokens from.
 */
export function withReadToken<App extends { inject: (options: InjectOptions) => unknown }>(app: App, cluster: TestCluster, clock: () => number): App {
  const inject = app.inject.bind(app);
  app.inject = ((options: InjectOptions) => {
    const headers = { ...(options.headers ?? {}) } as Record<string, string>;
    if (!('authorization' in headers)) headers['authorization'] = `Bearer ${readToken(cluster, clock())}`;
    return inject({ ...options, headers });
  }) as App['inject'];
  return app;
}
