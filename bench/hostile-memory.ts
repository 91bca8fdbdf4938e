// hostile-memory.ts — where the memory of a Raft-port flood goes (issue 15, `npm run bench:hostile`'s
// raft-idle row). Runs one node's Transport alone in a child process (bench/hostile-memory-node.ts)
// and measures it from outside while the adversary of chaos/hostile.ts connects to it:
//
//   --mode per-connection  raises the transport's connection limits out of the way, opens 0, 100, 200,
//                          500 connections (idle, or each sending half a ClientHello with --hello) and
//                          samples after a full GC at each step: what one held connection costs.
//   --mode flood           the default limits and chaos/hostile.ts's raft-idle flood (200 lanes over 32
//                          source addresses) for --seconds; samples every second, then after the flood
//                          ends: 5 s later, after a full GC, and after glibc's malloc_trim(0) (called
//                          in the child through gdb): growth at the peak and what stays.
//
// Each sample splits RSS into V8's heap (used/total), external memory and ArrayBuffers
// (process.memoryUsage) and the process's anonymous memory (/proc/<pid>/smaps_rollup); run it again
// with --arena-max 2 to give the child MALLOC_ARENA_MAX=2. Prints one JSON report.
//
// Usage: npx tsx bench/hostile-memory.ts --mode per-connection|flood [--hello] [--seconds S] [--arena-max N]
//        [--handshake-timeout-ms MS] [--max-per-source N]
import { fork, execFileSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import net from 'node:net';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { ADVERSARY_PREFIX, Floods } from '../chaos/hostile.js';
import { sleepMs } from '../src/dataplane/exec.js';
import type { MemorySample, ProbeSetup } from './hostile-memory-node.js';

const HOST = '127.0.78.1';
const MB = 1024 * 1024;

interface Options {
  mode: 'per-connection' | 'flood';
  hello: boolean;
  seconds: number;
  arenaMax?: string;
  handshakeTimeoutMs?: string;
  maxPerSource?: string;
}

class Probe {
  private readonly waiting: Array<(message: Record<string, unknown>) => void> = [];
  private constructor(readonly child: ChildProcess, readonly port: number) {
    child.on('message', (message) => this.waiting.shift()?.(message as Record<string, unknown>));
  }

  static async start(setup: ProbeSetup, env: Record<string, string>): Promise<Probe> {
    const child = fork(fileURLToPath(new URL('./hostile-memory-node.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx', '--expose-gc'], env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (message) => resolve((message as { port: number }).port));
      child.once('exit', (code) => reject(new Error(`probe exited with ${code}`)));
      child.send(setup);
    });
    return new Probe(child, port);
  }

  private ask(message: string): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.child.send(message);
    });
  }

  async sample(gc = false): Promise<MemorySample> {
    if (gc) {
      await this.ask('gc');
      await sleepMs(200);
    }
    return (await this.ask('sample')).sample as MemorySample;
  }

  /** trim calls glibc's malloc_trim(0) in the child through gdb; false when gdb cannot attach. */
  trim(): boolean {
    try {
      execFileSync('gdb', ['-p', String(this.child.pid), '-batch', '-ex', 'call (int) malloc_trim(0)'], { stdio: 'ignore', timeout: 60_000 });
      return true;
    } catch {
      return false;
    }
  }

  stop(): void {
    this.child.kill('SIGKILL');
  }
}

function inMb(sample: MemorySample): Record<string, number> {
  const mb = (bytes: number): number => Number((bytes / MB).toFixed(1));
  return {
    rss: mb(sample.rss), heapUsed: mb(sample.heapUsed), heapTotal: mb(sample.heapTotal), external: mb(sample.external),
    arrayBuffers: mb(sample.arrayBuffers), anonymous: mb(sample.anonymous),
    /** native: what is neither V8's heap nor its external memory: OpenSSL, libuv, malloc's free lists. */
    nativeOther: mb(sample.rss - sample.heapTotal - sample.external), accepted: sample.accepted,
  };
}

function openIdle(port: number, index: number, hello: boolean, sockets: net.Socket[]): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port, localAddress: `${ADVERSARY_PREFIX}${1 + (index % 32)}` });
    sockets.push(socket);
    socket.on('error', () => resolve());
    socket.on('connect', () => {
      if (hello) socket.write(Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), Buffer.alloc(300, 7)]));
      resolve();
    });
  });
}

