// state-adapter.test.ts — goal: the data plane's input is derived from the agreed state correctly: only the
// devices this node serves, each plan's chain in declared order with its pins and this node's config, a
// generation that rises exactly when the plan or its state entry changes, and no plan (quarantine) for a
// device the state has no plan for; a registered interface opens the management path its protocol needs
// (mqtt: the broker; http-json and hue: the endpoint's port), and the node's management port is passed on.
// Also checks at compile time that src/state's StateMachine is a StateView.
// Method: a small in-memory StateView driven through plan changes.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { StateMachine } from '../../src/state/index.js';
import { GenerationBook, desiredInputFromState, managementOf, nextChains, type StandbyDeviceType, type StatePlan, type StateView } from '../../src/dataplane/state-adapter.js';

// Compile-time: the real state machine offers what the adapter reads.
export const stateMachineIsAStateView = (machine: StateMachine): StateView => machine;

const digest = `sha256:${'ab'.repeat(32)}`;

function view(plans: Map<string, StatePlan>): StateView {
  const devices = [
    { id: 'cam', nodeId: 'a', port: 'p1', addresses: ['10.0.0.1'] },
    { id: 'plug', nodeId: 'a', port: 'p2', addresses: ['10.0.0.2'] },
    { id: 'far', nodeId: 'b', port: 'p3', addresses: ['10.0.0.3'] },
  ];
  return {
    devices: (filter) => devices.filter((device) => filter.nodeId === undefined || device.nodeId === filter.nodeId),
    devicePlan: (id) => plans.get(id),
  };
}

