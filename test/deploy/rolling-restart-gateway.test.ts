// rolling-restart-gateway.test.ts — restarting every gateway of an enforcing cluster one at a time, under
// write load and device traffic (issue 17 item 5, the gateway half of rolling-restart.test.ts).
//
// Goal: three gateways, each with real OVS and two real devices in network namespaces behind its bridge: one
// whose state ALLOWS its traffic (`normal`: through a monitor μmbox) and one whose state FORBIDS it (`attack`:
// a block-all μmbox). Each gateway in turn, followers first and the leader last, is stopped with SIGTERM (as
// systemd stops it) and started again from its own data directory. Throughout:
//   - no enforcement lapse: not one datagram of a forbidden device reaches the server, and the allowed devices'
//     traffic keeps passing — while its gateway is down too — losing at most MAX_RESTART_LOSS datagrams per
//     restart window (bound below);
//   - fail-static, checked explicitly: while a gateway is down its bridge holds exactly the flows it held
//     before the stop, and its μmbox containers still run;
//   - no acknowledged write is lost (every node holds every acknowledged write at the end, and the state hashes
//     agree); writes keep being acknowledged through every restart; each restart costs at most one election.
// It also checks, on this host for real, that every gateway reports its datapath in /v1/status (the userspace
// one here, with the reason: no openvswitch module) and that a node whose config insists on the kernel datapath
// is refused at start with a message naming the setting, writing nothing.
//
// The loss bound. A gateway's restart does not touch its flows (fail-static), so the only datagrams an allowed
// device may lose are the ones any moment of this shared machine may lose: the userspace datapath is one
// process reading each port's socket, starved now and then by the other engineers' runs on 2 cores. The
// chaos harness's probes checker allows MAX_SWAP_LOSS = 2 datagrams per flow swap window for the same
// reason; a restart window holds at most one such swap (the restarted node re-deriving its plans), so the
// same 2 per window is the bound here. A lapse of enforcement (flows removed during a restart, rebuilt
// after it) loses every datagram of the downtime — hundreds at one datagram per 5 ms — and fails it.
//
// Method: LocalCluster in gateway mode (real node processes, HTTPS, LevelDB), the shared private OVS and
// Docker engine (test/dataplane/lab.ts facilities, leased), the namespaces of cluster/netlab.ts under the
// prefix `qkr`, the chaos harness's probe senders and receiver (chaos/workloads.ts ProbeTraffic, a datagram
// every 5 ms per device) and its signing client. Run it under the shared heavy lock; bounded (10 min);
// everything it made is removed in `after`, also when it fails.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { LocalCluster, waitUntilAsync, type NodeStatus } from '../../cluster/local-cluster.js';
import { SERVER_ADDRESS, buildNetwork, inNamespace, teardownNetwork, type DemoNetwork } from '../../cluster/netlab.js';
import { Signer, getJson, submit, submitUntilAnswered, useClientFetch } from '../../chaos/client.js';
import type { Environment } from '../../chaos/environment.js';
import { MAX_SWAP_LOSS } from '../../chaos/checkers/probes.js';
import { ProbeTraffic } from '../../chaos/workloads.js';
import type { ProbeSeries } from '../../chaos/history.js';
import { clusterIdOf, generateKeyPair, loadGenesis, sha256, toHex } from '../../src/commands/index.js';
import type { KeyPair, Payload } from '../../src/commands/index.js';
import { DockerUmboxRuntime, OvsSwitch, buildAllImages, flowKey } from '../../src/dataplane/index.js';
import { readIdentityKey } from '../../src/node/identity.js';
import { facilities, releaseFacilities } from '../dataplane/lab.js';
import { requireBuild, runNode } from './support.js';

