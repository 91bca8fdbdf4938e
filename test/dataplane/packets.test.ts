// packets.test.ts — goal: show with real packets that the data plane enforces the agreed state on a
// node: traffic passes through its μmbox chain in `normal`; a brute-force burst makes the monitor μmbox
// alert, the policy engine moves the device to `attack`, and the attacker's packets stop (already while
// the attack chain's block-all μmbox starts: the switch drops the device's traffic first); 50 chain
// swaps under continuous probe traffic let through zero packets that every state forbids; a restarted
// reconciler and a μmbox killed by hand are both reconciled back; an image that does not match its pin
// leaves the device quarantined with an integrity alert; a standby μmbox runs unwired (no packet reaches
// it) until a move to its chain adopts it without starting anything; a μmbox fails closed (its ruleset
// flushed by hand: nothing arrives, and it exits so a fresh one replaces it; or its container killed under a
// flood of forbidden datagrams: nothing arrives).
// Method: devices, a server and an attacker live in network namespaces of a lab (test/dataplane/lab.ts)
// wired to an OVS bridge (userspace datapath) of the node's private OVS instance; μmboxes run on the
// node's private Docker engine; the real Reconciler, OvsSwitch, DockerUmboxRuntime, AlertIntake and
// PolicyEngine are used. Packets are counted by nftables counters inside the receiving namespaces.
// Needs root, OVS and Docker: skipped with a message when missing, failed when CI=true.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PolicyEngine, type PolicyDocument } from '../../src/policy/index.js';
import { AlertIntake } from '../../src/dataplane/alerts.js';
import { DockerUmboxRuntime, imageReference } from '../../src/dataplane/docker-runtime.js';
import { run, pollUntil } from '../../src/dataplane/exec.js';
import type { HostPaths } from '../../src/dataplane/host.js';
import { OvsSwitch } from '../../src/dataplane/ovs.js';
import { Reconciler, type IntegrityAlert } from '../../src/dataplane/reconciler.js';
import { buildAllImages, type ImageManifest } from '../../src/dataplane/umbox-images.js';
import type { DesiredDevice, DevicePlan, ImagePin, UmboxAlert } from '../../src/dataplane/types.js';
import { ATTACKER_ADDRESS, Lab, SERVER_ADDRESS, buildUpstream, deviceAddress, emptyNode, facilities, releaseLab } from './lab.js';

const available = await facilities();
const skip = available.ok ? false : `needs ${available.reason}`;

/** CONFIG is each μmbox image's configuration in this lab (the policy pins images; the node configures them). */
const CONFIG: Record<string, Record<string, string>> = {
  monitor: { LOGIN_PORT: '22', MAX_CONNECTIONS: '5' },
  firewall: { ALLOW: 'out:tcp:80 in:tcp:22 icmp' },
  'rate-limit': { MAX_PPS: '500', MAX_NEW_PER_MINUTE: '60' },
  'block-all': {},
};

