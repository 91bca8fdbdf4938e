// watch.test.ts — watch clients are bounded per node and per client address, and a client that does
// not read is dropped with an error event instead of growing the node's memory (issue 15: 300 clients
// that never read took a node from 166 to 435 MB in 20 s).
//
// Goal: GET /v1/watch admits at most maxClientsPerAddress streams from one address and maxClients in
// all (429 OVERLOADED in the documented error shape beyond, a slot freed when a client leaves); a
// stream whose client stops reading is ended with `event: error` (code SLOW_CONSUMER) once its unsent
// bytes pass maxBufferedBytes, while a client that reads gets every event, and the applier keeps one
// listener however many clients watch. Method: the real app listening on loopback (real StateMachine,
// stand-in runtime) with clients bound to 127.0.0.1, .2 and .3; and a WatchHub behind a real HTTP
// server fed 32 KiB events, read by one real socket that reads and one that is paused.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { buildApp } from '../../src/api/app.js';
import type { ApiApp } from '../../src/api/app.js';
import { WatchHub } from '../../src/api/watch.js';
import { GatewayApplier } from '../../src/node/gateway-applier.js';
import type { AppliedEvent } from '../../src/node/gateway-applier.js';
import { StateMachine, policyEngines } from '../../src/state/index.js';
import { T0_MS, TestCluster } from '../state/fixtures.js';
import { StandInRuntime, readToken } from './support.js';

const closers: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

/** watch opens GET /v1/watch from `localAddress` and resolves with the response (the stream stays open). */
function watch(port: number, localAddress: string, token: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path: '/v1/watch', localAddress, agent: false, headers: { authorization: `Bearer ${token}` } }, resolve);
    request.on('error', reject);
    request.end();
  });
}

async function bodyOf(response: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of response) text += String(chunk);
  return text;
}

