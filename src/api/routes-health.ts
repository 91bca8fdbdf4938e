// routes-health.ts — liveness, readiness and the node's Raft status.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ApiDeps } from './deps.js';

const StatusSchema = Type.Object({
  id: Type.Integer(),
  role: Type.String(),
  leader: Type.Integer(),
  term: Type.Integer(),
  commit: Type.Integer(),
  applied: Type.Integer(),
  snapshotIndex: Type.Integer(),
  lastIndex: Type.Integer(),
  voters: Type.Array(Type.Integer()),
  learners: Type.Array(Type.Integer()),
  removed: Type.Boolean(),
});

/** healthRoutes: GET /healthz (the process answers), GET /readyz (a leader is known), GET /v1/status. */
export const healthRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get('/healthz', { schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } } }, async () => ({ ok: true }));
  app.get('/readyz', {
    schema: { response: { 200: Type.Object({ ready: Type.Boolean(), reason: Type.String() }), 503: Type.Object({ ready: Type.Boolean(), reason: Type.String() }) } },
  }, async (_request, reply) => {
    const status = deps.runtime.status();
    if (status.removed) return reply.status(503).send({ ready: false, reason: 'this node was removed from the cluster' });
    if (status.leader === 0) return reply.status(503).send({ ready: false, reason: 'no leader known' });
    return { ready: true, reason: `leader is node ${status.leader}` };
  });
  app.get('/v1/status', { schema: { response: { 200: StatusSchema } } }, async () => deps.runtime.status());
};
