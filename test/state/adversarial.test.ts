// adversarial.test.ts — goal: promise 2 and 3 of DESIGN.md. Every hostile or stale envelope is rejected
// with its stable code, recorded identically, and changes nothing but the rejection record: forged,
// tampered, wrong cluster, replayed, out-of-order, expired, under threshold, the same key twice, a node
// key changing policy, an admin key outside its domain, a malleated signature (S + L), telemetry for a
// device another node serves, and more; a rejected command is never applied later. Method: a set-up
// cluster; each row builds one envelope; we compare the state's semantic part (everything except
// rejection bookkeeping, chain, clock and sequence numbers) before and after, check that only a command
// whose signatures verified consumed its signer's seq, and check the rejection record.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeBody, decodeSignedCommand, encodeSignedCommand, keyIdHex, sha256, signCommand, toHex, type SignedCommand,
} from '../../src/commands/index.js';
import { StateMachine, policyEngines } from '../../src/state/index.js';
import { DAY_MS, MONITOR_DIGEST, T0_MS, TestCluster, homePolicy, testKey, toEntries } from './fixtures.js';
import { malleateSignature as malleate } from '../support/ed25519.js';

/**
 * semantic is the snapshot minus rejection bookkeeping, the chain, the clock and the signers'
 * sequence numbers (a rejection after the signatures verified consumes its seq: checked apart).
 */
function semantic(machine: StateMachine): unknown {
  const json = JSON.parse(Buffer.from(machine.snapshot()).toString('utf8')) as Record<string, unknown>;
  for (const key of ['rejections', 'rejectionCounts', 'remembered', 'chain', 'lastIndex', 'lastTerm', 'timeMs', 'appliedCount', 'lastSeq']) delete json[key];
  return json;
}

/** lastSeqs is every signer's last sequence number, from the snapshot. */
function lastSeqs(machine: StateMachine): Map<string, number> {
  const json = JSON.parse(Buffer.from(machine.snapshot()).toString('utf8')) as { lastSeq: [string, number][] };
  return new Map(json.lastSeq);
}

/** UNAUTHENTICATED_CODES are rejections before the signatures verified: they consume no seq. */
const UNAUTHENTICATED_CODES = new Set(['unexpected_key', 'duplicate_signature', 'bad_signature', 'unknown_signer', 'wrong_cluster', 'below_threshold', 'duplicate', 'bad_signer', 'malformed_envelope', 'malformed_body']);

function editEnvelope(bytes: Uint8Array, edit: (command: SignedCommand) => SignedCommand): Uint8Array {
  return encodeSignedCommand(edit(decodeSignedCommand(bytes)));
}

interface Row {
  rule: string;
  code: string;
  /** build returns the hostile envelope; it may first apply legitimate `before` entries. */
  build: (cluster: TestCluster, machine: StateMachine, applyLegit: (bytes: Uint8Array) => void) => Uint8Array;
}

