// devlab.ts — device simulators (src/devices/sim) run inside the network namespaces of netlab.ts, behind a
// gateway's bridge, as real devices would be: they reach their gateway's broker, or are polled by it, over the
// gateway's management path. Used by the device tests, the demo and bench:devices. Every simulator is a
// process of its own, ended by its pid.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { controlRequest, readJournal, simulatorCommand } from '../src/devices/index.js';
import type { JournalEntry } from '../src/devices/index.js';

/** SimSpec is a simulator to start in a namespace (the command line of src/devices/sim/main.ts). */
export interface SimSpec {
  kind: 'temperature' | 'plug' | 'hue-bridge' | 'http-sensor';
  namespace: string;
  /** args are the simulator's flags besides --kind, --journal and --control (e.g. ['--id', 'temp-1', '--broker', '10.77.0.241:1883']). */
  args: readonly string[];
}

/** RunningDevice is a started simulator. */
export interface RunningDevice {
  readonly spec: SimSpec;
  readonly pid: number;
  readonly journal: string;
  readonly control: string;
  /** state asks the simulator for its state (sensor values, sampling, switch state). */
  state(): Promise<Record<string, unknown>>;
  /** set changes sensor values (or settings) on the device. */
  set(values: Record<string, unknown>, device?: string): Promise<void>;
  /** silence makes the device stop answering; resume brings it back. */
  silence(mode?: 'silent' | 'drop'): Promise<void>;
  resume(): Promise<void>;
  /** commands are the commands the device received, in order, from its journal. */
  commands(): JournalEntry[];
  stop(): Promise<void>;
}

/** startDevice runs a simulator inside its namespace and resolves once it says it is ready (or rejects after 20 s). */
export async function startDevice(dir: string, name: string, spec: SimSpec): Promise<RunningDevice> {
  mkdirSync(dir, { recursive: true });
  const journal = join(dir, `${name}.journal`);
  const control = join(dir, `${name}.sock`);
  const logFile = join(dir, `${name}.log`);
  const argv = [...simulatorCommand(), '--kind', spec.kind, ...spec.args, '--journal', journal, '--control', control];
  const pid = await spawnReady('ip', ['netns', 'exec', spec.namespace, ...argv], `simulator ${name}`, logFile, 20_000);
  return {
    spec, pid, journal, control,
    state: async () => (await controlRequest(control, 'GET', '/state')) as Record<string, unknown>,
    set: async (values, device) => {
      await controlRequest(control, 'POST', '/set', { values, ...(device !== undefined ? { device } : {}) });
    },
    silence: async (mode = 'silent') => {
      await controlRequest(control, 'POST', '/stop', { mode });
    },
    resume: async () => {
      await controlRequest(control, 'POST', '/resume', {});
    },
    commands: () => (existsSync(journal) ? readJournal(journal) : []),
    stop: () => stopProcess(pid),
  };
}

/**
 * spawnReady starts a simulator process (detached, ended later by its pid) and resolves with its pid once it
 * prints its ready line, or rejects after `timeoutMs` or when it exits first.
 */
export async function spawnReady(command: string, args: readonly string[], label: string, logFile: string, timeoutMs: number): Promise<number> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  if (child.pid === undefined) throw new Error(`could not start ${label}`);
  await waitReady(child, label, logFile, timeoutMs);
  child.unref();
  return child.pid;
}

function waitReady(child: ChildProcess, label: string, logFile: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = `${stderr}${chunk.toString()}`.slice(-4_000);
    });
    const timer = setTimeout(() => {
      reject(new Error(`${label} not ready within ${timeoutMs / 1000} s: ${stderr.trim() || '(no output)'} (log: ${logFile})`));
    }, timeoutMs);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.includes('"ready":true')) return;
      clearTimeout(timer);
      lines.close();
      child.stdout?.resume();
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited with ${code}: ${stderr.trim() || '(no output)'}`));
    });
  });
}

/** stopProcess ends a simulator by its pid (SIGTERM, then SIGKILL after 3 s). */
export async function stopProcess(pid: number): Promise<void> {
  const alive = (): boolean => {
    try {
      process.kill(pid, 0);
      return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 30 && alive(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  if (alive()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // It ended between the check and the signal.
    }
  }
}
