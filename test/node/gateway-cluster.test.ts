// gateway-cluster.test.ts — the gateway application on a real 3-node cluster of processes.
//
// Goal: signed commands submitted to any node are verified, committed and applied identically on
// every node (same state hash), survive the leader's kill -9, and drive the cluster itself:
// root-signed membership commands add a node (learner, then voter) and a root-signed transfer moves
// leadership; one envelope posted to every node at once, or twice in a batch, gets the original answer
// everywhere, and a malleated copy is refused as a bad signature (issue 15).
// Method: LocalCluster in gateway mode (genesis with a 2-of-3 root); commands signed in the test
// with the cluster's root keys, submitted over HTTP; reads compared across nodes.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster, waitUntilAsync } from '../../cluster/local-cluster.js';
import { clusterIdOf, decodeSignedCommand, encodeSignedCommand, keyPairFromSeed, signCommand } from '../../src/commands/index.js';
import type { Genesis, KeyPair, Payload } from '../../src/commands/index.js';
import { FAST_TIMING } from './cluster-support.js';
import { repoPath } from '../support/paths.js';

const clusters: LocalCluster[] = [];
after(async () => {
  for (const cluster of clusters) await cluster.destroy();
});

function readKey(file: string): KeyPair {
  const record = JSON.parse(readFileSync(file, 'utf8')) as { seed: string };
  return keyPairFromSeed(Buffer.from(record.seed, 'hex'));
}

/** Root signs root commands for a cluster with its first two root keys. */
class Root {
  private seq = 0;
  private readonly keys: KeyPair[];
  private readonly clusterId: Uint8Array;
  constructor(cluster: LocalCluster) {
    this.keys = cluster.rootKeyFiles().slice(0, 2).map(readKey);
    this.clusterId = clusterIdOf(JSON.parse(readFileSync(cluster.genesisFile, 'utf8')) as Genesis);
  }
  sign(payload: Payload, domain = ''): string {
    this.seq += 1;
    const bytes = signCommand({ clusterId: this.clusterId, domain, signer: 'root', seq: this.seq, notAfterMs: Date.now() + 600_000, payload }, this.keys);
    return Buffer.from(bytes).toString('base64');
  }
}

async function submit(cluster: LocalCluster, nodeId: number, envelope: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const response = await cluster.fetch(`${cluster.apiUrl(nodeId)}/v1/commands`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ envelope }), signal: AbortSignal.timeout(10_000),
    }).catch(() => undefined);
    const body = response ? ((await response.json()) as Record<string, unknown>) : {};
    // Indeterminate answers are retried with the same envelope: it is never applied twice.
    if (response && response.status !== 503 && response.status !== 504) return { status: response.status, body };
    if (Date.now() > deadline) return { status: response?.status ?? 0, body };
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stateOf(cluster: LocalCluster, nodeId: number): Promise<{ stateHash: string; index: number }> {
  const response = await cluster.fetch(`${cluster.apiUrl(nodeId)}/v1/state?consistency=stale`);
  return (await response.json()) as { stateHash: string; index: number };
}