const rows: Row[] = [
  {
    rule: 'a signature by a key that is not the signer (forged)', code: 'unexpected_key',
    build: (c) => {
      const mallory = testKey('mallory');
      const bytes = c.as(mallory, { kind: 'removeDevice', id: 'plug-0' }, 'home');
      const real = decodeSignedCommand(c.as(c.admin, { kind: 'removeDevice', id: 'plug-0' }, 'home'));
      // Mallory's signature attached to a body that names the admin as signer.
      return encodeSignedCommand({ body: real.body, signatures: decodeSignedCommand(bytes).signatures });
    },
  },
  {
    rule: 'a body changed after signing (tampered)', code: 'bad_signature',
    build: (c) => editEnvelope(c.as(c.admin, { kind: 'removeDevice', id: 'plug-0' }, 'home'), (cmd) => {
      const body = Uint8Array.from(cmd.body);
      const at = Buffer.from(body).indexOf('plug-0');
      body[at + 5] = '1'.charCodeAt(0); // plug-0 → plug-1
      return { ...cmd, body };
    }),
  },
  {
    rule: 'a signer that claims an admin key id with an unknown key', code: 'unknown_signer',
    build: (c) => c.as(testKey('stranger'), { kind: 'removeDevice', id: 'plug-0' }, 'home'),
  },
  {
    rule: 'a command for another cluster', code: 'wrong_cluster',
    build: (c) => c.as(c.admin, { kind: 'removeDevice', id: 'plug-0' }, 'home', { clusterId: new Uint8Array(32).fill(1) }),
  },
  {
    rule: 'an applied command replayed byte for byte', code: 'duplicate',
    build: (c, _m, applyLegit) => {
      const bytes = c.as(c.admin, { kind: 'putImage', name: 'extra', digest: `sha256:${'3'.repeat(64)}` }, 'home');
      applyLegit(bytes);
      return bytes;
    },
  },
  {
    rule: 'an older seq re-signed (out of order)', code: 'stale_sequence',
    build: (c, _m, applyLegit) => {
      const signer = keyIdHex(c.admin.publicKey);
      const seq = c.nextSeq(signer);
      const later = c.nextSeq(signer);
      applyLegit(c.as(c.admin, { kind: 'putImage', name: 'extra', digest: `sha256:${'3'.repeat(64)}` }, 'home', { seq: later }));
      return c.as(c.admin, { kind: 'removeImage', name: 'extra' }, 'home', { seq });
    },
  },
  {
    rule: 'the same seq with a different body', code: 'stale_sequence',
    build: (c) => c.as(c.admin, { kind: 'removeDevice', id: 'plug-0' }, 'home', { seq: 1 }),
  },
  {
    rule: 'an expired command (entry time after notAfterMs)', code: 'expired',
    build: (c) => c.as(c.admin, { kind: 'removeDevice', id: 'plug-0' }, 'home', { notAfterMs: T0_MS }),
  },
  {
    rule: 'an expiry years ahead (a command that could be held back and replayed)', code: 'lifetime_too_long',
    build: (c) => c.as(c.admin, { kind: 'removeDevice', id: 'plug-0' }, 'home', { notAfterMs: T0_MS + 365 * DAY_MS }),
  },
  {
    rule: 'one root signature where the threshold is two', code: 'below_threshold',
    build: (c) => c.root({ kind: 'createDomain', description: 'x' }, 'office', { count: 1 }),
  },
  {
    rule: 'the same root key twice to reach the threshold', code: 'duplicate_signature',
    build: (c) => {
      const bytes = c.root({ kind: 'createDomain', description: 'x' }, 'office', { count: 1 });
      return editEnvelope(bytes, (cmd) => ({ ...cmd, signatures: [cmd.signatures[0]!, cmd.signatures[0]!] }));
    },
  },
  {
    rule: 'a root command also signed by a non-root key', code: 'unexpected_key',
    build: (c) => c.root({ kind: 'createDomain', description: 'x' }, 'office', { keys: [c.roots[0]!, c.roots[1]!, c.admin] }),
  },
  {
    rule: 'a node key changing policy', code: 'role_not_allowed',
    build: (c) => c.as(c.nodes[0]!, { kind: 'setPolicy', documentJson: JSON.stringify(homePolicy(2)) }, 'home'),
  },
  {
    rule: 'an admin key signing root commands', code: 'role_not_allowed',
    build: (c) => c.as(c.admin, { kind: 'addAdminKey', publicKey: testKey('x').publicKey, name: 'x' }, 'home'),
  },
  {
    rule: 'an admin key outside its domain', code: 'wrong_domain',
    build: (c, _m, applyLegit) => {
      applyLegit(c.root({ kind: 'createDomain', description: 'office' }, 'office'));
      return c.as(c.admin, { kind: 'putImage', name: 'monitor', digest: `sha256:${'4'.repeat(64)}` }, 'office');
    },
  },
  {
    rule: 'a malleated signature (S + L) that tweetnacl would accept', code: 'bad_signature',
    build: (c) => editEnvelope(c.as(c.admin, { kind: 'removeDevice', id: 'plug-0' }, 'home'), (cmd) => ({
      ...cmd, signatures: [{ keyId: cmd.signatures[0]!.keyId, sig: malleate(cmd.signatures[0]!.sig) }],
    })),
  },
  {
    rule: 'telemetry signed by a node that does not serve the device', code: 'device_not_served',
    build: (c) => c.as(c.nodes[1]!, { kind: 'telemetry', events: [{ kind: 'alert', deviceId: 'plug-0', alertType: 'brute-force-login', source: 'mb-1' }] }),
  },
  {
    rule: 'telemetry scoped to a domain its device does not belong to', code: 'device_in_other_domain',
    build: (c) => c.as(c.nodes[0]!, { kind: 'telemetry', events: [{ kind: 'alert', deviceId: 'plug-0', alertType: 'brute-force-login', source: 'mb-1' }] }, 'office'),
  },
  {
    rule: 'telemetry naming an undeclared sensor', code: 'invalid_telemetry',
    build: (c) => c.as(c.nodes[0]!, { kind: 'telemetry', events: [{ kind: 'reading', deviceId: 'plug-0', sensor: 'voltage', value: 3 }] }),
  },
  {
    rule: 'a policy version that does not move forward', code: 'stale_policy',
    build: (c) => c.as(c.admin, { kind: 'setPolicy', documentJson: JSON.stringify(homePolicy(1)) }, 'home'),
  },
  {
    rule: 'a policy pinning an image digest the domain does not pin', code: 'image_not_pinned',
    build: (c) => {
      // Every "monitor" pin of the document moves to a digest the domain never pinned.
      const documentJson = JSON.stringify(homePolicy(2)).split(MONITOR_DIGEST).join(`sha256:${'9'.repeat(64)}`);
      return c.as(c.admin, { kind: 'setPolicy', documentJson }, 'home');
    },
  },
  {
    rule: 'a cluster-wide command that names a domain', code: 'wrong_domain',
    build: (c) => c.as(c.nodes[0]!, { kind: 'deviceCommandsDone', ids: [1], failures: [] }, 'home'),
  },
  {
    rule: 'an envelope that is not protobuf', code: 'malformed_envelope',
    build: () => new Uint8Array([0xff, 0xff, 0xff]),
  },
];

