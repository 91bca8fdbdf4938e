// bootstrap.test.ts — deploy/README.md's procedure from bare hosts to a working cluster (issue 17 item 3).
//
// Goal: `qgate node init` on each host makes a 0600 key that never leaves it and a public card;
// `qgate cluster init` on the admin's machine turns the cards and the root public keys into the genesis and
// one config per host; the nodes started from those configs elect a leader and apply a root- and
// admin-signed policy identically; `qgate node join` adds a fourth host as a learner, which catches up and
// is then promoted by `qgate members promote`.
// Bad input: a second `node init` on a host, and two cards with the same id, are refused.
// Method: four directories stand for four hosts (each holds only what the procedure puts there); real node
// processes on loopback, started with the shipped quorumgate-node command; qgate run as a process.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../cluster/local-cluster.js';
import { NodeProcesses, qgate, qgateJson, requireBuild, status, waitFor, waitForLeader } from './support.js';

const work = mkdtempSync(join(tmpdir(), 'qg-bootstrap-'));
const nodes = new NodeProcesses();
after(async () => {
  await nodes.stopAll();
  rmSync(work, { recursive: true, force: true });
});

interface Host { id: string; dir: string; apiUrl: string; card: string }

/** initHost runs `qgate node init` in a new host directory. */
async function initHost(n: number): Promise<Host> {
  const dir = join(work, `host${n}`);
  const raft = await freePort();
  const api = await freePort();
  const printed = qgateJson<{ publicKey: string; keyFile: string; cardFile: string; address: string }>([
    'node', 'init', '--id', `n${n}`, '--address', `127.0.0.1:${raft}`, '--api', `127.0.0.1:${api}`, '--dir', join(dir, 'node'),
  ]);
  assert.match(printed.publicKey, /^[0-9a-f]{64}$/);
  assert.equal(printed.address, `127.0.0.1:${raft}`);
  assert.equal(statSync(printed.keyFile).mode & 0o777, 0o600, 'the node key is readable by its owner only');
  assert.doesNotMatch(readFileSync(printed.cardFile, 'utf8'), /seed/, 'the card holds nothing secret');
  return { id: `n${n}`, dir, apiUrl: `http://127.0.0.1:${api}`, card: printed.cardFile };
}

/** install copies what the admin hands a host (its config and the genesis) into the host's /etc stand-in, and starts it. */
function install(host: Host, fromDir: string): void {
  const etc = join(host.dir, 'etc');
  mkdirSync(etc, { recursive: true });
  copyFileSync(join(fromDir, 'genesis.json'), join(etc, 'genesis.json'));
  copyFileSync(join(fromDir, `${host.id}.yaml`), join(etc, `${host.id}.yaml`));
  nodes.start(host.id, join(etc, `${host.id}.yaml`), join(host.dir, 'node.log'));
}

/** sameState waits until every node has applied the same index with the same state hash. */
async function sameState(hosts: readonly Host[]): Promise<void> {
  await waitFor(async () => {
    const all = await Promise.all(hosts.map((h) => status(h.apiUrl)));
    return all.every((s) => s !== undefined && s.stateHash !== undefined && s.applied === all[0]!.applied && s.stateHash === all[0]!.stateHash);
  }, 30_000, `the same state on ${hosts.map((h) => h.id).join(', ')}`);
}

function officeBundle(adminPublicKey: string): string {
  const file = join(work, 'admin', 'office.yaml');
  writeFileSync(file, [
    'domain: office', `admins: [{ name: alice, publicKey: "${adminPublicKey}" }]`,
    'policy:', '  domain: office', '  version: 1', '  deviceTypes:', '    - name: thermostat',
    '      states: [{ name: normal, verdict: allow }, { name: suspicious, verdict: allow }, { name: attack, verdict: quarantine }]',
    'devices:', '  - { id: t1, type: thermostat, nodeId: n1, port: dev1 }',
  ].join('\n'));
  return file;
}

