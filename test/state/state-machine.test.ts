// state-machine.test.ts — goal: what each command does when it is valid, as users rely on it: root
// rotation rules, keys per role, domains, images pinned by digest, policies moving forward, devices
// served by a node, telemetry evaluated by the policy engine inside apply, device commands carried out
// once by the serving node, manual state changes, membership intents, the audit chain checked
// offline, results of retried submissions, and expiry against the leader-stamped (monotonic) time.
// Method: scenario tests on a 3-node test cluster with a 2-of-3 root, one assertion block per rule.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSignedCommand, keyIdHex, sha256, toHex } from '../../src/commands/index.js';
import { SnapshotError, StateMachine, policyEngines, verifyAuditChain, type ApplyResult, type LogEntryInput } from '../../src/state/index.js';
import { T0_MS, TestCluster, homePolicy, testKey, toEntries } from './fixtures.js';

class Harness {
  readonly cluster = new TestCluster();
  readonly machine = new StateMachine(this.cluster.genesis, policyEngines);
  readonly log: LogEntryInput[] = [];
  index = 0;
  timeMs = T0_MS;

  apply(payload: Uint8Array, advanceMs = 1000): ApplyResult {
    this.index += 1;
    this.timeMs += advanceMs;
    const entry = { index: this.index, term: 1, timeMs: this.timeMs, payload };
    this.log.push(entry);
    return this.machine.apply(entry);
  }

  ok(payload: Uint8Array, advanceMs = 1000): Extract<ApplyResult, { ok: true }> {
    const result = this.apply(payload, advanceMs);
    assert.ok(result.ok, `rejected: ${JSON.stringify(result)}`);
    return result;
  }

  fails(payload: Uint8Array, code: string): void {
    const result = this.apply(payload);
    assert.equal(result.ok, false, `accepted: ${JSON.stringify(result)}`);
    assert.equal(!result.ok && result.code, code, JSON.stringify(result));
  }

  static ready(devices = 2): Harness {
    const h = new Harness();
    for (const command of h.cluster.setup(devices)) h.ok(command);
    return h;
  }
}

describe('root rotation', () => {
  test('needs a threshold of the old AND of the new root set, and version exactly N+1', () => {
    const h = new Harness();
    const c = h.cluster;
    const next = [testKey('root-4'), testKey('root-5'), testKey('root-6')];
    const rotate = (version: number) => ({ kind: 'rotateRoot' as const, version, rootKeys: next.map((k) => k.publicKey), threshold: 2 });
    h.fails(c.root(rotate(2), '', { keys: [c.roots[0]!, c.roots[1]!] }), 'below_threshold'); // no new-set signatures
    h.fails(c.root(rotate(2), '', { keys: [c.roots[0]!, next[0]!, next[1]!] }), 'below_threshold'); // one old signature
    h.fails(c.root(rotate(3), '', { keys: [c.roots[0]!, c.roots[1]!, next[0]!, next[1]!] }), 'wrong_version');
    h.ok(c.root(rotate(2), '', { keys: [c.roots[0]!, c.roots[1]!, next[0]!, next[1]!] }));
    assert.deepEqual(h.machine.root(), { version: 2, keys: next.map((k) => toHex(k.publicKey)), threshold: 2 });
    // The old root can no longer act; the new one can.
    h.fails(c.root({ kind: 'createDomain', description: 'o' }, 'office', { keys: [c.roots[0]!, c.roots[1]!] }), 'unexpected_key');
    h.ok(c.root({ kind: 'createDomain', description: 'o' }, 'office', { keys: [next[1]!, next[2]!] }));
  });

  test('a new root key may not already be a node or admin key', () => {
    const h = new Harness();
    const c = h.cluster;
    const keys = [c.roots[0]!, c.roots[1]!, c.nodes[0]!];
    h.fails(c.root({ kind: 'rotateRoot', version: 2, rootKeys: [c.nodes[0]!.publicKey], threshold: 1 }, '', { keys }), 'key_in_use');
  });
});

