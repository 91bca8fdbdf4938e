// lab.ts — a disposable network lab for data-plane tests: network namespaces for devices, a server and
// an attacker, wired to an OVS bridge of the private OVS instance, all under one unique name prefix
// (qt<pid>…) so nothing outside the lab is touched and everything is removed by destroy(), even after a
// failed test. Addresses come from 10.77.0.0/24 and exist only inside the lab's namespaces.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, type ExecResult } from '../../src/dataplane/exec.js';
import { dockerAnswers, ensureHost, hostPaths, ovsAnswers, stopHost, type HostPaths } from '../../src/dataplane/host.js';
import type { OvsSwitch } from '../../src/dataplane/ovs.js';
import type { Reconciler } from '../../src/dataplane/reconciler.js';
import type { UmboxRuntime } from '../../src/dataplane/docker-runtime.js';
import { requireInCi } from '../support/paths.js';
import { addNamespace, endpoint, hostVeth, removeNamespace } from '../../cluster/netlab.js';

/** SERVER_ADDRESS, ATTACKER_ADDRESS and deviceAddress are the lab's addresses (inside namespaces only). */
export const SERVER_ADDRESS = '10.77.0.1';
export const ATTACKER_ADDRESS = '10.77.0.66';
export function deviceAddress(index: number): string {
  return `10.77.0.${10 + index}`;
}

/**
 * facilities says whether root, OVS and Docker are usable (starting them if needed). Outside CI a missing
 * facility skips the suite with the reason; with CI=true it throws, so the suite fails.
 */
export async function facilities(): Promise<{ ok: true; paths: HostPaths; started: { ovs: boolean; docker: boolean } } | { ok: false; reason: string }> {
  const missing = (reason: string): { ok: false; reason: string } => {
    if (requireInCi()) throw new Error(`data-plane tests need ${reason} (CI=true: failing instead of skipping)`);
    return { ok: false, reason };
  };
  if (process.getuid?.() !== 0) return missing('root');
    const paths = hostPaths();
  try {
    // A lease per test process: the daemons are stopped only by the process that started them, and only
    // when no other test process still holds a lease (test files may run in parallel).
    mkdirSync(join(paths.ovsDir, '..', 'test-leases'), { recursive: true });
    writeFileSync(join(paths.ovsDir, '..', 'test-leases', String(process.pid)), '');
    const status = await ensureHost(paths);
    if (!(await ovsAnswers(paths)) || !(await dockerAnswers(paths.dockerSocket))) return missing('a running OVS and Docker engine');
    return { ok: true, paths, started: { ovs: status.ovsStarted, docker: status.dockerStarted } };
  } catch (error) {
    return missing(`OVS and Docker (${(error as Error).message})`);
  }
}

/**
 * releaseFacilities drops this process's lease and stops the daemons if this process started them and no
 * other live test process holds a lease.
 */
export async function releaseFacilities(available: Awaited<ReturnType<typeof facilities>>): Promise<void> {
  if (!available.ok) return;
  const leases = join(available.paths.ovsDir, '..', 'test-leases');
  rmSync(join(leases, String(process.pid)), { force: true });
  if (!available.started.ovs && !available.started.docker) return;
  const others = readdirSync(leases).map((name) => Number.parseInt(name, 10)).filter((pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  });
  if (others.length > 0) return;
  await stopHost(available.paths, { ovs: available.started.ovs, docker: available.started.docker });
}

/** Lab owns namespaces, host links and processes created under one prefix. */
export class Lab {
  readonly prefix: string;
  private readonly namespaces: string[] = [];
  private readonly links: string[] = [];
  private readonly processes: ChildProcess[] = [];

  constructor(tag: string) {
    // Interface names are limited to 15 characters: prefix (≤ 7) + short suffixes.
    this.prefix = `qt${(process.pid % 46656).toString(36)}${tag}`.slice(0, 7);
  }

  /** name returns the lab-prefixed name of a namespace or host link. */
  name(suffix: string): string {
    return `${this.prefix}${suffix}`;
  }

  async addNamespace(suffix: string): Promise<string> {
    const ns = this.name(suffix);
    this.namespaces.push(ns);
    await addNamespace(ns);
    return ns;
  }

  /** exec runs a command inside a namespace. */
  exec(ns: string, argv: readonly string[], options: { allowFailure?: boolean; timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', ns, ...argv], options);
  }

  /** spawn starts a long-running command inside a namespace; destroy() kills it. */
  spawn(ns: string, argv: readonly string[]): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.resume();
    child.stderr?.resume();
    this.processes.push(child);
    return child;
  }

  /** hostVeth creates a veth pair with `hostName` in the root namespace and `inner` inside `ns`, with an address. */
  async hostVeth(hostName: string, ns: string, inner: string, cidr: string | null): Promise<void> {
    this.links.push(hostName);
    await hostVeth(hostName, ns, inner, cidr);
  }

  /** nsVeth links two namespaces: `aName` in `a`, `bName` in `b`. */
  async nsVeth(a: string, aName: string, b: string, bName: string): Promise<void> {
    await run('ip', ['link', 'add', aName, 'netns', a, 'type', 'veth', 'peer', 'name', bName, 'netns', b]);
    await this.exec(a, ['ip', 'link', 'set', aName, 'up']);
    await endpoint(b, bName);
  }

  /** destroy kills the lab's processes and deletes its namespaces and host links (errors are collected, not thrown early). */
  async destroy(): Promise<void> {
    for (const child of this.processes) child.kill('SIGKILL');
    for (const ns of this.namespaces) await removeNamespace(ns);
    for (const link of this.links) await run('ip', ['link', 'del', link], { allowFailure: true });
  }
}

/**
 * Upstream builds the lab's network above the node: namespace `up` bridges the OVS uplink with a server
 * namespace (SERVER_ADDRESS) and an attacker namespace (ATTACKER_ADDRESS).
 */
export async function buildUpstream(lab: Lab, uplinkPort: string): Promise<{ server: string; attacker: string }> {
  const up = await lab.addNamespace('up');
  const server = await lab.addNamespace('srv');
  const attacker = await lab.addNamespace('atk');
  await lab.hostVeth(uplinkPort, up, 'up0', null);
  await lab.exec(up, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
  await lab.exec(up, ['ip', 'link', 'set', 'up0', 'master', 'br0']);
  for (const [ns, inner, address] of [[server, 'srv', SERVER_ADDRESS], [attacker, 'atk', ATTACKER_ADDRESS]] as const) {
    await lab.nsVeth(up, inner, ns, 'eth0');
    await lab.exec(up, ['ip', 'link', 'set', inner, 'master', 'br0']);
    await lab.exec(ns, ['ip', 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
  }
  await lab.exec(up, ['ip', 'link', 'set', 'br0', 'up']);
  return { server, attacker };
}

/** emptyNode stops a lab's reconciler and leaves its node empty: no device flows, no μmbox containers (teardown). */
export async function emptyNode(reconciler: Reconciler, runtime: UmboxRuntime, nodeId: string): Promise<void> {
  await reconciler.stop();
  reconciler.setDesired({ nodeId, devices: [] });
  await reconciler.reconcileOnce().catch(() => undefined);
  for (const umbox of await runtime.list(nodeId)) await runtime.remove(umbox.name);
}

/** releaseLab deletes the lab's bridge and everything the lab made, and drops this process's lease on OVS and Docker. */
export async function releaseLab(sw: OvsSwitch, lab: Lab, available: Awaited<ReturnType<typeof facilities>>): Promise<void> {
  await sw.deleteBridge().catch(() => undefined);
  await lab.destroy();
  await releaseFacilities(available);
}
