// contract.ts — the shared contract suites of the data plane's two ports. Every adapter of a port runs the
// same suite (OvsSwitch and MemorySwitch; DockerUmboxRuntime and MemoryUmboxRuntime), so the in-memory
// fakes the reconciler tests rely on cannot drift from the real adapters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Switch } from '../../src/dataplane/ovs.js';
import type { UmboxRuntime } from '../../src/dataplane/docker-runtime.js';
import type { PlannedUmbox } from '../../src/dataplane/types.js';

/** SwitchRig gives the suite a fresh switch and a way to create host interfaces. */
export interface SwitchRig {
  sw: Switch;
  createInterface(name: string): Promise<void>;
  deleteInterface(name: string): Promise<void>;
}

/** switchContract registers the Switch contract tests; `rig` is called once per test. */
export function switchContract(rig: () => Promise<SwitchRig & { dispose(): Promise<void> }>, names: { a: string; b: string; missing: string }): void {
  const withRig = async (body: (r: SwitchRig) => Promise<void>): Promise<void> => {
    const r = await rig();
    try {
      await body(r);
    } finally {
      await r.dispose();
    }
  };

  test('switch contract: ensureBridge is idempotent and a new bridge has no ports and no flows', () => withRig(async ({ sw }) => {
    await sw.ensureBridge();
    await sw.ensureBridge();
    assert.deepEqual(await sw.listPorts(), []);
    assert.deepEqual(await sw.dumpFlows(), []);
  }));

  test('switch contract: ports of existing interfaces get numbers; a missing interface is listed with -1; ports can be removed', () => withRig(async ({ sw, createInterface }) => {
    await sw.ensureBridge();
    await createInterface(names.a);
    await createInterface(names.b);
    const added = await sw.addPorts([names.a, names.b, names.missing]);
    const ports = new Map((await sw.listPorts()).map((port) => [port.name, port.ofport]));
    assert.deepEqual(added, [names.a, names.b, names.missing].map((name) => ({ name, ofport: ports.get(name) })), 'addPorts answers the numbers listPorts lists');
    assert.ok((ports.get(names.a) ?? 0) > 0 && (ports.get(names.b) ?? 0) > 0);
    assert.notEqual(ports.get(names.a), ports.get(names.b));
    assert.equal(ports.get(names.missing), -1);
    await sw.addPorts([names.a]); // re-adding an existing port is allowed
    const again = await sw.addPorts([names.a], new Set([names.a, names.b, names.missing])); // the caller may say what is on the bridge
    assert.ok((again[0]?.ofport ?? 0) > 0);
    await sw.removePorts([names.b, names.missing, 'never-added']);
    assert.deepEqual((await sw.listPorts()).map((port) => port.name), [names.a]);
  }));

  test('switch contract: a bundle adds, overwrites and deletes flows, and the dump reads them back exactly', () => withRig(async ({ sw, createInterface }) => {
    await sw.ensureBridge();
    await createInterface(names.a);
    await createInterface(names.b);
    await sw.addPorts([names.a, names.b]);
    const ports = new Map((await sw.listPorts()).map((port) => [port.name, port.ofport]));
    const [a, b] = [ports.get(names.a), ports.get(names.b)];
    await sw.applyFlows({ add: [
      `cookie=0x700000001,priority=100,in_port=${a},ip,nw_src=10.0.0.1 actions=output:${b}`,
      `cookie=0x700000001,priority=100,in_port=${b},arp,arp_tpa=10.0.0.1 actions=output:${a}`,
      'cookie=0x0,priority=0 actions=drop',
    ], remove: [] });
    await sw.applyFlows({ add: [`cookie=0x700000002,priority=100,in_port=${a},ip,nw_src=10.0.0.1 actions=drop`], remove: [`priority=100,in_port=${b},arp,arp_tpa=10.0.0.1`, 'priority=7,in_port=1'] });
    const flows = (await sw.dumpFlows()).map((flow) => `${flow.cookie.toString(16)} ${flow.priority} ${flow.match.split(',').sort().join(',')} ${flow.actions}`).sort();
    assert.deepEqual(flows, [`0 0  drop`, `700000002 100 in_port=${a},ip,nw_src=10.0.0.1 drop`].sort());
  }));

  test('switch contract: a bundle with an invalid flow changes nothing', () => withRig(async ({ sw }) => {
    await sw.ensureBridge();
    await sw.applyFlows({ add: ['cookie=0x1,priority=0 actions=drop'], remove: [] });
    const before = await sw.dumpFlows();
    await assert.rejects(sw.applyFlows({ add: ['cookie=0x2,priority=5,ip,nw_src=10.0.0.1 actions=drop', 'cookie=0x2,priority=6,ip'], remove: ['priority=0'] }));
    assert.deepEqual(await sw.dumpFlows(), before);
  }));
}

