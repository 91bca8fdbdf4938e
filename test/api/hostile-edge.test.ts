// hostile-edge.test.ts — no request holds a node's event loop, an oversized body is not read, and every
// refusal before a route runs uses the documented error shape (issue 15).
//
// Goal: a 2 MB JSON body that is costly to parse (a million nested brackets, a million-item array,
// hundreds of thousands of escapes) is refused with 400 BAD_REQUEST without the event loop being
// held for more than 20 ms; a body whose content-length is over the limit (3 MiB, declared and sent) is
// refused 413 PAYLOAD_TOO_LARGE from its headers, and the node closes the connection having read a
// small part of it (the bytes already in flight), with or without the client's Connection: close, so
// the client cannot make the node read and throw away megabytes; unknown routes (404), an over-long path parameter (414), over-large
// headers or request line (431) and a malformed request (400) answer {"error": {"code", "message"}}.
// Method: the real app in a child process (edge-server.ts: the real StateMachine behind a stand-in
// runtime) listening on a loopback port, real HTTP requests from a raw socket, and the server's own
// event-loop delay histogram (perf_hooks, 1 ms resolution) read over IPC around each request.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { TestCluster } from '../state/fixtures.js';

const MAX_LOOP_DELAY_MS = 20;
const cluster = new TestCluster();
let server: ChildProcess;
let port = 0;

/** ask sends `message` to the server process and waits for its answer with `key`. */
function ask<T>(message: string, key: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (answer: unknown): void => {
      if (typeof answer === 'object' && answer !== null && key in answer) {
        server.off('message', onMessage);
        resolve((answer as Record<string, T>)[key]!);
      }
    };
    server.on('message', onMessage);
    server.once('exit', (code) => reject(new Error(`edge server exited with ${code}`)));
    server.send(message);
  });
}

/** RawAnswer is a parsed HTTP/1.1 answer. */
interface RawAnswer { status: number; headers: string; body: string }

/** rawRequest writes `request` on a fresh connection and reads the answer until the server closes or it is complete. */
function rawRequest(request: string | Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const finish = (): void => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text : text.slice(0, split);
      resolve({ status: Number(head.split(' ')[1]), headers: head, body: split < 0 ? '' : text.slice(split + 4) });
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text.slice(0, Math.max(split, 0)));
      if (split >= 0 && length && Buffer.byteLength(text.slice(split + 4)) >= Number(length[1])) {
        socket.destroy();
        finish();
      }
    });
    // The server answers and closes as soon as a bound is crossed, while this client may still be writing the
    // rest of the body: EPIPE or ECONNRESET then, and the answer already received is read at 'close'.
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') reject(error);
    });
    socket.on('close', finish);
    socket.setTimeout(20_000, () => socket.destroy(new Error('no answer in 20 s')));
    socket.write(request);
  });
}

/** ClosedSocket is a connection the server saw close: the bytes it read and how long it was open. */
interface ClosedSocket { bytesRead: number; openMs: number }

/**
 * untilClosed writes `request` on a fresh connection and keeps it until the server closes it (closedByNode)
 * or `timeoutMs` passes (then the client closes it); the answer is what arrived meanwhile.
 */
function untilClosed(request: Buffer, timeoutMs: number): Promise<{ answer: RawAnswer; closedByNode: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closedByNode = true;
    const timer = setTimeout(() => {
      closedByNode = false;
      socket.destroy();
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The node closes while this client may still be writing: EPIPE or ECONNRESET, then 'close'.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text : text.slice(0, split);
      resolve({ answer: { status: Number(head.split(' ')[1]), headers: head, body: split < 0 ? '' : text.slice(split + 4) }, closedByNode });
    });
    socket.write(request);
  });
}

