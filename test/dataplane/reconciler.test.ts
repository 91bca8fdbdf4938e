// reconciler.test.ts — goal: the reconciler's rules, one test each: make-before-break (new μmboxes start,
// ONE bundle swaps the flows, only then old μmboxes go); fail-closed (a device whose μmboxes cannot start
// or whose image fails its pin is quarantined, never left passing, and retried with backoff); drift made
// by hand is repaired; a restarted reconciler adopts what runs without touching it; a failed bundle
// changes nothing; stopping leaves enforcement in place (fail-static); the flows out of an old chain outlive
// the swap bundle by the drain interval (make-before-break in the datapath); the loop's backoff and resync
// spacing hold on simulated time.
// Method: the real Reconciler over the in-memory Switch and UmboxRuntime (src/dataplane/memory.ts, which
// pass the same contract suites as the OVS and Docker adapters), sharing one event log to check order.
// Every test of the loop (start(): backoff, resync, preemption, deaths, link events) runs on a SimulatedClock
// (advanceUntil, appliedOn, passOn below), so its timing is exact and no test waits for real time; tests of
// one pass (reconcileOnce) keep the system clock, whose only wait is the 5 ms drain. The tests with real Open
// vSwitch and Docker (swap.test.ts, packets.test.ts, discovery.test.ts, management.test.ts) stay on real
// time: the switch's and engine's own timing (revalidators, container starts, link events) is what they test.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { HostInterfaces, MemorySwitch, MemoryUmboxRuntime } from '../../src/dataplane/memory.js';
import { Reconciler, type IntegrityAlert, type PassResult } from '../../src/dataplane/reconciler.js';
import { assignDeviceNumbers, splitCookie, umboxPorts } from '../../src/dataplane/planner.js';
import { SimulatedClock, sleepOn, type Clock } from '../../src/dataplane/clock.js';
import type { DesiredInput, DeviceReport, DevicePlan, ImagePin, ObservedFlow } from '../../src/dataplane/types.js';

const digest = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const pin = (image: string): ImagePin => ({ image, digest: digest(image) });

function rig() {
  const interfaces = new HostInterfaces();
  interfaces.add('dev1', 'dev2', 'up0');
  const events: string[] = [];
  const sw = new MemorySwitch('br0', interfaces, events);
  const runtime = new MemoryUmboxRuntime(interfaces, events);
  for (const image of ['monitor', 'firewall', 'block-all']) runtime.addImage(image, digest(image), [digest(image)]);
  const integrity: IntegrityAlert[] = [];
  const make = (extra: {
    resyncMs?: number; portPool?: number; warmPool?: number; warmRetryMs?: number; onPass?: (result: PassResult) => void; clock?: Clock; drainMs?: number;
  } = {}): Reconciler => new Reconciler({
    switch: sw, runtime, uplinkPort: 'up0', interfaceExists: (name) => interfaces.has(name), onIntegrityAlert: (alert) => integrity.push(alert),
    resyncMs: 20, backoffMinMs: 5, backoffMaxMs: 40, drainMs: 5, ...extra,
  });
  return { interfaces, events, sw, runtime, integrity, make };
}

function input(plans: Record<string, DevicePlan | null>): DesiredInput {
  return {
    nodeId: 'node-a',
    devices: Object.entries(plans).map(([id, plan], index) => ({ id, port: `dev${index + 1}`, addresses: [`10.0.0.${index + 1}`], plan })),
  };
}

async function deviceGenerations(sw: MemorySwitch): Promise<number[]> {
  const flows = await sw.dumpFlows();
  return [...new Set(flows.filter((flow) => flow.cookie !== 0n).map((flow) => splitCookie(flow.cookie).generation))].sort();
}

/**
 * advanceUntil moves simulated time in steps of `stepMs` until `check` holds, and fails once `limitMs` of
 * simulated time passed without it; it answers the simulated time that took. Every loop test runs on
 * simulated time: deterministic, and as fast as the code allows (no test waits for real time to pass).
 */
async function advanceUntil(clock: SimulatedClock, check: () => boolean | Promise<boolean>, limitMs: number, what: string, stepMs = 5): Promise<number> {
  const fromMs = clock.nowMs();
  while (!(await check())) {
    if (clock.nowMs() - fromMs >= limitMs) throw new Error(`${limitMs} ms of simulated time passed before ${what}`);
    await clock.advanceMs(stepMs);
  }
  return clock.nowMs() - fromMs;
}

/** appliedOn moves simulated time until the device's generation `generation` (or a later one) is applied. */
async function appliedOn(clock: SimulatedClock, reconciler: Reconciler, deviceId: string, generation: number, limitMs = 5_000): Promise<DeviceReport> {
  await advanceUntil(clock, () => (reconciler.reportFor(deviceId)?.appliedGeneration ?? -1) >= generation, limitMs, `${deviceId} applies generation ${generation}`);
  const report = reconciler.reportFor(deviceId);
  assert.ok(report !== undefined);
  return report;
}

/** passOn runs one pass (reconcileOnce) while moving simulated time, for the waits inside it (the drain). */
async function passOn(clock: SimulatedClock, reconciler: Reconciler, options?: Parameters<Reconciler['reconcileOnce']>[0]): Promise<PassResult> {
  let ended = false;
  const pass = reconciler.reconcileOnce(options);
  void pass.then(() => { ended = true; }, () => { ended = true; });
  await advanceUntil(clock, () => ended, 5_000, 'the pass ends');
  return pass;
}

/**
 * runningLoop starts a reconciler's loop on simulated time (timer passes `resyncMs` apart) on a rig with one
 * allowed device, and returns once its first pass has enforced it and reported.
 */
async function runningLoop(resyncMs: number): Promise<{ clock: SimulatedClock; sw: MemorySwitch; reconciler: Reconciler; passes: PassResult[] }> {
  const clock = new SimulatedClock();
  const { sw, make } = rig();
  const passes: PassResult[] = [];
  const reconciler = make({ clock, resyncMs, onPass: (result) => passes.push(result) });
  reconciler.setDesired(input({ cam: { state: 'a', generation: 1, verdict: 'allow' } }));
  reconciler.start();
  await appliedOn(clock, reconciler, 'cam', 1);
  await advanceUntil(clock, () => passes.length >= 1, 2_000, 'the first pass reports');
  return { clock, sw, reconciler, passes };
}

/** standbyInput is input() with the monitor chain standing by for `cam` (as swap.test.ts has it): it stays between swaps. */
function standbyInput(plans: Record<string, DevicePlan | null>): DesiredInput {
  const plain = input(plans);
  return { ...plain, devices: plain.devices.map((device) => device.id === 'cam' ? { ...device, standby: [{ state: 'normal', chain: [pin('monitor')] }] } : device) };
}

/** exitFlowsOf finds the one monitor μmbox and answers a filter of the flows whose in_port is one of its ports. */
async function exitFlowsOf(sw: MemorySwitch, runtime: MemoryUmboxRuntime): Promise<(flows: ObservedFlow[]) => ObservedFlow[]> {
  const monitor = (await runtime.list('node-a')).find((umbox) => umbox.image === 'monitor');
  assert.ok(monitor !== undefined, 'the monitor runs');
  const ports = new Map((await sw.listPorts()).map((port) => [port.name, port.ofport]));
  const own = umboxPorts(monitor.name);
  return (flows) => flows.filter((flow) => [own.inPort, own.outPort].some((name) => flow.match.split(',').includes(`in_port=${ports.get(name)}`)));
}

/** watchBundles checks `holds` after every bundle the switch applies from now on and answers the bundles after which it did not. */
function watchBundles(sw: MemorySwitch, holds: () => Promise<boolean>): string[] {
  const failed: string[] = [];
  const apply = sw.applyFlows.bind(sw);
  sw.applyFlows = async (change) => {
    await apply(change);
    if (!(await holds())) failed.push(`bundle ${sw.bundles.length}: +${change.add.join(' +')} -${change.remove.join(' -')}`);
  };
  return failed;
}

/** stopOn stops a loop on simulated time (the pass in progress may wait on the clock). */
async function stopOn(clock: SimulatedClock, reconciler: Reconciler): Promise<void> {
  let stopped = false;
  void reconciler.stop().then(() => { stopped = true; });
  await advanceUntil(clock, () => stopped, 5_000, 'the loop stops');
}

/** holdReads makes the switch's port list wait until release(), then answer with `answer`. */
function holdReads(sw: MemorySwitch, answer: () => ReturnType<MemorySwitch['listPorts']>): { reading: () => boolean; release: () => void } {
  let release = (): void => undefined;
  const held = new Promise<void>((resolve) => { release = resolve; });
  let reading = false;
  sw.listPorts = async () => {
    reading = true;
    await held;
    return answer();
  };
  return { reading: () => reading, release: () => release() };
}

