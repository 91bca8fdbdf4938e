// planner.test.ts — goal: the desired data plane is a pure, deterministic function of the agreed state:
// every chain is steered in declared order both ways, allow and quarantine are what they say, every
// device flow carries its device and generation in the cookie, names fit Linux and Docker limits, and
// bad input is quarantined (per device) or rejected (whole input) with a message naming what was wrong;
// the management path passes exactly what docs/devices.md allows, in every state, and nothing else;
// foreign sources and unknown ports are reported, the uplink, μmbox and management ports never.
// Method: table tests over planDataplane, plus a walker that follows a packet through the planned flows
// (crossing each μmbox from eth1 to eth2 or back) to check the path a packet really takes, and a
// classifier that picks the highest-priority flow matching a packet among all of a node's flows.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { assignDeviceNumbers, cookieOf, planDataplane, splitCookie, umboxName, umboxOwner, ownsUmbox, umboxPorts, unknownPortFlows } from '../../src/dataplane/planner.js';
import { DEVICE_FLOW_PRIORITY, DEVICE_REPORT_PRIORITY, MANAGEMENT_FLOW_PRIORITY, MANAGEMENT_GUARD_PRIORITY, UNKNOWN_PORT_REPORT_PRIORITY } from '../../src/dataplane/constants.js';
import { DataplaneError } from '../../src/dataplane/errors.js';
import type { DesiredDataplane, DesiredDevice, DesiredInput, FlowSpec, ImagePin, NodeManagement, PlannedDevice } from '../../src/dataplane/types.js';

const UPLINK = 'uplink0';
const digest = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const pin = (image: string): ImagePin => ({ image, digest: digest(image) });

function device(id: string, index: number, plan: DesiredDevice['plan']): DesiredDevice {
  return { id, port: `dev${index}`, addresses: [`10.0.0.${index}`], plan };
}

function only(input: DesiredInput): PlannedDevice {
  const plan = planDataplane(input, { uplinkPort: UPLINK });
  assert.equal(plan.devices.length, 1);
  const first = plan.devices[0];
  assert.ok(first);
  return first;
}

/**
 * walk follows a packet entering at `port` (match text as it would be matched: "ip,nw_src=…") through
 * the flows; a μmbox is crossed from its in-port to its out-port or back. Returns the ports visited.
 */
function walk(planned: PlannedDevice, port: string, packet: string[]): string[] {
  const crossings = new Map<string, string>();
  for (const umbox of planned.umboxes) {
    crossings.set(umbox.inPort, umbox.outPort);
    crossings.set(umbox.outPort, umbox.inPort);
  }
  const visited = [port];
  let here = port;
  for (let hop = 0; hop < 20; hop++) {
    const flow = planned.flows.find((one: FlowSpec) => one.inPort === here && (one.match === '' || one.match.split(',').every((field) => packet.includes(field))));
    if (flow === undefined || flow.output === null) return [...visited, 'drop'];
    visited.push(flow.output);
    const crossed = crossings.get(flow.output);
    if (crossed === undefined) return visited;
    visited.push(crossed);
    here = crossed;
  }
  throw new Error(`loop in flows from ${port}`);
}

