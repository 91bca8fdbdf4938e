// recovery.test.ts — backup and disaster recovery (issue 17 item 6) and the start-up refusals of bad
// deployments (issue 17 "Bad input").
//
// Goal: `qgate snapshot save` writes a consistent snapshot that `qgate snapshot verify` checks offline (a
// truncated or edited copy is refused); after two of three nodes lose their disks for good, `qgate snapshot
// restore` on the survivor's host brings back a working cluster — the policy, the device, the admin's trust
// — which removes the lost members and joins two new hosts with root-signed commands, then applies new
// writes on all three. Refused at start, with a message naming the file and the mismatch and nothing
// written: a data directory from another cluster, a node key that does not match the genesis, a second node
// started with an existing node's id, a restore into a data directory that is not empty, a restore of a
// tampered or truncated snapshot.
// Method: stand-in host directories and real node processes on loopback, as in bootstrap.test.ts; the
// disks are lost by killing the processes and deleting their host directories.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { Field, NodeProcesses, qgate, qgateJson, requireBuild, runNode, status, treeState, waitFor, type Host } from './support.js';

const work = mkdtempSync(join(tmpdir(), 'qg-recovery-'));
const nodes = new NodeProcesses();
const field = new Field(work, nodes);
after(async () => {
  await nodes.stopAll();
  rmSync(work, { recursive: true, force: true });
});

/** variantConfig writes a copy of a host's config with some fields replaced; returns its path. */
function variantConfig(host: Host, name: string, changes: Record<string, unknown>): string {
  const config = parseYaml(readFileSync(field.configOf(host), 'utf8')) as Record<string, unknown>;
  const file = join(host.dir, 'etc', `${name}.yaml`);
  writeFileSync(file, toYaml({ ...config, ...changes }));
  return file;
}

/** refusedAtStart runs the node on `config` and checks exit 2, the message, and that `watched` did not change. */
function refusedAtStart(config: string, message: RegExp, watched: readonly string[]): void {
  const before = watched.map(treeState);
  const ran = runNode(['--config', config]);
  assert.equal(ran.status, 2, `expected a refusal (exit 2), got ${ran.status}: ${ran.stderr}`);
  assert.match(ran.stderr, message);
  assert.deepEqual(watched.map(treeState), before, 'nothing written');
}

