// edge-server.ts — a child process for hostile-edge tests: the real API app (real StateMachine,
// stand-in runtime) listening on a loopback port, reporting its own event-loop delay over IPC so that
// the client's work (building and writing megabytes) is not counted against the server.
//
// Protocol (process.send / 'message'): the child sends {port} once listening; 'reset' clears the
// event-loop delay histogram and the record of closed connections; 'read' answers {loop: {maxDelayMs,
// cpuMs}} (the longest delay and the CPU time used since 'reset'); 'sockets' answers {sockets: [{bytesRead,
// openMs}]}, one per connection the server saw close since 'reset' (bytes it read from the client, and
// how long it was open); 'stop' closes the app and exits.
import type { Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { buildApp } from '../../src/api/app.js';
import { GatewayApplier } from '../../src/node/gateway-applier.js';
import { StateMachine, policyEngines } from '../../src/state/index.js';
import { T0_MS, TestCluster } from '../state/fixtures.js';
import { StandInRuntime } from './support.js';

async function main(): Promise<void> {
  const cluster = new TestCluster();
  const applier = new GatewayApplier(new StateMachine(cluster.genesis, policyEngines));
  const runtime = new StandInRuntime(applier, () => T0_MS);
  const app = await buildApp({ runtime, gateway: { applier, runtime }, nowMs: () => T0_MS });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address !== 'object') throw new Error('edge-server: no port');
  let closed: Array<{ bytesRead: number; openMs: number }> = [];
  app.server.on('connection', (socket: Socket) => {
    const openedMs = Date.now();
    socket.once('close', () => closed.push({ bytesRead: socket.bytesRead, openMs: Date.now() - openedMs }));
  });
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  let cpuAtReset = process.cpuUsage();
  process.on('message', (message: unknown) => {
    if (message === 'reset') {
      histogram.reset();
      closed = [];
      cpuAtReset = process.cpuUsage();
      process.send?.({ reset: true });
    } else if (message === 'read') {
      const cpu = process.cpuUsage(cpuAtReset);
      process.send?.({ loop: { maxDelayMs: histogram.max / 1e6, cpuMs: (cpu.user + cpu.system) / 1000 } });
    } else if (message === 'sockets') {
      process.send?.({ sockets: closed });
    } else if (message === 'stop') {
      histogram.disable();
      void app.close().then(() => process.exit(0));
    }
  });
  process.send?.({ port: address.port });
}

void main();