describe('planDataplane', () => {
  test('a chain is traversed in declared order from the device, and in reverse towards it', () => {
    const planned = only({ nodeId: 'n1', devices: [device('cam', 1, { state: 'normal', generation: 7, chain: [pin('monitor'), pin('firewall'), pin('rate-limit')] })] });
    const [m0, m1, m2] = planned.umboxes;
    assert.ok(m0 && m1 && m2);
    assert.deepEqual(planned.umboxes.map((umbox) => [umbox.position, umbox.image]), [[0, 'monitor'], [1, 'firewall'], [2, 'rate-limit']]);
    assert.deepEqual(walk(planned, 'dev1', ['ip', 'nw_src=10.0.0.1']), ['dev1', m0.inPort, m0.outPort, m1.inPort, m1.outPort, m2.inPort, m2.outPort, UPLINK]);
    assert.deepEqual(walk(planned, UPLINK, ['ip', 'nw_dst=10.0.0.1']), [UPLINK, m2.outPort, m2.inPort, m1.outPort, m1.inPort, m0.outPort, m0.inPort, 'dev1']);
    assert.deepEqual(walk(planned, UPLINK, ['arp', 'arp_tpa=10.0.0.1']).at(-1), 'dev1', 'ARP for the device reaches it through the chain');
  });

  test('traffic from the device must carry its own address (no spoofing), and the uplink only reaches its addresses', () => {
    const planned = only({ nodeId: 'n1', devices: [device('cam', 1, { state: 'normal', generation: 1, chain: [pin('monitor')] })] });
    assert.deepEqual(walk(planned, 'dev1', ['ip', 'nw_src=10.0.0.99']), ['dev1', 'drop']);
    assert.deepEqual(walk(planned, 'dev1', ['arp', 'arp_spa=10.0.0.99']), ['dev1', 'drop']);
    assert.deepEqual(walk(planned, 'dev1', ['ipv6']), ['dev1', 'drop']);
    assert.deepEqual(walk(planned, UPLINK, ['ip', 'nw_dst=10.0.0.2']), [UPLINK, 'drop']);
  });

  test('allow passes straight between device and uplink; quarantine drops both ways', () => {
    const allow = only({ nodeId: 'n1', devices: [device('cam', 1, { state: 'trusted', generation: 2, verdict: 'allow' })] });
    assert.equal(allow.enforcement, 'allow');
    assert.deepEqual(allow.umboxes, []);
    assert.deepEqual(walk(allow, 'dev1', ['ip', 'nw_src=10.0.0.1']), ['dev1', UPLINK]);
    assert.deepEqual(walk(allow, UPLINK, ['ip', 'nw_dst=10.0.0.1']), [UPLINK, 'dev1']);
    const quarantined = only({ nodeId: 'n1', devices: [device('cam', 1, { state: 'attack', generation: 3, verdict: 'quarantine' })] });
    assert.equal(quarantined.enforcement, 'quarantine');
    assert.ok(quarantined.flows.every((flow) => flow.output === null), 'every quarantine flow drops');
    assert.deepEqual(walk(quarantined, 'dev1', ['ip', 'nw_src=10.0.0.1']), ['dev1', 'drop']);
    assert.deepEqual(walk(quarantined, UPLINK, ['ip', 'nw_dst=10.0.0.1']), [UPLINK, 'drop']);
    assert.deepEqual(walk(quarantined, UPLINK, ['arp', 'arp_tpa=10.0.0.1']), [UPLINK, 'drop']);
  });

  test('a device without a plan is quarantined at generation 0', () => {
    const planned = planDataplane({ nodeId: 'n1', devices: [device('cam', 1, null)] }, { uplinkPort: UPLINK });
    const only = planned.devices[0];
    assert.ok(only);
    assert.equal(only.enforcement, 'quarantine');
    assert.equal(only.generation, 0);
    assert.deepEqual(only.flows.map((flow) => [flow.inPort, flow.match, flow.output]), [['dev1', '', null]]);
    assert.match(planned.problems[0]?.message ?? '', /no plan yet/);
  });

  test('every device flow carries cookie (device number << 32 | generation); the base flow drops everything else', () => {
    const plan = planDataplane({ nodeId: 'n1', devices: [
      device('a', 1, { state: 'normal', generation: 5, chain: [pin('monitor')] }),
      device('b', 2, { state: 'normal', generation: 9, verdict: 'allow' }),
    ] }, { uplinkPort: UPLINK });
    for (const planned of plan.devices) {
      for (const flow of [...planned.flows, ...planned.quarantineFlows]) {
        assert.deepEqual(splitCookie(flow.cookie), { deviceNumber: planned.deviceNumber, generation: planned.generation });
      }
    }
    assert.deepEqual(plan.baseFlows, [{ cookie: 0n, priority: 0, inPort: '', match: '', output: null }]);
    assert.equal(cookieOf(0xffff_ffff, 0xffff_ffff), 0xffff_ffff_ffff_ffffn);
    assert.deepEqual(splitCookie(cookieOf(0x1234_5678, 42)), { deviceNumber: 0x1234_5678, generation: 42 });
  });

  test('names are deterministic, unique per (node, device, content, occurrence) and fit Linux and Docker limits', () => {
    const input: DesiredInput = { nodeId: 'gateway-a', devices: [device('cam', 1, { state: 'normal', generation: 4, chain: [pin('monitor'), pin('monitor')] })] };
    const first = only(input);
    const again = only(structuredClone(input));
    assert.deepEqual(first, again, 'same input, same plan');
    const names = first.umboxes.map((umbox) => umbox.name);
    assert.equal(new Set(names).size, 2, 'the same image twice in a chain gives two containers');
    for (const umbox of first.umboxes) {
      assert.match(umbox.name, /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/);
      assert.ok(umbox.inPort.length <= 15 && umbox.outPort.length <= 15, 'interface names fit IFNAMSIZ');
      assert.deepEqual(umboxPorts(umbox.name), { inPort: umbox.inPort, outPort: umbox.outPort });
    }
    const d = digest('monitor');
    assert.notEqual(umboxName('gateway-a', 1, 'monitor', d, {}, 0), umboxName('gateway-b', 1, 'monitor', d, {}, 0), 'nodes do not share names');
    assert.notEqual(umboxName('gateway-a', 1, 'monitor', d, {}, 0), umboxName('gateway-a', 2, 'monitor', d, {}, 0), 'devices do not share names');
    assert.notEqual(umboxName('gateway-a', 1, 'monitor', d, {}, 0), umboxName('gateway-a', 1, 'monitor', digest('other'), {}, 0), 'digests do not share names');
    assert.notEqual(umboxName('gateway-a', 1, 'monitor', d, { A: '1' }, 0), umboxName('gateway-a', 1, 'monitor', d, { A: '2' }, 0), 'configs do not share names');
    assert.equal(umboxName('gateway-a', 1, 'monitor', d, { A: '1', B: '2' }, 0), umboxName('gateway-a', 1, 'monitor', d, { B: '2', A: '1' }, 0), 'config order does not matter');
  });

  test('a node\'s μmbox owner is its member id scoped by its cluster: clusters sharing an engine never share names', () => {
    const a = umboxOwner('n1', 'a'.repeat(64));
    const b = umboxOwner('n1', 'b'.repeat(64));
    assert.equal(a, `n1.${'a'.repeat(12)}`);
    assert.notEqual(umboxName(a, 1, 'monitor', digest('monitor'), {}, 0), umboxName(b, 1, 'monitor', digest('monitor'), {}, 0), 'the same device of n1 in two clusters');
    assert.equal(umboxOwner('n1', 'a'.repeat(64)), a, 'deterministic: a restarted node adopts its containers');
    for (const [member, cluster] of [['', 'a'.repeat(64)], ['n1.x', 'a'.repeat(64)], ['n1', 'abc'], ['n1', 'A'.repeat(64)], ['n1', 'z'.repeat(64)]] as const) {
      assert.throws(() => umboxOwner(member, cluster), (error: unknown) => error instanceof DataplaneError && error.code === 'bad_input' && /umboxOwner/.test(error.message), `${member} / ${cluster}`);
    }
  });

  test('a node owns its scoped containers and the unscoped ones of its member id from before scoping (upgrade in place), no other cluster\'s', () => {
    const owner = umboxOwner('n1', 'a'.repeat(64));
    assert.equal(ownsUmbox(owner, owner), true, 'its own');
    assert.equal(ownsUmbox(owner, 'n1'), true, 'its member id unscoped: a container started before 2026-12-07, removed as unplanned');
    assert.equal(ownsUmbox(owner, umboxOwner('n1', 'b'.repeat(64))), false, 'n1 of another cluster');
    assert.equal(ownsUmbox(owner, 'n2'), false, 'another member');
    assert.equal(ownsUmbox(owner, 'n11'), false, 'a member id with the same prefix');
    assert.equal(ownsUmbox(owner, ''), false, 'an unlabelled container');
    assert.equal(ownsUmbox('contract-node', 'contract-node'), true, 'an unscoped owner owns exactly its label');
    assert.equal(ownsUmbox('contract-node', 'contract'), false);
  });

  test('a μmbox keeps its name across generations and states, so a plan that keeps it keeps its container', () => {
    const before = only({ nodeId: 'gateway-a', devices: [device('cam', 1, { state: 'normal', generation: 4, chain: [pin('monitor'), pin('firewall')] })] });
    const after = only({ nodeId: 'gateway-a', devices: [device('cam', 1, { state: 'suspicious', generation: 5, chain: [pin('firewall'), pin('rate-limit')] })] });
    assert.equal(after.umboxes[0]?.name, before.umboxes[1]?.name, 'the firewall is the same container in both chains');
    assert.notEqual(after.umboxes[1]?.name, before.umboxes[0]?.name);
  });

  describe('standby μmboxes', () => {
    const standbyDevice = (id: string, index: number, priority: number | undefined, chains: ImagePin[][]): DesiredDevice => ({
      ...device(id, index, { state: 'normal', generation: 2, chain: [pin('monitor')] }),
      standby: chains.map((chain, n) => ({ state: `target-${n}`, chain })),
      ...(priority === undefined ? {} : { standbyPriority: priority }),
    });

    test('a standby μmbox is the very μmbox the target chain names, and no flow references it', () => {
      const planned = only({ nodeId: 'n', devices: [standbyDevice('cam', 1, undefined, [[pin('block-all')], [pin('monitor'), pin('rate-limit')]])] });
      assert.deepEqual(planned.standby.map((umbox) => umbox.image), ['block-all', 'rate-limit'], 'the monitor already runs in the current chain');
      const moved = only({ nodeId: 'n', devices: [device('cam', 1, { state: 'attack', generation: 3, chain: [pin('block-all')] })] });
      assert.equal(moved.umboxes[0]?.name, planned.standby[0]?.name);
      const standbyPorts = new Set(planned.standby.flatMap((umbox) => [umbox.inPort, umbox.outPort]));
      for (const flow of [...planned.flows, ...planned.quarantineFlows]) {
        assert.ok(!standbyPorts.has(flow.inPort) && !standbyPorts.has(flow.output ?? ''), `flow ${flow.inPort} → ${flow.output ?? "drop"} does not touch a standby port`);
      }
      assert.ok(planned.standby.every((umbox) => umbox.generation === 2 && umbox.deviceId === 'cam'));
    });

    test('the node limit takes whole chains, higher priority first, then by id; what it leaves out is counted', () => {
      const input: DesiredInput = { nodeId: 'n', devices: [
        standbyDevice('a', 1, 0, [[pin('block-all')]]),
        standbyDevice('b', 2, 1, [[pin('rate-limit'), pin('firewall')], [pin('block-all')]]),
        standbyDevice('c', 3, 0, [[pin('block-all')]]),
      ] };
      const plan = planDataplane(input, { uplinkPort: UPLINK, standbyLimit: 3 });
      const byId = new Map(plan.devices.map((one) => [one.deviceId, one.standby.map((umbox) => umbox.image)]));
      assert.deepEqual([...byId], [['a', []], ['b', ['rate-limit', 'firewall', 'block-all']], ['c', []]], 'b has the higher priority');
      assert.equal(plan.standbyLeftOut, 2, "a's block-all and c's");
      const one = planDataplane(input, { uplinkPort: UPLINK, standbyLimit: 1 });
      assert.deepEqual(one.devices.map((planned) => planned.standby.map((umbox) => umbox.image)), [[], ['block-all'], []],
        'a chain that does not fit is left out whole; a later, smaller one still fits');
      assert.equal(one.standbyLeftOut, 4);
      assert.equal(planDataplane(input, { uplinkPort: UPLINK, standbyLimit: 0 }).devices.flatMap((one) => one.standby).length, 0, 'limit 0 turns standby off');
      assert.equal(planDataplane(input, { uplinkPort: UPLINK }).standbyLeftOut, 0, 'the default limit fits a few devices');
      assert.throws(() => planDataplane(input, { uplinkPort: UPLINK, standbyLimit: 100_000 }), /PlannerOptions.standbyLimit: expected an integer from 0 to 256/);
    });

    test('a malformed standby chain is skipped, a quarantined device gets no standby, and its plan is unaffected', () => {
      const bad = { ...standbyDevice('cam', 1, undefined, [[{ image: '../x', digest: digest('x') }], [pin('block-all')]]) };
      const planned = only({ nodeId: 'n', devices: [bad] });
      assert.equal(planned.enforcement, 'chain');
      assert.deepEqual(planned.standby.map((umbox) => umbox.image), ['block-all']);
      const problem = only({ nodeId: 'n', devices: [{ ...bad, addresses: [] }] });
      assert.deepEqual(problem.standby, []);
    });
  });

  test('device numbers do not depend on input order, and a 32-bit collision is resolved deterministically', () => {
    // Find two ids whose SHA-256 start with the same 32 bits (a birthday search over ~2^16 ids).
    const seen = new Map<string, string>();
    let pair: [string, string] | null = null;
    for (let index = 0; pair === null && index < 400_000; index++) {
      const id = `device-${index}`;
      const prefix = createHash('sha256').update(id).digest('hex').slice(0, 8);
      const other = seen.get(prefix);
      if (other !== undefined) pair = [other, id];
      seen.set(prefix, id);
    }
    assert.ok(pair, 'a colliding pair exists in the search range');
    const sorted = [...pair].sort();
    const numbers = assignDeviceNumbers(sorted);
    const [low, high] = sorted.map((id) => numbers.get(id));
    assert.ok(low !== undefined && high !== undefined);
    assert.equal(high, low + 1, 'the later id takes the next number');
    const forward = planDataplane({ nodeId: 'n', devices: [device(pair[0], 1, null), device(pair[1], 2, null)] }, { uplinkPort: UPLINK });
    const backward = planDataplane({ nodeId: 'n', devices: [device(pair[1], 2, null), device(pair[0], 1, null)] }, { uplinkPort: UPLINK });
    assert.deepEqual(forward.devices.map((one) => [one.deviceId, one.deviceNumber]), backward.devices.map((one) => [one.deviceId, one.deviceNumber]));
  });

  describe('bad input', () => {
    const cases: Array<[string, DesiredDevice, RegExp]> = [
      ['port with a slash', { ...device('x', 1, null), port: 'a/b' }, /port: expected an interface name .* got "a\/b"/],
      ['port longer than 15 characters', { ...device('x', 1, null), port: 'p'.repeat(16) }, /port: expected an interface name/],
      ['port named like a μmbox port', { ...device('x', 1, null), port: 'qm0123456789i' }, /has the form of a μmbox port/],
      ['no addresses', { ...device('x', 1, null), addresses: [] }, /addresses: expected 1 to 16 IPv4 \(and MAC\) addresses, got \[\]/],
      ['not IPv4', { ...device('x', 1, null), addresses: ['fe80::1'] }, /expected dotted-quad IPv4 or colon-separated MAC addresses, got "fe80::1"/],
      ['leading zero', { ...device('x', 1, null), addresses: ['10.0.0.01'] }, /got "10.0.0.01"/],
      ['generation 0', device('x', 1, { state: 's', generation: 0, verdict: 'allow' }), /plan.generation: expected an integer from 1 to 4294967295, got 0/],
      ['generation beyond 32 bits', device('x', 1, { state: 's', generation: 2 ** 32, verdict: 'allow' }), /plan.generation: expected an integer/],
      ['unknown verdict', device('x', 1, { state: 's', generation: 1, verdict: 'maybe' as 'allow' }), /plan.verdict: expected "allow" or "quarantine", got "maybe"/],
      ['empty chain', device('x', 1, { state: 's', generation: 1, chain: [] }), /plan.chain: expected 1 to 8 images/],
      ['bad digest', device('x', 1, { state: 's', generation: 1, chain: [{ image: 'monitor', digest: 'sha256:abc' }] }), /plan.chain\[0\].digest: expected "sha256:" and 64 hex digits, got "sha256:abc"/],
      ['bad image name', device('x', 1, { state: 's', generation: 1, chain: [{ image: '../etc', digest: digest('x') }] }), /plan.chain\[0\].image: expected/],
      ['config key', device('x', 1, { state: 's', generation: 1, chain: [{ ...pin('firewall'), config: { 'allow list': 'x' } }] }), /config: key expected/],
      ['config value with a newline', device('x', 1, { state: 's', generation: 1, chain: [{ ...pin('firewall'), config: { ALLOW: 'a\nb' } }] }), /config.ALLOW: expected one line/],
    ];
    for (const [name, bad, message] of cases) {
      test(`${name}: the device is quarantined and the problem names the field`, () => {
        const plan = planDataplane({ nodeId: 'n', devices: [bad] }, { uplinkPort: UPLINK });
        assert.equal(plan.problems.length, 1);
        assert.match(plan.problems[0]?.message ?? '', message);
        assert.equal(plan.devices[0]?.enforcement, 'quarantine');
        assert.ok(plan.devices[0]?.flows.every((flow) => flow.output === null));
      });
    }

    test('a second device on the same port or address is quarantined, the first keeps its plan', () => {
      const first = device('a', 1, { state: 's', generation: 1, verdict: 'allow' });
      const plan = planDataplane({ nodeId: 'n', devices: [first, { ...device('b', 2, { state: 's', generation: 1, verdict: 'allow' }), port: 'dev1' },
        { ...device('c', 3, { state: 's', generation: 1, verdict: 'allow' }), addresses: ['10.0.0.1'] }] }, { uplinkPort: UPLINK });
      assert.deepEqual(plan.devices.map((one) => [one.deviceId, one.enforcement]), [['a', 'allow'], ['b', 'quarantine'], ['c', 'quarantine']]);
      assert.match(plan.problems.map((problem) => problem.message).join('\n'), /port dev1 is already the uplink or another device's port[\s\S]*address 10.0.0.1 is already another device's/);
    });

    test('a malformed input as a whole is rejected with a DataplaneError naming the field', () => {
      assert.throws(() => planDataplane({ nodeId: '', devices: [] }, { uplinkPort: UPLINK }),
        (error: unknown) => error instanceof DataplaneError && error.code === 'bad_input' && /DesiredInput.nodeId: expected a non-empty string, got ""/.test(error.message));
      assert.throws(() => planDataplane({ nodeId: 'n', devices: [device('a', 1, null), device('a', 2, null)] }, { uplinkPort: UPLINK }), /unique device ids/);
      assert.throws(() => planDataplane({ nodeId: 'n', devices: [] }, { uplinkPort: 'bad port' }), /PlannerOptions.uplinkPort/);
    });
  });

  describe('the management path', () => {
    const MGMT: NodeManagement = { port: 'qgmgmt', address: '10.0.0.250', brokerPort: 1883 };
    const A = MGMT.address;
    const states: Array<[string, DesiredDevice['plan']]> = [
      ['allow', { state: 'normal', generation: 3, verdict: 'allow' }],
      ['chain', { state: 'suspicious', generation: 3, chain: [pin('monitor'), pin('firewall')] }],
      ['quarantine', { state: 'attack', generation: 3, verdict: 'quarantine' }],
    ];

    /** node plans a node with the management port: a broker device (1), an HTTP device (2), a device without management (3). */
    function node(plan: DesiredDevice['plan'], management: NodeManagement | null = MGMT): DesiredDataplane {
      return planDataplane({
        nodeId: 'n', ...(management === null ? {} : { management }), devices: [
          { ...device('plug', 1, plan), management: { broker: true, tcpPorts: [] } },
          { ...device('lamp', 2, plan), management: { broker: false, tcpPorts: [8080] } },
          device('cam', 3, plan),
        ],
      }, { uplinkPort: UPLINK });
    }

    /** verdict is where the highest-priority flow matching the packet sends it: a port, 'drop' or 'report'. */
    function verdict(plan: DesiredDataplane, inPort: string, packet: string[]): string {
      const flows = [...plan.baseFlows, ...plan.devices.flatMap((one) => [...one.flows, ...one.managementFlows])];
      const fields = packet.includes('tcp') ? ['ip', ...packet] : packet;
      let best: FlowSpec | undefined;
      for (const flow of flows) {
        if (flow.inPort !== '' && flow.inPort !== inPort) continue;
        if (flow.match !== '' && !flow.match.split(',').every((field) => fields.includes(field))) continue;
        if (best === undefined || flow.priority > best.priority) best = flow;
      }
      assert.ok(best, 'the table-miss flow matches everything');
      return best.report === true ? 'report' : best.output ?? 'drop';
    }
    const tcp = (src: string, dst: string, srcPort: number, dstPort: number): string[] => ['tcp', `nw_src=${src}`, `nw_dst=${dst}`, `tp_src=${srcPort}`, `tp_dst=${dstPort}`];
    const arp = (spa: string, tpa: string): string[] => ['arp', `arp_spa=${spa}`, `arp_tpa=${tpa}`];

    for (const [name, plan] of states) {
      test(`${name}: a broker device reaches only the broker port, an HTTP device answers only on its port, ARP both ways, nothing else`, () => {
        const planned = node(plan);
        // The broker device (10.0.0.1) and the broker on the management address.
        assert.equal(verdict(planned, 'dev1', arp('10.0.0.1', A)), MGMT.port);
        assert.equal(verdict(planned, MGMT.port, arp(A, '10.0.0.1')), 'dev1');
        assert.equal(verdict(planned, 'dev1', tcp('10.0.0.1', A, 40000, 1883)), MGMT.port);
        assert.equal(verdict(planned, MGMT.port, tcp(A, '10.0.0.1', 1883, 40000)), 'dev1');
        assert.equal(verdict(planned, 'dev1', tcp('10.0.0.1', A, 40000, 22)), 'drop', 'no other port of the management address');
        assert.equal(verdict(planned, 'dev1', ['udp', 'ip', 'nw_src=10.0.0.1', `nw_dst=${A}`, 'tp_dst=1883']), 'drop', 'no UDP');
        assert.equal(verdict(planned, MGMT.port, tcp(A, '10.0.0.1', 40000, 22)), 'drop', 'the gateway cannot open other ports of a broker device');
        // The HTTP device (10.0.0.2, port 8080): polled by the gateway, and its answers back.
        assert.equal(verdict(planned, MGMT.port, tcp(A, '10.0.0.2', 40000, 8080)), 'dev2');
        assert.equal(verdict(planned, 'dev2', tcp('10.0.0.2', A, 8080, 40000)), MGMT.port);
        assert.equal(verdict(planned, 'dev2', tcp('10.0.0.2', A, 40000, 1883)), 'drop', 'an HTTP device does not reach the broker');
        assert.equal(verdict(planned, 'dev2', tcp('10.0.0.2', A, 40000, 8080)), 'drop', 'nor opens connections to the management address');
        assert.equal(verdict(planned, MGMT.port, tcp(A, '10.0.0.2', 40000, 22)), 'drop');
        // Spoofing: a device sending as another towards the management port gets nowhere near it.
        assert.notEqual(verdict(planned, 'dev2', tcp('10.0.0.1', A, 40000, 1883)), MGMT.port);
        assert.notEqual(verdict(planned, 'dev1', arp('10.0.0.2', A)), MGMT.port);
        // A device without management gets nothing from or to the management port.
        assert.notEqual(verdict(planned, 'dev3', arp('10.0.0.3', A)), MGMT.port);
        assert.equal(verdict(planned, MGMT.port, arp(A, '10.0.0.3')), 'drop');
        assert.equal(verdict(planned, MGMT.port, tcp(A, '10.0.0.3', 40000, 80)), 'drop');
        // The management port reaches nothing else: not the uplink, not a device by another address.
        assert.equal(verdict(planned, MGMT.port, tcp(A, '10.0.0.99', 40000, 80)), 'drop');
        assert.equal(verdict(planned, MGMT.port, tcp('10.0.0.77', '10.0.0.1', 1883, 40000)), 'drop', 'only from the management address');
        for (const one of planned.devices) {
          const cookie = cookieOf(one.deviceNumber, one.generation);
          assert.ok(one.managementFlows.every((flow) => flow.cookie === cookie), 'management flows carry the device cookie');
          assert.ok(one.managementFlows.every((flow) => flow.priority > DEVICE_FLOW_PRIORITY), 'above the device flows');
        }
        assert.equal(planned.devices.find((one) => one.deviceId === 'cam')?.managementFlows.length, 0);
      });
    }

    test('no management port, or a device whose registration has a problem: no management flows', () => {
      assert.ok(node(states[0]![1], null).devices.every((one) => one.managementFlows.length === 0));
      const plan = planDataplane({ nodeId: 'n', management: MGMT, devices: [{ ...device('x', 1, null), management: { broker: true, tcpPorts: [] } }] }, { uplinkPort: UPLINK });
      assert.equal(plan.devices[0]?.managementFlows.length, 0, 'no plan yet: no management path');
    });

    test('bad management is rejected (node) or quarantines its device (registration), naming the field', () => {
      const base = { nodeId: 'n', devices: [] };
      assert.throws(() => planDataplane({ ...base, management: { ...MGMT, address: '10.0.0.300' } }, { uplinkPort: UPLINK }), /DesiredInput.management.address: expected a dotted-quad IPv4 address/);
      assert.throws(() => planDataplane({ ...base, management: { ...MGMT, port: UPLINK } }, { uplinkPort: UPLINK }), /DesiredInput.management.port: expected a port other than the uplink/);
      assert.throws(() => planDataplane({ ...base, management: { ...MGMT, brokerPort: 0 } }, { uplinkPort: UPLINK }), /DesiredInput.management.brokerPort: expected an integer from 1 to 65535, got 0/);
      assert.throws(() => planDataplane({ ...base, management: { ...MGMT, mac: 'zz' } }, { uplinkPort: UPLINK }), /DesiredInput.management.mac/);
      const allow: DesiredDevice['plan'] = { state: 's', generation: 1, verdict: 'allow' };
      for (const [bad, message] of [
        [{ broker: 'yes', tcpPorts: [] }, /management.broker: expected true or false/],
        [{ broker: false, tcpPorts: [0] }, /management.tcpPorts: expected at most 16 distinct integers from 1 to 65535, got \[0\]/],
        [{ broker: false, tcpPorts: Array.from({ length: 17 }, (_, i) => i + 1) }, /management.tcpPorts/],
      ] as const) {
        const plan = planDataplane({ nodeId: 'n', management: MGMT, devices: [{ ...device('x', 1, allow), management: bad as unknown as DesiredDevice['management'] }] }, { uplinkPort: UPLINK });
        assert.match(plan.problems[0]?.message ?? '', message);
        assert.equal(plan.devices[0]?.enforcement, 'quarantine');
      }
      const onMgmt = planDataplane({ nodeId: 'n', management: MGMT, devices: [{ ...device('x', 1, allow), port: MGMT.port }, { ...device('y', 2, allow), addresses: [A] }] }, { uplinkPort: UPLINK });
      assert.deepEqual(onMgmt.devices.map((one) => one.enforcement), ['quarantine', 'quarantine'], 'a device on the management port or address is quarantined');
    });

    test('with a management MAC, only frames from it pass from the management port', () => {
      const planned = planDataplane({ nodeId: 'n', management: { ...MGMT, mac: '02:AA:00:00:00:01' }, devices: [{ ...device('plug', 1, states[0]![1]), management: { broker: true, tcpPorts: [] } }] }, { uplinkPort: UPLINK });
      assert.equal(verdict(planned, MGMT.port, ['dl_src=02:aa:00:00:00:01', ...arp(A, '10.0.0.1')]), 'dev1');
      assert.equal(verdict(planned, MGMT.port, ['dl_src=02:bb:00:00:00:01', ...arp(A, '10.0.0.1')]), 'drop');
    });
  });

  describe('sources and reports', () => {
    test('a device registered with a MAC must send from it: its own address from another MAC is reported, not passed', () => {
      const planned = planDataplane({ nodeId: 'n', devices: [{ ...device('cam', 1, { state: 's', generation: 1, verdict: 'allow' }), addresses: ['10.0.0.1', '02:00:00:00:00:0A'] }] }, { uplinkPort: UPLINK });
      const cam = planned.devices[0];
      assert.ok(cam);
      assert.equal(cam.enforcement, 'allow');
      assert.deepEqual(cam.addresses, ['10.0.0.1', '02:00:00:00:00:0a']);
      const from = (packet: string[]): FlowSpec | undefined => cam.flows.filter((flow) => flow.inPort === 'dev1' && flow.match.split(',').every((field) => packet.includes(field)))
        .sort((a, b) => b.priority - a.priority)[0];
      assert.equal(from(['ip', 'dl_src=02:00:00:00:00:0a', 'nw_src=10.0.0.1'])?.output, UPLINK);
      assert.equal(from(['ip', 'dl_src=02:00:00:00:00:0b', 'nw_src=10.0.0.1'])?.report, true);
      assert.equal(from(['arp', 'dl_src=02:00:00:00:00:0b', 'arp_spa=10.0.0.1'])?.report, true);
      assert.ok(cam.flows.filter((flow) => flow.inPort === UPLINK).every((flow) => !flow.match.includes('dl_')), 'traffic to the device is routed by IPv4 alone');
    });

    test('allow and chain devices report foreign IPv4 and ARP below their own flows; a quarantined device reports nothing', () => {
      for (const plan of [{ state: 's', generation: 1, verdict: 'allow' as const }, { state: 's', generation: 1, chain: [pin('monitor')] }]) {
        const one = only({ nodeId: 'n', devices: [device('cam', 1, plan)] });
        const reports = one.flows.filter((flow) => flow.report === true);
        assert.deepEqual(reports.map((flow) => [flow.inPort, flow.match, flow.priority, flow.output]), [['dev1', 'ip', DEVICE_REPORT_PRIORITY, null], ['dev1', 'arp', DEVICE_REPORT_PRIORITY, null]]);
        assert.ok(reports.every((flow) => flow.cookie === cookieOf(one.deviceNumber, 1)));
      }
      const quarantined = only({ nodeId: 'n', devices: [device('cam', 1, { state: 's', generation: 1, verdict: 'quarantine' })] });
      assert.ok(quarantined.flows.every((flow) => flow.report !== true));
      assert.ok(MANAGEMENT_FLOW_PRIORITY > DEVICE_FLOW_PRIORITY && DEVICE_FLOW_PRIORITY > DEVICE_REPORT_PRIORITY);
    });

    test('any port no device owns reports at once (one catch-all, below everything); the uplink is dropped unreported', () => {
      const planned = planDataplane({ nodeId: 'n', management: { port: 'qgmgmt', address: '10.0.0.250', brokerPort: 1883 }, devices: [device('cam', 1, null)] }, { uplinkPort: UPLINK });
      const flows = unknownPortFlows(planned);
      assert.deepEqual(flows.map((flow) => [flow.inPort, flow.priority, flow.report === true]), [
        ['', UNKNOWN_PORT_REPORT_PRIORITY, true], [UPLINK, UNKNOWN_PORT_REPORT_PRIORITY + 1, false],
      ]);
      assert.ok(UNKNOWN_PORT_REPORT_PRIORITY + 1 < DEVICE_REPORT_PRIORITY && MANAGEMENT_GUARD_PRIORITY > UNKNOWN_PORT_REPORT_PRIORITY + 1, 'the management guard and device flows stay above');
    });
  });
});
