// agent.test.ts — goal: the wired data plane of a node follows the agreed state (plans become enforced
// generations) and turns a μmbox's alert into a telemetry command for the device's domain, signed by the
// node key; alerts about devices the node does not serve are not signed; stopping keeps enforcement; the
// node's management port and the devices' registered interfaces open the management path.
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
});
