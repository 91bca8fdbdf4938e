// hostile-memory-node.ts — one node's Transport alone in its own process, for bench/hostile-memory.ts:
// it listens on the address and with the limits the parent sends over IPC, and answers every
// 'sample' with its memory as Node and the kernel see it (process.memoryUsage, /proc/self/smaps_rollup)
// and 'gc' with a full garbage collection (run with --expose-gc). Nothing else runs in it, so what the
// transport's inbound connections cost is all that changes.
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { Transport, generateNodeIdentity } from '../src/transport/index.js';
import type { TransportInit } from '../src/transport/index.js';

/** ProbeSetup is the first IPC message. */
export interface ProbeSetup {
  readonly host: string;
  readonly init: Partial<TransportInit>;
}

/** MemorySample is the process's memory at one moment, in bytes. */
export interface MemorySample {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /** anonymous: the process's anonymous memory (smaps_rollup "Anonymous"): heaps, malloc arenas, stacks. */
  readonly anonymous: number;
  readonly accepted: number;
}

function smapsKb(field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/smaps_rollup', 'utf8'));
  return match === null ? 0 : Number(match[1]) * 1024;
}

async function run(setup: ProbeSetup): Promise<void> {
  const transport = new Transport({
    logger: pino({ level: 'silent' }), identity: generateNodeIdentity(1), clusterId: new Uint8Array(32).fill(0x5a),
    isMember: () => false, onMessage: () => undefined, onUnreachable: () => undefined,
  }, { listenHost: setup.host, listenPort: 0, ...setup.init });
  const { port } = await transport.start();
  process.on('message', (message: unknown) => {
    if (message === 'gc') {
      (globalThis as { gc?: () => void }).gc?.();
      process.send!({ gc: true });
    } else if (message === 'sample') {
      const usage = process.memoryUsage();
      const sample: MemorySample = {
        rss: usage.rss, heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, external: usage.external, arrayBuffers: usage.arrayBuffers,
        anonymous: smapsKb('Anonymous'), accepted: transport.stats().connectionsAccepted,
      };
      process.send!({ sample });
    } else if (message === 'stop') {
      void transport.stop().then(() => process.exit(0));
    }
  });
  process.send!({ port });
}

process.once('message', (setup: unknown) => {
  void run(setup as ProbeSetup).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
});
