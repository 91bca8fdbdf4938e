// support.ts — helpers for the deployment tests: run the installed-style commands (deploy/bin/qgate.mjs,
// deploy/bin/quorumgate-node.mjs, which run the build in dist/), start and stop node processes, read status.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { repoPath } from '../support/paths.js';

/** Ran is a finished command. */
export interface Ran {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** requireBuild fails with how to fix it when dist/ is missing (the bin wrappers run the build). */
export function requireBuild(): void {
  if (!existsSync(repoPath('dist', 'src', 'node', 'main.js'))) throw new Error('dist/ is missing: run "npx tsc -p tsconfig.json" before the deploy tests');
}

/** qgate runs the qgate command (deploy/bin/qgate.mjs) to its end. */
export function qgate(args: readonly string[], env: NodeJS.ProcessEnv = {}): Ran {
  const result = spawnSync(process.execPath, [repoPath('deploy', 'bin', 'qgate.mjs'), ...args], {
    encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** qgateJson runs qgate with -o json, asserts exit 0 and parses stdout. */
export function qgateJson<T>(args: readonly string[]): T {
  const ran = qgate(['-o', 'json', ...args]);
  if (ran.status !== 0) throw new Error(`qgate ${args.join(' ')} exited ${ran.status}: ${ran.stderr}`);
  return JSON.parse(ran.stdout) as T;
}

/** runNode runs quorumgate-node to its end (for configs it must refuse). */
export function runNode(args: readonly string[], timeoutMs = 30_000): Ran {
  const result = spawnSync(process.execPath, [repoPath('deploy', 'bin', 'quorumgate-node.mjs'), ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** NodeProcesses starts node processes and ends exactly those it started. */
export class NodeProcesses {
  private readonly children = new Map<string, ChildProcess>();

  /** start runs `quorumgate-node --config FILE`, logging to `logFile`; `name` keys it for stop(). */
  start(name: string, config: string, logFile: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
    if (this.children.has(name)) throw new Error(`node ${name} runs already`);
    const log = openSync(logFile, 'a');
    const child = spawn(process.execPath, [repoPath('deploy', 'bin', 'quorumgate-node.mjs'), '--config', config], {
      stdio: ['ignore', log, log], env: { ...process.env, ...env },
    });
    closeSync(log);
    this.children.set(name, child);
    child.once('exit', () => this.children.delete(name));
    return child;
  }

  /** stop ends one node: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(name: string, graceMs = 10_000): Promise<void> {
    const child = this.children.get(name);
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.children.keys()].map((name) => this.stop(name)));
  }
}

/** Status is the part of GET /v1/status the tests read. */
export interface Status {
  id: number;
  role: string;
  leader: number;
  term: number;
  commit: number;
  applied: number;
  voters: number[];
  learners: number[];
  stateHash?: string;
}

/** status reads a node's /v1/status, or undefined when it does not answer. */
export async function status(apiUrl: string): Promise<Status | undefined> {
  try {
    const response = await fetch(`${apiUrl}/v1/status`, { signal: AbortSignal.timeout(1_000) });
    return response.ok ? ((await response.json()) as Status) : undefined;
  } catch {
    return undefined;
  }
}

/** waitFor polls `condition` every 100 ms until it holds; fails naming `what` and the last log lines. */
export async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what: string, logFile?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const tail = logFile !== undefined && existsSync(logFile) ? `\n${readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-10).join('\n')}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${tail}`);
}

/** waitForLeader waits until every given node names the same leader in the same term; returns it. */
export async function waitForLeader(apiUrls: readonly string[], timeoutMs = 20_000): Promise<Status> {
  let leader: Status | undefined;
  await waitFor(async () => {
    const all = await Promise.all(apiUrls.map(status));
    if (all.some((s) => s === undefined)) return false;
    const first = all[0]!;
    if (first.leader === 0 || !all.every((s) => s!.leader === first.leader && s!.term === first.term)) return false;
    leader = all.find((s) => s!.id === first.leader) ?? first;
    return true;
  }, timeoutMs, `a leader agreed by ${apiUrls.join(', ')}`);
  return leader!;
}
