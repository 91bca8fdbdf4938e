// umbox-pools.test.ts — goal: the μmbox pools on their own (umbox-pools.ts): the port pool keeps its size
// of free slots on the bridge, hands each slot out once and takes an untouched one back; a full pass finds
// the free slots again (not those a container or a plan uses); a μmbox on a slot is known by its own port
// names too (aliases); the warm pool starts at most one container a pass, on a slot, and after a failed
// start an image waits warmRetryMs of the injected clock before the next try.
// Method: UmboxPools over the in-memory Switch and UmboxRuntime (which pass the same contract suites as
// OVS and Docker), with a SimulatedClock; no real time passes.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SimulatedClock } from '../../src/dataplane/clock.js';
import { HostInterfaces, MemorySwitch, MemoryUmboxRuntime } from '../../src/dataplane/memory.js';
import { planDataplane, umboxPorts } from '../../src/dataplane/planner.js';
import { aliasPorts, findFreeSlots, UmboxPools, WARM_RETRY_MS, type PoolReport } from '../../src/dataplane/umbox-pools.js';
import type { DesiredDataplane, ObservedUmbox } from '../../src/dataplane/types.js';

const digest = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const SLOT = /^qp[0-9a-f]{10}[io]$/;

function rig(options: { portPool?: number; warmPool?: number } = {}) {
  const interfaces = new HostInterfaces();
  interfaces.add('up0');
  const sw = new MemorySwitch('br0', interfaces);
  const runtime = new MemoryUmboxRuntime(interfaces);
  runtime.addImage('firewall', digest('firewall'), [digest('firewall')]);
  const clock = new SimulatedClock();
  const live: ObservedUmbox[] = [];
  const pools = new UmboxPools({ switch: sw, runtime, clock, started: (umbox) => { live.push(umbox); return umbox; }, ownChange: () => undefined, ...options });
  return { interfaces, sw, runtime, clock, pools, live };
}

function report(): PoolReport {
  return { poolErrors: [], warmStarted: 0 };
}

/** desiredWarm is a node with no devices whose policy chains `firewall` (so it is warm). */
function desiredWarm(): DesiredDataplane {
  return planDataplane({ nodeId: 'node-a', devices: [], warm: [{ image: 'firewall', digest: digest('firewall') }] }, { uplinkPort: 'up0' });
}

describe('the port pool', () => {
  test('refillPool makes the missing slots, both ports of each on the bridge; a taken slot is made again', async () => {
    const { sw, pools } = rig({ portPool: 2 });
    await sw.ensureBridge();
    const added = await pools.refillPool([], report());
    assert.equal(added.length, 4);
    assert.ok(added.every((port) => SLOT.test(port.name) && port.ofport > 0));
    assert.equal(pools.freeSlots().length, 2);
    const slot = pools.takeSlot();
    assert.ok(slot !== undefined);
    assert.equal(pools.freeSlots().length, 1);
    assert.equal((await pools.refillPool(await sw.listPorts(), report())).length, 2, 'one slot made again');
    assert.equal(pools.freeSlots().length, 2);
    assert.ok(!pools.freeSlots().some((free) => free.inPort === slot.inPort), 'a slot handed out is not free any more');
  });

  test('an untouched slot goes back once; giving it back twice is a broken invariant', async () => {
    const { sw, pools } = rig({ portPool: 1 });
    await sw.ensureBridge();
    await pools.refillPool([], report());
    const slot = pools.takeSlot();
    assert.ok(slot !== undefined);
    pools.returnSlot(slot);
    assert.throws(() => pools.returnSlot(slot), /returned once/);
  });

  test('a full pass finds the free slots again, not a slot a container uses; at most the pool size', async () => {
    const { sw, runtime, interfaces, pools } = rig({ portPool: 3 });
    await sw.ensureBridge();
    await pools.refillPool([], report());
    const slots = [...pools.freeSlots()];
    await runtime.startPooled({ name: 'warm-1', nodeId: 'node-a', image: 'firewall', digest: digest('firewall'), ...slots[0]! }, digest('firewall'));
    const found = findFreeSlots(desiredWarm(), await sw.listPorts(), await runtime.list('node-a'), (name) => interfaces.has(name), 3);
    assert.deepEqual(found.map((slot) => slot.inPort).sort(), [slots[1]!.inPort, slots[2]!.inPort].sort());
    assert.equal(findFreeSlots(desiredWarm(), await sw.listPorts(), await runtime.list('node-a'), (name) => interfaces.has(name), 1).length, 1);
  });

  test('a μmbox on a slot is known by its own port names too, with the slot\'s numbers', () => {
    const name = 'qgu-node-a-0001';
    const own = umboxPorts(name);
    const ports = [{ name: 'qp0123456789i', ofport: 7 }, { name: 'qp0123456789o', ofport: 8 }];
    const umbox = { name, ports: { inPort: 'qp0123456789i', outPort: 'qp0123456789o' } } as ObservedUmbox;
    const aliased = aliasPorts(ports, [umbox]);
    assert.deepEqual(aliased.filter((port) => port.aliasOf !== undefined), [
      { name: own.inPort, ofport: 7, aliasOf: 'qp0123456789i' }, { name: own.outPort, ofport: 8, aliasOf: 'qp0123456789o' },
    ]);
  });
});

describe('the warm pool', () => {
  test('one warm container a pass, on a free slot; a failed start waits warmRetryMs of the clock', async () => {
    const { sw, runtime, clock, pools } = rig({ portPool: 0, warmPool: 2 });
    await sw.ensureBridge();
    const check = async (pin: { image: string; digest: string }) => runtime.checkImage(pin.image, pin.digest);
    const desired = desiredWarm();
    const first = await pools.warmToStart(desired, [], check, report());
    assert.equal(first.length, 1, 'one start a pass, though two are missing');
    await pools.refillPool([], report(), first.length);
    runtime.failStarts.add('firewall');
    const failed = report();
    assert.deepEqual(await pools.refillWarm('node-a', first, failed), []);
    assert.equal(failed.poolErrors.length, 1);
    assert.deepEqual(await pools.warmToStart(desired, [], check, report()), [], 'the image waits after a failed start');
    await clock.advanceMs(WARM_RETRY_MS);
    runtime.failStarts.delete('firewall');
    const again = await pools.warmToStart(desired, [], check, report());
    assert.equal(again.length, 1, 'after warmRetryMs it is tried again');
    await pools.refillPool(await sw.listPorts(), report(), again.length);
    const done = report();
    const started = await pools.refillWarm('node-a', again, done);
    assert.equal(started.length, 1);
    assert.equal(done.warmStarted, 1);
    assert.ok(started[0]!.pooled === true && started[0]!.ports !== undefined && SLOT.test(started[0]!.ports.inPort), 'it runs on a slot');
  });
});
