// telemetry.test.ts — goal: μmbox alerts leave the node as `telemetry` commands, one per security domain,
// bounded in size, signed by the node key over the exact body bytes (verifiable with the node's public key),
// with strictly increasing sequence numbers; alerts for devices this node does not serve, or beyond the
// queue bound, are dropped and counted.
// Method: a TelemetryBatcher with the real signer (src/commands) and a recording submit; the signed bytes
// are decoded and verified with src/commands' native verifier.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBody, decodeSignedCommand, keyIdHex, keyPairFromSeed, verifySignature } from '../../src/commands/index.js';
import { ALERT_BATCH_MAX, MAX_PENDING_ALERTS } from '../../src/dataplane/constants.js';
import { TelemetryBatcher, batchAlerts, nodeSigner, type TelemetryBatch } from '../../src/dataplane/telemetry.js';
import type { UmboxAlert } from '../../src/dataplane/types.js';

const domains: Record<string, string> = { cam: 'home', plug: 'home', pump: 'plant' };
const domainOf = (deviceId: string): string | null => domains[deviceId] ?? null;
const alert = (deviceId: string, alertType = 'brute-force'): UmboxAlert => ({ deviceId, image: 'monitor', generation: 2, alertType, detail: '', observedAtMs: 0 });

describe('telemetry', () => {
  test('batches group alerts by domain in arrival order, at most ALERT_BATCH_MAX events each', () => {
    const alerts = [alert('cam'), alert('pump', 'port-scan'), alert('plug'), ...Array.from({ length: ALERT_BATCH_MAX }, () => alert('cam'))];
    const batches = batchAlerts('node-a', alerts, domainOf);
    assert.deepEqual(batches.map((batch) => [batch.domain, batch.events.length]), [['home', ALERT_BATCH_MAX], ['home', 2], ['plant', 1]]);
    assert.deepEqual(batches[0]?.events.slice(0, 2), [
      { kind: 'alert', deviceId: 'cam', alertType: 'brute-force', source: 'umbox:monitor:g2' },
      { kind: 'alert', deviceId: 'plug', alertType: 'brute-force', source: 'umbox:monitor:g2' },
    ]);
  });

  test('each batch is a telemetry command signed by the node key, with increasing sequence numbers', async () => {
    const keyPair = keyPairFromSeed(new Uint8Array(32).fill(7));
    const clusterId = new Uint8Array(32).fill(1);
    let seq = 41;
    const submitted: Array<{ signed: Uint8Array; batch: TelemetryBatch }> = [];
    const batcher = new TelemetryBatcher({
      nodeId: 'node-a', domainOf,
      sign: nodeSigner({ clusterId, keyPair, nextSeq: () => ++seq, ttlMs: 30_000, clock: () => 1_000_000 }),
      submit: async (signed, batch) => {
        submitted.push({ signed, batch });
      },
    });
    batcher.add(alert('cam'));
    batcher.add(alert('pump', 'port-scan'));
    batcher.add(alert('stranger')); // not served by this node
    await batcher.close();
    assert.equal(batcher.dropped, 1);
    assert.equal(submitted.length, 2, `submitted both batches (last error: ${batcher.lastError?.message ?? 'none'})`);
    const bodies = submitted.map(({ signed }) => {
      const envelope = decodeSignedCommand(signed);
      assert.equal(envelope.signatures.length, 1);
      const signature = envelope.signatures[0];
      assert.ok(signature);
      assert.ok(verifySignature(keyPair.publicKey, envelope.body, signature.sig), 'the signature covers the exact body bytes');
      const tampered = Uint8Array.from(envelope.body);
      tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
      assert.equal(verifySignature(keyPair.publicKey, tampered, signature.sig), false);
      return decodeBody(envelope.body);
    });
    assert.deepEqual(bodies.map((body) => [body.domain, body.signer, body.seq, body.notAfterMs, body.payload.kind]), [
      ['home', keyIdHex(keyPair.publicKey), 42, 1_030_000, 'telemetry'],
      ['plant', keyIdHex(keyPair.publicKey), 43, 1_030_000, 'telemetry'],
    ]);
    assert.deepEqual(bodies[1]?.payload, { kind: 'telemetry', events: [{ kind: 'alert', deviceId: 'pump', alertType: 'port-scan', source: 'umbox:monitor:g2' }] });
  });

  test('the queue is bounded: alerts beyond MAX_PENDING_ALERTS are dropped and counted', async () => {
    const batches: TelemetryBatch[] = [];
    const batcher = new TelemetryBatcher({
      nodeId: 'n', domainOf, sign: () => new Uint8Array(0), flushDelayMs: 60_000,
      submit: async (_signed, batch) => {
        batches.push(batch);
      },
    });
    for (let index = 0; index < MAX_PENDING_ALERTS + 10; index++) batcher.add(alert('cam'));
    assert.equal(batcher.dropped, 10);
    await batcher.close();
    assert.equal(batches.reduce((sum, batch) => sum + batch.events.length, 0), MAX_PENDING_ALERTS);
  });

  test('a failed submission is counted and does not stop later batches', async () => {
    let calls = 0;
    const batcher = new TelemetryBatcher({
      nodeId: 'n', domainOf, sign: () => new Uint8Array(0),
      submit: async () => {
        calls++;
        if (calls === 1) throw new Error('leader unreachable');
      },
    });
    batcher.add(alert('cam'));
    await batcher.flush();
    batcher.add(alert('cam'));
    await batcher.flush();
    assert.equal(batcher.failed, 1);
    assert.equal(calls, 2);
  });
});
