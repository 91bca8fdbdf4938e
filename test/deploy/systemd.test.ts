// systemd.test.ts — the systemd units of deploy/systemd (issue 17 item 2).
//
// Goal: every unit passes `systemd-analyze verify` with no warning (unknown keys, missing executables);
// the node unit is sandboxed (ProtectSystem, ProtectHome, NoNewPrivileges, a capability bounding set of
// exactly the capabilities its comments justify), restarts on failure but not on exit status 2 (a bad
// config), logs to journald; and its ExecStart command line, run with the unit's environment and the
// instance name substituted as systemd does, starts a node that answers /healthz and /readyz, stops
// cleanly on SIGTERM (exit 0), and exits 2 for a broken config.
// Method: systemd is not PID 1 in this container, so the units are not started by systemd: they are
// verified offline, parsed here, and the command line is expanded (%i, ${VAR}) and run as a process, with
// quorumgate-node found on PATH as an installed package puts it there.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../cluster/local-cluster.js';
import { repoPath, requireInCi } from '../support/paths.js';
import { pinnedFetch } from '../../src/cli/https-fetch.js';
import { qgateJson, requireBuild, waitFor } from './support.js';

const work = mkdtempSync(join(tmpdir(), 'qg-systemd-'));
after(() => rmSync(work, { recursive: true, force: true }));
const unitsDir = repoPath('deploy', 'systemd');

/** Unit is a parsed unit file: each key's values in order, per section. */
type Unit = Map<string, Map<string, string[]>>;

/** parseUnit reads a unit file's sections and keys (comments and blank lines skipped). */
function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(\w+)\]$/.exec(line);
    if (header !== null) {
      section = new Map();
      unit.set(header[1]!, section);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(section !== undefined && eq > 0, `unit line outside a section or without "=": ${line}`);
    const key = line.slice(0, eq);
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1)]);
  }
  return unit;
}

function one(unit: Unit, section: string, key: string): string {
  const values = unit.get(section)?.get(key) ?? [];
  assert.equal(values.length, 1, `[${section}] ${key} is set once`);
  return values[0]!;
}

/** unitEnvironment gathers Environment= assignments (space-separated KEY=VALUE, no quoting used in our units). */
function unitEnvironment(unit: Unit): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of unit.get('Service')?.get('Environment') ?? []) {
    for (const assignment of line.split(/\s+/)) {
      const eq = assignment.indexOf('=');
      env[assignment.slice(0, eq)] = assignment.slice(eq + 1);
    }
  }
  return env;
}

/** expandCommand substitutes the instance (%i) and ${VAR}/$VAR as systemd does for ExecStart, then splits words. */
function expandCommand(command: string, instance: string, env: Record<string, string>): string[] {
  return command.replace(/%i/g, instance).split(/\s+/).map((word) => word.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => env[(a ?? b)!] ?? ''));
}

test('systemd-analyze verify accepts every unit without a warning', (t) => {
  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (analyze.status !== 0) {
    if (requireInCi()) assert.fail('systemd-analyze is missing (Debian package systemd)');
    t.skip('systemd-analyze is not installed');
    return;
  }
  const dir = join(work, 'units');
  mkdirSync(dir);
  const files: string[] = [];
  for (const name of readdirSync(unitsDir).filter((f) => f.endsWith('.service'))) {
    // A template is verified as an instance of itself, as systemd would load it.
    const target = join(dir, name.replace('@.service', '@n1.service'));
    copyFileSync(join(unitsDir, name), target);
    files.push(target);
  }
  assert.ok(files.length >= 4, `the node, OVS database, OVS switch and Docker units (found ${files.join(', ')})`);
  const verified = spawnSync('systemd-analyze', ['verify', ...files], { encoding: 'utf8' });
  assert.equal(verified.status, 0, verified.stderr);
  assert.equal(verified.stderr.trim(), '', 'no warning');
});

