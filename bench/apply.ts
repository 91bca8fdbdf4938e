// apply.ts — benchmark of the replicated state machine on one core, without Raft (npm run bench:apply).
//
// Measures:
//  - apply_per_s: signed commands decoded, verified (native Ed25519) and applied per second; each is a
//    one-event telemetry batch signed by the node serving the device (the dominant traffic);
//  - event_cost_us["10" | "10000"]: the cost of one telemetry event with 10 and with 10,000 devices,
//    measured as the time to apply 100-event batches divided by 100 (so the one signature check per batch
//    is amortized and what remains is decode + checks + policy evaluation). It must stay flat.
// Each figure is the median of ROUNDS rounds (the machine is shared with other work).
// For reference it also reports the bare native verify rate and the cost of stateHash() (a full canonical
// snapshot) with 10,000 devices. Prints the figures and writes bench/results/apply.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { signMessage, verifySignature, type TelemetryEvent } from '../src/commands/index.js';
import { packagePath } from '../src/wire/index.js';
import { StateMachine, policyEngines } from '../src/state/index.js';
import { T0_MS, TestCluster } from '../test/state/fixtures.js';

const EVENTS_PER_BATCH = 100;
const ROUNDS = 7;

interface Setup {
  cluster: TestCluster;
  machine: StateMachine;
  index: number;
  timeMs: number;
}

function setUp(devices: number): Setup {
  const cluster = new TestCluster();
  const machine = new StateMachine(cluster.genesis, policyEngines);
  const commands = cluster.setup(0);
  for (let i = 0; i < devices; i++) commands.push(cluster.putDevice(`plug-${i}`, 'smart-plug', `n${(i % 3) + 1}`, `room-${Math.floor(i / 10)}`));
  let index = 0;
  let timeMs = T0_MS;
  for (const payload of commands) {
    index += 1;
    timeMs += 1;
    const result = machine.apply({ index, term: 1, timeMs, payload });
    if (!result.ok) throw new Error(`setup failed at ${index}: ${result.code} ${result.reason}`);
  }
  return { cluster, machine, index, timeMs };
}

/** run applies pre-signed commands and returns the elapsed milliseconds; every one must be accepted. */
function run(setup: Setup, commands: readonly Uint8Array[]): number {
  const start = performance.now();
  for (const payload of commands) {
    setup.index += 1;
    setup.timeMs += 10;
    const result = setup.machine.apply({ index: setup.index, term: 1, timeMs: setup.timeMs, payload });
    if (!result.ok) throw new Error(`bench command rejected: ${result.code} ${result.reason}`);
  }
  return performance.now() - start;
}

/** reading is a power reading for device i; values stay below the overload rule's threshold. */
function reading(i: number, n: number): TelemetryEvent {
  return { kind: 'reading', deviceId: `plug-${i}`, sensor: 'power', value: 100 + ((n * 7) % 900) };
}

function applyRate(): number {
  const setup = setUp(10);
  const node = setup.cluster.nodes[0]!; // serves plug-0, plug-3, plug-6, plug-9
  const served = [0, 3, 6, 9];
  const make = (count: number) => Array.from({ length: count }, (_, n) =>
    setup.cluster.as(node, { kind: 'telemetry', events: [reading(served[n % served.length]!, n)] }));
  run(setup, make(500)); // warm-up
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const commands = make(700);
    rates.push(commands.length / (run(setup, commands) / 1000));
  }
  return Math.round(median(rates));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function eventCostUs(devices: number): number {
  const setup = setUp(devices);
  const node = setup.cluster.nodes[0]!;
  const servedCount = Math.ceil(devices / 3);
  let n = 0;
  const batch = () => Array.from({ length: EVENTS_PER_BATCH }, () => {
    n += 1;
    // Devices served by n1 are plug-0, plug-3, ...; spread the events over all of them.
    return reading(((n * 7919) % servedCount) * 3, n);
  });
  const make = (count: number) => Array.from({ length: count }, () => setup.cluster.as(node, { kind: 'telemetry', events: batch() }));
  run(setup, make(50)); // warm-up
  // The machine is shared: take the median of several rounds so one noisy round does not decide.
  const roundsUs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const commands = make(60);
    const elapsedMs = run(setup, commands);
    roundsUs.push((elapsedMs * 1000) / (commands.length * EVENTS_PER_BATCH));
  }
  return Number(median(roundsUs).toFixed(2));
}

/** verifyRate is the bare native Ed25519 verification rate on this machine, for reference. */
function verifyRate(): number {
  const pair = new TestCluster().nodes[0]!;
  const message = new Uint8Array(120).fill(1);
  const signature = signMessage(pair, message);
  for (let i = 0; i < 500; i++) verifySignature(pair.publicKey, message, signature);
  const count = 5000;
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    if (!verifySignature(pair.publicKey, message, signature)) throw new Error('verify failed');
  }
  return Math.round(count / ((performance.now() - start) / 1000));
}

/** stateHashMs is the time of one stateHash() (a full canonical snapshot) with this many devices. */
function stateHashMs(devices: number): { ms: number; snapshotBytes: number } {
  const setup = setUp(devices);
  setup.machine.stateHash();
  const start = performance.now();
  const rounds = 5;
  for (let i = 0; i < rounds; i++) setup.machine.stateHash();
  return { ms: Number(((performance.now() - start) / rounds).toFixed(1)), snapshotBytes: setup.machine.snapshot().length };
}

const verifyPerS = verifyRate();
const applyPerS = applyRate();
const cost10 = eventCostUs(10);
const cost10000 = eventCostUs(10_000);
const hash10000 = stateHashMs(10_000);
const results = {
  apply_per_s: applyPerS,
  event_cost_us: { '10': cost10, '10000': cost10000 },
  native_verify_per_s: verifyPerS,
  state_hash_ms_10000_devices: hash10000.ms,
  snapshot_bytes_10000_devices: hash10000.snapshotBytes,
  method: 'one core, no Raft; apply_per_s: one-event telemetry commands, each decoded, verified (native Ed25519) and applied; event_cost_us: 100-event batches, time per event',
  node: process.version,
};
console.log(`native Ed25519 verify: ${verifyPerS}/s`);
console.log(`apply: ${applyPerS} signed commands/s (verified + applied, one core)`);
console.log(`telemetry event cost: ${cost10} µs with 10 devices, ${cost10000} µs with 10,000 devices`);
console.log(`stateHash with 10,000 devices: ${hash10000.ms} ms (snapshot ${hash10000.snapshotBytes} bytes)`);
mkdirSync(packagePath('bench', 'results'), { recursive: true });
writeFileSync(packagePath('bench', 'results', 'apply.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${packagePath('bench', 'results', 'apply.json')}`);
