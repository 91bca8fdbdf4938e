// dashboard-routes.test.ts — the API side of the dashboard: /ui/ and /v1/dashboard/* (docs/dashboard.md).
//
// Goal: the assets come with a Content-Security-Policy that allows nothing inline or foreign, an unbuilt
// dashboard says how to build it, and the dashboard's reads say what a person needs: a device's state
// changes with the rule or admin that made them, its alerts and readings, the command that changes its
// state, the policy's states and rules with readable conditions, and which node answers and how far behind.
// Method: the real app and StateMachine behind a GatewayApplier, fed real signed commands through
// POST /v1/commands; the Raft runtime is a stand-in that applies each proposal at once (as in
// test/api/device-api.test.ts). The browser test (dashboard.test.ts) drives the same routes from Chromium.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { buildApp, type ApiApp } from '../../src/api/app.js';
import { formatCondition, RoleTracker } from '../../src/api/routes-dashboard.js';
import { UI_CONTENT_SECURITY_POLICY, uiRoutes } from '../../src/api/routes-ui.js';
import { GatewayApplier } from '../../src/node/gateway-applier.js';
import type { RuntimeStatus } from '../../src/node/raft-runtime.js';
import { policyEngines, StateMachine } from '../../src/state/index.js';
import { FIREWALL_DIGEST, homePolicy, MONITOR_DIGEST, T0_MS, TestCluster } from '../state/fixtures.js';
import { StandInRuntime } from '../support/stand-in-runtime.js';
import { readToken, withReadToken } from '../api/support.js';

/** LaggingRuntime is a follower of a 3-node cluster; `commitAhead` makes it know of entries it has not applied. */
class LaggingRuntime extends StandInRuntime {
  commitAhead = 0;
  get appliedIndex(): number {
    return this.index;
  }
  override status(): RuntimeStatus {
    return { ...super.status(), id: 2, role: 'follower', commit: this.index + this.commitAhead, voters: [1, 2, 3] };
  }
}

const cluster = new TestCluster();
const n1Key = cluster.nodes[0]!;
let now = T0_MS;
const applier = new GatewayApplier(new StateMachine(cluster.genesis, policyEngines));
const runtime = new LaggingRuntime(applier, () => now);
let app: ApiApp;
type Json = Record<string, unknown>;

async function submit(envelope: Uint8Array): Promise<void> {
  now += 1000;
  const response = await app.inject({ method: 'POST', url: '/v1/commands', payload: { envelope: Buffer.from(envelope).toString('base64') } });
  assert.equal(response.statusCode, 200, response.body);
  assert.match(response.body, /"ok":true/, response.body);
}

async function get(url: string, status = 200): Promise<Json> {
  const response = await app.inject({ method: 'GET', url });
  assert.equal(response.statusCode, status, `${url}: ${response.body}`);
  return response.json() as Json;
}

before(async () => {
  app = withReadToken(await buildApp({ runtime, gateway: { applier, runtime, appliedEnvelopes: (from, limit) => runtime.appliedEnvelopes(from, limit) }, nowMs: () => now }), cluster, () => now);
  for (const command of [
    cluster.root({ kind: 'createDomain', description: 'the house' }, 'home'),
    cluster.root({ kind: 'addAdminKey', publicKey: cluster.admin.publicKey, name: 'alice' }, 'home'),
    cluster.as(cluster.admin, { kind: 'putImage', name: 'monitor', digest: MONITOR_DIGEST }, 'home'),
    cluster.as(cluster.admin, { kind: 'putImage', name: 'firewall', digest: FIREWALL_DIGEST }, 'home'),
    cluster.as(cluster.admin, { kind: 'setPolicy', documentJson: JSON.stringify(homePolicy(1)) }, 'home'),
    cluster.putDevice('plug-0', 'smart-plug', 'n1'),
    cluster.putDevice('plug-1', 'smart-plug', 'n2'),
  ]) await submit(command);
});
after(async () => {
  await app.close();
});

