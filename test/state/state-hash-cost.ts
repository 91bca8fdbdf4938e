// state-hash-cost.ts — measurement (printed, not asserted; run with `npx tsx test/state/state-hash-cost.ts`):
// the cost of stateHash() after one apply, at 1,000 and 30,000 devices, before issue 15's incremental hash
// (sha256 of the whole canonical snapshot, which the old stateHash() was) and after (the incremental
// hash), for a telemetry reading and for a putDevice; and the cost of building the hash from nothing
// (what the first stateHash() after a restore costs).
import { sha256, toHex } from '../../src/commands/index.js';
import { StateMachine, policyEngines } from '../../src/state/index.js';
import { T0_MS, TestCluster, toEntries } from './fixtures.js';

const ROUNDS = 15;

interface Setup { cluster: TestCluster; machine: StateMachine; index: number }

function setUp(devices: number): Setup {
  const cluster = new TestCluster();
  const machine = new StateMachine(cluster.genesis, policyEngines);
  const first = cluster.setup(0); // signed before the devices: sequence numbers increase in log order
  const puts = Array.from({ length: devices }, (_, i) => cluster.putDevice(`plug-${i}`, 'smart-plug', `n${(i % 3) + 1}`, `room-${Math.floor(i / 10)}`));
  const entries = toEntries([...first, ...puts]);
  for (const entry of entries) {
    const result = machine.apply(entry);
    if (!result.ok) throw new Error(`setup failed at ${entry.index}: ${result.code} ${result.reason}`);
  }
  return { cluster, machine, index: entries.length };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** afterOneApply applies one command made by `make`, then times `hash`; the median over ROUNDS, in ms. */
function afterOneApply(setup: Setup, make: (n: number) => Uint8Array, hash: () => string): number {
  const times: number[] = [];
  for (let n = 0; n < ROUNDS; n++) {
    setup.index += 1;
    const result = setup.machine.apply({ index: setup.index, term: 1, timeMs: T0_MS + setup.index * 1000, payload: make(n) });
    if (!result.ok) throw new Error(`command rejected: ${result.code} ${result.reason}`);
    const start = performance.now();
    hash();
    times.push(performance.now() - start);
  }
  return Number(median(times).toFixed(3));
}

function measure(devices: number): Record<string, number> {
  const setup = setUp(devices);
  const { cluster, machine } = setup;
  const reading = (n: number) => cluster.as(cluster.nodes[0]!, { kind: 'telemetry', events: [{ kind: 'reading', deviceId: 'plug-0', sensor: 'power', value: 100 + n }] });
  const putDevice = (n: number) => cluster.putDevice(`extra-${devices}-${n}`, 'smart-plug', 'n2');
  machine.stateHash();
  const whole = () => toHex(sha256(machine.snapshot()));
  const start = performance.now();
  machine.recomputeStateHash();
  const fromScratch = performance.now() - start;
  return {
    devices,
    before_reading_ms: afterOneApply(setup, reading, whole),
    after_reading_ms: afterOneApply(setup, reading, () => machine.stateHash()),
    before_put_device_ms: afterOneApply(setup, putDevice, whole),
    after_put_device_ms: afterOneApply(setup, putDevice, () => machine.stateHash()),
    from_scratch_ms: Number(fromScratch.toFixed(1)),
    snapshot_bytes: machine.snapshot().length,
  };
}

const rows = [measure(1_000), measure(30_000)];
console.table(rows);
console.log(JSON.stringify(rows));