describe('keys, domains and images', () => {
  test('an admin key acts only in the domains it was added to, until revoked', () => {
    const h = Harness.ready(0);
    const c = h.cluster;
    h.ok(c.root({ kind: 'createDomain', description: 'office' }, 'office'));
    h.ok(c.root({ kind: 'addAdminKey', publicKey: c.admin.publicKey, name: 'alice' }, 'office'));
    h.ok(c.as(c.admin, { kind: 'putImage', name: 'monitor', digest: `sha256:${'5'.repeat(64)}` }, 'office'));
    h.fails(c.root({ kind: 'addAdminKey', publicKey: c.admin.publicKey, name: 'alice' }, 'office'), 'key_exists');
    h.ok(c.root({ kind: 'revokeAdminKey', keyId: decodeSignedCommand(c.as(c.admin, { kind: 'removeDomain' }, 'x')).signatures[0]!.keyId }, 'office'));
    h.fails(c.as(c.admin, { kind: 'removeImage', name: 'monitor' }, 'office'), 'wrong_domain');
    h.ok(c.as(c.admin, { kind: 'putImage', name: 'spare', digest: `sha256:${'6'.repeat(64)}` }, 'home'));
    const key = h.machine.keys().find((k) => k.keyId === keyIdHex(c.admin.publicKey));
    assert.deepEqual(key?.domains, ['home']);
  });

  test('a key has one role: a node key cannot become an admin key', () => {
    const h = Harness.ready(0);
    h.fails(h.cluster.root({ kind: 'addAdminKey', publicKey: h.cluster.nodes[0]!.publicKey, name: 'n1' }, 'home'), 'key_in_use');
  });

  test('an image used by the policy cannot be removed or re-pinned to another digest', () => {
    const h = Harness.ready(0);
    const c = h.cluster;
    h.fails(c.as(c.admin, { kind: 'removeImage', name: 'monitor' }, 'home'), 'image_in_use');
    h.fails(c.as(c.admin, { kind: 'putImage', name: 'monitor', digest: `sha256:${'7'.repeat(64)}` }, 'home'), 'image_in_use');
  });

  test('a domain with devices, admins or a policy cannot be removed; an empty one can', () => {
    const h = Harness.ready(1);
    const c = h.cluster;
    h.fails(c.root({ kind: 'removeDomain' }, 'home'), 'domain_not_empty');
    h.ok(c.root({ kind: 'createDomain', description: '' }, 'spare'));
    h.ok(c.root({ kind: 'removeDomain' }, 'spare'));
    assert.deepEqual(h.machine.domains().map((d) => d.name), ['home']);
  });
});

