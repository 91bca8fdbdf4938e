// transport.ts — benchmark of the node-to-node transport alone (npm run bench:transport): two real
// Transports in one process on 127.0.0.1, no Raft, no disk, so the figures isolate what the
// connection (TLS 1.3 since issue 14; before it, the hand-made handshake and ChaCha20-Poly1305
// framing) costs.
//
// Measures:
//  - throughput: MsgApp messages carrying one entry of 256 B, then 64 KiB, sent in batches of 64
//    per event-loop turn (as a Raft leader's Ready does) until --messages have been delivered:
//    messages/s, MB/s, and the process's CPU ms per 1,000 messages (both ends are in this process);
//  - round trip: one heartbeat there and one back, --round-trips times: p50/p99 in ms;
//  - connect: a fresh connection set up and authenticated (peer list changed, first message
//    delivered), --connects times: p50/p99 in ms.
// Prints the figures and writes bench/results/transport.json (or --out).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Command } from 'commander';
import { pino } from 'pino';
import type { Message } from '../src/raft/index.js';
import { Transport, generateNodeIdentity, hex } from '../src/transport/index.js';
import type { NodeIdentity, PeerAddress } from '../src/transport/index.js';
import { percentile } from './support.js';

const CLUSTER_ID = new Uint8Array(32).fill(7);
const BATCH_MESSAGES = 64;

/** Endpoint is one Transport and what it has received. */
interface Endpoint {
  readonly identity: NodeIdentity;
  readonly transport: Transport;
  readonly address: PeerAddress;
  onMessage: (message: Message) => void;
}

async function endpoint(nodeId: number, members: Map<number, string>): Promise<Endpoint> {
  const identity = generateNodeIdentity(nodeId);
  members.set(nodeId, hex(identity.publicKey));
  const self: { onMessage: (message: Message) => void } = { onMessage: () => undefined };
  const transport = new Transport({
    logger: pino({ level: 'silent' }), identity, clusterId: CLUSTER_ID,
    isMember: (id, key) => members.get(id) === hex(key),
    onMessage: (message) => self.onMessage(message), onUnreachable: () => undefined,
  }, { listenHost: '127.0.0.1', listenPort: 0 });
  const { port } = await transport.start();
  return Object.assign(self, { identity, transport, address: { host: '127.0.0.1', port, publicKey: identity.publicKey } });
}

function append(from: number, to: number, index: number, data: Uint8Array): Message {
  return {
    type: 3, from, to, term: 1, logTerm: 1, index, commit: index, reject: false, rejectHint: 0, context: new Uint8Array(0),
    entries: [{ term: 1, index: index + 1, type: 0, data }],
  };
}

/** throughput sends `count` appends of `bytes` from a to b in batches and waits for all of them. */
async function throughput(a: Endpoint, b: Endpoint, count: number, bytes: number): Promise<{ perSecond: number; megabytesPerSecond: number; cpuMsPer1000: number }> {
  const data = new Uint8Array(bytes).fill(0xab);
  // Stay well inside the per-peer queue bounds (4,096 messages, 64 MiB): nothing may be dropped.
  const maxOutstanding = Math.max(BATCH_MESSAGES, Math.min(2048, Math.floor((16 * 1024 * 1024) / bytes)));
  let received = 0;
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => { done = resolve; });
  b.onMessage = () => {
    received++;
    if (received === count) done();
  };
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  for (let sent = 0; sent < count;) {
    const batch: Message[] = [];
    for (let i = 0; i < BATCH_MESSAGES && sent < count; i++, sent++) batch.push(append(1, 2, sent, data));
    a.transport.send(batch);
    // Yield as a Raft loop does between Readies; wait while the peer is far behind (bounded queue).
    await new Promise((resolve) => setImmediate(resolve));
    while (sent - received > maxOutstanding) await new Promise((resolve) => setTimeout(resolve, 1));
    if (a.transport.stats().droppedMessages > 0) throw new Error('the transport dropped messages: the benchmark outran its queue bound');
  }
  await all;
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  return { perSecond: count / seconds, megabytesPerSecond: (count * bytes) / seconds / 1e6, cpuMsPer1000: ((cpu.user + cpu.system) / 1000) / (count / 1000) };
}

