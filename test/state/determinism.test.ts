// determinism.test.ts — goal: promises 1 and 6 of DESIGN.md. The same entries give the same state hash
// and audit chain on every node, and a node restored from a snapshot taken after any entry continues to
// exactly the same hashes. Method: fast-check generates logs mixing valid and invalid commands
// (telemetry from the right and the wrong node, manual state changes, devices added and removed,
// policies, images, expired and foreign-cluster commands) with entry times that may step back; three
// machines apply them: two straight through, one snapshotted and restored at a generated point.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { StateMachine, policyEngines, type LogEntryInput } from '../../src/state/index.js';
import { T0_MS, TestCluster, homePolicy } from './fixtures.js';

type Op =
  | { op: 'alert'; device: number; node: number; type: 'brute-force-login' | 'firmware-tamper' }
  | { op: 'power'; device: number; node: number; watts: number }
  | { op: 'relay'; device: number; on: boolean }
  | { op: 'reset'; device: number }
  | { op: 'addDevice'; device: number; node: number }
  | { op: 'removeDevice'; device: number }
  | { op: 'policy'; version: number }
  | { op: 'expired'; device: number }
  | { op: 'foreign' }
  | { op: 'image'; n: number };

const device = fc.integer({ min: 0, max: 5 });
const node = fc.integer({ min: 0, max: 2 });
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('alert' as const), device, node, type: fc.constantFrom('brute-force-login' as const, 'firmware-tamper' as const) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('power' as const), device, node, watts: fc.double({ min: 0, max: 4000, noNaN: true }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('relay' as const), device, on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reset' as const), device }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('addDevice' as const), device, node }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('removeDevice' as const), device }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('policy' as const), version: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('expired' as const), device }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('foreign' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('image' as const), n: fc.integer({ min: 0, max: 3 }) }) },
);

/** buildLog turns generated operations into signed log entries after a fixed set-up (3 plugs on n1..n3). */
function buildLog(ops: readonly Op[], timeSteps: readonly number[]): { cluster: TestCluster; entries: LogEntryInput[] } {
  const cluster = new TestCluster();
  const commands = cluster.setup(3);
  for (const op of ops) {
    const nodeKey = (n: number) => cluster.nodes[n]!;
    const id = `plug-${op.op === 'foreign' || op.op === 'policy' || op.op === 'image' ? 0 : op.device}`;
    switch (op.op) {
      case 'alert':
        commands.push(cluster.as(nodeKey(op.node), { kind: 'telemetry', events: [{ kind: 'alert', deviceId: id, alertType: op.type, source: 'mb' }] }));
        break;
      case 'power':
        commands.push(cluster.as(nodeKey(op.node), { kind: 'telemetry', events: [{ kind: 'reading', deviceId: id, sensor: 'power', value: op.watts }] }));
        break;
      case 'relay':
        commands.push(cluster.as(nodeKey(0), { kind: 'telemetry', events: [{ kind: 'reading', deviceId: id, sensor: 'relay-on', value: op.on }] }));
        break;
      case 'reset':
        commands.push(cluster.as(cluster.admin, { kind: 'setDeviceState', deviceId: id, state: 'normal', reason: 'reset' }, 'home'));
        break;
      case 'addDevice':
        commands.push(cluster.putDevice(id, 'smart-plug', `n${op.node + 1}`));
        break;
      case 'removeDevice':
        commands.push(cluster.as(cluster.admin, { kind: 'removeDevice', id }, 'home'));
        break;
      case 'policy':
        commands.push(cluster.as(cluster.admin, { kind: 'setPolicy', documentJson: JSON.stringify(homePolicy(op.version)) }, 'home'));
        break;
      case 'expired':
        commands.push(cluster.as(cluster.admin, { kind: 'removeDevice', id }, 'home', { notAfterMs: T0_MS }));
        break;
      case 'foreign':
        commands.push(cluster.as(cluster.admin, { kind: 'removeDevice', id }, 'home', { clusterId: new Uint8Array(32).fill(7) }));
        break;
      case 'image':
        commands.push(cluster.as(cluster.admin, { kind: 'putImage', name: `extra-${op.n}`, digest: `sha256:${String(op.n).repeat(64)}` }, 'home'));
        break;
    }
  }
  let timeMs = T0_MS;
  const entries = commands.map((payload, i) => {
    timeMs = Math.max(0, timeMs + (timeSteps[i % timeSteps.length] ?? 1000));
    return { index: i + 1, term: 1 + Math.floor(i / 10), timeMs, payload };
  });
  return { cluster, entries };
}

describe('apply is deterministic', () => {
  test('same entries → same hash and chain after every entry, with snapshot/restore at any point', () => {
    fc.assert(fc.property(
      fc.array(opArbitrary, { minLength: 1, maxLength: 40 }),
      fc.array(fc.integer({ min: -5000, max: 120_000 }), { minLength: 1, maxLength: 8 }),
      fc.nat(),
      (ops, timeSteps, cutSeed) => {
        const { cluster, entries } = buildLog(ops, timeSteps);
        const a = new StateMachine(cluster.genesis, policyEngines);
        const b = new StateMachine(cluster.genesis, policyEngines);
        let c = new StateMachine(cluster.genesis, policyEngines);
        const cut = cutSeed % (entries.length + 1);
        entries.forEach((entry, i) => {
          if (i === cut) {
            const hashBefore = c.stateHash();
            c = StateMachine.restore(c.snapshot(), policyEngines);
            assert.equal(c.stateHash(), hashBefore, 'restore gives the same hash');
          }
          const ra = a.apply(entry);
          const rb = b.apply(entry);
          const rc = c.apply(entry);
          assert.deepEqual(rb, ra);
          assert.deepEqual(rc, ra, `entry ${entry.index} applied differently after a restore at ${cut}`);
          assert.equal(b.stateHash(), a.stateHash());
          assert.equal(c.stateHash(), a.stateHash());
          assert.equal(c.auditChain(), a.auditChain());
        });
      },
    ), { numRuns: 40 });
  });

  test('a log with telemetry reaches a non-trivial state (the property above is not vacuous)', () => {
    const ops: Op[] = [
      { op: 'alert', device: 0, node: 0, type: 'firmware-tamper' },
      { op: 'power', device: 1, node: 1, watts: 5000 },
      { op: 'alert', device: 2, node: 0, type: 'firmware-tamper' },
    ];
    const { cluster, entries } = buildLog(ops, [1000]);
    const machine = new StateMachine(cluster.genesis, policyEngines);
    const results = entries.map((e) => machine.apply(e));
    assert.equal(machine.deviceState('plug-0')?.state, 'normal'); // firmware-tamper has no rule in this policy
    assert.equal(results.at(-1)?.ok, false); // plug-2 is served by n3, not n1
    assert.equal(machine.rejections().at(-1)?.code, 'device_not_served');
  });
});
