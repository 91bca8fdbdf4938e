// gateway-api.test.ts — the HTTP API contract (docs/api.md), through Fastify's inject().
//
// Goal: what a client of the API relies on: a signed command is answered with its index and
// result; the same envelope retried is answered with the original result and never applied
// twice; bad input is a 400 naming what was wrong; a command that fails verification at the edge
// is a 422 and is never proposed; reads answer with the index they reflect; an indeterminate
// outcome says so; /metrics and /readyz work; watch streams applied entries.
// Method: the real app and the real StateMachine; the Raft runtime is replaced by a small
// single-node stand-in that applies each proposal at once (the real cluster is covered by the
// end-to-end tests).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApp } from '../../src/api/app.js';
import type { ApiApp } from '../../src/api/app.js';
import type { RuntimeApi } from '../../src/api/deps.js';
import { GatewayApplier } from '../../src/node/gateway-applier.js';
import type { Committed, RuntimeCounters, RuntimeStatus } from '../../src/node/raft-runtime.js';
import { RuntimeError } from '../../src/node/runtime-errors.js';
import { StateMachine, policyEngines } from '../../src/state/index.js';
import type { ApplyResult } from '../../src/state/index.js';
import { T0_MS, TestCluster } from '../state/fixtures.js';
import { readToken, withReadToken } from './support.js';

/** StandInRuntime applies every proposal at once, as a one-node cluster would. */
class StandInRuntime implements RuntimeApi<ApplyResult> {
  proposals = 0;
  failNext: RuntimeError | undefined;
  leader = 1;
  private index = 0;
  constructor(private readonly applier: GatewayApplier, private readonly clock: () => number) {}
  status(): RuntimeStatus {
    return { id: 1, role: this.leader === 1 ? 'leader' : 'follower', leader: this.leader, term: 2, commit: this.index, applied: this.index,
      snapshotIndex: 0, lastIndex: this.index, voters: [1], learners: [], removed: false };
  }
  counters(): RuntimeCounters {
    return { readies: 0, saves: 0, syncedSaves: 0, savedEntries: 0, saveMs: 0, syncedSaveMs: 0, appliedEntries: this.index, sentMessages: 0, droppedMessages: 0, pendingProposals: 0, pendingReads: 0 };
  }
  async propose(payload: Uint8Array): Promise<Committed<ApplyResult>> {
    this.proposals += 1;
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    this.index += 1;
    const timeMs = this.clock();
    const result = this.applier.apply({ index: this.index, term: 2, timeMs, payload });
    return { index: this.index, term: 2, timeMs, result };
  }
  async readIndex(): Promise<number> {
    return this.index;
  }
  addMember(): void {}
  removeMember(): void {}
  transferLeadership(): void {}
}

const cluster = new TestCluster();
let now = T0_MS;
const applier = new GatewayApplier(new StateMachine(cluster.genesis, policyEngines));
const runtime = new StandInRuntime(applier, () => now);
let app: ApiApp;

function submit(envelope: Uint8Array | string): Promise<{ statusCode: number; body: string; json: () => Record<string, unknown> }> {
  const text = typeof envelope === 'string' ? envelope : Buffer.from(envelope).toString('base64');
  return app.inject({ method: 'POST', url: '/v1/commands', payload: { envelope: text } }) as never;
}

before(async () => {
  app = withReadToken(await buildApp({ runtime, gateway: { applier, runtime }, nowMs: () => now }), cluster, () => now);
});
after(async () => {
  await app.close();
});

