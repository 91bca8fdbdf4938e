// client.test.ts — goal: the submission retry rule users rely on. An indeterminate answer (dropped
// connection, 504, 503 that may have committed) is retried with the IDENTICAL request bytes on the
// next endpoint after a capped backoff; a definite refusal (422, 400, 404) is final after one request;
// when retries run out the error says whether the command may have been committed. Method: scripted
// node:http servers on 127.0.0.1:0 that record every request body, and a closed port.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient, backoffMs, dispositionOf, errorView, normalizeEndpoints, parseSubmitAnswer } from '../../src/cli/client.js';
import { CliError, EXIT_CODES } from '../../src/cli/errors.js';
import { closedPortUrl } from './fake-api.js';

type Script = { status: number; body: unknown } | 'drop';

const OK = { status: 200, body: { index: 7, term: 2, bodyHash: 'ab'.repeat(32), duplicate: false, result: { ok: true, index: 7, kind: 'putDevice', signer: 'k', effects: [] } } };

/** ScriptedServer answers requests from a script (then 500s) and records every body. */
class ScriptedServer {
  readonly bodies: string[] = [];
  readonly urls: string[] = [];
  url = '';
  private readonly server: Server;
  constructor(private readonly script: Script[]) {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.bodies.push(Buffer.concat(chunks).toString('utf8'));
        this.urls.push(request.url ?? '');
        const step = this.script.shift() ?? { status: 500, body: { error: { code: 'INTERNAL', message: 'script exhausted' } } };
        if (step === 'drop') {
          request.socket.destroy();
          return;
        }
        response.writeHead(step.status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(step.body));
      });
    });
  }
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    servers.push(this);
    return this;
  }
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const servers: ScriptedServer[] = [];
after(async () => {
  for (const server of servers) await server.close();
});

const envelope = new Uint8Array([10, 3, 1, 2, 3, 18, 4, 9, 9, 9, 9]);

function client(endpoints: string[], sleeps: number[], maxAttempts = 6): ApiClient {
  return new ApiClient({ endpoints, timeoutMs: 2000, maxAttempts, sleep: async (ms) => { sleeps.push(ms); } });
}

function error(status: number, code: string, details?: Record<string, unknown>): { status: number; body: unknown } {
  return { status, body: { error: { code, message: `${code} says so`, ...(details ? { details } : {}) } } };
}

async function rejection(promise: Promise<unknown>): Promise<CliError> {
  try {
    await promise;
  } catch (caught) {
    assert.ok(caught instanceof CliError, `expected a CliError, got ${String(caught)}`);
    return caught;
  }
  assert.fail('expected the promise to reject');
}

describe('submit retries indeterminate answers with the same envelope', () => {
  test('504 on one node, then 200 on the next: same bytes, one backoff', async () => {
    const a = await new ScriptedServer([error(504, 'TIMEOUT', { indeterminate: true })]).start();
    const b = await new ScriptedServer([OK]).start();
    const sleeps: number[] = [];
    const answer = await client([a.url, b.url], sleeps).submit(envelope, 'committed');
    assert.equal(answer.index, 7);
    assert.equal(answer.endpoint, b.url);
    assert.equal(answer.attempts, 2);
    assert.equal(a.bodies.length, 1);
    assert.equal(b.bodies[0], a.bodies[0], 'the retry must send identical bytes');
    assert.deepEqual(JSON.parse(a.bodies[0] as string), { envelope: Buffer.from(envelope).toString('base64'), wait: 'committed' });
    assert.deepEqual(sleeps, [200]);
  });

  test('a dropped connection and a 503 (leader changed) are both retried, round-robin, with identical bytes', async () => {
    const a = await new ScriptedServer(['drop', OK]).start();
    const b = await new ScriptedServer([error(503, 'UNAVAILABLE', { indeterminate: true })]).start();
    const sleeps: number[] = [];
    const answer = await client([a.url, b.url], sleeps).submit(envelope, 'enforced');
    assert.equal(answer.attempts, 3);
    assert.equal(answer.endpoint, a.url);
    const all = [...a.bodies, ...b.bodies];
    assert.equal(all.length, 3);
    assert.ok(all.every((body) => body === all[0]));
    assert.equal((JSON.parse(all[0] as string) as { wait: string }).wait, 'enforced');
    assert.deepEqual(sleeps, [200, 400]);
  });

  test('a refused connection moves on to the next endpoint', async () => {
    const dead = await closedPortUrl();
    const b = await new ScriptedServer([OK]).start();
    const answer = await client([dead, b.url], []).submit(envelope, 'committed');
    assert.equal(answer.endpoint, b.url);
  });

  for (const [status, code, cliCode, exit] of [
    [422, 'UNPROCESSABLE', 'REJECTED', EXIT_CODES.rejected],
    [409, 'CONFLICT', 'REJECTED', EXIT_CODES.rejected],
    [400, 'BAD_REQUEST', 'BAD_INPUT', EXIT_CODES.usage],
    [404, 'NOT_FOUND', 'NOT_FOUND', EXIT_CODES.notFound],
  ] as const) {
    test(`a ${status} is final: one request, no retry, exit ${exit}`, async () => {
      const a = await new ScriptedServer([error(status, code, { commandCode: 'expired' })]).start();
      const b = await new ScriptedServer([OK]).start();
      const sleeps: number[] = [];
      const failure = await rejection(client([a.url, b.url], sleeps).submit(envelope, 'committed'));
      assert.equal(failure.code, cliCode);
      assert.equal(failure.exitCode, exit);
      assert.match(failure.message, new RegExp(`^${code}: ${code} says so`));
      assert.equal(a.bodies.length, 1);
      assert.equal(b.bodies.length, 0);
      assert.deepEqual(sleeps, []);
    });
  }

  test('a 504 that says the command committed but was not enforced in time is final (exit 3), not resent', async () => {
    const a = await new ScriptedServer([error(504, 'TIMEOUT', { indeterminate: false, committedIndex: 41 })]).start();
    const b = await new ScriptedServer([OK]).start();
    const failure = await rejection(client([a.url, b.url], []).submit(envelope, 'enforced'));
    assert.equal(failure.code, 'NOT_ENFORCED');
    assert.equal(failure.exitCode, EXIT_CODES.unavailable);
    assert.match(failure.message, /^committed at index 41, but not enforced in time: TIMEOUT says so$/);
    assert.equal(b.bodies.length, 0);
  });

  test('retries are bounded; when every answer may have committed the outcome is INDETERMINATE (exit 3)', async () => {
    const a = await new ScriptedServer(Array.from({ length: 4 }, () => error(504, 'TIMEOUT', { indeterminate: true }))).start();
    const sleeps: number[] = [];
    const failure = await rejection(client([a.url], sleeps, 4).submit(envelope, 'committed'));
    assert.equal(failure.code, 'INDETERMINATE');
    assert.equal(failure.exitCode, EXIT_CODES.unavailable);
    assert.match(failure.message, /outcome of the command is unknown after 4 attempts/);
    assert.equal(a.bodies.length, 4);
    assert.deepEqual(sleeps, [200, 400, 800]);
  });

  // (421 is left to the unit test of dispositionOf: Node's fetch itself resends a request answered 421.)
  test('when no answer can have committed (503 indeterminate false, 429) the error says nothing was committed', async () => {
    const a = await new ScriptedServer([error(503, 'UNAVAILABLE', { indeterminate: false }), error(429, 'OVERLOADED')]).start();
    const failure = await rejection(client([a.url], [], 2).submit(envelope, 'committed'));
    assert.equal(failure.code, 'UNAVAILABLE');
    assert.match(failure.message, /nothing was committed/);
  });

  test('a 200 whose body is not a submit answer is an error, not a success', async () => {
    const a = await new ScriptedServer([{ status: 200, body: { index: 'seven' } }]).start();
    const failure = await rejection(client([a.url], []).submit(envelope, 'committed'));
    assert.match(failure.message, /unexpected body: index and term must be numbers/);
  });
});

