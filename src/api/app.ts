// app.ts — buildApp(deps): the node's HTTP API as a Fastify app that does not listen.
//
// Tests call app.inject(); the node calls app.listen(). Every route declares JSON schemas for its
// input and output (TypeBox), so bad input is a 400 with a precise message before any handler
// runs. Errors come from one catalogue (errors.ts).
import Fastify from 'fastify';
import { Ajv } from 'ajv';
import type { FastifyInstance, FastifyError } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import { ApiError } from './errors.js';
import type { ErrorBody } from './errors.js';
import { healthRoutes } from './routes-health.js';
import { metricsRoutes } from './routes-metrics.js';
import { raftLogRoutes } from './routes-raft-log.js';
import { gatewayRoutes } from './routes-gateway.js';
import { deviceRoutes } from './routes-devices.js';
import type { ApiDeps } from './deps.js';

/** MAX_BODY_BYTES bounds every request body (a signed command is at most 1 MiB). */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** buildApp assembles the API for one node. */
/** ApiApp is the type of the app buildApp returns. */
export type ApiApp = FastifyInstance;

export async function buildApp(deps: ApiDeps, logger?: Logger): Promise<ApiApp> {
  const app = Fastify({
    loggerInstance: logger,
    // Two log lines per request cost more than the request itself under load (bench:etcd); errors
    // are still logged by the error handler.
    disableRequestLogging: true,
    bodyLimit: MAX_BODY_BYTES,
  }).withTypeProvider<TypeBoxTypeProvider>();
  // A query string or a path holds only text, so "?limit=10" must become a number there. A JSON body
  // carries its own types: coercing them would take 7 for "7" or [x] for x without a word, so bodies
  // are validated as sent. Nothing is removed or defaulted silently in a body either.
  const validators = {
    body: new Ajv({ allErrors: false, removeAdditional: false, coerceTypes: false, useDefaults: true, strict: false }),
    text: new Ajv({ allErrors: false, removeAdditional: false, coerceTypes: 'array', useDefaults: true, strict: false }),
  };
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? validators.body : validators.text).compile(schema));
  app.setErrorHandler((error: FastifyError | ApiError | Error, request, reply) => {
    if (error instanceof ApiError) {
      const body: ErrorBody = { error: { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) } };
      return reply.status(error.statusCode).send(body);
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.validation) {
      const where = fastifyError.validationContext ?? 'request';
      return reply.status(400).send({ error: { code: 'BAD_REQUEST', message: `${where}: ${fastifyError.message}` } });
    }
    if (fastifyError.statusCode && fastifyError.statusCode < 500) {
      const code = fastifyError.statusCode === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST';
      return reply.status(fastifyError.statusCode).send({ error: { code, message: fastifyError.message } });
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'internal error' } });
  });
  await app.register(healthRoutes, { deps });
  await app.register(metricsRoutes, { deps });
  if (deps.logApplier) await app.register(raftLogRoutes, { deps });
  if (deps.gateway) {
    await app.register(gatewayRoutes, { deps });
    await app.register(deviceRoutes, { deps });
  }
  await app.ready();
  return app as unknown as ApiApp;
}
