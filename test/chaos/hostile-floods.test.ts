// hostile-floods.test.ts — the adversary of chaos/hostile.ts does what it says, against the real API app
// and a stand-in Raft port, before a chaos run or bench:hostile relies on it.
//
// Goal: every flood runs and is answered as the node answers it today — the deep body refused with 400,
// the oversized one with 413, status polls answered 200, watch streams opened (200) and held, Raft-port
// sockets closed by the listener — from the adversary's own loopback addresses, and stop() ends every
// lane and closes every socket. Method: the real app (buildApp with the real StateMachine behind the
// stand-in runtime) listening on 127.0.0.1, a TCP listener that drops strangers after 200 ms standing in
// for the Raft port (the real transport's handling is test/transport/flood.test.ts), three seconds of
// every flood; then the same floods from the adversary's child process (chaos/adversary-process.ts, as the
// chaos harness and bench:hostile run it) in two windows whose counts add up.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { buildApp } from '../../src/api/app.js';
import type { ApiApp } from '../../src/api/app.js';
import { GatewayApplier } from '../../src/node/gateway-applier.js';
import { StateMachine, policyEngines } from '../../src/state/index.js';
import { sleepMs } from '../../src/dataplane/exec.js';
import { ADVERSARY_PREFIX, FLOOD_KINDS, Floods, type FloodCounts, type FloodKind } from '../../chaos/hostile.js';
import { AdversaryProcess } from '../../chaos/adversary-process.js';
import { addCounts } from '../../chaos/hostile-workload.js';
import { T0_MS, TestCluster } from '../state/fixtures.js';
import { StandInRuntime, readToken } from '../api/support.js';

const cluster = new TestCluster();
const applier = new GatewayApplier(new StateMachine(cluster.genesis, policyEngines));
const runtime = new StandInRuntime(applier, () => T0_MS);
let app: ApiApp;
let raftPort: net.Server;
const raftSources = new Set<string>();

before(async () => {
  app = await buildApp({ runtime, gateway: { applier, runtime }, nowMs: () => T0_MS });
  await app.listen({ host: '127.0.0.1', port: 0 });
  raftPort = net.createServer((socket) => {
    raftSources.add(socket.remoteAddress ?? '');
    socket.on('error', () => undefined);
    socket.resume();
    setTimeout(() => socket.destroy(), 200);
  });
  await new Promise<void>((resolve) => raftPort.listen(0, '127.0.0.1', resolve));
});
after(async () => {
  await app.close();
  await new Promise((resolve) => raftPort.close(resolve));
});

test('every flood runs from the adversary\'s addresses, is answered as the node answers it, and stops cleanly', async () => {
  const apiPort = (app.server.address() as AddressInfo).port;
  // The reads carry a read token: without one the watch and state reads are refused 401 and the
  // slow-watch flood would hold idle sockets instead of streams.
  const target = { node: 1, apiHost: '127.0.0.1', apiPort, raftHost: '127.0.0.1', raftPort: (raftPort.address() as AddressInfo).port, readToken: readToken(cluster, T0_MS) };
  const floods = new Floods(() => [target], FLOOD_KINDS);
  floods.start();
  await sleepMs(3_000);
  await floods.stop();
  const counts = Object.fromEntries(floods.counts);
  for (const kind of FLOOD_KINDS) assert.ok(counts[kind]!.attempts > 0, `${kind} ran: ${JSON.stringify(counts[kind])}`);
  assert.ok((counts['deep-json']!.answers['400'] ?? 0) > 0, `deep bodies answered 400: ${JSON.stringify(counts['deep-json'])}`);
  assert.ok((counts['oversized']!.answers['413'] ?? 0) > 0, `oversized bodies answered 413: ${JSON.stringify(counts['oversized'])}`);
  assert.ok((counts['status-poll']!.answers['200'] ?? 0) > 10, `status polls answered 200: ${JSON.stringify(counts['status-poll'])}`);
  for (const kind of ['raft-garbage', 'raft-half-handshake', 'raft-idle'] as const) assert.ok(counts[kind]!.closedByNode > 0, `${kind}: the listener closed its sockets`);
  assert.ok((counts['slow-watch']!.answers['200'] ?? 0) > 0, `watch streams opened (200): ${JSON.stringify(counts['slow-watch'])}`);
  for (const counted of Object.values(counts)) {
    assert.equal(counted.answers['500'], undefined);
    assert.equal(counted.answers['401'], undefined, `no read refused for want of a token: ${JSON.stringify(counted)}`);
  }
  assert.ok([...raftSources].every((source) => source.startsWith(ADVERSARY_PREFIX)), `every connection came from ${ADVERSARY_PREFIX}x: ${[...raftSources].join(', ')}`);
  assert.ok(raftSources.size > 8, 'the idle sockets are spread over many source addresses');
});

test('the adversary in a child process floods in windows, reports each window\'s counts, and its process ends on close', async () => {
  const apiPort = (app.server.address() as AddressInfo).port;
  const target = { node: 1, apiHost: '127.0.0.1', apiPort, raftHost: '127.0.0.1', raftPort: (raftPort.address() as AddressInfo).port, readToken: readToken(cluster, T0_MS) };
  const adversary = await AdversaryProcess.spawn();
  const pid = adversary.pid!;
  const totals = new Map<FloodKind, FloodCounts>();
  const windows: Array<ReadonlyMap<FloodKind, FloodCounts>> = [];
  try {
    for (let window = 0; window < 2; window++) {
      await adversary.start([target], FLOOD_KINDS);
      await sleepMs(1_500);
      const counts = await adversary.stop();
      windows.push(counts);
      addCounts(totals, counts);
    }
  } finally {
    await adversary.close();
  }
  for (const counts of windows) {
    for (const kind of FLOOD_KINDS) assert.ok((counts.get(kind)?.attempts ?? 0) > 0, `${kind} ran in every window: ${JSON.stringify(counts.get(kind))}`);
  }
  for (const kind of FLOOD_KINDS) {
    assert.equal(totals.get(kind)!.attempts, windows[0]!.get(kind)!.attempts + windows[1]!.get(kind)!.attempts, `${kind}: the totals add the windows`);
  }
  assert.ok((totals.get('deep-json')!.answers['400'] ?? 0) > 0, `deep bodies answered 400 from the child: ${JSON.stringify(totals.get('deep-json'))}`);
  assert.equal(totals.get('status-poll')!.answers['200'], (windows[0]!.get('status-poll')!.answers['200'] ?? 0) + (windows[1]!.get('status-poll')!.answers['200'] ?? 0));
  assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the adversary process has exited');
});
