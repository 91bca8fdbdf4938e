// ovs.ts — the Open vSwitch driver: one bridge of a private OVS instance, reached only through its local
// sockets (ovs-vsctl --db=unix:…, ovs-ofctl with OVS_RUNDIR). OpenFlow 1.3, table 0. Every change of the
// flow table is ONE atomic bundle (`ovs-ofctl --bundle`): the switch applies all of it or none of it, so a
// device's new generation replaces the old one without any instant in which neither is installed.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DISCOVERY_METER_BURST, DISCOVERY_METER_ID, DISCOVERY_METER_PPS } from './constants.js';
import { DataplaneError, assert } from './errors.js';
import { run } from './exec.js';
import type { DatapathType } from './datapath.js';
import { UMBOX_PORT_NAME } from './planner.js';
import type { ObservedFlow } from './types.js';

/** SwitchPortInfo is one port of the bridge; ofport is -1 while its interface is missing. */
export interface SwitchPortInfo {
  name: string;
  ofport: number;
  /** aliasOf: not a port of its own but another name for this port (the reconciler's pool slots); never on the switch. */
  aliasOf?: string;
}

/** FlowChange is one atomic change of the flow table: flows to add (or overwrite) and flows to delete. */
export interface FlowChange {
  /** add holds flow texts as ovs-ofctl reads them ("cookie=0x…,priority=…,… actions=…"). */
  add: readonly string[];
  /** remove holds "priority=…,<match>" texts, deleted strictly (exact match and priority). */
  remove: readonly string[];
}

/** Switch is the port the reconciler drives; OvsSwitch is the real adapter, MemorySwitch the fake. */
export interface Switch {
  readonly bridge: string;
  /** ensureBridge creates the bridge if missing (its datapath type, fail_mode=secure, OpenFlow 1.3 only). */
  ensureBridge(): Promise<void>;
  listPorts(): Promise<SwitchPortInfo[]>;
  /**
   * addPorts attaches host interfaces, replacing stale records of the same names, and returns the ports
   * added with their numbers (-1 for an interface that does not exist). `onBridge`, when the caller knows
   * the bridge's ports, saves the driver from listing them to find which names are already there.
   */
  addPorts(names: readonly string[], onBridge?: ReadonlySet<string>): Promise<SwitchPortInfo[]>;
  removePorts(names: readonly string[]): Promise<void>;
  dumpFlows(): Promise<ObservedFlow[]>;
  /** applyFlows installs one FlowChange atomically: additions first, then deletions, in one bundle. */
  applyFlows(change: FlowChange): Promise<void>;
}

/** OvsSwitchInit locates the OVS instance. */
export interface OvsSwitchInit {
  bridge: string;
  /** ovsDir is the instance's run directory (OVS_RUNDIR); its db.sock is the database socket. */
  ovsDir: string;
  /**
   * datapath is the bridge's datapath_type (default netdev, the userspace datapath): what the node's
   * detection chose (datapath.ts). An existing bridge of the other type is switched over, which empties its
   * flow table until the reconciler's next pass (fail-closed: fail_mode=secure drops meanwhile).
   */
  datapath?: DatapathType;
}

const BRIDGE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;
/** LONG_TIMEOUT_SECONDS bounds port and bridge changes: vswitchd reconfigures every port of the bridge for each. */
const LONG_TIMEOUT_SECONDS = 120;

/** OvsSwitch drives one bridge of a local OVS instance with ovs-vsctl and ovs-ofctl. */
export class OvsSwitch implements Switch {
  readonly bridge: string;
  /** datapath is the bridge's datapath_type. */
  readonly datapath: DatapathType;
  private readonly ovsDir: string;
  private readonly env: Record<string, string>;

  constructor(init: OvsSwitchInit) {
    if (!BRIDGE_NAME.test(init.bridge)) throw new DataplaneError('bad_input', `OvsSwitch.bridge: expected an interface name, got ${JSON.stringify(init.bridge)}`);
    if (init.datapath !== undefined && init.datapath !== 'system' && init.datapath !== 'netdev') {
      throw new DataplaneError('bad_input', `OvsSwitch.datapath: expected system or netdev, got ${JSON.stringify(init.datapath)}`);
    }
    this.bridge = init.bridge;
    this.datapath = init.datapath ?? 'netdev';
    this.ovsDir = init.ovsDir;
    this.env = { OVS_RUNDIR: init.ovsDir };
  }

  private vsctl(args: readonly string[], timeoutSeconds = 10): Promise<{ stdout: string }> {
    return run('ovs-vsctl', [`--db=unix:${join(this.ovsDir, 'db.sock')}`, `--timeout=${timeoutSeconds}`, ...args], { env: this.env, timeoutMs: (timeoutSeconds + 5) * 1000 });
  }