describe('POST /v1/commands', () => {
  test('a signed command is committed and answered with its index and result', async () => {
    const response = await submit(cluster.root({ kind: 'createDomain', description: 'the house' }, 'home'));
    assert.equal(response.statusCode, 200, JSON.stringify(response.json()));
    const body = response.json() as { index: number; duplicate: boolean; result: { ok: boolean; kind: string } };
    assert.equal(body.duplicate, false);
    assert.equal(body.result.ok, true);
    assert.equal(body.result.kind, 'createDomain');
    assert.equal(body.index, 1);
  });

  test('the same envelope retried returns the original result and is not applied again', async () => {
    const envelope = cluster.root({ kind: 'addAdminKey', publicKey: cluster.admin.publicKey, name: 'alice' }, 'home');
    const first = (await submit(envelope)).json() as { index: number };
    const proposalsBefore = runtime.proposals;
    const again = await submit(envelope);
    assert.equal(again.statusCode, 200);
    const body = again.json() as { index: number; duplicate: boolean };
    assert.equal(body.duplicate, true);
    assert.equal(body.index, first.index);
    assert.equal(runtime.proposals, proposalsBefore, 'a duplicate must not be proposed');
  });

  test('bad input is a 400 that names what was wrong', async () => {
    const notBase64 = await submit('%%%%');
    assert.equal(notBase64.statusCode, 400);
    assert.match(String((notBase64.json() as { error: { message: string } }).error.message), /body\.envelope: expected standard base64/);
    const garbage = await submit(Buffer.from('definitely not protobuf'));
    assert.equal(garbage.statusCode, 400);
    assert.equal((garbage.json() as { error: { details: { commandCode: string } } }).error.details.commandCode, 'malformed_envelope');
    const extra = await app.inject({ method: 'POST', url: '/v1/commands', payload: { envelope: 'AAAA', sneaky: true } });
    assert.equal(extra.statusCode, 400);
    const missing = await app.inject({ method: 'POST', url: '/v1/commands', payload: {} });
    assert.equal(missing.statusCode, 400);
    assert.match(missing.body, /envelope/);
    // A body's JSON types are taken as sent: a number is not a string, a string is not a number.
    const numberEnvelope = await app.inject({ method: 'POST', url: '/v1/commands', payload: { envelope: 12345678 } });
    assert.equal(numberEnvelope.statusCode, 400);
    assert.match(numberEnvelope.body, /body\/envelope must be string/);
    const stringTimeout = await app.inject({ method: 'POST', url: '/v1/commands', payload: { envelope: 'AAAA', timeoutMs: '1000' } });
    assert.equal(stringTimeout.statusCode, 400);
    assert.match(stringTimeout.body, /body\/timeoutMs must be integer/);
  });

  test('wait=enforced is refused by a node without a data plane, and its timeout is bounded', async () => {
    const envelope = Buffer.from(cluster.root({ kind: 'createDomain', description: 'lab' }, 'lab')).toString('base64');
    const noDataplane = await app.inject({ method: 'POST', url: '/v1/commands', payload: { envelope, wait: 'enforced' } });
    assert.equal(noDataplane.statusCode, 400);
    assert.match(noDataplane.body, /needs a node that runs a data plane/);
    const tooLong = await app.inject({ method: 'POST', url: '/v1/commands', payload: { envelope, wait: 'committed', timeoutMs: 10_000_000 } });
    assert.equal(tooLong.statusCode, 400);
    assert.match(tooLong.body, /timeoutMs/);
  });

  test('a forged command is refused at the edge with 422 and never proposed', async () => {
    const envelope = Buffer.from(cluster.as(cluster.admin, { kind: 'putImage', name: 'monitor', digest: `sha256:${'1'.repeat(64)}` }, 'home'));
    envelope[envelope.length - 1] = envelope[envelope.length - 1]! ^ 0x01; // the last byte belongs to the signature
    const before = runtime.proposals;
    const response = await submit(envelope);
    assert.equal(response.statusCode, 422, response.body);
    assert.equal((response.json() as { error: { details: { commandCode: string } } }).error.details.commandCode, 'bad_signature');
    assert.equal(runtime.proposals, before);
  });

  test('an expired command is refused with 422', async () => {
    const envelope = cluster.root({ kind: 'createDomain', description: 'late' }, 'late', { notAfterMs: now - 1 });
    const response = await submit(envelope);
    assert.equal(response.statusCode, 422);
    assert.equal((response.json() as { error: { details: { commandCode: string } } }).error.details.commandCode, 'expired');
  });

  test('an indeterminate outcome is a 504 or 503 that says so', async () => {
    runtime.failNext = new RuntimeError('RUNTIME_PROPOSAL_TIMEOUT', 'no outcome in time');
    const timeout = await submit(cluster.root({ kind: 'createDomain', description: 'office' }, 'office'));
    assert.equal(timeout.statusCode, 504);
    assert.equal((timeout.json() as { error: { details: { indeterminate: boolean } } }).error.details.indeterminate, true);
    runtime.failNext = new RuntimeError('RUNTIME_PROPOSAL_DROPPED', 'no leader');
    const dropped = await submit(cluster.root({ kind: 'createDomain', description: 'office' }, 'office'));
    assert.equal(dropped.statusCode, 503);
    assert.equal((dropped.json() as { error: { details: { indeterminate: boolean } } }).error.details.indeterminate, false);
  });
});

