// gateway-applier.test.ts — which applied entries make the data plane and the device half re-read the state.
// Goal: a rejected entry, or a telemetry batch that moved no device, wakes neither (at thousands of readings a
// second re-reading every device per batch was half of a node's time), while anything that may change plans or
// pending commands does. Method: a table over AppliedEvent shapes. Also: prepare (issue #18) verifies an
// entry's signatures ahead so that apply finds them in the memo, and changes no result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verificationCounts } from '../../src/commands/index.js';
import { GatewayApplier, changesPlans, type AppliedEvent } from '../../src/node/gateway-applier.js';
import { StateMachine, policyEngines, type ApplyResult } from '../../src/state/index.js';
import { TestCluster, toEntries } from '../state/fixtures.js';

const event = (result: ApplyResult): AppliedEvent => ({ index: 7, term: 2, timeMs: 1_000, result });
const ok = (kind: string, effects: unknown[]): ApplyResult => ({ ok: true, index: 7, kind, signer: 'n', bodyHash: 'h', effects } as unknown as ApplyResult);

test('changesPlans: only entries that may change devices, plans or pending commands wake the links', () => {
  const table: [string, ApplyResult, boolean][] = [
    ['a rejection', { ok: false, index: 7, code: 'stale_seq', reason: 'r', path: '', bodyHash: 'h' } as unknown as ApplyResult, false],
    ['readings that moved nothing', ok('telemetry', []), false],
    ['readings with a skipped value and a discovery', ok('telemetry', [{ kind: 'telemetrySkipped', event: 0, code: 'c', reason: 'r' }, { kind: 'discovery', nodeId: 'n1', domain: 'd', port: 'p', mac: 'm' }]), false],
    ['an alert that moved no device', ok('telemetry', [{ kind: 'alert', event: 0, deviceId: 'd', alertType: 'a' }]), false],
    ['readings that moved a device', ok('telemetry', [{ kind: 'deviceState', deviceId: 'd', from: 'normal', to: 'suspicious', rule: 'r', timeMs: 1 }]), true],
    ['readings that queued a device command', ok('telemetry', [{ kind: 'deviceCommand', id: 1, nodeId: 'n1', deviceId: 'd', command: 'c', args: {} }]), true],
    ['a device registered', ok('putDevice', []), true],
    ['a policy', ok('setPolicy', [{ kind: 'changed', what: 'policy', id: 'd' }]), true],
    ['commands reported done', ok('deviceCommandsDone', []), true],
  ];
  for (const [name, result, expected] of table) assert.equal(changesPlans(event(result)), expected, name);
});

test('prepare verifies an entry\'s signatures ahead: apply then answers them from the memo, with the same result', async () => {
  const cluster = new TestCluster();
  const entries = toEntries(cluster.setup(1));
  const ahead = new GatewayApplier(new StateMachine(cluster.genesis, policyEngines));
  const plain = new StateMachine(cluster.genesis, policyEngines);
  for (const entry of entries) {
    const before = verificationCounts();
    await ahead.prepare(entry.payload);
    const prepared = verificationCounts();
    const result = ahead.apply({ ...entry });
    const after = verificationCounts();
    assert.deepEqual(result, plain.apply({ ...entry }), `entry ${entry.index}: the same result as without preparing`);
    assert.ok(prepared.inBackground > before.inBackground, `entry ${entry.index}: verified ahead`);
    assert.equal(after.onThread, prepared.onThread, `entry ${entry.index}: no verification on the thread in apply`);
    assert.ok(after.memoHits > prepared.memoHits, `entry ${entry.index}: apply answered from the memo`);
  }
});
