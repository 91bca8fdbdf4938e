// adapters.test.ts — goal: the real adapters (OvsSwitch on the private OVS instance, DockerUmboxRuntime on
// the private Docker engine) and the in-memory ones obey the same contracts (test/dataplane/contract.ts).
// Method: each contract suite runs once per adapter; the real ones use a throw-away bridge, veth host
// interfaces and real μmbox images, all named with this process's id and removed afterwards. The real
// adapters need root, OVS and Docker: skipped with a message when missing, failed when CI=true.
import { describe, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostInterfaces, MemorySwitch, MemoryUmboxRuntime } from '../../src/dataplane/memory.js';
import { OvsSwitch } from '../../src/dataplane/ovs.js';
import { DockerUmboxRuntime, imageReference } from '../../src/dataplane/docker-runtime.js';
import { run } from '../../src/dataplane/exec.js';
import { buildImage } from '../../src/dataplane/umbox-images.js';
import { DataplaneError } from '../../src/dataplane/errors.js';
import { DISCOVERY_METER_ID, REPORT_ACTIONS } from '../../src/dataplane/constants.js';
import type { PlannedUmbox } from '../../src/dataplane/types.js';
import { runtimeContract, switchContract } from './contract.js';
import { facilities, releaseFacilities } from './lab.js';

const tag = (process.pid % 46656).toString(36);
const names = { a: `qtc${tag}a`, b: `qtc${tag}b`, missing: `qtc${tag}m` };

describe('MemorySwitch', () => {
  switchContract(async () => {
    const interfaces = new HostInterfaces();
    const sw = new MemorySwitch('mem0', interfaces);
    return { sw, createInterface: async (name) => interfaces.add(name), deleteInterface: async (name) => interfaces.delete(name), dispose: async () => undefined };
  }, names);
});

describe('MemoryUmboxRuntime', () => {
  runtimeContract(async () => {
    const interfaces = new HostInterfaces();
    const runtime = new MemoryUmboxRuntime(interfaces);
    const digest = `sha256:${'11'.repeat(32)}`;
    runtime.addImage('monitor', digest, [digest]);
    runtime.addImage('firewall', `sha256:${'22'.repeat(32)}`, [`sha256:${'33'.repeat(32)}`]);
    return {
      runtime, nodeId: 'contract-node', good: { image: 'monitor', digest }, tampered: { image: 'firewall', digest: `sha256:${'22'.repeat(32)}` },
      interfaceExists: async (name) => interfaces.has(name), killByHand: async (name) => runtime.kill(name), dispose: async () => undefined,
    };
  });
});

const available = await facilities();
const skip = available.ok ? false : `needs ${available.reason}`;
after(() => releaseFacilities(available));

