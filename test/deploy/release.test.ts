// release.test.ts — the release artifact installs and runs on its own (issue 17 item 1).
//
// Goal: `npm run release` makes one tarball that `npm install -g --offline` installs into a fresh prefix
// with no registry, putting `qgate`, `quorumgate-node` and `quorumgate-host` on PATH, with the μmbox
// recipes, the host set-up and the systemd units inside; both programs run from there, and `qgate -o json`
// prints JSON only (no npm banner).
// Method: run scripts/release.mjs into a temporary directory, install the tarball with npm into a
// temporary prefix, and run the installed commands as a user would (PATH = the prefix's bin).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoPath } from '../support/paths.js';

const work = mkdtempSync(join(tmpdir(), 'qg-release-'));
after(() => rmSync(work, { recursive: true, force: true }));

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(command, args, { encoding: 'utf8', env, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('npm run release builds a tarball that installs offline and puts qgate and quorumgate-node on PATH', { timeout: 900_000 }, () => {
  const built = run(process.execPath, [repoPath('scripts', 'release.mjs'), '--out', join(work, 'out')]);
  assert.equal(built.status, 0, `release failed: ${built.stderr}`);
  const { tarball } = JSON.parse(built.stdout.trim().split('\n').at(-1)!) as { tarball: string };
  assert.match(tarball, /quorumgate-\d+\.\d+\.\d+\.tgz$/);
  const prefix = join(work, 'prefix');
  const installed = run('npm', ['install', '-g', '--offline', '--no-audit', '--no-fund', '--prefix', prefix, tarball]);
  assert.equal(installed.status, 0, `npm install -g failed: ${installed.stderr}`);
  const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` };
  const version = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
  const qgate = run('qgate', ['--version'], env);
  assert.equal(qgate.status, 0, qgate.stderr);
  assert.equal(qgate.stdout.trim(), version.version);

  // -o json prints exactly one JSON document: nothing else on stdout.
  const keyFile = join(work, 'admin.key');
  const keys = run('qgate', ['-o', 'json', 'keys', 'gen', '--out', keyFile], env);
  assert.equal(keys.status, 0, keys.stderr);
  const printed = JSON.parse(keys.stdout) as { publicKey: string };
  assert.match(printed.publicKey, /^[0-9a-f]{64}$/);

  const help = run('quorumgate-node', ['--help'], env);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /--config <file>/);
  const config = join(work, 'bad.yaml');
  writeFileSync(config, 'nodeId: 1\n');
  const refused = run('quorumgate-node', ['--config', config], env);
  assert.equal(refused.status, 2);
  assert.match(refused.stderr, new RegExp(`config ${config}: at .*dataDir|config ${config}: .*required`));

  const packageDir = join(prefix, 'lib', 'node_modules', 'quorumgate');
  for (const shipped of ['deploy/umbox/common/start', 'deploy/umbox/firewall/rules', 'deploy/host-setup.sh', 'deploy/systemd/quorumgate-node@.service', 'proto/commands.proto', 'dist/ui']) {
    assert.ok(existsSync(join(packageDir, shipped)), `${shipped} is in the installed package`);
  }
  assert.ok(!existsSync(join(packageDir, 'src')), 'the TypeScript source is not shipped, the build is');
  const host = run('quorumgate-host', ['no-such-command'], env);
  assert.equal(host.status, 2);
  assert.match(host.stderr, /unknown command "no-such-command"/);
});
