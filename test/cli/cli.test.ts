// cli.test.ts — goal: qgate does what an operator relies on, end to end against an API that applies
// commands with the real state machine: it signs with the right keys (2-of-3 root, then the domain's
// admin), picks sequence numbers the cluster accepts, applies a bundle in an order the cluster accepts
// and a second time sends nothing, reports rejections with exit 1, missing things with exit 4, an
// unreachable cluster with exit 3 and bad input with exit 2 and a precise message, and never prints a
// seed. Method: runCli in-process against a FakeNode (test/cli/fake-api.ts) on 127.0.0.1, plus a few
// runs of the real binary as a child process for exit codes and secrecy.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyIdHex, toHex, verifyToken, type KeyPair } from '../../src/commands/index.js';
import { parsePolicyYaml } from '../../src/policy/index.js';
import { repoPath } from '../support/paths.js';
import { closedPortUrl, FakeNode } from './fake-api.js';
import { makeLab, qgate, qgateProcess, removeDir, tempDir, type Lab } from './support.js';

const homePolicyFile = repoPath('cluster', 'policies', 'home.yaml');

/** homeBundle writes a bundle for domain home: alice as admin, every image the policy pins, one plug. */
function homeBundle(lab: Lab, devices = [{ id: 'plug1', type: 'smart-plug', nodeId: 'n1', port: 'dev1', addresses: ['10.0.1.10'] }]): string {
  const policy = parsePolicyYaml(readFileSync(homePolicyFile, 'utf8'), homePolicyFile);
  const images = new Map<string, string>();
  for (const type of policy.deviceTypes) for (const state of type.states) if ('chain' in state) for (const pin of state.chain) images.set(pin.name, pin.digest);
  const bundle = {
    domain: 'home', description: 'the home lab',
    admins: [{ name: 'alice', publicKey: toHex(lab.admin.publicKey) }],
    images: [...images].map(([name, digest]) => ({ name, digest })),
    policyFile: homePolicyFile,
    devices,
  };
  const file = join(lab.dir, 'home-bundle.yaml');
  writeFileSync(file, JSON.stringify(bundle, null, 2));
  return file;
}

function seedHexes(lab: Lab): string[] {
  return [...lab.roots, lab.admin].map((pair: KeyPair) => toHex(pair.seed));
}