describe('desiredInputFromState', () => {
  test('serves only this node\'s devices, keeps chain order and adds the node\'s config', () => {
    const plans = new Map<string, StatePlan>([
      ['cam', { deviceId: 'cam', state: 'normal', sinceMs: 5, chain: [{ name: 'monitor', digest }, { name: 'firewall', digest }] }],
      ['far', { deviceId: 'far', state: 'normal', sinceMs: 5, verdict: 'allow' }],
    ]);
    const input = desiredInputFromState(view(plans), 'a', new GenerationBook(), (image): Record<string, string> => (image === 'firewall' ? { ALLOW: 'out:tcp:443' } : {}));
    assert.deepEqual(input, {
      nodeId: 'a',
      devices: [
        { id: 'cam', port: 'p1', addresses: ['10.0.0.1'], plan: { state: 'normal', generation: 1, chain: [{ image: 'monitor', digest, config: {} }, { image: 'firewall', digest, config: { ALLOW: 'out:tcp:443' } }] } },
        { id: 'plug', port: 'p2', addresses: ['10.0.0.2'], plan: null },
      ],
      warm: [],
    });
  });

  test('the generation rises when the plan or its state entry changes, and only then', () => {
    const plans = new Map<string, StatePlan>([['cam', { deviceId: 'cam', state: 'normal', sinceMs: 5, verdict: 'allow' }]]);
    const book = new GenerationBook();
    const generation = (): number | undefined => desiredInputFromState(view(plans), 'a', book).devices.find((device) => device.id === 'cam')?.plan?.generation;
    assert.equal(generation(), 1);
    assert.equal(generation(), 1, 'same plan, same generation');
    plans.set('cam', { deviceId: 'cam', state: 'attack', sinceMs: 9, verdict: 'quarantine' });
    assert.equal(generation(), 2);
    plans.set('cam', { deviceId: 'cam', state: 'normal', sinceMs: 12, verdict: 'allow' });
    assert.equal(generation(), 3, 'back to an earlier plan is still a new generation');
    plans.set('cam', { deviceId: 'cam', state: 'normal', sinceMs: 12, chain: [{ name: 'monitor', digest }] });
    assert.equal(generation(), 4, 'a policy update that changes the chain is a new generation');
  });

  describe('standby chains', () => {
    const camera: StandbyDeviceType = {
      name: 'camera', initialState: 'normal',
      states: [
        { name: 'normal', chain: [{ name: 'monitor', digest }] },
        { name: 'suspicious', chain: [{ name: 'monitor', digest }, { name: 'rate-limit', digest }] },
        { name: 'attack', chain: [{ name: 'block-all', digest }] },
        { name: 'lost', verdict: 'quarantine' },
      ],
      rules: [
        { from: 'normal', to: 'suspicious' },
        { from: 'suspicious', to: 'attack' },
        { from: 'any', to: 'attack' },
        { from: 'any', to: 'lost' },
        { from: 'attack', to: 'normal' },
      ],
    };

    test('the targets of the rules from the current state (its own and "any"), in rule order, once each, chains only', () => {
      assert.deepEqual(nextChains(camera, 'normal').map((one) => one.state), ['suspicious', 'attack']);
      assert.deepEqual(nextChains(camera, 'suspicious').map((one) => one.state), ['attack']);
      assert.deepEqual(nextChains(camera, 'attack').map((one) => one.state), ['normal'], '"any" never targets the state itself');
      assert.deepEqual(nextChains({ ...camera, rules: undefined }, 'normal'), [], 'no rules known, no standby');
    });

    test('each device gets its standby chains with the node\'s config, priority 1 once out of its initial state', () => {
      const plans = new Map<string, StatePlan>([
        ['cam', { deviceId: 'cam', state: 'normal', sinceMs: 1, chain: [{ name: 'monitor', digest }] }],
        ['plug', { deviceId: 'plug', state: 'suspicious', sinceMs: 1, chain: [{ name: 'monitor', digest }, { name: 'rate-limit', digest }] }],
      ]);
      const base = view(plans);
      const typed: StateView = {
        ...base,
        devices: (filter) => base.devices(filter).map((record) => ({ ...record, domain: 'home', type: 'camera' })),
        deviceTypes: (domain) => (domain === 'home' ? [camera] : []),
      };
      const input = desiredInputFromState(typed, 'a', new GenerationBook(), (image): Record<string, string> => (image === 'rate-limit' ? { PPS: '10' } : {}));
      const [cam, plug] = input.devices;
      assert.deepEqual(cam?.standby, [
        { state: 'suspicious', chain: [{ image: 'monitor', digest, config: {} }, { image: 'rate-limit', digest, config: { PPS: '10' } }] },
        { state: 'attack', chain: [{ image: 'block-all', digest, config: {} }] },
      ]);
      assert.equal(cam?.standbyPriority, 0);
      assert.deepEqual(plug?.standby, [{ state: 'attack', chain: [{ image: 'block-all', digest, config: {} }] }]);
      assert.equal(plug?.standbyPriority, 1);
      assert.equal(desiredInputFromState(base, 'a', new GenerationBook()).devices[0]?.standby, undefined, 'a view without device types plans no standby');
    });

    test('the warm list holds every image any state of a served device\'s type chains, once each, plans or not', () => {
      const other = 'sha256:' + 'b'.repeat(64);
      const plans = new Map<string, StatePlan>([['cam', { deviceId: 'cam', state: 'normal', sinceMs: 1, chain: [{ name: 'monitor', digest }] }]]);
      const base = view(plans);
      const typed: StateView = {
        ...base,
        // plug has no plan yet: its type still counts (it is about to get one).
        devices: (filter) => base.devices(filter).map((record) => ({ ...record, domain: 'home', type: record.id === 'cam' ? 'camera' : 'plug' })),
        deviceTypes: (domain) => (domain === 'home' ? [camera, { name: 'plug', states: [{ name: 'normal', chain: [{ name: 'firewall', digest: other }] }] }] : []),
      };
      const warm = desiredInputFromState(typed, 'a', new GenerationBook()).warm ?? [];
      assert.deepEqual(warm.map((pin) => `${pin.image}@${pin.digest.slice(7, 8)}`).sort(), ['block-all@a', 'firewall@b', 'monitor@a', 'rate-limit@a']);
      assert.deepEqual(desiredInputFromState(base, 'a', new GenerationBook()).warm, [], 'a view without device types keeps nothing warm');
    });
  });

  describe('management', () => {
    test('the interface protocol gives the device its management path; unknown protocols and bad URLs give none', () => {
      assert.deepEqual(managementOf({ protocol: 'mqtt', endpoint: '' }), { broker: true, tcpPorts: [] });
      assert.deepEqual(managementOf({ protocol: 'http-json', endpoint: 'http://10.77.0.12:8080/status', options: { commandUrl: 'http://10.77.0.12:8081/commands' } }), { broker: false, tcpPorts: [8080, 8081] });
      assert.deepEqual(managementOf({ protocol: 'http-json', endpoint: 'http://10.77.0.12/status', options: { commandUrl: 'http://10.77.0.12/commands' } }), { broker: false, tcpPorts: [80] });
      assert.deepEqual(managementOf({ protocol: 'hue', endpoint: 'http://10.77.0.13' }), { broker: false, tcpPorts: [80] });
      assert.deepEqual(managementOf({ protocol: 'hue', endpoint: 'https://10.77.0.13' }), { broker: false, tcpPorts: [443] });
      assert.equal(managementOf({ protocol: 'zigbee', endpoint: '' }), null);
      assert.equal(managementOf({ protocol: 'hue', endpoint: 'not a url' }), null);
      assert.equal(managementOf({ protocol: 'hue', endpoint: 'ftp://10.77.0.13' }), null);
      assert.equal(managementOf(undefined), null);
    });

    test('devices carry their management and the input the node\'s management port', () => {
      const devices = [
        { id: 'plug', nodeId: 'a', port: 'p1', addresses: ['10.0.0.1'], interface: { protocol: 'mqtt', endpoint: '', credentialRef: 'plug' } },
        { id: 'lamp', nodeId: 'a', port: 'p2', addresses: ['10.0.0.2'], interface: { protocol: 'hue', endpoint: 'http://10.0.0.2:8000', credentialRef: 'lamp', options: { light: '1' } } },
        { id: 'cam', nodeId: 'a', port: 'p3', addresses: ['10.0.0.3'] },
      ];
      const management = { port: 'qgm', address: '10.0.0.250', brokerPort: 1883 };
      const input = desiredInputFromState({ devices: () => devices, devicePlan: () => undefined }, 'a', new GenerationBook(), () => ({}), { management });
      assert.deepEqual(input.management, management);
      assert.deepEqual(input.devices.map((device) => device.management ?? null), [{ broker: true, tcpPorts: [] }, { broker: false, tcpPorts: [8000] }, null]);
      assert.equal(desiredInputFromState({ devices: () => devices, devicePlan: () => undefined }, 'a', new GenerationBook()).management, undefined);
    });
  });
});
