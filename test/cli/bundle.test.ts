// bundle.test.ts — goal: `qgate apply -f` and `devices register -f` read their files exactly, and
// bad input is refused with the file, line and column, the path inside the document, what was
// expected and what was found; the apply plan is in an order the cluster accepts and skips what the
// cluster already has. Method: parse inline YAML texts and the repository's sample policy; plan
// against hand-written views of a domain.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson, generateKeyPair, keyIdHex, toHex } from '../../src/commands/index.js';
import { parseBundle, parseDeviceFile, type Bundle } from '../../src/cli/bundle.js';
import { CliError } from '../../src/cli/errors.js';
import { planBundle, type DomainView } from '../../src/cli/plan.js';
import { repoPath } from '../support/paths.js';
import { removeDir, tempDir } from './support.js';

const homeFile = repoPath('cluster', 'policies', 'home.yaml');
const homeText = readFileSync(homeFile, 'utf8');

function fails(load: () => unknown, message: RegExp): void {
  assert.throws(load, (error: unknown) => {
    assert.ok(error instanceof CliError, `expected a CliError, got ${String(error)}`);
    assert.equal(error.exitCode, 2);
    assert.match(error.message, message);
    return true;
  });
}

const SMALL_POLICY = `
  domain: home
  version: 1
  deviceTypes:
    - name: plug
      states:
        - { name: normal, verdict: allow }
        - { name: suspicious, verdict: allow }
        - { name: attack, verdict: quarantine }
      rules: []`;

