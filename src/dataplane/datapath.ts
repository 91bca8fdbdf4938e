// datapath.ts — which Open vSwitch datapath a gateway's bridge uses: the kernel one (`datapath_type=system`,
// the `openvswitch` module forwards in the kernel) where the host has it, the userspace one (`netdev`,
// ovs-vswitchd forwards every frame itself) otherwise. Detected once at node start, reported in /v1/status,
// overridable in the node config (dataplane.datapath: auto | system | netdev). docs/datapath.md says what
// the choice changes for the reaction time.
//
// Two signals, never one alone: the module must be loaded or loadable (modprobe), AND ovs-vswitchd must
// actually open a probe bridge of type system (a module that loads but whose datapath vswitchd cannot open
// — vswitchd started with --disable-system, a sandbox without CAP_NET_ADMIN, a version mismatch — is no
// kernel datapath). The decision itself is pure (decideDatapath) and tested with injected probe results;
// the probes (probeModule, probeSystemBridge) run the real tools.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataplaneError, badInput } from './errors.js';
import { pollUntil, run } from './exec.js';

/** DatapathType is an OVS bridge's `datapath_type`: the kernel datapath or the userspace one. */
export type DatapathType = 'system' | 'netdev';

/** DatapathSetting is the node config's `dataplane.datapath`: detect, or insist on one type. */
export type DatapathSetting = 'auto' | DatapathType;

/** DATAPATH_SETTINGS lists the accepted settings (the config schema and the error messages use it). */
export const DATAPATH_SETTINGS: readonly DatapathSetting[] = ['auto', 'system', 'netdev'];

/** ModuleProbe is what the host said about the `openvswitch` kernel module. */
export interface ModuleProbe {
  /** available: the module is loaded (or built in), or `modprobe openvswitch` just loaded it. */
  readonly available: boolean;
  /** detail says how that was found ("loaded", "loaded by modprobe", or modprobe's error). */
  readonly detail: string;
}

/** BridgeProbe is whether ovs-vswitchd could open a bridge of type system. */
export interface BridgeProbe {
  readonly created: boolean;
  /** detail says what was seen (the bridge's local port number, or the error ovs-vsctl or vswitchd gave). */
  readonly detail: string;
}

/** DatapathProbes are the two signals; injected in tests, the real tools otherwise (realProbes). */
export interface DatapathProbes {
  module(): Promise<ModuleProbe>;
  systemBridge(): Promise<BridgeProbe>;
}

/** DatapathDecision is the datapath a node's bridge uses, the setting it came from and why (shown in /v1/status). */
export interface DatapathDecision {
  readonly datapath: DatapathType;
  readonly setting: DatapathSetting;
  readonly reason: string;
}

/**
 * decideDatapath picks the datapath from the setting and the probes (pure). `netdev` needs no probe;
 * `system` and `auto` choose the kernel datapath only when the module is available AND the probe bridge
 * was created; `system` without both is a DataplaneError('datapath_unavailable') naming the failed signal.
 * `bridge` is null when it was not probed (the module was missing: the probe bridge is not tried then).
 */
export function decideDatapath(setting: DatapathSetting, module: ModuleProbe | null, bridge: BridgeProbe | null): DatapathDecision {
  if (!DATAPATH_SETTINGS.includes(setting)) throw badInput('dataplane.datapath', DATAPATH_SETTINGS.join(' | '), setting);
  if (setting === 'netdev') return { datapath: 'netdev', setting, reason: 'dataplane.datapath is netdev in the node config (the kernel datapath was not probed)' };
  if (module === null) throw new DataplaneError('bad_input', `decideDatapath: setting ${setting} needs the module probe`);
  const failed = !module.available ? `the openvswitch kernel module is not available (${module.detail})`
    : bridge === null ? 'the probe bridge of type system was not tried'
      : !bridge.created ? `the openvswitch module is available (${module.detail}) but ovs-vswitchd could not open a bridge of type system (${bridge.detail})`
        : null;
  if (failed === null) {
    return { datapath: 'system', setting, reason: `the openvswitch kernel module is available (${module.detail}) and a probe bridge of type system was created (${bridge!.detail})` };
  }
  if (setting === 'system') {
    throw new DataplaneError('datapath_unavailable', `dataplane.datapath is system in the node config, but ${failed}; load the module (modprobe openvswitch, `
      + 'or list it in /etc/modules-load.d/) and run ovs-vswitchd without --disable-system, or set dataplane.datapath to auto or netdev');
  }
  return { datapath: 'netdev', setting, reason: `userspace datapath: ${failed}` };
}

/**
 * detectDatapath runs the probes the setting needs and decides (decideDatapath). The bridge is probed
 * only when the module is available: on a host without it there is nothing to open.
 */
export async function detectDatapath(setting: DatapathSetting, probes: DatapathProbes): Promise<DatapathDecision> {
  if (setting === 'netdev') return decideDatapath(setting, null, null);
  const module = await probes.module();
  const bridge = module.available ? await probes.systemBridge() : null;
  return decideDatapath(setting, module, bridge);
}