describe('viewer keys', () => {
  test('root or an admin of the domain grants a viewer key; it may read, never sign a command', () => {
    const h = Harness.ready(1);
    const c = h.cluster;
    const viewer = testKey('viewer-home');
    h.ok(c.as(c.admin, { kind: 'addViewerKey', publicKey: viewer.publicKey, name: 'watch-desk' }, 'home'));
    const key = h.machine.keys().find((k) => k.keyId === keyIdHex(viewer.publicKey));
    assert.deepEqual(key, { keyId: keyIdHex(viewer.publicKey), publicKey: toHex(viewer.publicKey), role: 'viewer', domains: ['home'] });
    assert.deepEqual(h.machine.domains()[0]?.viewerKeys.map((v) => v.name), ['watch-desk']);
    // A viewer-signed command is refused, whatever it asks.
    h.fails(c.as(viewer, { kind: 'setDeviceState', deviceId: 'plug-0', state: 'attack', reason: 'x' }, 'home'), 'role_not_allowed');
    h.fails(c.as(viewer, { kind: 'addViewerKey', publicKey: testKey('v2').publicKey, name: 'v2' }, 'home'), 'role_not_allowed');
    h.fails(c.as(c.admin, { kind: 'addViewerKey', publicKey: viewer.publicKey, name: 'again' }, 'home'), 'key_exists');
  });

  test('an admin grants viewers only in the domains it administers; root in any', () => {
    const h = Harness.ready(0);
    const c = h.cluster;
    h.ok(c.root({ kind: 'createDomain', description: 'office' }, 'office'));
    h.fails(c.as(c.admin, { kind: 'addViewerKey', publicKey: testKey('viewer-office').publicKey, name: 'o' }, 'office'), 'wrong_domain');
    h.ok(c.root({ kind: 'addViewerKey', publicKey: testKey('viewer-office').publicKey, name: 'o' }, 'office'));
  });

  test('a key has one role: an admin, node or root key cannot become a viewer, nor a viewer an admin', () => {
    const h = Harness.ready(0);
    const c = h.cluster;
    const viewer = testKey('viewer-home');
    h.fails(c.root({ kind: 'addViewerKey', publicKey: c.admin.publicKey, name: 'a' }, 'home'), 'key_in_use');
    h.fails(c.root({ kind: 'addViewerKey', publicKey: c.nodes[0]!.publicKey, name: 'n' }, 'home'), 'key_in_use');
    h.fails(c.root({ kind: 'addViewerKey', publicKey: c.roots[0]!.publicKey, name: 'r' }, 'home'), 'key_in_use');
    h.ok(c.root({ kind: 'addViewerKey', publicKey: viewer.publicKey, name: 'v' }, 'home'));
    h.fails(c.root({ kind: 'addAdminKey', publicKey: viewer.publicKey, name: 'v' }, 'home'), 'key_in_use');
  });

  test('revoking removes the viewer from the domain and the key from the trust store; the domain can then be emptied', () => {
    const h = Harness.ready(0);
    const c = h.cluster;
    const viewer = testKey('viewer-spare');
    h.ok(c.root({ kind: 'createDomain', description: '' }, 'spare'));
    h.ok(c.root({ kind: 'addViewerKey', publicKey: viewer.publicKey, name: 'v' }, 'spare'));
    h.fails(c.root({ kind: 'removeDomain' }, 'spare'), 'domain_not_empty');
    h.fails(c.as(c.admin, { kind: 'revokeViewerKey', keyId: sha256(viewer.publicKey).subarray(0, 16) }, 'home'), 'unknown_key');
    h.ok(c.root({ kind: 'revokeViewerKey', keyId: sha256(viewer.publicKey).subarray(0, 16) }, 'spare'));
    assert.equal(h.machine.keys().some((k) => k.keyId === keyIdHex(viewer.publicKey)), false);
    h.ok(c.root({ kind: 'removeDomain' }, 'spare'));
  });

  test('viewers survive snapshot and restore with the same state hash', () => {
    const h = Harness.ready(0);
    const before = h.machine.stateHash();
    const fresh = new StateMachine(h.cluster.genesis, policyEngines);
    fresh.restore(h.machine.snapshot());
    assert.equal(fresh.stateHash(), before);
    h.ok(h.cluster.root({ kind: 'addViewerKey', publicKey: testKey('viewer-home').publicKey, name: 'v' }, 'home'));
    const restored = new StateMachine(h.cluster.genesis, policyEngines);
    restored.restore(h.machine.snapshot());
    assert.equal(restored.stateHash(), h.machine.stateHash());
    assert.deepEqual(restored.keys(), h.machine.keys());
  });
});

