// scoped-reads.test.ts — goal: the reads that describe the whole cluster or one signer's commands serve
// only what a token grants (docs/api.md "Authentication"): GET /v1/snapshot only to a root key's token
// for every domain; GET /v1/state only to a token that grants every domain; GET /v1/commands/:bodyHash
// only to a reader of the command's domain; GET /v1/signers/:signer/seq to the signer itself, a reader
// of all of the signer's domains, or a reader of every domain. An admin of one domain gets nothing of another.
// Method: the real app and StateMachine through inject(), a stand-in one-node runtime that keeps the
// applied entries' bytes (as RaftRuntime.appliedEnvelopes does), tokens made with src/commands/token.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApp, type ApiApp } from '../../src/api/app.js';
import { GatewayApplier } from '../../src/node/gateway-applier.js';
import type { Committed } from '../../src/node/raft-runtime.js';
import { keyIdHex } from '../../src/commands/index.js';
import { StateMachine, policyEngines, type ApplyResult } from '../../src/state/index.js';
import { T0_MS, TestCluster } from '../state/fixtures.js';
import { StandInRuntime, readToken } from './support.js';

/** KeepingRuntime is the stand-in runtime that also exports the bytes of the entries it applied. */
class KeepingRuntime extends StandInRuntime {
  readonly payloads: Uint8Array[] = [];
  override async propose(payload: Uint8Array): Promise<Committed<ApplyResult>> {
    this.payloads.push(payload);
    return super.propose(payload);
  }
  appliedEnvelopes(from: number, limit: number): { firstIndex: number; entries: Array<{ index: number; term: number; timeMs: number; payload: Uint8Array }> } {
    const entries = this.payloads.slice(from - 1, from - 1 + limit).map((payload, i) => ({ index: from + i, term: this.term, timeMs: T0_MS, payload }));
    return { firstIndex: 1, entries };
  }
}

const cluster = new TestCluster();
const applier = new GatewayApplier(new StateMachine(cluster.genesis, policyEngines));
const runtime = new KeepingRuntime(applier, () => T0_MS);
let app: ApiApp;
const rootToken = (): string => readToken(cluster, T0_MS);
const homeToken = (): string => readToken(cluster, T0_MS, cluster.admin, ['home']);
const officeToken = (): string => readToken(cluster, T0_MS, cluster.officeAdmin, ['office']);
let homeDeviceHash = '';
let officeDomainHash = '';

async function submit(envelope: Uint8Array): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/v1/commands', payload: { envelope: Buffer.from(envelope).toString('base64') } });
  const body = response.json() as { bodyHash: string; result: { ok: boolean } };
  assert.equal(body.result.ok, true, response.body);
  return body.bodyHash;
}

async function get(url: string, token: string | undefined): Promise<{ status: number; tokenCode?: string }> {
  const response = await app.inject({ method: 'GET', url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  const body = response.json() as { error?: { details?: { tokenCode?: string } } };
  return { status: response.statusCode, tokenCode: body.error?.details?.tokenCode };
}

before(async () => {
  app = await buildApp({ runtime, gateway: { applier, runtime, appliedEnvelopes: (from, limit) => runtime.appliedEnvelopes(from, limit) }, nowMs: () => T0_MS });
  for (const command of cluster.setup(0)) await submit(command);
  officeDomainHash = await submit(cluster.root({ kind: 'createDomain', description: 'the office' }, 'office'));
  await submit(cluster.root({ kind: 'addAdminKey', publicKey: cluster.officeAdmin.publicKey, name: 'olga' }, 'office'));
  homeDeviceHash = await submit(cluster.putDevice('plug-0', 'smart-plug', 'n1'));
});
after(async () => {
  await app.close();
});

describe('whole-cluster reads', () => {
  test('GET /v1/snapshot is served to a root token for every domain only', async () => {
    assert.equal((await get('/v1/snapshot?consistency=stale', rootToken())).status, 200);
    assert.deepEqual(await get('/v1/snapshot?consistency=stale', homeToken()), { status: 403, tokenCode: 'role_not_allowed' });
    assert.deepEqual(await get('/v1/snapshot?consistency=stale', readToken(cluster, T0_MS, cluster.roots[0], ['home'])), { status: 403, tokenCode: 'role_not_allowed' });
    assert.deepEqual(await get('/v1/snapshot?consistency=stale', undefined), { status: 401, tokenCode: 'missing' });
  });

  test('GET /v1/state is served to a token that grants every domain only', async () => {
    assert.equal((await get('/v1/state?consistency=stale', rootToken())).status, 200);
    assert.deepEqual(await get('/v1/state?consistency=stale', homeToken()), { status: 403, tokenCode: 'wrong_domain' });
    assert.deepEqual(await get('/v1/state?consistency=stale', undefined), { status: 401, tokenCode: 'missing' });
  });
});

describe('per-domain reads of commands and signers', () => {
  test('GET /v1/commands/:bodyHash is served to readers of the command\'s domain', async () => {
    assert.equal((await get(`/v1/commands/${homeDeviceHash}`, homeToken())).status, 200);
    assert.equal((await get(`/v1/commands/${homeDeviceHash}`, rootToken())).status, 200);
    assert.deepEqual(await get(`/v1/commands/${homeDeviceHash}`, officeToken()), { status: 403, tokenCode: 'wrong_domain' });
    assert.equal((await get(`/v1/commands/${officeDomainHash}`, officeToken())).status, 200);
    assert.deepEqual(await get(`/v1/commands/${officeDomainHash}`, homeToken()), { status: 403, tokenCode: 'wrong_domain' });
  });

  test('GET /v1/signers/:signer/seq is served to the signer, readers of its domains, and readers of every domain', async () => {
    const alice = keyIdHex(cluster.admin.publicKey);
    assert.equal((await get(`/v1/signers/${alice}/seq`, homeToken())).status, 200);
    assert.equal((await get(`/v1/signers/${alice}/seq`, rootToken())).status, 200);
    assert.deepEqual(await get(`/v1/signers/${alice}/seq`, officeToken()), { status: 403, tokenCode: 'wrong_domain' });
    assert.deepEqual(await get('/v1/signers/root/seq', homeToken()), { status: 403, tokenCode: 'wrong_domain' });
    assert.equal((await get('/v1/signers/root/seq', rootToken())).status, 200);
  });
});
