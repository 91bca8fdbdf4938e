// framing.test.ts — goal: the length-prefixed frames inside the TLS stream come out whole and in
// order however the stream is cut, a length above the limit is refused before its body is
// buffered, and node keys made from a seed are the keys tweetnacl derives (the CLI signs with it).
// Method: FrameDecoder fed a stream cut at every byte; keys compared byte for byte.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import nacl from 'tweetnacl';
import { FrameDecoder, FrameTooLargeError, frameHeader, nodeIdentityFromPrivateKey, nodeIdentityFromSeed } from '../../src/transport/index.js';

describe('node keys', () => {
  test('a seed gives the same public key natively as tweetnacl derives from it, and PEM round-trips', () => {
    const seed = new Uint8Array(32).map((_, i) => i * 7 + 1);
    const identity = nodeIdentityFromSeed(4, seed);
    assert.deepEqual(Buffer.from(identity.publicKey), Buffer.from(nacl.sign.keyPair.fromSeed(seed).publicKey));
    const pem = identity.privateKey.export({ format: 'pem', type: 'pkcs8' });
    assert.deepEqual(Buffer.from(nodeIdentityFromPrivateKey(4, pem).publicKey), Buffer.from(identity.publicKey));
    assert.throws(() => nodeIdentityFromSeed(4, new Uint8Array(31)), /seed must be 32 bytes, got 31/);
  });
});

describe('framing', () => {
  test('frames split at every byte boundary come out whole and in order', () => {
    const stream = Buffer.concat([frameHeader(3), Buffer.from('abc'), frameHeader(0), frameHeader(5), Buffer.from('hello')]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const decoder = new FrameDecoder(16);
      const out: string[] = [];
      for (const part of [stream.subarray(0, cut), stream.subarray(cut)]) {
        decoder.push(part);
        for (let body = decoder.next(); body !== undefined; body = decoder.next()) out.push(body.toString());
      }
      assert.deepEqual(out, ['abc', '', 'hello'], `cut at ${cut}`);
      assert.equal(decoder.pendingBytes, 0);
    }
  });

  test('a length prefix above the limit is refused before any body byte is buffered', () => {
    const decoder = new FrameDecoder(16);
    decoder.push(frameHeader(17));
    assert.throws(() => decoder.next(), (error: Error) => error instanceof FrameTooLargeError && /17 bytes exceeds maxFrameBytes 16/.test(error.message));
    const exact = new FrameDecoder(16);
    exact.push(Buffer.concat([frameHeader(16), Buffer.alloc(16)]));
    assert.equal(exact.next()!.length, 16);
  });

  test('a limit of 0 admits only the empty frame (the listener\'s confirmation)', () => {
    const decoder = new FrameDecoder(0);
    decoder.push(frameHeader(0));
    assert.equal(decoder.next()!.length, 0);
    decoder.push(frameHeader(1));
    assert.throws(() => decoder.next(), FrameTooLargeError);
  });
});
