// apply.ts — benchmark of the replicated state machine on one core, without Raft (npm run bench:apply).
//
// Measures:
//  - apply_per_s: signed commands decoded, verified (native Ed25519) and applied per second; each is a
//    one-event telemetry batch signed by the node serving the device (the dominant traffic);
//  - event_cost_us["10" | "10000"]: the cost of one telemetry event with 10 and with 10,000 devices,
//    measured as the time to apply 100-event batches divided by 100 (so the one signature check per batch
//    is amortized and what remains is decode + checks + policy evaluation). It must stay flat.
// Prints the figures and writes bench/results/apply.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { packagePath, type TelemetryEvent } from '../src/commands/index.js';
import { StateMachine, policyEngines } from '../src/state/index.js';
import { T0_MS, TestCluster } from '../test/state/fixtures.js';

const EVENTS_PER_BATCH = 100;

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
  const commands = make(5000);
  const elapsedMs = run(setup, commands);
  return Math.round(commands.length / (elapsedMs / 1000));
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
  const commands = make(300);
  const elapsedMs = run(setup, commands);
  return Number(((elapsedMs * 1000) / (commands.length * EVENTS_PER_BATCH)).toFixed(2));
}

const applyPerS = applyRate();
const cost10 = eventCostUs(10);
const cost10000 = eventCostUs(10_000);
const results = {
  apply_per_s: applyPerS,
  event_cost_us: { '10': cost10, '10000': cost10000 },
  method: 'one core, no Raft; apply_per_s: one-event telemetry commands, each decoded, verified (native Ed25519) and applied; event_cost_us: 100-event batches, time per event',
  node: process.version,
};
console.log(`apply: ${applyPerS} signed commands/s (verified + applied, one core)`);
console.log(`telemetry event cost: ${cost10} µs with 10 devices, ${cost10000} µs with 10,000 devices`);
mkdirSync(packagePath('bench', 'results'), { recursive: true });
writeFileSync(packagePath('bench', 'results', 'apply.json'), `${JSON.stringify(results, null, 2)}\n`);
console.log(`wrote ${packagePath('bench', 'results', 'apply.json')}`);