/** MODULE_NAME is the kernel module of Open vSwitch's kernel datapath. */
const MODULE_NAME = 'openvswitch';

/**
 * probeModule says whether the openvswitch module is loaded (/sys/module/openvswitch, which a built-in
 * module has too) or loadable: `modprobe openvswitch` is run, and loads it when it can.
 */
export async function probeModule(sysModuleDir = '/sys/module'): Promise<ModuleProbe> {
  if (existsSync(join(sysModuleDir, MODULE_NAME))) return { available: true, detail: `${join(sysModuleDir, MODULE_NAME)} exists: loaded` };
  const result = await run('modprobe', [MODULE_NAME], { allowFailure: true, timeoutMs: 30_000 }).catch((error: unknown) => ({ code: -1, stdout: '', stderr: (error as Error).message }));
  if (result.code === 0 && existsSync(join(sysModuleDir, MODULE_NAME))) return { available: true, detail: `loaded by modprobe ${MODULE_NAME}` };
  const said = result.stderr.trim().split('\n').pop() ?? '';
  return { available: false, detail: `not loaded, and modprobe ${MODULE_NAME} failed with status ${result.code}${said === '' ? '' : `: ${said}`}` };
}

/** OvsLocation is the OVS instance a probe bridge goes to (host.ts hostPaths, and its ovsAnswers). */
export interface OvsLocation {
  readonly ovsDir: string;
  readonly ovsDbSocket: string;
  /** answers says whether ovsdb-server and ovs-vswitchd both answer (host.ts ovsAnswers). */
  readonly answers: () => Promise<boolean>;
}

/** OFPP_LOCAL is the OpenFlow number of a bridge's own (local) port: what an opened bridge's interface gets. */
const OFPP_LOCAL = 65534;
/** PROBE_OVS_WAIT_MS bounds the wait for OVS to answer before the probe (it may be starting with the node). */
const PROBE_OVS_WAIT_MS = 30_000;

/**
 * probeSystemBridge adds a bridge of type system to the OVS instance at `paths`, reads whether vswitchd
 * opened it (its local interface has OpenFlow port OFPP_LOCAL and no error), and deletes it again. The
 * bridge has no ports and no flows but its own local one (fail_mode=secure): it forwards nothing, and on
 * the kernel datapath it shares the one `ovs-system` datapath with the node's bridge without touching its
 * flows. `name` must be unique on the host (several gateways may probe at once).
 */
export async function probeSystemBridge(paths: OvsLocation, name: string): Promise<BridgeProbe> {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name)) throw badInput('probeSystemBridge.name', 'an interface name', name);
  if (!(await pollUntil(paths.answers, PROBE_OVS_WAIT_MS, 500))) {
    return { created: false, detail: `Open vSwitch at ${paths.ovsDir} did not answer within ${PROBE_OVS_WAIT_MS / 1000} s` };
  }
  const vsctl = (args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    run('ovs-vsctl', [`--db=unix:${paths.ovsDbSocket}`, '--timeout=20', ...args], { allowFailure: true, timeoutMs: 25_000 });
  try {
    const added = await vsctl(['--', '--may-exist', 'add-br', name, '--', 'set', 'Bridge', name, 'datapath_type=system', 'fail_mode=secure', 'other_config:disable-in-band=true']);
    if (added.code !== 0) return { created: false, detail: `ovs-vsctl add-br failed: ${added.stderr.trim()}${disabledSystem(paths)}` };
    const read = await vsctl(['--format=json', '--columns=ofport,error', 'list', 'Interface', name]);
    const row = (JSON.parse(read.stdout === '' ? '{"data":[]}' : read.stdout) as { data: unknown[][] }).data[0];
    const ofport = row?.[0];
    const error = typeof row?.[1] === 'string' ? row[1] : '';
    if (ofport === OFPP_LOCAL && error === '') return { created: true, detail: `bridge ${name} opened, local port ${OFPP_LOCAL}` };
    // ovs-vsctl exits 0 when vswitchd fails to open the bridge; it says so on stderr (and vswitchd's log says why).
    const said = added.stderr.trim().split('\n')[0] ?? '';
    const port = typeof ofport === 'number' ? `OpenFlow port ${ofport}` : 'no OpenFlow port';
    return { created: false, detail: `bridge ${name} was not opened: ${port}${error === '' ? '' : `, error "${error}"`}${said === '' ? '' : `; ${said}`}${disabledSystem(paths)}` };
  } finally {
    await vsctl(['--if-exists', 'del-br', name]);
  }
}

/** disabledSystem notes, for a failed probe, that the instance's ovs-vswitchd runs with --disable-system. */
function disabledSystem(paths: OvsLocation): string {
  try {
    const pid = readFileSync(join(paths.ovsDir, 'vswitchd.pid'), 'utf8').trim();
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.includes('--disable-system') ? `; ovs-vswitchd pid ${pid} runs with --disable-system` : '';
  } catch {
    return '';
  }
}

/** probeBridgeName is the probe bridge's name for a node's bridge: unique per bridge, at most 15 characters. */
export function probeBridgeName(bridge: string): string {
  return `${bridge.slice(0, 12)}dpp`;
}