describe('GET /v1/dashboard/*', () => {
  test('a device\'s page data: the rule and the admin that moved it, its alerts, readings and the qgate command', async () => {
    for (const watts of [1900, 1950, 2000]) await submit(cluster.as(n1Key, { kind: 'telemetry', events: [{ kind: 'reading', deviceId: 'plug-0', sensor: 'power', value: watts }] }, 'home'));
    await submit(cluster.as(n1Key, { kind: 'telemetry', events: [{ kind: 'alert', deviceId: 'plug-0', alertType: 'brute-force-login', source: 'monitor' }] }, 'home'));
    await submit(cluster.as(cluster.admin, { kind: 'setDeviceState', deviceId: 'plug-1', state: 'attack', reason: 'stolen' }, 'home'));
    const { device } = await get('/v1/dashboard/devices/plug-0') as { device: Json };
    const changes = device['changes'] as Array<{ from: string; to: string; rule: string }>;
    assert.deepEqual(changes.map((c) => [c.from, c.to, c.rule]), [['normal', 'suspicious', 'overload']]);
    assert.deepEqual((device['alerts'] as Array<{ alertType: string }>).map((a) => a.alertType), ['brute-force-login']);
    assert.deepEqual((device['readings'] as Array<{ sensor: string; history: Array<{ value: number }> }>)[0]?.history.map((h) => h.value), [1900, 1950, 2000]);
    assert.match(device['stateCommand'] as string, /^qgate --key <admin key of home> state set plug-0 \S+ --reason 'why you change it'$/);
    const other = await get('/v1/dashboard/devices/plug-1') as { device: { changes: Array<{ rule: string; to: string }> } };
    assert.match(other.device.changes[0]?.rule ?? '', /^manual by [0-9a-f]{8}: stolen$/);
    const { devices } = await get('/v1/dashboard/devices') as { devices: Array<{ id: string; state: string; lastAlert: { alertType: string } | null; plan: string }> };
    assert.deepEqual(devices.map((d) => [d.id, d.state, d.lastAlert?.alertType ?? null]), [['plug-0', 'suspicious', 'brute-force-login'], ['plug-1', 'attack', null]]);
    await get('/v1/dashboard/devices/nope', 404);
  });

  test('the node says how far its applied state is behind what it knows committed', async () => {
    runtime.commitAhead = 7;
    const node = await get('/v1/dashboard/node');
    runtime.commitAhead = 0;
    assert.equal(node['behindEntries'], 7);
    assert.equal(node['role'], 'follower');
    assert.equal(node['applied'], runtime.appliedIndex);
  });

  test('the policy: a state per state with its chain or verdict, a rule per rule with its condition and commands', async () => {
    const { domains } = await get('/v1/dashboard/policy') as { domains: Array<{ name: string; deviceTypes: Array<{ name: string; states: Array<{ name: string; plan: string }>; rules: Array<{ name: string; when: string; commands: string[] }> }> }> };
    const plug = domains[0]!.deviceTypes.find((t) => t.name === 'smart-plug')!;
    const source = (homePolicy(1)['deviceTypes'] as Array<{ name: string; states: unknown[]; rules: unknown[] }>).find((t) => t.name === 'smart-plug')!;
    assert.equal(plug.states.length, source.states.length);
    assert.equal(plug.rules.length, source.rules.length);
    assert.ok(plug.states.some((s) => s.plan === 'quarantine'), JSON.stringify(plug.states));
    assert.ok(plug.rules.some((r) => /avg\(power, last \d+\) > 1800/.test(r.when)), JSON.stringify(plug.rules));
  });

  test('a reader of one domain sees only that domain\'s devices and policies; no token sees nothing', async () => {
    for (const command of [
      cluster.root({ kind: 'createDomain', description: 'the office' }, 'office'),
      cluster.root({ kind: 'addAdminKey', publicKey: cluster.officeAdmin.publicKey, name: 'olga' }, 'office'),
      cluster.as(cluster.officeAdmin, { kind: 'putImage', name: 'monitor', digest: MONITOR_DIGEST }, 'office'),
      cluster.as(cluster.officeAdmin, { kind: 'putImage', name: 'firewall', digest: FIREWALL_DIGEST }, 'office'),
      cluster.as(cluster.officeAdmin, { kind: 'setPolicy', documentJson: JSON.stringify({ ...homePolicy(1), domain: 'office' }) }, 'office'),
      cluster.as(cluster.officeAdmin, { kind: 'putDevice', device: { id: 'office-plug', type: 'smart-plug', group: 'desk', tags: [], nodeId: 'n1', port: 'p-office', addresses: ['02:00:00:00:00:09'] } }, 'office'),
    ]) await submit(command);
    const home = `Bearer ${readToken(cluster, now, cluster.admin, ['home'])}`;
    const as = async (url: string, authorization: string): Promise<{ statusCode: number; json: () => Json }> =>
      await app.inject({ method: 'GET', url, headers: { authorization } }) as never;
    const devices = (await as('/v1/dashboard/devices', home)).json()['devices'] as Array<{ id: string; domain: string }>;
    assert.deepEqual([...new Set(devices.map((d) => d.domain))], ['home']);
    const all = (await get('/v1/dashboard/devices'))['devices'] as Array<{ id: string }>;
    assert.ok(all.some((d) => d.id === 'office-plug'), 'a root token sees every domain');
    assert.equal((await as('/v1/dashboard/devices/office-plug', home)).statusCode, 403);
    assert.equal((await as('/v1/dashboard/devices/plug-0', home)).statusCode, 200);
    const policies = (await as('/v1/dashboard/policy', home)).json()['domains'] as Array<{ name: string }>;
    assert.deepEqual(policies.map((d) => d.name), ['home']);
    assert.equal((await as('/v1/dashboard/cluster', home)).statusCode, 200);
    for (const url of ['/v1/dashboard/devices', '/v1/dashboard/devices/plug-0', '/v1/dashboard/policy', '/v1/dashboard/discovered', '/v1/dashboard/cluster', '/v1/dashboard/node']) {
      const answer = await as(url, '');
      assert.equal(answer.statusCode, 401, url);
      assert.doesNotMatch(JSON.stringify(answer.json()), /plug-0|office-plug/, url);
    }
  });

  test('formatCondition writes all/any/not and every leaf on one line', () => {
    assert.equal(formatCondition({ all: [{ sensor: { name: 'relay-on', op: '==', value: false } }, { not: { timeInState: { atLeastMs: 600000 } } }] }), '(relay-on == false and not in state ≥ 600000 ms)');
    assert.equal(formatCondition({ any: [{ alert: { type: 'x', atLeast: 3, withinMs: 10 } }, { timeOfDay: { from: '08:00', to: '18:00', timezone: 'UTC' } }] }), '(alert x ≥ 3 in 10 ms or time in 08:00-18:00 UTC)');
  });

  test('RoleTracker dates an election and the leader that was lost', () => {
    const roles = new RoleTracker();
    roles.sample({ term: 2, leader: 1 }, 1000);
    roles.sample({ term: 3, leader: 0 }, 1500);
    roles.sample({ term: 3, leader: 2 }, 1800);
    assert.deepEqual(roles.lostLeader, { nodeId: 1, atMs: 1500 });
    assert.deepEqual(roles.lastElection, { term: 3, atMs: 1500, leader: 2 });
    assert.equal(roles.noLeaderSinceMs, null);
  });
});

