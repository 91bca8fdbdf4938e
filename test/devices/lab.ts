// lab.ts — a disposable network for device-adapter tests: one network namespace for the simulated devices,
// linked to the host by a veth pair with addresses from 10.98.0.0/16 (host end .1: the gateway's management
// address, the adapters' localAddress and the broker's listener; namespace end .2: the devices). Simulators
// run inside the namespace as separate processes; destroy() kills them and removes namespace and link, even
// after a failed test. Names carry the test process's pid, so parallel test files do not collide.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { run } from '../../src/dataplane/exec.js';
import { addNamespace, hostVeth } from '../../cluster/netlab.js';
import { simulatorCommand } from '../../src/devices/sim/main.js';
import { controlRequest } from '../../src/devices/sim/control.js';
import { MOSQUITTO_BINARY } from '../../src/devices/broker.js';
import { requireInCi } from '../support/paths.js';

/** usable says whether root and Mosquitto are here; with CI=true their absence throws (a failure, not a skip). */
export function usable(): { ok: true } | { ok: false; reason: string } {
  const reason = process.getuid?.() !== 0 ? 'root' : !existsSync(MOSQUITTO_BINARY) ? 'mosquitto (Debian package)' : null;
  if (reason === null) return { ok: true };
  if (requireInCi()) throw new Error(`device tests need ${reason} (CI=true: failing instead of skipping)`);
  return { ok: false, reason: `needs ${reason}` };
}

/** Sim is a simulator process in the lab. */
export interface Sim {
  args: string[];
  child: ChildProcess;
  control: string;
  journal: string;
}

/** DeviceLab owns a namespace, a veth pair, a temporary directory and simulator processes. */
export class DeviceLab {
  readonly namespace: string;
  readonly hostLink: string;
  readonly hostAddress: string;
  readonly deviceAddress: string;
  readonly dir: string;
  private readonly sims = new Set<ChildProcess>();

  constructor(tag: string) {
    const id = (process.pid % 46656).toString(36);
    this.namespace = `qd${id}${tag}`.slice(0, 12);
    this.hostLink = `qd${id}${tag}h`.slice(0, 15);
    const octet = 1 + ((process.pid * 7 + tag.charCodeAt(0)) % 250);
    this.hostAddress = `10.98.${octet}.1`;
    this.deviceAddress = `10.98.${octet}.2`;
    this.dir = mkdtempSync('/tmp/qgt-devices-');
  }

  async setup(): Promise<void> {
    await run('chmod', ['0711', this.dir]); // the broker drops to its own user and must pass through
    await addNamespace(this.namespace);
    await hostVeth(this.hostLink, this.namespace, 'eth0', `${this.deviceAddress}/24`);
    await run('ip', ['addr', 'add', `${this.hostAddress}/24`, 'dev', this.hostLink]);
    await run('ethtool', ['-K', this.hostLink, 'tx', 'off'], { allowFailure: true });
  }

  /** freePort finds a TCP port free on the host address. */
  freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, this.hostAddress, () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
  }

  /** startSim runs a simulator inside the namespace and waits for its ready line. */
  async startSim(name: string, args: readonly string[]): Promise<Sim> {
    const control = join(this.dir, `${name}.sock`);
    const journal = join(this.dir, `${name}.journal`);
    const full = [...args, '--control', control, '--journal', journal];
    const child = spawn('ip', ['netns', 'exec', this.namespace, ...simulatorCommand(), ...full], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.sims.add(child);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2000);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`simulator ${name} not ready within 20 s: ${stderr}`)), 20_000);
      child.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString('utf8').includes('"ready":true')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`simulator ${name} exited with ${code}: ${stderr}`));
      });
    });
    child.stdout?.resume();
    return { args: [...args], child, control, journal };
  }

  /** stopSim kills a simulator and waits for it to exit. */
  async stopSim(sim: Sim): Promise<void> {
    if (sim.child.exitCode === null && sim.child.signalCode === null) {
      const exited = new Promise((resolve) => sim.child.once('exit', resolve));
      sim.child.kill('SIGKILL');
      await exited;
    }
    this.sims.delete(sim.child);
  }

  /** restartSim kills a simulator and starts it again with the same arguments, journal and control socket. */
  async restartSim(name: string, sim: Sim): Promise<Sim> {
    await this.stopSim(sim);
    return this.startSim(name, sim.args);
  }

  control(sim: Sim, path: string, body?: unknown): Promise<unknown> {
    return controlRequest(sim.control, body === undefined && path === '/state' ? 'GET' : 'POST', path, body);
  }

  /** destroy kills every simulator and removes the namespace, the link and the directory. */
  async destroy(): Promise<void> {
    for (const child of this.sims) if (child.exitCode === null) child.kill('SIGKILL');
    this.sims.clear();
    await run('ip', ['netns', 'del', this.namespace], { allowFailure: true });
    await run('ip', ['link', 'del', this.hostLink], { allowFailure: true });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** waitFor polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs: number, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