describe('reads', () => {
  test('devices are listed with their security state and the index the answer reflects', async () => {
    for (const command of cluster.setup(2).slice(2)) assert.equal((await submit(command)).statusCode, 200);
    const list = await app.inject({ method: 'GET', url: '/v1/devices?domain=home' });
    assert.equal(list.statusCode, 200);
    const body = list.json() as { index: number; devices: Array<{ id: string; state: string }> };
    assert.deepEqual(body.devices.map((d) => [d.id, d.state]), [['plug-0', 'normal'], ['plug-1', 'normal']]);
    assert.equal(body.index, applier.machine.lastApplied().index);
    const one = await app.inject({ method: 'GET', url: '/v1/devices/plug-0?consistency=stale' });
    assert.equal(one.statusCode, 200);
    assert.equal((one.json() as { state: string }).state, 'normal');
    const missing = await app.inject({ method: 'GET', url: '/v1/devices/ghost' });
    assert.equal(missing.statusCode, 404);
    const badConsistency = await app.inject({ method: 'GET', url: '/v1/devices?consistency=eventual' });
    assert.equal(badConsistency.statusCode, 400);
  });

  test("a signer's last sequence number is readable, so a client can pick the next", async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/signers/root/seq' });
    assert.equal(response.statusCode, 200);
    assert.equal((response.json() as { lastSeq: number }).lastSeq, applier.machine.lastSeq('root'));
    assert.ok(applier.machine.lastSeq('root') >= 2);
  });

  test('the state summary carries the state hash and audit chain', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/state' });
    const body = response.json() as { stateHash: string; auditChain: string };
    assert.equal(body.stateHash, applier.machine.stateHash());
    assert.equal(body.auditChain, applier.machine.auditChain());
  });
});

describe('health and metrics', () => {
  test('/readyz is 503 without a leader and 200 with one; /metrics speaks Prometheus', async () => {
    runtime.leader = 0;
    assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 503);
    runtime.leader = 1;
    assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(metrics.statusCode, 200);
    assert.match(metrics.body, /^quorumgate_raft_term 2$/m);
    assert.match(metrics.body, /^quorumgate_raft_is_leader 1$/m);
  });
});

describe('GET /v1/watch', () => {
  test('streams applied entries as server-sent events, from a remembered index', async () => {
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const from = applier.machine.lastApplied().index;
    const controller = new AbortController();
    const response = await fetch(`${address}/v1/watch?from=${from}`, { signal: controller.signal, headers: { authorization: `Bearer ${readToken(cluster, now)}` } });
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    const reader = response.body!.getReader();
    now += 1000;
    await submit(cluster.as(cluster.admin, { kind: 'setDeviceState', deviceId: 'plug-0', state: 'suspicious', reason: 'manual check' }, 'home'));
    let text = '';
    const deadline = Date.now() + 5000;
    while (!text.includes('setDeviceState') && Date.now() < deadline) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += Buffer.from(chunk.value).toString('utf8');
    }
    controller.abort();
    assert.match(text, /event: applied/);
    assert.match(text, new RegExp(`id: ${from}\\n`), 'the remembered entry at `from` is replayed first');
    assert.match(text, /"kind":"setDeviceState"/);
    assert.match(text, /"kind":"deviceState","deviceId":"plug-0","from":"normal","to":"suspicious"/);
  });
});