describe('GET /ui/', () => {
  test('serves the built page with a CSP that allows nothing inline or foreign', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qg-ui-assets-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(dir, 'app.js'), 'export {};');
    const ui = Fastify();
    await ui.register(uiRoutes, { dir });
    const page = await ui.inject({ method: 'GET', url: '/ui/' });
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['content-security-policy'], UI_CONTENT_SECURITY_POLICY);
    assert.match(UI_CONTENT_SECURITY_POLICY, /default-src 'self'/);
    assert.doesNotMatch(UI_CONTENT_SECURITY_POLICY, /unsafe-inline|unsafe-eval|\*/);
    assert.match((await ui.inject({ method: 'GET', url: '/ui/app.js' })).headers['content-type'] as string, /javascript/);
    assert.equal((await ui.inject({ method: 'GET', url: '/ui/..%2Fsecret' })).statusCode, 400);
    await ui.close();
  });

  test('an unbuilt dashboard answers 404 saying how to build it', async () => {
    const empty = Fastify();
    await empty.register(uiRoutes, { dir: join(tmpdir(), 'qg-ui-no-such-dir') });
    const answer = await empty.inject({ method: 'GET', url: '/ui/' });
    await empty.close();
    assert.equal(answer.statusCode, 404);
    assert.match(answer.body, /npm run build/);
  });
});
