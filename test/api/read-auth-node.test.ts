// read-auth-node.test.ts — goal: a real gateway node serves its API over HTTPS only, with a certificate
// that carries its node key, and serves domain data only to a valid read token whose key holds a role in
// that domain: expired, future-dated, wrongly signed, wrong-domain, revoked-key, malformed and oversized
// tokens, and a token replayed after its key's revocation, are each refused with a precise error (401 or
// 403 in the documented shape), logged once, and nothing is served; a viewer reads its domain and cannot
// write; a watch stream ends when its token stops granting what it reads; qgate pins node keys and names both keys on a mismatch; `qgate token create` makes a token that works.
// Method: LocalCluster with one gateway node (a real process, real TLS over loopback), requests through
// the pinned HTTPS client, tokens made with src/commands/token.ts or by the qgate process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../../cluster/local-cluster.js';
import { createToken, keyIdHex, signCommand, toHex, fromHex, type KeyPair, type Payload } from '../../src/commands/index.js';
import { pinnedFetch, TlsPinError } from '../../src/cli/https-fetch.js';
import { readIdentityKey, writeIdentityKey } from '../../src/node/identity.js';
import { parseNodeConfig } from '../../src/node/config.js';
import { repoPath } from '../support/paths.js';

const HOUR_MS = 3600_000;