describe('adversarial envelopes are rejected and change nothing but the rejection record', () => {
  for (const row of rows) {
    test(`${row.code}: ${row.rule}`, () => {
      const cluster = new TestCluster();
      const machine = new StateMachine(cluster.genesis, policyEngines);
      let index = 0;
      const at = (): number => T0_MS + index * 1000;
      for (const entry of toEntries(cluster.setup(2))) {
        index = entry.index;
        assert.equal(machine.apply(entry).ok, true);
      }
      const applyLegit = (bytes: Uint8Array): void => {
        index += 1;
        const result = machine.apply({ index, term: 1, timeMs: at(), payload: bytes });
        assert.equal(result.ok, true, JSON.stringify(result));
      };
      const hostile = row.build(cluster, machine, applyLegit);
      const before = semantic(machine);
      const seqsBefore = lastSeqs(machine);
      const countsBefore = machine.rejectionCounts()[row.code] ?? 0;
      index += 1;
      const result = machine.apply({ index, term: 1, timeMs: at(), payload: hostile });
      assert.equal(result.ok, false, `accepted: ${JSON.stringify(result)}`);
      assert.ok(!result.ok);
      assert.equal(result.code, row.code, result.reason);
      assert.deepEqual(semantic(machine), before, 'the rejected entry changed the state');
      // Only a command whose signatures verified consumes its signer's seq (and only upwards).
      const expectedSeqs = new Map(seqsBefore);
      if (!UNAUTHENTICATED_CODES.has(row.code)) {
        const body = decodeBody(decodeSignedCommand(hostile).body);
        expectedSeqs.set(body.signer, Math.max(seqsBefore.get(body.signer) ?? 0, body.seq));
      }
      assert.deepEqual([...lastSeqs(machine)].sort(), [...expectedSeqs].sort(), 'sequence numbers after the rejection');
      const last = machine.rejections().at(-1);
      assert.equal(last?.index, index);
      assert.equal(last?.code, row.code);
      assert.equal(machine.rejectionCounts()[row.code], countsBefore + 1);
      assert.equal(machine.lastApplied().index, index, 'a rejected entry still extends the chain');
    });
  }

  test('the same hostile entries give the same rejections and hash on two nodes', () => {
    const cluster = new TestCluster();
    const entries = toEntries([
      ...cluster.setup(2),
      cluster.root({ kind: 'createDomain', description: 'x' }, 'office', { count: 1 }),
      cluster.as(cluster.nodes[0]!, { kind: 'setPolicy', documentJson: '{}' }, 'home'),
      cluster.as(cluster.admin, { kind: 'removeDevice', id: 'plug-0' }, 'home', { notAfterMs: T0_MS }),
    ]);
    const a = new StateMachine(cluster.genesis, policyEngines);
    const b = new StateMachine(cluster.genesis, policyEngines);
    const codesA = entries.map((e) => a.apply(e)).filter((r) => !r.ok).map((r) => (r.ok ? '' : r.code));
    const codesB = entries.map((e) => b.apply(e)).filter((r) => !r.ok).map((r) => (r.ok ? '' : r.code));
    assert.deepEqual(codesA, ['below_threshold', 'role_not_allowed', 'expired']);
    assert.deepEqual(codesB, codesA);
    assert.equal(a.stateHash(), b.stateHash());
    assert.deepEqual(a.rejections(), b.rejections());
  });

  test('a rejected command can never be applied later, even once it would be valid; a re-signed one applies', () => {
    // Issue 15: an admin's putDevice rejected by the state was applied when replayed after the state
    // changed. A rejection after the signatures verified consumes the signer's seq, so the envelope
    // stays dead; a retry of it is answered as a duplicate of the original rejection.
    const cluster = new TestCluster();
    const machine = new StateMachine(cluster.genesis, policyEngines);
    // The device command is signed first (lower seq than the set-up's admin commands) and arrives
    // before its domain's policy: rejected.
    const early = cluster.putDevice('cam-1', 'camera', 'n1');
    const setup = cluster.setup(0);
    const entries = toEntries([setup[0]!, setup[1]!, early, setup[2]!, setup[3]!, setup[4]!, early]);
    const results = entries.map((e) => machine.apply(e));
    assert.equal(results[2]?.ok, false);
    const original = results[2]!.ok ? '' : results[2]!.code;
    assert.equal(results[6]?.ok === false && results[6].code, 'duplicate', JSON.stringify(results[6]));
    assert.equal(machine.devices().length, 0);
    const bodyHash = toHex(sha256(decodeSignedCommand(early).body));
    assert.deepEqual(machine.resultFor(bodyHash), { index: 3, term: 1, ok: false, code: original, reason: results[2]!.ok ? '' : results[2]!.reason },
      'the original rejection is still the remembered result');
    // Forgotten results (the memory is bounded) still cannot revive it: its seq is consumed.
    const forgetful = StateMachine.restore(machine.snapshot(), policyEngines);
    const json = JSON.parse(Buffer.from(forgetful.snapshot()).toString('utf8')) as Record<string, unknown>;
    json['remembered'] = [];
    forgetful.restore(Buffer.from(JSON.stringify(json)));
    const replay = forgetful.apply({ index: 100, term: 1, timeMs: entries.at(-1)!.timeMs, payload: early });
    assert.equal(replay.ok === false && replay.code, 'stale_sequence');
    const resigned = cluster.putDevice('cam-1', 'camera', 'n1');
    const applied = machine.apply({ index: 8, term: 1, timeMs: entries.at(-1)!.timeMs, payload: resigned });
    assert.equal(applied.ok, true, JSON.stringify(applied));
    assert.equal(machine.devices().length, 1);
  });

  test('no single-byte change to a valid envelope gets a different body accepted (fuzz)', () => {
    const cluster = new TestCluster();
    const machine = new StateMachine(cluster.genesis, policyEngines);
    for (const e of toEntries(cluster.setup(2))) machine.apply(e);
    const snapshot = machine.snapshot();
    const valid = cluster.as(cluster.admin, { kind: 'putImage', name: 'extra', digest: `sha256:${'3'.repeat(64)}` }, 'home');
    const validBody = toHex(sha256(decodeSignedCommand(valid).body));
    const before = semantic(machine);
    fc.assert(fc.property(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 1, max: 255 }), (position, xor) => {
      const mutated = Uint8Array.from(valid);
      mutated[position] = (mutated[position] ?? 0) ^ xor;
      const copy = StateMachine.restore(snapshot, policyEngines);
      const result = copy.apply({ index: 1000, term: 1, timeMs: T0_MS + 100_000, payload: mutated });
      if (result.ok) {
        // Only a change outside the signed body (protobuf framing of the unsigned envelope) may pass,
        // and then it is the very same signed command.
        assert.equal(result.bodyHash, validBody);
      } else {
        assert.deepEqual(semantic(copy), before);
      }
    }), { numRuns: 300 });
  });

  test('signatures made with tweetnacl are accepted like native ones', () => {
    const cluster = new TestCluster();
    const machine = new StateMachine(cluster.genesis, policyEngines);
    for (const e of toEntries(cluster.setup(1))) machine.apply(e);
    const bytes = cluster.as(cluster.admin, { kind: 'removeDevice', id: 'plug-0' }, 'home', { implementation: 'tweetnacl' });
    const result = machine.apply({ index: 100, term: 1, timeMs: T0_MS + 100_000, payload: bytes });
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(machine.device('plug-0'), undefined);
  });

  test('a root command signed by tweetnacl keys and checked against signCommand output', () => {
    const cluster = new TestCluster();
    const body = { clusterId: cluster.clusterId, domain: 'office', signer: 'root', seq: 1, notAfterMs: T0_MS + DAY_MS, payload: { kind: 'createDomain' as const, description: 'o' } };
    assert.deepEqual(signCommand(body, cluster.roots.slice(0, 2), 'tweetnacl'), signCommand(body, cluster.roots.slice(0, 2), 'native'));
  });
});