describe('qgate against a cluster', () => {
  let lab: Lab;
  before(async () => {
    lab = await makeLab();
  });
  after(async () => {
    await lab.close();
  });

  test('apply signs the root parts with 2 root keys and the rest with the admin key, in an order the cluster accepts', async () => {
    const bundle = homeBundle(lab);
    const keys = ['--key', lab.rootFiles[0] as string, '--key', lab.rootFiles[2] as string, '--key', lab.adminFile];
    const run = await qgate([...lab.base, ...keys, '--genesis', lab.genesisFile, 'apply', '-f', bundle]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /domain home\s+create\s+\d+\s+ok/);
    assert.match(run.stdout, /admin alice .*create.*ok/);
    assert.match(run.stdout, /policy home v1\s+create\s+\d+\s+ok/);
    assert.match(run.stdout, /device plug1\s+create\s+\d+\s+ok/);
    const events = lab.cluster.events;
    assert.ok(events.every((e) => e.result.ok), JSON.stringify(events.map((e) => e.result)));
    assert.deepEqual(events.map((e) => (e.result.ok ? e.result.kind : '')).slice(0, 2), ['createDomain', 'addAdminKey']);
    const last = events.at(-1)?.result;
    assert.equal(last?.ok === true ? last.kind : undefined, 'putDevice');
    assert.equal(lab.cluster.machine.lastSeq('root'), 2);
    assert.equal(lab.cluster.machine.device('plug1')?.nodeId, 'n1');
  });

  test('applying the same bundle again sends nothing', async () => {
    const before = lab.cluster.events.length;
    const run = await qgate([...lab.base, '--key', lab.adminFile, '--output', 'json', 'apply', '-f', homeBundle(lab)]);
    assert.equal(run.code, 0, run.stderr);
    const answer = JSON.parse(run.stdout) as { items: { action: string }[] };
    assert.ok(answer.items.length >= 5);
    assert.ok(answer.items.every((item) => item.action === 'unchanged'), run.stdout);
    assert.equal(lab.cluster.events.length, before);
    assert.equal(lab.node.posts().length, lab.cluster.events.length, 'no POST was made');
  });

  test('a changed device is sent as an update; --dry-run sends nothing', async () => {
    const devices = [{ id: 'plug1', type: 'smart-plug', nodeId: 'n2', port: 'dev1', addresses: ['10.0.1.10'] }];
    const before = lab.cluster.events.length;
    const dry = await qgate([...lab.base, '--key', lab.adminFile, 'apply', '--dry-run', '-f', homeBundle(lab, devices)]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /device plug1\s+update\s+-\s+not sent/);
    assert.equal(lab.cluster.events.length, before);
    const run = await qgate([...lab.base, '--key', lab.adminFile, 'apply', '-f', homeBundle(lab, devices)]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(lab.cluster.machine.device('plug1')?.nodeId, 'n2');
  });

  test('a second domain with a new admin key: the admin added in this run signs the rest of it', async () => {
    const dir = tempDir();
    try {
      const bobFile = join(dir, 'bob.key');
      assert.equal((await qgate(['keys', 'gen', '--out', bobFile])).code, 0);
      const bob = readFileSync(join(dir, 'bob.pub'), 'utf8').trim();
      const bundle = join(dir, 'garden.yaml');
      writeFileSync(bundle, `domain: garden\nadmins: [{ name: bob, publicKey: "${bob}" }]\nimages: [{ name: monitor, digest: "sha256:${'9'.repeat(64)}" }]\n`);
      const run = await qgate([...lab.base, '--key', lab.rootFiles[0] as string, '--key', lab.rootFiles[1] as string, '--key', lab.adminFile, '--key', bobFile, 'apply', '-f', bundle]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /image monitor\s+create\s+\d+\s+ok/);
      assert.deepEqual(lab.cluster.machine.images('garden'), [{ name: 'monitor', digest: `sha256:${'9'.repeat(64)}` }]);
    } finally {
      removeDir(dir);
    }
  });

  test('viewers add and revoke are signed by the admin of the domain when one is loaded, else by root', async () => {
    const dir = tempDir();
    try {
      assert.equal((await qgate(['keys', 'gen', '--out', join(dir, 'eve.key')])).code, 0);
      const eve = readFileSync(join(dir, 'eve.pub'), 'utf8').trim();
      const granted = await qgate([...lab.base, '--key', lab.adminFile, 'viewers', 'add', 'home', join(dir, 'eve.pub'), '--name', 'eve']);
      assert.equal(granted.code, 0, granted.stderr);
      const added = lab.cluster.events.at(-1)?.result;
      assert.deepEqual(added?.ok === true ? [added.kind, added.signer] : added, ['addViewerKey', keyIdHex(lab.admin.publicKey)]);
      assert.deepEqual(lab.cluster.machine.keys().find((k) => k.publicKey === eve)?.domains, ['home']);
      const revoked = await qgate([...lab.base, '--key', lab.rootFiles[0] as string, '--key', lab.rootFiles[1] as string, 'viewers', 'revoke', 'home', keyIdHex(Buffer.from(eve, 'hex'))]);
      assert.equal(revoked.code, 0, revoked.stderr);
      const removed = lab.cluster.events.at(-1)?.result;
      assert.deepEqual(removed?.ok === true ? [removed.kind, removed.signer] : removed, ['revokeViewerKey', 'root']);
    } finally {
      removeDir(dir);
    }
  });

  test('token create prints a token signed by --key for the cluster of --genesis; --ttl is bounded to 24h', async () => {
    const run = await qgate(['--genesis', lab.genesisFile, '--key', lab.adminFile, 'token', 'create', '--ttl', '8h', '--domain', 'home']);
    assert.equal(run.code, 0, run.stderr);
    const grant = verifyToken(run.stdout.trim(), lab.cluster.machine.tokenTrust(), Date.now());
    assert.deepEqual([grant.keyId, grant.role, [...(grant.domains as Set<string>)]], [keyIdHex(lab.admin.publicKey), 'admin', ['home']]);
    assert.ok(grant.expiresAtMs - Date.now() > 7.9 * 3600_000 && grant.expiresAtMs - Date.now() < 8.1 * 3600_000);
    const tooLong = await qgate(['--genesis', lab.genesisFile, '--key', lab.adminFile, 'token', 'create', '--ttl', '25h']);
    assert.equal(tooLong.code, 2);
    assert.match(tooLong.stderr, /--ttl: at most 24h, found 25h/);
  });

  test('devices register, list, get, state set and remove work with the admin key from QGATE_KEY_SEED', async () => {
    const env = { QGATE_KEY_SEED: toHex(lab.admin.seed) };
    const register = await qgate([...lab.base, 'devices', 'register', 'plug2', '--domain', 'home', '--type', 'smart-plug', '--node', 'n1', '--port', 'dev2', '--tag', 'kitchen'], { env });
    assert.equal(register.code, 0, register.stderr);
    assert.match(register.stdout, /device plug2: applied at index \d+/);
    const list = await qgate([...lab.base, 'devices', 'list', '--domain', 'home']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID\s+DOMAIN\s+TYPE/);
    assert.match(list.stdout, /plug2\s+home\s+smart-plug\s+default\s+n1\s+dev2\s+normal/);
    const json = await qgate([...lab.base, '-o', 'json', 'devices', 'get', 'plug2']);
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { device: { tags: string[] } }).device.tags[0], 'kitchen');
    const set = await qgate([...lab.base, 'state', 'set', 'plug2', 'attack', '--reason', 'manual test'], { env });
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /device plug2: normal -> attack/);
    assert.equal(lab.cluster.machine.deviceState('plug2')?.state, 'attack');
    const remove = await qgate([...lab.base, 'devices', 'remove', 'plug2'], { env });
    assert.equal(remove.code, 0, remove.stderr);
    assert.equal(lab.cluster.machine.device('plug2'), undefined);
  });

  test('an answer lost after the commit (504, dropped connection) is retried with the same envelope and applied once', async () => {
    const env = { QGATE_KEY_SEED: toHex(lab.admin.seed) };
    for (const fault of [{ kind: 'answer', status: 504, body: { error: { code: 'TIMEOUT', message: 'no outcome in time', details: { indeterminate: true } } }, applyFirst: true }, { kind: 'drop', applyFirst: true }] as const) {
      const applied = lab.cluster.events.length;
      const posts = lab.node.posts().length;
      lab.node.faults.push(fault);
      const name = `retry-${fault.kind}`;
      const run = await qgate([...lab.base, 'images', 'put', name, `sha256:${'7'.repeat(64)}`, '--domain', 'home'], { env });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /attempt 1\/6 to .*; retrying the same envelope/);
      assert.match(run.stdout, new RegExp(`image ${name}: applied at index ${applied + 1} .*already applied earlier: this is the original result`));
      assert.equal(lab.cluster.events.length, applied + 1, 'applied exactly once');
      const sent = lab.node.posts().slice(posts);
      assert.equal(sent.length, 2);
      assert.equal(sent[1], sent[0], 'the retry carried the same envelope');
    }
  });

  test('devices register -f reads a device file, domain included', async () => {
    const file = join(lab.dir, 'cam.yaml');
    writeFileSync(file, 'id: cam9\ntype: camera\nnodeId: n3\nport: dev9\ndomain: home\ntags: [porch]\n');
    const run = await qgate([...lab.base, '--key', lab.adminFile, 'devices', 'register', '-f', file]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(lab.cluster.machine.device('cam9'), { id: 'cam9', domain: 'home', type: 'camera', group: 'default', tags: ['porch'], nodeId: 'n3', port: 'dev9', addresses: [] });
  });

  test('a command the state machine rejects exits 1 with its code; a missing device exits 4', async () => {
    const env = { QGATE_KEY_SEED: toHex(lab.admin.seed) };
    const rejected = await qgate([...lab.base, 'state', 'set', 'plug1', 'no-such-state', '--reason', 'x'], { env });
    assert.equal(rejected.code, 1, rejected.stderr);
    assert.match(rejected.stderr, /^qgate: error: state of plug1 -> no-such-state: rejected by the cluster at index \d+: \w+/);
    assert.equal(rejected.stdout, '');
    const rejections = await qgate([...lab.base, 'rejections']);
    assert.equal(rejections.code, 0, rejections.stderr);
    assert.match(rejections.stdout, /unknown_state\s+1/);
    const missing = await qgate([...lab.base, 'devices', 'get', 'nope']);
    assert.equal(missing.code, 4);
    assert.match(missing.stderr, /NOT_FOUND: no device "nope"/);
  });

  test('a root command with fewer root keys than the threshold is refused before sending (exit 2)', async () => {
    const before = lab.node.posts().length;
    const run = await qgate([...lab.base, '--key', lab.rootFiles[0] as string, 'domains', 'create', 'office']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /needs 2 signatures by root keys; the keys given include 1 root key/);
    assert.equal(lab.node.posts().length, before);
  });

  test('a key that is not an admin of the domain is refused before sending (exit 2)', async () => {
    const dir = tempDir();
    try {
      const stranger = join(dir, 'mallory.key');
      assert.equal((await qgate(['keys', 'gen', '--out', stranger])).code, 0);
      const before = lab.node.posts().length;
      const run = await qgate([...lab.base, '--key', stranger, 'images', 'put', 'evil', `sha256:${'a'.repeat(64)}`, '--domain', 'home']);
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /none of the keys given \([0-9a-f]{32}\) is an admin key of domain "home"/);
      assert.equal(lab.node.posts().length, before);
    } finally {
      removeDir(dir);
    }
  });

  test('a command the cluster refuses at the edge (422, here: expired) exits 1 and is not retried', async () => {
    const before = lab.node.posts().length;
    const hourAgo = (): number => Date.now() - 3600_000;
    const run = await qgate([...lab.base, '--key', lab.adminFile, 'images', 'put', 'late', `sha256:${'c'.repeat(64)}`, '--domain', 'home'], { nowMs: hourAgo });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /^qgate: error: UNPROCESSABLE: the command was not proposed: command expired/);
    assert.equal(lab.node.posts().length, before + 1);
  });

  test('members add / leader transfer are root-signed membership and transfer commands', async () => {
    const dir = tempDir();
    try {
      const nodeKey = join(dir, 'n4.key');
      assert.equal((await qgate(['keys', 'gen', '--out', nodeKey])).code, 0);
      const roots = ['--key', lab.rootFiles[1] as string, '--key', lab.rootFiles[2] as string];
      const add = await qgate([...lab.base, ...roots, 'members', 'add', 'n4', '--address', '127.0.0.1:7004', '--node-key', join(dir, 'n4.pub')]);
      assert.equal(add.code, 0, add.stderr);
      assert.match(add.stdout, /membership addLearner n4/);
      assert.ok(lab.cluster.machine.members().some((m) => m.nodeId === 'n4' && m.role === 'learner'));
      const list = await qgate([...lab.base, 'members', 'list']);
      assert.match(list.stdout, /^NODE\s+ROLE\s+ADDRESS\s+KEY\n/);
      assert.match(list.stdout, /\nn4\s+learner\s+127\.0\.0\.1:7004\s+[0-9a-f]{32}\n/);
      const transfer = await qgate([...lab.base, ...roots, 'leader', 'transfer', 'n2']);
      assert.equal(transfer.code, 0, transfer.stderr);
      assert.match(transfer.stdout, /leadership to n2/);
    } finally {
      removeDir(dir);
    }
  });

  test('--wait enforced also waits until every answering endpoint enforces the entry, skipping dead ones', async () => {
    const second = new FakeNode(lab.cluster, 2);
    await second.start();
    try {
      const dead = await closedPortUrl();
      const endpoints = ['--endpoints', `${lab.node.url},${second.url},${dead}`];
      second.enforcedLag = 1;
      const caughtUp = await qgate([...endpoints, '--key', lab.adminFile, 'images', 'put', 'w1', `sha256:${'d'.repeat(64)}`, '--domain', 'home', '--wait', 'enforced'], {
        sleep: async () => { second.enforcedLag = 0; },
      });
      assert.equal(caughtUp.code, 0, caughtUp.stderr);
      assert.ok(second.statusPolls >= 2, 'the lagging node was asked again');
      assert.match(caughtUp.stderr, new RegExp(`${dead} did not answer .*; not waiting for it`));
      assert.ok(JSON.parse(lab.node.posts().at(-1) as string).wait === 'enforced');

      second.enforcedLag = 1;
      let clock = Date.now();
      const stuck = await qgate([...endpoints, '--key', lab.adminFile, '--timeout', '1000', 'images', 'put', 'w2', `sha256:${'e'.repeat(64)}`, '--domain', 'home', '--wait', 'enforced'], {
        nowMs: () => clock,
        sleep: async (ms) => { clock += ms; },
      });
      assert.equal(stuck.code, 3, stuck.stderr);
      assert.match(stuck.stderr, new RegExp(`committed at index \\d+, but ${second.url} did not enforce it within --timeout 1000 ms`));
    } finally {
      await second.close();
    }
  });

  test('status prints one row per endpoint and exits 3 when one does not answer', async () => {
    const dead = await closedPortUrl();
    const run = await qgate(['--endpoints', `${lab.node.url},${dead}`, 'status']);
    assert.equal(run.code, 3);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, 3);
    assert.match(lines[0] as string, /^ENDPOINT\s+ID\s+ROLE\s+LEADER\s+TERM\s+COMMIT\s+APPLIED\s+STATE HASH\s+ENFORCED/);
    assert.match(lines[1] as string, new RegExp(`^${lab.node.url}\\s+1\\s+leader\\s+1\\s+1\\s+\\d+\\s+\\d+\\s+[0-9a-f]{12}\\s+1/2 devices @\\d+`));
    assert.match(lines[2] as string, /ECONNREFUSED/);
    assert.match(run.stderr, /1 of 2 endpoints did not answer/);
  });

  test('watch prints applied entries as they arrive and stops when aborted', async () => {
    const controller = new AbortController();
    let stdout = '';
    const from = lab.cluster.events.length;
    const watching = qgate([...lab.base, '-o', 'json', 'watch', '--from', String(from)], {
      signal: controller.signal,
      stdout: (text) => {
        stdout += text;
        if (stdout.split('\n').length > 2) controller.abort();
      },
    });
    const env = { QGATE_KEY_SEED: toHex(lab.admin.seed) };
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await qgate([...lab.base, 'images', 'put', 'extra', `sha256:${'b'.repeat(64)}`, '--domain', 'home'], { env })).code, 0);
    const run = await watching;
    assert.equal(run.code, 0, run.stderr);
    const events = stdout.trim().split('\n').map((line) => JSON.parse(line) as { index: number; kind: string; ok: boolean });
    assert.equal(events[0]?.index, from);
    assert.deepEqual(events.at(-1), { ...events.at(-1), kind: 'putImage', ok: true });
  });

  test('watch reconnects to the next endpoint when its stream ends, from the entry after the last one printed', async () => {
    const first = new FakeNode(lab.cluster, 2);
    await first.start();
    const controller = new AbortController();
    const env = { QGATE_KEY_SEED: toHex(lab.admin.seed) };
    const from = lab.cluster.events.length - 1;
    let stdout = '';
    let closed = false;
    const watching = qgate(['--endpoints', `${first.url},${lab.node.url}`, '-o', 'json', 'watch', '--from', String(from)], {
      signal: controller.signal,
      stdout: (text) => {
        stdout += text;
        const lines = stdout.trim().split('\n').length;
        if (lines === 2 && !closed) {
          closed = true;
          void first.close().then(() => qgate([...lab.base, 'images', 'put', 'after-close', `sha256:${'f'.repeat(64)}`, '--domain', 'home'], { env }));
        }
        if (lines >= 3) controller.abort();
      },
    });
    const run = await watching;
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, new RegExp(`watch: ${first.url}: .*; reconnecting`));
    const indexes = stdout.trim().split('\n').map((line) => (JSON.parse(line) as { index: number }).index);
    assert.deepEqual(indexes, [from, from + 1, from + 2], 'no entry lost or repeated across the reconnection');
  });

  test('watch leaves an endpoint that goes silent (no events, no keep-alives) after --idle-timeout', async () => {
    const silent = new FakeNode(lab.cluster, 3);
    silent.silentWatch = true;
    await silent.start();
    try {
      const controller = new AbortController();
      let stdout = '';
      const from = lab.cluster.events.length;
      const run = await qgate(['--endpoints', `${silent.url},${lab.node.url}`, '-o', 'json', 'watch', '--from', String(from), '--idle-timeout', '300'], {
        signal: controller.signal,
        stdout: (text) => {
          stdout += text;
          controller.abort();
        },
      });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, new RegExp(`watch: ${silent.url}: no data for 300 ms; reconnecting`));
      assert.equal((JSON.parse(stdout.trim().split('\n')[0] as string) as { index: number }).index, from);
    } finally {
      await silent.close();
    }
  });

  test('audit verify recomputes the chain of the exported log and compares it with the node\'s', async () => {
    const lines = lab.cluster.events.map((e, i) => JSON.stringify({ index: e.index, term: e.term, timeMs: e.timeMs, payload: Buffer.from(lab.cluster.payloads[i] as Uint8Array).toString('base64') }));
    const file = join(lab.dir, 'export.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const chain = lab.cluster.machine.auditChain();
    const ok = await qgate(['--genesis', lab.genesisFile, 'audit', 'verify', file, '--expect', chain]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`verified: ${lines.length} entries`));
    const tampered = lines.slice();
    const entry = JSON.parse(tampered[2] as string) as { timeMs: number };
    tampered[2] = JSON.stringify({ ...entry, timeMs: entry.timeMs + 1 });
    writeFileSync(file, `${tampered.join('\n')}\n`);
    const bad = await qgate(['--genesis', lab.genesisFile, 'audit', 'verify', file, '--expect', chain]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /audit chain does not verify/);
  });
});

