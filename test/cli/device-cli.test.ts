// device-cli.test.ts — goal: the qgate commands of the device interface do what an operator relies on
// against the real API: `policy get` prints the agreed policy as YAML and `--diff` exits 0 for an
// equal file and 1 (with a readable unified diff) for a different one; `devices readings` shows the
// latest value per sensor and, with --history, every kept sample; `commands list|get` show device
// commands pending, done and failed with their reason; `devices discovered` lists unknown devices;
// `devices register --from-discovered` signs, with the domain's admin key, a putDevice carrying the
// discovered node, port and MAC (and the interface given); `watch` prints reading values as they are
// applied; every new command's `-o json` has a stable shape; bad input exits 2 and missing things 4.
// Method: runCli in-process against the real Fastify app (buildApp) over HTTP on 127.0.0.1, with the
// real StateMachine behind a GatewayApplier and a stand-in runtime that applies each proposal at once
// (as real-api.test.ts does). Telemetry and deviceCommandsDone are signed with the lab's node keys,
// as a gateway signs them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { parse } from 'yaml';
import { buildApp, type ApiApp } from '../../src/api/app.js';
import { clusterIdOf, createToken, decodeBody, decodeSignedCommand, keyIdHex, signCommand, toHex, type KeyPair, type Payload } from '../../src/commands/index.js';
import { GatewayApplier } from '../../src/node/gateway-applier.js';
import { StandInRuntime } from '../support/stand-in-runtime.js';
import { policyEngines, StateMachine } from '../../src/state/index.js';
import { makeLab, qgate, type Lab } from './support.js';

/** POLICY is the domain's policy: a thermostat read every 10 s (2 s when suspicious) that is switched off when hot. */
const POLICY = [
  'domain: office',
  'version: 1',
  'deviceTypes:',
  '  - name: thermostat',
  '    sensors:',
  '      - { name: temperature, type: number, unit: "°C" }',
  '      - { name: mode, type: string }',
  '    commands: [power-off]',
  '    sampling: { normal: 10s, suspicious: 2s }',
  '    states: [{ name: normal, verdict: allow }, { name: suspicious, verdict: allow }, { name: attack, verdict: quarantine }]',
  '    rules:',
  '      - name: hot',
  '        from: normal',
  '        to: suspicious',
  '        when: { sensor: { name: temperature, op: ">", value: 30 } }',
  '        commands: [{ command: power-off, args: { reason: hot } }]',
  '',
].join('\n');