describe('the gateway on a real cluster', { timeout: 120_000 }, () => {
  test('one envelope posted to every node at once, or twice in a batch, is answered ok everywhere with the original index and term; a malleated copy is a bad signature', async () => {
    const cluster = await LocalCluster.create({ dir: mkdtempSync(join(tmpdir(), 'qg-gw-dup-')), nodes: 3, application: 'quorumgate', timing: FAST_TIMING });
    clusters.push(cluster);
    cluster.startAll();
    const root = new Root(cluster);
    await cluster.waitForLeader(20_000);
    const ids = cluster.nodes.map((n) => n.nodeId);
    for (let round = 0; round < 5; round++) {
      const envelope = root.sign({ kind: 'createDomain', description: `round ${round}` }, `d${round}`);
      const answers = await Promise.all(ids.map((id) => submit(cluster, id, envelope)));
      for (const answer of answers) {
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal((answer.body.result as { ok: boolean }).ok, true, `round ${round}: ${JSON.stringify(answers.map((a) => a.body))}`);
        assert.equal(answer.body.index, answers[0]!.body.index, `round ${round}: one index for every copy`);
        assert.equal(answer.body.term, answers[0]!.body.term);
        assert.ok((answer.body.term as number) > 0, 'the original term, never 0');
      }
      assert.equal(answers.filter((a) => a.body.duplicate === false).length <= 1, true, 'at most one answer is the first');
    }
    const twice = root.sign({ kind: 'createDomain', description: 'batch' }, 'batch');
    const batch = await cluster.fetch(`${cluster.apiUrl(ids[1]!)}/v1/commands/batch`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ envelopes: [twice, twice] }),
    });
    const { results } = (await batch.json()) as { results: Array<{ ok: boolean; answer: { index: number; duplicate: boolean; result: { ok: boolean } } }> };
    assert.deepEqual(results.map((r) => r.ok && r.answer.result.ok), [true, true], JSON.stringify(results));
    assert.equal(results[1]!.answer.index, results[0]!.answer.index);
    assert.equal(results[1]!.answer.duplicate, true);
    // The same body with its signatures' S halves malleated (S + L): refused, not answered duplicate.
    const L = (1n << 252n) + 27742317777372353535851937790883648493n;
    const command = decodeSignedCommand(Buffer.from(twice, 'base64'));
    const malleated = encodeSignedCommand({ ...command, signatures: command.signatures.map((signature) => {
      let value = 0n;
      for (let i = 63; i >= 32; i--) value = (value << 8n) | BigInt(signature.sig[i] ?? 0);
      let sum = value + L;
      const sig = Uint8Array.from(signature.sig);
      for (let i = 32; i < 64; i++) {
        sig[i] = Number(sum & 0xffn);
        sum >>= 8n;
      }
      return { ...signature, sig };
    }) });
    const refused = await submit(cluster, ids[2]!, Buffer.from(malleated).toString('base64'));
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.equal((refused.body.error as { details: { commandCode: string } }).details.commandCode, 'bad_signature');
  });

  test('signed commands reach every node identically, survive the leader, and drive membership and leadership', async () => {
    const cluster = await LocalCluster.create({ dir: mkdtempSync(join(tmpdir(), 'qg-gw-')), nodes: 3, application: 'quorumgate', timing: FAST_TIMING });
    clusters.push(cluster);
    cluster.startAll();
    const root = new Root(cluster);
    const leader = await cluster.waitForLeader(20_000);
    const follower = cluster.nodes.map((n) => n.nodeId).find((id) => id !== leader)!;

    const created = await submit(cluster, follower, root.sign({ kind: 'createDomain', description: 'the house' }, 'home'));
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.equal((created.body.result as { ok: boolean }).ok, true);

    // A linearizable read on another node sees the domain at once.
    const other = cluster.nodes.map((n) => n.nodeId).find((id) => id !== follower)!;
    const domains = (await (await cluster.fetch(`${cluster.apiUrl(other)}/v1/domains`)).json()) as { domains: Array<{ name: string }> };
    assert.ok(domains.domains.some((d) => d.name === 'home'), JSON.stringify(domains));

    await cluster.kill(leader);
    const survivors = cluster.nodes.map((n) => n.nodeId).filter((id) => id !== leader);
    const office = await submit(cluster, survivors[0]!, root.sign({ kind: 'createDomain', description: 'the office' }, 'office'));
    assert.equal(office.status, 200, JSON.stringify(office.body));
    cluster.start(leader);
    await waitUntilAsync(async () => {
      const states = await Promise.all(cluster.nodes.map((n) => stateOf(cluster, n.nodeId).catch(() => undefined)));
      return states.every((s) => s !== undefined && s.index === states[0]!.index && s.stateHash === states[0]!.stateHash);
    }, 20_000, 'every node to reach the same state hash');

    // Root-signed membership: a fourth gateway joins as a learner and is promoted.
    const joiner = await cluster.prepareJoiner();
    cluster.start(joiner.nodeId);
    const add = await submit(cluster, survivors[0]!, root.sign({
      kind: 'membership', action: 'addLearner', nodeId: `n${joiner.nodeId}`, nodeKey: Buffer.from(joiner.publicKey, 'hex'), address: `127.0.0.1:${joiner.raftPort}`,
    }));
    assert.equal((add.body.result as { ok: boolean }).ok, true, JSON.stringify(add.body));
    await waitUntilAsync(async () => ((await cluster.status(joiner.nodeId))?.learners ?? []).includes(joiner.nodeId), 20_000, 'the new node to join as a learner');
    const promote = await submit(cluster, survivors[0]!, root.sign({ kind: 'membership', action: 'promote', nodeId: `n${joiner.nodeId}` }));
    assert.equal((promote.body.result as { ok: boolean }).ok, true, JSON.stringify(promote.body));
    await waitUntilAsync(async () => ((await cluster.status(survivors[0]!))?.voters ?? []).includes(joiner.nodeId), 20_000, 'the new node to become a voter');

    // Root-signed leadership transfer.
    const transfer = await submit(cluster, survivors[0]!, root.sign({ kind: 'transferLeader', nodeId: `n${joiner.nodeId}` }));
    assert.equal((transfer.body.result as { ok: boolean }).ok, true, JSON.stringify(transfer.body));
    await waitUntilAsync(async () => (await cluster.status(joiner.nodeId))?.role === 'leader', 20_000, `node ${joiner.nodeId} to lead`);

    // A forged command is refused at the edge and changes nothing.
    const before = await stateOf(cluster, joiner.nodeId);
    const forged = Buffer.from(root.sign({ kind: 'createDomain', description: 'evil' }, 'evil'), 'base64');
    forged[forged.length - 1] = forged[forged.length - 1]! ^ 1;
    const refused = await submit(cluster, joiner.nodeId, forged.toString('base64'));
    assert.equal(refused.status, 422);
    assert.equal((await stateOf(cluster, joiner.nodeId)).stateHash, before.stateHash);

    // The applied log, exported by one node, verifies offline against the genesis with qgate; a
    // tampered copy does not.
    const exported = await (await cluster.fetch(`${cluster.apiUrl(survivors[0]!)}/v1/audit/log`)).text();
    const exportFile = join(cluster.dir, 'audit.jsonl');
    writeFileSync(exportFile, exported);
    const verify = spawnSync(process.execPath, [repoPath('dist', 'src', 'cli', 'main.js'), 'audit', 'verify', exportFile, '--genesis', cluster.genesisFile], { encoding: 'utf8' });
    assert.equal(verify.status, 0, `${verify.stdout}${verify.stderr}`);
    const lines = exported.trimEnd().split('\n');
    const entry = JSON.parse(lines[2]!) as { payload: string };
    const payload = Buffer.from(entry.payload, 'base64');
    payload[payload.length - 1] = payload[payload.length - 1]! ^ 1;
    lines[2] = JSON.stringify({ ...JSON.parse(lines[2]!) as object, payload: payload.toString('base64') });
    writeFileSync(exportFile, `${lines.join('\n')}\n`);
    const tampered = spawnSync(process.execPath, [repoPath('dist', 'src', 'cli', 'main.js'), 'audit', 'verify', exportFile, '--genesis', cluster.genesisFile], { encoding: 'utf8' });
    assert.equal(tampered.status, 1, `a tampered export must fail: ${tampered.stdout}${tampered.stderr}`);
  });
});