describe('qgate as a process', () => {
  test('keys gen writes a 0600 key file and prints the public key and key id, never the seed', async () => {
    const dir = tempDir();
    try {
      const run = await qgateProcess(['keys', 'gen', '--out', join(dir, 'op.key')]);
      assert.equal(run.code, 0, run.stderr);
      const file = JSON.parse(readFileSync(join(dir, 'op.key'), 'utf8')) as { seed: string; publicKey: string };
      assert.equal(statSync(join(dir, 'op.key')).mode & 0o777, 0o600);
      assert.match(run.stdout, new RegExp(`public key: ${file.publicKey}`));
      assert.match(run.stdout, /key id: +[0-9a-f]{32}/);
      assert.equal(readFileSync(join(dir, 'op.pub'), 'utf8').trim(), file.publicKey);
      assert.ok(!run.stdout.includes(file.seed) && !run.stderr.includes(file.seed), 'the seed is printed');
    } finally {
      removeDir(dir);
    }
  });

  test('a seed from QGATE_KEY_SEED appears nowhere in the output, even with --verbose and on errors', async () => {
    const lab = await makeLab();
    try {
      const seeds = seedHexes(lab);
      const env = { QGATE_KEY_SEED: `${seeds[0]},${seeds[1]}` };
      const created = await qgateProcess(['--endpoints', lab.node.url, '--verbose', 'domains', 'create', 'office'], env);
      assert.equal(created.code, 0, created.stderr);
      assert.match(created.stderr, /createDomain signer=root seq=1/);
      const bad = await qgateProcess(['--endpoints', lab.node.url, 'domains', 'create', 'x'], { QGATE_KEY_SEED: `${seeds[0]}zz` });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /QGATE_KEY_SEED: entry 1 must be 64 hex digits .*value not shown/);
      for (const run of [created, bad]) {
        for (const seed of seeds) assert.ok(!run.stdout.includes(seed) && !run.stderr.includes(seed), 'a seed was printed');
      }
    } finally {
      await lab.close();
    }
  });

  test('exit codes: 2 for a bad policy file (with file:line:col and path), 3 for an unreachable cluster, 2 for usage', async () => {
    const dir = tempDir();
    try {
      const policy = join(dir, 'bad.yaml');
      writeFileSync(policy, 'domain: home\nversion: 1\ndeviceTypes:\n  - name: plug\n    sensors: []\n    alertTypes: []\n    states: [{ name: normal, verdict: allow }]\n    rules: []\n');
      const badPolicy = await qgateProcess(['--endpoints', await closedPortUrl(), 'apply', '-f', policy]);
      assert.equal(badPolicy.code, 2, badPolicy.stderr);
      assert.match(badPolicy.stderr, /^qgate: error: .*bad\.yaml:\d+:\d+: deviceTypes\[0\]\.states: expected .*, found /m);
      writeFileSync(policy, readFileSync(homePolicyFile, 'utf8'));
      const down = await qgateProcess(['--endpoints', await closedPortUrl(), '--timeout', '2000', 'apply', '-f', policy]);
      assert.equal(down.code, 3, down.stderr);
      assert.match(down.stderr, /no endpoint answered .*ECONNREFUSED/);
      const usage = await qgateProcess(['devices', 'frobnicate']);
      assert.equal(usage.code, 2);
      const help = await qgateProcess(['--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /Exit codes:\n\s+0\s+ok\n\s+1\s+the cluster rejected/);
    } finally {
      removeDir(dir);
    }
  });
});