describe('parseBundle', () => {
  test('a bare policy document is a bundle of its domain with only the policy', () => {
    const bundle = parseBundle(homeText, homeFile);
    assert.equal(bundle.domain, 'home');
    assert.equal(bundle.policy?.version, 1);
    assert.deepEqual([bundle.admins, bundle.images, bundle.devices], [[], [], []]);
  });

  test('a bare policy with an error is reported as parsePolicyYaml reports it', () => {
    fails(() => parseBundle(homeText.replace('version: 1', 'version: 0'), 'home.yaml'), /^home\.yaml:\d+:\d+: version: expected .*, found number 0$/);
  });

  test('a full bundle: admins, images, inline policy and devices with defaults filled in', () => {
    const key = toHex(generateKeyPair().publicKey);
    const text = `domain: home
description: my flat
admins:
  - { name: alice, publicKey: "${key}" }
images:
  - { name: monitor, digest: "sha256:${'1'.repeat(64)}" }
policy:${SMALL_POLICY}
devices:
  - { id: plug1, type: plug, nodeId: n1, port: dev1 }
  - { id: plug2, type: plug, nodeId: n2, port: dev2, group: kitchen, tags: [a, b], addresses: [10.0.0.2] }
`;
    const bundle = parseBundle(text, 'b.yaml');
    assert.equal(bundle.description, 'my flat');
    assert.equal(toHex(bundle.admins[0]?.publicKey as Uint8Array), key);
    assert.deepEqual(bundle.images, [{ name: 'monitor', digest: `sha256:${'1'.repeat(64)}` }]);
    assert.equal(bundle.policy?.deviceTypes[0]?.name, 'plug');
    assert.deepEqual(bundle.devices[0], { id: 'plug1', type: 'plug', group: 'default', tags: [], nodeId: 'n1', port: 'dev1', addresses: [] });
    assert.deepEqual(bundle.devices[1]?.tags, ['a', 'b']);
  });

  test('an error inside an inline policy names the bundle file, its line and column, and the path under policy', () => {
    const text = `domain: home\npolicy:${SMALL_POLICY.replace('verdict: quarantine', 'verdict: drop')}\n`;
    fails(() => parseBundle(text, 'b.yaml'), /^b\.yaml:10:36: policy\.deviceTypes\[0\]\.states\[2\]\.verdict: expected .*allow.*quarantine.*, found string "drop"$/);
  });

  const cases: [string, string, RegExp][] = [
    ['an unknown key', 'domain: home\ncolour: red\n', /^b\.yaml:2:1: colour: expected one of the keys domain, description, admins, images, policy, policyFile, devices, found an unknown key "colour"$/],
    ['a YAML syntax error', 'domain: home\ndevices: [\n', /^b\.yaml:\d+:\d+: \(document\): expected a valid YAML document, found /],
    ['a repeated key', 'domain: home\ndomain: office\n', /^b\.yaml:2:1: \(document\): expected a valid YAML document, found Map keys must be unique/],
    ['a bad digest', 'domain: home\nimages:\n  - { name: m, digest: "md5:00" }\n', /^b\.yaml:3:24: images\[0\]\.digest: expected "sha256:" followed by 64 lowercase hex digits, found string "md5:00"$/],
    ['a device without nodeId', 'domain: home\ndevices:\n  - { id: d1, type: plug, port: p }\n', /^b\.yaml:3:5: devices\[0\]\.nodeId: expected a value for "nodeId", found nothing$/],
    ['a device id with a space', 'domain: home\ndevices:\n  - { id: "d 1", type: plug, nodeId: n1, port: p }\n', /^b\.yaml:3:11: devices\[0\]\.id: expected a name of 1-64 characters/],
    ['a repeated device id', 'domain: home\ndevices:\n  - { id: d1, type: t, nodeId: n1, port: p }\n  - { id: d1, type: t, nodeId: n1, port: q }\n', /^b\.yaml:4:11: devices\[1\]\.id: expected each device id once, found "d1" a second time$/],
    ['tags that are not a list', 'domain: home\ndevices:\n  - { id: d1, type: t, nodeId: n1, port: p, tags: kitchen }\n', /devices\[0\]\.tags: expected a list of at most 32 items, found string "kitchen"$/],
    ['a bad admin key', 'domain: home\nadmins:\n  - { name: a, publicKey: "xyz" }\n', /admins\[0\]\.publicKey: expected a 64-digit lowercase hex Ed25519 public key, found string "xyz"$/],
    ['no domain at all', 'images: []\n', /^b\.yaml:1:1: domain: expected the domain the bundle is for \(or a policy that names it\), found nothing$/],
    ['a policy for another domain', `domain: office\npolicy:${SMALL_POLICY}\n`, /policy\.domain: expected a policy for domain "office", found a policy for domain "home"$/],
    ['a list instead of a mapping', '- a\n- b\n', /^b\.yaml:1:1: \(document\): expected a mapping, found a list of 2 items$/],
  ];
  for (const [name, text, message] of cases) {
    test(`refuses ${name} with a precise message`, () => fails(() => parseBundle(text, 'b.yaml'), message));
  }

  test('policyFile is read relative to the bundle and errors name the policy file', () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir, 'home.yaml'), homeText);
      writeFileSync(join(dir, 'bundle.yaml'), 'domain: home\npolicyFile: home.yaml\n');
      assert.equal(parseBundle(readFileSync(join(dir, 'bundle.yaml'), 'utf8'), join(dir, 'bundle.yaml')).policy?.domain, 'home');
      writeFileSync(join(dir, 'home.yaml'), homeText.replace('initialState', 'initalState').replace('domain: home', 'domain: home\nbogus: 1'));
      fails(() => parseBundle('domain: home\npolicyFile: home.yaml\n', join(dir, 'bundle.yaml')), new RegExp(`^${join(dir, 'home.yaml')}:\\d+:\\d+: bogus: expected`));
      fails(() => parseBundle('domain: home\npolicyFile: missing.yaml\n', join(dir, 'bundle.yaml')), /missing\.yaml: cannot read it \(ENOENT\)$/);
      fails(() => parseBundle(`domain: home\npolicyFile: home.yaml\npolicy:${SMALL_POLICY}\n`, join(dir, 'bundle.yaml')), /policyFile: expected either "policy" or "policyFile", not both/);
    } finally {
      removeDir(dir);
    }
  });

  test('a device file may name its domain', () => {
    assert.deepEqual(parseDeviceFile('id: cam1\ntype: camera\nnodeId: n2\nport: dev3\ndomain: home\n', 'd.yaml'), {
      domain: 'home', device: { id: 'cam1', type: 'camera', group: 'default', tags: [], nodeId: 'n2', port: 'dev3', addresses: [] },
    });
    fails(() => parseDeviceFile('id: cam1\ntype: camera\nnodeId: n2\nport: dev3\nowner: me\n', 'd.yaml'), /^d\.yaml:5:1: owner: expected one of the keys id, type, group, tags, nodeId, port, addresses, interface, domain/);
  });

  test('a device file may name the device\'s interface; its options come out in key order', () => {
    const text = [
      'id: temp1', 'type: thermostat', 'nodeId: n1', 'port: dev1', 'addresses: [10.0.0.5]',
      'interface:', '  protocol: http-json', '  endpoint: http://10.0.0.5/status',
      '  options: { sensor.temperature: /t, commandUrl: "http://10.0.0.5/c" }', '',
    ].join('\n');
    const { device } = parseDeviceFile(text, 'd.yaml');
    assert.deepEqual(device.interface, { protocol: 'http-json', endpoint: 'http://10.0.0.5/status', credentialRef: '', options: { commandUrl: 'http://10.0.0.5/c', 'sensor.temperature': '/t' } });
    assert.deepEqual(Object.keys(device.interface?.options ?? {}), ['commandUrl', 'sensor.temperature']);
    const mqtt = parseDeviceFile('id: p\ntype: plug\nnodeId: n1\nport: d\ninterface: { protocol: mqtt, credentialRef: p }\n', 'd.yaml').device;
    assert.deepEqual(mqtt.interface, { protocol: 'mqtt', endpoint: '', credentialRef: 'p', options: {} });
    fails(() => parseDeviceFile('id: p\ntype: plug\nnodeId: n1\nport: d\ninterface: { protocol: zigbee }\n', 'd.yaml'), /^d\.yaml:5:\d+: interface\.protocol: expected one of mqtt, http-json, hue, found string "zigbee"/);
    fails(() => parseDeviceFile('id: p\ntype: plug\nnodeId: n1\nport: d\ninterface: { protocol: hue, options: { light: 1 } }\n', 'd.yaml'), /interface\.options\.light: expected a string/);
    fails(() => parseDeviceFile('id: p\ntype: plug\nnodeId: n1\nport: d\ninterface: { protocol: mqtt, secret: x }\n', 'd.yaml'), /interface\.secret: expected one of the keys protocol, endpoint, credentialRef, options/);
    fails(() => parseDeviceFile('id: p\ntype: plug\nnodeId: n1\nport: d\ninterface: { endpoint: x }\n', 'd.yaml'), /interface\.protocol: expected a value for "protocol"/);
  });
});

