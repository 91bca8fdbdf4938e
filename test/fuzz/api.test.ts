// api.test.ts — fuzzing the HTTP API (src/api, the real Fastify app in-process). Promise: whatever the
// body, query string or path, a request is answered — never a 5xx, never a hang — every refusal has
// the documented shape {"error": {"code", "message"}} (docs/api.md), and no request holds the event
// loop more than 20 ms (issue 15: a 2 MB body of brackets held it ~1 s and moved leadership).
//
// Method: buildApp with the real GatewayApplier and StateMachine (the fixture cluster's setup applied)
// behind the stand-in runtime of test/api/support.ts, driven with app.inject. fast-check sends JSON
// values, deeply nested and oversized bodies, malformed JSON, envelopes of random or corrupted bytes,
// batches of them, random query parameters (known names with hostile values, unknown names, repeated
// keys) and hostile path segments to every route but the streaming /v1/watch (test/api/watch.test.ts).
// The event-loop delay is read from a perf_hooks histogram (1 ms resolution) around each request; a
// request over the bound is tried twice more and fails only if it exceeds it every time, so that a
// neighbour's burst on a shared machine does not fail the run while a request that really holds the
// loop always does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { buildApp } from '../../src/api/app.js';
import type { ApiApp } from '../../src/api/app.js';
import { GatewayApplier } from '../../src/node/gateway-applier.js';
import { StateMachine, policyEngines } from '../../src/state/index.js';
import { T0_MS, TestCluster } from '../state/fixtures.js';
import { StandInRuntime } from '../api/support.js';
import { FuzzPlan, mutatedBytes } from './support.js';

const plan = new FuzzPlan(4);
const MAX_LOOP_DELAY_MS = 20;
const ANSWER_TIMEOUT_MS = 10_000;

const cluster = new TestCluster();
const applier = new GatewayApplier(new StateMachine(cluster.genesis, policyEngines));
const runtime = new StandInRuntime(applier, () => T0_MS);
let app: ApiApp;
const genuine = cluster.putDevice('cam-fuzz', 'camera', 'n1');

before(async () => {
  // The read rate limit is off: every fuzzed read must reach the routes, not stop at 429 (test/api/rate-limit.test.ts covers the limit).
  app = await buildApp({ runtime, gateway: { applier, runtime }, nowMs: () => T0_MS, readRateLimit: { readsPerSecond: 0, burst: 1, maxClients: 1 } });
  for (const bytes of cluster.setup(2)) {
    const answer = await app.inject({ method: 'POST', url: '/v1/commands', payload: { envelope: Buffer.from(bytes).toString('base64') } });
    assert.equal(answer.statusCode, 200, answer.body);
  }
});
after(async () => {
  await app.close();
});

/** Request is what one fuzzed request sends. */
interface Request {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly body?: string;
  readonly contentType?: string;
}

/** CHUNK_BYTES: a body reaches the app in chunks of this size, as a socket delivers it (inject would hand over one). */
const CHUNK_BYTES = 64 * 1024;
function inChunks(body: string): Readable {
  const bytes = Buffer.from(body);
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += CHUNK_BYTES) chunks.push(bytes.subarray(at, at + CHUNK_BYTES));
  return Readable.from(chunks, { objectMode: false });
}