/** PREFIX names this test's bridges, ports and namespaces (unique on the host). */
const PREFIX = 'qkr';
/** MAX_RESTART_LOSS is how many allowed datagrams a restart window may lose (see the goal comment). */
const MAX_RESTART_LOSS = MAX_SWAP_LOSS;
/** WRITE_DOMAINS hold the unique writes (256 images per domain at most: several domains). */
const WRITE_DOMAINS = ['w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'w6', 'w7'];
const WRITES_PER_DOMAIN = 250;
/** TIMING: a 1 s election timeout, long enough for this shared, loaded machine not to elect spuriously. */
const TIMING = { tickMs: 50, electionTicks: 20, heartbeatTicks: 2, proposalTimeoutMs: 4_000, readTimeoutMs: 3_000 };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const available = await facilities();
const dir = mkdtempSync(join(tmpdir(), 'qg-rolling-gw-'));
let cluster: LocalCluster | undefined;
let traffic: ProbeTraffic | undefined;
let writing: Writer | undefined;
after(async () => {
  traffic?.kill();
  // A failed assertion leaves the writer running: without this it would try its remaining writes against
  // killed nodes (≈4 s each) and keep the file's process alive for minutes (CI saw 220 s).
  writing?.halt();
  if (cluster !== undefined) {
    for (const node of cluster.nodes) await cluster.kill(node.nodeId).catch(() => undefined);
    if (available.ok) {
      const runtime = new DockerUmboxRuntime({ socketPath: available.paths.dockerSocket, umboxDir: available.paths.umboxDir });
      for (const node of cluster.nodes) {
        await new OvsSwitch({ bridge: cluster.dataplaneOf(node.nodeId).bridge, ovsDir: available.paths.ovsDir }).deleteBridge().catch(() => undefined);
        // Only this cluster's μmboxes: they run on the bridge's veths, named after its node and device numbers;
        // the engine is shared, so another cluster's n1 must not lose its own (no other runs under the lock).
        for (const umbox of await runtime.list(cluster.umboxOwner(node.nodeId)).catch(() => [])) await runtime.remove(umbox.name).catch(() => undefined);
      }
    }
    await cluster.destroy().catch(() => undefined);
  }
  await teardownNetwork(PREFIX).catch(() => undefined);
  await releaseFacilities(available);
});

/** Device is one device namespace of the test and whether its state allows its traffic. */
interface Device { readonly id: string; readonly gateway: number; readonly namespace: string; readonly address: string; readonly port: string; readonly allowed: boolean }

/** setUpCluster makes the cluster, its network and its agreed state, and waits until every gateway enforces it. */
async function setUpCluster(paths: Extract<typeof available, { ok: true }>['paths']): Promise<{ cluster: LocalCluster; network: DemoNetwork; devices: Device[]; writer: Signer; env: Environment }> {
  const manifest = await buildAllImages(new DockerUmboxRuntime({ socketPath: paths.dockerSocket, umboxDir: paths.umboxDir }));
  const pin = (name: string): { name: string; digest: string } => ({ name, digest: manifest.images[name]!.digest });
  await teardownNetwork(PREFIX);
  const made = await LocalCluster.create({ dir: join(dir, 'cluster'), nodes: 3, application: 'quorumgate', dataplanePrefix: PREFIX, timing: TIMING });
  cluster = made;
  useClientFetch(made.fetch);
  const gateways = made.nodes.map((n) => ({ nodeId: n.nodeId, uplinkPort: made.dataplaneOf(n.nodeId).uplinkPort }));
  const network = await buildNetwork({
    prefix: PREFIX, gateways, devices: gateways.flatMap((g) => [{ id: `ok-${g.nodeId}`, gateway: g.nodeId }, { id: `no-${g.nodeId}`, gateway: g.nodeId }]),
  });
  const devices = network.devices.map((d) => ({ id: d.id, gateway: d.gateway, namespace: d.namespace, address: d.address, port: d.port, allowed: d.id.startsWith('ok-') }));
  await pinServerNeighbour(network);
  for (const node of made.nodes) made.start(node.nodeId);
  await made.waitForLeader(60_000);

  const genesis = loadGenesis(made.genesisFile);
  const clusterId = clusterIdOf(genesis);
  const root = new Signer(clusterId, made.rootKeyFiles().map((file) => readIdentityKey(file)).slice(0, genesis.rootThreshold), 'root');
  const adminKey: KeyPair = generateKeyPair();
  const writerKey: KeyPair = generateKeyPair();
  const admin = new Signer(clusterId, [adminKey]);
  const writer = new Signer(clusterId, [writerKey]);
  const commands: Array<{ signer: Signer; domain: string; payload: Payload }> = [
    { signer: root, domain: 'site', payload: { kind: 'createDomain', description: 'rolling restart devices' } },
    { signer: root, domain: 'site', payload: { kind: 'addAdminKey', publicKey: adminKey.publicKey, name: 'site-admin' } },
    ...WRITE_DOMAINS.flatMap((domain) => [
      { signer: root, domain, payload: { kind: 'createDomain', description: 'rolling restart writes' } as Payload },
      { signer: root, domain, payload: { kind: 'addAdminKey', publicKey: writerKey.publicKey, name: 'writer' } as Payload },
    ]),
    ...['monitor', 'block-all'].map((name) => ({ signer: admin, domain: 'site', payload: { kind: 'putImage', ...pin(name) } as Payload })),
    { signer: admin, domain: 'site', payload: { kind: 'setPolicy', documentJson: JSON.stringify(policy(pin)) } },
    ...devices.map((d) => ({
      signer: admin, domain: 'site',
      payload: { kind: 'putDevice', device: { id: d.id, type: 'probe', group: 'probes', tags: [], nodeId: `n${d.gateway}`, port: d.port, addresses: [d.address] } } as Payload,
    })),
    ...devices.filter((d) => !d.allowed).map((d) => ({ signer: admin, domain: 'site', payload: { kind: 'setDeviceState', deviceId: d.id, state: 'attack', reason: 'forbidden all along' } as Payload })),
  ];
  let lastIndex = 0;
  for (const command of commands) {
    const answer = await submitUntilAnswered(made.nodes.map((n) => made.apiUrl(n.nodeId)), command.signer.sign(command.domain, command.payload).envelope, 30, 200);
    assert.equal(answer?.outcome, 'ok', `setting up: ${command.payload.kind} in ${command.domain}: ${answer?.code ?? ''} ${answer?.error ?? ''}`);
    lastIndex = answer!.index ?? lastIndex;
  }
  await waitEnforced(made, made.nodes.map((n) => n.nodeId), lastIndex, 180_000);
  const env: Environment = {
    cluster: made, network, paths, clusterId, root, siteAdmin: admin, registerSigners: [], updateSigners: [writer], publicKeys: {},
    devices: devices.map((d) => ({ id: d.id, gateway: d.gateway, namespace: d.namespace, address: d.address })), nodeEnv: {},
  };
  return { cluster: made, network, devices, writer, env };
}

/** policy: devices of type `probe`, allowed through a monitor μmbox (`normal`) or blocked by a block-all μmbox (`attack`). */
function policy(pin: (name: string) => { name: string; digest: string }): Record<string, unknown> {
  return {
    domain: 'site', version: 1,
    deviceTypes: [{ name: 'probe', alertTypes: ['brute-force'], rules: [], states: [{ name: 'normal', chain: [pin('monitor')] }, { name: 'suspicious', chain: [pin('monitor')] }, { name: 'attack', chain: [pin('block-all')] }] }],
  };
}

/** pinServerNeighbour: a permanent ARP entry for the server in every device (as chaos/environment.ts explains). */
async function pinServerNeighbour(network: DemoNetwork): Promise<void> {
  const link = await inNamespace(network.server, ['ip', 'link', 'show', 'eth0']);
  const mac = /link\/ether ([0-9a-f:]{17})/.exec(link.stdout)?.[1];
  assert.ok(mac, `the server namespace has a MAC address: ${link.stdout}`);
  for (const device of network.devices) await inNamespace(device.namespace, ['ip', 'neigh', 'replace', SERVER_ADDRESS, 'lladdr', mac, 'dev', 'eth0', 'nud', 'permanent']);
}

/** waitEnforced waits until every node of `ids` reports enforcedIndex >= index. */
async function waitEnforced(made: LocalCluster, ids: readonly number[], index: number, timeoutMs: number): Promise<void> {
  await waitUntilAsync(async () => {
    for (const id of ids) {
      const status = await getJson<{ enforcedIndex?: number }>(`${made.apiUrl(id)}/v1/status`, 2_000);
      if (status?.enforcedIndex === undefined || status.enforcedIndex < index) return false;
    }
    return true;
  }, timeoutMs, `nodes ${ids.join(', ')} to enforce index ${index}`);
}

/** Writer proposes unique image pins (one name per write) round-robin over the nodes and remembers the acknowledged ones. */
class Writer {
  private readonly acknowledged: Array<{ domain: string; name: string; digest: string }> = [];
  private running = false;
  private loop: Promise<void> = Promise.resolve();
  constructor(private readonly made: LocalCluster, private readonly signer: Signer) {}

  start(): void {
    this.running = true;
    this.loop = (async () => {
      for (let i = 0; this.running && i < WRITE_DOMAINS.length * WRITES_PER_DOMAIN; i++) {
        const domain = WRITE_DOMAINS[Math.floor(i / WRITES_PER_DOMAIN)]!;
        const name = `w${i}`;
        const digest = `sha256:${toHex(sha256(new TextEncoder().encode(name)))}`;
        const node = this.made.nodes[i % this.made.nodes.length]!.nodeId;
        const answer = await submit(this.made.apiUrl(node), this.signer.sign(domain, { kind: 'putImage', name, digest }).envelope, { timeoutMs: 4_000 });
        if (answer.outcome === 'ok') this.acknowledged.push({ domain, name, digest });
        await sleep(answer.outcome === 'ok' ? 20 : 100);
      }
    })();
  }

  acked(): number {
    return this.acknowledged.length;
  }

  /** halt ends the loop after the write in progress, without waiting for it. */
  halt(): void {
    this.running = false;
  }

  async stop(): Promise<Array<{ domain: string; name: string; digest: string }>> {
    this.halt();
    await this.loop;
    return [...this.acknowledged];
  }
}

/** flowsOf is a bridge's flow table as sorted "cookie priority,match actions" lines. */
async function flowsOf(bridge: string, ovsDir: string): Promise<string[]> {
  const flows = await new OvsSwitch({ bridge, ovsDir }).dumpFlows();
  return flows.map((f) => `${f.cookie.toString(16)} ${flowKey(f.priority, f.match)} ${f.actions}`).sort();
}

/** isWarm says whether a μmbox name is a warm-pool container's (planner.warmName), not one serving a device. */
function isWarm(name: string): boolean {
  return /^qg-[0-9a-f-]+-warm-/.test(name);
}

/** lossIn counts the datagrams of a series sent in [fromMs, toMs] (run clock) and how many never arrived. */
function lossIn(series: ProbeSeries, fromMs: number, toMs: number): { sent: number; lost: number } {
  const received = new Set(series.received.map((d) => d.seq));
  let sent = 0;
  let lost = 0;
  series.sent.forEach((t, seq) => {
    if (t < fromMs || t > toMs) return;
    sent += 1;
    if (!received.has(seq)) lost += 1;
  });
  return { sent, lost };
}

const skip = available.ok ? false : available.reason;

test('a rolling restart of three enforcing gateways under writes and device traffic: no enforcement lapse, flows kept while down, nothing acknowledged lost, one election at most per restart', { skip, timeout: 600_000 }, async () => {
  assert.ok(available.ok);
  requireBuild();
  const { cluster: made, devices, writer: writerSigner, env } = await setUpCluster(available.paths);
  const ids = made.nodes.map((n) => n.nodeId);

  // The datapath each gateway chose is in its status, with the reason (item 7), for real on this host.
  const kernelHere = existsSync('/sys/module/openvswitch');
  for (const id of ids) {
    const status = await getJson<{ dataplane?: { datapath: string; setting: string; reason: string } }>(`${made.apiUrl(id)}/v1/status`, 3_000);
    assert.ok(status?.dataplane, `node ${id} reports its datapath`);
    assert.equal(status.dataplane.setting, 'auto');
    assert.equal(status.dataplane.datapath, kernelHere ? 'system' : 'netdev', status.dataplane.reason);
    if (!kernelHere) assert.match(status.dataplane.reason, /openvswitch kernel module is not available/);
  }

  const origin = Date.now();
  const t = (): number => Date.now() - origin;
  traffic = new ProbeTraffic(env, dir);
  await traffic.start();
  const writer = new Writer(made, writerSigner);
  writing = writer;
  writer.start();
  await sleep(2_000);

  const leader = await made.waitForLeader(30_000);
  const order = [...ids.filter((id) => id !== leader), leader];
  const windows: Array<{ node: number; fromMs: number; toMs: number; flowsChanged: boolean }> = [];
  for (const id of order) {
    const { bridge } = made.dataplaneOf(id);
    const runtime: DockerUmboxRuntime = new DockerUmboxRuntime({ socketPath: available.paths.dockerSocket, umboxDir: available.paths.umboxDir });
    const termBefore = Math.max(...[...(await made.statusAll()).values()].map((s: NodeStatus | undefined) => s?.term ?? 0));
    const ackedBefore = writer.acked();
    const flowsBefore = await flowsOf(bridge, available.paths.ovsDir);
    const umboxesBefore: string[] = (await runtime.list(made.umboxOwner(id))).filter((u) => u.running).map((u) => u.name).sort();
    assert.ok(flowsBefore.length > 0 && umboxesBefore.length >= 2, `node ${id} enforces before its restart (${flowsBefore.length} flows, μmboxes ${umboxesBefore.join(', ')})`);
    const fromMs = t();
    await made.stop(id, 15_000);
    // Fail-static: the stopped node's bridge keeps its flows and its μmboxes keep running.
    await sleep(1_500);
    assert.deepEqual(await flowsOf(bridge, available.paths.ovsDir), flowsBefore, `node ${id}'s flows while it is down`);
    // The μmboxes serving devices are exactly those of before; a warm-pool container (a standby serving no
    // device) whose start the node sent just before it stopped may have finished starting since (CI saw one).
    const umboxesDown: string[] = (await runtime.list(made.umboxOwner(id))).filter((u: { running: boolean }) => u.running).map((u) => u.name).sort();
    assert.deepEqual(umboxesDown.filter((name) => !isWarm(name)), umboxesBefore.filter((name) => !isWarm(name)), `node ${id}'s μmboxes serving devices while it is down`);
    for (const name of umboxesBefore) assert.ok(umboxesDown.includes(name), `node ${id}'s μmbox ${name} still runs while the node is down (${umboxesDown.join(', ')})`);
    made.start(id);
    await made.waitForLeader(60_000);
    const lastIndex = Math.max(...[...(await made.statusAll()).values()].map((s) => s?.applied ?? 0));
    await waitEnforced(made, [id], lastIndex, 120_000);
    await sleep(1_000);
    windows.push({ node: id, fromMs, toMs: t(), flowsChanged: JSON.stringify(await flowsOf(bridge, available.paths.ovsDir)) !== JSON.stringify(flowsBefore) });
    const termAfter = Math.max(...[...(await made.statusAll()).values()].map((s) => s?.term ?? 0));
    assert.ok(termAfter - termBefore <= 1, `restarting node ${id} cost ${termAfter - termBefore} elections (term ${termBefore} -> ${termAfter})`);
    assert.ok(writer.acked() > ackedBefore, `writes were acknowledged while node ${id} restarted (${writer.acked() - ackedBefore})`);
  }
  await sleep(1_000);
  const acked = await writer.stop();
  const series = await traffic.stop(origin);
  traffic = undefined;

  // No enforcement lapse: forbidden traffic never passed; allowed traffic passed, in every restart window too.
  const report: string[] = [];
  for (const device of devices) {
    const one = series.find((s) => s.device === device.id)!;
    report.push(`${device.id} ${one.received.length}/${one.sent.length}`);
    assert.ok(one.sent.length > 1_000, `device ${device.id} sent traffic all along (${one.sent.length} datagrams)`);
    if (!device.allowed) {
      assert.equal(one.received.length, 0, `device ${device.id}'s state forbids its traffic, yet ${one.received.length} datagrams reached the server`);
      continue;
    }
    for (const window of windows) {
      const { sent, lost } = lossIn(one, window.fromMs, window.toMs);
      report.push(`${device.id} during n${window.node}'s restart ${sent - lost}/${sent}${window.flowsChanged ? ' (flows re-derived)' : ''}`);
      assert.ok(sent > 100, `device ${device.id} sent during node ${window.node}'s restart`);
      assert.ok(lost <= MAX_RESTART_LOSS, `device ${device.id} lost ${lost} of ${sent} allowed datagrams during node ${window.node}'s restart (at most ${MAX_RESTART_LOSS})`);
    }
  }
  console.log(`# probes (received/sent): ${report.join('; ')}`);

  // No acknowledged write lost: every node holds each one, and their states agree.
  assert.ok(acked.length > 100, `a steady write load (${acked.length} acknowledged writes)`);
  const lastIndex = Math.max(...[...(await made.statusAll()).values()].map((s) => s?.applied ?? 0));
  await waitUntilAsync(async () => [...(await made.statusAll()).values()].every((s) => s !== undefined && s.applied >= lastIndex), 60_000, 'every node to apply the last entry');
  const hashes = new Set<string>();
  for (const id of ids) {
    const status = await getJson<{ stateHash?: string; applied: number }>(`${made.apiUrl(id)}/v1/status`, 3_000);
    hashes.add(`${status?.applied} ${status?.stateHash}`);
    const held = new Set<string>();
    for (const domain of WRITE_DOMAINS) {
      const images = await getJson<{ images: Array<{ name: string; digest: string }> }>(`${made.apiUrl(id)}/v1/images?domain=${domain}&consistency=stale`, 5_000);
      for (const image of images?.images ?? []) held.add(`${domain}/${image.name}/${image.digest}`);
    }
    const lost = acked.filter((w) => !held.has(`${w.domain}/${w.name}/${w.digest}`));
    assert.deepEqual(lost.map((w) => w.name), [], `node ${id} holds every acknowledged write`);
  }
  assert.equal(hashes.size, 1, `the nodes' states agree: ${[...hashes].join(' | ')}`);
  console.log(`# ${acked.length} acknowledged writes, all on every node; restart windows ${windows.map((w) => `n${w.node} ${((w.toMs - w.fromMs) / 1000).toFixed(1)} s`).join(', ')}`);
});

test('a gateway whose config insists on the kernel datapath where it does not work is refused at start, writing nothing', { skip: skip || (existsSync('/sys/module/openvswitch') ? 'this host has the kernel datapath' : false), timeout: 120_000 }, () => {
  assert.ok(cluster, 'the first test made the cluster');
  const config = parseYaml(readFileSync(join(cluster.nodeDir(1), 'config.yaml'), 'utf8')) as Record<string, unknown> & { dataplane: Record<string, unknown> };
  const dataDir = join(dir, 'never-written');
  const file = join(cluster.nodeDir(1), 'config-system.yaml');
  writeFileSync(file, toYaml({ ...config, dataDir, dataplane: { ...config.dataplane, bridge: `${PREFIX}9br`, datapath: 'system' } }));
  const ran = runNode(['--config', file], 90_000);
  assert.equal(ran.status, 2, `exit status 2 (a start-up error):\n${ran.stderr}`);
  assert.match(ran.stderr, /dataplane\.datapath is system in the node config, but the openvswitch kernel module is not available .*set dataplane\.datapath to auto or netdev/);
  assert.equal(existsSync(dataDir), false, 'nothing was written');
});
