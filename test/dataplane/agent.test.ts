// agent.test.ts — goal: the wired data plane of a node follows the agreed state (plans become enforced
// generations) and turns a μmbox's alert into a telemetry command for the device's domain, signed by the
// node key; alerts about devices the node does not serve are not signed; stopping keeps enforcement; the
// node's management port and the devices' registered interfaces open the management path; two clusters whose
// nodes share a member id (every test cluster has an n1) on one container engine keep their own μmboxes.
// Also checks at compile time that src/state's StateMachine is what the agent reads.
// Method: a DataplaneAgent over the in-memory switch and runtime, a small in-memory state view, a real
// FIFO standing in for a μmbox's channel, and src/commands to decode and verify what was signed.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, openSync, writeSync, closeSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeBody, decodeSignedCommand, keyPairFromSeed, verifySignature } from '../../src/commands/index.js';
import type { StateMachine } from '../../src/state/index.js';
import { DataplaneAgent, type AgentStateView } from '../../src/dataplane/agent.js';
import { umboxOwner } from '../../src/dataplane/planner.js';
import { pollUntil, run } from '../../src/dataplane/exec.js';
import { HostInterfaces, MemorySwitch, MemoryUmboxRuntime } from '../../src/dataplane/memory.js';
import { nodeSigner } from '../../src/dataplane/telemetry.js';
import type { StatePlan } from '../../src/dataplane/state-adapter.js';

export const stateMachineIsAnAgentStateView = (machine: StateMachine): AgentStateView => machine;