describe('data plane with real packets', { skip, timeout: 280_000 }, () => {
  const lab = new Lab('p');
  const nodeId = `qgt-${process.pid}-node`;
  let paths: HostPaths;
  let sw: OvsSwitch;
  let runtime: DockerUmboxRuntime;
  let reconciler: Reconciler;
  let intake: AlertIntake;
  let manifest: ImageManifest;
  let server = '';
  let attacker = '';
  const alerts: UmboxAlert[] = [];
  const integrity: IntegrityAlert[] = [];
  const devices = new Map<string, DesiredDevice>();
  const generations = new Map<string, number>();
  const passProblems: string[] = [];

  function pin(image: string): ImagePin {
    const built = manifest.images[image];
    assert.ok(built, `image ${image} was built`);
    return { image, digest: built.digest, config: CONFIG[image] ?? {} };
  }

  /** warm lists the images the node keeps warm μmboxes of (empty but in the warm-pool test). */
  let warm: ImagePin[] = [];

  /** handOver gives the reconciler the whole input: every device and the warm images. */
  function handOver(): void {
    reconciler.setDesired({ nodeId, devices: [...devices.values()], warm: warm.map(({ image, digest }) => ({ image, digest })) });
  }

  /** setPlan gives a device its next generation and hands the whole input to the reconciler. */
  function setPlan(deviceId: string, plan: Omit<DevicePlan, 'generation'> & ({ chain: ImagePin[] } | { verdict: 'allow' | 'quarantine' })): number {
    const generation = (generations.get(deviceId) ?? 0) + 1;
    generations.set(deviceId, generation);
    const device = devices.get(deviceId);
    assert.ok(device);
    devices.set(deviceId, { ...device, plan: { ...plan, generation } as DevicePlan });
    handOver();
    return generation;
  }

  function newReconciler(): Reconciler {
    return new Reconciler({
      switch: sw, runtime, uplinkPort: lab.name('u'), channels: intake, resyncMs: 300,
      onIntegrityAlert: (alert) => integrity.push(alert),
      onPass: (result, error) => {
        // Kept for the failure messages below: what the last passes could not do.
        const problem = error?.message ?? (result.errors.length > 0 ? result.errors.join('; ') : null);
        if (problem !== null) passProblems.push(`${new Date().toISOString()} ${problem}`.slice(0, 500));
        if (passProblems.length > 20) passProblems.shift();
      },
    });
  }

  async function addDevice(index: number): Promise<string> {
    const ns = await lab.addNamespace(`d${index}`);
    await lab.hostVeth(lab.name(`d${index}`), ns, 'eth0', `${deviceAddress(index)}/24`);
    devices.set(`dev${index}`, { id: `dev${index}`, port: lab.name(`d${index}`), addresses: [deviceAddress(index)], plan: null });
    return ns;
  }

  before(async () => {
    assert.ok(available.ok);
    paths = available.paths;
    sw = new OvsSwitch({ bridge: lab.name('br'), ovsDir: paths.ovsDir });
    runtime = new DockerUmboxRuntime({ socketPath: paths.dockerSocket, umboxDir: paths.umboxDir });
    intake = new AlertIntake({ onAlert: (alert) => alerts.push(alert) });
    reconciler = newReconciler();
    manifest = await buildAllImages(runtime);
    await sw.ensureBridge();
    ({ server, attacker } = await buildUpstream(lab, lab.name('u')));
    // The server answers HTTP on 80 and 8080; counters see every probe datagram and every attacker packet.
    const www = `/tmp/${lab.prefix}-www`;
    mkdirSync(www, { recursive: true });
    writeFileSync(join(www, 'index.html'), 'hello from the server\n');
    lab.spawn(server, ['busybox', 'httpd', '-f', '-p', '80', '-h', www]);
    lab.spawn(server, ['busybox', 'httpd', '-f', '-p', '8080', '-h', www]);
    await lab.exec(server, ['nft', '-f', '-'], { input: COUNTERS });
    for (const index of [1, 2, 3]) {
      const ns = await addDevice(index);
      lab.spawn(ns, ['busybox', 'httpd', '-f', '-p', '22', '-h', www]); // the device's "login" service
      await lab.exec(ns, ['nft', '-f', '-'], { input: COUNTERS });
    }
    handOver();
    reconciler.start();
    await reconciler.waitFor('dev1', () => true, 30_000);
  });

  after(async () => {
    try {
      await emptyNode(reconciler, runtime, nodeId);
    } finally {
      intake.close();
      await releaseLab(sw, lab, available);
    }
  });

  test('a device without a plan is quarantined: its packets are dropped', async () => {
    assert.equal(reconciler.reportFor('dev1')?.enforcement, 'quarantine');
    assert.equal(reconciler.reportFor('dev1')?.appliedGeneration, null);
    assert.equal(await ping(lab, lab.name('d1'), SERVER_ADDRESS, 2), false, 'no packet passes before a plan is applied');
  });

  test('normal: the device reaches the server through its μmbox chain, which filters', async () => {
    const generation = setPlan('dev1', { state: 'normal', chain: [pin('monitor'), pin('firewall')] });
    const report = await reconciler.waitForGeneration('dev1', generation, 30_000);
    assert.equal(report.enforcement, 'chain');
    const containers = (await runtime.list(nodeId)).filter((umbox) => umbox.deviceId === 'dev1' && umbox.running);
    assert.deepEqual(containers.map((umbox) => `${umbox.position}:${umbox.image}:g${umbox.generation}`).sort(), ['0:monitor:g1', '1:firewall:g1']);
    assert.match(await httpGet(lab, lab.name('d1'), SERVER_ADDRESS, 80), /hello from the server/);
    assert.equal(await ping(lab, lab.name('d1'), SERVER_ADDRESS, 1), true, 'ICMP is on the allow-list');
    assert.equal(await httpGet(lab, lab.name('d1'), SERVER_ADDRESS, 8080), '', 'port 8080 is not on the allow-list');
    // The packets went through the firewall μmbox: its drop counter saw the refused connection.
    const firewall = containers.find((umbox) => umbox.image === 'firewall');
    assert.ok(firewall);
    assert.ok(await umboxCounter(paths.dockerSocket, firewall.containerId, 'dropped') > 0, 'the firewall μmbox dropped the 8080 attempt');
  });

  test('a brute-force burst makes the monitor alert; the device moves to attack and the attacker is cut off', async () => {
    const engine = new PolicyEngine();
    engine.setPolicy(policy(manifest));
    engine.upsertDevice({ id: 'dev1', type: 'camera', domain: 'lab', group: 'home', tags: [] }, 1);
    const before = await counter(lab, lab.name('d1'), 'from-attacker');
    assert.match(await httpGet(lab, attacker, deviceAddress(1), 22), /hello/, 'in normal the attacker can reach the login port');
    for (let attempt = 0; attempt < 10; attempt++) await httpGet(lab, attacker, deviceAddress(1), 22, 1);
    assert.ok(await pollUntil(() => alerts.some((alert) => alert.deviceId === 'dev1' && alert.alertType === 'brute-force'), 10_000),
      `the monitor raised brute-force (alerts: ${JSON.stringify(alerts)})`);
    const alert = alerts.find((one) => one.alertType === 'brute-force');
    assert.ok(alert);
    assert.equal(alert.image, 'monitor');
    assert.match(alert.detail, new RegExp(`src=${ATTACKER_ADDRESS.replaceAll('.', '\\.')}`));
    const reactions = engine.onAlert(alert.deviceId, alert.alertType, 2);
    assert.deepEqual(reactions.filter((reaction) => reaction.kind === 'state').map((reaction) => reaction.kind === 'state' && reaction.to), ['attack']);
    const plan = engine.planFor('dev1');
    assert.ok(plan && 'chain' in plan);
    // The attack chain is block-all, which drops everything: the switch drops the device's traffic before
    // that μmbox starts. Probe the attacker's reach at the moment its start begins.
    const start = runtime.start.bind(runtime);
    const duringStart: { counts: { before: number; after: number } | null } = { counts: null };
    runtime.start = async (umbox, imageId) => {
      if (umbox.deviceId === 'dev1' && umbox.image === 'block-all' && duringStart.counts === null) {
        const reachedBefore = await counter(lab, lab.name('d1'), 'from-attacker');
        await ping(lab, attacker, deviceAddress(1), 3);
        duringStart.counts = { before: reachedBefore, after: await counter(lab, lab.name('d1'), 'from-attacker') };
      }
      return start(umbox, imageId);
    };
    try {
      const generation = setPlan('dev1', { state: plan.state, chain: plan.chain.map((one) => pin(one.name)) });
      await reconciler.waitForGeneration('dev1', generation, 30_000);
    } finally {
      runtime.start = start;
    }
    assert.ok(duringStart.counts !== null, 'the block-all μmbox was started by this move');
    assert.equal(duringStart.counts.after, duringStart.counts.before, 'no attacker packet reaches the device while its block-all μmbox starts');
    const reached = await counter(lab, lab.name('d1'), 'from-attacker');
    assert.ok(reached > before, 'the attacker reached the device while it was normal');
    await ping(lab, attacker, deviceAddress(1), 5);
    await httpGet(lab, attacker, deviceAddress(1), 22, 1);
    assert.equal(await counter(lab, lab.name('d1'), 'from-attacker'), reached, 'no attacker packet reaches the device in attack');
    assert.equal(await ping(lab, lab.name('d1'), SERVER_ADDRESS, 1), false, 'block-all stops the device too');
  });

  test('an image whose digest does not match its pin leaves the device quarantined, with an integrity alert', async () => {
    // Tamper: a different image (block-all) is tagged under the reference the pin of "monitor" resolves to.
    const forged = `sha256:${'5e'.repeat(32)}`;
    const [repo, tag] = imageReference('monitor', forged).split(':') as [string, string];
    await runtime.docker.getImage(manifest.images['block-all']?.reference ?? '').tag({ repo, tag });
    try {
      const generation = setPlan('dev3', { state: 'normal', chain: [{ image: 'monitor', digest: forged, config: CONFIG.monitor }] });
      const report = await reconciler.waitFor('dev3', (one) => one.desiredGeneration === generation && one.reason !== null, 30_000);
      assert.equal(report.enforcement, 'quarantine');
      assert.equal(report.appliedGeneration, null);
      assert.match(report.reason ?? '', /integrity: μmbox image monitor mismatch/);
      assert.deepEqual(integrity.map((one) => [one.deviceId, one.generation, one.image, one.reason]), [['dev3', generation, 'monitor', 'mismatch']]);
      assert.equal((await runtime.list(nodeId)).filter((umbox) => umbox.deviceId === 'dev3').length, 0, 'no container runs the tampered image');
      assert.equal(await ping(lab, lab.name('d3'), SERVER_ADDRESS, 2), false, 'the quarantined device is cut off');
      assert.equal(await ping(lab, server, deviceAddress(3), 2), false, 'and cannot be reached');
    } finally {
      await runtime.docker.getImage(`${repo}:${tag}`).remove().catch(() => undefined);
    }
  });

  test('after the reconciler restarts and a μmbox is killed by hand, both are reconciled back', async () => {
    const generation = setPlan('dev2', { state: 'normal', chain: [pin('monitor'), pin('firewall')] });
    await reconciler.waitForGeneration('dev2', generation, 30_000);
    assert.match(await httpGet(lab, lab.name('d2'), SERVER_ADDRESS, 80), /hello/);
    await reconciler.stop();
    const before = (await runtime.list(nodeId)).filter((umbox) => umbox.deviceId === 'dev2');
    const victim = before.find((umbox) => umbox.image === 'firewall');
    assert.ok(victim);
    await runtime.docker.getContainer(victim.containerId).kill(); // by hand, while no reconciler runs
    // Drift in the flow table too: a bypass flow (device straight to the uplink) and a deleted device flow.
    const env = { OVS_RUNDIR: paths.ovsDir };
    const ports = new Map((await sw.listPorts()).map((port) => [port.name, port.ofport]));
    await run('ovs-ofctl', ['-O', 'OpenFlow13', 'add-flow', sw.bridge, `priority=200,in_port=${ports.get(lab.name('d2'))},actions=output:${ports.get(lab.name('u'))}`], { env });
    // The reply path runs through the killed μmbox, so ARP cannot resolve: give the device the server's MAC.
    const serverMac = /link\/ether ([0-9a-f:]{17})/.exec((await lab.exec(server, ['ip', 'link', 'show', 'eth0'])).stdout)?.[1];
    assert.ok(serverMac);
    await lab.exec(lab.name('d2'), ['ip', 'neigh', 'replace', SERVER_ADDRESS, 'lladdr', serverMac, 'dev', 'eth0', 'nud', 'permanent']);
    const bypassBefore = await counter(lab, server, 'probe-in');
    await sendProbes(lab, lab.name('d2'), 20);
    assert.ok(await counter(lab, server, 'probe-in') > bypassBefore, 'the hand-made bypass carries packets before reconciliation');

    reconciler = newReconciler(); // a fresh process's reconciler: nothing in memory
    handOver();
    reconciler.start();
    await reconciler.waitForGeneration('dev2', generation, 30_000);
    const after = (await runtime.list(nodeId)).filter((umbox) => umbox.deviceId === 'dev2');
    assert.deepEqual(after.map((umbox) => [umbox.name, umbox.running, umbox.ready]).sort(), before.map((umbox) => [umbox.name, true, true]).sort());
    assert.notEqual(after.find((umbox) => umbox.image === 'firewall')?.containerId, victim.containerId, 'the killed μmbox was started again');
    assert.equal(after.find((umbox) => umbox.image === 'monitor')?.containerId, before.find((umbox) => umbox.image === 'monitor')?.containerId, 'the healthy one was kept');
    const flows = await sw.dumpFlows();
    assert.equal(flows.filter((flow) => flow.priority === 200).length, 0, 'the bypass flow was removed');
    assert.equal(await httpGet(lab, lab.name('d2'), SERVER_ADDRESS, 8080), '', 'traffic is filtered by the chain again');
    const bypassAfter = await counter(lab, server, 'probe-in');
    await sendProbes(lab, lab.name('d2'), 20);
    assert.equal(await counter(lab, server, 'probe-in'), bypassAfter, 'the bypass is gone: UDP 9999 is filtered again');
    await lab.exec(lab.name('d2'), ['ip', 'neigh', 'del', SERVER_ADDRESS, 'dev', 'eth0']);
    assert.match(await httpGet(lab, lab.name('d2'), SERVER_ADDRESS, 80), /hello/);
    assert.equal(reconciler.reportFor('dev1')?.appliedGeneration, generations.get('dev1'), 'the restarted reconciler reports the other devices too');
  });

  test('a μmbox whose veth is deleted by hand is started again (OVS keeps the stale port number)', async () => {
    const before = (await runtime.list(nodeId)).find((umbox) => umbox.deviceId === 'dev2' && umbox.image === 'monitor');
    assert.ok(before?.ready);
    const planned = (await runtime.docker.getContainer(before.containerId).inspect()).Config.Labels['io.quorumgate.in-port'];
    assert.ok(planned);
    await run('ip', ['link', 'del', planned]);
    assert.ok(await pollUntil(async () => {
      const now = (await runtime.list(nodeId)).find((umbox) => umbox.name === before.name);
      return now !== undefined && now.ready && now.containerId !== before.containerId;
    }, 20_000, 100), `the μmbox was replaced (last pass problems: ${passProblems.join(' | ')})`);
    assert.ok(await pollUntil(async () => /hello/.test(await httpGet(lab, lab.name('d2'), SERVER_ADDRESS, 80)), 10_000, 200), 'traffic passes through the new μmbox');
  });

  test('warm standby: the μmbox of the attack chain runs unwired before it is needed, and the move to it starts nothing', async () => {
    const ns = await addDevice(4);
    const www = `/tmp/${lab.prefix}-www`;
    lab.spawn(ns, ['busybox', 'httpd', '-f', '-p', '22', '-h', www]);
    await lab.exec(ns, ['nft', '-f', '-'], { input: COUNTERS });
    const device = devices.get('dev4');
    assert.ok(device);
    devices.set('dev4', { ...device, standby: [{ state: 'attack', chain: [pin('block-all')] }] });
    const normal = setPlan('dev4', { state: 'normal', chain: [pin('monitor')] });
    await reconciler.waitForGeneration('dev4', normal, 30_000);
    const planned = reconciler.plannedFor('dev4')?.standby[0];
    assert.ok(planned, 'a standby μmbox is planned for the attack chain');
    assert.ok(await pollUntil(async () => {
      const standby = (await runtime.list(nodeId)).find((umbox) => umbox.name === planned.name);
      const ports = new Map((await sw.listPorts()).map((port) => [port.name, port.ofport]));
      return standby !== undefined && standby.ready && (ports.get(planned.inPort) ?? -1) > 0 && (ports.get(planned.outPort) ?? -1) > 0;
    }, 30_000, 100), 'the standby block-all runs with its ports on the bridge');
    const standby = (await runtime.list(nodeId)).find((umbox) => umbox.name === planned.name);
    assert.ok(standby);
    // Unwired: traffic of the device and of the attacker reaches the device through the monitor, and none
    // of it reaches the standby μmbox: no packet left the switch towards either of its ports, and its own
    // drop counter stays 0 (the host ends have IPv6 off, so not even the host's link-local chatter arrives).
    const standbyPorts = new Map((await sw.listPorts()).map((port) => [port.name, port.ofport]));
    const sentToStandby = async (): Promise<number> => {
      let total = 0;
      for (const name of [planned.inPort, planned.outPort]) {
        const { stdout } = await run('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-ports', lab.name('br'), String(standbyPorts.get(name))], { env: { OVS_RUNDIR: paths.ovsDir } });
        const match = /tx pkts=(\d+)/.exec(stdout);
        assert.ok(match?.[1] !== undefined, `port stats of ${name}: ${stdout}`);
        total += Number(match[1]);
      }
      return total;
    };
    assert.match(await httpGet(lab, attacker, deviceAddress(4), 22), /hello/);
    await ping(lab, attacker, deviceAddress(4), 2);
    assert.equal(await sentToStandby(), 0, 'the switch sent no packet to the standby μmbox');
    assert.equal(await umboxCounter(paths.dockerSocket, standby.containerId, 'dropped'), 0, 'no packet reached the standby μmbox');
    const reached = await counter(lab, ns, 'from-attacker');
    assert.ok(reached > 0);

    const started = Date.now();
    const attack = setPlan('dev4', { state: 'attack', chain: [pin('block-all')] });
    await reconciler.waitForGeneration('dev4', attack, 30_000);
    const swapMs = Date.now() - started;
    // Enforcement is reported right after the bundle; the old chain's monitor goes just after (break).
    assert.ok(await pollUntil(async () => (await runtime.list(nodeId)).filter((umbox) => umbox.deviceId === 'dev4').length === 1, 20_000, 100), 'the monitor is removed');
    const carrying = (await runtime.list(nodeId)).filter((umbox) => umbox.deviceId === 'dev4' && umbox.running);
    assert.deepEqual(carrying.map((umbox) => umbox.containerId), [standby.containerId], 'the standby container carries the chain');
    await ping(lab, attacker, deviceAddress(4), 3);
    await httpGet(lab, attacker, deviceAddress(4), 22, 1);
    assert.equal(await counter(lab, ns, 'from-attacker'), reached, 'no attacker packet reaches the device in attack');
    assert.ok(await umboxCounter(paths.dockerSocket, standby.containerId, 'dropped') > 0, 'the former standby now drops the attacker');
    console.log(`# warm swap (standby μmbox adopted): ${swapMs} ms from new plan to enforced`);
  });

  test('a μmbox fails closed: with its rules flushed by hand it forwards nothing and is replaced, and killing it under a flood lets nothing through', async () => {
    // The firewall forbids UDP 9999 from the device; the device floods it (≈5,000/s) straight at the server's
    // MAC. (1) Someone flushes the μmbox's nftables ruleset: nothing in the container forwards without its
    // rules, so the flood still does not arrive — with the earlier recipes (a kernel bridge filtered by a
    // bridge-family table) the bridge forwarded everything as soon as its table was gone. (2) Its container
    // is killed, twice, while the flood crosses it: the namespace is torn down under load and the reconciler
    // starts a new one. The server's counter must stay 0 throughout.
    const ns = await addDevice(5);
    await lab.exec(ns, ['nft', '-f', '-'], { input: COUNTERS });
    const generation = setPlan('dev5', { state: 'suspicious', chain: [pin('firewall')] });
    await reconciler.waitForGeneration('dev5', generation, 30_000);
    const serverMac = /link\/ether ([0-9a-f:]{17})/.exec((await lab.exec(server, ['ip', 'link', 'show', 'eth0'])).stdout)?.[1];
    assert.ok(serverMac);
    await lab.exec(ns, ['ip', 'neigh', 'replace', SERVER_ADDRESS, 'lladdr', serverMac, 'dev', 'eth0', 'nud', 'permanent']);
    const readyFirewall = async (): Promise<{ containerId: string } | undefined> =>
      (await runtime.list(nodeId)).find((umbox) => umbox.deviceId === 'dev5' && umbox.running && umbox.ready);
    const flood = lab.spawn(ns, ['node', '-e', FLOOD_SENDER, SERVER_ADDRESS]);
    try {
      const serverBefore = await counter(lab, server, 'probe-in');
      const flushed = await readyFirewall();
      assert.ok(flushed, `a ready firewall μmbox (last pass problems: ${passProblems.join(' | ')})`);
      const dropped = await umboxCounter(paths.dockerSocket, flushed.containerId, 'dropped');
      assert.ok(await pollUntil(async () => await umboxCounter(paths.dockerSocket, flushed.containerId, 'dropped') > dropped, 5_000, 50), 'the flood reaches the μmbox');
      await run('docker', ['-H', `unix://${paths.dockerSocket}`, 'exec', flushed.containerId, 'nft', 'flush', 'ruleset']);
      const sentBefore = await counter(lab, ns, 'probe-out');
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.ok((await counter(lab, ns, 'probe-out')) - sentBefore > 500, 'the device kept flooding');
      assert.equal((await counter(lab, server, 'probe-in')) - serverBefore, 0, 'a μmbox without its rules forwarded nothing');
      // Nor does it stay a black hole: it sees its rules gone and exits, and the node starts a fresh one.
      const flushedAt = Date.now();
      let replaced: { containerId: string } | undefined;
      assert.ok(await pollUntil(async () => (replaced = await readyFirewall()) !== undefined && replaced.containerId !== flushed.containerId, 15_000, 50),
        `the flushed μmbox was replaced (last pass problems: ${passProblems.join(' | ')})`);
      assert.ok(replaced);
      console.log(`# μmbox rules flushed → a new one ready: ${Date.now() - flushedAt} ms`);
      const crossing = await umboxCounter(paths.dockerSocket, replaced.containerId, 'dropped');
      assert.ok(await pollUntil(async () => await umboxCounter(paths.dockerSocket, replaced!.containerId, 'dropped') > crossing, 5_000, 50), 'the flood crosses the new μmbox');
      let killed = replaced.containerId;
      const restartMs: number[] = [];
      for (let kill = 0; kill < 3; kill++) {
        await runtime.docker.getContainer(killed).kill();
        const killedAt = Date.now();
        let victim: { containerId: string } | undefined;
        assert.ok(await pollUntil(async () => (victim = await readyFirewall()) !== undefined && victim.containerId !== killed, 30_000, 50),
          `kill ${kill}: the μmbox was started again (last pass problems: ${passProblems.join(' | ')})`);
        restartMs.push(Date.now() - killedAt);
        assert.ok(victim);
        const id = victim.containerId;
        if (kill === 2) break;
        const before = await umboxCounter(paths.dockerSocket, id, 'dropped');
        assert.ok(await pollUntil(async () => await umboxCounter(paths.dockerSocket, id, 'dropped') > before, 5_000, 50), `kill ${kill}: the flood crosses the new μmbox`);
        killed = id;
      }
      console.log(`# μmbox killed → a new one ready: ${restartMs.join(', ')} ms`);
      assert.equal((await counter(lab, server, 'probe-in')) - serverBefore, 0, 'no forbidden datagram reached the server while μmboxes died');
    } finally {
      flood.kill('SIGKILL');
    }
    const cleared = setPlan('dev5', { state: 'quarantined', verdict: 'quarantine' });
    await reconciler.waitForGeneration('dev5', cleared, 30_000);
  });

  test('warm pool: a move to a firewall chain claims a running warm μmbox, which filters by the device\'s configuration from the first packet', async () => {
    // The node keeps a warm firewall: running, on a slot of the bridge, dropping everything, configured by
    // nobody. The move claims it: its configuration is loaded in place (no container start, no link change).
    warm = [pin('firewall')];
    handOver();
    let pooled: { containerId: string; name: string } | undefined;
    assert.ok(await pollUntil(async () => (pooled = (await runtime.list(nodeId)).find((umbox) => umbox.pooled === true && umbox.ready && umbox.image === 'firewall')) !== undefined, 30_000, 100),
      `a warm firewall runs (last pass problems: ${passProblems.join(' | ')})`);
    assert.ok(pooled);
    const ns = await addDevice(6);
    await lab.exec(ns, ['nft', '-f', '-'], { input: COUNTERS });
    const started = Date.now();
    const generation = setPlan('dev6', { state: 'suspicious', chain: [pin('firewall')] });
    await reconciler.waitForGeneration('dev6', generation, 30_000);
    console.log(`# move to a firewall chain by claiming a warm μmbox: ${Date.now() - started} ms from new plan to enforced`);
    const carrying = (await runtime.list(nodeId)).filter((umbox) => umbox.deviceId === 'dev6' && umbox.running);
    assert.deepEqual(carrying.map((umbox) => [umbox.containerId, umbox.generation]), [[pooled.containerId, generation]], 'the warm container carries the chain, listed as dev6\'s');
    assert.match(await httpGet(lab, ns, SERVER_ADDRESS, 80), /hello from the server/, 'port 80 is on the allow-list');
    assert.equal(await httpGet(lab, ns, SERVER_ADDRESS, 8080), '', 'port 8080 is not');
    assert.ok(await umboxCounter(paths.dockerSocket, pooled.containerId, 'dropped') > 0, 'the claimed μmbox dropped the 8080 attempt');
    // The pool is refilled with a new warm firewall; with no warm images it goes.
    assert.ok(await pollUntil(async () => (await runtime.list(nodeId)).some((umbox) => umbox.pooled === true && umbox.ready && umbox.containerId !== pooled!.containerId), 30_000, 100), 'a new warm firewall runs');
    warm = [];
    const cleared = setPlan('dev6', { state: 'quarantined', verdict: 'quarantine' });
    await reconciler.waitForGeneration('dev6', cleared, 30_000);
    assert.ok(await pollUntil(async () => !(await runtime.list(nodeId)).some((umbox) => umbox.pooled === true), 30_000, 100), 'no warm μmbox is left');
  });

  test('50 chain swaps under continuous probe traffic let through zero forbidden packets', async () => {
    // Every plan in the cycle forbids UDP to port 9999; the device sends it all along. The server's counter
    // must stay 0. Then `allow` proves the probe is measurable: the same counter must rise.
    const cycle: Array<Omit<DevicePlan, 'generation'> & ({ chain: ImagePin[] } | { verdict: 'allow' | 'quarantine' })> = [
      { state: 'normal', chain: [pin('firewall')] },
      { state: 'suspicious', chain: [pin('monitor'), pin('firewall')] },
      { state: 'attack', chain: [pin('block-all')] },
      { state: 'quarantined', verdict: 'quarantine' },
      { state: 'throttled', chain: [pin('rate-limit'), pin('firewall')] },
    ];
    const device = lab.name('d2');
    const probe = lab.spawn(device, ['node', '-e', PROBE_SENDER, SERVER_ADDRESS]);
    const swapMs: number[] = [];
    try {
      const serverBefore = await counter(lab, server, 'probe-in');
      const sentBefore = await counter(lab, device, 'probe-out');
      for (let swap = 0; swap < 50; swap++) {
        const started = Date.now();
        const plan = cycle[swap % cycle.length];
        assert.ok(plan);
        const generation = setPlan('dev2', plan);
        await reconciler.waitForGeneration('dev2', generation, 30_000);
        swapMs.push(Date.now() - started);
      }
      const sent = (await counter(lab, device, 'probe-out')) - sentBefore;
      assert.ok(sent > 500, `the probe kept sending during the swaps (sent ${sent})`);
      assert.equal((await counter(lab, server, 'probe-in')) - serverBefore, 0, `no forbidden datagram reached the server (of ${sent} sent)`);
      const generation = setPlan('dev2', { state: 'open', verdict: 'allow' });
      await reconciler.waitForGeneration('dev2', generation, 30_000);
      assert.ok(await pollUntil(async () => (await counter(lab, server, 'probe-in')) - serverBefore > 0, 5_000), 'under allow the probe is counted');
    } finally {
      probe.kill('SIGKILL');
    }
    swapMs.sort((a, b) => a - b);
    console.log(`# 50 swaps: p50 ${swapMs[24]} ms, p95 ${swapMs[47]} ms, max ${swapMs[49]} ms`);
  });
});