describe('policies and devices', () => {
  test('policy versions only move forward, and the document must be for the command domain', () => {
    const h = Harness.ready(1);
    const c = h.cluster;
    h.ok(c.as(c.admin, { kind: 'setPolicy', documentJson: JSON.stringify(homePolicy(3)) }, 'home'));
    h.fails(c.as(c.admin, { kind: 'setPolicy', documentJson: JSON.stringify(homePolicy(2)) }, 'home'), 'stale_policy');
    h.fails(c.as(c.admin, { kind: 'setPolicy', documentJson: JSON.stringify({ ...homePolicy(4), domain: 'office' }) }, 'home'), 'invalid_policy');
    h.fails(c.as(c.admin, { kind: 'setPolicy', documentJson: '{"domain":"home","version":5}' }, 'home'), 'invalid_policy');
    assert.equal(h.machine.policy('home')?.version, 3);
  });

  test('a policy that would drop a type still in use is refused by the engine', () => {
    const h = Harness.ready(1);
    const policy = homePolicy(2) as { deviceTypes: { name: string }[] };
    policy.deviceTypes = policy.deviceTypes.filter((t) => t.name !== 'smart-plug');
    h.fails(h.cluster.as(h.cluster.admin, { kind: 'setPolicy', documentJson: JSON.stringify(policy) }, 'home'), 'policy_rejected');
  });

  test('devices need a type of the domain policy and a member node; ids are unique across domains', () => {
    const h = Harness.ready(0);
    const c = h.cluster;
    h.fails(c.putDevice('x', 'toaster', 'n1'), 'unknown_device_type');
    h.fails(c.putDevice('x', 'camera', 'n9'), 'unknown_node');
    h.ok(c.putDevice('cam-1', 'camera', 'n2'));
    assert.equal(h.machine.device('cam-1')?.nodeId, 'n2');
    assert.deepEqual(h.machine.deviceHome('cam-1'), { domain: 'home', nodeId: 'n2' });
    assert.equal(h.machine.deviceHome('x'), undefined);
    assert.deepEqual(h.machine.devicePlan('cam-1'), { deviceId: 'cam-1', state: 'normal', sinceMs: h.timeMs, verdict: 'allow' });
    assert.deepEqual(h.machine.devices({ nodeId: 'n2' }).map((d) => d.id), ['cam-1']);
    assert.deepEqual(h.machine.deviceTypes('home').map((t) => t.name), ['smart-plug', 'camera']);
  });
});

