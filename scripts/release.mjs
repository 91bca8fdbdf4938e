#!/usr/bin/env node
// release.mjs — `npm run release`: build the installable tarball release/quorumgate-<version>.tgz.
//
// The tarball is `npm pack` of a staged package: the compiled src/ (dist/src), the dashboard (dist/ui), proto/, deploy/ (μmbox
// recipes, host set-up, systemd units, the bin wrappers) and the README, with every production dependency
// bundled (bundleDependencies), because gateways on tactical networks reach no registry: `npm install -g
// --offline quorumgate-<version>.tgz` needs nothing but the file. It puts `qgate`, `quorumgate-node` and
// `quorumgate-host` on PATH. Usage: node scripts/release.mjs [--out DIR] (default release/).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
/** SHIPPED are the repository paths copied into the package as they are. */
const SHIPPED = ['proto', 'deploy', 'README.md'];
/** BINS are the commands the package puts on PATH. */
const BINS = { qgate: 'deploy/bin/qgate.mjs', 'quorumgate-node': 'deploy/bin/quorumgate-node.mjs', 'quorumgate-host': 'deploy/bin/quorumgate-host.mjs' };

function run(command, args, cwd) {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
}

/** compile builds src/ alone into STAGE/dist/src with the repository's compiler settings. */
function compile(stage) {
  const config = join(stage, 'tsconfig.release.json');
  writeFileSync(config, JSON.stringify({
    extends: join(root, 'tsconfig.json'),
    // typeRoots: the staging directory may be outside the checkout, where @types would not be found.
    compilerOptions: { rootDir: root, outDir: join(stage, 'dist'), incremental: false, tsBuildInfoFile: null, typeRoots: [join(root, 'node_modules', '@types')] },
    include: [join(root, 'src')],
    exclude: [join(root, 'src', 'ui')],
  }));
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', config], root);
  rmSync(config);
  if (!existsSync(join(stage, 'dist', 'src', 'cli', 'main.js'))) throw new Error(`release: the build did not produce ${join(stage, 'dist/src/cli/main.js')}`);
  // The dashboard's assets, built once as `npm run build` does (dist/ui), ship in the package.
  if (existsSync(join(root, 'src', 'ui', 'tsconfig.json'))) {
    run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'src', 'ui', 'tsconfig.json')], root);
    run(process.execPath, [join(root, 'scripts', 'build-ui.mjs')], root);
    cpSync(join(root, 'dist', 'ui'), join(stage, 'dist', 'ui'), { recursive: true });
  }
}

/** productionModules lists the installed production dependencies (paths relative to the root). */
function productionModules() {
  const lines = run('npm', ['ls', '--omit=dev', '--all', '--parseable'], root).split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.map((line) => relative(root, line)).filter((path) => path.startsWith('node_modules'));
}

/** manifest is the staged package.json: no scripts, no dev dependencies, the bins, every dependency bundled. */
function manifest(source) {
  const dependencies = source.dependencies ?? {};
  return {
    name: source.name, version: source.version, description: source.description, type: source.type, license: source.license,
    engines: source.engines, bin: BINS, dependencies, bundleDependencies: Object.keys(dependencies).sort(),
    files: ['dist/src', 'dist/ui', ...SHIPPED],
  };
}

function main() {
  const outIndex = process.argv.indexOf('--out');
  const out = resolve(outIndex > 0 ? process.argv[outIndex + 1] : join(root, 'release'));
  const source = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const stage = join(out, 'stage');
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  compile(stage);
  for (const path of SHIPPED) cpSync(join(root, path), join(stage, path), { recursive: true, dereference: true });
  for (const path of productionModules()) {
    // Each listed package is copied without its own node_modules; nested ones are listed themselves.
    cpSync(join(root, path), join(stage, path), { recursive: true, dereference: true, filter: (from) => !relative(join(root, path), from).startsWith('node_modules') });
  }
  writeFileSync(join(stage, 'package.json'), `${JSON.stringify(manifest(source), null, 2)}\n`);
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', out], stage));
  rmSync(stage, { recursive: true, force: true });
  const tarball = join(out, packed[0].filename);
  console.log(JSON.stringify({ tarball, files: packed[0].entryCount, bytes: packed[0].size, unpackedBytes: packed[0].unpackedSize }));
}

main();
