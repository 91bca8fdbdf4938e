// flow-table.test.ts — goal: the pure flow-table functions that decide what one bundle does, on their own:
// holdForDrain keeps the flows out of an old chain's μmboxes for the drain (make-before-break in the
// datapath) and nothing else — not a device now quarantined (fail-closed), not the node's own flows, not the
// flows into the chain; blockingEarly picks exactly the devices moving to a block-all chain that must start;
// blockNow replaces such a device's flows with its drop flows and leaves the other devices alone;
// settleDrained overwrites a drained flow the new table wants again (never delete-then-add) and removes the rest.
// (flows.test.ts covers rendering, composing and diffing.) Method: table tests on plans from the real
// planner with made-up port numbers; no switch, no clock.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { blockingEarly, blockNow, composeChanges, composeTable, holdForDrain, settleDrained, umboxPortNumbers } from '../../src/dataplane/flow-table.js';
import { planDataplane } from '../../src/dataplane/planner.js';
import type { SwitchPortInfo } from '../../src/dataplane/ovs.js';
import type { DesiredDataplane, DevicePlan, ImagePin } from '../../src/dataplane/types.js';

const pin = (image: string): ImagePin => ({ image, digest: `sha256:${createHash('sha256').update(image).digest('hex')}` });

/** planOf plans one node whose devices have the given plans (ports dev1.., addresses 10.0.0.1..). */
function planOf(plans: Record<string, DevicePlan>): DesiredDataplane {
  return planDataplane({
    nodeId: 'node-a',
    devices: Object.entries(plans).map(([id, plan], index) => ({ id, port: `dev${index + 1}`, addresses: [`10.0.0.${index + 1}`], plan })),
  }, { uplinkPort: 'up0', standbyLimit: 0 });
}

/** portsOf numbers the uplink, the device ports and the μmbox ports of every plan given. */
function portsOf(...plans: DesiredDataplane[]): SwitchPortInfo[] {
  const names = new Set<string>(['up0']);
  for (const plan of plans) {
    for (const device of plan.devices) {
      names.add(device.port);
      for (const umbox of device.umboxes) names.add(umbox.inPort).add(umbox.outPort);
    }
  }
  return [...names].map((name, index) => ({ name, ofport: index + 1 }));
}

/** swap composes the table before and after a move and returns the change's removals with their flows. */
function swap(before: DesiredDataplane, after: DesiredDataplane, blockedAfter: ReadonlyMap<string, string> = new Map()) {
  const ports = portsOf(before, after);
  const old = composeTable(before, ports, new Map(), 'br0');
  const next = composeTable(after, ports, blockedAfter, 'br0');
  const removed = [...old.table.values()].filter((flow) => !next.table.has(flow.key));
  const change = { add: [], remove: removed.map((flow) => `priority=${flow.priority},${flow.match}`) };
  return { ports, removed, change, next };
}

describe('holdForDrain', () => {
  test('normal (monitor) → direct: the two flows out of the monitor are held, nothing else', () => {
    const before = planOf({ cam: { state: 'normal', generation: 1, chain: [pin('monitor')] } });
    const after = planOf({ cam: { state: 'direct', generation: 2, verdict: 'allow' } });
    const { ports, removed, change } = swap(before, after);
    const monitor = before.devices[0]!.umboxes[0]!;
    const numbers = new Map(ports.map((port) => [port.name, port.ofport]));
    const split = holdForDrain(change, removed, umboxPortNumbers(ports), new Set([after.devices[0]!.deviceNumber]));
    assert.deepEqual(split.held.sort(), [`priority=100,in_port=${numbers.get(monitor.inPort)}`, `priority=100,in_port=${numbers.get(monitor.outPort)}`].sort());
    assert.equal(split.now.remove.length + split.held.length, change.remove.length, 'every removal is either now or after the drain');
    assert.ok(split.now.remove.every((text) => !split.held.includes(text)));
  });

  test('a device moved to quarantine holds nothing: what is inside its old chain is dropped at once', () => {
    const before = planOf({ cam: { state: 'normal', generation: 1, chain: [pin('monitor')] } });
    const after = planOf({ cam: { state: 'quarantined', generation: 2, verdict: 'quarantine' } });
    const { ports, removed, change, next } = swap(before, after);
    const passing = new Set(after.devices.filter((device) => next.composed.get(device.deviceId)?.report.enforcement !== 'quarantine').map((device) => device.deviceNumber));
    const split = holdForDrain(change, removed, umboxPortNumbers(ports), passing);
    assert.deepEqual(split.held, []);
    assert.deepEqual(split.now, change);
  });

  test('flows into a chain and the node\'s own flows (cookie 0) are never held', () => {
    const removed = [
      { cookie: 0n, priority: 1, match: 'in_port=7' },
      { cookie: (5n << 32n) | 1n, priority: 100, match: 'ip,in_port=2,nw_src=10.0.0.1' },
    ];
    const change = { add: [], remove: ['priority=1,in_port=7', 'priority=100,ip,in_port=2,nw_src=10.0.0.1'] };
    const split = holdForDrain(change, removed, new Set([7]), new Set([5]));
    assert.deepEqual(split.held, [], 'in_port 7 is a μmbox port, but the flow is the node\'s; in_port 2 is no μmbox port');
  });

  test('only μmbox and pool ports count as the old chain\'s (qm… and qp… names)', () => {
    const ports: SwitchPortInfo[] = [{ name: 'up0', ofport: 1 }, { name: 'dev1', ofport: 2 }, { name: 'qm0123456789i', ofport: 3 }, { name: 'qp0123456789o', ofport: 4 }, { name: 'qm9999999999o', ofport: -1 }];
    assert.deepEqual([...umboxPortNumbers(ports)].sort(), [3, 4]);
  });
});

