// docker-timeout.test.ts — an engine that accepts a connection and never answers cannot hold a reconcile pass.
//
// Goal: every request/response call of DockerUmboxRuntime is bounded, so a dockerd that is restarting (its
// socket accepts, nothing answers) fails the pass, which is retried, instead of holding it — and the node's
// enforcement with it — until the process restarts (chaos seed 93002, 2026-12-07: 67 s without μmboxes).
// Method: a Unix socket in a temp dir that accepts every connection and never writes; list() and an image
// inspection must reject after the call timeout, well before a guard of 5 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerUmboxRuntime } from '../../src/dataplane/docker-runtime.js';

const CALL_TIMEOUT_MS = 300;
/** GUARD_MS: far past the call timeout; a call still pending then is held by the silent engine. */
const GUARD_MS = 5_000;

async function settlesWithin<T>(call: Promise<T>, ms: number): Promise<'rejected' | 'resolved' | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<'pending'>((resolve) => { timer = setTimeout(() => resolve('pending'), ms); });
  try {
    return await Promise.race([call.then(() => 'resolved' as const, () => 'rejected' as const), guard]);
  } finally {
    clearTimeout(timer);
  }
}

test('a silent engine fails each call after the call timeout instead of holding it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'qg-silent-docker-'));
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    sockets.add(socket);
    accepted += 1;
    socket.on('error', () => undefined);
  });
  const socketPath = join(dir, 'docker.sock');
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  try {
    const runtime = new DockerUmboxRuntime({ socketPath, umboxDir: join(dir, 'umbox'), callTimeoutMs: CALL_TIMEOUT_MS });
    const started = Date.now();
    assert.equal(await settlesWithin(runtime.list('n1.aaaaaaaaaaaa'), GUARD_MS), 'rejected', 'list() gives up on the silent engine');
    const listedMs = Date.now() - started;
    assert.ok(listedMs >= CALL_TIMEOUT_MS * 0.8, `not before the timeout (${listedMs} ms)`);
    assert.equal(await settlesWithin(runtime.docker.getImage('qg-umbox/monitor:0').inspect(), GUARD_MS), 'rejected', 'an image inspection gives up too');
    assert.ok(accepted >= 2, `both calls reached the engine (${accepted} connections)`);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
});
