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
  stateHash: Type.Optional(Type.String()),
  auditChain: Type.Optional(Type.String()),
  enforcedIndex: Type.Optional(Type.Integer()),
  enforced: Type.Optional(Type.Array(Type.Object({
    deviceId: Type.String(),
    desiredGeneration: Type.Integer(),
    appliedGeneration: Type.Union([Type.Integer(), Type.Null()]),
    enforcement: Type.String(),
    reason: Type.Union([Type.String(), Type.Null()]),
  }))),
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
  app.get('/v1/status', { schema: { response: { 200: StatusSchema } } }, async () => {
    const status = deps.runtime.status();
    const gateway = deps.gateway;
    if (!gateway) return status;
    const machine = gateway.applier.machine;
    const enforcement = gateway.enforcement;
    return {
      ...status,
      stateHash: machine.stateHash(),
      auditChain: machine.auditChain(),
      ...(enforcement ? { enforcedIndex: enforcement.enforcedIndex(), enforced: enforcement.report() } : {}),
    };
  });
};