/** roundTrips measures heartbeat round trips a -> b -> a. */
async function roundTrips(a: Endpoint, b: Endpoint, count: number): Promise<number[]> {
  const heartbeat = (from: number, to: number): Message => ({ ...append(from, to, 0, new Uint8Array(0)), type: 8, entries: [] });
  b.onMessage = () => b.transport.send([heartbeat(2, 1)]);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await new Promise<void>((resolve) => {
      a.onMessage = () => resolve();
      a.transport.send([heartbeat(1, 2)]);
    });
    times.push(performance.now() - started);
  }
  return times;
}

/** connects measures setting up a fresh authenticated connection until its first message is delivered. */
async function connects(a: Endpoint, b: Endpoint, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    a.transport.setPeers(new Map()); // closes the link to b
    const started = performance.now();
    await new Promise<void>((resolve) => {
      b.onMessage = () => resolve();
      a.transport.setPeers(new Map([[2, b.address]]));
      a.transport.send([{ ...append(1, 2, 0, new Uint8Array(0)), type: 8, entries: [] }]);
    });
    times.push(performance.now() - started);
  }
  return times;
}

async function main(): Promise<void> {
  const options = new Command('bench:transport')
    .option('--messages <n>', 'messages per throughput figure', (v) => Number(v), 200_000)
    .option('--large-messages <n>', 'messages of 64 KiB', (v) => Number(v), 5_000)
    .option('--round-trips <n>', 'heartbeat round trips', (v) => Number(v), 2_000)
    .option('--connects <n>', 'fresh connections', (v) => Number(v), 200)
    .option('--out <file>', 'the JSON report', 'bench/results/transport.json')
    .parse(process.argv)
    .opts<{ messages: number; largeMessages: number; roundTrips: number; connects: number; out: string }>();
  const members = new Map<number, string>();
  const a = await endpoint(1, members);
  const b = await endpoint(2, members);
  a.transport.setPeers(new Map([[2, b.address]]));
  b.transport.setPeers(new Map([[1, a.address]]));
  try {
    await throughput(a, b, 1_000, 256); // warm-up: connections and JIT
    const small = await throughput(a, b, options.messages, 256);
    console.log(`256 B entries:  ${Math.round(small.perSecond)} messages/s  ${small.megabytesPerSecond.toFixed(1)} MB/s  CPU ${small.cpuMsPer1000.toFixed(1)} ms per 1,000`);
    const large = await throughput(a, b, options.largeMessages, 64 * 1024);
    console.log(`64 KiB entries: ${Math.round(large.perSecond)} messages/s  ${large.megabytesPerSecond.toFixed(1)} MB/s  CPU ${large.cpuMsPer1000.toFixed(1)} ms per 1,000`);
    const rtt = await roundTrips(a, b, options.roundTrips);
    console.log(`round trip: p50 ${percentile(rtt, 50).toFixed(3)} ms  p99 ${percentile(rtt, 99).toFixed(3)} ms`);
    const connect = await connects(a, b, options.connects);
    console.log(`connect: p50 ${percentile(connect, 50).toFixed(2)} ms  p99 ${percentile(connect, 99).toFixed(2)} ms`);
    const report = {
      date: new Date().toISOString(), small_256b: small, large_64kib: large,
      round_trip_ms: { p50: percentile(rtt, 50), p99: percentile(rtt, 99) },
      connect_ms: { p50: percentile(connect, 50), p99: percentile(connect, 99) },
    };
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`written to ${options.out}`);
  } finally {
    await a.transport.stop();
    await b.transport.stop();
  }
}

main().catch((error: unknown) => {
  console.error('bench:transport:', error);
  process.exit(1);
});