describe('planBundle', () => {
  const admin = generateKeyPair().publicKey;
  const bundle: Bundle = parseBundle(`domain: home
admins: [{ name: alice, publicKey: "${toHex(admin)}" }]
images: [{ name: monitor, digest: "sha256:${'1'.repeat(64)}" }]
policy:${SMALL_POLICY}
devices:
  - { id: plug1, type: plug, nodeId: n1, port: dev1, tags: [b, a] }
`, 'b.yaml');
  const empty: DomainView = { exists: false, adminKeyIds: new Set(), images: new Map(), policy: undefined, devices: new Map() };

  test('a new domain: create it, add its admin, pin images, set the policy, then the devices — in that order', () => {
    const plan = planBundle(bundle, empty);
    assert.deepEqual(plan.map((item) => [item.action, item.payload?.kind]), [
      ['create', 'createDomain'], ['create', 'addAdminKey'], ['create', 'putImage'], ['create', 'setPolicy'], ['create', 'putDevice'],
    ]);
    const policy = plan[3]?.payload;
    assert.ok(policy?.kind === 'setPolicy');
    assert.equal(policy.documentJson, canonicalJson(bundle.policy));
  });

  test('what the cluster already has is unchanged and not sent (device tags compared as sets)', () => {
    const view: DomainView = {
      exists: true, adminKeyIds: new Set([keyIdHex(admin)]), images: new Map([['monitor', `sha256:${'1'.repeat(64)}`]]),
      policy: { version: 1, document: JSON.parse(canonicalJson(bundle.policy)) as unknown },
      devices: new Map([['plug1', { ...(bundle.devices[0] as Bundle['devices'][number]), tags: ['a', 'b'], domain: 'home' }]]),
    };
    assert.ok(planBundle(bundle, view).every((item) => item.action === 'unchanged' && item.payload === undefined));
    const moved = planBundle(bundle, { ...view, images: new Map([['monitor', `sha256:${'2'.repeat(64)}`]]), devices: new Map() });
    assert.deepEqual(moved.filter((i) => i.payload).map((i) => [i.what, i.action]), [['image monitor', 'update'], ['device plug1', 'create']]);
  });

  test('a device whose interface changed is an update; the same interface is unchanged', () => {
    const face = { protocol: 'mqtt' as const, endpoint: '', credentialRef: 'plug1', options: {} };
    const withInterface: Bundle = { ...bundle, devices: [{ ...(bundle.devices[0] as Bundle['devices'][number]), interface: face }] };
    const view = (device: Bundle['devices'][number]): DomainView => ({
      exists: true, adminKeyIds: new Set([keyIdHex(admin)]), images: new Map([['monitor', `sha256:${'1'.repeat(64)}`]]),
      policy: { version: 1, document: JSON.parse(canonicalJson(bundle.policy)) as unknown }, devices: new Map([['plug1', { ...device, domain: 'home' }]]),
    });
    const sent = (plan: ReturnType<typeof planBundle>): unknown[] => plan.filter((i) => i.payload).map((i) => [i.what, i.action]);
    assert.deepEqual(sent(planBundle(withInterface, view(bundle.devices[0] as Bundle['devices'][number]))), [['device plug1', 'update']]);
    assert.deepEqual(sent(planBundle(withInterface, view({ ...(bundle.devices[0] as Bundle['devices'][number]), interface: { ...face } }))), []);
    assert.deepEqual(sent(planBundle(withInterface, view({ ...(bundle.devices[0] as Bundle['devices'][number]), interface: { ...face, credentialRef: 'other' } }))), [['device plug1', 'update']]);
  });

  test('a changed policy whose version was not raised is refused before anything is sent', () => {
    const view: DomainView = { ...empty, exists: true, policy: { version: 1, document: { domain: 'home', version: 1, deviceTypes: [] } } };
    assert.throws(() => planBundle(bundle, view), /version 1 differs from the cluster's version 1 but does not exceed it; raise "version" to 2/);
  });

  test('a device that belongs to another domain is refused', () => {
    const view: DomainView = { ...empty, devices: new Map([['plug1', { ...(bundle.devices[0] as Bundle['devices'][number]), domain: 'office' }]]) };
    assert.throws(() => planBundle(bundle, view), /device "plug1" belongs to domain "office", not "home"/);
  });
});
