// management.test.ts — goal: the gateway's management path passes exactly what docs/devices.md allows, with
// real packets, in an allow state, a chain state and quarantine: a broker device reaches the broker port on
// the management address and nothing else there; an HTTP device answers the gateway's polls on its port and
// nothing else; no device reaches the management port with another's address, nor another device or the
// uplink through it; a device without management and an unknown device get nothing; and two gateways on one
// host, their management addresses in the same subnet, each reach their own devices from their own address
// (the helper's source route). Also: a device registered before it is plugged in starts no μmbox, and works
// once its port appears.
// Method: a lab (test/dataplane/lab.ts) on the private OVS (userspace datapath) and Docker engine; the real
// Reconciler, OvsSwitch and DockerUmboxRuntime; ensureManagementPort on the host; a TCP "broker" and a
// second listener bound to the management address in this process, busybox nc and httpd in the device
// namespaces. Connections are counted by the listeners, and frames reaching the host end of the management
// port by its rx counter. Needs root, OVS and Docker: skipped with a message when missing, failed when CI=true.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { DockerUmboxRuntime } from '../../src/dataplane/docker-runtime.js';
import { pollUntil, run } from '../../src/dataplane/exec.js';
import { ensureManagementPort, managementTable, removeManagementPort, subnetOf, type ManagementPortInit } from '../../src/dataplane/management.js';
import { MemoryUmboxRuntime } from '../../src/dataplane/memory.js';
import { OvsSwitch } from '../../src/dataplane/ovs.js';
import { Reconciler } from '../../src/dataplane/reconciler.js';
import { buildAllImages, type ImageManifest } from '../../src/dataplane/umbox-images.js';
import type { DesiredDevice, DevicePlan, ImagePin, NodeManagement } from '../../src/dataplane/types.js';
import { Lab, SERVER_ADDRESS, buildUpstream, deviceAddress, facilities, releaseFacilities } from './lab.js';

describe('management port helpers', () => {
  test('each management address gets its own routing table (two subnets, same host part: two tables) and its subnet', () => {
    assert.notEqual(managementTable('10.78.0.242'), managementTable('10.79.0.242'));
    assert.notEqual(managementTable('10.77.0.250'), managementTable('10.77.0.251'));
    assert.ok(![0, 253, 254, 255].includes(managementTable('0.0.0.254')));
    assert.equal(subnetOf('10.77.0.250', 24), '10.77.0.0');
    assert.equal(subnetOf('10.77.3.250', 20), '10.77.0.0');
  });

  test('bad input is rejected naming the field', async () => {
    const good: ManagementPortInit = { ovsDir: '/nonexistent', bridge: 'br0', port: 'qgm0', hostInterface: 'qgh0', address: '10.77.0.250', prefixLength: 24 };
    await assert.rejects(ensureManagementPort({ ...good, address: '10.77.0' }), /ManagementPortInit.address: expected a dotted-quad IPv4 address, got "10.77.0"/);
    await assert.rejects(ensureManagementPort({ ...good, prefixLength: 31 }), /ManagementPortInit.prefixLength: expected an integer from 8 to 30, got 31/);
    await assert.rejects(ensureManagementPort({ ...good, hostInterface: 'qgm0' }), /ManagementPortInit.hostInterface: expected a name other than the port/);
    await assert.rejects(ensureManagementPort({ ...good, port: 'a-very-long-interface-name' }), /ManagementPortInit.port: expected an interface name/);
    await assert.rejects(ensureManagementPort({ ...good, table: 254 }), /ManagementPortInit.table/);
  });
});

const available = await facilities();
const skip = available.ok ? false : `needs ${available.reason}`;

/** The management addresses depend on the pid, so concurrent test processes do not share one on the host. */
const MGMT_ADDRESS = `10.77.0.${200 + (process.pid % 25) * 2}`;
const OTHER_GATEWAY_ADDRESS = `10.77.0.${201 + (process.pid % 25) * 2}`;
const BROKER_PORT = 1883;
const OTHER_PORT = 2222;
const HTTP_PORT = 8080;
const STRANGER_ADDRESS = '10.77.0.90';

