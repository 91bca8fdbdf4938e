// bootstrap.test.ts — deploy/README.md's procedure from bare hosts to a working cluster (issue 17 item 3).
//
// Goal: `qgate node init` on each host makes a 0600 key that never leaves it and a public card;
// `qgate cluster init` on the admin's machine turns the cards and the root public keys into the genesis and
// one config per host; the nodes started from those configs elect a leader and apply a root- and
// admin-signed policy identically; `qgate node join` adds a fourth host as a learner, which catches up and
// is then promoted by `qgate members promote`. The API is HTTPS with each node key's certificate: qgate
// pins with the members file cluster init writes, and a read without a token is refused.
// Bad input: a second `node init` on a host, two cards with the same id, and a join of a taken id are refused.
// Method: four directories stand for four hosts (each holds only what the procedure puts there); real node
// processes on loopback, started with the shipped quorumgate-node command; qgate run as a process.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Field, NodeProcesses, qgate, requireBuild, rootRead } from './support.js';

const work = mkdtempSync(join(tmpdir(), 'qg-bootstrap-'));
const nodes = new NodeProcesses();
const field = new Field(work, nodes);
after(async () => {
  await nodes.stopAll();
  rmSync(work, { recursive: true, force: true });
});

test('three bare hosts become a cluster applying a signed policy, and a fourth joins it, with no node key leaving its host', { timeout: 180_000 }, async () => {
  requireBuild();
  const { hosts, admin, endpoints } = await field.founders(3);
  for (const host of hosts) {
    assert.equal(statSync(join(host.dir, 'node', 'node.key')).mode & 0o777, 0o600, `${host.id}'s key is readable by its owner only`);
    assert.doesNotMatch(readFileSync(host.card, 'utf8'), /seed/, 'the card holds nothing secret');
  }
  // cluster init wrote a members file pinning each founder's HTTPS endpoint to its card's key.
  const members = (JSON.parse(readFileSync(admin.members, 'utf8')) as { members: Array<{ nodeId: string; endpoint: string; publicKey: string }> }).members;
  assert.deepEqual(members, hosts.map((h) => ({ nodeId: h.id, endpoint: h.apiUrl, publicKey: (JSON.parse(readFileSync(h.card, 'utf8')) as { publicKey: string }).publicKey })));
  const again = qgate(['node', 'init', '--id', 'n1', '--address', '127.0.0.1:1', '--dir', join(hosts[0]!.dir, 'node')]);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /node\.key exists: this host already has a node key; refusing to replace it/);
  const twice = qgate(['cluster', 'init', '--name', 'field', '--root-key', join(admin.dir, 'root-1.pub'), '--node', hosts[0]!.card, '--node', hosts[0]!.card, '--out', join(admin.dir, 'bad')]);
  assert.equal(twice.status, 2);
  assert.match(twice.stderr, /have the same nodeId n1; every node needs its own/);
  const taken = qgate([...endpoints, '--genesis', join(admin.out, 'genesis.json'), '--key', admin.roots[0]!, '--key', admin.roots[1]!, 'node', 'join', hosts[1]!.card, '--out', join(admin.dir, 'bad')]);
  assert.equal(taken.status, 2);
  assert.match(taken.stderr, /node n2 .* clashes with member n2: its id or key is taken/);

  const fourth = await field.initHost(4);
  await field.join(fourth, admin, endpoints, hosts);
  const agreed = await field.sameState([...hosts, fourth]);
  assert.deepEqual([...agreed.voters].sort(), [1, 2, 3, 4]);
  const policy = (await (await rootRead(`${fourth.apiUrl}/v1/policies/office?consistency=stale`, admin.roots[0]!, join(admin.out, 'genesis.json'))).json()) as { policy?: { version?: number } };
  assert.equal(policy.policy?.version, 1, 'the joined node serves the agreed policy');

  // No node's private key was ever written outside its own host directory.
  const seeds = [...hosts, fourth].map((h) => (JSON.parse(readFileSync(join(h.dir, 'node', 'node.key'), 'utf8')) as { seed: string }).seed);
  for (const file of readdirSync(admin.dir, { recursive: true }).map(String)) {
    const path = join(admin.dir, file);
    if (statSync(path).isDirectory()) continue;
    const text = readFileSync(path, 'utf8');
    for (const seed of seeds) assert.ok(!text.includes(seed), `${path} holds no node key`);
  }
});
