// flows.test.ts — goal: the reconciler's view of the flow table is exact: ovs-ofctl's dump is parsed into
// (cookie, priority, match, actions), flows are identified by priority and match whatever the field order,
// and the diff between desired and observed adds what is missing or different and deletes what is extra
// (hand-made flows included), so repeated passes converge and a converged table gives an empty change.
// Also: the incremental composition a reaction pass uses gives exactly the table a full composition gives.
// Method: table tests on text in the exact format ovs-ofctl 3.1 prints (captured from the real switch),
// and a seeded random walk for the incremental composition.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { flowKey, parseFlowDump } from '../../src/dataplane/ovs.js';
import { createHash } from 'node:crypto';
import { composeChanges, composeTable, diffFlows, flowText, renderFlow, type ComposedDevice, type RenderedFlow } from '../../src/dataplane/flow-table.js';
import { planDataplane } from '../../src/dataplane/planner.js';
import type { DesiredDevice, DevicePlan } from '../../src/dataplane/types.js';
import { DataplaneError } from '../../src/dataplane/errors.js';

const DUMP_NO_STATS = ` cookie=0x500000001, priority=100,ip,in_port=1,nw_src=10.9.0.2 actions=output:2
 cookie=0x500000001, priority=100,arp,in_port=2,arp_tpa=10.9.0.2 actions=drop
 priority=0 actions=drop
`;
const DUMP_STATS = `OFPST_FLOW reply (OF1.3) (xid=0x2):
 cookie=0x500000002, duration=0.012s, table=0, n_packets=0, n_bytes=0, priority=100,ip,in_port=1,nw_src=10.9.0.2 actions=drop
 cookie=0x0, duration=0.042s, table=0, n_packets=7, n_bytes=420, priority=0 actions=drop
 cookie=0x9, duration=0.042s, table=3, n_packets=0, n_bytes=0, priority=5 actions=drop
`;

describe('parseFlowDump', () => {
  test('reads cookie, priority, match and actions without stats', () => {
    assert.deepEqual(parseFlowDump(DUMP_NO_STATS), [
      { cookie: 0x500000001n, priority: 100, match: 'ip,in_port=1,nw_src=10.9.0.2', actions: 'output:2' },
      { cookie: 0x500000001n, priority: 100, match: 'arp,in_port=2,arp_tpa=10.9.0.2', actions: 'drop' },
      { cookie: 0n, priority: 0, match: '', actions: 'drop' },
    ]);
  });

  test('ignores the reply header and statistics, and flows outside table 0', () => {
    assert.deepEqual(parseFlowDump(DUMP_STATS), [
      { cookie: 0x500000002n, priority: 100, match: 'ip,in_port=1,nw_src=10.9.0.2', actions: 'drop' },
      { cookie: 0n, priority: 0, match: '', actions: 'drop' },
    ]);
  });

  test('a line without actions is a flow_parse error quoting the line', () => {
    assert.throws(() => parseFlowDump(' cookie=0x1, priority=3,ip\n'),
      (error: unknown) => error instanceof DataplaneError && error.code === 'flow_parse' && error.message.includes('"cookie=0x1, priority=3,ip"'));
  });
});