describe('authenticated reads on a real node over HTTPS', { timeout: 120_000 }, () => {
  let cluster: LocalCluster;
  let url: string;
  let roots: KeyPair[];
  let admin: KeyPair;
  let viewer: KeyPair;
  let viewerFile: string;
  let dir: string;
  let clusterIdHex: string;
  const seqs = new Map<string, number>();

  /** sign makes a command signed by root (two keys) or by one key. */
  const sign = (payload: Payload, domain: string, by: KeyPair[] | 'root'): string => {
    const keys = by === 'root' ? roots.slice(0, 2) : by;
    const signer = by === 'root' ? 'root' : keyIdHex(keys[0]!.publicKey);
    const seq = (seqs.get(signer) ?? 0) + 1;
    seqs.set(signer, seq);
    const bytes = signCommand({ clusterId: fromHex(clusterIdHex, 32)!, domain, signer, seq, notAfterMs: Date.now() + 600_000, payload }, keys);
    return Buffer.from(bytes).toString('base64');
  };
  const submit = async (envelope: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await cluster.fetch(`${url}/v1/commands`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ envelope }) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const applied = async (payload: Payload, domain: string, by: KeyPair[] | 'root'): Promise<void> => {
    const answer = await submit(sign(payload, domain, by));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal((answer.body['result'] as { ok: boolean }).ok, true, JSON.stringify(answer.body));
  };
  /** get reads with exactly this Authorization header (none when undefined: an empty header is none). */
  const get = async (path: string, authorization?: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await cluster.fetch(`${url}${path}`, { headers: authorization === undefined ? { authorization: '' } : { authorization } });
    const text = await response.text();
    const json = (response.headers.get('content-type') ?? '').includes('application/json');
    return { status: response.status, body: json ? (JSON.parse(text) as Record<string, unknown>) : { text } };
  };
  const refused = (answer: { status: number; body: Record<string, unknown> }, status: number, tokenCode: string, message: RegExp): void => {
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    const error = answer.body['error'] as { code: string; message: string; details: { tokenCode: string } };
    assert.equal(error.code, status === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN');
    assert.equal(error.details.tokenCode, tokenCode);
    assert.match(error.message, message);
    assert.equal('devices' in answer.body || 'domains' in answer.body, false, 'nothing served');
  };
  const bearer = (token: string): string => `Bearer ${token}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qg-read-auth-'));
    cluster = await LocalCluster.create({ dir: join(dir, 'cluster'), nodes: 1, application: 'quorumgate' });
    cluster.start(1);
    await cluster.waitForLeader(30_000);
    url = cluster.apiUrl(1);
    clusterIdHex = cluster.clusterId;
    roots = cluster.rootKeyFiles().map((file) => readIdentityKey(file));
    admin = writeIdentityKey(join(dir, 'admin.key'));
    viewerFile = join(dir, 'viewer.key');
    viewer = writeIdentityKey(viewerFile);
    await applied({ kind: 'createDomain', description: 'home' }, 'home', 'root');
    await applied({ kind: 'createDomain', description: 'office' }, 'office', 'root');
    await applied({ kind: 'addAdminKey', publicKey: admin.publicKey, name: 'alice' }, 'home', 'root');
    // An admin grants a viewer of its own domain.
    await applied({ kind: 'addViewerKey', publicKey: viewer.publicKey, name: 'watch-desk' }, 'home', [admin]);
  });
  after(async () => {
    await cluster?.destroy();
  });

  test('the API is HTTPS only, with a certificate carrying the node key; plain HTTP gets nothing', async () => {
    assert.match(url, /^https:\/\//);
    const plain = await fetch(url.replace('https:', 'http:') + '/healthz').then((r) => r.status, (error: Error) => error.message);
    assert.notEqual(plain, 200);
    const wrongPins = pinnedFetch({ kind: 'pins', pins: { byOrigin: new Map([[url, toHex(roots[0]!.publicKey)]]), members: new Set(), source: 'the members file m.json' } });
    await assert.rejects(wrongPins(`${url}/healthz`, {}), (error: unknown) => {
      assert.ok(error instanceof TlsPinError);
      assert.equal(error.message, `${url}: certificate mismatch: the node presented key ${cluster.nodes[0]!.publicKey}, but the members file m.json names key ${toHex(roots[0]!.publicKey)} for this endpoint`);
      return true;
    });
  });

  test('health, status without device details, and metrics stay open; every domain read needs a token', async () => {
    assert.equal((await get('/healthz')).status, 200);
    assert.equal((await get('/metrics')).status, 200);
    const status = await get('/v1/status');
    assert.equal(status.status, 200);
    assert.equal(status.body['clusterId'], clusterIdHex);
    assert.equal('enforced' in status.body || 'devices' in status.body, false);
    for (const path of ['/v1/devices', '/v1/domains', '/v1/policies/home', '/v1/images', '/v1/keys', '/v1/rejections', '/v1/state', '/v1/audit/log', '/v1/watch', '/v1/discovered', '/v1/device-commands', '/v1/devices/x/readings']) {
      refused(await get(path), 401, 'missing', /expected an Authorization: Bearer TOKEN header/);
    }
  });

  test('a token is refused before the body is read', async () => {
    const response = await cluster.fetch(`${url}/v1/state`, { method: 'GET', headers: { authorization: '', 'content-type': 'application/json', 'x-note': 'no body parsing' } });
    assert.equal(response.status, 401);
  });

  test('bad tokens: expired, future-dated, wrongly signed, malformed, oversized, wrong cluster, not EdDSA', async () => {
    const now = Date.now();
    refused(await get('/v1/domains', bearer(createToken(viewer, clusterIdHex, '*', now - 3 * HOUR_MS, 3600))), 401, 'expired', /token expired at \d+, now is \d+/);
    refused(await get('/v1/domains', bearer(createToken(viewer, clusterIdHex, '*', now + HOUR_MS, 3600))), 401, 'future_dated', /s in the future/);
    const [header, claims] = createToken(viewer, clusterIdHex, '*', now, 600).split('.');
    const otherSignature = createToken(admin, clusterIdHex, '*', now, 600).split('.')[2];
    refused(await get('/v1/domains', bearer(`${header}.${claims}.${otherSignature}`)), 401, 'bad_signature', new RegExp(`does not verify with key ${keyIdHex(viewer.publicKey)}`));
    refused(await get('/v1/domains', 'Bearer not-a-token'), 401, 'malformed', /expected three base64url parts/);
    refused(await get('/v1/domains', 'Basic dXNlcjpwYXNz'), 401, 'malformed', /expected "Bearer TOKEN"/);
    refused(await get('/v1/domains', bearer(`${header}.${'A'.repeat(5000)}.x`)), 401, 'oversized', /at most 4096 characters, found 50\d\d/);
    refused(await get('/v1/domains', bearer(createToken(viewer, '0'.repeat(64), '*', now, 600))), 401, 'wrong_cluster', /token is for cluster 0{64}/);
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT', kid: keyIdHex(viewer.publicKey) })).toString('base64url');
    refused(await get('/v1/domains', bearer(`${none}.${claims}.${otherSignature}`)), 401, 'bad_header', /header.alg: expected "EdDSA", found "none"/);
    refused(await get('/v1/domains', bearer(createToken(writeIdentityKey(join(dir, 'stranger.key')), clusterIdHex, '*', now, 600))), 401, 'unknown_key', /never added, or revoked/);
  });

  test('a viewer reads its domain only: lists and the watch stream are filtered, another domain is 403, and it cannot write', async () => {
    const token = bearer(createToken(viewer, clusterIdHex, '*', Date.now(), 600));
    const domains = await get('/v1/domains', token);
    assert.equal(domains.status, 200);
    assert.deepEqual((domains.body['domains'] as { name: string }[]).map((d) => d.name), ['home']);
    refused(await get('/v1/devices?domain=office', token), 403, 'wrong_domain', /does not grant domain "office"/);
    refused(await get('/v1/audit/log', token), 403, 'wrong_domain', /the audit export holds every domain's commands/);
    refused(await get('/v1/domains', bearer(createToken(viewer, clusterIdHex, ['office'], Date.now(), 600))), 403, 'wrong_domain', /names domain "office", in which key [0-9a-f]{32} holds no role/);
    // The watch stream carries only the entries of its domains: one createDomain (home's), not office's.
    const controller = new AbortController();
    const watch = await cluster.fetch(`${url}/v1/watch?from=1`, { headers: { authorization: token }, signal: controller.signal });
    assert.equal(watch.status, 200);
    const reader = watch.body!.getReader();
    let stream = '';
    const stop = setTimeout(() => controller.abort(), 1500);
    try {
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) stream += Buffer.from(chunk.value).toString('utf8');
    } catch {
      // Aborted after 1.5 s: what arrived by then is the replay.
    }
    clearTimeout(stop);
    const kinds = [...stream.matchAll(/"index":\d+,"kind":"([A-Za-z]+)"/g)].map((m) => m[1]);
    assert.deepEqual(kinds, ['createDomain', 'addAdminKey', 'addViewerKey'], stream);
    const write = await submit(sign({ kind: 'putImage', name: 'monitor', digest: `sha256:${'1'.repeat(64)}` }, 'home', [viewer]));
    assert.equal(write.status, 422, JSON.stringify(write.body));
    assert.match((write.body['error'] as { message: string }).message, /a viewer key may not sign putImage/);
    // A root token reads every domain, and the audit export.
    const root = bearer(createToken(roots[0]!, clusterIdHex, '*', Date.now(), 600));
    assert.deepEqual(((await get('/v1/domains', root)).body['domains'] as { name: string }[]).map((d) => d.name), ['home', 'office']);
    assert.equal((await get('/v1/audit/log', root)).status, 200);
  });

  test('qgate token create makes a token other tools use; it is refused once its key is revoked (replay after revocation)', async () => {
    const created = spawnSync(process.execPath, [repoPath('dist/src/cli/main.js'), '--key', viewerFile, 'token', 'create', '--ttl', '8h', '--domain', 'home'], {
      env: { ...process.env, ...cluster.qgateEnv() }, encoding: 'utf8', timeout: 60_000,
    });
    assert.equal(created.status, 0, created.stderr);
    const token = bearer(created.stdout.trim());
    assert.equal((await get('/v1/devices', token)).status, 200);
    await applied({ kind: 'revokeViewerKey', keyId: fromHex(keyIdHex(viewer.publicKey), 16)! }, 'home', [admin]);
    refused(await get('/v1/devices', token), 401, 'unknown_key', new RegExp(`no root, admin or viewer key has id ${keyIdHex(viewer.publicKey)}`));
  });

  test('a watch stream ends with an error event once its token no longer grants every domain (a key revoked)', async () => {
    const watcher = writeIdentityKey(join(dir, 'watcher.key'));
    await applied({ kind: 'addViewerKey', publicKey: watcher.publicKey, name: 'w' }, 'home', 'root');
    await applied({ kind: 'addViewerKey', publicKey: watcher.publicKey, name: 'w' }, 'office', 'root');
    const response = await cluster.fetch(`${url}/v1/watch`, { headers: { authorization: bearer(createToken(watcher, clusterIdHex, '*', Date.now(), 600)) } });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    await applied({ kind: 'revokeViewerKey', keyId: fromHex(keyIdHex(watcher.publicKey), 16)! }, 'office', 'root');
    let text = '';
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += Buffer.from(chunk.value).toString('utf8');
    }
    assert.match(text, /event: error\ndata: \{"code":"UNAUTHENTICATED","message":"watch: ended: the token no longer grants every domain"\}/);
  });

  test('qgate names the endpoint and both keys when a node presents another key than its members file says', () => {
    const members = join(dir, 'wrong-members.json');
    writeFileSync(members, JSON.stringify({ members: [{ nodeId: '1', endpoint: url, publicKey: toHex(roots[1]!.publicKey) }] }));
    const run = spawnSync(process.execPath, [repoPath('dist/src/cli/main.js'), '--members', members, '--key', cluster.rootKeyFiles()[0]!, 'devices', 'list'], {
      env: { ...process.env, QGATE_ENDPOINTS: url }, encoding: 'utf8', timeout: 60_000,
    });
    assert.equal(run.status, 3, run.stderr);
    assert.ok(run.stderr.includes(`${url}: certificate mismatch: the node presented key ${cluster.nodes[0]!.publicKey}, but the members file ${members} names key ${toHex(roots[1]!.publicKey)}`), run.stderr);
  });

  test('refusals are logged once per reason and address in a minute, not once per request', async () => {
    const expired = bearer(createToken(admin, clusterIdHex, '*', Date.now() - 3 * HOUR_MS, 3600));
    for (let i = 0; i < 20; i++) assert.equal((await get('/v1/keys', expired)).status, 401);
    const log = readFileSync(join(cluster.nodeDir(1), 'node.log'), 'utf8');
    const lines = log.split('\n').filter((line) => line.includes('read token refused') && line.includes('"code":"expired"'));
    assert.equal(lines.length, 1, lines.join('\n'));
  });
});

describe('the node refuses plain HTTP on a non-loopback API address', () => {
  test('apiTls: off is a configuration error unless api.host is a loopback address', () => {
    const base = { nodeId: 1, dataDir: '/tmp/x', genesisFile: 'g.json', identityKeyFile: 'k', raft: { host: '0.0.0.0', port: 7001 } };
    assert.throws(() => parseNodeConfig({ ...base, api: { host: '0.0.0.0', port: 8001 }, apiTls: 'off' }, 'node.yaml'),
      /config node\.yaml: at apiTls: "off" serves the API in plain HTTP, allowed only on a loopback address; api\.host is "0\.0\.0\.0"/);
    assert.equal(parseNodeConfig({ ...base, api: { host: '127.0.0.1', port: 8001 }, apiTls: 'off' }, 'node.yaml').apiTls, 'off');
    assert.equal(parseNodeConfig({ ...base, api: { host: '10.0.0.1', port: 8001 } }, 'node.yaml').apiTls, undefined);
  });
});
