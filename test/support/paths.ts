// paths.ts — locating the repository from a test, whether it runs from test/ (tsx) or dist/test/ (npm test).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** repoRoot returns the directory that holds package.json, found by walking up from this file. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 8; depth++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error(`repoRoot: no package.json above ${fileURLToPath(import.meta.url)}`);
}

/** repoPath joins path segments onto the repository root (source files, fixtures, proto/). */
export function repoPath(...segments: string[]): string {
  return join(repoRoot(), ...segments);
}

/** requireInCi says whether a missing system facility (OVS, Docker, root) must fail instead of skip. */
export function requireInCi(): boolean {
  return process.env.CI === 'true';
}

/** findRunDir finds the first `run-*` directory a chaos campaign wrote under dir (depth first), if any. */
export function findRunDir(dir: string): string | undefined {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!statSync(path).isDirectory()) continue;
    if (name.startsWith('run-')) return path;
    const inner = findRunDir(path);
    if (inner) return inner;
  }
  return undefined;
}