describe('telemetry and reactions', () => {
  test('brute-force alerts from the serving node move a plug to attack; its plan becomes quarantine', () => {
    const h = Harness.ready(1); // plug-0 on n1
    const c = h.cluster;
    const alert = { kind: 'alert' as const, deviceId: 'plug-0', alertType: 'brute-force-login', source: 'mb-plug-0-monitor' };
    h.ok(c.as(c.nodes[0]!, { kind: 'telemetry', events: [alert, alert] }));
    assert.equal(h.machine.deviceState('plug-0')?.state, 'normal');
    const result = h.ok(c.as(c.nodes[0]!, { kind: 'telemetry', events: [alert] }));
    assert.deepEqual(result.effects.filter((e) => e.kind === 'deviceState').map((e) => e.kind === 'deviceState' && [e.from, e.to, e.rule]), [['normal', 'attack', 'login-brute-force']]);
    // Each applied alert is an effect of its own (watch and the dashboard read it there), before the reactions.
    assert.deepEqual(result.effects.slice(0, 2), [{ kind: 'alert', event: 0, deviceId: 'plug-0', alertType: 'brute-force-login' }, result.effects.find((e) => e.kind === 'deviceState')]);
    assert.deepEqual(h.machine.deviceState('plug-0'), { state: 'attack', sinceMs: h.timeMs });
    assert.equal(h.machine.devicePlan('plug-0')?.state, 'attack');
    assert.ok(h.machine.devicePlan('plug-0') !== undefined && 'verdict' in h.machine.devicePlan('plug-0')!);
  });

  test('an overloaded plug is moved to suspicious and a power-off is queued once for its serving node', () => {
    const h = Harness.ready(1);
    const c = h.cluster;
    const reading = (value: number) => ({ kind: 'reading' as const, deviceId: 'plug-0', sensor: 'power', value });
    const result = h.ok(c.as(c.nodes[0]!, { kind: 'telemetry', events: [reading(1900), reading(2000), reading(2100)] }));
    const command = result.effects.find((e) => e.kind === 'deviceCommand');
    assert.ok(command?.kind === 'deviceCommand');
    assert.deepEqual([command.nodeId, command.deviceId, command.command, command.args], ['n1', 'plug-0', 'power-off', { reason: 'overload' }]);
    assert.deepEqual(h.machine.pendingCommands('n1').map((p) => p.id), [command.id]);
    assert.deepEqual(h.machine.pendingCommands('n2'), []);
    // Another node cannot acknowledge it; the serving node can, once.
    h.fails(c.as(c.nodes[1]!, { kind: 'deviceCommandsDone', ids: [command.id], failures: [] }), 'unknown_command_id');
    h.ok(c.as(c.nodes[0]!, { kind: 'deviceCommandsDone', ids: [command.id], failures: [] }));
    assert.deepEqual(h.machine.pendingCommands('n1'), []);
    h.fails(c.as(c.nodes[0]!, { kind: 'deviceCommandsDone', ids: [command.id], failures: [] }), 'unknown_command_id');
  });

  test('a manual reset moves the device back and records when', () => {
    const h = Harness.ready(1);
    const c = h.cluster;
    const alert = { kind: 'alert' as const, deviceId: 'plug-0', alertType: 'brute-force-login', source: 'mb' };
    h.ok(c.as(c.nodes[0]!, { kind: 'telemetry', events: [alert, alert, alert] }));
    h.fails(c.as(c.admin, { kind: 'setDeviceState', deviceId: 'plug-0', state: 'rebooting', reason: 'x' }, 'home'), 'unknown_state');
    const result = h.ok(c.as(c.admin, { kind: 'setDeviceState', deviceId: 'plug-0', state: 'normal', reason: 'firmware reflashed after triage' }, 'home'));
    assert.ok(result.effects.some((e) => e.kind === 'deviceState' && e.from === 'attack' && e.to === 'normal'));
    assert.deepEqual(h.machine.deviceState('plug-0'), { state: 'normal', sinceMs: h.timeMs });
  });

  test('a batch with one bad event is rejected whole; readings of the wrong type are refused', () => {
    const h = Harness.ready(1);
    const c = h.cluster;
    h.fails(c.as(c.nodes[0]!, { kind: 'telemetry', events: [
      { kind: 'alert', deviceId: 'plug-0', alertType: 'brute-force-login', source: 'mb' },
      { kind: 'reading', deviceId: 'plug-0', sensor: 'relay-on', value: 3 },
    ] }), 'invalid_telemetry');
    h.fails(c.as(c.nodes[0]!, { kind: 'telemetry', events: [{ kind: 'alert', deviceId: 'ghost', alertType: 'x', source: 'mb' }] }), 'unknown_device');
  });
});

