// rate-limit.test.ts — goal: one client address may read at most `readsPerSecond` (after a burst of
// `burst`), and a read over the limit is answered 429 RATE_LIMITED in the documented error shape with a
// Retry-After header, before its read token is even checked; other addresses and writes are not limited;
// the remembered addresses are bounded. Method: the token buckets (src/api/rate-limit.ts) with a hand-driven
// clock, then the real app (real StateMachine, stand-in runtime) through app.inject from chosen addresses.
// The limit on a real node process, over HTTPS, with connections refused before TLS, is
// test/api/rate-limit-node.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApp } from '../../src/api/app.js';
import { ClientBuckets, isRead } from '../../src/api/rate-limit.js';
import { GatewayApplier } from '../../src/node/gateway-applier.js';
import { StateMachine, policyEngines } from '../../src/state/index.js';
import { T0_MS, TestCluster } from '../state/fixtures.js';
import { StandInRuntime, readToken } from './support.js';

test('a bucket gives `burst` reads at once, then readsPerSecond, and says how long to wait', () => {
  const buckets = new ClientBuckets({ readsPerSecond: 10, burst: 3, maxClients: 16 });
  const t = 1_000;
  assert.deepEqual([1, 2, 3].map(() => buckets.take('a', t)), [0, 0, 0], 'the burst');
  assert.equal(buckets.take('a', t), 100, 'empty: one token comes in 100 ms');
  assert.equal(buckets.waitMs('a', t + 50), 50, 'waiting spends nothing');
  assert.equal(buckets.take('a', t + 100), 0, 'a token after 100 ms');
  assert.equal(buckets.take('b', t), 0, 'another address has its own bucket');
  assert.equal(buckets.take('a', t + 10_000), 0);
  assert.equal(buckets.waitMs('a', t + 10_000), 0, 'refilled to the burst, no more');
  assert.deepEqual([1, 2].map(() => buckets.take('a', t + 10_000)), [0, 0]);
  assert.ok(buckets.take('a', t + 10_000) > 0, 'the burst is 3, however long the pause');
  assert.equal(buckets.take('c', t - 5_000), 0, 'a clock that steps back gives no tokens');
});

test('the addresses remembered are bounded: refilled buckets are forgotten first, then the fullest; an emptied one stays', () => {
  const buckets = new ClientBuckets({ readsPerSecond: 1, burst: 2, maxClients: 3 });
  for (const client of ['a', 'b', 'c']) buckets.take(client, 0);
  buckets.take('a', 0);
  assert.equal(buckets.take('d', 1), 0);
  assert.equal(buckets.size, 3, 'at most maxClients');
  assert.ok(buckets.waitMs('a', 1) > 0, 'a, still empty, is remembered');
  for (let i = 0; i < 100; i++) buckets.take(`x${i}`, 2);
  assert.equal(buckets.size, 3);
  assert.ok(buckets.waitMs('a', 2) > 0, 'a hundred new addresses do not refill a');
  assert.throws(() => new ClientBuckets({ readsPerSecond: -1, burst: 1, maxClients: 1 }), /readsPerSecond: expected a finite number >= 0, got -1/);
  assert.throws(() => new ClientBuckets({ readsPerSecond: 1, burst: 0, maxClients: 1 }), /burst: expected an integer >= 1, got 0/);
});

test('reads are GET and HEAD under /v1/', () => {
  assert.equal(isRead('GET', '/v1/status'), true);
  assert.equal(isRead('HEAD', '/v1/state?consistency=stale'), true);
  assert.equal(isRead('POST', '/v1/commands'), false);
  assert.equal(isRead('GET', '/healthz'), false);
  assert.equal(isRead('GET', '/ui/'), false);
});

test('over the limit a read is 429 RATE_LIMITED with Retry-After, before its token is checked; other addresses and writes go on', async () => {
  const cluster = new TestCluster();
  const applier = new GatewayApplier(new StateMachine(cluster.genesis, policyEngines));
  const runtime = new StandInRuntime(applier, () => T0_MS);
  const app = await buildApp({ runtime, gateway: { applier, runtime }, nowMs: () => T0_MS, readRateLimit: { readsPerSecond: 1, burst: 5, maxClients: 64 } });
  try {
    const authorization = `Bearer ${readToken(cluster, T0_MS)}`;
    const read = (remoteAddress: string, url = '/v1/status', headers: Record<string, string> = { authorization }) => app.inject({ method: 'GET', url, remoteAddress, headers });
    for (let i = 0; i < 5; i++) assert.equal((await read('10.0.0.1')).statusCode, 200, `read ${i + 1} of the burst`);
    const refused = await read('10.0.0.1', '/v1/state');
    assert.equal(refused.statusCode, 429);
    const body = refused.json<{ error: { code: string; message: string; details: { retryAfterMs: number } } }>();
    assert.equal(body.error.code, 'RATE_LIMITED');
    assert.match(body.error.message, /^reads: expected at most 1 per second from one address \(5 at once\), got more from 10\.0\.0\.1; retry after 1 s$/);
    assert.ok(body.error.details.retryAfterMs > 0 && body.error.details.retryAfterMs <= 1_000, JSON.stringify(body));
    assert.equal(refused.headers['retry-after'], '1');
    // A bad token is not verified once the address is over its limit: the answer is the 429, not a 401.
    assert.equal((await read('10.0.0.1', '/v1/state', { authorization: 'Bearer garbage' })).statusCode, 429);
    assert.equal((await read('10.0.0.2')).statusCode, 200, 'another address is not limited');
    const write = await app.inject({ method: 'POST', url: '/v1/commands', remoteAddress: '10.0.0.1', payload: { envelope: Buffer.from(cluster.root({ kind: 'createDomain', description: 'the house' }, 'home')).toString('base64') } });
    assert.equal(write.statusCode, 200, `a write from the limited address is not a read: ${write.body}`);
    assert.equal((await app.inject({ method: 'GET', url: '/healthz', remoteAddress: '10.0.0.1' })).statusCode, 200, '/healthz is not a /v1/ read');
  } finally {
    await app.close();
  }
});

test('readsPerSecond 0 turns the limit off', async () => {
  const cluster = new TestCluster();
  const applier = new GatewayApplier(new StateMachine(cluster.genesis, policyEngines));
  const runtime = new StandInRuntime(applier, () => T0_MS);
  const app = await buildApp({ runtime, gateway: { applier, runtime }, nowMs: () => T0_MS, readRateLimit: { readsPerSecond: 0, burst: 1, maxClients: 1 } });
  try {
    for (let i = 0; i < 20; i++) assert.equal((await app.inject({ method: 'GET', url: '/v1/status', remoteAddress: '10.0.0.1' })).statusCode, 200);
  } finally {
    await app.close();
  }
});