  private ofctl(args: readonly string[]): Promise<{ stdout: string }> {
    // --no-names: flows are written and read with port numbers only. Without it ovs-ofctl fetches the
    // bridge's whole port list (and its table features) over extra OpenFlow connections before every
    // command, to accept port names — a cost that grows with the ports on the bridge.
    return run('ovs-ofctl', ['-O', 'OpenFlow13', '--no-names', ...args], { env: this.env, timeoutMs: 30_000 });
  }

  async ensureBridge(): Promise<void> {
    await this.vsctl(['--', '--may-exist', 'add-br', this.bridge, '--', 'set', 'Bridge', this.bridge,
      `datapath_type=${this.datapath}`, 'fail_mode=secure', 'protocols=OpenFlow13', 'other_config:disable-in-band=true']);
    await this.ensureDiscoveryMeter();
  }

  /**
   * ensureDiscoveryMeter makes the bridge's discovery meter (DISCOVERY_METER_ID): every report flow sends
   * its frames to the node through it, so a flood of unknown frames costs the node at most
   * DISCOVERY_METER_PPS packet-ins a second (plus a burst). Added, or modified when it exists.
   */
  private async ensureDiscoveryMeter(): Promise<void> {
    const meter = `meter=${DISCOVERY_METER_ID},pktps,burst,band=type=drop,rate=${DISCOVERY_METER_PPS},burst_size=${DISCOVERY_METER_BURST}`;
    const added = await run('ovs-ofctl', ['-O', 'OpenFlow13', 'add-meter', this.bridge, meter], { env: this.env, timeoutMs: 30_000, allowFailure: true });
    if (added.code !== 0) await this.ofctl(['mod-meter', this.bridge, meter]);
  }

  /**
   * deleteBridge removes the bridge and its ports (tests and node teardown), and the host veths of its
   * μmbox-form ports (deleteUmboxVeths).
   */
  async deleteBridge(): Promise<void> {
    const names = await this.listPortNames().catch(() => [] as string[]);
    await this.vsctl(['--if-exists', 'del-br', this.bridge], LONG_TIMEOUT_SECONDS);
    await deleteUmboxVeths(names);
  }

  private async listPortNames(): Promise<string[]> {
    return (await this.vsctl(['list-ports', this.bridge])).stdout.split('\n').map((line) => line.trim()).filter(Boolean);
  }

  async listPorts(): Promise<SwitchPortInfo[]> {
    const names = await this.listPortNames();
    if (names.length === 0) return [];
    const table = JSON.parse((await this.vsctl(['--format=json', '--columns=name,ofport', 'list', 'Interface'])).stdout) as { data: unknown[][] };
    const ofports = new Map<string, number>();
    for (const row of table.data) {
      const [name, ofport] = row;
      if (typeof name === 'string') ofports.set(name, typeof ofport === 'number' ? ofport : -1);
    }
    return names.map((name) => ({ name, ofport: ofports.get(name) ?? -1 }));
  }

  async addPorts(names: readonly string[], onBridge?: ReadonlySet<string>): Promise<SwitchPortInfo[]> {
    if (names.length === 0) return [];
    // A port whose interface was deleted and created again (a restarted μmbox's veth) must be deleted in
    // its own transaction first: deleting and adding it in one transaction keeps vswitchd's stale handle,
    // and no packet from the new interface is seen. New names need only the add (one reconfiguration).
    const existing = onBridge ?? new Set(await this.listPortNames());
    const stale = names.filter((name) => existing.has(name));
    if (stale.length > 0) await this.vsctl(stale.flatMap((name) => ['--', '--if-exists', 'del-port', this.bridge, name]), LONG_TIMEOUT_SECONDS);
    // ovs-vsctl waits until vswitchd has applied the change, so the ports have their numbers when it returns.
    await this.vsctl(names.flatMap((name) => ['--', '--may-exist', 'add-port', this.bridge, name]), LONG_TIMEOUT_SECONDS);
    return this.portNumbers(names);
  }