test('bad deployments are refused at start, naming the file and the mismatch, with nothing written', { timeout: 240_000 }, async () => {
  requireBuild();
  const { hosts } = await field.founders(3);
  const [h1, h2] = hosts as [Host, Host, Host];
  await nodes.stop(h1.id);
  // Another cluster's data directory: a one-node cluster of its own, run once.
  const stranger = await field.initHost(9);
  const strangerAdmin = join(work, 'stranger-admin');
  mkdirSync(strangerAdmin);
  qgateJson(['keys', 'gen', '--out', join(strangerAdmin, 'root.key')]);
  qgateJson(['cluster', 'init', '--name', 'other', '--root-key', join(strangerAdmin, 'root.pub'), '--node', stranger.card, '--out', join(strangerAdmin, 'out')]);
  field.install(stranger, join(strangerAdmin, 'out'));
  await waitFor(async () => (await status(stranger.apiUrl))?.role === 'leader', 20_000, 'the other cluster\'s leader', join(stranger.dir, 'node.log'));
  await nodes.stop(stranger.id);
  const strangerData = join(stranger.dir, 'node', 'data');
  refusedAtStart(variantConfig(h1, 'foreign-data', { dataDir: strangerData }), new RegExp(`data directory ${strangerData} belongs to cluster [0-9a-f]{64}, but .*genesis.json names cluster`), [strangerData]);

  // n1 started with n2's key file: the genesis names another key for n1.
  const h1Data = join(h1.dir, 'node', 'data');
  refusedAtStart(variantConfig(h1, 'wrong-key', { identityKeyFile: join(h2.dir, 'node', 'node.key') }),
    /the key in .*host2\/node\/node\.key \([0-9a-f]{64}\) is not node 1's key \([0-9a-f]{64} in .*genesis\.json/, [h1Data]);

  // A new host started as n2 (its own new key) while n2 exists: refused before it makes a data directory.
  const impostor = await field.initHost(7);
  const impostorData = join(impostor.dir, 'node', 'data');
  const impostorConfig = variantConfig(h2, 'impostor', { identityKeyFile: join(impostor.dir, 'node', 'node.key'), dataDir: impostorData, join: true });
  refusedAtStart(impostorConfig, /is not node 2's key .*node 2 exists already; use its own key file, or give this node a new id/, [join(impostor.dir, 'node')]);

  // n1's own data with n1's config still starts (the mark matches).
  field.start(h1);
  await field.sameState(hosts);
});

test('after two of three nodes lose their disks, a snapshot restore brings the cluster back', { timeout: 300_000 }, async () => {
  requireBuild();
  await nodes.stopAll();
  const drWork = join(work, 'dr');
  mkdirSync(drWork);
  const dr = new Field(drWork, nodes);
  const { hosts, admin, endpoints } = await dr.founders(3);
  const [h1, h2, h3] = hosts as [Host, Host, Host];
  const backup = join(admin.dir, 'backup.json');
  const saved = qgateJson<{ index: number; stateHash: string; auditChain: string; devices: number; domains: number }>([...endpoints, '--key', admin.roots[0]!, 'snapshot', 'save', backup]);
  assert.equal(saved.devices, 1);
  assert.equal(saved.domains, 1);
  const verified = qgateJson<{ ok: boolean; stateHash: string }>(['--genesis', join(admin.out, 'genesis.json'), 'snapshot', 'verify', backup]);
  assert.equal(verified.stateHash, saved.stateHash);

  // A truncated and an edited copy are refused by verify and by restore.
  const text = readFileSync(backup, 'utf8');
  const truncated = join(admin.dir, 'truncated.json');
  writeFileSync(truncated, text.slice(0, Math.floor(text.length / 2)));
  const edited = join(admin.dir, 'edited.json');
  const document = JSON.parse(text) as { state: string };
  const state = Buffer.from(document.state, 'base64');
  const middle = Math.floor(state.length / 2);
  state.writeUInt8(state.readUInt8(middle) ^ 0x01, middle);
  writeFileSync(edited, JSON.stringify({ ...document, state: state.toString('base64') }));
  for (const [file, message] of [[truncated, /not complete JSON/], [edited, /the state's SHA-256 is [0-9a-f]{64}, the file says stateHash [0-9a-f]{64}: the state was changed or damaged/]] as const) {
    const ran = qgate(['snapshot', 'verify', file]);
    assert.equal(ran.status, 2);
    assert.match(ran.stderr, new RegExp(`snapshot ${file}: ${message.source}`));
  }

  // The disaster: n2 and n3 and their disks are gone for good; n1 is stopped.
  await Promise.all([h2, h3].map((h) => nodes.stop(h.id, 0)));
  rmSync(h2.dir, { recursive: true, force: true });
  rmSync(h3.dir, { recursive: true, force: true });
  await nodes.stop(h1.id);
  const data = join(h1.dir, 'node', 'data');
  const notEmpty = qgate(['snapshot', 'restore', backup, '--config', dr.configOf(h1)]);
  assert.equal(notEmpty.status, 2);
  assert.match(notEmpty.stderr, /raft exists: a restore writes a new data directory; move .* aside/);
  renameSync(data, `${data}.old`);
  for (const bad of [truncated, edited]) {
    const refused = qgate(['snapshot', 'restore', bad, '--config', dr.configOf(h1)]);
    assert.equal(refused.status, 2);
    assert.deepEqual(treeState(data), [], 'a refused restore writes nothing');
  }
  const restored = qgateJson<{ index: number; stateHash: string; otherMembers: string[] }>(['snapshot', 'restore', backup, '--config', dr.configOf(h1)]);
  assert.equal(restored.index, saved.index);
  assert.deepEqual(restored.otherMembers, ['n2', 'n3']);
  dr.start(h1);
  await waitFor(async () => (await status(h1.apiUrl))?.role === 'leader', 30_000, 'the restored node to lead alone', join(h1.dir, 'node.log'));

  // What the snapshot held is back: the policy, the device, the admin's key in its domain.
  const one = ['--endpoints', h1.apiUrl, '--members', admin.members];
  const reader = ['--key', admin.roots[0]!];
  const policy = qgateJson<{ policy: { version: number } }>([...one, ...reader, 'policy', 'get', 'office']);
  assert.equal(policy.policy.version, 1);
  const devices = qgateJson<{ devices: Array<{ id: string }> }>([...one, ...reader, 'devices', 'list']);
  assert.deepEqual(devices.devices.map((d) => d.id), ['t1']);
  // Root-signed: the lost members go, two new hosts join; the admin's signed writes work again on all three.
  for (const lost of ['n2', 'n3']) {
    const removed = qgate([...one, '--key', admin.roots[0]!, '--key', admin.roots[1]!, 'members', 'remove', lost]);
    assert.equal(removed.status, 0, removed.stderr);
  }
  const h4 = await dr.initHost(4);
  const withH4 = await dr.join(h4, admin, one, [h1]);
  const h5 = await dr.initHost(5);
  const withH5 = await dr.join(h5, admin, ['--endpoints', h1.apiUrl, '--members', withH4], [h1, h4]);
  const all = ['--endpoints', [h1, h4, h5].map((h) => h.apiUrl).join(','), '--members', withH5];
  const set = qgate([...all, '--key', admin.alice, 'state', 'set', 't1', 'attack', '--reason', 'after recovery']);
  assert.equal(set.status, 0, set.stderr);
  const agreed = await dr.sameState([h1, h4, h5]);
  assert.deepEqual([...agreed.voters].sort(), [1, 4, 5]);
});
