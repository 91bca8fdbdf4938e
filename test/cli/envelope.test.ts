// envelope.test.ts — goal: what qgate signs is what the cluster verifies. The envelope decodes to the
// body that was asked for, every signature verifies natively over the exact body bytes under the key
// its key id names, the signer and keys follow the payload's role (root m-of-n, one admin key), the
// expiry is now + --expires-in within the cluster's limit, and sequence numbers start at the
// cluster's lastSeq + 1 and grow. Method: build envelopes, decode them with src/commands, and check.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeBody, decodeSignedCommand, generateKeyPair, keyIdHex, sha256, toHex, verifySignature, type CommandBody, type Payload,
} from '../../src/commands/index.js';
import { buildEnvelope, chooseSigners, notAfterFor, SeqAllocator, type TrustInfo } from '../../src/cli/envelope.js';
import { CliError } from '../../src/cli/errors.js';
import { signingKey, type SigningKey } from '../../src/cli/keys.js';

const [rootA, rootB, rootC, alice, bob] = Array.from({ length: 5 }, (_, i) => signingKey(generateKeyPair(), `k${i}`)) as [SigningKey, SigningKey, SigningKey, SigningKey, SigningKey];
const trust: TrustInfo = {
  rootKeys: new Set([rootA, rootB, rootC].map((k) => k.publicKeyHex)),
  rootThreshold: 2,
  adminDomains: new Map([[alice.keyId, new Set(['home'])], [bob.keyId, new Set(['office'])]]),
};
const clusterId = sha256(new TextEncoder().encode('cluster'));

function body(payload: Payload, signer: string, domain = 'home'): CommandBody {
  return { clusterId, domain, signer, seq: 5, notAfterMs: 1_800_000_000_000, payload };
}

describe('buildEnvelope', () => {
  test('the envelope decodes to the body, and each signature verifies under the key its key id names', () => {
    const payload: Payload = { kind: 'putDevice', device: { id: 'plug1', type: 'smart-plug', group: 'default', tags: ['a'], nodeId: 'n1', port: 'dev1', addresses: ['10.0.0.2'] } };
    for (const keys of [[alice], [rootA, rootC]]) {
      const built = buildEnvelope(body(payload, keys.length === 1 ? alice.keyId : 'root'), keys);
      const envelope = decodeSignedCommand(built.bytes);
      const decoded = decodeBody(envelope.body);
      assert.equal(toHex(decoded.clusterId), toHex(clusterId));
      assert.deepEqual({ ...decoded, clusterId: undefined }, { ...built.body, clusterId: undefined });
      assert.equal(built.bodyHash, toHex(sha256(envelope.body)));
      assert.equal(envelope.signatures.length, keys.length);
      envelope.signatures.forEach((signature, i) => {
        const key = keys[i] as SigningKey;
        assert.equal(toHex(signature.keyId), key.keyId);
        assert.ok(verifySignature(key.pair.publicKey, envelope.body, signature.sig));
        assert.ok(!verifySignature(bob.pair.publicKey, envelope.body, signature.sig), 'a signature must not verify under another key');
      });
    }
  });

  test('tweetnacl and native signing give identical envelopes', () => {
    const b = body({ kind: 'createDomain', description: 'x' }, 'root');
    assert.deepEqual(buildEnvelope(b, [rootA, rootB], 'tweetnacl').bytes, buildEnvelope(b, [rootA, rootB], 'native').bytes);
  });

  test('a payload the cluster would refuse as malformed is reported locally with its path (exit 2)', () => {
    const payload: Payload = { kind: 'putDevice', device: { id: 'bad id', type: 't', group: 'g', tags: [], nodeId: 'n1', port: 'p', addresses: [] } };
    assert.throws(() => buildEnvelope(body(payload, alice.keyId), [alice]), (error: unknown) =>
      error instanceof CliError && error.exitCode === 2 && /^putDevice: body\.put_device\.id: /.test(error.message));
  });
});

describe('chooseSigners', () => {
  const all = [rootA, rootB, alice];
  test('root payloads: signer "root", signed by every loaded root key, never by an admin key', () => {
    for (const kind of ['createDomain', 'addAdminKey', 'membership', 'transferLeader'] as const) {
      const chosen = chooseSigners(kind, 'home', all, trust, 'auto');
      assert.equal(chosen.signer, 'root');
      assert.deepEqual(chosen.keys.map((k) => k.keyId), [rootA.keyId, rootB.keyId]);
    }
  });

  test('root payloads with fewer root keys than the threshold are refused', () => {
    assert.throws(() => chooseSigners('createDomain', 'home', [rootA, alice], trust, 'auto'), /needs 2 signatures by root keys; the keys given include 1 root key/);
  });

  test('admin payloads: the one loaded key that administers the domain signs, under its key id', () => {
    for (const kind of ['putDevice', 'setPolicy', 'putImage', 'setDeviceState', 'removeDevice'] as const) {
      assert.deepEqual(chooseSigners(kind, 'home', [rootA, rootB, bob, alice], trust, 'auto'), { signer: alice.keyId, keys: [alice] });
    }
    assert.throws(() => chooseSigners('putDevice', 'garden', [alice, bob], trust, 'auto'), /is an admin key of domain "garden"/);
  });

  test('several possible admin keys need --signer KEYID; --signer root is refused for admin payloads', () => {
    const unknownAdmins: TrustInfo = { ...trust, adminDomains: new Map() };
    assert.throws(() => chooseSigners('putDevice', 'home', [alice, bob], unknownAdmins, 'auto'), /several keys could sign .* --signer KEYID/);
    assert.deepEqual(chooseSigners('putDevice', 'home', [alice, bob], unknownAdmins, bob.keyId).keys, [bob]);
    assert.throws(() => chooseSigners('putDevice', 'home', [alice], trust, 'root'), /is signed by an admin key of its domain, not by root/);
    assert.throws(() => chooseSigners('createDomain', 'home', [rootA, rootB], trust, alice.keyId), /signed by the root role/);
  });

  test('without the cluster\'s key list every key signs a root payload and an admin payload needs exactly one key', () => {
    assert.equal(chooseSigners('createDomain', 'home', [rootA, rootB], undefined, 'auto').keys.length, 2);
    assert.equal(chooseSigners('putImage', 'home', [alice], undefined, 'auto').signer, alice.keyId);
    assert.throws(() => chooseSigners('putImage', 'home', [], undefined, 'auto'), /give --key FILE/);
  });
});

describe('expiry and sequence numbers', () => {
  test('notAfterFor is now + expires-in, inside the cluster\'s 30-day lifetime limit', () => {
    assert.equal(notAfterFor(1_000, 600_000), 601_000);
    assert.throws(() => notAfterFor(1_000, 0), /--expires-in: expected 1\.\.2592000000 ms, found 0/);
    assert.throws(() => notAfterFor(1_000, 31 * 24 * 3600 * 1000), /--expires-in/);
  });

  test('SeqAllocator asks the cluster once per signer, then counts up from lastSeq + 1', async () => {
    const asked: string[] = [];
    const last: Record<string, number> = { root: 7, [alice.keyId]: 0 };
    const seq = new SeqAllocator(async (signer) => {
      asked.push(signer);
      return last[signer] ?? 0;
    });
    assert.equal(await seq.next('root'), 8);
    assert.equal(await seq.next(alice.keyId), 1);
    assert.equal(await seq.next('root'), 9);
    assert.equal(await seq.next('root'), 10);
    assert.deepEqual(asked, ['root', alice.keyId]);
    assert.equal(keyIdHex(alice.pair.publicKey), alice.keyId);
  });
});