test('three bare hosts become an enforcing cluster, and a fourth joins it, with no node key leaving its host', { timeout: 180_000 }, async () => {
  requireBuild();
  const hosts = [await initHost(1), await initHost(2), await initHost(3)];
  const again = qgate(['node', 'init', '--id', 'n1', '--address', '127.0.0.1:1', '--dir', join(hosts[0]!.dir, 'node')]);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /node\.key exists: this host already has a node key; refusing to replace it/);

  const admin = join(work, 'admin');
  mkdirSync(admin);
  const roots = [1, 2, 3].map((i) => join(admin, `root-${i}.key`));
  for (const root of roots) qgateJson(['keys', 'gen', '--out', root]);
  const alice = qgateJson<{ publicKey: string }>(['keys', 'gen', '--out', join(admin, 'alice.key')]);
  const cards = hosts.flatMap((h) => ['--node', h.card]);
  const twice = qgate(['cluster', 'init', '--name', 'field', '--root-key', join(admin, 'root-1.pub'), '--node', hosts[0]!.card, '--node', hosts[0]!.card, '--out', join(admin, 'bad')]);
  assert.equal(twice.status, 2);
  assert.match(twice.stderr, /have the same nodeId n1; every node needs its own/);
  const created = qgateJson<{ clusterId: string; configs: Array<{ nodeId: string }> }>([
    'cluster', 'init', '--name', 'field', ...roots.flatMap((r) => ['--root-key', r.replace(/\.key$/, '.pub')]), '--threshold', '2', ...cards, '--out', join(admin, 'out'),
  ]);
  assert.deepEqual(created.configs.map((c) => c.nodeId), ['n1', 'n2', 'n3']);
  for (const host of hosts) install(host, join(admin, 'out'));
  await waitForLeader(hosts.map((h) => h.apiUrl));

  const endpoints = ['--endpoints', hosts.map((h) => h.apiUrl).join(',')];
  const applied = qgate([...endpoints, '--key', roots[0]!, '--key', roots[1]!, '--key', join(admin, 'alice.key'), 'apply', '-f', officeBundle(alice.publicKey)]);
  assert.equal(applied.status, 0, applied.stderr);
  await sameState(hosts);

  const fourth = await initHost(4);
  const joined = qgate([...endpoints, '--genesis', join(admin, 'out', 'genesis.json'), '--key', roots[0]!, '--key', roots[1]!, 'node', 'join', fourth.card, '--out', join(admin, 'join')]);
  assert.equal(joined.status, 0, joined.stderr);
  assert.match(joined.stdout, /add learner n4 .*applied at index/);
  install(fourth, join(admin, 'join'));
  // It catches up as a learner; then the root-signed promotion makes it a voter.
  await sameState([...hosts, fourth]);
  const promoted = qgate([...endpoints, '--key', roots[0]!, '--key', roots[2]!, 'members', 'promote', 'n4']);
  assert.equal(promoted.status, 0, promoted.stderr);
  await waitFor(async () => (await status(hosts[0]!.apiUrl))?.voters.includes(4) === true, 30_000, 'n4 promoted to voter', join(fourth.dir, 'node.log'));
  await sameState([...hosts, fourth]);
  const policy = (await (await fetch(`${fourth.apiUrl}/v1/policies/office?consistency=stale`)).json()) as { policy?: { version?: number } };
  assert.equal(policy.policy?.version, 1, 'the joined node serves the agreed policy');

  // No node's private key was ever written outside its own host directory.
  const seeds = [...hosts, fourth].map((h) => (JSON.parse(readFileSync(join(h.dir, 'node', 'node.key'), 'utf8')) as { seed: string }).seed);
  for (const file of readdirSync(admin, { recursive: true }).map(String)) {
    const path = join(admin, file);
    if (statSync(path).isDirectory()) continue;
    const text = readFileSync(path, 'utf8');
    for (const seed of seeds) assert.ok(!text.includes(seed), `${path} holds no node key`);
  }
});