describe('OvsSwitch', { skip }, () => {
  switchContract(async () => {
    if (!available.ok) throw new Error(available.reason);
    const sw = new OvsSwitch({ bridge: `qtc${tag}br`, ovsDir: available.paths.ovsDir });
    const created: string[] = [];
    return {
      sw,
      createInterface: async (name) => {
        // No dummy driver on these kernels: a veth pair whose peer is never used.
        await run('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
        await run('ip', ['link', 'set', name, 'up']);
        created.push(name);
      },
      deleteInterface: async (name) => {
        await run('ip', ['link', 'del', name], { allowFailure: true });
      },
      dispose: async () => {
        await sw.deleteBridge();
        for (const name of created) await run('ip', ['link', 'del', name], { allowFailure: true });
      },
    };
  }, names);

  test('the bridge is fail_mode=secure on the userspace datapath, OpenFlow 1.3 only, without in-band control', async () => {
    assert.ok(available.ok);
    const sw = new OvsSwitch({ bridge: `qtc${tag}cf`, ovsDir: available.paths.ovsDir });
    try {
      await sw.ensureBridge();
      const { stdout } = await run('ovs-vsctl', [`--db=unix:${available.paths.ovsDbSocket}`, 'get', 'Bridge', sw.bridge, 'fail_mode', 'datapath_type', 'protocols', 'other_config:disable-in-band']);
      assert.deepEqual(stdout.trim().split('\n'), ['secure', 'netdev', '[OpenFlow13]', '"true"']);
    } finally {
      await sw.deleteBridge();
    }
  });

  test('a bundle refused for a lost meter (a switch restart) has the meter made again and is applied once more', async () => {
    assert.ok(available.ok);
    const sw = new OvsSwitch({ bridge: `qtc${tag}mt`, ovsDir: available.paths.ovsDir });
    const env = { OVS_RUNDIR: available.paths.ovsDir };
    try {
      await sw.ensureBridge();
      // What a restarted ovs-vswitchd leaves: the bridge, without its meter.
      await run('ovs-ofctl', ['-O', 'OpenFlow13', 'del-meter', sw.bridge, `meter=${DISCOVERY_METER_ID}`], { env });
      const flow = `priority=5,in_port=9,actions=${REPORT_ACTIONS}`;
      await sw.applyFlows({ add: [flow], remove: [] });
      const flows = await sw.dumpFlows();
      assert.equal(flows.length, 1, 'the bundle was applied');
      const meters = await run('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-meters', sw.bridge], { env });
      assert.match(meters.stdout, new RegExp(`meter=${DISCOVERY_METER_ID}\\b`), 'the meter exists again');
    } finally {
      await sw.deleteBridge();
    }
  });

  test('deleteBridge also deletes the host veths of its μmbox-form ports (a free port-pool slot belongs to no container)', async () => {
    assert.ok(available.ok);
    const sw = new OvsSwitch({ bridge: `qtc${tag}dl`, ovsDir: available.paths.ovsDir });
    const hex = (process.pid % 0xffffff).toString(16).padStart(6, '0');
    const [slot, other] = [`qm${hex}aaaai`, `qtc${tag}x`];
    try {
      await sw.ensureBridge();
      for (const name of [slot, other]) await run('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
      await sw.addPorts([slot, other]);
      await sw.deleteBridge();
      assert.equal(existsSync(`/sys/class/net/${slot}`) || existsSync(`/sys/class/net/${slot}p`), false, 'the slot pair is gone');
      assert.equal(existsSync(`/sys/class/net/${other}`), true, 'an interface of another form is left alone');
    } finally {
      await sw.deleteBridge();
      for (const name of [slot, other]) await run('ip', ['link', 'del', name], { allowFailure: true });
    }
  });
});

describe('DockerUmboxRuntime', { skip }, () => {
  runtimeContract(async () => {
    if (!available.ok) throw new Error(available.reason);
    const runtime = new DockerUmboxRuntime({ socketPath: available.paths.dockerSocket, umboxDir: available.paths.umboxDir });
    const good = await buildImage(runtime, 'block-all');
    // A tampered local image: the monitor's pinned reference points at block-all's content.
    const forged = `sha256:${'7a'.repeat(32)}`;
    const [repo, label] = imageReference('monitor', forged).split(':') as [string, string];
    await runtime.docker.getImage(good.reference).tag({ repo, tag: label });
    return {
      runtime, nodeId: `qgt-${process.pid}-contract`, good: { image: 'block-all', digest: good.digest }, tampered: { image: 'monitor', digest: forged },
      interfaceExists: async (name) => existsSync(`/sys/class/net/${name}`),
      killByHand: async (name) => { await runtime.docker.getContainer(name).kill(); },
      dispose: async () => {
        await runtime.docker.getImage(`${repo}:${label}`).remove().catch(() => undefined);
      },
    };
  });

  test('claim: a claimed μmbox cannot make itself free again, and a claim channel planted as a link is refused without writing through it', async () => {
    if (!available.ok) throw new Error(available.reason);
    const runtime = new DockerUmboxRuntime({ socketPath: available.paths.dockerSocket, umboxDir: available.paths.umboxDir, readyTimeoutMs: 10_000 });
    const image = await buildImage(runtime, 'block-all');
    const check = await runtime.checkImage('block-all', image.digest);
    assert.ok(check.ok);
    const nodeId = `qgt-${process.pid}-claim`;
    const hex = (process.pid % 0xfffff).toString(16).padStart(5, '0');
    const slots = [0, 1].map((i) => ({ inPort: `qp${hex}cl${i}00i`, outPort: `qp${hex}cl${i}00o` }));
    const warmNames = [0, 1].map((i) => `qgt-${process.pid}-warm${i}`);
    const planned = (suffix: string): PlannedUmbox => ({
      name: `qgt-${process.pid}-claimed-${suffix}`, nodeId, deviceId: `dev-${suffix}`, generation: 1, position: 0,
      image: 'block-all', digest: image.digest, config: {}, inPort: `qm${hex}cl${suffix}0i`, outPort: `qm${hex}cl${suffix}0o`,
    });
    const [x, y, z] = [planned('x'), planned('y'), planned('z')];
    const victim = `/tmp/qgt-victim-${process.pid}`;
    writeFileSync(victim, 'untouched\n');
    const exec = (name: string, script: string): Promise<unknown> => run('docker', ['-H', `unix://${available.paths.dockerSocket}`, 'exec', name, 'sh', '-c', script]);
    try {
      for (const [i, slot] of slots.entries()) {
        await runtime.preparePorts(slot);
        await runtime.startPooled({ name: warmNames[i]!, nodeId, image: 'block-all', digest: image.digest, ...slot }, check.imageId);
      }
      const claimedX = await runtime.claim(warmNames[0]!, x);
      // The claimed μmbox erases every trace of its claim it can reach and says it holds again.
      await exec(x.name, 'rm -rf /run/umbox/config /run/umbox/ready && echo held > /run/umbox/held');
      const listed = (await runtime.list(nodeId)).find((one) => one.name === x.name);
      assert.ok(listed !== undefined && listed.pooled === undefined && listed.deviceId === 'dev-x', `still claimed, still dev-x's: ${JSON.stringify(listed)}`);
      await assert.rejects(runtime.claim(x.name, y), /not a free warm μmbox/);

      // A free warm μmbox replaces its claim FIFO by a link to a host file.
      await exec(warmNames[1]!, `rm /run/umbox/claim && ln -s ${victim} /run/umbox/claim`);
      await assert.rejects(runtime.claim(warmNames[1]!, z), (error: unknown) => error instanceof DataplaneError && error.code === 'umbox_start_failed');
      assert.equal(readFileSync(victim, 'utf8'), 'untouched\n', 'nothing was written through the link');
      assert.ok(!(await runtime.list(nodeId)).some((one) => one.name === warmNames[1] || one.name === z.name), 'the container that failed its claim is gone');

      // A claimed container removed behind the node's back: the next list deletes its claim record.
      const record = join(available.paths.umboxDir, '.claims', `${claimedX.containerId}.json`);
      assert.ok(existsSync(record), 'the claim is recorded by container id');
      await runtime.docker.getContainer(claimedX.containerId).remove({ force: true });
      await runtime.list(nodeId);
      assert.equal(existsSync(record), false, 'the record of a container that is gone is pruned');
    } finally {
      for (const name of [...warmNames, x.name, y.name, z.name]) await runtime.remove(name);
      for (const slot of slots) for (const port of [slot.inPort, slot.outPort]) await run('ip', ['link', 'del', port], { allowFailure: true });
      rmSync(victim, { force: true });
    }
  });

  test('watch: a μmbox that dies while the event stream is down (between subscriptions) is still reported', async () => {
    if (!available.ok) throw new Error(available.reason);
    const runtime = new DockerUmboxRuntime({ socketPath: available.paths.dockerSocket, umboxDir: available.paths.umboxDir });
    const image = await buildImage(runtime, 'block-all');
    const nodeId = `qgt-${process.pid}-gap`;
    const tag = `${process.pid.toString(16).slice(-4)}gap`.padEnd(10, '0').slice(0, 10);
    const umbox = {
      name: `qgt-gap-${process.pid}`, nodeId, deviceId: 'gap-device', generation: 1, position: 0,
      image: 'block-all', digest: image.digest, config: {}, inPort: `qm${tag}i`, outPort: `qm${tag}o`,
    };
    // The real engine's streams, captured so the test can drop one as a dropped socket would.
    const streams: NodeJS.ReadableStream[] = [];
    const getEvents = runtime.events.getEvents.bind(runtime.events) as (options: object) => Promise<NodeJS.ReadableStream>;
    (runtime.events as unknown as { getEvents: (options: object) => Promise<NodeJS.ReadableStream> }).getEvents = async (options) => {
      const stream = await getEvents(options);
      streams.push(stream);
      return stream;
    };
    const died: string[] = [];
    const watch = runtime.watch(nodeId, (_name, containerId) => died.push(containerId));
    try {
      const check = await runtime.checkImage(umbox.image, umbox.digest);
      assert.ok(check.ok);
      const started = await runtime.start(umbox, check.imageId);
      for (const until = Date.now() + 10_000; streams.length === 0; await new Promise((resolve) => setTimeout(resolve, 20))) {
        assert.ok(Date.now() < until, 'the watch subscribed to the engine\'s events within 10 s');
      }
      await new Promise((resolve) => setTimeout(resolve, 300)); // the subscription is in place
      (streams[0] as unknown as { destroy(): void }).destroy(); // the stream drops; the next comes a second later
      await runtime.docker.getContainer(umbox.name).kill(); // the death happens in the gap
      assert.equal(streams.length, 1, 'the kill happened before the watch subscribed again');
      const deadline = Date.now() + 10_000;
      while (!died.includes(started.containerId) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(streams.length >= 2, 'the watch subscribed again');
      assert.ok(died.includes(started.containerId), 'the death in the gap was reported by the next subscription');
    } finally {
      watch.close();
      await runtime.remove(umbox.name);
    }
  });
});