/** COUNTERS are nftables counters inside a namespace: probe datagrams in and out, and the attacker's packets. */
const COUNTERS = `table inet qgtest {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 9999 counter comment "probe-in"
    ip saddr ${ATTACKER_ADDRESS} counter comment "from-attacker"
  }
  chain output {
    type filter hook output priority 0; policy accept;
    udp dport 9999 counter comment "probe-out"
  }
}
`;

/** PROBE_SENDER sends one UDP datagram to port 9999 every 2 ms until killed. */
const PROBE_SENDER = `
const socket = require('node:dgram').createSocket('udp4');
const target = process.argv[1];
let seq = 0;
setInterval(() => socket.send(Buffer.from('probe ' + seq++), 9999, target, () => {}), 2);
`;

/** FLOOD_SENDER sends UDP datagrams to port 9999 as fast as 5 per millisecond allows, until killed. */
const FLOOD_SENDER = `
const socket = require('node:dgram').createSocket('udp4');
const target = process.argv[1];
const payload = Buffer.from('flood');
setInterval(() => { for (let i = 0; i < 5; i++) socket.send(payload, 9999, target, () => {}); }, 1);
`;

/** sendProbes sends `count` UDP datagrams to the server's port 9999 from a namespace. */
async function sendProbes(lab: Lab, ns: string, count: number): Promise<void> {
  await forgetNeighbours(lab, ns);
  await lab.exec(ns, ['node', '-e', PROBE_BURST, SERVER_ADDRESS, String(count)], { timeoutMs: 10_000 });
}