describe('the management path with real packets', { skip, timeout: 300_000 }, () => {
  const lab = new Lab('m');
  const nodeId = `qgt-${process.pid}-mgmt`;
  let sw: OvsSwitch;
  let runtime: DockerUmboxRuntime;
  let reconciler: Reconciler;
  let manifest: ImageManifest;
  let management: NodeManagement;
  let portInit: ManagementPortInit;
  let server = '';
  const ns = new Map<string, string>();
  const devices = new Map<string, DesiredDevice>();
  const generations = new Map<string, number>();
  const listeners: Server[] = [];
  /** accepted lists the remote address of every connection each listener accepted. */
  const accepted = { broker: [] as string[], other: [] as string[] };
  const passProblems: string[] = [];

  function handOver(): void {
    reconciler.setDesired({ nodeId, devices: [...devices.values()], management });
  }

  function setPlans(plan: { state: string } & ({ chain: ImagePin[] } | { verdict: 'allow' | 'quarantine' })): Map<string, number> {
    for (const [id, device] of devices) {
      if (id === 'dev4') continue;
      const generation = (generations.get(id) ?? 0) + 1;
      generations.set(id, generation);
      devices.set(id, { ...device, plan: { ...plan, generation } as DevicePlan });
    }
    handOver();
    return new Map(generations);
  }

  async function addDevice(id: string, index: number, extra: Partial<DesiredDevice>): Promise<string> {
    const space = await lab.addNamespace(`d${index}`);
    await lab.hostVeth(lab.name(`d${index}`), space, 'eth0', `${deviceAddress(index)}/24`);
    ns.set(id, space);
    devices.set(id, { id, port: lab.name(`d${index}`), addresses: [deviceAddress(index)], plan: null, ...extra });
    return space;
  }

  before(async () => {
    assert.ok(available.ok);
    sw = new OvsSwitch({ bridge: lab.name('br'), ovsDir: available.paths.ovsDir });
    runtime = new DockerUmboxRuntime({ socketPath: available.paths.dockerSocket, umboxDir: available.paths.umboxDir });
    manifest = await buildAllImages(runtime);
    await sw.ensureBridge();
    ({ server } = await buildUpstream(lab, lab.name('u')));
    portInit = { ovsDir: available.paths.ovsDir, bridge: sw.bridge, port: lab.name('m'), hostInterface: lab.name('h'), address: MGMT_ADDRESS, prefixLength: 24 };
    const made = await ensureManagementPort(portInit);
    assert.deepEqual(await ensureManagementPort(portInit), made, 'idempotent');
    management = { port: portInit.port, address: MGMT_ADDRESS, mac: made.mac, brokerPort: BROKER_PORT };
    // What arrives at the host end of the management port, counted at its ingress: the allowed connections
    // (dev1 to the broker, dev2's answers from its HTTP port) and any other IPv4 (which must stay at 0).
    await run('nft', ['-f', '-'], { input: hostCounters(nftTable(lab), portInit.hostInterface) });
    for (const [port, list] of [[BROKER_PORT, accepted.broker], [OTHER_PORT, accepted.other]] as const) {
      const listener = createServer((socket) => {
        list.push(socket.remoteAddress ?? '?');
        socket.end(`listener ${port}\n`);
      });
      await new Promise<void>((resolve, reject) => listener.once('error', reject).listen(port, MGMT_ADDRESS, resolve));
      listeners.push(listener);
    }
    const www = `/tmp/${lab.prefix}-www`;
    mkdirSync(www, { recursive: true });
    writeFileSync(join(www, 'index.html'), 'device status page\n');
    const serverWww = `/tmp/${lab.prefix}-srv`;
    mkdirSync(serverWww, { recursive: true });
    writeFileSync(join(serverWww, 'index.html'), 'hello from the server\n');
    lab.spawn(server, ['busybox', 'httpd', '-f', '-p', '80', '-h', serverWww]);
    await addDevice('dev1', 1, { management: { broker: true, tcpPorts: [] } }); // MQTT: connects to the broker
    await addDevice('dev2', 2, { management: { broker: false, tcpPorts: [HTTP_PORT] } }); // HTTP: polled on 8080
    await addDevice('dev3', 3, {}); // no interface registered
    for (const id of ['dev1', 'dev2', 'dev3']) {
      for (const port of [HTTP_PORT, 22]) lab.spawn(ns.get(id)!, ['busybox', 'httpd', '-f', '-p', String(port), '-h', www]);
      await lab.exec(ns.get(id)!, ['nft', '-f', '-'], { input: COUNTERS });
    }
    await lab.exec(server, ['nft', '-f', '-'], { input: COUNTERS });
    // A stranger on a port no registration names.
    const stranger = await lab.addNamespace('x');
    await lab.hostVeth(lab.name('x'), stranger, 'eth0', `${STRANGER_ADDRESS}/24`);
    await sw.addPorts([lab.name('x')]);
    ns.set('stranger', stranger);
    reconciler = new Reconciler({
      switch: sw, runtime, uplinkPort: lab.name('u'), resyncMs: 300, portPool: 0, warmPool: 0, standbyLimit: 0,
      onPass: (result, error) => {
        const problem = error?.message ?? (result.errors.length > 0 ? result.errors.join('; ') : null);
        if (problem !== null) passProblems.push(problem.slice(0, 300));
        if (passProblems.length > 10) passProblems.shift();
      },
    });
    reconciler.start();
  });

  after(async () => {
    try {
      await reconciler?.stop();
      if (reconciler !== undefined) {
        reconciler.setDesired({ nodeId, devices: [] });
        await reconciler.reconcileOnce().catch(() => undefined);
      }
      for (const umbox of await runtime.list(nodeId).catch(() => [])) await runtime.remove(umbox.name);
      for (const listener of listeners) listener.close();
    } finally {
      await run('nft', ['delete', 'table', 'netdev', nftTable(lab)], { allowFailure: true });
      if (portInit !== undefined) await removeManagementPort(portInit).catch(() => undefined);
      await sw?.deleteBridge().catch(() => undefined);
      await lab.destroy();
      await releaseFacilities(available);
    }
  });

  /** checkPath runs every check of the management path in the devices' current state. */
  async function checkPath(state: string): Promise<void> {
    const [dev1, dev2, dev3, stranger] = ['dev1', 'dev2', 'dev3', 'stranger'].map((id) => ns.get(id)!);
    // A broker device reaches the broker port; an HTTP device answers the gateway's polls.
    assert.match(await ncFrom(lab, dev1!, MGMT_ADDRESS, BROKER_PORT), /listener 1883/, `${state}: dev1 reaches the broker (${passProblems.join(' | ')})`);
    assert.ok(accepted.broker.includes(deviceAddress(1)));
    assert.match(await poll(deviceAddress(2), HTTP_PORT, MGMT_ADDRESS), /device status page/, `${state}: the gateway polls dev2`);
    const brokerBefore = accepted.broker.length;
    const otherBefore = accepted.other.length;
    const rxBefore = hostRxPackets(portInit.hostInterface);
    const forbiddenBefore = await hostCounter(nftTable(lab), 'forbidden');
    // Nothing else: other ports of the management address, other ports of the devices, other devices.
    assert.equal(await ncFrom(lab, dev1!, MGMT_ADDRESS, OTHER_PORT), '', `${state}: dev1 cannot reach another port of the management address`);
    assert.equal(await ncFrom(lab, dev2!, MGMT_ADDRESS, BROKER_PORT), '', `${state}: an HTTP device does not reach the broker`);
    assert.equal(await ncFrom(lab, dev3!, MGMT_ADDRESS, BROKER_PORT), '', `${state}: a device without management gets nothing`);
    assert.equal(await ncFrom(lab, stranger!, MGMT_ADDRESS, BROKER_PORT), '', `${state}: an unknown device gets nothing`);
    assert.equal(await poll(deviceAddress(2), 22, MGMT_ADDRESS), '', `${state}: the gateway reaches no other port of dev2`);
    assert.equal(await poll(deviceAddress(1), HTTP_PORT, MGMT_ADDRESS), '', `${state}: nor a port dev1 did not register`);
    assert.equal(await poll(deviceAddress(3), HTTP_PORT, MGMT_ADDRESS), '', `${state}: nor a device without management`);
    // Spoofing: dev2 sending as dev1 (a broker device) does not reach the broker.
    await lab.exec(dev2!, ['ip', 'addr', 'replace', `${deviceAddress(1)}/32`, 'dev', 'eth0']);
    assert.equal(await ncFrom(lab, dev2!, MGMT_ADDRESS, BROKER_PORT, deviceAddress(1)), '', `${state}: dev2 cannot reach the broker as dev1`);
    await lab.exec(dev2!, ['ip', 'addr', 'del', `${deviceAddress(1)}/32`, 'dev', 'eth0']);
    // Through the management port to another device and the uplink: routed via the management address.
    const dev3Before = await counter(lab, dev3!, 'probe-in');
    const serverBefore = await counter(lab, server, 'probe-in');
    await lab.exec(dev1!, ['ip', 'route', 'replace', `${deviceAddress(3)}/32`, 'via', MGMT_ADDRESS]);
    await lab.exec(dev1!, ['ip', 'route', 'replace', `${SERVER_ADDRESS}/32`, 'via', MGMT_ADDRESS]);
    try {
      for (const target of [deviceAddress(3), SERVER_ADDRESS]) await lab.exec(dev1!, ['node', '-e', PROBES, target, '100'], { timeoutMs: 10_000 });
    } finally {
      await lab.exec(dev1!, ['ip', 'route', 'del', `${deviceAddress(3)}/32`]);
      await lab.exec(dev1!, ['ip', 'route', 'del', `${SERVER_ADDRESS}/32`]);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await counter(lab, dev3!, 'probe-in') - dev3Before, 0, `${state}: nothing reached dev3 through the management address`);
    if (state === 'quarantine') assert.equal(await counter(lab, server, 'probe-in') - serverBefore, 0, `${state}: nothing reached the server`);
    // What reached the host end of the management port meanwhile: ARP and refused SYNs' answers at most, never the probes.
    const rx = hostRxPackets(portInit.hostInterface) - rxBefore;
    assert.ok(rx < 20, `${state}: ${rx} frames reached the management interface during the forbidden attempts (200 probes were sent through it)`);
    assert.equal(await hostCounter(nftTable(lab), 'forbidden') - forbiddenBefore, 0, `${state}: no IPv4 but the allowed connections reached the management interface`);
    assert.ok(await hostCounter(nftTable(lab), 'allowed-broker') > 0 && await hostCounter(nftTable(lab), 'allowed-http') > 0, 'the allowed connections were counted');
    assert.equal(accepted.broker.length, brokerBefore, `${state}: no forbidden connection reached the broker`);
    assert.equal(accepted.other.length, otherBefore, `${state}: nothing reached the other listener`);
  }

  test('allow: the management path passes exactly what is allowed', async () => {
    const generation = setPlans({ state: 'normal', verdict: 'allow' });
    for (const id of ['dev1', 'dev2', 'dev3']) await reconciler.waitForGeneration(id, generation.get(id)!, 30_000);
    // The switch prints management, report and meter flows as the planner writes them: a full pass converges.
    await reconciler.reconcileOnce();
    const again = await reconciler.reconcileOnce();
    assert.deepEqual([again.flowsAdded, again.flowsRemoved], [0, 0], 'a full pass over the converged switch changes nothing');
    await checkPath('allow');
  });

  test('chain: the same, while the device\'s other traffic goes through its μmbox', async () => {
    const monitor = manifest.images.monitor;
    assert.ok(monitor);
    const generation = setPlans({ state: 'suspicious', chain: [{ image: 'monitor', digest: monitor.digest, config: { LOGIN_PORT: '22', MAX_CONNECTIONS: '5' } }] });
    for (const id of ['dev1', 'dev2', 'dev3']) await reconciler.waitForGeneration(id, generation.get(id)!, 60_000);
    assert.equal(reconciler.reportFor('dev1')?.enforcement, 'chain');
    await checkPath('chain');
  });

  test('quarantine: the gateway still reaches its devices, and nothing else passes', async () => {
    const generation = setPlans({ state: 'attack', verdict: 'quarantine' });
    for (const id of ['dev1', 'dev2', 'dev3']) await reconciler.waitForGeneration(id, generation.get(id)!, 30_000);
    await checkPath('quarantine');
  });

  test('a device registered before it is plugged in starts no μmbox, and works once its port appears', async () => {
    const monitor = manifest.images.monitor;
    assert.ok(monitor);
    const port = lab.name('d4');
    devices.set('dev4', { id: 'dev4', port, addresses: [deviceAddress(4)], plan: { state: 'normal', generation: 1, chain: [{ image: 'monitor', digest: monitor.digest, config: { LOGIN_PORT: '22', MAX_CONNECTIONS: '5' } }] } });
    handOver();
    await reconciler.waitFor('dev4', (report) => report.enforcement === 'quarantine' && /not plugged in yet/.test(report.reason ?? ''), 30_000);
    const passes = reconciler.passes;
    assert.ok(await pollUntil(() => reconciler.passes >= passes + 5, 30_000, 50), 'five more passes');
    assert.deepEqual((await runtime.list(nodeId)).filter((umbox) => umbox.deviceId === 'dev4'), [], 'no μmbox for the unplugged device');
    const space = await lab.addNamespace('d4');
    await lab.hostVeth(port, space, 'eth0', `${deviceAddress(4)}/24`);
    reconciler.interfacesChanged();
    await reconciler.waitForGeneration('dev4', 1, 60_000);
    assert.match(await ncFrom(lab, space, SERVER_ADDRESS, 80, undefined, 'GET / HTTP/1.0\r\n\r\n'), /hello/, 'dev4 reaches the server through its chain');
  });

  test('two gateways on one host, management addresses in one subnet: each reaches its own devices from its own address', async () => {
    const other = new OvsSwitch({ bridge: lab.name('b2'), ovsDir: portInit.ovsDir });
    const otherInit: ManagementPortInit = { ...portInit, bridge: other.bridge, port: lab.name('m2'), hostInterface: lab.name('h2'), address: OTHER_GATEWAY_ADDRESS };
    const otherReconciler = new Reconciler({ switch: other, runtime: new MemoryUmboxRuntime(), uplinkPort: lab.name('u2'), portPool: 0, warmPool: 0 });
    try {
      await other.ensureBridge();
      const made = await ensureManagementPort(otherInit);
      await lab.hostVeth(lab.name('u2'), await lab.addNamespace('up2'), 'up0', null); // the second gateway's uplink (to nowhere)
      const space = await lab.addNamespace('e1');
      await lab.hostVeth(lab.name('e1'), space, 'eth0', `${deviceAddress(21)}/24`);
      lab.spawn(space, ['busybox', 'httpd', '-f', '-p', String(HTTP_PORT), '-h', `/tmp/${lab.prefix}-www`]);
      otherReconciler.setDesired({
        nodeId: `${nodeId}-2`, management: { port: otherInit.port, address: OTHER_GATEWAY_ADDRESS, mac: made.mac, brokerPort: BROKER_PORT },
        devices: [{ id: 'far', port: lab.name('e1'), addresses: [deviceAddress(21)], plan: { state: 'normal', generation: 1, verdict: 'allow' }, management: { broker: false, tcpPorts: [HTTP_PORT] } }],
      });
      await otherReconciler.reconcileOnce();
      assert.equal(otherReconciler.reportFor('far')?.appliedGeneration, 1);
      assert.match(await poll(deviceAddress(21), HTTP_PORT, OTHER_GATEWAY_ADDRESS), /device status page/, 'the second gateway polls its device');
      assert.match(await poll(deviceAddress(2), HTTP_PORT, MGMT_ADDRESS), /device status page/, 'the first gateway still polls its own');
      assert.equal(await poll(deviceAddress(21), HTTP_PORT, MGMT_ADDRESS), '', 'the first gateway cannot poll the second\'s device');
      assert.equal(await poll(deviceAddress(2), HTTP_PORT, OTHER_GATEWAY_ADDRESS), '', 'nor the second the first\'s');
    } finally {
      await removeManagementPort(otherInit).catch(() => undefined);
      await other.deleteBridge().catch(() => undefined);
    }
    const rules = await run('ip', ['rule', 'show']);
    assert.ok(!rules.stdout.includes(`from ${OTHER_GATEWAY_ADDRESS} `), 'the teardown removed its source rule');
  });
});

