// verify-ahead.test.ts — goal: verifying ahead in the thread pool (crypto.ts verifyInBackground, issue #18)
// never changes an answer: a triple that verifies is remembered and verifySignature then answers from the
// memo, without verifying on the caller's thread; a bad or malleated signature (S + L) is never remembered
// and still fails; a remembered signature proves nothing for another key or another message; the checks
// in flight are bounded; and signatureChecks names exactly the triples verifyCommand would verify (the
// signer's key, or the root keys that signed, the new set's too for a rotation).
// Method: real Ed25519 keys and native verification; the memo observed through verificationCounts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_BACKGROUND_VERIFICATIONS, decodeBody, decodeSignedCommand, generateKeyPair, keyIdHex, signCommand, signMessage, signatureChecks,
  verificationCounts, verifyInBackground, verifySignature, type KeyRecord, type TrustView,
} from '../../src/commands/index.js';
import { malleateSignature } from '../support/ed25519.js';

const message = (text: string): Uint8Array => new Uint8Array(Buffer.from(text));

describe('verifyInBackground', () => {
  test('a triple verified in the pool is answered from the memo, not verified again on the thread', async () => {
    const pair = generateKeyPair();
    const body = message('verify ahead 1');
    const signature = signMessage(pair, body);
    await verifyInBackground([{ publicKey: pair.publicKey, message: body, signature }]);
    const before = verificationCounts();
    assert.equal(verifySignature(pair.publicKey, body, signature), true);
    const after = verificationCounts();
    assert.equal(after.memoHits, before.memoHits + 1);
    assert.equal(after.onThread, before.onThread, 'no native verification on the thread');
  });

  test('a bad signature and a malleated one (S + L) are not remembered and still fail', async () => {
    const pair = generateKeyPair();
    const body = message('verify ahead 2');
    const good = signMessage(pair, body);
    const flipped = Uint8Array.from(good);
    flipped[5] = flipped[5]! ^ 1;
    const malleated = malleateSignature(good);
    await verifyInBackground([{ publicKey: pair.publicKey, message: body, signature: flipped }, { publicKey: pair.publicKey, message: body, signature: malleated }]);
    const before = verificationCounts();
    assert.equal(verifySignature(pair.publicKey, body, flipped), false);
    assert.equal(verifySignature(pair.publicKey, body, malleated), false);
    assert.equal(verificationCounts().onThread, before.onThread + 2, 'both verified on the thread, neither remembered');
  });

  test('a remembered signature proves nothing for another message or another key', async () => {
    const pair = generateKeyPair();
    const other = generateKeyPair();
    const body = message('verify ahead 3');
    const signature = signMessage(pair, body);
    await verifyInBackground([{ publicKey: pair.publicKey, message: body, signature }]);
    assert.equal(verifySignature(pair.publicKey, message('verify ahead 3!'), signature), false);
    assert.equal(verifySignature(other.publicKey, body, signature), false);
  });

  test('at most MAX_BACKGROUND_VERIFICATIONS run at once; the rest are left to verifySignature', async () => {
    const pair = generateKeyPair();
    const checks = Array.from({ length: MAX_BACKGROUND_VERIFICATIONS + 20 }, (_, i) => {
      const body = message(`bounded ${i}`);
      return { publicKey: pair.publicKey, message: body, signature: signMessage(pair, body) };
    });
    const before = verificationCounts();
    await verifyInBackground(checks);
    assert.equal(verificationCounts().inBackground - before.inBackground, MAX_BACKGROUND_VERIFICATIONS);
    const last = checks.at(-1)!;
    assert.equal(verifySignature(last.publicKey, last.message, last.signature), true, 'one not started still verifies');
  });
});

describe('signatureChecks names what verifyCommand verifies', () => {
  const clusterId = new Uint8Array(32).fill(7);
  const roots = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
  const admin = generateKeyPair();
  const keys = new Map<string, KeyRecord>([[keyIdHex(admin.publicKey), { role: 'admin', publicKey: admin.publicKey, domains: new Set(['d']) }]]);
  const trust: TrustView = { clusterId, root: { keys: roots.map((r) => r.publicKey), threshold: 2 }, key: (id) => keys.get(id), lastSeq: () => 0 };
  const checksOf = (bytes: Uint8Array): ReturnType<typeof signatureChecks> => {
    const envelope = decodeSignedCommand(bytes);
    return signatureChecks(envelope, decodeBody(envelope.body), trust);
  };
  const common = { clusterId, seq: 1, notAfterMs: 1_000_000 };

  test('an admin command: the admin key over the body', () => {
    const bytes = signCommand({ ...common, domain: 'd', signer: keyIdHex(admin.publicKey), payload: { kind: 'removeDevice', id: 'x' } }, [admin]);
    const [check, ...rest] = checksOf(bytes);
    assert.equal(rest.length, 0);
    assert.deepEqual(Buffer.from(check!.publicKey), Buffer.from(admin.publicKey));
    assert.deepEqual(Buffer.from(check!.message), Buffer.from(decodeSignedCommand(bytes).body));
  });

  test('an unknown signer: nothing to check ahead', () => {
    const stranger = generateKeyPair();
    const bytes = signCommand({ ...common, domain: 'd', signer: keyIdHex(stranger.publicKey), payload: { kind: 'removeDevice', id: 'x' } }, [stranger]);
    assert.deepEqual(checksOf(bytes), []);
  });

  test('a root command: each signature by a root key; a rotation adds the new set', () => {
    const root = signCommand({ ...common, domain: 'd', signer: 'root', payload: { kind: 'createDomain', description: 'x' } }, [roots[0]!, roots[2]!]);
    assert.deepEqual(checksOf(root).map((c) => keyIdHex(c.publicKey)).sort(), [keyIdHex(roots[0]!.publicKey), keyIdHex(roots[2]!.publicKey)].sort());
    const next = generateKeyPair();
    const rotation = signCommand({ ...common, domain: '', signer: 'root', payload: { kind: 'rotateRoot', version: 2, rootKeys: [next.publicKey], threshold: 1 } }, [roots[0]!, roots[1]!, next]);
    assert.equal(checksOf(rotation).length, 3);
  });
});
