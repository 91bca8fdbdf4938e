// plant-delete-then-add.test.ts — goal: the planted bug delete-then-add, now a wrapper the composition root
// puts around the node's switch (src/node/plant-delete-then-add.ts), still breaks make-before-break as the
// chaos self-test expects: a device's old flows go in a bundle of their own, its new ones come a gap later,
// so for that gap the device has no flows; and without the wrapper the same reconciler never does that.
// Method: the real Reconciler over the in-memory Switch and UmboxRuntime (src/dataplane/memory.ts), the
// wrapper's gap recorded instead of slept; the flow table is read at the gap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { HostInterfaces, MemorySwitch, MemoryUmboxRuntime, Reconciler, splitCookie, type Switch } from '../../src/dataplane/index.js';
import type { DesiredInput, DevicePlan } from '../../src/dataplane/index.js';
import { DeleteThenAddSwitch, PLANT_GAP_MS } from '../../src/node/plant-delete-then-add.js';

const digest = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;

function input(plan: DevicePlan): DesiredInput {
  return { nodeId: 'node-a', devices: [{ id: 'cam', port: 'dev1', addresses: ['10.0.0.1'], plan }] };
}

/** swapWith runs normal (monitor) → direct through `wrap(switch)` and returns the device's generations seen at each gap. */
async function swapWith(wrap: (inner: MemorySwitch, atGap: () => Promise<void>) => Switch): Promise<{ inner: MemorySwitch; atGaps: number[][] }> {
  const interfaces = new HostInterfaces();
  interfaces.add('dev1', 'up0');
  const inner = new MemorySwitch('br0', interfaces);
  const runtime = new MemoryUmboxRuntime(interfaces);
  runtime.addImage('monitor', digest('monitor'), [digest('monitor')]);
  const atGaps: number[][] = [];
  const generations = async (): Promise<number[]> => [...new Set((await inner.dumpFlows()).filter((flow) => flow.cookie !== 0n).map((flow) => splitCookie(flow.cookie).generation))];
  const reconciler = new Reconciler({
    switch: wrap(inner, async () => { atGaps.push(await generations()); }), runtime, uplinkPort: 'up0', interfaceExists: (name) => interfaces.has(name), drainMs: 1, portPool: 0, warmPool: 0,
  });
  reconciler.setDesired(input({ state: 'normal', generation: 1, chain: [{ image: 'monitor', digest: digest('monitor') }] }));
  await reconciler.reconcileOnce();
  reconciler.setDesired(input({ state: 'direct', generation: 2, verdict: 'allow' }));
  await reconciler.reconcileOnce();
  return { inner, atGaps };
}

test('delete-then-add: the old generation goes in a bundle of its own, and for the gap the device has no flows at all', async () => {
  const { inner, atGaps } = await swapWith((sw, atGap) => new DeleteThenAddSwitch(sw, PLANT_GAP_MS, async (ms) => {
    assert.equal(ms, PLANT_GAP_MS);
    await atGap();
  }));
  assert.deepEqual(atGaps, [[]], 'one gap, during which neither generation is installed');
  const deleteOnly = inner.bundles.filter((bundle) => bundle.add.length === 0 && bundle.remove.length > 0);
  assert.ok(deleteOnly.length >= 1, 'a bundle that only deletes');
  assert.deepEqual([...new Set((await inner.dumpFlows()).filter((flow) => flow.cookie !== 0n).map((flow) => splitCookie(flow.cookie).generation))], [2], 'then the new generation is in');
});

test('without the wrapper the swap never leaves the device without flows (make-before-break)', async () => {
  const seen: number[][] = [];
  await swapWith((sw) => {
    const apply = sw.applyFlows.bind(sw);
    sw.applyFlows = async (change) => {
      await apply(change);
      seen.push([...new Set((await sw.dumpFlows()).filter((flow) => flow.cookie !== 0n).map((flow) => splitCookie(flow.cookie).generation))]);
    };
    return sw;
  });
  assert.ok(seen.length > 0 && seen.every((generations) => generations.length > 0), `after every bundle some generation is installed: ${JSON.stringify(seen)}`);
});