/** COUNTERS count UDP probes (port 9999) arriving in a namespace. */
const COUNTERS = `table inet qgtest {
  chain input {
    type filter hook input priority 0; policy accept;
    udp dport 9999 counter comment "probe-in"
  }
}
`;

/** PROBES sends argv[2] UDP datagrams to argv[1]:9999. */
const PROBES = `
const socket = require('node:dgram').createSocket('udp4');
const [target, count] = [process.argv[1], Number(process.argv[2])];
let sent = 0;
const next = () => { if (sent++ >= count) { socket.close(); return; } socket.send(Buffer.from('probe'), 9999, target, () => setTimeout(next, 2)); };
next();
`;

async function counter(lab: Lab, space: string, comment: string): Promise<number> {
  const { stdout } = await lab.exec(space, ['nft', 'list', 'table', 'inet', 'qgtest']);
  const match = new RegExp(`counter packets (\\d+) bytes \\d+ comment "${comment}"`).exec(stdout);
  assert.ok(match, `counter ${comment} in ${stdout}`);
  return Number(match[1]);
}

/** ncFrom connects from a namespace (optionally from `source`) and returns what it read ('' when nothing). */
async function ncFrom(lab: Lab, space: string, address: string, port: number, source?: string, input = ''): Promise<string> {
  await lab.exec(space, ['ip', 'neigh', 'flush', 'all'], { allowFailure: true });
  const argv = ['busybox', 'nc', '-w', '2', ...(source === undefined ? [] : ['-s', source]), address, String(port)];
  return (await lab.exec(space, argv, { allowFailure: true, timeoutMs: 8_000, input })).stdout;
}