const PROBE_BURST = `
const socket = require('node:dgram').createSocket('udp4');
const [target, count] = [process.argv[1], Number(process.argv[2])];
let sent = 0;
const timer = setInterval(() => {
  socket.send(Buffer.from('probe'), 9999, target, () => { if (++sent === count) { clearInterval(timer); socket.close(); } });
}, 10);
`;

async function counter(lab: Lab, ns: string, comment: string): Promise<number> {
  const { stdout } = await lab.exec(ns, ['nft', 'list', 'table', 'inet', 'qgtest']);
  return counterIn(stdout, comment);
}

async function umboxCounter(dockerSocket: string, containerId: string, comment: string): Promise<number> {
  const { stdout } = await run('docker', ['-H', `unix://${dockerSocket}`, 'exec', containerId, 'nft', 'list', 'ruleset']);
  return counterIn(stdout, comment);
}

/** counterIn sums the counters named `comment` in a ruleset (a μmbox has one per direction: two chains). */
function counterIn(ruleset: string, comment: string): number {
  const matches = [...ruleset.matchAll(new RegExp(`counter packets (\\d+) bytes \\d+ comment "${comment}"`, 'g'))];
  assert.ok(matches.length > 0, `counter ${comment} in ${ruleset}`);
  return matches.reduce((sum, match) => sum + Number(match[1]), 0);
}

