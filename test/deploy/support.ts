// support.ts — helpers for the deployment tests: run the installed-style commands (deploy/bin/qgate.mjs,
// deploy/bin/quorumgate-node.mjs, which run the build in dist/), start and stop node processes, read status.
// Every node serves its API over HTTPS with the certificate of its node key (the default): the tests pin
// each endpoint to the key of the card its host's `qgate node init` printed, and qgate pins with the
// members file `qgate cluster init` / `qgate node join` wrote; reads carry a root key's token.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, type NodeStatus } from '../../cluster/local-cluster.js';
import { ALL_DOMAINS, clusterIdOf, createToken, loadGenesis, toHex } from '../../src/commands/index.js';
import { pinnedFetch } from '../../src/cli/https-fetch.js';
import { readIdentityKey } from '../../src/node/identity.js';
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

/** Status is GET /v1/status of a gateway node (the state hash is there in the gateway mode). */
export type Status = NodeStatus & { stateHash?: string };

/** CARD_PINS maps each stand-in host's API origin to the node key of its card (filled by Field.initHost). */
const CARD_PINS = new Map<string, string>();
/** nodeFetch is fetch over HTTPS that refuses a node whose certificate carries another key than its card's. */
export const nodeFetch = pinnedFetch({ kind: 'pins', pins: { byOrigin: CARD_PINS, members: new Set(), source: 'the node cards of the test hosts' } });

/** rootRead GETs `url` with a read token of every domain signed by one root key of the cluster of `genesisFile`. */
export async function rootRead(url: string, rootKeyFile: string, genesisFile: string): Promise<Response> {
  const clusterId = toHex(clusterIdOf(loadGenesis(genesisFile)));
  const token = createToken(readIdentityKey(rootKeyFile), clusterId, ALL_DOMAINS, Date.now(), 600);
  return nodeFetch(url, { headers: { authorization: `Bearer ${token}` } });
}