/** poll is the gateway's HTTP poll: from its management address, as its adapters bind. '' when nothing answers. */
function poll(address: string, port: number, localAddress: string): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const socket = connect({ host: address, port, localAddress, timeout: 2_000 });
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('GET / HTTP/1.0\r\n\r\n'));
    socket.on('data', (chunk: string) => { text += chunk; });
    socket.on('timeout', () => socket.destroy());
    socket.on('error', () => resolve(''));
    socket.on('close', () => resolve(text));
  });
}

/** nftTable names the lab's counting table on the host (netdev family, bound to the management interface). */
function nftTable(lab: Lab): string {
  return `qgmgmt${lab.prefix}`;
}

function hostCounters(table: string, device: string): string {
  return `table netdev ${table} {
  chain ingress {
    type filter hook ingress device "${device}" priority 0; policy accept;
    ip saddr ${deviceAddress(1)} tcp dport ${BROKER_PORT} counter accept comment "allowed-broker"
    ip saddr ${deviceAddress(2)} tcp sport ${HTTP_PORT} counter accept comment "allowed-http"
    meta protocol ip counter comment "forbidden"
  }
}
`;
}

async function hostCounter(table: string, comment: string): Promise<number> {
  const { stdout } = await run('nft', ['list', 'table', 'netdev', table]);
  const match = new RegExp(`counter packets (\\d+) bytes \\d+ (?:accept )?comment "${comment}"`).exec(stdout);
  assert.ok(match, `counter ${comment} in ${stdout}`);
  return Number(match[1]);
}

function hostRxPackets(name: string): number {
  return Number(readFileSync(`/sys/class/net/${name}/statistics/rx_packets`, 'utf8').trim());
}
