// verify.test.ts — goal: the role table (who may sign what, at which scope) and the order of checks in
// verifyCommand, independent of the state machine. Method: a table over every payload kind, and
// envelopes checked against a hand-built TrustView.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  CommandError, decodeBody, decodeSignedCommand, keyIdHex, keyPairFromSeed, rolesFor, signCommand, verifyCommand,
  type KeyRecord, type PayloadKind, type TrustView,
} from '../../src/commands/index.js';

const key = (n: number) => keyPairFromSeed(new Uint8Array(32).fill(n));
const root = [key(1), key(2)];
const admin = key(3);
const node = key(4);
const CLUSTER = new Uint8Array(32).fill(5);

const trust: TrustView = {
  clusterId: CLUSTER,
  root: { keys: root.map((k) => k.publicKey), threshold: 2 },
  key: (id) => new Map<string, KeyRecord>([
    [keyIdHex(admin.publicKey), { role: 'admin', publicKey: admin.publicKey, domains: new Set(['home']) }],
    [keyIdHex(node.publicKey), { role: 'node', publicKey: node.publicKey, nodeId: 'n1' }],
  ]).get(id),
  lastSeq: (signer) => (signer === 'root' ? 10 : 0),
};

function check(bytes: Uint8Array, timeMs = 1000) {
  const envelope = decodeSignedCommand(bytes);
  return verifyCommand(envelope, decodeBody(envelope.body), trust, timeMs);
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CommandError, String(error));
    return error.code;
  }
  return 'accepted';
}

describe('roles', () => {
  const table: [PayloadKind, string][] = [
    ['rotateRoot', 'root'], ['addAdminKey', 'root'], ['revokeAdminKey', 'root'], ['setNodeKey', 'root'],
    ['createDomain', 'root'], ['removeDomain', 'root'], ['membership', 'root'],
    ['setPolicy', 'admin'], ['putDevice', 'admin'], ['removeDevice', 'admin'], ['putImage', 'admin'],
    ['removeImage', 'admin'], ['setDeviceState', 'admin'],
    ['telemetry', 'node'], ['deviceCommandsDone', 'node'],
  ];
  for (const [kind, role] of table) test(`${kind} is signed by ${role} only`, () => assert.deepEqual(rolesFor(kind), [role]));
});

describe('verifyCommand', () => {
  const body = { clusterId: CLUSTER, notAfterMs: 5000 };
  test('a valid admin command in its domain verifies, naming its role and key', () => {
    const verified = check(signCommand({ ...body, domain: 'home', signer: keyIdHex(admin.publicKey), seq: 1, payload: { kind: 'removeDevice', id: 'd' } }, [admin]));
    assert.equal(verified.role, 'admin');
    assert.deepEqual(verified.keyIds, [keyIdHex(admin.publicKey)]);
  });

  test('a node command names the node', () => {
    const verified = check(signCommand({ ...body, domain: '', signer: keyIdHex(node.publicKey), seq: 1, payload: { kind: 'telemetry', events: [] } }, [node]));
    assert.equal(verified.nodeId, 'n1');
  });

  const rows: { rule: string; code: string; bytes: () => Uint8Array; timeMs?: number }[] = [
    { rule: 'signer is neither root nor a key id', code: 'bad_signer', bytes: () => signCommand({ ...body, domain: 'home', signer: 'alice', seq: 1, payload: { kind: 'removeDevice', id: 'd' } }, [admin]) },
    { rule: 'an admin command carries exactly one signature', code: 'unexpected_key', bytes: () => signCommand({ ...body, domain: 'home', signer: keyIdHex(admin.publicKey), seq: 1, payload: { kind: 'removeDevice', id: 'd' } }, [admin, node]) },
    { rule: 'root seq must exceed the last one', code: 'stale_sequence', bytes: () => signCommand({ ...body, domain: 'x', signer: 'root', seq: 10, payload: { kind: 'createDomain', description: '' } }, root) },
    { rule: 'the cluster is checked before anything else', code: 'wrong_cluster', bytes: () => signCommand({ ...body, clusterId: new Uint8Array(32), domain: 'x', signer: 'root', seq: 1, payload: { kind: 'createDomain', description: '' } }, [admin]) },
    { rule: 'signatures are checked before expiry', code: 'below_threshold', timeMs: 9999, bytes: () => signCommand({ ...body, domain: 'x', signer: 'root', seq: 11, payload: { kind: 'createDomain', description: '' } }, [root[0]!]) },
    { rule: 'an entry at exactly notAfterMs is still valid', code: 'accepted', timeMs: 5000, bytes: () => signCommand({ ...body, domain: 'x', signer: 'root', seq: 11, payload: { kind: 'createDomain', description: '' } }, root) },
    { rule: 'one ms later it has expired', code: 'expired', timeMs: 5001, bytes: () => signCommand({ ...body, domain: 'x', signer: 'root', seq: 11, payload: { kind: 'createDomain', description: '' } }, root) },
    { rule: 'a node key may not manage devices', code: 'role_not_allowed', bytes: () => signCommand({ ...body, domain: 'home', signer: keyIdHex(node.publicKey), seq: 1, payload: { kind: 'removeDevice', id: 'd' } }, [node]) },
    { rule: 'a domain command needs a domain', code: 'wrong_domain', bytes: () => signCommand({ ...body, domain: '', signer: 'root', seq: 11, payload: { kind: 'createDomain', description: '' } }, root) },
  ];
  for (const row of rows) test(`${row.code}: ${row.rule}`, () => assert.equal(code(() => check(row.bytes(), row.timeMs)), row.code));
});
