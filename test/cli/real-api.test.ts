// real-api.test.ts — goal: qgate and the API server agree on the contract (docs/api.md): request
// bodies pass the server's schemas, answers parse, reads and the SSE stream are understood. Method:
// the real Fastify app (buildApp) with the real StateMachine behind a GatewayApplier, listening on
// 127.0.0.1:0; the Raft runtime is a stand-in that applies each proposal at once (as the API's own
// contract tests do). Clusters of real nodes are covered by the end-to-end tests.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildApp, type ApiApp } from '../../src/api/app.js';
import { toHex } from '../../src/commands/index.js';
import { GatewayApplier } from '../../src/node/gateway-applier.js';
import { StandInRuntime } from '../support/stand-in-runtime.js';
import { policyEngines, StateMachine } from '../../src/state/index.js';
import { makeLab, qgate, type Lab } from './support.js';

describe('qgate against the real API app', () => {
  let lab: Lab;
  let app: ApiApp;
  let base: string[];
  before(async () => {
    lab = await makeLab();
    const applier = new GatewayApplier(new StateMachine(lab.genesis, policyEngines));
    const runtime = new StandInRuntime(applier, Date.now);
    app = await buildApp({ runtime, gateway: { applier, runtime } });
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = ['--endpoints', `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`];
  });
  after(async () => {
    await app.close();
    await lab.close();
  });

  test('apply, re-apply, list, state set, a rejection, status and rejections', async () => {
    const bundle = join(lab.dir, 'office.yaml');
    writeFileSync(bundle, [
      'domain: office',
      `admins: [{ name: alice, publicKey: "${toHex(lab.admin.publicKey)}" }]`,
      'policy:',
      '  domain: office',
      '  version: 1',
      '  deviceTypes:',
      '    - name: thermostat',
      '      states: [{ name: normal, verdict: allow }, { name: suspicious, verdict: allow }, { name: attack, verdict: quarantine }]',
      'devices:',
      '  - { id: t1, type: thermostat, nodeId: n1, port: dev1 }',
    ].join('\n'));
    const keys = ['--key', lab.rootFiles[0] as string, '--key', lab.rootFiles[1] as string, '--key', lab.adminFile];
    const applied = await qgate([...base, ...keys, 'apply', '-f', bundle]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /4 command\(s\) applied, 0 unchanged/);
    const again = await qgate([...base, ...keys, 'apply', '-f', bundle]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /0 command\(s\) applied, 4 unchanged/);
    // Reads without a key or token are refused; with the admin key qgate signs its own read token.
    const anonymous = await qgate([...base, '--consistency', 'stale', 'devices', 'list', '--domain', 'office']);
    assert.equal(anonymous.code, 2);
    assert.match(anonymous.stderr, /UNAUTHENTICATED: authorization: expected an Authorization: Bearer TOKEN header/);
    const list = await qgate([...base, '--key', lab.adminFile, '--consistency', 'stale', 'devices', 'list', '--domain', 'office']);
    assert.match(list.stdout, /\nt1\s+office\s+thermostat\s+default\s+n1\s+dev1\s+normal\s/);
    const set = await qgate([...base, '--key', lab.adminFile, 'state', 'set', 't1', 'attack', '--reason', 'test']);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /device t1: normal -> attack/);
    const bad = await qgate([...base, '--key', lab.adminFile, 'state', 'set', 't1', 'melting', '--reason', 'test']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /rejected by the cluster at index \d+: unknown_state/);
    const status = await qgate([...base, '-o', 'json', 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { role: string }[])[0]?.role, 'leader');
    const rejections = await qgate([...base, '--key', lab.rootFiles[0] as string, 'rejections']);
    assert.match(rejections.stdout, /unknown_state\s+1/);
    const missing = await qgate([...base, '--key', lab.adminFile, 'devices', 'get', 'nope']);
    assert.equal(missing.code, 4);
  });

  test('watch --from replays applied entries from the server\'s stream', async () => {
    const controller = new AbortController();
    let stdout = '';
    const token = (await qgate([...base, '--key', lab.rootFiles[0] as string, 'token', 'create', '--ttl', '10m'])).stdout.trim();
    const run = await qgate([...base, '--token', token, '-o', 'json', 'watch', '--from', '1'], {
      signal: controller.signal,
      stdout: (text) => {
        stdout += text;
        if (stdout.trim().split('\n').length >= 3) controller.abort();
      },
    });
    assert.equal(run.code, 0, run.stderr);
    const events = stdout.trim().split('\n').map((line) => JSON.parse(line) as { index: number; kind: string; ok: boolean });
    assert.deepEqual(events.slice(0, 3).map((e) => [e.index, e.kind, e.ok]), [[1, 'createDomain', true], [2, 'addAdminKey', true], [3, 'setPolicy', true]]);
  });
});