async function perConnection(options: Options, env: Record<string, string>): Promise<unknown> {
  const probe = await Probe.start({ host: HOST, init: { maxInboundConnections: 5_000, maxUnauthenticatedPerSource: 5_000, handshakeTimeoutMs: 600_000 } }, env);
  const sockets: net.Socket[] = [];
  const steps: Array<{ connections: number } & Record<string, number>> = [];
  try {
    for (const target of [0, 100, 200, 500]) {
      while (sockets.length < target) await openIdle(probe.port, sockets.length, options.hello, sockets);
      await sleepMs(1_500);
      steps.push({ connections: target, ...inMb(await probe.sample(true)) });
    }
    const first = steps[0]!;
    const last = steps[steps.length - 1]!;
    const perConnectionKb = (field: string): number => Number((((last[field]! - first[field]!) * 1024) / (last.connections - first.connections)).toFixed(1));
    return {
      steps,
      per_connection_kb: { rss: perConnectionKb('rss'), heapUsed: perConnectionKb('heapUsed'), external: perConnectionKb('external'), nativeOther: perConnectionKb('nativeOther') },
    };
  } finally {
    for (const socket of sockets) socket.destroy();
    probe.stop();
  }
}

async function flood(options: Options, env: Record<string, string>): Promise<unknown> {
  const init = {
    ...(options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: Number(options.handshakeTimeoutMs) }),
    ...(options.maxPerSource === undefined ? {} : { maxUnauthenticatedPerSource: Number(options.maxPerSource) }),
  };
  const probe = await Probe.start({ host: HOST, init }, env);
  try {
    await sleepMs(1_000);
    const before = await probe.sample(true);
    const floods = new Floods(() => [{ node: 1, apiHost: HOST, apiPort: 1, raftHost: HOST, raftPort: probe.port }], ['raft-idle']);
    const during: MemorySample[] = [];
    floods.start();
    for (let s = 0; s < options.seconds; s++) {
      await sleepMs(1_000);
      during.push(await probe.sample());
    }
    await floods.stop();
    const peak = during.reduce((a, b) => (b.rss > a.rss ? b : a));
    await sleepMs(5_000);
    const after5s = await probe.sample();
    const afterGc = await probe.sample(true);
    const trimmed = probe.trim();
    const afterTrim = await probe.sample();
    const growth = (sample: MemorySample): number => Number(((sample.rss - before.rss) / MB).toFixed(1));
    return {
      before: inMb(before), peak: inMb(peak), after_5s: inMb(after5s), after_gc: inMb(afterGc), ...(trimmed ? { after_malloc_trim: inMb(afterTrim) } : { malloc_trim: 'gdb could not attach' }),
      rss_growth_mb: { peak: growth(peak), after_5s: growth(after5s), after_gc: growth(afterGc), ...(trimmed ? { after_malloc_trim: growth(afterTrim) } : {}) },
      accepted_during_flood: peak.accepted - before.accepted,
      rss_mb_per_second: during.map((s) => Number((s.rss / MB).toFixed(1))),
      flood: floods.counts.get('raft-idle'),
    };
  } finally {
    probe.stop();
  }
}

async function main(): Promise<void> {
  const options = new Command('hostile-memory')
    .requiredOption('--mode <mode>', 'per-connection or flood')
    .option('--hello', 'each held connection sends half a ClientHello (per-connection mode)', false)
    .option('--seconds <S>', 'flood seconds', (text) => Number(text), 12)
    .option('--arena-max <N>', 'MALLOC_ARENA_MAX for the node')
    .option('--handshake-timeout-ms <MS>', 'the node\'s handshakeTimeoutMs (flood mode)')
    .option('--max-per-source <N>', 'the node\'s maxUnauthenticatedPerSource (flood mode)')
    .parse(process.argv).opts<Options>();
  const env: Record<string, string> = options.arenaMax === undefined ? {} : { MALLOC_ARENA_MAX: options.arenaMax };
  const load = loadavg().map((l) => Number(l.toFixed(2)));
  const result = options.mode === 'per-connection' ? await perConnection(options, env) : await flood(options, env);
  console.log(JSON.stringify({ date: new Date().toISOString(), mode: options.mode, hello: options.hello, env, load_average_at_start: load, load_average_at_end: loadavg().map((l) => Number(l.toFixed(2))), result }, null, 2));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
