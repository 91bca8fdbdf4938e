// crypto.test.ts — goal: show that tweetnacl and native Ed25519 produce the same signatures, that
// tweetnacl-made signatures verify with the native verifier every node uses, and that a malleated
// signature (S + L) which tweetnacl's own verify accepts is rejected. Method: fixed and random keys,
// fast-check over messages, and a hand-built malleated signature.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import nacl from 'tweetnacl';
import {
  generateKeyPair, keyId, keyIdHex, keyPairFromSeed, sha256, signMessage, toHex, verifySignature,
} from '../../src/commands/index.js';

// L, the order of the Ed25519 base point (RFC 8032 section 5.1).
const L = (1n << 252n) + 27742317777372353535851937790883648493n;

/** addLToS returns a copy of a signature whose S half (little-endian, bytes 32..63) is S + L. */
function malleate(signature: Uint8Array): Uint8Array {
  let s = 0n;
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i] ?? 0);
  let sum = s + L;
  assert.ok(sum < 1n << 256n, 'S + L still fits in 32 bytes');
  const out = Uint8Array.from(signature);
  for (let i = 32; i < 64; i++) {
    out[i] = Number(sum & 0xffn);
    sum >>= 8n;
  }
  return out;
}

function naclSecret(pair: { seed: Uint8Array; publicKey: Uint8Array }): Uint8Array {
  const secret = new Uint8Array(64);
  secret.set(pair.seed, 0);
  secret.set(pair.publicKey, 32);
  return secret;
}

describe('Ed25519 signing and verification', () => {
  test('native and tweetnacl signatures are byte-identical, and both verify natively', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 512 }), (seed, message) => {
      const pair = keyPairFromSeed(seed);
      const native = signMessage(pair, message, 'native');
      const portable = signMessage(pair, message, 'tweetnacl');
      assert.equal(toHex(native), toHex(portable));
      assert.ok(verifySignature(pair.publicKey, message, portable));
    }), { numRuns: 50 });
  });

  test('generateKeyPair gives a pair whose public key tweetnacl derives from the seed', () => {
    const pair = generateKeyPair();
    assert.equal(toHex(nacl.sign.keyPair.fromSeed(pair.seed).publicKey), toHex(pair.publicKey));
    const message = new TextEncoder().encode('hello');
    assert.ok(verifySignature(pair.publicKey, message, signMessage(pair, message)));
  });

  test('a signature made by tweetnacl directly (nacl.sign.detached) verifies natively', () => {
    const pair = keyPairFromSeed(sha256(new TextEncoder().encode('direct')));
    const message = new TextEncoder().encode('body bytes');
    const signature = nacl.sign.detached(message, naclSecret(pair));
    assert.ok(verifySignature(pair.publicKey, message, signature));
  });

  test('a malleated signature (S + L) passes tweetnacl verify but is rejected natively', () => {
    const pair = keyPairFromSeed(sha256(new TextEncoder().encode('malleable')));
    const message = new TextEncoder().encode('command body');
    const signature = signMessage(pair, message);
    const malleated = malleate(signature);
    assert.notEqual(toHex(malleated), toHex(signature));
    assert.equal(nacl.sign.detached.verify(message, malleated, pair.publicKey), true, 'tweetnacl accepts S + L (the reason it is not our verifier)');
    assert.equal(verifySignature(pair.publicKey, message, malleated), false);
    assert.equal(verifySignature(pair.publicKey, message, signature), true);
  });

  test('verification fails for another message, another key, a flipped bit, and malformed input', () => {
    const pair = keyPairFromSeed(new Uint8Array(32).fill(7));
    const other = keyPairFromSeed(new Uint8Array(32).fill(8));
    const message = new TextEncoder().encode('m');
    const signature = signMessage(pair, message);
    assert.equal(verifySignature(pair.publicKey, new TextEncoder().encode('n'), signature), false);
    assert.equal(verifySignature(other.publicKey, message, signature), false);
    const flipped = Uint8Array.from(signature);
    flipped[5] = (flipped[5] ?? 0) ^ 1;
    assert.equal(verifySignature(pair.publicKey, message, flipped), false);
    assert.equal(verifySignature(pair.publicKey, message, signature.subarray(0, 63)), false);
    assert.equal(verifySignature(pair.publicKey.subarray(0, 31), message, signature), false);
  });

  test('a signature verified once is remembered only for the same key and message', () => {
    const pair = keyPairFromSeed(new Uint8Array(32).fill(9));
    const other = keyPairFromSeed(new Uint8Array(32).fill(10));
    const message = new TextEncoder().encode('remembered body');
    const signature = signMessage(pair, message);
    assert.equal(verifySignature(pair.publicKey, message, signature), true);
    // The second call is answered from the memo; any other key or message still fails.
    assert.equal(verifySignature(pair.publicKey, message, signature), true);
    assert.equal(verifySignature(other.publicKey, message, signature), false);
    assert.equal(verifySignature(pair.publicKey, new TextEncoder().encode('remembered bodY'), signature), false);
    assert.equal(verifySignature(pair.publicKey, message.subarray(1), signature), false);
    // The memo holds copies: changing the caller's bytes after a success does not make them verify.
    const mutable = Uint8Array.from(message);
    assert.equal(verifySignature(pair.publicKey, mutable, signature), true);
    mutable[0] = (mutable[0] ?? 0) ^ 1;
    assert.equal(verifySignature(pair.publicKey, mutable, signature), false);
  });

  test('keyId is the first 16 bytes of sha256(public key)', () => {
    const pair = keyPairFromSeed(new Uint8Array(32).fill(1));
    assert.equal(toHex(keyId(pair.publicKey)), toHex(sha256(pair.publicKey)).slice(0, 32));
    assert.equal(keyIdHex(pair.publicKey).length, 32);
  });
});