describe('qgate and the device interface', () => {
  let lab: Lab;
  let app: ApiApp;
  let runtime: StandInRuntime;
  let applier: GatewayApplier;
  let base: string[];
  let policyFile: string;
  const seqs = new Map<string, number>();

  /** asNode signs a node command (telemetry, deviceCommandsDone) as a gateway does and submits it. */
  const asNode = async (key: KeyPair, payload: Payload, domain = 'office'): Promise<void> => {
    const signer = keyIdHex(key.publicKey);
    const seq = (seqs.get(signer) ?? 0) + 1;
    seqs.set(signer, seq);
    const envelope = signCommand({ clusterId: clusterIdOf(lab.genesis), domain, signer, seq, notAfterMs: Date.now() + 600_000, payload }, [key]);
    const response = await app.inject({ method: 'POST', url: '/v1/commands', payload: { envelope: Buffer.from(envelope).toString('base64') } });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal((response.json() as { result: { ok: boolean } }).result.ok, true, response.body);
  };
  const temperature = (deviceId: string, value: number): Extract<Payload, { kind: 'telemetry' }>['events'][number] => ({ kind: 'reading', deviceId, sensor: 'temperature', value });

  before(async () => {
    lab = await makeLab();
    applier = new GatewayApplier(new StateMachine(lab.genesis, policyEngines));
    runtime = new StandInRuntime(applier, Date.now);
    app = await buildApp({
      runtime, gateway: { applier, runtime, appliedEnvelopes: (from, limit) => ({ firstIndex: 1, entries: runtime.entries.filter((e) => e.index >= from).slice(0, limit) }) },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    // Reads carry a read token (docs/api.md "Authentication"): one signed by a root key, for every domain.
    const token = createToken(lab.roots[0]!, lab.clusterIdHex, '*', Date.now(), 3600);
    base = ['--endpoints', `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, '--token', token];
    policyFile = join(lab.dir, 'office-policy.yaml');
    writeFileSync(policyFile, POLICY);
    const bundle = join(lab.dir, 'office.yaml');
    writeFileSync(bundle, [
      'domain: office',
      `admins: [{ name: alice, publicKey: "${toHex(lab.admin.publicKey)}" }]`,
      `policyFile: ${policyFile}`,
      'devices:',
      '  - { id: t1, type: thermostat, nodeId: n1, port: dev1 }',
      '  - { id: t2, type: thermostat, nodeId: n1, port: dev2 }',
      '  - { id: t3, type: thermostat, nodeId: n2, port: dev3 }',
    ].join('\n'));
    const applied = await qgate([...base, '--key', lab.rootFiles[0] as string, '--key', lab.rootFiles[1] as string, '--key', lab.adminFile, 'apply', '-f', bundle]);
    assert.equal(applied.code, 0, applied.stderr);
  });
  after(async () => {
    await app.close();
    await lab.close();
  });

  test('policy get prints the agreed policy as YAML; --diff exits 0 for an equal file and 1 with a unified diff for a different one', async () => {
    const shown = await qgate([...base, 'policy', 'get', 'office']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual(parse(shown.stdout), applier.machine.policy('office'));
    const asJson = JSON.parse((await qgate([...base, '-o', 'json', 'policy', 'get', 'office'])).stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(asJson), ['index', 'domain', 'policy']);

    // The same policy written differently (flow style, other key order) is equal.
    const same = join(lab.dir, 'same.json');
    writeFileSync(same, JSON.stringify(parse(POLICY)));
    const equal = await qgate([...base, 'policy', 'get', 'office', '--diff', same]);
    assert.equal(equal.code, 0, equal.stderr);
    assert.match(equal.stdout, /the policy of domain office on the cluster \(version 1\) and .*same\.json are the same/);

    const changed = join(lab.dir, 'changed.yaml');
    writeFileSync(changed, POLICY.replace('version: 1', 'version: 2').replace('value: 30', 'value: 35'));
    const different = await qgate([...base, 'policy', 'get', 'office', '--diff', changed]);
    assert.equal(different.code, 1, different.stderr);
    assert.match(different.stdout, /^--- cluster: policy of office\tversion 1\n\+\+\+ .*changed\.yaml\tversion 2\n@@ /);
    assert.match(different.stdout, /^-version: 1$/m);
    assert.match(different.stdout, /^\+version: 2$/m);
    assert.match(different.stdout, /^-\s+value: 30$/m);
    assert.match(different.stdout, /^\+\s+value: 35$/m);
    assert.match(different.stderr, /^qgate: the policy of domain office on the cluster \(version 1\) differs from .*changed\.yaml \(version 2\)\n$/);
    const differentJson = await qgate([...base, '-o', 'json', 'policy', 'get', 'office', '--diff', changed]);
    assert.equal(differentJson.code, 1);
    const comparison = JSON.parse(differentJson.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(comparison).sort(), ['clusterVersion', 'diff', 'domain', 'equal', 'file', 'fileVersion', 'index']);
    assert.deepEqual([comparison['equal'], comparison['clusterVersion'], comparison['fileVersion']], [false, 1, 2]);
    assert.match(String(comparison['diff']), /^\+\s+value: 35$/m);

    const broken = join(lab.dir, 'broken.yaml');
    writeFileSync(broken, POLICY.replace('type: number', 'type: numeric'));
    const bad = await qgate([...base, 'policy', 'get', 'office', '--diff', broken]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /broken\.yaml:\d+:\d+: deviceTypes\[0\]\.sensors\[0\]\.type/);
    assert.equal((await qgate([...base, 'policy', 'get', 'nowhere'])).code, 4);
  });

  test('devices readings shows the latest value of each sensor, and the history with --history', async () => {
    await asNode(lab.nodes[0]!, { kind: 'telemetry', events: [temperature('t1', 21.5), { kind: 'reading', deviceId: 't1', sensor: 'mode', value: 'heat' }] });
    await asNode(lab.nodes[0]!, { kind: 'telemetry', events: [temperature('t1', 22)] });
    const latest = await qgate([...base, 'devices', 'readings', 't1']);
    assert.equal(latest.code, 0, latest.stderr);
    assert.match(latest.stdout, /^device t1: sampled every 10000 ms in its current state/);
    assert.match(latest.stdout, /\ntemperature\s+22\s+\d{4}-\d\d-\d\dT/);
    assert.match(latest.stdout, /\nmode\s+heat\s+\d{4}-/);
    assert.doesNotMatch(latest.stdout, /21\.5/, 'without --history only the latest value');
    const history = await qgate([...base, 'devices', 'readings', 't1', '--history']);
    assert.match(history.stdout, /\nSENSOR\s+AT\s+VALUE\ntemperature\s+\S+\s+21\.5\ntemperature\s+\S+\s+22\nmode\s+\S+\s+heat\n/);
    const json = JSON.parse((await qgate([...base, '-o', 'json', 'devices', 'readings', 't1', '--history'])).stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(json), ['index', 'deviceId', 'samplingMs', 'sensors']);
    const sensors = json['sensors'] as Array<{ sensor: string; latest: { value: unknown; timeMs: number }; history: Array<{ value: unknown; timeMs: number }> }>;
    assert.deepEqual(sensors.map((s) => [s.sensor, s.latest.value, s.history.map((h) => h.value)]), [['temperature', 22, [21.5, 22]], ['mode', 'heat', ['heat']]]);
    const missing = await qgate([...base, 'devices', 'readings', 'ghost']);
    assert.equal(missing.code, 4);
    assert.match(missing.stderr, /no device "ghost"/);
    assert.equal((await qgate([...base, 'devices', 'readings', 'bad name'])).code, 2);
  });

  test('commands list and get show device commands pending, done and failed with the reason', async () => {
    await asNode(lab.nodes[0]!, { kind: 'telemetry', events: [temperature('t1', 31), temperature('t2', 32)] });
    await asNode(lab.nodes[1]!, { kind: 'telemetry', events: [temperature('t3', 33)] });
    const id = (device: string): number => applier.machine.commands({ deviceId: device })[0]!.id;
    await asNode(lab.nodes[0]!, { kind: 'deviceCommandsDone', ids: [id('t1')], failures: [{ id: id('t2'), reason: 'device did not answer', final: true }] }, '');
    await asNode(lab.nodes[1]!, { kind: 'deviceCommandsDone', ids: [], failures: [{ id: id('t3'), reason: 'connection refused', final: false }] }, '');

    const all = await qgate([...base, 'commands', 'list']);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, new RegExp(`\\n${id('t1')}\\s+n1\\s+t1\\s+power-off\\s+reason=hot\\s+done\\s+0\\s+\\S+ #\\d+\\s+done \\d{4}-`));
    assert.match(all.stdout, new RegExp(`\\n${id('t2')}\\s+n1\\s+t2\\s+power-off\\s+reason=hot\\s+failed\\s+1\\s+\\S+ #\\d+\\s+gave up \\S+: device did not answer\\n`));
    assert.match(all.stdout, new RegExp(`\\n${id('t3')}\\s+n2\\s+t3\\s+power-off\\s+reason=hot\\s+pending\\s+1\\s+\\S+ #\\d+\\s+last error: connection refused\\n`));
    const failed = await qgate([...base, 'commands', 'list', '--status', 'failed']);
    assert.deepEqual(failed.stdout.trim().split('\n').slice(1).map((line) => line.split(/\s+/)[2]), ['t2']);
    const onN2 = JSON.parse((await qgate([...base, '-o', 'json', 'commands', 'list', '--node', 'n2'])).stdout) as { index: number; total: number; commands: Array<Record<string, unknown>> };
    assert.deepEqual(Object.keys(onN2), ['index', 'total', 'commands']);
    assert.deepEqual(onN2.commands.map((c) => [c['deviceId'], c['status'], c['attempts'], c['lastError']]), [['t3', 'pending', 1, 'connection refused']]);
    const newest = await qgate([...base, 'commands', 'list', '--limit', '1']);
    assert.match(newest.stderr, /showing 1 of 3 device commands/);

    const one = await qgate([...base, 'commands', 'get', String(id('t2'))]);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^status:\s+failed$/m);
    assert.match(one.stdout, /^reason:\s+device did not answer$/m);
    assert.match(one.stdout, /^given up:\s+\d{4}-/m);
    const oneJson = JSON.parse((await qgate([...base, '-o', 'json', 'commands', 'get', String(id('t1'))])).stdout) as { command: Record<string, unknown> };
    assert.deepEqual(Object.keys(oneJson), ['index', 'command']);
    assert.equal(oneJson.command['status'], 'done');
    assert.equal((await qgate([...base, 'commands', 'get', '999'])).code, 4);
    assert.equal((await qgate([...base, 'commands', 'get', 'twelve'])).code, 2);
    assert.equal((await qgate([...base, 'commands', 'list', '--status', 'lost'])).code, 2);
    assert.equal((await qgate([...base, 'commands', 'list', '--limit', '5000'])).code, 2);
  });

  test('devices discovered lists unknown devices; register --from-discovered signs the putDevice that adopts one', async () => {
    const seenMs = Date.UTC(2026, 0, 1);
    await asNode(lab.nodes[0]!, { kind: 'telemetry', events: [
      { kind: 'discovery', port: 'dev9', mac: '02:00:00:00:00:09', firstSeenMs: seenMs, lastSeenMs: seenMs + 5000, hostname: 'esp-4f21', vendorClass: 'udhcp 1.36.1' },
      { kind: 'discovery', port: 'dev8', mac: '02:00:00:00:00:08', firstSeenMs: seenMs, lastSeenMs: seenMs + 1000, hostname: '', vendorClass: '' },
    ] });
    await asNode(lab.nodes[1]!, { kind: 'telemetry', events: [{ kind: 'discovery', port: 'dev9', mac: '02:00:00:00:00:99', firstSeenMs: seenMs, lastSeenMs: seenMs + 2000, hostname: '', vendorClass: '' }] });
    const listed = await qgate([...base, 'devices', 'discovered', '--node', 'n1']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^NODE\s+DOMAIN\s+PORT\s+MAC\s+FIRST SEEN\s+LAST SEEN\s+HOSTNAME\s+VENDOR CLASS\nn1\s+office\s+dev9\s+02:00:00:00:00:09\s+2026-01-01T00:00:00\.000Z\s+2026-01-01T00:00:05\.000Z\s+esp-4f21\s+udhcp 1\.36\.1\nn1\s+office\s+dev8\s+02:00:00:00:00:08\s+\S+\s+\S+\s+-\s+-\n$/);
    const json = JSON.parse((await qgate([...base, '-o', 'json', 'devices', 'discovered'])).stdout) as { index: number; total: number; discovered: Array<Record<string, unknown>> };
    assert.deepEqual(Object.keys(json), ['index', 'total', 'discovered']);
    assert.equal(json.total, 3);
    assert.deepEqual(Object.keys(json.discovered[0]!), ['nodeId', 'domain', 'port', 'mac', 'firstSeenMs', 'lastSeenMs', 'hostname', 'vendorClass']);

    // Port dev9 was seen on two nodes: the port alone is ambiguous, --node or the MAC decides.
    const ambiguous = await qgate([...base, '--key', lab.adminFile, 'devices', 'register', '--from-discovered', 'dev9', '--id', 't9', '--type', 'thermostat']);
    assert.equal(ambiguous.code, 2);
    assert.match(ambiguous.stderr, /2 discovered devices match .*choose one with --node or give its MAC/);
    const unknown = await qgate([...base, '--key', lab.adminFile, 'devices', 'register', '--from-discovered', '02:00:00:00:00:77', '--id', 't9', '--type', 'thermostat']);
    assert.equal(unknown.code, 4);

    const entriesBefore = runtime.entries.length;
    const adopted = await qgate([...base, '--key', lab.adminFile, 'devices', 'register', '--from-discovered', '02:00:00:00:00:09', '--id', 't9', '--type', 'thermostat',
      '--group', 'lab', '--address', '10.77.0.19', '--interface-protocol', 'http-json', '--interface-endpoint', 'http://10.77.0.19:8080/status',
      '--interface-option', 'sensor.temperature=/t', '--interface-option', 'commandUrl=http://10.77.0.19:8080/commands']);
    assert.equal(adopted.code, 0, adopted.stderr);
    assert.match(adopted.stdout, /^device t9: applied at index \d+/);
    // What was signed: one putDevice by the domain's admin, with the discovered node, port and MAC.
    assert.equal(runtime.entries.length, entriesBefore + 1);
    const envelope = decodeSignedCommand(runtime.entries.at(-1)!.payload);
    const body = decodeBody(envelope.body);
    assert.equal(body.signer, keyIdHex(lab.admin.publicKey));
    assert.equal(body.domain, 'office', 'the discovered device\'s domain');
    assert.deepEqual(body.payload, {
      kind: 'putDevice',
      device: {
        id: 't9', type: 'thermostat', group: 'lab', tags: [], nodeId: 'n1', port: 'dev9', addresses: ['02:00:00:00:00:09', '10.77.0.19'],
        interface: { protocol: 'http-json', endpoint: 'http://10.77.0.19:8080/status', credentialRef: '', options: { commandUrl: 'http://10.77.0.19:8080/commands', 'sensor.temperature': '/t' } },
      },
    });
    assert.equal(applier.machine.device('t9')?.port, 'dev9');
    // Registered, it is no longer an unknown device.
    const after = JSON.parse((await qgate([...base, '-o', 'json', 'devices', 'discovered', '--node', 'n1'])).stdout) as { discovered: Array<{ port: string }> };
    assert.deepEqual(after.discovered.map((d) => d.port), ['dev8']);
    const shown = await qgate([...base, 'devices', 'get', 't9']);
    assert.match(shown.stdout, /^interface: http-json http:\/\/10\.77\.0\.19:8080\/status/m);

    const usage = await qgate([...base, '--key', lab.adminFile, 'devices', 'register', '--from-discovered', 'dev8', '--type', 'thermostat']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /expected --id/);
    const badOption = await qgate([...base, '--key', lab.adminFile, 'devices', 'register', '--from-discovered', 'dev8', '--id', 't8', '--type', 'thermostat',
      '--interface-protocol', 'mqtt', '--interface-option', 'nonsense']);
    assert.equal(badOption.code, 2);
    assert.match(badOption.stderr, /--interface-option: expected KEY=VALUE/);
    // A secret never goes into a registration: one that looks like a secret is refused before signing.
    const posted = runtime.entries.length;
    const secret = await qgate([...base, '--key', lab.adminFile, 'devices', 'register', '--from-discovered', 'dev8', '--id', 't8', '--type', 'thermostat',
      '--interface-protocol', 'mqtt', '--credential-ref', 't8', '--interface-option', 'password=hunter2']);
    assert.equal(secret.code, 2);
    assert.match(secret.stderr, /interface\.options\["password"\].*credentialRef/);
    assert.equal(runtime.entries.length, posted, 'nothing was proposed');
  });

  test('watch prints the reading values of each applied telemetry entry', async () => {
    const from = applier.machine.lastApplied().index + 1;
    await asNode(lab.nodes[0]!, { kind: 'telemetry', events: [temperature('t9', 19.5), { kind: 'reading', deviceId: 't9', sensor: 'mode', value: 'cool' }] });
    const watch = async (args: string[]): Promise<string> => {
      const controller = new AbortController();
      let stdout = '';
      const run = await qgate([...base, ...args, 'watch', '--from', String(from)], {
        signal: controller.signal,
        stdout: (text) => {
          stdout += text;
          controller.abort();
        },
      });
      assert.equal(run.code, 0, run.stderr);
      return stdout;
    };
    const table = await watch([]);
    assert.match(table, /#\d+ term 2 {2}telemetry {2}ok\n {4}reading t9 temperature = 19\.5\n {4}reading t9 mode = "cool"\n/);
    const json = JSON.parse((await watch(['-o', 'json'])).trim()) as { readings: unknown[] };
    assert.deepEqual(json.readings.map((r) => { const { timeMs, ...rest } = r as { timeMs: number }; assert.equal(typeof timeMs, 'number'); return rest; }),
      [{ deviceId: 't9', sensor: 'temperature', value: 19.5 }, { deviceId: 't9', sensor: 'mode', value: 'cool' }]);
  });
});
