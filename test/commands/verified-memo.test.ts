// verified-memo.test.ts — goal: the memo of verified signatures (crypto.ts) is bounded in bytes, not only in
// entries: telemetry bodies of tens of kilobytes filled 80 MB of a node at 10,000 devices with 2,790 of its 8,192
// entries (bench:devices heap snapshot, 2026-12-07), and it still answers the newest triples. Method: sign and
// verify 600 distinct 64 KiB messages (38 MiB) through both entry points (on the thread, and ahead in the pool),
// then read the memo's size and verify the newest again.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  MAX_VERIFIED_CACHE_BYTES, generateKeyPair, signMessage, verificationCounts, verifiedMemoStats, verifyInBackground, verifySignature,
} from '../../src/commands/index.js';

describe('the verification memo', () => {
  test('holds at most MAX_VERIFIED_CACHE_BYTES (16 MiB) of messages and keys, and answers the newest from memory', async () => {
    assert.equal(MAX_VERIFIED_CACHE_BYTES, 16 * 1024 * 1024);
    const pair = generateKeyPair();
    const signed = Array.from({ length: 600 }, () => {
      const message = randomBytes(64 * 1024);
      return { message, signature: signMessage(pair, message) };
    });
    for (const { message, signature } of signed.slice(0, 300)) assert.ok(verifySignature(pair.publicKey, message, signature));
    // In chunks: the pool takes at most MAX_BACKGROUND_VERIFICATIONS (128) at once.
    for (let start = 300; start < signed.length; start += 100) {
      await verifyInBackground(signed.slice(start, start + 100).map(({ message, signature }) => ({ publicKey: pair.publicKey, message, signature })));
    }
    const stats = verifiedMemoStats();
    assert.ok(stats.bytes <= 16 * 1024 * 1024, `the memo holds ${stats.bytes} bytes in ${stats.entries} entries`);
    assert.ok(stats.entries >= 200, `it still holds the newest entries (${stats.entries})`);
    const newest = signed[signed.length - 1]!;
    const hits = verificationCounts().memoHits;
    assert.ok(verifySignature(pair.publicKey, newest.message, newest.signature));
    assert.equal(verificationCounts().memoHits, hits + 1, 'the newest triple is answered from the memo');
  });
});