/** RuntimeRig gives the suite a runtime, images to use, and a view of host interfaces. */
export interface RuntimeRig {
  runtime: UmboxRuntime;
  nodeId: string;
  /** good is an image pinned correctly; tampered is pinned with a digest its local image does not have. */
  good: { image: string; digest: string };
  tampered: { image: string; digest: string };
  interfaceExists(name: string): Promise<boolean>;
  /** killByHand kills a running container from outside the runtime (drift). */
  killByHand(name: string): Promise<void>;
}

/** runtimeContract registers the UmboxRuntime contract tests. */
export function runtimeContract(rig: () => Promise<RuntimeRig & { dispose(): Promise<void> }>): void {
  const planned = (r: RuntimeRig, suffix: string): PlannedUmbox => {
    const tag = `${process.pid.toString(16).slice(-4)}${suffix}`.padEnd(10, '0').slice(0, 10);
    return {
      name: `qgt-contract-${process.pid}-${suffix}`, nodeId: r.nodeId, deviceId: 'contract-device', generation: 5, position: 0,
      image: r.good.image, digest: r.good.digest, config: {}, inPort: `qm${tag}i`, outPort: `qm${tag}o`,
    };
  };
  const withRig = async (body: (r: RuntimeRig) => Promise<void>): Promise<void> => {
    const r = await rig();
    try {
      await body(r);
    } finally {
      await r.dispose();
    }
  };

  test('runtime contract: checkImage accepts the pinned image and tells missing from mismatching', () => withRig(async (r) => {
    const good = await r.runtime.checkImage(r.good.image, r.good.digest);
    assert.ok(good.ok && good.imageId.startsWith('sha256:'));
    const missing = await r.runtime.checkImage(r.good.image, `sha256:${'ab'.repeat(32)}`);
    assert.ok(!missing.ok && missing.reason === 'missing');
    const tampered = await r.runtime.checkImage(r.tampered.image, r.tampered.digest);
    assert.ok(!tampered.ok && tampered.reason === 'mismatch', JSON.stringify(tampered));
  }));

  test('runtime contract: start wires a ready μmbox with its labels; starting again replaces it; remove deletes it and its ports', () => withRig(async (r) => {
    const umbox = planned(r, 'a');
    const check = await r.runtime.checkImage(umbox.image, umbox.digest);
    assert.ok(check.ok);
    try {
      const started = await r.runtime.start(umbox, check.imageId);
      assert.equal(started.ready, true);
      assert.ok(await r.interfaceExists(umbox.inPort) && await r.interfaceExists(umbox.outPort));
      const again = await r.runtime.start(umbox, check.imageId);
      assert.notEqual(again.containerId, started.containerId);
      const listed = (await r.runtime.list(r.nodeId)).filter((one) => one.name === umbox.name);
      assert.deepEqual(listed.map((one) => [one.deviceId, one.generation, one.position, one.image, one.digest, one.running, one.ready, one.containerId]),
        [['contract-device', 5, 0, umbox.image, umbox.digest, true, true, again.containerId]]);
    } finally {
      await r.runtime.remove(umbox.name);
    }
    assert.deepEqual((await r.runtime.list(r.nodeId)).filter((one) => one.name === umbox.name), []);
    assert.equal(await r.interfaceExists(umbox.inPort), false);
    await r.runtime.remove(umbox.name); // removing what is gone is fine
  }));
  test('runtime contract: a warm μmbox on a slot holds until claimed; the claim keeps its container and slot, gives it the planned name and makes it ready', () => withRig(async (r) => {
    const { runtime } = r;
    if (runtime.preparePorts === undefined || runtime.startPooled === undefined || runtime.claim === undefined) return assert.fail('the runtime has no warm pool');
    const tag = `${process.pid.toString(16).slice(-4)}pl`.padEnd(10, '0').slice(0, 10);
    const slot = { inPort: `qp${tag}i`, outPort: `qp${tag}o` };
    const umbox = planned(r, 'c');
    const pooledName = `qgt-contract-${process.pid}-warm`;
    const check = await runtime.checkImage(r.good.image, r.good.digest);
    assert.ok(check.ok);
    try {
      await runtime.preparePorts(slot);
      const pooled = await runtime.startPooled({ name: pooledName, nodeId: r.nodeId, image: r.good.image, digest: r.good.digest, ...slot }, check.imageId);
      assert.equal(pooled.pooled, true);
      const listed = (await runtime.list(r.nodeId)).find((one) => one.name === pooledName);
      assert.deepEqual(listed && [listed.pooled, listed.running, listed.ready, listed.deviceId, listed.containerId, listed.ports], [true, true, true, '', pooled.containerId, slot]);
      await assert.rejects(runtime.claim(pooledName, { ...umbox, image: 'other', digest: `sha256:${'00'.repeat(32)}` }), 'a claim for another image is refused');
      const claimed = await runtime.claim(pooledName, umbox);
      assert.deepEqual([claimed.name, claimed.containerId, claimed.ready, claimed.ports, claimed.pooled], [umbox.name, pooled.containerId, true, slot, undefined]);
      const after = await runtime.list(r.nodeId);
      assert.equal(after.some((one) => one.name === pooledName), false, 'the warm name is gone');
      const now = after.find((one) => one.name === umbox.name);
      assert.deepEqual(now && [now.pooled, now.running, now.ready, now.containerId, now.ports], [undefined, true, true, pooled.containerId, slot]);
      assert.deepEqual(now && [now.deviceId, now.generation, now.position], [umbox.deviceId, umbox.generation, umbox.position], 'listed with the identity the claim gave it');
      assert.ok(await r.interfaceExists(slot.inPort) && await r.interfaceExists(slot.outPort), 'the slot\'s host ends stay');
      await assert.rejects(runtime.claim(umbox.name, umbox), 'a claimed μmbox is not free');
    } finally {
      await runtime.remove(umbox.name);
      await runtime.remove(pooledName);
    }
    assert.equal(await r.interfaceExists(slot.inPort), false, 'removing the μmbox removes the slot\'s veths');
  }));
  test('runtime contract: watch reports a container killed by hand, by name and id, and nothing once closed', () => withRig(async (r) => {
    if (r.runtime.watch === undefined) return assert.fail('the runtime has no watch');
    const umbox = planned(r, 'w');
    const check = await r.runtime.checkImage(umbox.image, umbox.digest);
    assert.ok(check.ok);
    const died: Array<[string, string]> = [];
    const watch = r.runtime.watch(r.nodeId, (name, containerId) => died.push([name, containerId]));
    try {
      const started = await r.runtime.start(umbox, check.imageId);
      await new Promise((resolve) => setTimeout(resolve, 300)); // the subscription is in place (the engine's stream is asynchronous)
      await r.killByHand(umbox.name);
      const deadline = Date.now() + 10_000;
      while (!died.some(([name]) => name === umbox.name) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(died.filter(([name]) => name === umbox.name), [[umbox.name, started.containerId]]);
      watch.close();
      const again = await r.runtime.start(umbox, check.imageId);
      await r.killByHand(umbox.name);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(died.filter(([, id]) => id === again.containerId).length, 0, 'nothing is reported after close');
    } finally {
      watch.close();
      await r.runtime.remove(umbox.name);
    }
  }));
}
