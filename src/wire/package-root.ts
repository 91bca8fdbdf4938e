// package-root.ts — the one finder of the package root, for files shipped with the package (proto/,
// package.json), from src/ (tsx) or dist/src/ (tsc).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX_DEPTH = 8;

/** packageRoot returns the directory holding package.json, found by walking up from this module. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = resolve(dir, '..');
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`packageRoot: no package.json within ${MAX_DEPTH} levels above ${fileURLToPath(import.meta.url)}`);
}

/** packagePath joins segments onto the package root, e.g. packagePath('proto', 'commands.proto'). */
export function packagePath(...segments: string[]): string {
  return join(packageRoot(), ...segments);
}