describe('membership intents', () => {
  test('add a learner, promote it, remove it; it may sign telemetry only while a member', () => {
    const h = Harness.ready(0);
    const c = h.cluster;
    const n4 = testKey('node-4');
    const added = h.ok(c.root({ kind: 'membership', action: 'addLearner', nodeId: 'n4', nodeKey: n4.publicKey, address: '127.0.0.1:7004' }));
    assert.deepEqual(added.effects, [{ kind: 'membership', action: 'addLearner', nodeId: 'n4', address: '127.0.0.1:7004', nodeKey: toHex(n4.publicKey) }]);
    h.fails(c.root({ kind: 'membership', action: 'addLearner', nodeId: 'n4', nodeKey: testKey('other').publicKey, address: '127.0.0.1:7005' }), 'node_exists');
    h.ok(c.root({ kind: 'membership', action: 'promote', nodeId: 'n4' }));
    h.fails(c.root({ kind: 'membership', action: 'promote', nodeId: 'n4' }), 'not_a_learner');
    h.ok(c.as(n4, { kind: 'telemetry', events: [] }));
    h.ok(c.putDevice('cam-9', 'camera', 'n4'));
    h.fails(c.root({ kind: 'membership', action: 'remove', nodeId: 'n4' }), 'node_serves_devices');
    h.ok(c.as(c.admin, { kind: 'removeDevice', id: 'cam-9' }, 'home'));
    h.ok(c.root({ kind: 'membership', action: 'remove', nodeId: 'n4' }));
    assert.deepEqual(h.machine.members().map((m) => m.nodeId), ['n1', 'n2', 'n3']);
    h.fails(c.as(n4, { kind: 'telemetry', events: [] }), 'unknown_signer');
  });

  test('a node may scope telemetry to its device\'s domain, or send it cluster-wide', () => {
    const h = Harness.ready(2);
    const c = h.cluster;
    const event = { kind: 'alert' as const, deviceId: 'plug-0', alertType: 'brute-force-login', source: 'mb-1' };
    h.ok(c.as(c.nodes[0]!, { kind: 'telemetry', events: [event] }, 'home'));
    h.ok(c.as(c.nodes[0]!, { kind: 'telemetry', events: [event] }));
  });

  test('leadership transfer is root-only and only to a voter', () => {
    const h = Harness.ready(0);
    const c = h.cluster;
    const done = h.ok(c.root({ kind: 'transferLeader', nodeId: 'n2' }));
    assert.deepEqual(done.effects, [{ kind: 'transferLeader', nodeId: 'n2' }]);
    h.fails(c.root({ kind: 'transferLeader', nodeId: 'n9' }), 'unknown_node');
    h.ok(c.root({ kind: 'membership', action: 'addLearner', nodeId: 'n4', nodeKey: testKey('node-4').publicKey, address: '127.0.0.1:7004' }));
    h.fails(c.root({ kind: 'transferLeader', nodeId: 'n4' }), 'not_a_voter');
    h.fails(c.as(c.admin, { kind: 'transferLeader', nodeId: 'n2' }, 'home'), 'role_not_allowed');
  });

  test('a node key rotation retires the old key', () => {
    const h = Harness.ready(0);
    const c = h.cluster;
    const fresh = testKey('node-1-v2');
    h.ok(c.root({ kind: 'setNodeKey', nodeId: 'n1', publicKey: fresh.publicKey }));
    h.fails(c.as(c.nodes[0]!, { kind: 'telemetry', events: [] }), 'unknown_signer');
    h.ok(c.as(fresh, { kind: 'telemetry', events: [] }));
    assert.equal(h.machine.members().find((m) => m.nodeId === 'n1')?.nodeKey, toHex(fresh.publicKey));
  });
});

describe('time, retries and the audit chain', () => {
  test('expiry uses the largest entry time so far, even if a later leader stamps an earlier time', () => {
    const h = Harness.ready(0);
    const c = h.cluster;
    const notAfterMs = h.timeMs + 5000;
    h.ok(c.root({ kind: 'createDomain', description: '' }, 'a'), 10_000); // state time is now past notAfterMs
    h.fails(c.root({ kind: 'createDomain', description: '' }, 'b', { notAfterMs }), 'expired'); // stamped 1 s later
    // A new leader whose clock is behind stamps an earlier time: the state's clock does not go back.
    h.index += 1;
    const result = h.machine.apply({ index: h.index, term: 2, timeMs: T0_MS, payload: c.root({ kind: 'createDomain', description: '' }, 'c', { notAfterMs }) });
    assert.equal(!result.ok && result.code, 'expired');
  });

  test('resultFor returns the original result of a body, by its sha256', () => {
    const h = Harness.ready(0);
    const bytes = h.cluster.root({ kind: 'createDomain', description: '' }, 'extra');
    const first = h.ok(bytes);
    h.fails(bytes, 'duplicate');
    const bodyHash = toHex(sha256(decodeSignedCommand(bytes).body));
    assert.equal(first.bodyHash, bodyHash);
    assert.deepEqual(h.machine.resultFor(bodyHash), { index: first.index, term: 1, ok: true });
  });

  test('the audit chain verifies offline over the exported log and detects any change', () => {
    const h = Harness.ready(2);
    h.fails(h.cluster.root({ kind: 'createDomain', description: '' }, 'z', { count: 1 }), 'below_threshold');
    const chain = h.machine.auditChain();
    assert.deepEqual(verifyAuditChain(h.cluster.clusterId, h.log, chain), { ok: true, chain, entries: h.log.length });
    const tampered = h.log.map((e, i) => (i === 3 ? { ...e, timeMs: e.timeMs + 1 } : e));
    assert.equal(verifyAuditChain(h.cluster.clusterId, tampered, chain).ok, false);
    const dropped = h.log.filter((_, i) => i !== 2);
    assert.equal(verifyAuditChain(h.cluster.clusterId, dropped, chain).ok, false);
    const reordered = [h.log[1]!, h.log[0]!, ...h.log.slice(2)];
    assert.equal(verifyAuditChain(h.cluster.clusterId, reordered).ok, false);
  });

  test('apply refuses an index that does not increase (a broken runtime invariant)', () => {
    const h = Harness.ready(0);
    const entries = toEntries([h.cluster.root({ kind: 'createDomain', description: '' }, 'q')], h.index);
    assert.throws(() => h.machine.apply(entries[0]!), /index/);
  });
});