  /** portNumbers reads the OpenFlow numbers of some interfaces (one query, however many ports the bridge has). */
  private async portNumbers(names: readonly string[]): Promise<SwitchPortInfo[]> {
    const args = names.flatMap((name) => ['--', '--columns=name,ofport', 'find', 'Interface', `name=${JSON.stringify(name)}`]);
    const { stdout } = await this.vsctl(['--format=csv', '--data=bare', '--no-headings', ...args]);
    const found = new Map<string, number>();
    for (const line of stdout.split('\n')) {
      const comma = line.lastIndexOf(',');
      if (comma < 0) continue;
      const name = line.slice(0, comma).replace(/^"|"$/g, '');
      const ofport = Number.parseInt(line.slice(comma + 1), 10);
      found.set(name, Number.isInteger(ofport) ? ofport : -1);
    }
    return names.map((name) => ({ name, ofport: found.get(name) ?? -1 }));
  }

  async removePorts(names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    await this.vsctl(names.flatMap((name) => ['--', '--if-exists', 'del-port', this.bridge, name]), LONG_TIMEOUT_SECONDS);
    await deleteUmboxVeths(names);
  }

  async dumpFlows(): Promise<ObservedFlow[]> {
    const { stdout } = await this.ofctl(['dump-flows', this.bridge, '--no-stats']);
    return parseFlowDump(stdout);
  }

  async applyFlows(change: FlowChange): Promise<void> {
    if (change.add.length === 0 && change.remove.length === 0) return;
    const lines = [...change.add.map((text) => `add ${text}`), ...change.remove.map((text) => `delete_strict ${text}`)];
    const dir = mkdtempSync(join(tmpdir(), 'qg-flows-'));
    try {
      const file = join(dir, 'flows');
      writeFileSync(file, `${lines.join('\n')}\n`);
      await this.ofctl(['--bundle', 'add-flows', this.bridge, file]).catch(async (error: unknown) => {
        // A switch that restarted brings its bridge back from OVSDB but not its OpenFlow state: the
        // discovery meter is gone and the switch refuses the whole bundle that names it. Make the meter
        // again and apply the same bundle once more (chaos seed 91002: without this, traffic came back a
        // whole pass — 2.2 s under load — after an ovs-restart).
        if (!(error instanceof Error) || !error.message.includes('OFPMMFC_INVALID_METER')) throw error;
        await this.ensureDiscoveryMeter();
        await this.ofctl(['--bundle', 'add-flows', this.bridge, file]);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

const META_FIELDS = new Set(['cookie', 'duration', 'table', 'n_packets', 'n_bytes', 'idle_age', 'hard_age', 'priority']);

/** parseFlowDump reads `ovs-ofctl dump-flows` output (with or without stats) into flows of table 0. */
export function parseFlowDump(text: string): ObservedFlow[] {
  const flows: ObservedFlow[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('OFPST_FLOW') || line.startsWith('NXST_FLOW')) continue;
    const at = line.lastIndexOf(' actions=');
    if (at < 0) throw new DataplaneError('flow_parse', `ovs-ofctl printed a flow without actions: ${JSON.stringify(line)}`);
    const actions = line.slice(at + ' actions='.length);
    let cookie = 0n;
    let priority = 32768;
    let table = 0;
    const match: string[] = [];
    for (const token of line.slice(0, at).split(/,\s*/)) {
      if (token === '') continue;
      const eq = token.indexOf('=');
      const key = eq < 0 ? token : token.slice(0, eq);
      const value = eq < 0 ? '' : token.slice(eq + 1);
      if (!META_FIELDS.has(key)) match.push(token);
      else if (key === 'cookie') cookie = BigInt(value);
      else if (key === 'priority') priority = Number.parseInt(value, 10);
      else if (key === 'table') table = Number.parseInt(value, 10);
    }
    assert(Number.isInteger(priority), `flow priority parses: ${line}`);
    if (table !== 0) continue; // Only table 0 is used; nothing ever jumps to another table.
    flows.push({ cookie, priority, match: match.join(','), actions });
  }
  return flows;
}

/** flowKey is a flow's identity in the table: priority plus its match fields in a canonical order. */
export function flowKey(priority: number, match: string): string {
  const fields = match === '' ? [] : match.split(',').filter(Boolean).sort();
  return `priority=${priority}${fields.length ? ',' : ''}${fields.join(',')}`;
}

/**
 * deleteUmboxVeths deletes the host veths of μmbox-form port names (UMBOX_PORT_NAME) that still exist. A
 * μmbox's pair normally goes with its container's namespace; a port-pool slot's pair belongs to no
 * container and would otherwise stay on the host once its port is gone.
 */
async function deleteUmboxVeths(names: readonly string[]): Promise<void> {
  const veths = names.filter((name) => UMBOX_PORT_NAME.test(name) && existsSync(`/sys/class/net/${name}`));
  if (veths.length > 0) await run('ip', ['-force', '-batch', '-'], { input: `${veths.map((name) => `link del ${name}`).join('\n')}\n`, allowFailure: true });
}