/** status reads a node's /v1/status (open: no token), or undefined when it does not answer. */
export async function status(apiUrl: string): Promise<Status | undefined> {
  try {
    const response = await nodeFetch(`${apiUrl}/v1/status`, { signal: AbortSignal.timeout(1_000) });
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

/** Host is one stand-in host: a directory holding its node directory (key, card, data) and its etc/. */
export interface Host {
  readonly id: string;
  readonly dir: string;
  readonly apiUrl: string;
  readonly card: string;
}

/** Admin is the admin's machine: root keys (2 of 3), an admin key, and what cluster init wrote. */
export interface Admin {
  readonly dir: string;
  readonly roots: string[];
  readonly alice: string;
  readonly alicePublicKey: string;
  readonly out: string;
  /** members is the members file cluster init wrote (qgate pins each endpoint's key with it). */
  readonly members: string;
}

/** Field runs the procedure of deploy/README.md over stand-in hosts in `work`. */
export class Field {
  constructor(readonly work: string, readonly nodes: NodeProcesses) {}

  /** initHost runs `qgate node init` in a new host directory (id nN, loopback ports). */
  async initHost(n: number): Promise<Host> {
    const dir = join(this.work, `host${n}`);
    const raft = await freePort();
    const api = await freePort();
    const printed = qgateJson<{ cardFile: string }>(['node', 'init', '--id', `n${n}`, '--address', `127.0.0.1:${raft}`, '--api', `127.0.0.1:${api}`, '--dir', join(dir, 'node')]);
    const apiUrl = `https://127.0.0.1:${api}`;
    CARD_PINS.set(apiUrl, (JSON.parse(readFileSync(printed.cardFile, 'utf8')) as { publicKey: string }).publicKey);
    return { id: `n${n}`, dir, apiUrl, card: printed.cardFile };
  }

  /** makeAdmin creates the root keys and an admin key on the admin's machine. */
  makeAdmin(): Admin {
    const dir = join(this.work, 'admin');
    mkdirSync(dir, { recursive: true });
    const roots = [1, 2, 3].map((i) => join(dir, `root-${i}.key`));
    for (const root of roots) qgateJson(['keys', 'gen', '--out', root]);
    const alice = join(dir, 'alice.key');
    const alicePublicKey = qgateJson<{ publicKey: string }>(['keys', 'gen', '--out', alice]).publicKey;
    return { dir, roots, alice, alicePublicKey, out: join(dir, 'out'), members: join(dir, 'out', 'members.json') };
  }

  /** clusterInit runs `qgate cluster init` for the founders' cards (root 2 of 3). */
  clusterInit(admin: Admin, hosts: readonly Host[]): void {
    qgateJson(['cluster', 'init', '--name', 'field', ...admin.roots.flatMap((r) => ['--root-key', r.replace(/\.key$/, '.pub')]), '--threshold', '2',
      ...hosts.flatMap((h) => ['--node', h.card]), '--out', admin.out]);
  }

  /** install copies a host's config and the genesis from `fromDir` into its etc/ and starts its node. */
  install(host: Host, fromDir: string): void {
    const etc = join(host.dir, 'etc');
    mkdirSync(etc, { recursive: true });
    copyFileSync(join(fromDir, 'genesis.json'), join(etc, 'genesis.json'));
    copyFileSync(join(fromDir, `${host.id}.yaml`), join(etc, `${host.id}.yaml`));
    this.start(host);
  }

  /** start starts a host's installed node. */
  start(host: Host): void {
    this.nodes.start(host.id, this.configOf(host), join(host.dir, 'node.log'));
  }

  configOf(host: Host): string {
    return join(host.dir, 'etc', `${host.id}.yaml`);
  }

  /** sameState waits until every node has applied the same index with the same state hash. */
  async sameState(hosts: readonly Host[], timeoutMs = 30_000): Promise<Status> {
    let agreed: Status | undefined;
    await waitFor(async () => {
      const all = await Promise.all(hosts.map((h) => status(h.apiUrl)));
      const first = all[0];
      if (first === undefined || !all.every((s) => s !== undefined && s.stateHash !== undefined && s.applied === first.applied && s.stateHash === first.stateHash)) return false;
      agreed = first;
      return true;
    }, timeoutMs, `the same state on ${hosts.map((h) => h.id).join(', ')}`);
    return agreed!;
  }

  /** officeBundle writes a policy bundle (domain office, admin alice, device t1 on n1). */
  officeBundle(admin: Admin): string {
    const file = join(admin.dir, 'office.yaml');
    writeFileSync(file, [
      'domain: office', `admins: [{ name: alice, publicKey: "${admin.alicePublicKey}" }]`,
      'policy:', '  domain: office', '  version: 1', '  deviceTypes:', '    - name: thermostat',
      '      states: [{ name: normal, verdict: allow }, { name: suspicious, verdict: allow }, { name: attack, verdict: quarantine }]',
      'devices:', '  - { id: t1, type: thermostat, nodeId: n1, port: dev1 }',
    ].join('\n'));
    return file;
  }

  /** founders brings up `count` founding hosts with the policy applied; returns them and the admin. */
  async founders(count: number): Promise<{ hosts: Host[]; admin: Admin; endpoints: string[] }> {
    const hosts: Host[] = [];
    for (let n = 1; n <= count; n++) hosts.push(await this.initHost(n));
    const admin = this.makeAdmin();
    this.clusterInit(admin, hosts);
    for (const host of hosts) this.install(host, admin.out);
    await waitForLeader(hosts.map((h) => h.apiUrl));
    const endpoints = ['--endpoints', hosts.map((h) => h.apiUrl).join(','), '--members', admin.members];
    const applied = qgate([...endpoints, '--key', admin.roots[0]!, '--key', admin.roots[1]!, '--key', admin.alice, 'apply', '-f', this.officeBundle(admin)]);
    if (applied.status !== 0) throw new Error(`qgate apply failed: ${applied.stderr}`);
    await this.sameState(hosts);
    return { hosts, admin, endpoints };
  }

  /**
   * join runs `qgate node join` for a new host, installs and starts it, and promotes it once caught up;
   * `endpoints` name a members file (--members). Returns the members file the join wrote (with the new node).
   */
  async join(host: Host, admin: Admin, endpoints: readonly string[], others: readonly Host[]): Promise<string> {
    const joinDir = join(admin.dir, `join-${host.id}`);
    const joined = qgate([...endpoints, '--genesis', join(admin.out, 'genesis.json'), '--key', admin.roots[0]!, '--key', admin.roots[1]!, 'node', 'join', host.card, '--out', joinDir]);
    if (joined.status !== 0) throw new Error(`qgate node join ${host.id} failed: ${joined.stderr}`);
    this.install(host, joinDir);
    await this.sameState([...others, host]);
    const promoted = qgate([...endpoints, '--key', admin.roots[0]!, '--key', admin.roots[2]!, 'members', 'promote', host.id]);
    if (promoted.status !== 0) throw new Error(`qgate members promote ${host.id} failed: ${promoted.stderr}`);
    const number = Number(host.id.slice(1));
    await waitFor(async () => (await status(others[0]!.apiUrl))?.voters.includes(number) === true, 30_000, `${host.id} promoted to voter`, join(host.dir, 'node.log'));
    return join(joinDir, 'members.json');
  }
}

/** treeState lists a directory's files with sizes and modification times (to prove nothing was written). */
export function treeState(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true }).map(String).sort().map((path) => {
    const stat = statSync(join(dir, path));
    return `${path} ${stat.size} ${stat.mtimeMs}`;
  });
}