describe('settleDrained', () => {
  /** drainedThenBack: normal → direct holds the flows out of the monitor; `next` is the plan of the pass after the drain. */
  function drainedThenBack(next: DesiredDataplane) {
    const before = planOf({ cam: { state: 'normal', generation: 1, chain: [pin('monitor')] } });
    const direct = planOf({ cam: { state: 'direct', generation: 2, verdict: 'allow' } });
    const { ports, removed, change, next: afterDirect } = swap(before, direct);
    const split = holdForDrain(change, removed, umboxPortNumbers(ports), new Set([direct.devices[0]!.deviceNumber]));
    const drained = removed.filter((flow) => split.held.includes(`priority=${flow.priority},${flow.match}`));
    assert.equal(drained.length, 2, 'the two flows out of the monitor were held');
    const changes = composeChanges(next, ports, new Map(), 'br0', afterDirect.composed, new Map(afterDirect.table));
    return { drained, changes, settled: settleDrained(changes.change, drained, changes.table) };
  }

  test('a swap back to the chain overwrites the drained flows out of it: added with the new cookie, never removed', () => {
    const { drained, changes, settled } = drainedThenBack(planOf({ cam: { state: 'normal', generation: 3, chain: [pin('monitor')] } }));
    for (const flow of drained) {
      const text = `priority=${flow.priority},${flow.match}`;
      assert.ok(!settled.remove.includes(text), `${text} is not removed: ${settled.remove.join(' | ')}`);
      const added = settled.add.find((line) => line.includes(`,${text} actions=`));
      assert.ok(added !== undefined && !added.startsWith(`cookie=0x${flow.cookie.toString(16)},`), `${text} is added again, with generation 3's cookie: ${settled.add.join(' | ')}`);
    }
    assert.deepEqual(settled.add.length, changes.change.add.length, 'the additions were in the change already (the cached table had lost them)');
  });

  test('a pass that does not want them removes them in its own bundle', () => {
    const { drained, settled, changes } = drainedThenBack(planOf({ cam: { state: 'direct', generation: 2, verdict: 'allow' } }));
    assert.deepEqual(settled.add, changes.change.add);
    assert.deepEqual(settled.remove.slice(changes.change.remove.length).sort(), drained.map((flow) => `priority=${flow.priority},${flow.match}`).sort());
  });

  test('nothing drained: the change as it is', () => {
    const change = { add: ['cookie=0x1,priority=100,in_port=1 actions=output:2'], remove: [] };
    assert.equal(settleDrained(change, [], new Map()), change);
  });
});

describe('early drop', () => {
  test('blockingEarly picks the devices moving to a block-all chain that must start, and only them', () => {
    const desired = planOf({
      cam: { state: 'attack', generation: 2, chain: [pin('block-all')] },
      lamp: { state: 'normal', generation: 1, chain: [pin('monitor')] },
      plug: { state: 'attack', generation: 3, chain: [pin('block-all')] },
    });
    const toStart = desired.devices.flatMap((device) => device.umboxes).map((umbox) => ({ umbox }));
    assert.deepEqual(blockingEarly(desired, toStart, new Map()).map((device) => device.deviceId), ['cam', 'plug']);
    assert.deepEqual(blockingEarly(desired, toStart, new Map([['plug', 'image missing']])).map((device) => device.deviceId), ['cam'], 'a blocked device is quarantined anyway');
    assert.deepEqual(blockingEarly(desired, toStart.filter((item) => item.umbox.deviceId !== 'cam'), new Map()).map((device) => device.deviceId), ['plug'], 'a running block-all needs no early drop');
  });

  test('blockNow swaps the device\'s flows for its drop flows in the table and leaves the other devices\' flows', () => {
    const before = planOf({ cam: { state: 'normal', generation: 1, chain: [pin('monitor')] }, lamp: { state: 'direct', generation: 1, verdict: 'allow' } });
    const after = planOf({ cam: { state: 'attack', generation: 2, chain: [pin('block-all')] }, lamp: { state: 'direct', generation: 1, verdict: 'allow' } });
    const ports = portsOf(before, after);
    const { table } = composeTable(before, ports, new Map(), 'br0');
    const lampFlows = [...table.values()].filter((flow) => flow.match.includes('10.0.0.2'));
    const cam = after.devices.find((device) => device.deviceId === 'cam')!;
    const { change, composed } = blockNow([cam], ports, 'up0', 'br0', table);
    assert.equal(composed.get('cam')?.report.enforcement, 'quarantine');
    assert.ok(change.add.length > 0 && change.remove.length > 0);
    for (const flow of lampFlows) assert.deepEqual(table.get(flow.key), flow, `lamp's flow ${flow.key} is untouched`);
    const camNumber = ports.find((port) => port.name === 'dev1')!.ofport;
    const fromCam = [...table.values()].filter((flow) => flow.match.split(',').includes(`in_port=${camNumber}`) && flow.priority === 100);
    assert.ok(fromCam.length > 0 && fromCam.every((flow) => flow.actions === 'drop'), 'everything from the camera\'s port is dropped');
  });
});
