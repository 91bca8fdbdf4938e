// duplicates.test.ts — a retried or duplicated envelope always gets the original result, alone or in a
// batch, and only if its signatures verify (issue 15).
//
// Goal: the same envelope submitted again while the first copy is still being committed, twice in one
// batch, or after a term change, is answered `duplicate: true` with the original index, term and
// result, and adds no entry; a retry of a command the state rejected gets that rejection again and is
// never applied; an envelope whose body was applied but whose signature is wrong or malleated (S + L)
// is refused as a bad signature, not answered as a duplicate. Method: the real app and the real
// StateMachine behind a stand-in runtime that applies each proposal on a later turn of the event loop,
// as a cluster would after its round trip (the multi-node case is in test/node/gateway-cluster.test.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApp } from '../../src/api/app.js';
import type { ApiApp } from '../../src/api/app.js';
import { decodeSignedCommand, encodeSignedCommand } from '../../src/commands/index.js';
import { GatewayApplier } from '../../src/node/gateway-applier.js';
import { StateMachine, policyEngines } from '../../src/state/index.js';
import { T0_MS, TestCluster } from '../state/fixtures.js';
import { StandInRuntime } from './support.js';
import { malleateSignature as malleate } from '../support/ed25519.js';

interface Answer { index: number; term: number; bodyHash: string; duplicate: boolean; result: { ok: boolean; index: number; code?: string; kind?: string } }

const cluster = new TestCluster();
const applier = new GatewayApplier(new StateMachine(cluster.genesis, policyEngines));
const runtime = new StandInRuntime(applier, () => T0_MS);
let app: ApiApp;

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
async function submit(bytes: Uint8Array): Promise<{ statusCode: number; body: Answer & { error?: { code: string; details?: { commandCode?: string } } } }> {
  const response = await app.inject({ method: 'POST', url: '/v1/commands', payload: { envelope: base64(bytes) } });
  return { statusCode: response.statusCode, body: response.json() };
}

before(async () => {
  runtime.deferApply = true;
  app = await buildApp({ runtime, gateway: { applier, runtime }, nowMs: () => T0_MS });
  for (const bytes of cluster.setup(0)) assert.equal((await submit(bytes)).body.result.ok, true);
});
after(async () => {
  await app.close();
});

describe('retries and duplicates get the original result', () => {
  test('a copy submitted while the first is being committed: one entry, both answered ok, the copy as duplicate', async () => {
    const envelope = cluster.putDevice('cam-a', 'camera', 'n1');
    const proposals = runtime.proposals;
    const [first, second] = await Promise.all([submit(envelope), submit(envelope)]);
    assert.equal(first!.statusCode, 200);
    assert.equal(second!.statusCode, 200);
    assert.deepEqual([first!.body.duplicate, second!.body.duplicate].sort(), [false, true]);
    for (const answer of [first!.body, second!.body]) {
      assert.equal(answer.result.ok, true, JSON.stringify(answer));
      assert.equal(answer.index, first!.body.index);
      assert.equal(answer.term, 2);
    }
    assert.equal(runtime.proposals, proposals + 1, 'the copy waited for the first proposal');
  });

  test('the same envelope posted to two nodes at once: both proposed, the second applied as a duplicate, both answered ok', async () => {
    // A second app over the same state and runtime stands for another node: it has its own in-flight
    // proposals, so the copy reaches the log and the state answers it 'duplicate'.
    const other = await buildApp({ runtime, gateway: { applier, runtime }, nowMs: () => T0_MS });
    try {
      const envelope = base64(cluster.putDevice('cam-e', 'camera', 'n1'));
      const proposals = runtime.proposals;
      const answers = await Promise.all([app, other].map(async (node) => {
        const response = await node.inject({ method: 'POST', url: '/v1/commands', payload: { envelope } });
        assert.equal(response.statusCode, 200, response.body);
        return response.json() as Answer;
      }));
      assert.equal(runtime.proposals, proposals + 2, 'both nodes proposed it');
      assert.deepEqual(answers.map((a) => a.duplicate).sort(), [false, true]);
      for (const answer of answers) {
        assert.equal(answer.result.ok, true, JSON.stringify(answer));
        assert.equal(answer.index, answers[0]!.index);
        assert.equal(answer.term, 2);
      }
    } finally {
      await other.close();
    }
  });

  test('the same envelope twice in a batch: both items answered with the original result', async () => {
    const envelope = base64(cluster.putDevice('cam-b', 'camera', 'n1'));
    const response = await app.inject({ method: 'POST', url: '/v1/commands/batch', payload: { envelopes: [envelope, envelope] } });
    assert.equal(response.statusCode, 200);
    const { results } = response.json() as { results: Array<{ ok: boolean; answer: Answer }> };
    assert.equal(results[0]!.answer.result.ok, true, JSON.stringify(results));
    assert.equal(results[1]!.answer.result.ok, true, JSON.stringify(results));
    assert.equal(results[1]!.answer.duplicate, true);
    assert.equal(results[1]!.answer.index, results[0]!.answer.index);
  });

  test('a retry after the first copy applied, in a later term: the original index and term, never term 0', async () => {
    const envelope = cluster.putDevice('cam-c', 'camera', 'n1');
    const first = await submit(envelope);
    runtime.term = 3;
    try {
      const again = await submit(envelope);
      assert.equal(again.statusCode, 200);
      assert.equal(again.body.duplicate, true);
      assert.equal(again.body.index, first.body.index);
      assert.equal(again.body.term, first.body.term);
      assert.equal(again.body.term, 2);
      assert.equal(again.body.result.ok, true);
      assert.equal(again.body.result.kind, 'putDevice');
    } finally {
      runtime.term = 2;
    }
  });

  test('a retry of a command the state rejected gets that rejection again and is never applied', async () => {
    const envelope = cluster.as(cluster.admin, { kind: 'removeImage', name: 'no-such-image' }, 'home');
    const first = await submit(envelope);
    assert.equal(first.body.result.ok, false);
    assert.equal(first.body.result.code, 'unknown_image');
    const again = await submit(envelope);
    assert.equal(again.statusCode, 200);
    assert.equal(again.body.duplicate, true);
    assert.equal(again.body.index, first.body.index);
    assert.equal(again.body.result.code, 'unknown_image');
  });

  test('a wrong or malleated signature over an applied body is refused as a bad signature, not answered duplicate', async () => {
    const envelope = cluster.putDevice('cam-d', 'camera', 'n1');
    assert.equal((await submit(envelope)).body.result.ok, true);
    const command = decodeSignedCommand(envelope);
    const malleated = encodeSignedCommand({ ...command, signatures: command.signatures.map((s) => ({ ...s, sig: malleate(s.sig) })) });
    const flipped = encodeSignedCommand({ ...command, signatures: command.signatures.map((s) => ({ ...s, sig: Uint8Array.from(s.sig, (b, i) => (i === 0 ? b ^ 1 : b)) })) });
    for (const [name, bytes] of [['malleated', malleated], ['wrong', flipped]] as const) {
      const answer = await submit(bytes);
      assert.equal(answer.statusCode, 422, `${name}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.error?.details?.commandCode, 'bad_signature', name);
    }
  });
});