describe('GET /v1/watch is bounded', () => {
  test('at most maxClientsPerAddress streams per address and maxClients per node; a slot frees when a client leaves', async () => {
    const cluster = new TestCluster();
    const applier = new GatewayApplier(new StateMachine(cluster.genesis, policyEngines));
    const runtime = new StandInRuntime(applier, () => T0_MS);
    const app: ApiApp = await buildApp({ runtime, gateway: { applier, runtime }, nowMs: () => T0_MS, watchLimits: { maxClients: 5, maxClientsPerAddress: 3, maxBufferedBytes: 64 * 1024, keepAliveMs: 15_000 } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    closers.push(() => app.close());
    const { port } = app.server.address() as AddressInfo;
    const token = readToken(cluster, T0_MS);
    // Other parts of the app (the dashboard's routes) may listen too: count the watch's listeners only.
    const listenersBefore = applier.listenerCount('applied');
    const open: IncomingMessage[] = [];
    closers.push(() => { for (const response of open) response.destroy(); });
    for (let i = 0; i < 3; i++) open.push(await watch(port, '127.0.0.1', token));
    assert.deepEqual(open.map((r) => r.statusCode), [200, 200, 200]);
    const fourth = await watch(port, '127.0.0.1', token);
    assert.equal(fourth.statusCode, 429);
    const error = (JSON.parse(await bodyOf(fourth)) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'OVERLOADED');
    assert.match(error.message, /at most 3 watch clients from 127\.0\.0\.1/);
    for (let i = 0; i < 2; i++) open.push(await watch(port, '127.0.0.2', token));
    assert.deepEqual(open.map((r) => r.statusCode), [200, 200, 200, 200, 200]);
    const sixth = await watch(port, '127.0.0.3', token);
    assert.equal(sixth.statusCode, 429);
    assert.match(await bodyOf(sixth), /at most 5 watch clients on this node/);
    assert.equal(applier.listenerCount('applied') - listenersBefore, 1, 'one listener on the applier for every client');
    open.shift()!.destroy();
    const deadline = Date.now() + 5000;
    let again = await watch(port, '127.0.0.3', token);
    while (again.statusCode === 429 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      again = await watch(port, '127.0.0.3', token);
    }
    assert.equal(again.statusCode, 200, 'the slot is free again');
    open.push(again);
  });

  test('a client that stops reading is dropped with an error event; a client that reads gets every event', async () => {
    const source = new EventEmitter();
    const maxBufferedBytes = 256 * 1024;
    const hub = new WatchHub({
      on: (e, l) => source.on(e, l), off: (e, l) => source.off(e, l), recentFrom: () => ({ events: [], complete: true }),
      prime: () => undefined, format: (event) => JSON.stringify({ index: event.index, pad: 'x'.repeat(32 * 1024) }),
    }, { maxClients: 10, maxClientsPerAddress: 10, maxBufferedBytes, keepAliveMs: 60_000 });
    const unsent: number[] = [];
    const server: Server = createServer((request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.flushHeaders();
      hub.open(response, request.socket.remoteAddress ?? '?', undefined);
      const sample = setInterval(() => unsent.push(response.writableLength), 5);
      response.on('close', () => clearInterval(sample));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;

    const slow: Socket = connect({ host: '127.0.0.1', port });
    const fast: Socket = connect({ host: '127.0.0.1', port });
    closers.push(() => { slow.destroy(); fast.destroy(); });
    let slowText = '';
    let fastText = '';
    slow.on('data', (chunk: Buffer) => { slowText += chunk.toString('latin1'); });
    fast.on('data', (chunk: Buffer) => { fastText += chunk.toString('latin1'); });
    for (const socket of [slow, fast]) socket.write('GET /v1/watch HTTP/1.1\r\nHost: x\r\n\r\n');
    while (!slowText.includes('\r\n\r\n') || !fastText.includes('\r\n\r\n') || hub.size < 2) await new Promise((resolve) => setTimeout(resolve, 10));
    slow.pause();
    const ended = new Promise<void>((resolve) => slow.on('close', () => resolve()));
    const events = 400; // 12.8 MB: far more than the socket buffers hold
    for (let index = 1; index <= events; index++) {
      source.emit('applied', { index } as unknown as AppliedEvent);
      if (index % 4 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      // Once dropped, the slow client reads again (within the drop's grace period): what it was sent
      // should end with the error event, then the stream ends.
      if (hub.size === 1 && slow.isPaused()) slow.resume();
    }
    let deadline = Date.now() + 10_000;
    while (hub.size > 1) {
      assert.ok(Date.now() < deadline, `hub ${hub.size} clients, fast client has ${fastText.length} bytes`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    slow.resume();
    await ended;
    assert.match(slowText, /event: error\ndata: \{"code":"SLOW_CONSUMER","message":"watch: dropped: the client read too slowly/);
    deadline = Date.now() + 10_000;
    while (!fastText.includes(`id: ${events}\n`)) {
      assert.ok(Date.now() < deadline, `the fast client has ${fastText.length} bytes`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(hub.size, 1, 'the slow client was dropped, the reading one kept');
    assert.equal(source.listenerCount('applied'), 1);
    assert.ok(Math.max(...unsent) <= maxBufferedBytes + 64 * 1024, `a client's unsent bytes stayed bounded: ${Math.max(...unsent)}`);
    assert.equal(fastText.match(/event: applied/g)?.length, events, 'the reading client got every event');
    assert.ok((slowText.match(/event: applied/g)?.length ?? 0) < events, 'the slow client was not sent everything');
  });

  test('each event is formatted once for all its clients, live and replayed', async () => {
    // bench:hostile's slow-watch flood (16 clients per node) made every applied entry cost one JSON
    // encoding and one copy of its text per client; the frames are now made once and shared.
    const source = new EventEmitter();
    const remembered = Array.from({ length: 20 }, (_, i) => ({ index: i + 1 }) as unknown as AppliedEvent);
    let formatted = 0;
    const hub = new WatchHub({
      on: (e, l) => source.on(e, l), off: (e, l) => source.off(e, l), recentFrom: () => ({ events: remembered, complete: true }),
      prime: () => undefined, format: (event) => { formatted += 1; return JSON.stringify({ index: event.index }); },
    }, { maxClients: 20, maxClientsPerAddress: 20, maxBufferedBytes: 1024 * 1024, keepAliveMs: 60_000 });
    const server: Server = createServer((request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.flushHeaders();
      hub.open(response, request.socket.remoteAddress ?? '?', 1);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const clients: Socket[] = [];
    closers.push(() => new Promise<void>((resolve) => { for (const c of clients) c.destroy(); server.close(() => resolve()); }));
    const { port } = server.address() as AddressInfo;
    const texts: string[] = [];
    for (let i = 0; i < 8; i++) {
      const socket = connect({ host: '127.0.0.1', port });
      clients.push(socket);
      texts.push('');
      socket.on('data', (chunk: Buffer) => { texts[i] += chunk.toString('latin1'); });
      socket.write('GET /v1/watch?from=1 HTTP/1.1\r\nHost: x\r\n\r\n');
    }
    const waitUntil = async (what: string, done: () => boolean): Promise<void> => {
      const deadline = Date.now() + 10_000;
      while (!done()) {
        assert.ok(Date.now() < deadline, `${what}: hub ${hub.size} clients, ${texts.map((t) => t.length).join(',')} bytes`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    await waitUntil('every client replayed', () => hub.size === 8 && texts.every((t) => t.includes('id: 20\n')));
    for (let index = 21; index <= 70; index++) source.emit('applied', { index } as unknown as AppliedEvent);
    await waitUntil('every client got every event', () => texts.every((t) => t.includes('id: 70\n')));
    for (const text of texts) assert.equal(text.match(/event: applied/g)?.length, 70, 'each client got the replay and the live events');
    assert.equal(formatted, 70, `70 events formatted ${formatted} times for 8 clients`);
  });
});