describe('reads', () => {
  test('get skips an unreachable endpoint and a 503, and remembers the one that answered', async () => {
    const dead = await closedPortUrl();
    const busy = await new ScriptedServer([error(503, 'UNAVAILABLE', { indeterminate: false })]).start();
    const good = await new ScriptedServer([{ status: 200, body: { index: 1, x: 1 } }, { status: 200, body: { index: 2 } }]).start();
    const c = client([dead, busy.url, good.url], []);
    assert.deepEqual(await c.get('/v1/state'), { index: 1, x: 1 });
    assert.deepEqual(await c.get('/v1/state'), { index: 2 });
    assert.equal(busy.bodies.length, 1, 'the second read went straight to the endpoint that answered');
  });

  test('get reports every endpoint it tried when none answers (exit 3)', async () => {
    const dead = await closedPortUrl();
    const failure = await rejection(client([dead], []).get('/v1/state'));
    assert.equal(failure.exitCode, EXIT_CODES.unavailable);
    assert.match(failure.message, new RegExp(`GET /v1/state: no endpoint answered \\(${dead}: ECONNREFUSED`));
  });
});

describe('pure helpers', () => {
  test('backoffMs: none first, then doubling from the base, capped', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 50].map((n) => backoffMs(n, 200, 2000)), [0, 200, 400, 800, 1600, 2000, 2000, 2000]);
  });

  test('dispositionOf: which statuses are retried and which may have committed', () => {
    const view = (details: Record<string, unknown>): ReturnType<typeof errorView> => ({ code: 'X', message: '', details });
    assert.deepEqual(dispositionOf(504, undefined), { retry: true, indeterminate: true });
    assert.deepEqual(dispositionOf(503, view({ indeterminate: true })), { retry: true, indeterminate: true });
    assert.deepEqual(dispositionOf(503, view({ indeterminate: false })), { retry: true, indeterminate: false });
    assert.deepEqual(dispositionOf(503, view({})), { retry: true, indeterminate: true }, 'unknown means it may have committed');
    for (const status of [421, 429]) assert.deepEqual(dispositionOf(status, undefined), { retry: true, indeterminate: false });
    for (const status of [400, 404, 409, 413, 422, 500]) assert.deepEqual(dispositionOf(status, undefined), { retry: false });
  });

  test('normalizeEndpoints adds http://, drops trailing slashes and repeats; refuses other schemes and empty lists', () => {
    assert.deepEqual(normalizeEndpoints(['127.0.0.1:8001', 'http://127.0.0.1:8001/', ' https://gw.example:443/api/ ']), ['http://127.0.0.1:8001', 'https://gw.example/api']);
    assert.throws(() => normalizeEndpoints(['ftp://x']), /expected an http:\/\/ or https:\/\/ URL, found "ftp:\/\/x"/);
    assert.throws(() => normalizeEndpoints([' ', '']), /expected at least one URL, found none/);
  });

  test('parseSubmitAnswer keeps a rejection\'s code and reason', () => {
    const answer = parseSubmitAnswer({ index: 3, term: 1, bodyHash: 'h', duplicate: true, result: { ok: false, code: 'unknown_state', reason: 'no such state' } }, 'e', 1);
    assert.deepEqual(answer.result, { ok: false, code: 'unknown_state', reason: 'no such state' });
    assert.equal(answer.duplicate, true);
  });
});