/**
 * forgetNeighbours empties a namespace's ARP cache, so each probe starts fresh: a neighbour entry that failed
 * while the device was quarantined would otherwise fail the next connection at once, whatever the flows say.
 */
async function forgetNeighbours(lab: Lab, ns: string): Promise<void> {
  await lab.exec(ns, ['ip', 'neigh', 'flush', 'all']);
}

/** ping says whether at least one of `count` ICMP echoes from `ns` to `address` was answered. */
async function ping(lab: Lab, ns: string, address: string, count: number): Promise<boolean> {
  await forgetNeighbours(lab, ns);
  const result = await lab.exec(ns, ['busybox', 'ping', '-c', String(count), '-W', '1', '-i', '0.2', address], { allowFailure: true, timeoutMs: 10_000 });
  return result.code === 0;
}

/** httpGet fetches / over plain TCP with busybox nc; '' when the connection fails or times out. */
async function httpGet(lab: Lab, ns: string, address: string, port: number, timeoutSeconds = 2): Promise<string> {
  await forgetNeighbours(lab, ns);
  const result = await lab.exec(ns, ['busybox', 'nc', '-w', String(timeoutSeconds), address, String(port)],
    { allowFailure: true, timeoutMs: (timeoutSeconds + 3) * 1000, input: 'GET / HTTP/1.0\r\n\r\n' });
  return result.stdout;
}

/** policy is the lab's policy document: normal runs monitor + firewall; one brute-force alert moves to attack. */
function policy(manifest: ImageManifest): PolicyDocument {
  const digest = (name: string): string => manifest.images[name]?.digest ?? '';
  return {
    domain: 'lab',
    version: 1,
    deviceTypes: [{
      name: 'camera',
      sensors: [],
      commands: [],
      samplingMs: { normal: 10_000, suspicious: 10_000, attack: 10_000 },
      alertTypes: ['brute-force'],
      states: [
        { name: 'normal', chain: [{ name: 'monitor', digest: digest('monitor') }, { name: 'firewall', digest: digest('firewall') }] },
        { name: 'suspicious', chain: [{ name: 'monitor', digest: digest('monitor') }, { name: 'rate-limit', digest: digest('rate-limit') }] },
        { name: 'attack', chain: [{ name: 'block-all', digest: digest('block-all') }] },
      ],
      initialState: 'normal',
      rules: [{ name: 'brute-force', from: 'normal', to: 'attack', when: { alert: { type: 'brute-force', atLeast: 1, withinMs: 60_000 } }, commands: [] }],
    }],
  };
}
