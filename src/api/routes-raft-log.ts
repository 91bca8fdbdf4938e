// routes-raft-log.ts — the bare Raft log (application mode `log`), for cluster tests and
// bench:raft. These routes exist only in that mode: in the gateway mode every change to the
// cluster, membership included, is a signed command.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { batchResults, runtimeToApiError } from './errors.js';
import type { Committed, LogApplyResult } from './ports.js';
import type { ApiDeps } from './deps.js';

const MAX_PAYLOAD_CHARS = 64 * 1024;

/** MAX_BATCH_PAYLOADS bounds one POST /v1/raft/propose/batch (the body limit still applies to the whole). */
const MAX_BATCH_PAYLOADS = 256;

const CommittedSchema = Type.Object({ index: Type.Integer(), term: Type.Integer(), position: Type.Integer(), hash: Type.String() });

/** committedAnswer is what both propose routes answer for a payload this node applied. */
function committedAnswer(committed: Committed<LogApplyResult>): { index: number; term: number; position: number; hash: string } {
  return { index: committed.index, term: committed.term, position: committed.result.position, hash: committed.result.hash };
}

/** LogRuntime and LogApplier are the bare-log runtime and applier the routes drive (ApiDeps). */
type LogRuntime = NonNullable<ApiDeps['logRuntime']>;
type LogApplier = NonNullable<ApiDeps['logApplier']>;

/** raftLogRoutes: propose a payload, list what was applied, read linearizably, change membership. */
export const raftLogRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const runtime = deps.logRuntime;
  const applier = deps.logApplier;
  if (!runtime || !applier) throw new Error('raftLogRoutes needs logRuntime and logApplier');
  proposeRoute(app, runtime);
  proposeBatchRoute(app, runtime);
  appliedRoute(app, applier);
  readRoute(app, runtime, applier);
  membersRoute(app, runtime);
  transferRoute(app, runtime);
};

/** proposeRoute serves POST /v1/raft/propose: one payload, answered once this node applied it. */
function proposeRoute(app: FastifyInstance, runtime: LogRuntime): void {
  app.post('/v1/raft/propose', {
    schema: {
      body: Type.Object({ payload: Type.String({ minLength: 1, maxLength: MAX_PAYLOAD_CHARS }) }, { additionalProperties: false }),
      response: { 200: CommittedSchema },
    },
  }, async (request) => {
    const { payload } = request.body as { payload: string };
    try {
      return committedAnswer(await runtime.propose(Buffer.from(payload, 'utf8')));
    } catch (error) {
      throw runtimeToApiError(error);
    }
  });
}

/**
 * proposeBatchRoute serves POST /v1/raft/propose/batch: many payloads in one request, each proposed and
 * answered on its own, in order (the same answer as /v1/raft/propose, or that payload's error). All are
 * handed to the runtime at once, so the core gets them as one batch: one append, one fsync, one message
 * per follower.
 */
function proposeBatchRoute(app: FastifyInstance, runtime: LogRuntime): void {
  app.post('/v1/raft/propose/batch', {
    schema: {
      body: Type.Object({
        payloads: Type.Array(Type.String({ minLength: 1, maxLength: MAX_PAYLOAD_CHARS }), { minItems: 1, maxItems: MAX_BATCH_PAYLOADS }),
      }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          results: Type.Array(Type.Union([
            Type.Object({ ok: Type.Literal(true), answer: CommittedSchema }),
            Type.Object({ ok: Type.Literal(false), error: Type.Object({ code: Type.String(), message: Type.String() }) }),
          ])),
        }),
      },
    },
  }, async (request) => {
    const { payloads } = request.body as { payloads: string[] };
    const outcomes = await Promise.allSettled(payloads.map(async (payload) => {
      try {
        return await runtime.propose(Buffer.from(payload, 'utf8'));
      } catch (error) {
        throw runtimeToApiError(error);
      }
    }));
    // The answer schema has no `details`: an item's error is its code and message.
    return { results: batchResults(outcomes, committedAnswer, (error, i) => request.log.error({ err: error, payload: i }, 'batch proposal failed')) };
  });
}

/** appliedRoute serves GET /v1/raft/applied: the ids and indexes of applied payloads, a page at a time. */
function appliedRoute(app: FastifyInstance, applier: LogApplier): void {
  app.get('/v1/raft/applied', {
    schema: {
      querystring: Type.Object({
        from: Type.Integer({ minimum: 0, default: 0 }),
        limit: Type.Integer({ minimum: 1, maximum: 100_000, default: 10_000 }),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ ids: Type.Array(Type.String()), indexes: Type.Array(Type.Integer()), total: Type.Integer(), hash: Type.String() }) },
    },
  }, async (request) => {
    const { from, limit } = request.query as { from: number; limit: number };
    return applier.applied(from, limit);
  });
}

/** readRoute serves GET /v1/raft/read: the applied count and hash at a ReadIndex (or this node's, when stale). */
function readRoute(app: FastifyInstance, runtime: LogRuntime, applier: LogApplier): void {
  app.get('/v1/raft/read', {
    schema: {
      querystring: Type.Object({ stale: Type.Boolean({ default: false }) }, { additionalProperties: false }),
      response: { 200: Type.Object({ index: Type.Integer(), total: Type.Integer(), hash: Type.String() }) },
    },
  }, async (request) => {
    const { stale } = request.query as { stale: boolean };
    try {
      const index = stale ? runtime.status().applied : await runtime.readIndex();
      const { total, hash } = applier.applied(0, 1);
      return { index, total, hash };
    } catch (error) {
      throw runtimeToApiError(error);
    }
  });
}

/** membersRoute serves POST /v1/raft/members: add (as learner or voter) or remove a member. */
function membersRoute(app: FastifyInstance, runtime: LogRuntime): void {
  app.post('/v1/raft/members', {
    schema: {
      body: Type.Union([
        Type.Object({
          action: Type.Literal('add'),
          nodeId: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
          host: Type.String({ minLength: 1, maxLength: 253 }),
          port: Type.Integer({ minimum: 1, maximum: 65535 }),
          publicKey: Type.String({ pattern: '^[0-9a-f]{64}$' }),
          voter: Type.Boolean(),
        }, { additionalProperties: false }),
        Type.Object({ action: Type.Literal('remove'), nodeId: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) }, { additionalProperties: false }),
      ]),
      response: { 202: Type.Object({ accepted: Type.Boolean() }) },
    },
  }, async (request, reply) => {
    const body = request.body as { action: 'add'; nodeId: number; host: string; port: number; publicKey: string; voter: boolean } | { action: 'remove'; nodeId: number };
    try {
      if (body.action === 'add') runtime.addMember(body.nodeId, { host: body.host, port: body.port, publicKey: body.publicKey }, body.voter);
      else runtime.removeMember(body.nodeId);
    } catch (error) {
      throw runtimeToApiError(error);
    }
    return reply.status(202).send({ accepted: true });
  });
}

/** transferRoute serves POST /v1/raft/transfer: the leader hands leadership to another voter. */
function transferRoute(app: FastifyInstance, runtime: LogRuntime): void {
  app.post('/v1/raft/transfer', {
    schema: {
      body: Type.Object({ to: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) }, { additionalProperties: false }),
      response: { 202: Type.Object({ accepted: Type.Boolean() }) },
    },
  }, async (request, reply) => {
    // Only the leader transfers leadership; elsewhere the request is not taken (accepted: false).
    if (runtime.status().role !== 'leader') return reply.status(202).send({ accepted: false });
    runtime.transferLeadership((request.body as { to: number }).to);
    return reply.status(202).send({ accepted: true });
  });
}