test('the node unit is sandboxed, restarts on failure except a bad config, and logs to journald', () => {
  const unit = parseUnit(readFileSync(join(unitsDir, 'quorumgate-node@.service'), 'utf8'));
  assert.equal(one(unit, 'Service', 'ProtectSystem'), 'strict');
  assert.equal(one(unit, 'Service', 'ProtectHome'), 'yes');
  assert.equal(one(unit, 'Service', 'NoNewPrivileges'), 'yes');
  assert.equal(one(unit, 'Service', 'Restart'), 'on-failure');
  assert.equal(one(unit, 'Service', 'RestartPreventExitStatus'), '2');
  assert.equal(one(unit, 'Service', 'StandardOutput'), 'journal');
  const capabilities = one(unit, 'Service', 'CapabilityBoundingSet').split(/\s+/).sort();
  assert.deepEqual(capabilities, ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_KILL', 'CAP_NET_ADMIN', 'CAP_SETGID', 'CAP_SETUID']);
  const text = readFileSync(join(unitsDir, 'quorumgate-node@.service'), 'utf8');
  for (const capability of capabilities) assert.match(text, new RegExp(`#\\s+(\\S+\\s+)?${capability}\\s+\\S`), `${capability} is justified in a comment`);
});

test('the node unit\'s ExecStart, run with its environment, starts a node that answers /healthz and stops on SIGTERM', { timeout: 120_000 }, async () => {
  requireBuild();
  const unit = parseUnit(readFileSync(join(unitsDir, 'quorumgate-node@.service'), 'utf8'));
  // The installed package's command on PATH (npm install -g puts a link to deploy/bin/quorumgate-node.mjs there).
  const bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(repoPath('deploy', 'bin', 'quorumgate-node.mjs'), join(bin, 'quorumgate-node'));
  const host = join(work, 'host');
  const api = await freePort();
  const card = qgateJson<{ publicKey: string }>(['node', 'init', '--id', 'n1', '--address', `127.0.0.1:${await freePort()}`, '--api', `127.0.0.1:${api}`, '--dir', join(host, 'node')]);
  qgateJson(['keys', 'gen', '--out', join(work, 'root.key')]);
  const etc = join(host, 'etc');
  qgateJson(['cluster', 'init', '--name', 'one', '--root-key', join(work, 'root.pub'), '--node', join(host, 'node', 'node.json'), '--out', etc]);
  // A drop-in moves the config directory (as an operator's would); everything else is the unit's own.
  const env = { ...unitEnvironment(unit), QG_CONFIG_DIR: etc, QG_RUN_DIR: join(work, 'run'), QG_DATA_DIR: join(work, 'data') };
  const argv = expandCommand(one(unit, 'Service', 'ExecStart'), 'n1', env);
  assert.deepEqual(argv, ['/usr/bin/env', 'quorumgate-node', '--config', join(etc, 'n1.yaml')]);
  const log = join(work, 'node.log');
  const child = spawn(argv[0]!, argv.slice(1), { env: { ...env, PATH: `${bin}:/usr/local/bin:/usr/bin:/bin` }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    // HTTPS with the node key's certificate (cluster init writes no apiTls: the default), pinned with the members file.
    const members = (JSON.parse(readFileSync(join(etc, 'members.json'), 'utf8')) as { members: Array<{ endpoint: string; publicKey: string }> }).members;
    assert.deepEqual(members.map((m) => [m.endpoint, m.publicKey]), [[`https://127.0.0.1:${api}`, card.publicKey]]);
    const pinned = pinnedFetch({ kind: 'pins', pins: { byOrigin: new Map([[members[0]!.endpoint, members[0]!.publicKey]]), members: new Set(), source: 'members.json' } });
    await waitFor(async () => (await pinned(`https://127.0.0.1:${api}/readyz`, {}).then((r) => r.ok, () => false)), 30_000, '/readyz');
    await assert.rejects(fetch(`http://127.0.0.1:${api}/healthz`), 'no plain HTTP');
    const health = await pinned(`https://127.0.0.1:${api}/healthz`, {});
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { ok: true });
    assert.match(output.join(''), /"msg":"node started"/, 'the node logs JSON lines on stdout, which journald keeps');
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, `a clean stop exits 0 (no restart by Restart=on-failure): ${output.join('').slice(-500)}`);
  writeFileSync(log, output.join(''));

  // A broken config exits 2, which RestartPreventExitStatus keeps systemd from restarting in a loop.
  writeFileSync(join(etc, 'n1.yaml'), 'nodeId: one\n');
  const broken = spawnSync(argv[0]!, argv.slice(1), { env: { ...env, PATH: `${bin}:/usr/bin:/bin` }, encoding: 'utf8', timeout: 30_000 });
  assert.equal(broken.status, 2);
  assert.match(broken.stderr, new RegExp(`config ${join(etc, 'n1.yaml')}: at \\w+`));
  assert.ok(existsSync(join(host, 'node', 'data')), 'the first start made its data directory under the node directory');
});