describe('flow identity and diff', () => {
  const ports = new Map([['dev1', 1], ['up', 2], ['mbi', 3]]);
  const rendered = (inPort: string, match: string, output: string | null, cookie = 0x10000000An): RenderedFlow => {
    const flow = renderFlow({ cookie, priority: 100, inPort, match, output }, ports);
    assert.ok(flow);
    return flow;
  };
  const table = (...flows: RenderedFlow[]): Map<string, RenderedFlow> => new Map(flows.map((flow) => [flow.key, flow]));

  test('field order does not change a flow key; priority does', () => {
    assert.equal(flowKey(100, 'ip,in_port=1,nw_src=10.0.0.1'), flowKey(100, 'in_port=1,nw_src=10.0.0.1,ip'));
    assert.notEqual(flowKey(100, 'ip,in_port=1'), flowKey(101, 'ip,in_port=1'));
  });

  test('renderFlow resolves port names and refuses flows whose ports are not on the bridge', () => {
    const flow = rendered('dev1', 'ip,nw_src=10.0.0.1', 'mbi');
    assert.equal(flowText(flow), 'cookie=0x10000000a,priority=100,in_port=1,ip,nw_src=10.0.0.1 actions=output:3');
    assert.equal(renderFlow({ cookie: 1n, priority: 100, inPort: 'gone', match: '', output: null }, ports), null);
    assert.equal(renderFlow({ cookie: 1n, priority: 100, inPort: 'dev1', match: '', output: 'gone' }, ports), null);
  });

  test('a converged table gives an empty change', () => {
    const desired = table(rendered('dev1', 'ip,nw_src=10.0.0.1', 'mbi'));
    const observed = parseFlowDump(' cookie=0x10000000a, priority=100,ip,in_port=1,nw_src=10.0.0.1 actions=output:3\n');
    assert.deepEqual(diffFlows(desired, observed), { add: [], remove: [] });
  });

  test('a new generation overwrites flows with the same match and deletes the old generation\'s others', () => {
    const desired = table(rendered('dev1', 'ip,nw_src=10.0.0.1', 'up', 0x10000000Bn));
    const observed = parseFlowDump([
      ' cookie=0x10000000a, priority=100,ip,in_port=1,nw_src=10.0.0.1 actions=output:3',
      ' cookie=0x10000000a, priority=100,in_port=3 actions=output:1',
    ].join('\n'));
    assert.deepEqual(diffFlows(desired, observed), {
      add: ['cookie=0x10000000b,priority=100,in_port=1,ip,nw_src=10.0.0.1 actions=output:2'],
      remove: ['priority=100,in_port=3'],
    });
  });

  test('hand-made flows are removed and hand-changed actions restored', () => {
    const desired = table(rendered('dev1', '', null));
    const observed = parseFlowDump([
      ' cookie=0x10000000a, priority=100,in_port=1 actions=output:2',
      ' priority=200,in_port=1 actions=output:2',
    ].join('\n'));
    assert.deepEqual(diffFlows(desired, observed), {
      add: ['cookie=0x10000000a,priority=100,in_port=1 actions=drop'],
      remove: ['priority=200,in_port=1'],
    });
  });
});

describe('composeChanges', () => {
  // Method: a seeded random walk over plans (chains, verdicts, no plan), port renumbering, blocked devices
  // and devices that come and go; after every step the incremental table must equal composeTable's, and the
  // change it returns, applied to the previous table, must give exactly that table.
  const digest = (text: string): string => `sha256:${createHash('sha256').update(text).digest('hex')}`;
  const images = ['monitor', 'firewall', 'block-all'];
  test('the incremental table always equals the full composition, and its change turns the old table into the new', () => {
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const generations = new Map<string, number>();
    let previous: ReturnType<typeof composeTable> | null = null;
    let incremental: { table: Map<string, RenderedFlow>; composed: Map<string, ComposedDevice> } | null = null;
    for (let step = 0; step < 300; step++) {
      const devices: DesiredDevice[] = [];
      for (let index = 0; index < 6; index++) {
        if (random(10) === 0) continue; // the device is gone this step
        const id = `d${index}`;
        const choice = random(4);
        const generation = (generations.get(id) ?? 0) + (random(3) === 0 ? 1 : 0);
        generations.set(id, Math.max(1, generation));
        const plan: DevicePlan | null = choice === 0 ? null : choice === 1 ? { state: 's', generation: Math.max(1, generation), verdict: random(2) === 0 ? 'allow' : 'quarantine' }
          : { state: 's', generation: Math.max(1, generation), chain: [{ image: images[(index + generation) % 3] ?? 'monitor', digest: digest('x') }] };
        devices.push({ id, port: `p${index}`, addresses: [`10.0.0.${index + 1}`], plan });
      }
      const desired = planDataplane({ nodeId: 'n', devices }, { uplinkPort: 'up', standbyLimit: 0 });
      const names = ['up', ...desired.devices.flatMap((device) => [device.port, ...device.umboxes.flatMap((umbox) => [umbox.inPort, umbox.outPort])])];
      const ports = names.map((name, index) => ({ name, ofport: random(8) === 0 ? -1 : index + 1 + random(2) }));
      const blocked = new Map(desired.devices.filter(() => random(8) === 0).map((device) => [device.deviceId, 'blocked']));
      const full = composeTable(desired, ports, blocked, 'br');
      if (previous !== null && incremental !== null) {
        const before: RenderedFlow[] = [...incremental.table.values()];
        const next = composeChanges(desired, ports, blocked, 'br', incremental.composed, incremental.table);
        assert.deepEqual([...next.table.entries()].sort(), [...full.table.entries()].sort(), `step ${step}: same table`);
        const expected = diffFlows(full.table, before);
        assert.deepEqual([...next.change.add].sort(), [...expected.add].sort(), `step ${step}: same additions as a full diff`);
        assert.deepEqual([...next.change.remove].sort(), [...expected.remove].sort(), `step ${step}: same deletions as a full diff`);
        incremental = { table: next.table, composed: next.composed };
      } else {
        incremental = { table: new Map(full.table), composed: full.composed };
      }
      previous = full;
    }
  });
});