/** once sends a request and returns its status, body and the longest event-loop delay meanwhile. */
async function once(request: Request): Promise<{ status: number; body: string; delayMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = await Promise.race([
      app.inject({ method: request.method, url: request.url, ...(request.body === undefined ? {} : {
        payload: inChunks(request.body), headers: { 'content-type': request.contentType ?? 'application/json', 'content-length': String(Buffer.byteLength(request.body)) },
      }) }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms`)), ANSWER_TIMEOUT_MS);
      }),
    ]);
    // One more turn so that a block at the very end of the request is in the histogram.
    await new Promise((resolve) => setImmediate(resolve));
    return { status: answer.statusCode, body: answer.body, delayMs: histogram.max / 1e6 };
  } finally {
    clearTimeout(timer);
    histogram.disable();
  }
}

/** checkRequest holds one request to the promise above. */
async function checkRequest(request: Request): Promise<void> {
  const label = `${request.method} ${request.url.slice(0, 200)}${request.body === undefined ? '' : ` (${request.body.length} chars: ${JSON.stringify(request.body.slice(0, 120))})`}`;
  let answer = await once(request);
  assert.ok(answer.status < 500, `${label}: answered ${answer.status} ${answer.body.slice(0, 300)}`);
  if (answer.status >= 400) {
    let parsed: { error?: { code?: unknown; message?: unknown } };
    try {
      parsed = JSON.parse(answer.body) as typeof parsed;
    } catch {
      assert.fail(`${label}: a ${answer.status} whose body is not JSON: ${answer.body.slice(0, 300)}`);
    }
    assert.ok(typeof parsed.error?.code === 'string' && typeof parsed.error.message === 'string', `${label}: a ${answer.status} not in the documented error shape: ${answer.body.slice(0, 300)}`);
  }
  const delays = [answer.delayMs];
  for (let attempt = 0; attempt < 2 && answer.delayMs > MAX_LOOP_DELAY_MS; attempt++) {
    answer = await once(request);
    delays.push(answer.delayMs);
  }
  assert.ok(answer.delayMs <= MAX_LOOP_DELAY_MS, `${label}: held the event loop ${delays.map((d) => d.toFixed(1)).join(', ')} ms (bound ${MAX_LOOP_DELAY_MS} ms)`);
}

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const envelopeText = fc.oneof(
  fc.uint8Array({ maxLength: 400 }).map(base64),
  mutatedBytes(fc.constant(genuine)).map(base64),
  fc.string({ maxLength: 60 }),
  fc.constantFrom('', '====', 'AAAA', '!!!!', 'A'.repeat(100_000)),
);
const hostileJson = fc.oneof(
  fc.jsonValue({ maxDepth: 6 }).map((value) => JSON.stringify(value)),
  fc.record({ envelope: envelopeText, wait: fc.oneof(fc.constantFrom('committed', 'enforced', ''), fc.jsonValue()), timeoutMs: fc.jsonValue() }, { requiredKeys: ['envelope'] }).map((value) => JSON.stringify(value)),
  fc.record({ envelopes: fc.oneof(fc.array(envelopeText, { maxLength: 40 }), fc.jsonValue()) }).map((value) => JSON.stringify(value)),
);
/**
 * BigBody describes a deep or huge body compactly, so that a counterexample prints as a few numbers:
 * nested arrays or objects, closed or not, inside a command body (the shape of issue 15's attack), a
 * flat array, a run of escapes or one long string.
 */
interface BigBody { readonly kind: 'deep' | 'array' | 'escapes' | 'string'; readonly size: number; readonly open: '[' | '{"a":'; readonly closed: boolean }
const bigBody: fc.Arbitrary<BigBody> = fc.record({
  kind: fc.constantFrom('deep', 'array', 'escapes', 'string'), size: fc.integer({ min: 1, max: 1_000_000 }), open: fc.constantFrom('[', '{"a":'), closed: fc.boolean(),
}) as fc.Arbitrary<BigBody>;
function renderBigBody(body: BigBody): string {
  const close = body.open === '[' ? ']' : '}';
  if (body.kind === 'deep') return `{"envelope":"AAAA","x":${body.open.repeat(body.size)}${body.closed ? close.repeat(body.size) : ''}}`;
  if (body.kind === 'array') return `{"envelope":"AAAA","x":[${'0,'.repeat(Math.min(body.size, 1_000_000))}0]}`;
  if (body.kind === 'escapes') return `{"envelope":"${'\\u0041'.repeat(Math.min(body.size, 350_000))}"}`;
  return `{"envelope":"${'A'.repeat(Math.min(body.size * 2, 2_100_000))}"}`;
}
const malformed = fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('{', '}', '{"envelope":', '[', 'null', '"x"', '{"envelope":"AAAA",}', '\u0000', '{"__proto__":{"x":1},"envelope":"AAAA"}', '{"constructor":{"prototype":{}},"envelope":"AAAA"}'));

describe('API fuzzing (the real app, in-process)', () => {
  test('command bodies: JSON values, envelopes of random or corrupted bytes, batches', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom('/v1/commands', '/v1/commands/batch'), hostileJson, async (url, body) => checkRequest({ method: 'POST', url, body })),
      plan.parameters(plan.longMode ? 0 : 400));
  });

  test('deep, huge and malformed bodies, under any content type', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom('/v1/commands', '/v1/commands/batch', '/v1/raft/propose', '/v1/devices'), fc.oneof(bigBody, malformed),
      fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', ''),
      async (url, body, contentType) => checkRequest({ method: 'POST', url, body: typeof body === 'string' ? body : renderBigBody(body), contentType })), {
      ...plan.parameters<[string, BigBody | string, string]>(plan.longMode ? 0 : 150),
      // Always tried: issue 15's million brackets, and a 1.4 MB string to an unknown route (found by this
      // fuzzer when inject handed the body over as one chunk; a socket delivers it in 64 KiB chunks).
      examples: [
        ['/v1/commands', { kind: 'deep', size: 1_000_000, open: '[', closed: true }, 'application/json'],
        ['/v1/devices', { kind: 'string', size: 681_229, open: '[', closed: true }, 'application/json'],
        ['/v1/commands/batch', { kind: 'array', size: 1_000_000, open: '[', closed: true }, 'application/json'],
        ['/v1/commands', { kind: 'escapes', size: 350_000, open: '[', closed: true }, 'application/json'],
      ],
    });
  });

  test('query strings: known parameters with hostile values, unknown and repeated ones', async () => {
    const routes = ['/v1/state', '/v1/devices', '/v1/domains', '/v1/images', '/v1/keys', '/v1/rejections', '/v1/audit/log', '/v1/status', '/v1/device-commands', '/v1/discovered', '/v1/devices/plug-0/readings', '/v1/raft/applied', '/metrics', '/healthz', '/readyz'];
    const name = fc.oneof(fc.constantFrom('consistency', 'domain', 'limit', 'from', 'after', 'state', 'status', 'device', '__proto__', 'constructor'), fc.string({ maxLength: 12 }));
    const value = fc.oneof(fc.constantFrom('linearizable', 'stale', '', '-1', '0', '1', '1e400', 'NaN', '9007199254740993', '%', '%00', '%zz', '[]', 'a'.repeat(5_000)), fc.string({ maxLength: 30 }), fc.integer().map(String));
    await fc.assert(fc.asyncProperty(fc.constantFrom(...routes), fc.array(fc.tuple(name, value), { maxLength: 6 }), async (route, params) => {
      const query = params.map(([key, v]) => `${encodeURIComponent(key)}=${v.startsWith('%') ? v : encodeURIComponent(v)}`).join('&');
      await checkRequest({ method: 'GET', url: query === '' ? route : `${route}?${query}` });
    }), plan.parameters(plan.longMode ? 0 : 400));
  });

  test('path segments: hostile ids in every route that takes one, and unknown routes', async () => {
    const templates = ['/v1/devices/{}', '/v1/devices/{}/readings', '/v1/commands/{}', '/v1/policies/{}', '/v1/signers/{}/seq', '/v1/device-commands/{}', '/v1/{}', '/{}'];
    const segment = fc.oneof(fc.string({ maxLength: 40 }).map(encodeURIComponent), fc.constantFrom('..', '%2e%2e', '%00', '%zz', '%', 'a'.repeat(2_000), 'f'.repeat(64), 'F'.repeat(64), 'plug-0'));
    await fc.assert(fc.asyncProperty(fc.constantFrom(...templates), segment, fc.constantFrom<'GET' | 'POST'>('GET', 'POST'), async (template, id, method) =>
      checkRequest({ method, url: template.replace('{}', id), ...(method === 'POST' ? { body: '{}' } : {}) })), plan.parameters(plan.longMode ? 0 : 300));
  });
});
