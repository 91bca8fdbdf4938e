// support.ts — helpers for the qgate tests: temporary directories with keys and a genesis, running
// qgate in-process (runCli with captured output) or as a child process (the real binary).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterIdOf, generateKeyPair, loadGenesis, toHex, createGenesis, type Genesis, type KeyPair } from '../../src/commands/index.js';
import { writeIdentityKey } from '../../src/node/identity.js';
import { runCli } from '../../src/cli/program.js';
import type { Io } from '../../src/cli/context.js';
import { repoPath } from '../support/paths.js';
import { FakeCluster, FakeNode } from './fake-api.js';
import { writeFileSync } from 'node:fs';

/** Captured is one qgate run's exit code and output. */
export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

/** tempDir makes a fresh directory; the caller removes it with removeDir. */
export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'qgate-test-'));
}

/** removeDir deletes a temporary directory. */
export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** qgate runs the CLI in-process with captured output, no environment unless given, and no real sleeps. */
export async function qgate(args: readonly string[], io: Partial<Io> = {}): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (text) => { stdout += text; },
    stderr: (text) => { stderr += text; },
    env: {},
    nowMs: () => Date.now(),
    sleep: async () => undefined,
    ...io,
  });
  return { code, stdout, stderr };
}

/**
 * qgateProcess runs the real CLI as a child process: dist/src/cli/main.js when the tests run compiled
 * (npm test), else src/cli/main.ts through tsx. It is asynchronous so in-process fake servers keep serving.
 */
export function qgateProcess(args: readonly string[], env: Record<string, string> = {}, cwd?: string): Promise<Captured> {
  const compiled = fileURLToPath(import.meta.url).includes(`${sep}dist${sep}`);
  const command = compiled ? [repoPath('dist', 'src', 'cli', 'main.js')] : ['--import', 'tsx', repoPath('src', 'cli', 'main.ts')];
  return new Promise((resolve) => {
    execFile(process.execPath, [...command, ...args], {
      cwd: cwd ?? repoPath(), env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000,
    }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Lab is a test cluster: key files (2-of-3 root, one admin), a genesis file and a fake API node. */
export interface Lab {
  dir: string;
  rootFiles: string[];
  roots: KeyPair[];
  adminFile: string;
  admin: KeyPair;
  genesisFile: string;
  genesis: Genesis;
  clusterIdHex: string;
  /** nodes are the key pairs of members n1..n3 (to sign node commands: telemetry, deviceCommandsDone). */
  nodes: KeyPair[];
  cluster: FakeCluster;
  node: FakeNode;
  /** base are the arguments every cluster command gets: --endpoints of the node. */
  base: string[];
  close(): Promise<void>;
}

/** makeLab creates keys, a genesis (members n1..n3) and a started fake node. */
export async function makeLab(): Promise<Lab> {
  const dir = tempDir();
  const rootFiles = [1, 2, 3].map((i) => join(dir, `root-${i}.key`));
  const roots = rootFiles.map((file) => writeIdentityKey(file));
  const adminFile = join(dir, 'alice.key');
  const admin = writeIdentityKey(adminFile);
  const nodes = [1, 2, 3].map(() => generateKeyPair());
  const genesis = createGenesis({
    clusterName: 'lab', rootKeys: roots.map((r) => r.publicKey), rootThreshold: 2,
    members: nodes.map((key, i) => ({ nodeId: `n${i + 1}`, nodeKey: key.publicKey, address: `127.0.0.1:${7001 + i}` })),
  });
  const genesisFile = join(dir, 'genesis.json');
  writeFileSync(genesisFile, JSON.stringify(genesis));
  const cluster = new FakeCluster(loadGenesis(genesisFile));
  const node = new FakeNode(cluster);
  await node.start();
  return {
    dir, rootFiles, roots, adminFile, admin, genesisFile, genesis, clusterIdHex: toHex(clusterIdOf(genesis)), nodes, cluster, node,
    base: ['--endpoints', node.url],
    close: async () => {
      await node.close();
      removeDir(dir);
    },
  };
}