describe('Reconciler', () => {
  test('make-before-break: new μmboxes start, ONE bundle swaps the flows, then the old μmboxes go', async () => {
    const { events, sw, runtime, make } = rig();
    const reconciler = make();
    reconciler.setDesired(input({ cam: { state: 'normal', generation: 1, chain: [pin('monitor')] } }));
    await reconciler.reconcileOnce();
    assert.deepEqual(await deviceGenerations(sw), [1]);
    const old = (await runtime.list('node-a')).map((umbox) => umbox.name);
    events.length = 0;
    const bundlesBefore = sw.bundles.length;

    reconciler.setDesired(input({ cam: { state: 'suspicious', generation: 2, chain: [pin('firewall')] } }));
    const result = await reconciler.reconcileOnce();
    const fresh = (await runtime.list('node-a')).map((umbox) => umbox.name);
    assert.equal(fresh.length, 1);
    assert.notDeepEqual(fresh, old);
    const at = (prefix: string): number => events.findIndex((event) => event.startsWith(prefix));
    assert.ok(at(`start ${fresh[0]}`) >= 0 && at(`start ${fresh[0]}`) < at('bundle'), `the new μmbox starts before the flows move: ${events.join(' | ')}`);
    assert.ok(at('bundle') < at(`remove ${old[0]}`), `the old μmbox goes only after the flows moved: ${events.join(' | ')}`);
    // One atomic bundle moves the device; the flows out of the old μmbox follow after the drain, in a bundle
    // that only removes (see 'make-before-break in the datapath').
    assert.equal(sw.bundles.length - bundlesBefore, 2, 'the swap bundle, then the drain bundle');
    const [bundle, drain] = sw.bundles.slice(-2);
    assert.ok(bundle && bundle.add.length > 0, 'the bundle adds the new generation (over the old one\'s flows into the chain)');
    assert.ok(drain && drain.add.length === 0 && drain.remove.length > 0, 'the drain bundle only removes: the old generation\'s flows out of its chain');
    assert.equal(result.drainedFlows, drain.remove.length);
    assert.deepEqual(await deviceGenerations(sw), [2]);
    assert.equal(result.startedUmboxes, 1);
    assert.equal(result.removedUmboxes, 1);
    assert.deepEqual(reconciler.reportFor('cam'), { deviceId: 'cam', desiredGeneration: 2, appliedGeneration: 2, enforcement: 'chain', reason: null });
  });

  test('make-before-break in the datapath: the flows out of the old chain outlive the swap bundle by the drain interval, then go before its μmbox does', async () => {
    // Open vSwitch's datapath may still send a device's packets into its old chain for a moment after the
    // bundle (it revalidates its cached flows one by one): the flows out of that chain must still be there.
    // The chaos run of seed 90901 lost 3 allowed datagrams in a normal -> direct swap without this.
    const clock = new SimulatedClock();
    const { events, sw, runtime, make } = rig();
    const reconciler = make({ clock, drainMs: 200, portPool: 0, warmPool: 0 });
    reconciler.setDesired(input({ cam: { state: 'normal', generation: 1, chain: [pin('monitor')] } }));
    const first = reconciler.reconcileOnce();
    await clock.advanceMs(0);
    await first;
    const monitor = (await runtime.list('node-a'))[0];
    assert.ok(monitor);
    const ports = new Map((await sw.listPorts()).map((port) => [port.name, port.ofport]));
    const own = umboxPorts(monitor.name);
    const outOfMonitor = (flows: ObservedFlow[]): ObservedFlow[] => flows.filter((flow) => [own.inPort, own.outPort].some((name) => flow.match.split(',').includes(`in_port=${ports.get(name)}`)));
    assert.equal(outOfMonitor(await sw.dumpFlows()).length, 2, 'the chain has a flow out of each of its μmbox\'s ports');
    events.length = 0;

    reconciler.setDesired(input({ cam: { state: 'direct', generation: 2, verdict: 'allow' } }));
    const pass = reconciler.reconcileOnce({ full: false });
    await clock.advanceMs(0);
    assert.deepEqual(reconciler.reportFor('cam')?.appliedGeneration, 2, 'the swap bundle is in: the device is enforced');
    assert.deepEqual(await deviceGenerations(sw), [1, 2], 'the old generation\'s flows out of the monitor are still there');
    assert.equal(outOfMonitor(await sw.dumpFlows()).length, 2, 'both flows out of the old chain outlive the swap bundle');
    assert.ok(!events.some((event) => event.startsWith('remove')), `nothing is removed during the drain: ${events.join(' | ')}`);
    await clock.advanceMs(199);
    assert.equal(outOfMonitor(await sw.dumpFlows()).length, 2, 'still there 199 ms later');
    await clock.advanceMs(1);
    const result = await pass;
    assert.deepEqual(await deviceGenerations(sw), [2]);
    assert.equal(result.drainedFlows, 2);
    const drained = events.findIndex((event, index) => event.startsWith('bundle') && index > events.findIndex((e) => e.startsWith('bundle')));
    assert.ok(drained >= 0 && drained < events.indexOf(`remove ${monitor.name}`), `the drain bundle comes before the old μmbox goes: ${events.join(' | ')}`);
  });

  test('make-before-break in the datapath, swaps closer than the drain: a swap back to the chain during its drain never loses the way out of it', async () => {
    // swap.test.ts swaps normal → direct → normal 150 ms apart with a 200 ms drain: the input that moves the
    // device back arrives during the drain. Removing the flows out of the monitor at the drain's end and adding
    // them again in the next bundle a moment later lets Open vSwitch's revalidators update the device's cached
    // flow (into the monitor) before the monitor's (out of it, still "drop"): fresh-clone CI lost a datagram so.
    // The way out of the chain must be on the switch after every bundle, from the first normal to the last.
    const clock = new SimulatedClock();
    const { sw, runtime, make } = rig();
    const reconciler = make({ clock, drainMs: 200, portPool: 0, warmPool: 0, resyncMs: 60_000 });
    reconciler.setDesired(standbyInput({ cam: { state: 'normal', generation: 1, chain: [pin('monitor')] } }));
    reconciler.start();
    try {
      await appliedOn(clock, reconciler, 'cam', 1);
      await advanceUntil(clock, async () => (await runtime.list('node-a')).length === 1 && reconciler.passes >= 1, 2_000, 'the first pass ends');
      const outOfMonitor = await exitFlowsOf(sw, runtime);
      assert.equal(outOfMonitor(await sw.dumpFlows()).length, 2, 'the chain has a flow out of each of its μmbox\'s ports');
      const gaps = watchBundles(sw, async () => outOfMonitor(await sw.dumpFlows()).length === 2);
      const bundlesBefore = sw.bundles.length;

      reconciler.setDesired(standbyInput({ cam: { state: 'direct', generation: 2, verdict: 'allow' } }));
      await appliedOn(clock, reconciler, 'cam', 2);
      await clock.advanceMs(150);
      reconciler.setDesired(standbyInput({ cam: { state: 'normal', generation: 3, chain: [pin('monitor')] } }));
      await appliedOn(clock, reconciler, 'cam', 3);
      await advanceUntil(clock, () => reconciler.passes >= 3, 2_000, 'the swaps\' passes end');
      assert.deepEqual(gaps, [], 'after every bundle the flows out of the monitor are on the switch');
      assert.equal(sw.bundles.length - bundlesBefore, 2, 'the swap to direct, then the swap back (which settles the drain): no bundle of the drain\'s own');
      assert.deepEqual(await deviceGenerations(sw), [3], 'the drained flows were overwritten by generation 3\'s');
      // What the passes left is what a full pass makes: it changes nothing.
      const full = await passOn(clock, reconciler);
      assert.equal(full.flowsAdded + full.flowsRemoved, 0, 'a full pass finds the table as it would make it');
    } finally {
      await stopOn(clock, reconciler);
    }
  });

  test('make-before-break in the datapath: flows a drain left for new input that does not want them go in the next bundle', async () => {
    const clock = new SimulatedClock();
    const { sw, runtime, make } = rig();
    const reconciler = make({ clock, drainMs: 200, portPool: 0, warmPool: 0, resyncMs: 60_000 });
    const other = { state: 'a', generation: 1, verdict: 'allow' } as const;
    reconciler.setDesired(standbyInput({ cam: { state: 'normal', generation: 1, chain: [pin('monitor')] }, other }));
    reconciler.start();
    try {
      await appliedOn(clock, reconciler, 'cam', 1);
      await advanceUntil(clock, async () => (await runtime.list('node-a')).length === 1 && reconciler.passes >= 1, 2_000, 'the first pass ends');
      const outOfMonitor = await exitFlowsOf(sw, runtime);
      reconciler.setDesired(standbyInput({ cam: { state: 'direct', generation: 2, verdict: 'allow' }, other }));
      await appliedOn(clock, reconciler, 'cam', 2);
      await clock.advanceMs(150);
      const bundlesBefore = sw.bundles.length;
      reconciler.setDesired(standbyInput({ cam: { state: 'direct', generation: 2, verdict: 'allow' }, other: { ...other, state: 'b', generation: 2 } }));
      await appliedOn(clock, reconciler, 'other', 2);
      await advanceUntil(clock, () => reconciler.passes >= 3, 2_000, 'the passes end');
      assert.equal(sw.bundles.length - bundlesBefore, 1, 'one bundle: the other device\'s move, with the drained flows\' removal');
      assert.deepEqual(outOfMonitor(await sw.dumpFlows()), [], 'the flows out of the monitor are gone');
      const full = await passOn(clock, reconciler);
      assert.equal(full.flowsAdded + full.flowsRemoved, 0, 'a full pass finds the table as it would make it');
    } finally {
      await stopOn(clock, reconciler);
    }
  });

  test('a device moved to quarantine keeps nothing of its old chain: its flows go in the one bundle (fail-closed)', async () => {
    const { sw, make } = rig();
    const reconciler = make({ drainMs: 200 });
    reconciler.setDesired(input({ cam: { state: 'normal', generation: 1, chain: [pin('monitor')] } }));
    await reconciler.reconcileOnce();
    const bundlesBefore = sw.bundles.length;
    reconciler.setDesired(input({ cam: { state: 'quarantined', generation: 2, verdict: 'quarantine' } }));
    const result = await reconciler.reconcileOnce({ full: false });
    assert.equal(result.drainedFlows, 0);
    assert.equal(sw.bundles.length - bundlesBefore, 1, 'one bundle, no drain');
    assert.deepEqual(await deviceGenerations(sw), [2]);
  });

  test('the loop on simulated time: a failing pass is retried after a capped, doubling backoff; then a full pass every resync interval', async () => {
    const clock = new SimulatedClock();
    const { sw } = rig();
    const passes: Array<{ atMs: number; ok: boolean; full: boolean }> = [];
    let failing = true;
    const apply = sw.applyFlows.bind(sw);
    sw.applyFlows = async (change) => {
      if (failing) throw new Error('bundle refused (test)');
      return apply(change);
    };
    const reconciler = new Reconciler({
      switch: sw, runtime: new MemoryUmboxRuntime(sw.interfaces), uplinkPort: 'up0', interfaceExists: (name) => sw.interfaces.has(name), clock,
      resyncMs: 1_000, backoffMinMs: 100, backoffMaxMs: 400, drainMs: 5, portPool: 0, warmPool: 0,
      onPass: (result, error) => passes.push({ atMs: clock.nowMs() - start, ok: error === null, full: result.full }),
    });
    const start = clock.nowMs();
    reconciler.setDesired(input({ cam: { state: 'a', generation: 1, verdict: 'allow' } }));
    reconciler.start();
    for (let t = 0; t < 1_200; t += 50) await clock.advanceMs(50);
    failing = false;
    for (let t = 0; t < 3_000; t += 50) await clock.advanceMs(50);
    await reconciler.stop();
    const failed = passes.filter((pass) => !pass.ok).map((pass) => pass.atMs);
    assert.deepEqual(failed.slice(0, 5), [0, 100, 300, 700, 1_100], `backoff 100, 200, 400, 400 ms: ${JSON.stringify(passes)}`);
    const firstOk = passes.findIndex((pass) => pass.ok);
    assert.equal(passes[firstOk]?.atMs, 1_500, 'the retry after the fault cleared');
    const later = passes.slice(firstOk + 1).map((pass) => pass.atMs);
    assert.deepEqual(later, [2_500, 3_500], `then a full pass every resync interval: ${JSON.stringify(passes)}`);
    assert.ok(passes.slice(firstOk).every((pass) => pass.ok && pass.full));
  });

  for (const full of [true, false]) {
    test(`a move to a chain that drops everything (block-all) is dropped at the switch before its μmbox starts; other moves keep the old chain until the new is ready (${full ? 'full' : 'cached'} pass)`, async () => {
      const { sw, runtime, make } = rig();
      const reconciler = make();
      const cam = assignDeviceNumbers(['cam', 'plug']).get('cam');
      const camFlows = (flows: readonly ObservedFlow[]): ObservedFlow[] => flows.filter((flow) => flow.cookie !== 0n && splitCookie(flow.cookie).deviceNumber === cam);
      reconciler.setDesired(input({ cam: { state: 'normal', generation: 1, chain: [pin('monitor')] }, plug: { state: 'normal', generation: 1, verdict: 'allow' } }));
      await reconciler.reconcileOnce();
      const show = (flows: readonly ObservedFlow[]): string => flows.map((flow) => `0x${flow.cookie.toString(16)} ${flow.match} ${flow.actions}`).join('; ');
      const plugFlows = (await sw.dumpFlows()).filter((flow) => !camFlows([flow]).length);
      // What the switch holds for cam when each μmbox start begins.
      const atStart = new Map<string, ObservedFlow[]>();
      const start = runtime.start.bind(runtime);
      runtime.start = async (umbox, imageId) => {
        atStart.set(umbox.image, camFlows(await sw.dumpFlows()));
        return start(umbox, imageId);
      };

      reconciler.setDesired(input({ cam: { state: 'suspicious', generation: 2, chain: [pin('firewall')] }, plug: { state: 'normal', generation: 1, verdict: 'allow' } }));
      const passing = await reconciler.reconcileOnce({ full });
      const whileFirewallStarts = atStart.get('firewall') ?? [];
      assert.ok(whileFirewallStarts.length > 0 && whileFirewallStarts.every((flow) => splitCookie(flow.cookie).generation === 1 && flow.actions !== 'drop'),
        `cam keeps its old chain while the firewall starts: ${show(whileFirewallStarts)}`);
      assert.equal(passing.earlyBlocked, 0);

      const bundles = sw.bundles.length;
      reconciler.setDesired(input({ cam: { state: 'attack', generation: 3, chain: [pin('block-all')] }, plug: { state: 'normal', generation: 1, verdict: 'allow' } }));
      const blocking = await reconciler.reconcileOnce({ full });
      const whileBlockAllStarts = atStart.get('block-all') ?? [];
      assert.ok(whileBlockAllStarts.length > 0 && whileBlockAllStarts.every((flow) => flow.actions === 'drop' && splitCookie(flow.cookie).generation === 3),
        `cam is dropped at the switch before block-all starts: ${show(whileBlockAllStarts)}`);
      const camPort = (await sw.listPorts()).find((port) => port.name === 'dev1')?.ofport;
      assert.ok(whileBlockAllStarts.some((flow) => flow.match.split(',').includes(`in_port=${camPort}`)), 'traffic from the device port is dropped');
      assert.equal(blocking.earlyBlocked, 1);
      assert.ok(blocking.earlyBlockedAtMs > 0 && blocking.earlyBlockedAtMs <= blocking.umboxesReadyAtMs);
      assert.equal(sw.bundles.length - bundles, 2, 'the early drop, then the chain');
      const after = camFlows(await sw.dumpFlows());
      assert.ok(after.length > 0 && after.every((flow) => splitCookie(flow.cookie).generation === 3) && after.some((flow) => flow.actions.startsWith('output:')),
        `then cam's traffic goes through its block-all μmbox: ${show(after)}`);
      assert.deepEqual((await sw.dumpFlows()).filter((flow) => !camFlows([flow]).length), plugFlows, 'other devices\' flows are untouched');
      assert.deepEqual(reconciler.reportFor('cam'), { deviceId: 'cam', desiredGeneration: 3, appliedGeneration: 3, enforcement: 'chain', reason: null });
      await reconciler.reconcileOnce();
      assert.deepEqual(camFlows(await sw.dumpFlows()), after, 'a full pass finds nothing to change');
    });
  }

  test('fail-closed: a device whose μmbox cannot start is quarantined, then retried with backoff until it starts', async () => {
    const clock = new SimulatedClock();
    const { sw, runtime, make } = rig();
    const passes: Array<{ atMs: number; ok: boolean }> = [];
    const reconciler = make({ clock, onPass: (result) => passes.push({ atMs: clock.nowMs(), ok: result.errors.length === 0 }) });
    reconciler.setDesired(input({ cam: { state: 'normal', generation: 1, verdict: 'allow' } }));
    await passOn(clock, reconciler);
    runtime.failStarts.add('firewall');
    reconciler.setDesired(input({ cam: { state: 'suspicious', generation: 2, chain: [pin('firewall')] } }));
    const failed = await passOn(clock, reconciler);
    assert.equal(failed.errors.length, 1);
    const report = reconciler.reportFor('cam');
    assert.equal(report?.enforcement, 'quarantine');
    assert.equal(report?.appliedGeneration, null);
    assert.match(report?.reason ?? '', /start refused/);
    const flows = await sw.dumpFlows();
    assert.ok(flows.filter((flow) => flow.cookie !== 0n).every((flow) => flow.actions === 'drop'), 'the old allow flows are gone: every device flow drops');
    reconciler.start();
    try {
      const startedMs = clock.nowMs();
      await clock.advanceMs(50);
      assert.equal(reconciler.reportFor('cam')?.enforcement, 'quarantine', 'still quarantined while starts fail');
      // Failed passes are retried after 5, 10, 20, 40 ms (backoffMinMs 5, backoffMaxMs 40): at 0, 5, 15 and 35 ms.
      const retries = passes.filter((pass) => pass.atMs >= startedMs).map((pass) => ({ ...pass, atMs: pass.atMs - startedMs }));
      assert.deepEqual(retries, [0, 5, 15, 35].map((atMs) => ({ atMs, ok: false })));
      runtime.failStarts.clear();
      const fixed = await appliedOn(clock, reconciler, 'cam', 2, 2000);
      assert.equal(fixed.enforcement, 'chain');
    } finally {
      await reconciler.stop();
    }
  });

  test('integrity: a missing or mismatching image quarantines its device, with one alert per device and generation', async () => {
    const { sw, runtime, integrity, make } = rig();
    runtime.addImage('rate-limit', digest('rate-limit'), [digest('something else')]);
    const reconciler = make();
    reconciler.setDesired(input({
      cam: { state: 'normal', generation: 4, chain: [pin('monitor'), pin('rate-limit')] },
      plug: { state: 'normal', generation: 1, chain: [{ image: 'firewall', digest: digest('firewall v2') }] },
    }));
    await reconciler.reconcileOnce();
    await reconciler.reconcileOnce();
    assert.deepEqual(integrity.map((alert) => [alert.deviceId, alert.generation, alert.image, alert.reason]).sort(),
      [['cam', 4, 'rate-limit', 'mismatch'], ['plug', 1, 'firewall', 'missing']]);
    for (const id of ['cam', 'plug']) {
      assert.equal(reconciler.reportFor(id)?.enforcement, 'quarantine');
      assert.match(reconciler.reportFor(id)?.reason ?? '', /^integrity: /);
    }
    assert.deepEqual(await runtime.list('node-a'), [], 'no μmbox of a device that fails integrity is started, not even its good images');
    const deviceFlows = (await sw.dumpFlows()).filter((flow) => flow.cookie !== 0n);
    assert.ok(deviceFlows.length > 0 && deviceFlows.every((flow) => flow.actions === 'drop'));
  });

  test('drift is repaired: a killed μmbox restarts, a planted container goes, hand-made and deleted flows are restored', async () => {
    const { sw, runtime, make } = rig();
    const reconciler = make();
    reconciler.setDesired(input({ cam: { state: 'normal', generation: 1, chain: [pin('monitor'), pin('firewall')] } }));
    await reconciler.reconcileOnce();
    const expected = await sw.dumpFlows();
    const [first, second] = await runtime.list('node-a');
    assert.ok(first && second);
    runtime.kill(first.name);
    runtime.plant({ ...second, name: 'qg-planted', containerId: 'evil' });
    sw.setFlow({ cookie: 0n, priority: 200, match: 'in_port=1', actions: 'output:2' });
    sw.deleteFlowsWhere((flow) => flow.match.includes('nw_dst'));
    const result = await reconciler.reconcileOnce();
    assert.equal(result.startedUmboxes, 1);
    const names = (await runtime.list('node-a')).map((umbox) => `${umbox.name}:${umbox.running}`).sort();
    assert.deepEqual(names, [`${first.name}:true`, `${second.name}:true`].sort());
    const repaired = await sw.dumpFlows();
    assert.equal(repaired.find((flow) => flow.priority === 200), undefined, 'the hand-made bypass is removed');
    assert.equal(repaired.length, expected.length);
    assert.ok(repaired.some((flow) => flow.match.includes('nw_dst')), 'the deleted flows are back');
  });

  test('a restarted reconciler adopts what runs: no μmbox restarts and no flow changes', async () => {
    const { runtime, make } = rig();
    const first = make();
    const desired = input({ cam: { state: 'normal', generation: 3, chain: [pin('monitor')] }, plug: { state: 'x', generation: 2, verdict: 'allow' } });
    first.setDesired(desired);
    await first.reconcileOnce();
    const containers = await runtime.list('node-a');
    const second = make();
    second.setDesired(desired);
    const result = await second.reconcileOnce();
    assert.deepEqual([result.startedUmboxes, result.removedUmboxes, result.flowsAdded, result.flowsRemoved], [0, 0, 0, 0]);
    assert.deepEqual(await runtime.list('node-a'), containers);
    assert.deepEqual(second.report(), first.report());
  });

  test('a failed bundle changes nothing; the next pass applies the change', async () => {
    const { sw, make } = rig();
    const reconciler = make();
    reconciler.setDesired(input({ cam: { state: 'a', generation: 1, verdict: 'allow' } }));
    await reconciler.reconcileOnce();
    const before = await sw.dumpFlows();
    sw.failNextBundle = true;
    reconciler.setDesired(input({ cam: { state: 'b', generation: 2, verdict: 'quarantine' } }));
    await assert.rejects(reconciler.reconcileOnce(), /bundle refused/);
    assert.deepEqual(await sw.dumpFlows(), before, 'all or nothing');
    await reconciler.reconcileOnce();
    assert.deepEqual(await deviceGenerations(sw), [2]);
  });

  test('a switch that lost every flow (a restart) has its bridge made again before the next bundle: the meter went with the flows', async () => {
    const { sw, make } = rig();
    const reconciler = make();
    reconciler.setDesired(input({ cam: { state: 'normal', generation: 1, verdict: 'allow' } }));
    await reconciler.reconcileOnce();
    let ensured = 0;
    const ensureBridge = sw.ensureBridge.bind(sw);
    sw.ensureBridge = async () => {
      ensured++;
      return ensureBridge();
    };
    await reconciler.reconcileOnce();
    assert.equal(ensured, 0, 'a full pass that finds its flows makes nothing');
    sw.deleteFlowsWhere((flow) => flow.cookie !== 0n);
    await reconciler.reconcileOnce();
    assert.equal(ensured, 0, 'flows deleted by hand are drift, repaired by the bundle alone');
    sw.deleteFlowsWhere(() => true);
    await reconciler.reconcileOnce();
    assert.equal(ensured, 1, 'the pass that finds the flow table empty makes the bridge again');
    assert.deepEqual(await deviceGenerations(sw), [1]);
  });

  test('stopping the reconciler leaves flows and μmboxes in place (fail-static)', async () => {
    const clock = new SimulatedClock();
    const { sw, runtime, make } = rig();
    const reconciler = make({ clock });
    reconciler.setDesired(input({ cam: { state: 'normal', generation: 1, chain: [pin('monitor')] } }));
    reconciler.start();
    await appliedOn(clock, reconciler, 'cam', 1, 2000);
    const flows = await sw.dumpFlows();
    await reconciler.stop();
    assert.deepEqual(await sw.dumpFlows(), flows);
    assert.equal((await runtime.list('node-a')).length, 1);
  });

  test('a device whose port is not on the host is quarantined until the port appears', async () => {
    const { interfaces, make } = rig();
    const reconciler = make();
    reconciler.setDesired({ nodeId: 'node-a', devices: [{ id: 'late', port: 'dev9', addresses: ['10.0.0.9'], plan: { state: 'a', generation: 1, verdict: 'allow' } }] });
    await reconciler.reconcileOnce();
    assert.equal(reconciler.reportFor('late')?.enforcement, 'quarantine');
    assert.match(reconciler.reportFor('late')?.reason ?? '', /not on bridge br0/);
    interfaces.add('dev9');
    await reconciler.reconcileOnce();
    assert.equal(reconciler.reportFor('late')?.appliedGeneration, 1);
  });

  test('a pass for new input starts from the last pass\'s observations (one bundle, no reads); a full pass repairs drift', async () => {
    const { sw, runtime, make } = rig();
    const reconciler = make();
    reconciler.setDesired(input({ cam: { state: 'a', generation: 1, verdict: 'allow' } }));
    await reconciler.reconcileOnce();
    const reads = { flows: 0, ports: 0, umboxes: 0 };
    const count = <T extends object, K extends keyof T>(target: T, key: K, counter: keyof typeof reads): void => {
      const original = target[key] as unknown as (...args: unknown[]) => unknown;
      (target as Record<K, unknown>)[key] = (...args: unknown[]) => {
        reads[counter]++;
        return original.apply(target, args);
      };
    };
    count(sw, 'dumpFlows', 'flows');
    count(sw, 'listPorts', 'ports');
    count(runtime, 'list', 'umboxes');
    const bundles = sw.bundles.length;
    reconciler.setDesired(input({ cam: { state: 'b', generation: 2, verdict: 'quarantine' } }));
    await reconciler.reconcileOnce({ full: false });
    assert.deepEqual(reads, { flows: 0, ports: 0, umboxes: 0 });
    assert.equal(sw.bundles.length, bundles + 1);
    assert.deepEqual(await deviceGenerations(sw), [2]);
    sw.deleteFlowsWhere((flow) => flow.cookie !== 0n);
    await reconciler.reconcileOnce({ full: false });
    assert.deepEqual(await deviceGenerations(sw), [], 'an incremental pass trusts its cache');
    await reconciler.reconcileOnce();
    assert.deepEqual(await deviceGenerations(sw), [2], 'the full pass repairs the drift');
  });

  test('a pass for new input that starts μmboxes reads neither the bridge nor the engine again: the starts say what changed', async () => {
    const { sw, runtime, make } = rig();
    const reconciler = make();
    reconciler.setDesired(input({ cam: { state: 'normal', generation: 1, chain: [pin('monitor')] } }));
    await reconciler.reconcileOnce();
    const reads = { flows: 0, ports: 0, umboxes: 0 };
    const original = { dumpFlows: sw.dumpFlows.bind(sw), listPorts: sw.listPorts.bind(sw), list: runtime.list.bind(runtime) };
    sw.dumpFlows = async () => (reads.flows++, original.dumpFlows());
    sw.listPorts = async () => (reads.ports++, original.listPorts());
    runtime.list = async (nodeId: string) => (reads.umboxes++, original.list(nodeId));
    reconciler.setDesired(input({ cam: { state: 'attack', generation: 2, chain: [pin('block-all')] } }));
    const result = await reconciler.reconcileOnce({ full: false });
    assert.equal(result.startedUmboxes, 1);
    assert.deepEqual(reads, { flows: 0, ports: 0, umboxes: 0 });
    assert.deepEqual(reconciler.reportFor('cam'), { deviceId: 'cam', desiredGeneration: 2, appliedGeneration: 2, enforcement: 'chain', reason: null });
    const full = await reconciler.reconcileOnce();
    assert.deepEqual([full.startedUmboxes, full.removedUmboxes, full.flowsAdded, full.flowsRemoved], [0, 0, 0, 0], 'what the cache says is what a full pass finds');
  });

  test('with a runtime that prepares veths, the switch attaches the ports while the containers start; flows still wait for ready', async () => {
    const { events, make } = rig();
    const reconciler = make({ portPool: 0 });
    reconciler.setDesired(input({ cam: { state: 'normal', generation: 1, verdict: 'allow' } }));
    await reconciler.reconcileOnce();
    events.length = 0;
    reconciler.setDesired(input({ cam: { state: 'suspicious', generation: 2, chain: [pin('firewall')] } }));
    await reconciler.reconcileOnce({ full: false });
    const at = (prefix: string): number => events.findIndex((event) => event.startsWith(prefix));
    assert.ok(at('prepare') >= 0 && at('prepare') < at('addPorts') && at('addPorts') < at('start') && at('start') < at('bundle'), `prepare, attach, start, then flows: ${events.join(' | ')}`);
    assert.equal(events.filter((event) => event.startsWith('addPorts')).length, 1, 'one port transaction');
    assert.equal(reconciler.reportFor('cam')?.appliedGeneration, 2);
  });

  test('new input that arrives while a pass removes old μmboxes is enforced first: the rest of the removal waits for the next bundle', async () => {
    const { events, runtime, make } = rig();
    const reconciler = make();
    reconciler.setDesired(input({ cam: { state: 'normal', generation: 1, chain: [pin('monitor'), pin('firewall')] } }));
    await reconciler.reconcileOnce();
    const old = (await runtime.list('node-a')).map((umbox) => umbox.name).sort();
    assert.equal(old.length, 2);
    const remove = runtime.remove.bind(runtime);
    let removals = 0;
    runtime.remove = async (name: string) => {
      if (old.includes(name) && removals++ === 0) reconciler.setDesired(input({ cam: { state: 'attack', generation: 3, verdict: 'quarantine' } }));
      return remove(name);
    };
    reconciler.setDesired(input({ cam: { state: 'suspicious', generation: 2, chain: [pin('block-all')] } }));
    const first = await reconciler.reconcileOnce({ full: false });
    assert.equal(first.removedUmboxes, 1, 'one removal was under way when the input came; the other waits');
    events.length = 0;
    const second = await reconciler.reconcileOnce({ full: false });
    const bundleAt = events.findIndex((event) => event.startsWith('bundle'));
    const removeAt = events.findIndex((event) => event.startsWith('remove'));
    assert.ok(bundleAt >= 0 && bundleAt < removeAt, `the new bundle comes before the leftover removal: ${events.join(' | ')}`);
    assert.equal(second.removedUmboxes, 2, 'the leftover monitor or firewall, and the block-all the new plan no longer uses');
    assert.deepEqual(await runtime.list('node-a'), []);
    assert.deepEqual(reconciler.reportFor('cam'), { deviceId: 'cam', desiredGeneration: 3, appliedGeneration: 3, enforcement: 'quarantine', reason: null });
    const full = await reconciler.reconcileOnce();
    assert.deepEqual([full.removedUmboxes, full.flowsAdded, full.flowsRemoved], [0, 0, 0], 'nothing was forgotten');
  });

  test('new input that arrives while a timer\'s full pass reads is enforced from the cache without waiting for the reads; the full pass runs right after', async () => {
    // Timer passes 2 s apart: a full pass soon after the preempted one can only be the owed one.
    const { clock, sw, reconciler, passes } = await runningLoop(2_000);
    const listPorts = sw.listPorts.bind(sw);
    // The next timer pass is full: hold its reads.
    const held = holdReads(sw, listPorts);
    try {
      await advanceUntil(clock, held.reading, 5_000, 'a full pass starts reading');
      reconciler.setDesired(input({ cam: { state: 'b', generation: 2, verdict: 'quarantine' } }));
      await appliedOn(clock, reconciler, 'cam', 2, 2_000);
      assert.deepEqual(await deviceGenerations(sw), [2], 'enforced while the full pass\'s reads are still held');
      await advanceUntil(clock, () => passes.some((one) => one.preempted), 2_000, 'the preempted pass reports');
      assert.equal(passes.filter((one) => one.full).length, 1, 'only the first pass read to the end so far');
      // The owed full pass waits for the given-up reads, reads afresh and repairs drift made meanwhile —
      // right away, not at the next timer pass (2 s on).
      sw.deleteFlowsWhere((flow) => flow.cookie !== 0n);
      sw.listPorts = listPorts;
      held.release();
      // Within 1 s of simulated time: well before the next timer pass, 2 s on.
      await advanceUntil(clock, async () => (await deviceGenerations(sw)).length === 1, 1_000, 'the owed full pass restores the deleted flows');
      assert.ok(passes.filter((one) => one.full).length >= 2);
    } finally {
      held.release();
      await reconciler.stop();
    }
  });

  test('an input equal to the current one (a new object) wakes no pass; a changed one does', async () => {
    const { clock, reconciler } = await runningLoop(10_000);
    try {
      const before = reconciler.passes;
      for (let i = 0; i < 20; i++) {
        reconciler.setDesired(input({ cam: { state: 'a', generation: 1, verdict: 'allow' } }));
        await clock.advanceMs(5);
      }
      await clock.advanceMs(100);
      assert.equal(reconciler.passes, before, 'no pass for unchanged input');
      reconciler.setDesired(input({ cam: { state: 'b', generation: 2, verdict: 'quarantine' } }));
      const tookMs = await appliedOn(clock, reconciler, 'cam', 2, 2_000).then(() => clock.nowMs());
      assert.ok(tookMs > 0);
      assert.equal(reconciler.passes, before + 1, 'one pass for the changed input');
    } finally {
      await reconciler.stop();
    }
  });

  test('a failing full pass owed after a preemption backs off like any failed pass (no busy loop)', async () => {
    const { clock, sw, reconciler, passes } = await runningLoop(100);
    const held = holdReads(sw, async () => { throw new Error('switch unreachable'); });
    try {
      await advanceUntil(clock, held.reading, 5_000, 'a full pass starts reading');
      reconciler.setDesired(input({ cam: { state: 'b', generation: 2, verdict: 'quarantine' } }));
      await advanceUntil(clock, () => passes.some((one) => one.preempted), 2_000, 'the preempted pass reports');
      held.release();
      const before = reconciler.passes;
      await clock.advanceMs(500);
      // Backoff 5, 10, 20, 40, 40, … ms here: about 15 passes in 500 ms; a loop without backoff runs thousands.
      const ran = reconciler.passes - before;
      assert.ok(ran >= 10 && ran <= 16, `${ran} passes in 500 ms`);
    } finally {
      held.release();
      await reconciler.stop();
    }
  });

  test('when new input arrives during every full pass\'s reads, a full pass still reads to the end within two spacings', async () => {
    const { clock, sw, reconciler, passes } = await runningLoop(50);
    let injecting = true;
    try {
      const from = passes.length;
      // Every read of the ports brings new input with it, until a full pass has read to the end.
      const listPorts = sw.listPorts.bind(sw);
      let generation = 1;
      sw.listPorts = async () => {
        if (injecting) {
          generation++;
          reconciler.setDesired(input({ cam: { state: `s${generation}`, generation, verdict: generation % 2 === 0 ? 'quarantine' : 'allow' } }));
        }
        await sleepOn(clock, 10);
        return listPorts();
      };
      // Two spacings are at most a few hundred ms here; without the bound, input would starve it forever.
      const tookMs = await advanceUntil(clock, () => passes.slice(from).some((one) => one.full), 3_000, 'a full pass reads to the end');
      injecting = false;
      const during = passes.slice(from);
      assert.ok(during.some((one) => one.preempted), `full passes gave up their reads before (the full pass came ${tookMs} ms later)`);
      await appliedOn(clock, reconciler, 'cam', generation, 2_000);
    } finally {
      injecting = false;
      await reconciler.stop();
    }
  });

  test('between new input and the pass that enforces it, a device reports its new generation as not yet applied', async () => {
    // Regression (found by the chaos suite): the report compared the applied generation with the plan of
    // the LAST PASS, so a node answered "enforced" for a state whose pass had not run yet.
    const { make } = rig();
    const reconciler = make();
    reconciler.setDesired(input({ cam: { state: 'normal', generation: 1, chain: [pin('monitor')] } }));
    await reconciler.reconcileOnce();
    assert.deepEqual(reconciler.reportFor('cam'), { deviceId: 'cam', desiredGeneration: 1, appliedGeneration: 1, enforcement: 'chain', reason: null });
    reconciler.setDesired(input({ cam: { state: 'attack', generation: 2, chain: [pin('block-all')] } }));
    assert.equal(reconciler.reportFor('cam')?.desiredGeneration, 2, 'the report asks for the new generation at once');
    assert.equal(reconciler.reportFor('cam')?.appliedGeneration, 1, 'and says the old one is what is installed');
    assert.equal(reconciler.report()[0]?.desiredGeneration, 2);
    await reconciler.reconcileOnce();
    assert.equal(reconciler.reportFor('cam')?.appliedGeneration, 2);
  });

  describe('standby μmboxes', () => {
    const withStandby = (plan: DevicePlan, chains: ImagePin[][]): DesiredInput => {
      const base = input({ cam: plan });
      return { ...base, devices: base.devices.map((one) => ({ ...one, standby: chains.map((chain, index) => ({ state: `next-${index}`, chain })) })) };
    };

    test('a standby μmbox starts after the bundle, is on the bridge, and no flow leads to or from it', async () => {
      const { events, sw, runtime, make } = rig();
      const reconciler = make();
      reconciler.setDesired(withStandby({ state: 'normal', generation: 1, chain: [pin('monitor')] }, [[pin('block-all')]]));
      const result = await reconciler.reconcileOnce();
      assert.equal(result.startedUmboxes, 1);
      assert.equal(result.standbyStarted, 1);
      assert.equal(result.standbyPending, 0);
      const standby = (await runtime.list('node-a')).find((umbox) => umbox.image === 'block-all');
      assert.ok(standby);
      assert.ok(events.indexOf(`start ${standby.name}`) > events.findIndex((event) => event.startsWith('bundle')), `the standby starts after the bundle: ${events.join(' | ')}`);
      const ports = new Map((await sw.listPorts()).map((port) => [port.name, port.ofport]));
      const planned = reconciler.plannedFor('cam');
      const standbyPorts = planned?.standby.flatMap((umbox) => [umbox.inPort, umbox.outPort]) ?? [];
      assert.equal(standbyPorts.length, 2);
      const numbers = standbyPorts.map((port) => ports.get(port));
      assert.ok(numbers.every((number) => number !== undefined && number > 0), 'its ports are on the bridge');
      for (const flow of await sw.dumpFlows()) {
        for (const number of numbers) {
          assert.ok(!new RegExp(`in_port=${number}(,|$)`).test(flow.match) && flow.actions !== `output:${number}`, `no flow uses standby port ${number}: ${flow.match} ${flow.actions}`);
        }
      }
      assert.deepEqual(reconciler.reportFor('cam'), { deviceId: 'cam', desiredGeneration: 1, appliedGeneration: 1, enforcement: 'chain', reason: null });
    });

    test('moving to a chain whose μmboxes stand by starts nothing: one bundle, then the old chain goes (make-before-break)', async () => {
      const { events, sw, runtime, make } = rig();
      const reconciler = make();
      reconciler.setDesired(withStandby({ state: 'normal', generation: 1, chain: [pin('monitor')] }, [[pin('block-all')]]));
      await reconciler.reconcileOnce();
      const standby = (await runtime.list('node-a')).find((umbox) => umbox.image === 'block-all');
      const monitor = (await runtime.list('node-a')).find((umbox) => umbox.image === 'monitor');
      assert.ok(standby && monitor);
      events.length = 0;
      const bundlesBefore = sw.bundles.length;
      reconciler.setDesired(input({ cam: { state: 'attack', generation: 2, chain: [pin('block-all')] } }));
      const result = await reconciler.reconcileOnce({ full: false });
      assert.equal(result.startedUmboxes, 0, 'nothing starts on the reaction path');
      assert.equal(sw.bundles.length - bundlesBefore, 2, 'the swap is one bundle (then the old chain\'s exit flows drain in a second)');
      assert.equal(sw.bundles.at(-1)?.add.length, 0, 'the drain bundle only removes');
      assert.deepEqual(await deviceGenerations(sw), [2]);
      const bundleAt = events.findIndex((event) => event.startsWith('bundle'));
      assert.ok(bundleAt >= 0 && bundleAt < events.indexOf(`remove ${monitor.name}`), `the old chain goes after the bundle: ${events.join(' | ')}`);
      assert.ok(!events.some((event) => event.startsWith('start')), `nothing starts: ${events.join(' | ')}`);
      assert.deepEqual((await runtime.list('node-a')).map((umbox) => umbox.containerId), [standby.containerId], 'the standby container itself now carries the chain');
      assert.deepEqual(reconciler.reportFor('cam'), { deviceId: 'cam', desiredGeneration: 2, appliedGeneration: 2, enforcement: 'chain', reason: null });
      const blockAllPorts = reconciler.plannedFor('cam')?.umboxes[0];
      const ports = new Map((await sw.listPorts()).map((port) => [port.name, port.ofport]));
      assert.ok((await sw.dumpFlows()).some((flow) => flow.actions === `output:${ports.get(blockAllPorts?.inPort ?? '')}`), 'the device now goes to the former standby');
    });

    test('a standby μmbox started again after it died is kept: later passes do not restart it', async () => {
      const { events, runtime, make } = rig();
      const reconciler = make();
      const device = (generation: number) => ({
        id: 'cam', port: 'dev1', addresses: ['10.0.0.1'], plan: { state: 'normal', generation, verdict: 'allow' as const },
        standby: [{ state: 'attack', chain: [pin('block-all')] }],
      });
      const other = (generation: number) => ({ id: 'plug', port: 'dev2', addresses: ['10.0.0.2'], plan: { state: 'normal', generation, verdict: 'allow' as const } });
      reconciler.setDesired({ nodeId: 'node-a', devices: [device(1), other(1)] });
      await reconciler.reconcileOnce();
      const [standby] = await runtime.list('node-a');
      assert.ok(standby?.running);
      runtime.kill(standby.name, true);
      const restart = await reconciler.reconcileOnce();
      assert.equal(restart.standbyStarted, 1, 'the full pass starts it again');
      events.length = 0;
      for (const generation of [2, 3]) {
        reconciler.setDesired({ nodeId: 'node-a', devices: [device(1), other(generation)] });
        await reconciler.reconcileOnce({ full: false });
      }
      assert.deepEqual(events.filter((event) => /^(start|remove|prepare|addPorts)/.test(event)), [], `the standby is left alone: ${events.join(' | ')}`);
    });

    test('a pass starts at most a few standby μmboxes; the loop starts the rest in the passes right after', async () => {
      const clock = new SimulatedClock();
      const { runtime, make, interfaces } = rig();
      interfaces.add('dev3'); // every device is plugged in (nothing starts for a device that is not)
      const reconciler = make({ clock });
      const devices = Array.from({ length: 3 }, (_, index) => ({
        id: `d${index}`, port: `dev${index + 1}`, addresses: [`10.0.0.${index + 1}`], plan: { state: 'normal', generation: 1, verdict: 'allow' as const },
        standby: [{ state: 'attack', chain: [pin('block-all'), pin('monitor')] }],
      }));
      reconciler.setDesired({ nodeId: 'node-a', devices });
      const first = await passOn(clock, reconciler);
      assert.equal(first.standbyStarted, 4);
      assert.equal(first.standbyPending, 2);
      reconciler.start();
      try {
        // Right after: the loop's next pass, not a timer pass (resyncMs is 20 here, so within a few ms).
        const tookMs = await advanceUntil(clock, async () => (await runtime.list('node-a')).length >= 6, 2_000, 'the standby μmboxes all start');
        assert.ok(tookMs < 20, `the rest started ${tookMs} ms later`);
        assert.equal((await runtime.list('node-a')).length, 6);
      } finally {
        await reconciler.stop();
      }
    });

    test('the node limit bounds the standby containers; a standby whose image fails its pin quarantines nothing and raises no integrity alert', async () => {
      const { runtime, integrity, make } = rig();
      const limited = rig();
      const bounded = new Reconciler({ switch: limited.sw, runtime: limited.runtime, uplinkPort: 'up0', interfaceExists: (name) => limited.interfaces.has(name), standbyLimit: 1 });
      bounded.setDesired(withStandby({ state: 'normal', generation: 1, verdict: 'allow' }, [[pin('monitor'), pin('firewall')], [pin('block-all')]]));
      const result = await bounded.reconcileOnce();
      assert.deepEqual((await limited.runtime.list('node-a')).map((umbox) => umbox.image), ['block-all'], 'only the chain that fits the limit of 1');
      assert.equal(result.standbyPending, 0);

      const plain = make();
      plain.setDesired(withStandby({ state: 'normal', generation: 1, verdict: 'allow' }, [[{ image: 'firewall', digest: digest('firewall v2') }]]));
      const failed = await plain.reconcileOnce();
      assert.equal(failed.standbyErrors.length, 1);
      assert.match(failed.standbyErrors[0] ?? '', /missing/);
      assert.deepEqual(failed.errors, [], 'a standby failure is not a device failure (no backoff)');
      assert.deepEqual(integrity, []);
      assert.equal(plain.reportFor('cam')?.enforcement, 'allow');
      assert.deepEqual(await runtime.list('node-a'), []);
    });

    test('standby μmboxes survive full passes and a restarted reconciler adopts them', async () => {
      const { runtime, make } = rig();
      const first = make();
      const desired = withStandby({ state: 'normal', generation: 1, chain: [pin('monitor')] }, [[pin('block-all')]]);
      first.setDesired(desired);
      await first.reconcileOnce();
      const containers = await runtime.list('node-a');
      assert.equal((await first.reconcileOnce()).removedUmboxes, 0);
      const second = make();
      second.setDesired(desired);
      const result = await second.reconcileOnce();
      assert.deepEqual([result.startedUmboxes, result.standbyStarted, result.removedUmboxes, result.flowsAdded, result.flowsRemoved], [0, 0, 0, 0, 0]);
      assert.deepEqual(await runtime.list('node-a'), containers);
    });

    test('a standby no longer planned is removed with its ports', async () => {
      const { sw, runtime, make } = rig();
      const reconciler = make();
      reconciler.setDesired(withStandby({ state: 'normal', generation: 1, chain: [pin('monitor')] }, [[pin('block-all')]]));
      await reconciler.reconcileOnce();
      const standby = reconciler.plannedFor('cam')?.standby[0];
      assert.ok(standby);
      reconciler.setDesired(withStandby({ state: 'normal', generation: 1, chain: [pin('monitor')] }, []));
      const result = await reconciler.reconcileOnce({ full: false });
      assert.equal(result.removedUmboxes, 1);
      assert.deepEqual((await runtime.list('node-a')).map((umbox) => umbox.image), ['monitor']);
      const names = (await sw.listPorts()).map((port) => port.name);
      assert.ok(!names.includes(standby.inPort) && !names.includes(standby.outPort));
    });
  });

  test('malformed input is rejected at the edge, not in the loop', () => {
    const { make } = rig();
    assert.throws(() => make().setDesired({ nodeId: '', devices: [] }), /DesiredInput.nodeId/);
  });

  describe('a μmbox that dies', () => {
    async function chainLoop(): Promise<{ clock: SimulatedClock; runtime: MemoryUmboxRuntime; reconciler: Reconciler; passes: PassResult[] }> {
      const clock = new SimulatedClock();
      const { runtime, make } = rig();
      const passes: PassResult[] = [];
      // Timer passes a minute apart: within this test only a reported death can make a pass read afresh.
      const reconciler = make({ clock, resyncMs: 60_000, onPass: (result) => passes.push(result) });
      reconciler.setDesired(input({ cam: { state: 'normal', generation: 1, chain: [pin('monitor')] } }));
      reconciler.start();
      await appliedOn(clock, reconciler, 'cam', 1);
      await advanceUntil(clock, () => passes.length >= 1, 2_000, 'the first pass reports');
      return { clock, runtime, reconciler, passes };
    }

    test('is started again at once when the runtime reports its death, not at the next full pass', async () => {
      const { clock, runtime, reconciler } = await chainLoop();
      try {
        const [victim] = await runtime.list('node-a');
        assert.ok(victim?.running);
        runtime.kill(victim.name);
        await advanceUntil(clock, async () => (await runtime.list('node-a')).some((umbox) => umbox.running && umbox.containerId !== victim.containerId), 2_000, 'the μmbox is started again');
      } finally {
        await reconciler.stop();
      }
    });

    test('unreported (the engine\'s events are down), it waits for the next full pass', async () => {
      const { clock, runtime, reconciler } = await chainLoop();
      try {
        const [victim] = await runtime.list('node-a');
        assert.ok(victim?.running);
        runtime.kill(victim.name, true);
        await clock.advanceMs(300);
        assert.equal((await runtime.list('node-a')).find((umbox) => umbox.name === victim.name)?.running, false, 'nothing read the engine yet');
      } finally {
        await reconciler.stop();
      }
    });

    test('a μmbox that dies again and again is restarted at most about once a second, not back to back', async () => {
      const { clock, runtime, reconciler, passes } = await chainLoop();
      try {
        const started = new Set<string>();
        const stopAt = clock.nowMs() + 1_500;
        // Every container of the chain dies right after a pass enforced it (a crash loop that passes do not
        // see: each pass succeeds, so no backoff slows the restarts down — only the death spacing does).
        let seenPasses = passes.length - 1; // the pass that started the first one is done
        while (clock.nowMs() < stopAt) {
          if (passes.length > seenPasses && passes.at(-1)?.errors.length === 0) {
            seenPasses = passes.length;
            for (const umbox of await runtime.list('node-a')) {
              if (!umbox.running || started.has(umbox.containerId)) continue;
              started.add(umbox.containerId);
              runtime.kill(umbox.name);
            }
          }
          await clock.advanceMs(2);
        }
        assert.ok(started.size >= 2, `it was restarted (${started.size} containers)`);
        assert.ok(started.size <= 3, `at most one death-driven pass a second: ${started.size} containers in 1.5 s`);
      } finally {
        await reconciler.stop();
      }
    });

    test('the reconciler\'s own removals are not news: a chain swap costs no full pass', async () => {
      const { clock, runtime, reconciler, passes } = await chainLoop();
      try {
        const before = passes.length;
        reconciler.setDesired(input({ cam: { state: 'attack', generation: 2, chain: [pin('block-all')] } }));
        await appliedOn(clock, reconciler, 'cam', 2);
        await advanceUntil(clock, async () => (await runtime.list('node-a')).length === 1, 2_000, 'the old μmbox is removed');
        await clock.advanceMs(200);
        const after = passes.slice(before);
        assert.ok(after.length >= 1);
        assert.deepEqual(after.filter((result) => result.full).length, 0, `no full pass after the swap (passes: ${JSON.stringify(after.map((result) => result.full))})`);
      } finally {
        await reconciler.stop();
      }
    });
  });
  describe('the port pool', () => {
    test('a μmbox that must start takes a pool slot: no port is attached before the bundle, and the slot is refilled after it', async () => {
      const { events, sw, runtime, make } = rig();
      const reconciler = make({ portPool: 2 });
      reconciler.setDesired(input({ cam: { state: 'normal', generation: 1, verdict: 'allow' } }));
      await reconciler.reconcileOnce();
      assert.equal(events.filter((event) => event.startsWith('preparePorts')).length, 2, `two slots made: ${events.join(' | ')}`);
      const slotPorts = new Map((await sw.listPorts()).filter((port) => /^qp[0-9a-f]{10}[io]$/.test(port.name)).map((port) => [port.name, port.ofport]));
      assert.equal(slotPorts.size, 4);
      events.length = 0;
      reconciler.setDesired(input({ cam: { state: 'suspicious', generation: 2, chain: [pin('firewall')] } }));
      const pass = await reconciler.reconcileOnce({ full: false });
      assert.equal(pass.pooledStarts, 1);
      const bundle = events.findIndex((event) => event.startsWith('bundle'));
      assert.ok(bundle > events.findIndex((event) => event.startsWith('start')), `the μmbox started before the bundle: ${events.join(' | ')}`);
      assert.deepEqual(events.slice(0, bundle).filter((event) => event.startsWith('addPorts') || event.startsWith('prepare')), [], `nothing attached before the bundle: ${events.join(' | ')}`);
      assert.ok(events.slice(bundle).some((event) => event.startsWith('preparePorts')), 'the pool is refilled after the bundle');
      assert.equal(reconciler.reportFor('cam')?.appliedGeneration, 2);
      // The container's labels name the slot's ports, and the flows lead through them.
      const [umbox] = await runtime.list('node-a');
      assert.ok(umbox?.ports !== undefined && slotPorts.has(umbox.ports.inPort) && slotPorts.has(umbox.ports.outPort), JSON.stringify(umbox));
      const flows = await sw.dumpFlows();
      for (const port of [umbox.ports.inPort, umbox.ports.outPort]) {
        assert.ok(flows.some((flow) => flow.match.includes(`in_port=${slotPorts.get(port)}`)), `a flow matches on ${port}: ${flows.map((flow) => flow.match).join(' | ')}`);
      }
    });

    test('a start that fails leaves no slot behind: its ports and veths are collected and a new slot is made', async () => {
      const { events, sw, runtime, interfaces, make } = rig();
      const reconciler = make({ portPool: 1 });
      reconciler.setDesired(input({ cam: { state: 'normal', generation: 1, verdict: 'allow' } }));
      await reconciler.reconcileOnce();
      const slotPorts = (await sw.listPorts()).map((port) => port.name).filter((name) => /^qp[0-9a-f]{10}[io]$/.test(name)).sort();
      assert.equal(slotPorts.length, 2);
      runtime.failStarts.add('firewall');
      events.length = 0;
      reconciler.setDesired(input({ cam: { state: 'suspicious', generation: 2, chain: [pin('firewall')] } }));
      const pass = await reconciler.reconcileOnce({ full: false });
      assert.equal(pass.pooledStarts, 1);
      assert.ok(pass.errors.length > 0, 'the start failed');
      const now = (await sw.listPorts()).map((port) => port.name).filter((name) => /^qp[0-9a-f]{10}[io]$/.test(name));
      assert.equal(now.length, 2, 'one slot on the bridge');
      assert.ok(!now.includes(slotPorts[0]!), 'a new one');
      for (const name of slotPorts) assert.equal(interfaces.has(name) || interfaces.has(`${name}p`), false, `${name}: no veth left behind`);
      runtime.failStarts.delete('firewall');
      const retry = await reconciler.reconcileOnce({ full: false });
      assert.equal(retry.pooledStarts, 1, 'the retry starts on the new slot');
      assert.equal(reconciler.reportFor('cam')?.appliedGeneration, 2);
    });

    test('a fresh reconciler keeps a μmbox on its slot and the free slots; the slot\'s ports go when the μmbox does', async () => {
      const { events, sw, runtime, make } = rig();
      const first = make({ portPool: 1 });
      first.setDesired(input({ cam: { state: 'normal', generation: 1, verdict: 'allow' } }));
      await first.reconcileOnce();
      first.setDesired(input({ cam: { state: 'suspicious', generation: 2, chain: [pin('firewall')] } }));
      await first.reconcileOnce({ full: false });
      const [umbox] = await runtime.list('node-a');
      assert.ok(umbox?.ports !== undefined);
      const portsBefore = (await sw.listPorts()).map((port) => port.name).sort();
      events.length = 0;
      const second = make({ portPool: 1 }); // a restarted node: nothing in memory
      second.setDesired(input({ cam: { state: 'suspicious', generation: 2, chain: [pin('firewall')] } }));
      const pass = await second.reconcileOnce();
      assert.equal(pass.startedUmboxes, 0, `nothing restarted: ${events.join(' | ')}`);
      assert.deepEqual(events.filter((event) => !event.startsWith('bundle')), [], `no port or container touched: ${events.join(' | ')}`);
      assert.deepEqual((await sw.listPorts()).map((port) => port.name).sort(), portsBefore);
      assert.equal(second.reportFor('cam')?.appliedGeneration, 2);
      second.setDesired(input({ cam: { state: 'normal', generation: 3, verdict: 'allow' } }));
      await second.reconcileOnce({ full: false });
      const left = new Set((await sw.listPorts()).map((port) => port.name));
      assert.ok(!left.has(umbox.ports.inPort) && !left.has(umbox.ports.outPort), 'the used slot\'s ports are removed with its μmbox');
      assert.equal([...left].filter((name) => /^qp[0-9a-f]{10}[io]$/.test(name)).length, 2, 'one free slot is left');
    });
  });

  describe('the warm pool', () => {
    const SLOT = /^qp[0-9a-f]{10}[io]$/;
    const warm = (plans: Record<string, DevicePlan | null>, images = ['firewall']): DesiredInput => ({ ...input(plans), warm: images.map(pin) });

    test('the node keeps an unconfigured μmbox per warm image on a slot, after the bundle; a move to a chain of that image claims it: no start, no port attached', async () => {
      const { events, sw, runtime, make } = rig();
      const reconciler = make({ portPool: 2, warmPool: 1 });
      reconciler.setDesired(warm({ cam: { state: 'normal', generation: 1, verdict: 'allow' } }));
      const first = await reconciler.reconcileOnce();
      assert.equal(first.warmStarted, 1);
      const [pooled] = await runtime.list('node-a');
      assert.ok(pooled?.pooled === true && pooled.image === 'firewall' && pooled.deviceId === '', JSON.stringify(pooled));
      assert.ok(pooled.ports !== undefined && SLOT.test(pooled.ports.inPort) && SLOT.test(pooled.ports.outPort), 'it runs on a slot');
      const ofports = new Map((await sw.listPorts()).map((port) => [port.name, port.ofport]));
      const flowsBefore = await sw.dumpFlows();
      for (const port of [pooled.ports.inPort, pooled.ports.outPort]) {
        const number = ofports.get(port);
        assert.ok(number !== undefined && number > 0, `${port} is on the bridge`);
        assert.ok(!flowsBefore.some((flow) => new RegExp(`in_port=${number}(,|$)`).test(flow.match) || flow.actions === `output:${number}`), `no flow leads to or from the warm μmbox (${port})`);
      }
      assert.equal([...ofports.keys()].filter((name) => SLOT.test(name)).length, 6, 'two free slots besides the warm μmbox\'s');

      events.length = 0;
      reconciler.setDesired(warm({ cam: { state: 'suspicious', generation: 2, chain: [pin('firewall')] } }));
      const move = await reconciler.reconcileOnce({ full: false });
      assert.equal(move.claimedUmboxes, 1);
      assert.equal(move.startedUmboxes, 0);
      const bundle = events.findIndex((event) => event.startsWith('bundle'));
      assert.deepEqual(events.slice(0, bundle).filter((event) => !event.startsWith('claim')), [], `only the claim before the bundle: ${events.join(' | ')}`);
      assert.equal(reconciler.reportFor('cam')?.appliedGeneration, 2);
      const planned = reconciler.plannedFor('cam')?.umboxes[0];
      assert.ok(planned);
      const claimed = (await runtime.list('node-a')).find((umbox) => umbox.name === planned.name);
      assert.ok(claimed !== undefined && claimed.containerId === pooled.containerId && claimed.pooled === undefined, `the warm container became the μmbox: ${JSON.stringify(claimed)}`);
      const flows = await sw.dumpFlows();
      for (const port of [pooled.ports.inPort, pooled.ports.outPort]) {
        assert.ok(flows.some((flow) => flow.match.includes(`in_port=${ofports.get(port)}`)), `a flow matches on ${port}`);
      }
      // After the bundle the pool gets a new warm μmbox of the image.
      assert.equal(move.warmStarted, 1);
      assert.ok(events.slice(bundle).some((event) => event.startsWith('startPooled')), `the warm pool is refilled after the bundle: ${events.join(' | ')}`);
      const afterwards = await reconciler.reconcileOnce();
      assert.equal(afterwards.startedUmboxes + afterwards.claimedUmboxes + afterwards.warmStarted + afterwards.removedUmboxes, 0, 'a full pass afterwards changes nothing');
    });

    test('a claim that fails quarantines the device for that pass and removes the warm container; the retry enforces', async () => {
      const { runtime, make } = rig();
      const reconciler = make({ portPool: 2, warmPool: 1 });
      reconciler.setDesired(warm({ cam: { state: 'normal', generation: 1, verdict: 'allow' } }));
      await reconciler.reconcileOnce();
      const [pooled] = await runtime.list('node-a');
      assert.ok(pooled?.pooled === true);
      runtime.failClaims.add('firewall');
      reconciler.setDesired(warm({ cam: { state: 'suspicious', generation: 2, chain: [pin('firewall')] } }));
      const failed = await reconciler.reconcileOnce({ full: false });
      assert.ok(failed.errors.some((error) => error.includes(pooled.name)), failed.errors.join(' | '));
      assert.equal(reconciler.reportFor('cam')?.enforcement, 'quarantine', 'fail closed: the device is quarantined, not left on its old flows');
      assert.ok(!(await runtime.list('node-a')).some((umbox) => umbox.containerId === pooled.containerId), 'the warm container that failed its claim is gone');
      runtime.failClaims.delete('firewall');
      await reconciler.reconcileOnce({ full: false });
      assert.equal(reconciler.reportFor('cam')?.appliedGeneration, 2);
      assert.equal(reconciler.reportFor('cam')?.enforcement, 'chain');
    });

    test('a fresh reconciler adopts the warm containers; one of an image no longer warm is removed with its slot', async () => {
      const { events, sw, runtime, make } = rig();
      const first = make({ portPool: 1, warmPool: 1 });
      first.setDesired(warm({ cam: { state: 'normal', generation: 1, verdict: 'allow' } }, ['firewall', 'monitor']));
      await first.reconcileOnce();
      await first.reconcileOnce(); // one warm start per pass
      const pooled = (await runtime.list('node-a')).filter((umbox) => umbox.pooled === true);
      assert.deepEqual(pooled.map((umbox) => umbox.image).sort(), ['firewall', 'monitor']);
      events.length = 0;
      const second = make({ portPool: 1, warmPool: 1 }); // a restarted node
      second.setDesired(warm({ cam: { state: 'normal', generation: 1, verdict: 'allow' } }, ['firewall', 'monitor']));
      const adopted = await second.reconcileOnce();
      assert.equal(adopted.warmStarted + adopted.removedUmboxes, 0, `adopted as they are: ${events.join(' | ')}`);
      second.setDesired(warm({ cam: { state: 'normal', generation: 1, verdict: 'allow' } }, ['firewall']));
      const pass = await second.reconcileOnce();
      assert.equal(pass.removedUmboxes, 1);
      const left = await runtime.list('node-a');
      assert.deepEqual(left.map((umbox) => umbox.image), ['firewall']);
      const monitor = pooled.find((umbox) => umbox.image === 'monitor');
      assert.ok(monitor?.ports !== undefined);
      const ports = new Set((await sw.listPorts()).map((port) => port.name));
      assert.ok(!ports.has(monitor.ports.inPort) && !ports.has(monitor.ports.outPort), 'its slot\'s ports are collected');
    });

    test('a warm μmbox that is not ready is collected and replaced, never claimed', async () => {
      const { events, runtime, make } = rig();
      const reconciler = make({ portPool: 1, warmPool: 1 });
      reconciler.setDesired(warm({ cam: { state: 'normal', generation: 1, verdict: 'allow' } }));
      await reconciler.reconcileOnce();
      const [pooled] = await runtime.list('node-a');
      assert.ok(pooled?.pooled === true);
      runtime.unready(pooled.name);
      const pass = await reconciler.reconcileOnce();
      assert.equal(pass.removedUmboxes, 1, `the unready warm μmbox is removed: ${events.join(' | ')}`);
      assert.equal(pass.warmStarted, 1, 'and replaced');
      events.length = 0;
      reconciler.setDesired(warm({ cam: { state: 'suspicious', generation: 2, chain: [pin('firewall')] } }));
      const move = await reconciler.reconcileOnce({ full: false });
      assert.equal(move.claimedUmboxes, 1);
      assert.ok(!events.some((event) => event.startsWith(`claim ${pooled.name}`)), 'the claim took the new one');
    });

    test('a warm start that fails leaves no container and waits warmRetryMs before the next try', async () => {
      const { runtime, make } = rig();
      runtime.failStarts.add('firewall');
      const reconciler = make({ portPool: 1, warmPool: 1, warmRetryMs: 60_000 });
      reconciler.setDesired(warm({ cam: { state: 'normal', generation: 1, verdict: 'allow' } }));
      const first = await reconciler.reconcileOnce();
      assert.ok(first.poolErrors.some((error) => error.startsWith('warm pool: firewall')), first.poolErrors.join(' | '));
      assert.deepEqual(await runtime.list('node-a'), [], 'no container left behind');
      reconciler.setDesired(warm({ cam: { state: 'normal', generation: 2, verdict: 'allow' } }));
      const later = [await reconciler.reconcileOnce({ full: false }), await reconciler.reconcileOnce()];
      assert.deepEqual(later.flatMap((pass) => pass.poolErrors), [], 'no retry (and so no new failure) within warmRetryMs');
      runtime.failStarts.delete('firewall');
      const retry = make({ portPool: 1, warmPool: 1, warmRetryMs: 0 });
      retry.setDesired(warm({ cam: { state: 'normal', generation: 2, verdict: 'allow' } }));
      assert.equal((await retry.reconcileOnce()).warmStarted, 1, 'after it, the start is tried again');
    });

    test('warm images are checked at the edge', () => {
      const { make } = rig();
      const reconciler = make();
      assert.throws(() => reconciler.setDesired({ ...input({}), warm: [{ image: 'Fire wall', digest: digest('x') }] }), /DesiredInput\.warm\[0\]/);
      assert.throws(() => reconciler.setDesired({ ...input({}), warm: [{ image: 'firewall', digest: 'sha256:00' }] }), /DesiredInput\.warm\[0\]/);
      assert.throws(() => reconciler.setDesired({ ...input({}), warm: Array.from({ length: 17 }, (_, i) => ({ image: `i${i}`, digest: digest(String(i)) })) }), /at most 16/);
    });
  });

  describe('a device registered before it is plugged in', () => {
    test('waits quietly: no μmbox starts for it over many passes, it stays quarantined, the others are unaffected', async () => {
      const clock = new SimulatedClock();
      const { events, make } = rig();
      const passes: PassResult[] = [];
      const reconciler = make({ clock, resyncMs: 10, onPass: (result) => passes.push(result) });
      // dev1 exists on the host; the third device's port (dev3) does not, yet.
      const plans: DesiredInput = {
        nodeId: 'node-a',
        devices: [
          { id: 'cam', port: 'dev1', addresses: ['10.0.0.1'], plan: { state: 'normal', generation: 1, chain: [pin('monitor')] } },
          { id: 'plug', port: 'dev3', addresses: ['10.0.0.3'], plan: { state: 'normal', generation: 1, chain: [pin('monitor'), pin('firewall')] }, standby: [{ state: 'attack', chain: [pin('block-all')] }] },
        ],
      };
      reconciler.setDesired(plans);
      reconciler.start();
      try {
        await advanceUntil(clock, () => passes.filter((pass) => pass.full).length >= 30, 10_000, '30 full passes');
      } finally {
        await reconciler.stop();
      }
      const plugStarts = events.filter((event) => /^(start|startPooled|claim|remove) /.test(event) && event.includes(reconciler.plannedFor('plug')?.umboxes[0]?.name.slice(0, 20) ?? 'none'));
      assert.deepEqual(plugStarts, [], `nothing started or removed for the unplugged device: ${events.join(' | ')}`);
      const starts = events.filter((event) => event.startsWith('start ')).length;
      assert.equal(starts, 1, `only cam's μmbox started, once, over ${passes.length} passes: ${events.filter((event) => /^(start|remove)/.test(event)).join(' | ')}`);
      assert.equal(events.filter((event) => event.startsWith('remove ')).length, 0, 'nothing removed: no churn');
      const report = reconciler.reportFor('plug');
      assert.equal(report?.enforcement, 'quarantine');
      assert.equal(report?.appliedGeneration, null);
      assert.match(report?.reason ?? '', /port dev3 is not plugged in yet/);
      assert.equal(reconciler.reportFor('cam')?.appliedGeneration, 1);
    });

    test('its flows and μmboxes come when its port appears (a link event wakes the loop at once)', async () => {
      const clock = new SimulatedClock();
      const { interfaces, events, sw, make } = rig();
      const reconciler = make({ clock, resyncMs: 60_000 }); // no timer pass during the test: only the link event can wake it
      reconciler.setDesired({ nodeId: 'node-a', devices: [{ id: 'plug', port: 'dev3', addresses: ['10.0.0.3'], plan: { state: 'normal', generation: 1, chain: [pin('monitor')] } }] });
      reconciler.start();
      try {
        await advanceUntil(clock, () => reconciler.reportFor('plug')?.enforcement === 'quarantine', 5_000, 'plug is quarantined');
        assert.equal(events.filter((event) => event.startsWith('start ')).length, 0);
        interfaces.add('dev3');
        reconciler.interfacesChanged();
        await appliedOn(clock, reconciler, 'plug', 1, 2_000);
      } finally {
        await reconciler.stop();
      }
      assert.equal(events.filter((event) => event.startsWith('start ')).length, 1);
      const devPort = (await sw.listPorts()).find((port) => port.name === 'dev3');
      assert.ok(devPort !== undefined && devPort.ofport > 0, 'the device port was attached');
      assert.ok((await sw.dumpFlows()).some((flow) => flow.match.includes(`in_port=${devPort.ofport}`) && flow.actions.startsWith('output:')), 'its chain flows are installed');
    });
  });
});
