// state-hash.test.ts — goal: the incremental state hash (src/state/state-hash.ts, issue 15) is the hash a
// from-scratch recomputation gives after any sequence of real commands, however often it is asked in
// between; it differs when any entry of the state differs; two machines fed the same entries agree; a
// restore gives the same hash and continues to agree. Method: fast-check generates logs of signed
// commands (telemetry readings and alerts, manual state changes, devices added and removed, policies,
// images, domains created and removed, replays, expired commands) with entry times that may step back,
// applies them, and compares stateHash() with recomputeStateHash() at generated points.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StateMachine, policyEngines, type LogEntryInput } from '../../src/state/index.js';
import type { StateData } from '../../src/state/state-data.js';
import { T0_MS, TestCluster, homePolicy, toEntries } from './fixtures.js';

type Op =
  | { op: 'alert'; device: number; node: number }
  | { op: 'power'; device: number; node: number; watts: number }
  | { op: 'reset'; device: number }
  | { op: 'addDevice'; device: number; node: number }
  | { op: 'removeDevice'; device: number }
  | { op: 'policy'; version: number }
  | { op: 'image'; n: number }
  | { op: 'domain'; create: boolean }
  | { op: 'replay'; back: number }
  | { op: 'expired'; device: number };

const device = fc.integer({ min: 0, max: 5 });
const node = fc.integer({ min: 0, max: 2 });
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('alert' as const), device, node }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('power' as const), device, node, watts: fc.integer({ min: 0, max: 4000 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reset' as const), device }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('addDevice' as const), device, node }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('removeDevice' as const), device }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('policy' as const), version: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('image' as const), n: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('domain' as const), create: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('replay' as const), back: fc.integer({ min: 1, max: 10 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('expired' as const), device }) },
);

/** command signs one generated operation (`earlier` are the commands before it, for replays). */
function command(cluster: TestCluster, op: Op, earlier: readonly Uint8Array[]): Uint8Array {
  const id = 'device' in op ? `plug-${op.device}` : 'plug-0';
  switch (op.op) {
    case 'alert':
      return cluster.as(cluster.nodes[op.node]!, { kind: 'telemetry', events: [{ kind: 'alert', deviceId: id, alertType: 'brute-force-login', source: 'mb' }] });
    case 'power':
      return cluster.as(cluster.nodes[op.node]!, { kind: 'telemetry', events: [{ kind: 'reading', deviceId: id, sensor: 'power', value: op.watts }] });
    case 'reset':
      return cluster.as(cluster.admin, { kind: 'setDeviceState', deviceId: id, state: 'normal', reason: 'reset' }, 'home');
    case 'addDevice':
      return cluster.putDevice(id, 'smart-plug', `n${op.node + 1}`);
    case 'removeDevice':
      return cluster.as(cluster.admin, { kind: 'removeDevice', id }, 'home');
    case 'policy':
      return cluster.as(cluster.admin, { kind: 'setPolicy', documentJson: JSON.stringify(homePolicy(op.version)) }, 'home');
    case 'image':
      return cluster.as(cluster.admin, { kind: 'putImage', name: `extra-${op.n}`, digest: `sha256:${String(op.n).repeat(64)}` }, 'home');
    case 'domain':
      return cluster.root(op.create ? { kind: 'createDomain', description: 'the shed' } : { kind: 'removeDomain' }, 'shed');
    case 'replay':
      return earlier[Math.max(0, earlier.length - op.back)]!;
    case 'expired':
      return cluster.as(cluster.admin, { kind: 'removeDevice', id }, 'home', { notAfterMs: T0_MS });
  }
}

/** buildLog turns generated operations into log entries after a fixed set-up (3 plugs on n1..n3). */
function buildLog(ops: readonly Op[], timeSteps: readonly number[]): { cluster: TestCluster; entries: LogEntryInput[] } {
  const cluster = new TestCluster();
  const commands = cluster.setup(3);
  for (const op of ops) commands.push(command(cluster, op, commands));
  let timeMs = T0_MS;
  const entries = commands.map((payload, i) => {
    timeMs = Math.max(0, timeMs + (timeSteps[i % timeSteps.length] ?? 1000));
    return { index: i + 1, term: 1 + Math.floor(i / 10), timeMs, payload };
  });
  return { cluster, entries };
}

/** dataOf reaches a machine's state data (to change one entry behind apply's back). */
const dataOf = (machine: StateMachine): StateData => (machine as unknown as { data: StateData }).data;

describe('the incremental state hash', () => {
  test('equals a from-scratch recomputation after any command sequence, asked at any points', () => {
    fc.assert(fc.property(
      fc.array(fc.tuple(opArbitrary, fc.boolean()), { minLength: 1, maxLength: 40 }),
      fc.array(fc.integer({ min: -5000, max: 120_000 }), { minLength: 1, maxLength: 8 }),
      (steps, timeSteps) => {
        const { cluster, entries } = buildLog(steps.map(([op]) => op), timeSteps);
        const machine = new StateMachine(cluster.genesis, policyEngines);
        const lazy = new StateMachine(cluster.genesis, policyEngines);
        const setupCount = entries.length - steps.length;
        entries.forEach((entry, i) => {
          machine.apply(entry);
          lazy.apply(entry);
          const ask = i < setupCount || steps[i - setupCount]![1];
          if (ask) assert.equal(machine.stateHash(), machine.recomputeStateHash(), `after entry ${entry.index}`);
        });
        assert.equal(machine.stateHash(), machine.recomputeStateHash(), 'at the end');
        assert.equal(lazy.stateHash(), machine.stateHash(), 'a machine asked only at the end agrees');
      },
    ), { numRuns: 60 });
  });

  test('the generated logs reach the incremental sections (the property above is not vacuous)', () => {
    const ops: Op[] = [{ op: 'power', device: 0, node: 0, watts: 5000 }, { op: 'domain', create: true }, { op: 'replay', back: 1 }];
    const { cluster, entries } = buildLog(ops, [1000]);
    const machine = new StateMachine(cluster.genesis, policyEngines);
    const results = entries.map((e) => machine.apply(e));
    assert.ok(results.slice(0, -1).every((r) => r.ok), 'set-up, reading and new domain are applied');
    assert.equal(results.at(-1)?.ok, false);
    assert.equal(machine.deviceReadings('plug-0')[0]?.latest?.value, 5000);
    assert.equal(machine.domains().length, 2);
  });

  test('the read accessors touch nothing, so a hash asked after reads rehashes no entry (a device read per reading would)', () => {
    const cluster = new TestCluster();
    const machine = new StateMachine(cluster.genesis, policyEngines);
    const reading = cluster.as(cluster.nodes[0]!, { kind: 'telemetry', events: [{ kind: 'reading', deviceId: 'plug-0', sensor: 'power', value: 7 }] });
    const entries = toEntries([...cluster.setup(3), reading]);
    for (const entry of entries) machine.apply(entry);
    machine.stateHash();
    const data = dataOf(machine);
    const signer = [...data.lastSeq.keys()][0]!;
    const bodyHash = [...data.remembered.keys()][0]!;
    for (const id of ['plug-0', 'plug-1', 'nope']) {
      machine.device(id);
      machine.deviceHome(id);
      machine.devicePlan(id);
      machine.deviceReadings(id);
    }
    machine.lastSeq(signer);
    machine.resultFor(bodyHash);
    machine.resultForEnvelope(reading);
    const touched = { devices: [...data.devices.takeTouched()], readings: [...data.readings.takeTouched()], lastSeq: [...data.lastSeq.takeTouched()], remembered: [...data.remembered.takeTouched()] };
    assert.deepEqual(touched, { devices: [], readings: [], lastSeq: [], remembered: [] });
    assert.equal(machine.stateHash(), machine.recomputeStateHash());
  });

  test('two machines fed the same entries agree; one entry more or different and they differ', () => {
    const cluster = new TestCluster();
    const entries = toEntries(cluster.setup(3));
    const [a, b, c] = [0, 1, 2].map(() => new StateMachine(cluster.genesis, policyEngines)) as [StateMachine, StateMachine, StateMachine];
    for (const e of entries) [a, b, c].forEach((m) => m.apply(e));
    assert.equal(a.stateHash(), b.stateHash());
    const reading = (watts: number) => cluster.as(cluster.nodes[0]!, { kind: 'telemetry', events: [{ kind: 'reading', deviceId: 'plug-0', sensor: 'power', value: watts }] });
    const next = entries.length + 1;
    a.apply({ index: next, term: 1, timeMs: T0_MS + 60_000, payload: reading(100) });
    b.apply({ index: next, term: 1, timeMs: T0_MS + 60_000, payload: reading(101) });
    assert.notEqual(a.stateHash(), b.stateHash(), 'a different reading');
    assert.notEqual(a.stateHash(), c.stateHash(), 'one entry more');
  });

  test('changing any one entry of any section changes the hash, and the incremental hash follows', () => {
    const cluster = new TestCluster();
    const machine = new StateMachine(cluster.genesis, policyEngines);
    const entries = toEntries([...cluster.setup(3), cluster.as(cluster.nodes[0]!, { kind: 'telemetry', events: [{ kind: 'reading', deviceId: 'plug-0', sensor: 'power', value: 7 }] })]);
    for (const e of entries) machine.apply(e);
    const data = dataOf(machine);
    const changes: [string, () => void][] = [
      ['a device', () => { data.devices.get('plug-1')!.group = 'hall'; }],
      ['a signer sequence', () => { data.lastSeq.set('somebody', 1); }],
      ['a remembered result', () => { const [hash, result] = [...data.remembered.entries()][0]!; data.remembered.set(hash, { ...result, ok: false }); }],
      ['a reading', () => { data.readings.get('plug-0')!.get('power')![0]!.value = 8; }],
      ['a domain\'s devices', () => { data.domains.get('home')!.devices.delete('plug-2'); }],
      ['an engine device', () => { data.engine.setState('plug-1', 'suspicious', T0_MS + 99_000, 'test'); }],
      ['the rest (a rejection count)', () => { data.rejectionCounts.set('expired', 1); }],
    ];
    machine.stateHash();
    for (const [what, change] of changes) {
      const before = machine.recomputeStateHash();
      change();
      assert.notEqual(machine.recomputeStateHash(), before, `changing ${what} changes the hash`);
      // The machine keeps its hash per applied index: a new count makes it hash again, incrementally.
      data.appliedCount += 1;
      assert.equal(machine.stateHash(), machine.recomputeStateHash(), `the incremental hash follows a change of ${what}`);
    }
  });

  test('a restore gives the same hash, and the restored machine continues to agree', () => {
    const cluster = new TestCluster();
    const source = new StateMachine(cluster.genesis, policyEngines);
    const entries = toEntries(cluster.setup(3));
    for (const e of entries) source.apply(e);
    const running = new StateMachine(cluster.genesis, policyEngines);
    const before = running.stateHash();
    running.restore(source.snapshot());
    assert.notEqual(running.stateHash(), before);
    const restored = StateMachine.restore(source.snapshot(), policyEngines);
    for (const m of [running, restored]) assert.equal(m.stateHash(), source.stateHash());
    const more = { index: entries.length + 1, term: 1, timeMs: T0_MS + 60_000, payload: cluster.putDevice('plug-9', 'smart-plug', 'n2') };
    for (const m of [source, running, restored]) assert.equal(m.apply(more).ok, true);
    for (const m of [running, restored]) {
      assert.equal(m.stateHash(), source.stateHash());
      assert.equal(m.stateHash(), m.recomputeStateHash());
    }
  });
});