function post(path: string, body: string): Promise<RawAnswer> {
  return rawRequest(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** withLoopDelay runs `work` and returns its result with the server's longest event-loop delay meanwhile. */
async function withLoopDelay<T>(work: () => Promise<T>): Promise<{ result: T; maxDelayMs: number }> {
  await ask('reset', 'reset');
  const result = await work();
  const loop = await ask<{ maxDelayMs: number }>('read', 'loop');
  return { result, maxDelayMs: loop.maxDelayMs };
}

function errorOf(answer: RawAnswer): { code: string; message: string } {
  const parsed = JSON.parse(answer.body) as { error?: { code?: unknown; message?: unknown } };
  assert.equal(typeof parsed.error?.code, 'string', `documented error shape, got ${answer.body}`);
  assert.equal(typeof parsed.error?.message, 'string', `documented error shape, got ${answer.body}`);
  return parsed.error as { code: string; message: string };
}

before(async () => {
  // From test/ (tsx) the server is the .ts source; from dist/test/ (npm test, CI) its compiled .js.
  const compiled = import.meta.url.endsWith('.js');
  const script = fileURLToPath(new URL(compiled ? './edge-server.js' : './edge-server.ts', import.meta.url));
  server = fork(script, { execArgv: compiled ? [] : ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  port = await new Promise<number>((resolve, reject) => {
    server.once('message', (message) => resolve((message as { port: number }).port));
    server.once('exit', (code) => reject(new Error(`edge server exited with ${code} before listening`)));
  });
  // Warm up the request path once (the first request compiles it).
  await post('/v1/commands', JSON.stringify({ envelope: 'A'.repeat(2_000_000) }));
});
after(async () => {
  if (server.exitCode !== null) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  server.send('stop');
  const timer = setTimeout(() => server.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
});

describe('costly JSON bodies are refused without holding the event loop', () => {
  const n = 1_000_000;
  const bodies: { name: string; body: string; message: RegExp }[] = [
    { name: 'a million nested brackets', body: `{"envelope":"AAAA","x":${'['.repeat(n)}${']'.repeat(n)}}`, message: /body: expected JSON nested at most 32 deep/ },
    { name: 'a million-item array', body: `{"envelope":"AAAA","x":[${'0,'.repeat(n - 1)}0]}`, message: /body: expected at most 4096 JSON values/ },
    { name: 'a string of 330,000 escapes', body: `{"envelope":"${'\\u0041'.repeat(330_000)}"}`, message: /body: expected at most 16384 backslash escapes/ },
  ];
  for (const { name, body, message } of bodies) {
    test(`${name} (${(body.length / 1e6).toFixed(1)} MB): 400 BAD_REQUEST, loop held < ${MAX_LOOP_DELAY_MS} ms`, async () => {
      // The machine is shared: a scheduling pause only adds to a measured delay, so the least of
      // three attempts is the request's own cost (without the bounds, every attempt took ~1 s).
      // The server answers and closes while this client may still be writing: its kernel may then reset the
      // connection, and a reset can discard the answer before it is read (NaN status). Such an attempt still
      // measures the loop; every answer that is read must be the 400, and at least one must be read.
      const delaysMs: number[] = [];
      let answered = 0;
      for (let attempt = 0; attempt < 5 && (attempt < 3 || answered === 0); attempt++) {
        const { result, maxDelayMs } = await withLoopDelay(() => post('/v1/commands', body));
        delaysMs.push(maxDelayMs);
        if (Number.isNaN(result.status)) continue;
        answered++;
        assert.equal(result.status, 400, result.body);
        const error = errorOf(result);
        assert.equal(error.code, 'BAD_REQUEST');
        assert.match(error.message, message);
      }
      assert.ok(answered > 0, 'at least one attempt read the 400 before the connection was reset');
      const maxDelayMs = Math.min(...delaysMs);
      assert.ok(maxDelayMs < MAX_LOOP_DELAY_MS, `event loop held ${delaysMs.map((ms) => ms.toFixed(1)).join(', ')} ms`);
    });
  }

  test('a legitimate body is still parsed, validated and answered', async () => {
    const envelope = Buffer.from(cluster.root({ kind: 'createDomain', description: 'the house' }, 'home')).toString('base64');
    const answer = await post('/v1/commands', JSON.stringify({ envelope }));
    assert.equal(answer.status, 200, answer.body);
    const invalid = await post('/v1/commands', '{"envelope": ');
    assert.equal(invalid.status, 400);
    assert.equal(errorOf(invalid).code, 'BAD_REQUEST');
    const poisoned = await post('/v1/commands', '{"envelope":"AAAA","__proto__":{"x":1}}');
    assert.equal(poisoned.status, 400);
    assert.equal(errorOf(poisoned).code, 'BAD_REQUEST');
  });
});

describe('an oversized body is refused from its content-length, not read', () => {
  const declaredBytes = 3 * 1024 * 1024;
  // What the node may read before it answers: the headers and whatever the kernel delivered with them.
  // Reading the body up to the limit, or to its end, is 2-3 MiB.
  const maxReadBytes = 512 * 1024;
  for (const close of [true, false]) {
    test(`3 MiB declared and sent${close ? ' (Connection: close)' : ' (keep-alive)'}: 413, connection closed by the node after < 512 KiB read`, async () => {
      await ask('reset', 'reset');
      const head = `POST /v1/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${declaredBytes}\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;
      const { answer, closedByNode } = await untilClosed(Buffer.concat([Buffer.from(head), Buffer.alloc(declaredBytes, 0x41)]), 5_000);
      assert.ok(closedByNode, 'the node closed the connection within 5 s');
      const sockets = await ask<ClosedSocket[]>('sockets', 'sockets');
      assert.equal(sockets.length, 1, `one connection, closed: ${JSON.stringify(sockets)}`);
      assert.ok(sockets[0]!.bytesRead < maxReadBytes, `the node read ${sockets[0]!.bytesRead} bytes of a ${declaredBytes}-byte body`);
      // A reset may discard the answer before the client reads it (see above); an answer that is read is the 413.
      if (!Number.isNaN(answer.status)) {
        assert.equal(answer.status, 413, answer.body);
        assert.equal(errorOf(answer).code, 'PAYLOAD_TOO_LARGE');
        assert.match(answer.headers, /^connection: close$/im);
      }
    });
  }
});

describe('refusals before any route use the documented error shape', () => {
  test('an unknown route is 404 NOT_FOUND naming the method and path', async () => {
    const answer = await rawRequest('GET /v1/nothing-here?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(answer.status, 404);
    const error = errorOf(answer);
    assert.equal(error.code, 'NOT_FOUND');
    assert.equal(error.message, 'no route GET "/v1/nothing-here"');
  });

  test('an over-long path parameter is 414 URI_TOO_LONG', async () => {
    const answer = await rawRequest(`GET /v1/devices/${'d'.repeat(500)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(answer.status, 414);
    assert.equal(errorOf(answer).code, 'URI_TOO_LONG');
  });

  test('over-large headers, or an over-long request line, are 431 HEADERS_TOO_LARGE', async () => {
    const headers = await rawRequest(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(64 * 1024)}\r\n\r\n`);
    assert.equal(headers.status, 431);
    assert.equal(errorOf(headers).code, 'HEADERS_TOO_LARGE');
    const line = await rawRequest(`GET /healthz?${'q'.repeat(64 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.equal(line.status, 431);
    assert.equal(errorOf(line).code, 'HEADERS_TOO_LARGE');
  });

  test('a malformed request is 400 BAD_REQUEST', async () => {
    const answer = await rawRequest('NOT HTTP AT ALL\r\n\r\n');
    assert.equal(answer.status, 400);
    assert.equal(errorOf(answer).code, 'BAD_REQUEST');
  });
});
