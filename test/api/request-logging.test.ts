// request-logging.test.ts — the API logs no line per request, and building it prints no deprecation.
//
// Goal: a node under load writes log lines for errors and events, not two lines per request (they cost more
// than the request: bench:etcd), and a node's start-up output carries no Fastify deprecation warning
// (Fastify 5.12 deprecated the top-level `disableRequestLogging`, FSTDEP023, printed at every node start
// into node.log until 2026-12-07). Method: buildApp with a pino logger writing into memory, requests by
// inject, the process's 'warning' events collected while the app is built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { buildApp } from '../../src/api/app.js';
import { GatewayApplier } from '../../src/node/gateway-applier.js';
import { StateMachine, policyEngines } from '../../src/state/index.js';
import { T0_MS, TestCluster } from '../state/fixtures.js';
import { StandInRuntime, readToken } from './support.js';

test('requests leave no per-request log line and building the API emits no deprecation warning', async () => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk: Buffer, _encoding, done) { lines.push(chunk.toString()); done(); } });
  const warnings: string[] = [];
  const onWarning = (warning: Error & { code?: string }): void => { warnings.push(`${warning.code ?? warning.name}: ${warning.message}`); };
  process.on('warning', onWarning);
  const cluster = new TestCluster();
  const applier = new GatewayApplier(new StateMachine(cluster.genesis, policyEngines));
  const runtime = new StandInRuntime(applier, () => T0_MS);
  const app = await buildApp({ runtime, gateway: { applier, runtime }, nowMs: () => T0_MS }, pino({ level: 'info' }, sink));
  try {
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    const authorization = `Bearer ${readToken(cluster, T0_MS)}`;
    for (let i = 0; i < 5; i++) {
      assert.equal((await app.inject({ method: 'GET', url: '/v1/status', headers: { authorization } })).statusCode, 200);
    }
    assert.equal((await app.inject({ method: 'GET', url: '/v1/no-such-route' })).statusCode, 404);
    const perRequest = lines.filter((line) => /incoming request|request completed/.test(line));
    assert.deepEqual(perRequest, [], 'no per-request log lines');
    assert.deepEqual(warnings.filter((w) => /Deprecation|FSTDEP/.test(w)), [], 'no deprecation warning while building the API');
  } finally {
    process.off('warning', onWarning);
    await app.close();
  }
});
