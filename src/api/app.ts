// app.ts — buildApp(deps): the node's HTTP API as a Fastify app that does not listen.
//
// Tests call app.inject(); the node calls app.listen(). Every route declares JSON schemas for its
// input and output (TypeBox), so bad input is a 400 with a precise message before any handler
// runs. Errors come from one catalogue (errors.ts).
import assert from 'node:assert/strict';
import type { Server as TlsServer } from 'node:tls';
import Fastify, { LogController } from 'fastify';
import { Ajv } from 'ajv';
import type { FastifyInstance, FastifyError } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import { ApiError, errorBody } from './errors.js';
import { readJsonBody } from './json-body.js';
import { clientErrorHandler, frameworkErrorHandler } from './edge-errors.js';
import { healthRoutes } from './routes-health.js';
import { metricsRoutes } from './routes-metrics.js';
import { raftLogRoutes } from './routes-raft-log.js';
import { gatewayRoutes } from './routes-gateway.js';
import { deviceRoutes } from './routes-devices.js';
import { uiRoutes } from './routes-ui.js';
import { dashboardRoutes } from './routes-dashboard.js';
import { snapshotRoutes } from './routes-snapshot.js';
import { installReadAuth } from './read-auth.js';
import { DEFAULT_READ_RATE_LIMITS, installReadRateLimit } from './rate-limit.js';
import type { ApiDeps } from './deps.js';

/** MAX_BODY_BYTES bounds every request body (a signed command is at most 1 MiB). */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** ApiApp is the type of the app buildApp returns. */
export type ApiApp = FastifyInstance;

/** ApiTlsCredential is one certificate and its private key (PEM). */
export interface ApiTlsCredential {
  readonly certPem: string;
  readonly keyPem: string;
}

/**
 * ApiTls is what the API serves HTTPS with: one or more credentials with keys of different types (OpenSSL
 * presents, at each handshake, the one whose signature algorithm the client offers: a browser gets the P-256
 * certificate, qgate either), and optionally how they are renewed while the node runs.
 */
export interface ApiTls {
  readonly credentials: readonly ApiTlsCredential[];
  /**
   * signatureAlgorithms: the server's signature algorithms in order of preference (OpenSSL's list syntax); a
   * client that offers the first gets the credential for it. Unset: OpenSSL's defaults.
   */
  readonly signatureAlgorithms?: string;
  readonly renewal?: ApiTlsRenewal;
}

/** ApiTlsRenewal is checked every `intervalMs` while the API listens. */
export interface ApiTlsRenewal {
  readonly intervalMs: number;
  /** renew returns the new credentials when they changed, undefined when the current ones stand; when it throws, the current ones stay. */
  renew(): readonly ApiTlsCredential[] | undefined;
}

/** tlsOptions are node:tls options for `credentials`: TLS 1.3 only. */
function tlsOptions(credentials: readonly ApiTlsCredential[], signatureAlgorithms: string | undefined): { cert: string[]; key: string[]; minVersion: 'TLSv1.3'; sigalgs?: string } {
  assert.ok(credentials.length > 0, 'HTTPS needs at least one certificate');
  return {
    cert: credentials.map((c) => c.certPem), key: credentials.map((c) => c.keyPem), minVersion: 'TLSv1.3',
    ...(signatureAlgorithms === undefined ? {} : { sigalgs: signatureAlgorithms }),
  };
}