describe('POST /v1/commands/batch', () => {
  type BatchItem = { ok: true; answer: { index: number; duplicate: boolean; result: { ok: boolean; kind?: string } } } | { ok: false; error: { code: string; message: string; details?: Record<string, unknown> } };
  const batch = async (envelopes: readonly (Uint8Array | string)[]): Promise<{ statusCode: number; body: string; results: BatchItem[] }> => {
    const payload = { envelopes: envelopes.map((e) => (typeof e === 'string' ? e : Buffer.from(e).toString('base64'))) };
    const response = await app.inject({ method: 'POST', url: '/v1/commands/batch', payload });
    return { statusCode: response.statusCode, body: response.body, results: response.statusCode === 200 ? (response.json() as { results: BatchItem[] }).results : [] };
  };

  test('each command of a batch is proposed, committed and answered on its own, in order', async () => {
    const proposalsBefore = runtime.proposals;
    const envelopes = ['b1', 'b2', 'b3'].map((domain) => cluster.root({ kind: 'createDomain', description: `batch ${domain}` }, domain));
    const response = await batch(envelopes);
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(response.results.length, 3);
    const indexes = response.results.map((item) => {
      assert.ok(item.ok, JSON.stringify(item));
      assert.equal(item.answer.result.kind, 'createDomain');
      assert.equal(item.answer.duplicate, false);
      return item.answer.index;
    });
    assert.deepEqual(indexes, [indexes[0], indexes[0]! + 1, indexes[0]! + 2]);
    assert.equal(runtime.proposals - proposalsBefore, 3, 'one proposal per command');
  });

  test('a long batch of one signer is proposed in its order although its signatures are verified in the pool (no stale_sequence)', async () => {
    // Items after the first are verified ahead in the thread pool, which finishes them in any order;
    // a signer's commands must still be proposed in the order sent, or a later seq applies first and
    // the earlier one is refused as stale (found by bench:reaction-cluster's registration in CI).
    const envelopes = Array.from({ length: 64 }, (_, i) => cluster.root({ kind: 'createDomain', description: `long batch ${i}` }, `lb${i}`));
    const response = await batch(envelopes);
    assert.equal(response.statusCode, 200, response.body);
    const indexes = response.results.map((item, i) => {
      assert.ok(item.ok && item.answer.result.ok, `item ${i}: ${JSON.stringify(item)}`);
      return item.answer.index;
    });
    assert.deepEqual(indexes, indexes.map((_, i) => indexes[0]! + i), 'proposed in the order sent');
  });

  test('a forged command, a duplicate and an indeterminate outcome are answered for their own item only', async () => {
    const applied = cluster.root({ kind: 'createDomain', description: 'batch b4' }, 'b4');
    assert.equal((await submit(applied)).statusCode, 200);
    const forged = Buffer.from(cluster.root({ kind: 'createDomain', description: 'batch b5' }, 'b5'));
    forged[forged.length - 1] = forged[forged.length - 1]! ^ 0x01;
    const good = cluster.root({ kind: 'createDomain', description: 'batch b6' }, 'b6');
    const proposalsBefore = runtime.proposals;
    runtime.failNext = new RuntimeError('RUNTIME_PROPOSAL_TIMEOUT', 'no outcome in time');
    const lost = cluster.root({ kind: 'createDomain', description: 'batch b7' }, 'b7');
    const response = await batch([lost, forged, applied, good]);
    assert.equal(response.statusCode, 200, response.body);
    const [timedOut, refused, duplicate, committed] = response.results;
    assert.ok(timedOut && !timedOut.ok && timedOut.error.code === 'TIMEOUT' && timedOut.error.details?.indeterminate === true, JSON.stringify(timedOut));
    assert.ok(refused && !refused.ok && refused.error.code === 'UNPROCESSABLE', JSON.stringify(refused));
    assert.equal(refused.error.details?.commandCode, 'bad_signature');
    assert.match(refused.error.message, /^body\.envelopes\[1\]: the command was not proposed/);
    assert.ok(duplicate?.ok && duplicate.answer.duplicate, JSON.stringify(duplicate));
    assert.ok(committed?.ok && committed.answer.result.kind === 'createDomain' && !committed.answer.duplicate, JSON.stringify(committed));
    assert.equal(runtime.proposals - proposalsBefore, 2, 'the timed-out and the good command were proposed; the forged one and the duplicate were not');
  });

  test('bad input is a 400 that names what was wrong', async () => {
    const empty = await batch([]);
    assert.equal(empty.statusCode, 400);
    assert.match(empty.body, /envelopes/);
    const tooMany = await batch(Array.from({ length: 257 }, () => 'AAAA'));
    assert.equal(tooMany.statusCode, 400);
    assert.match(tooMany.body, /256/);
    const notBase64 = await batch(['AAAA', '%%%%']);
    assert.equal(notBase64.statusCode, 200);
    assert.ok(notBase64.results[1] && !notBase64.results[1].ok);
    assert.match(notBase64.results[1].error.message, /body\.envelopes\[1\]: expected standard base64/);
    const extra = await app.inject({ method: 'POST', url: '/v1/commands/batch', payload: { envelopes: ['AAAA'], wait: 'enforced' } });
    assert.equal(extra.statusCode, 400);
    const wrongType = await app.inject({ method: 'POST', url: '/v1/commands/batch', payload: { envelopes: [42] } });
    assert.equal(wrongType.statusCode, 400);
  });
});