describe('bounds and snapshots', () => {
  test('the rejection ring keeps the most recent rejections while counters keep totals', () => {
    const h = new Harness();
    for (let i = 0; i < 300; i++) h.apply(new Uint8Array([0xff, i & 0xff]));
    assert.equal(h.machine.rejections().length, 256);
    assert.equal(h.machine.rejections()[0]?.index, 300 - 256 + 1);
    assert.deepEqual(h.machine.rejectionCounts(), { malformed_envelope: 300 });
  });

  test('unauthenticated junk is not remembered; authenticated rejections are', () => {
    const h = Harness.ready(0);
    const c = h.cluster;
    const forged = c.root({ kind: 'createDomain', description: '' }, 'x', { count: 1 });
    h.fails(forged, 'below_threshold');
    assert.equal(h.machine.resultFor(toHex(sha256(decodeSignedCommand(forged).body))), undefined);
    const stale = c.as(c.admin, { kind: 'removeImage', name: 'nope' }, 'home');
    h.fails(stale, 'unknown_image');
    assert.equal(h.machine.resultFor(toHex(sha256(decodeSignedCommand(stale).body)))?.code, 'unknown_image');
  });

  test('restore into a running machine replaces its state; a damaged snapshot is refused', () => {
    const h = Harness.ready(2);
    const other = new StateMachine(h.cluster.genesis, policyEngines);
    other.restore(h.machine.snapshot());
    assert.equal(other.stateHash(), h.machine.stateHash());
    const text = Buffer.from(h.machine.snapshot()).toString('utf8');
    assert.throws(() => other.restore(Buffer.from(text.slice(0, text.length / 2))), (error: unknown) => error instanceof SnapshotError);
    const future = { ...(JSON.parse(text) as Record<string, unknown>), format: 9 };
    assert.throws(() => other.restore(Buffer.from(JSON.stringify(future))), /format is 9/);
    const edited = text.replace('"nextCommandId":1', '"nextCommandId":"1"');
    assert.notEqual(edited, text);
    assert.throws(() => other.restore(Buffer.from(edited)), /canonical/);
    assert.equal(other.stateHash(), h.machine.stateHash(), 'a refused snapshot changes nothing');
  });
});

describe('the state hash is kept per applied entry', () => {
  test('asked twice with nothing applied, the same hash; after a restore, the restored state\'s hash', () => {
    // The incremental construction itself is tested in state-hash.test.ts.
    const h = Harness.ready(2);
    const first = h.machine.stateHash();
    assert.equal(h.machine.stateHash(), first);
    const other = new StateMachine(h.cluster.genesis, policyEngines);
    const before = other.stateHash();
    other.restore(h.machine.snapshot());
    assert.notEqual(other.stateHash(), before, 'a restore is hashed afresh');
    assert.equal(other.stateHash(), first);
    assert.equal(other.stateHash(), other.recomputeStateHash());
  });
});