/** buildApp assembles the API for one node; with `https` it serves HTTPS only. */
export async function buildApp(deps: ApiDeps, logger?: Logger, https?: ApiTls): Promise<ApiApp> {
  const app = Fastify({
    loggerInstance: logger,
    // HTTPS (docs/api.md "Transport"): TLS 1.3 only, with the node's certificate or an operator's.
    ...(https === undefined ? {} : { https: tlsOptions(https.credentials, https.signatureAlgorithms) }),
    // Two log lines per request cost more than the request itself under load (bench:etcd); errors
    // are still logged by the error handler.
    // (through a LogController: Fastify 5.12 deprecates the top-level option and warns at every start).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_BODY_BYTES,
    // Errors Fastify or Node answer before any route runs (a path parameter over its length: 414; headers
    // over Node's limit: 431; a malformed request line: 400) use the documented error shape too.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();
  useBoundedJsonParser(app as unknown as FastifyInstance);
  // A query string or a path holds only text, so "?limit=10" must become a number there. A JSON body
  // carries its own types: coercing them would take 7 for "7" or [x] for x without a word, so bodies
  // are validated as sent. Nothing is removed or defaulted silently in a body either.
  const validators = {
    body: new Ajv({ allErrors: false, removeAdditional: false, coerceTypes: false, useDefaults: true, strict: false }),
    text: new Ajv({ allErrors: false, removeAdditional: false, coerceTypes: 'array', useDefaults: true, strict: false }),
  };
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? validators.body : validators.text).compile(schema));
  app.setErrorHandler((error: FastifyError | ApiError | Error, request, reply) => {
    if (error instanceof ApiError) return reply.status(error.statusCode).send(errorBody(error));
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
  app.setNotFoundHandler((request, reply) => {
    const error = new ApiError('NOT_FOUND', `no route ${request.method} ${describePath(request.url)}`);
    return reply.status(error.statusCode).send(errorBody(error));
  });
  const gateway = deps.gateway;
  // How fast one client may read (rate-limit.ts): checked before the read token, whose verification is part
  // of what a read costs. The bare Raft log mode (tests, bench:raft) has no reads to protect and stays open.
  if (gateway) installReadRateLimit(app as unknown as FastifyInstance, deps.readRateLimit ?? DEFAULT_READ_RATE_LIMITS, () => performance.now());
  // Reads of domain data need a read token (docs/api.md "Authentication"); the bare Raft log mode
  // (tests, bench:raft) has no trust store and no domain data, and stays open.
  if (gateway) installReadAuth(app as unknown as FastifyInstance, { trust: () => gateway.applier.machine.tokenTrust(), nowMs: deps.nowMs ?? Date.now });
  await app.register(healthRoutes, { deps });
  await app.register(metricsRoutes, { deps });
  if (deps.logApplier) await app.register(raftLogRoutes, { deps });
  if (deps.gateway) {
    await app.register(gatewayRoutes, { deps });
    await app.register(deviceRoutes, { deps });
    await app.register(uiRoutes, {});
    await app.register(dashboardRoutes, { deps });
    await app.register(snapshotRoutes, { deps });
  }
  if (https?.renewal !== undefined) keepRenewed(app as unknown as FastifyInstance, https.renewal, https.signatureAlgorithms);
  await app.ready();
  return app as unknown as ApiApp;
}

/**
 * useBoundedJsonParser replaces Fastify's JSON parser: a JSON body is scanned while it arrives and refused at
 * the first bound it crosses (a content-length over the limit before a byte is read), so that JSON.parse only
 * ever sees a body that is cheap to parse (json-body.ts).
 */
function useBoundedJsonParser(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', (request, payload, done) => {
    const declared = request.headers['content-length'] === undefined ? undefined : Number(request.headers['content-length']);
    readJsonBody(payload, declared, MAX_BODY_BYTES, (refusal, text) => {
      if (refusal !== undefined) done(new ApiError(refusal.kind === 'too-large' ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST', refusal.message), undefined);
      else parseJson(request, text ?? '', done);
    });
  });
}

/**
 * keepRenewed asks `renewal` every interval while the app listens and swaps the server's certificates when it
 * returns new ones (connections already open keep theirs; new handshakes get the new ones).
 */
function keepRenewed(app: FastifyInstance, renewal: ApiTlsRenewal, signatureAlgorithms: string | undefined): void {
  let timer: NodeJS.Timeout | undefined;
  const check = (): void => {
    try {
      const next = renewal.renew();
      if (next !== undefined) (app.server as unknown as TlsServer).setSecureContext(tlsOptions(next, signatureAlgorithms));
    } catch (error) {
      app.log.warn({ err: error }, 'renewing the API certificate failed; the current one is served until the next check');
    }
  };
  app.addHook('onListen', async () => {
    timer = setInterval(check, renewal.intervalMs);
    timer.unref();
  });
  app.addHook('onClose', async () => clearInterval(timer));
}

/** describePath shortens a request path for an error message (a client may send kilobytes). */
function describePath(url: string): string {
  const path = url.split('?', 1)[0] ?? '';
  return JSON.stringify(path.length > 80 ? `${path.slice(0, 80)}...` : path);
}