const root = mkdtempSync(join(tmpdir(), 'qgt-agent-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('DataplaneAgent', () => {
  test('plans become enforced generations; an alert becomes a signed telemetry command of the device\'s domain', async () => {
    const interfaces = new HostInterfaces();
    interfaces.add('p1', 'p2', 'up0');
    const sw = new MemorySwitch('br0', interfaces);
    const runtime = new MemoryUmboxRuntime(interfaces);
    const digest = `sha256:${'cd'.repeat(32)}`;
    runtime.addImage('monitor', digest, [digest]);
    const keyPair = keyPairFromSeed(new Uint8Array(32).fill(3));
    const submitted: Uint8Array[] = [];
    let seq = 0;
    const agent = new DataplaneAgent({
      nodeId: 'node-a', bridge: 'br0', uplinkPort: 'up0', switch: sw, runtime, interfaceExists: (name) => interfaces.has(name),
      sign: nodeSigner({ clusterId: new Uint8Array(32).fill(9), keyPair, nextSeq: () => ++seq }),
      submit: async (signed) => {
        submitted.push(signed);
      },
    });
    const records = [
      { id: 'cam', nodeId: 'node-a', domain: 'home', port: 'p1', addresses: ['10.0.0.1'] },
      { id: 'far', nodeId: 'node-b', domain: 'home', port: 'p9', addresses: ['10.0.0.9'] },
    ];
    let plan: StatePlan = { deviceId: 'cam', state: 'normal', sinceMs: 1, chain: [{ name: 'monitor', digest }] };
    const state: AgentStateView = {
      devices: (filter) => records.filter((record) => filter.nodeId === undefined || record.nodeId === filter.nodeId),
      devicePlan: (id) => (id === 'cam' ? plan : undefined),
      device: (id) => records.find((record) => record.id === id),
    };
    agent.start();
    try {
      agent.update(state);
      await agent.reconciler.waitForGeneration('cam', 1, 2000);
      plan = { deviceId: 'cam', state: 'attack', sinceMs: 2, verdict: 'quarantine' };
      agent.update(state);
      const report = await agent.reconciler.waitForGeneration('cam', 2, 2000);
      assert.equal(report.enforcement, 'quarantine');
      assert.deepEqual(agent.report().map((one) => one.deviceId), ['cam'], 'only the devices this node serves');

      // A μmbox channel (a real FIFO) attributed to cam, and one claiming a device served elsewhere.
      for (const [name, deviceId] of [['mb-cam', 'cam'], ['mb-far', 'far']] as const) {
        const dir = join(root, name);
        mkdirSync(dir);
        await run('mkfifo', [join(dir, 'alert')]);
        agent.intake.attach({ name, nodeId: 'node-a', deviceId, generation: 1, position: 0, image: 'monitor', digest, config: {}, inPort: 'x', outPort: 'y' }, dir);
        const fd = openSync(join(dir, 'alert'), constants.O_WRONLY | constants.O_NONBLOCK);
        writeSync(fd, 'brute-force src=10.0.0.66\n');
        closeSync(fd);
      }
      assert.ok(await pollUntil(() => submitted.length === 1 && agent.batcher.dropped === 1, 2000, 10), `submitted ${submitted.length}, dropped ${agent.batcher.dropped}`);
      const envelope = decodeSignedCommand(submitted[0] ?? new Uint8Array());
      assert.ok(verifySignature(keyPair.publicKey, envelope.body, envelope.signatures[0]?.sig ?? new Uint8Array()));
      const body = decodeBody(envelope.body);
      assert.equal(body.domain, 'home');
      assert.deepEqual(body.payload, { kind: 'telemetry', events: [{ kind: 'alert', deviceId: 'cam', alertType: 'brute-force', source: 'umbox:monitor:g1' }] });
    } finally {
      await agent.stop();
    }
    assert.ok((await sw.dumpFlows()).length > 0, 'flows stay after stop (fail-static)');
  });

  test('the node\'s management port and a device\'s registered interface open its management path', async () => {
    const interfaces = new HostInterfaces();
    interfaces.add('p1', 'up0', 'qgm0');
    const sw = new MemorySwitch('br0', interfaces);
    const runtime = new MemoryUmboxRuntime(interfaces);
    const agent = new DataplaneAgent({
      nodeId: 'node-a', bridge: 'br0', uplinkPort: 'up0', switch: sw, runtime, interfaceExists: (name) => interfaces.has(name),
      sign: () => new Uint8Array(), submit: async () => undefined,
      management: { port: 'qgm0', address: '10.0.0.250', brokerPort: 1883 },
    });
    const records = [{ id: 'plug', nodeId: 'node-a', domain: 'home', port: 'p1', addresses: ['10.0.0.1'], interface: { protocol: 'mqtt', endpoint: '', credentialRef: 'plug' } }];
    const state: AgentStateView = {
      devices: () => records,
      devicePlan: () => ({ deviceId: 'plug', state: 'attack', sinceMs: 1, verdict: 'quarantine' }),
      device: (id) => records.find((record) => record.id === id),
    };
    agent.start();
    try {
      agent.update(state);
      await agent.reconciler.waitForGeneration('plug', 1, 2000);
      const ports = new Map((await sw.listPorts()).map((port) => [port.name, port.ofport]));
      assert.ok((ports.get('qgm0') ?? -1) > 0, 'the management port is attached');
      const toBroker = (await sw.dumpFlows()).find((flow) => flow.match.includes('tp_dst=1883'));
      assert.equal(toBroker?.actions, `output:${ports.get('qgm0')}`, 'quarantined, the device still reaches the broker');
    } finally {
      await agent.stop();
    }
  });

  test('two clusters whose nodes are both n1 on one engine never take or remove each other\'s μmboxes (owner scoped by cluster)', async () => {
    // One host: one engine and one set of host interfaces, a bridge per cluster. Both clusters serve a cam-1
    // with the same chain, so unscoped they would plan the same container name and the same veths.
    const interfaces = new HostInterfaces();
    interfaces.add('pa', 'pb', 'upa', 'upb');
    const runtime = new MemoryUmboxRuntime(interfaces);
    const digest = `sha256:${'ef'.repeat(32)}`;
    runtime.addImage('monitor', digest, [digest]);
    const clusters = [{ id: 'a'.repeat(64), port: 'pa', uplink: 'upa' }, { id: 'b'.repeat(64), port: 'pb', uplink: 'upb' }].map((cluster) => {
      const owner = umboxOwner('n1', cluster.id);
      const agent = new DataplaneAgent({
        nodeId: 'n1', owner, bridge: `br${cluster.port}`, uplinkPort: cluster.uplink, switch: new MemorySwitch(`br${cluster.port}`, interfaces), runtime,
        interfaceExists: (name) => interfaces.has(name), sign: nodeSigner({ clusterId: new Uint8Array(32).fill(9), keyPair: keyPairFromSeed(new Uint8Array(32).fill(4)), nextSeq: () => 1 }),
        submit: async () => undefined,
      });
      const record = { id: 'cam-1', nodeId: 'n1', domain: 'home', port: cluster.port, addresses: ['10.0.0.1'] };
      const state: AgentStateView = {
        devices: (filter) => (filter.nodeId === undefined || filter.nodeId === 'n1' ? [record] : []),
        devicePlan: (id) => (id === 'cam-1' ? { deviceId: 'cam-1', state: 'normal', sinceMs: 1, chain: [{ name: 'monitor', digest }] } : undefined),
        device: (id) => (id === 'cam-1' ? record : undefined),
      };
      agent.update(state);
      return { owner, agent };
    });
    const [a, b] = clusters as [typeof clusters[0], typeof clusters[0]];
    assert.notEqual(a.owner, b.owner);
    /** monitorOf finds, on the engine, the container a cluster's reconciler planned for cam-1's monitor. */
    const monitorOf = async (agent: DataplaneAgent) => {
      const planned = agent.reconciler.plannedFor('cam-1')?.umboxes[0];
      assert.ok(planned !== undefined, 'cam-1 has a planned monitor');
      return { name: planned.name, container: (await runtime.list(planned.nodeId)).find((umbox) => umbox.name === planned.name) };
    };
    await a.agent.reconciler.reconcileOnce();
    const ofA = await monitorOf(a.agent);
    assert.ok(ofA.container?.running === true, 'cluster a runs its monitor');
    // Cluster b comes up, and both keep reconciling (full passes read the whole engine).
    for (let pass = 0; pass < 3; pass++) {
      await b.agent.reconciler.reconcileOnce();
      await a.agent.reconciler.reconcileOnce();
    }
    const ofB = await monitorOf(b.agent);
    assert.ok(ofB.container?.running === true, 'cluster b runs its own monitor');
    assert.notEqual(ofB.name, ofA.name, 'the two monitors have names (and veths) of their own');
    const now = await monitorOf(a.agent);
    assert.deepEqual([now.container?.containerId, now.container?.running], [ofA.container.containerId, true], 'cluster a\'s monitor is the same container, still running');
    assert.deepEqual((await runtime.list(a.owner)).map((umbox) => umbox.name), [ofA.name], 'the engine lists under cluster a\'s owner only its own');
    for (const cluster of clusters) assert.equal(cluster.agent.reconciler.reportFor('cam-1')?.appliedGeneration, 1, `${cluster.owner} enforces cam-1`);
  });
});
