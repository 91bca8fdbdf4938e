// routes-snapshot.ts — GET /v1/snapshot: the agreed state at one applied index, for backups
// (`qgate snapshot save`, which writes it as a snapshot file: src/node/snapshot-file.ts).
//
// Consistent: the state machine's bytes, index, term, time, state hash and audit chain head are read in
// one synchronous step, so they describe the same applied entry. Linearizable by default (a ReadIndex
// through the leader first, so the snapshot holds every write acknowledged before the request); `stale`
// answers from this node alone, which is what a survivor without a quorum can still give.
// The answer holds the whole state (every domain's devices, policies and keys, the membership, the root
// keys): it is a restore's material, so only a root key's token may take it (docs/api.md "Authentication").
// An admin key, even one that administers every domain today, is refused: it may not read cluster-wide state.
import { createHash } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { ApiDeps } from './deps.js';
import { ConsistencyQuery, readPointFor, type Consistency } from './read-point.js';
import { ApiError } from './errors.js';
import { authorizeRead } from './read-auth.js';

/** snapshotRoutes registers GET /v1/snapshot (gateway mode only). */
export const snapshotRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const gateway = deps.gateway;
  if (gateway === undefined) return;
  const readPoint = readPointFor(gateway);
  app.get('/v1/snapshot', { schema: { querystring: ConsistencyQuery } }, async (request) => {
    const grant = authorizeRead(request);
    if (grant.role !== 'root' || grant.domains !== 'all') {
      throw new ApiError('FORBIDDEN', `authorization: GET /v1/snapshot holds every domain's data and the cluster's keys; it needs a token of a root key naming every domain ("*"), the token of key ${grant.keyId} is a ${grant.role}'s${grant.domains === 'all' ? '' : ' naming some domains'}`, { tokenCode: 'role_not_allowed' });
    }
    await readPoint((request.query as { consistency: Consistency }).consistency);
    const machine = gateway.applier.machine;
    const bytes = machine.snapshot();
    const applied = machine.lastApplied();
    return {
      clusterId: machine.clusterId(), clusterName: machine.clusterName(), index: applied.index, term: applied.term, timeMs: applied.timeMs,
      stateHash: createHash('sha256').update(bytes).digest('hex'), auditChain: machine.auditChain(), takenFrom: deps.runtime.status().id,
      state: Buffer.from(bytes).toString('base64'),
    };
  });
};
