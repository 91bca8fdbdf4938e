// host.test.ts — goal: host set-up is idempotent and honest about what it started: a first call starts
// ovsdb-server and ovs-vswitchd in their own run directory, a second call reuses them and says it started
// nothing, a daemon killed by hand is started again (and only it), and stop leaves nothing running.
// Method: a private OVS instance in a temporary run directory (not the shared one), driven through
// ensureHost/stopHost; processes are found by their pid files. Needs root and Open vSwitch: skipped with a
// message when missing, failed when CI=true. (The Docker half is exercised by every data-plane test file.)
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureHost, hostPaths, ovsAnswers, stopHost } from '../../src/dataplane/host.js';
import { pollUntil } from '../../src/dataplane/exec.js';
import { requireInCi } from '../support/paths.js';

const usable = process.getuid?.() === 0 && existsSync('/usr/sbin/ovs-vswitchd');
if (!usable && requireInCi()) throw new Error('host tests need root and openvswitch-switch (CI=true: failing instead of skipping)');
const dir = mkdtempSync('/tmp/qgt-host-');
const paths = hostPaths(join(dir, 'run'), join(dir, 'data'));
after(async () => {
  await stopHost(paths, { docker: false }).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

function alive(pidFile: string): boolean {
  try {
    process.kill(Number.parseInt(readFileSync(pidFile, 'utf8'), 10), 0);
    return true;
  } catch {
    return false;
  }
}

describe('host set-up', { skip: usable ? false : 'needs root and openvswitch-switch' }, () => {
  const vswitchdPid = join(paths.ovsDir, 'vswitchd.pid');
  const ovsdbPid = join(paths.ovsDir, 'ovsdb.pid');

  test('the first call starts OVS in its own run directory; the second reuses it and says so', async () => {
    const first = await ensureHost(paths, { install: false, docker: false });
    assert.equal(first.ovsStarted, true);
    assert.equal(first.dockerStarted, false);
    assert.ok(await ovsAnswers(paths));
    assert.ok(existsSync(join(paths.ovsDir, 'conf.db')) && existsSync(paths.ovsDbSocket));
    const pids = [readFileSync(ovsdbPid, 'utf8'), readFileSync(vswitchdPid, 'utf8')];
    const second = await ensureHost(paths, { install: false, docker: false });
    assert.equal(second.ovsStarted, false);
    assert.deepEqual([readFileSync(ovsdbPid, 'utf8'), readFileSync(vswitchdPid, 'utf8')], pids, 'the same processes');
  });

  test('a daemon killed by hand is started again, and only it', async () => {
    const ovsdbBefore = readFileSync(ovsdbPid, 'utf8');
    process.kill(Number.parseInt(readFileSync(vswitchdPid, 'utf8'), 10), 'SIGKILL');
    assert.ok(await pollUntil(() => !alive(vswitchdPid), 5000, 50));
    assert.equal(await ovsAnswers(paths), false);
    const status = await ensureHost(paths, { install: false, docker: false });
    assert.equal(status.ovsStarted, true);
    assert.ok(await ovsAnswers(paths));
    assert.equal(readFileSync(ovsdbPid, 'utf8'), ovsdbBefore, 'the database server was kept');
  });

  test('stop leaves no daemon running', async () => {
    const pids = [ovsdbPid, vswitchdPid].map((file) => Number.parseInt(readFileSync(file, 'utf8'), 10));
    await stopHost(paths, { docker: false });
    assert.equal(await ovsAnswers(paths), false);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), 'process is gone');
  });

  test('a stale pid file or control socket whose pid now names another process: stop leaves that process alone', async () => {
    // A daemon stopped hard leaves these behind; the pid is then free for any process to take.
    const bystander = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const pid = bystander.pid;
      assert.ok(pid !== undefined);
      mkdirSync(paths.ovsDir, { recursive: true });
      mkdirSync(paths.dockerExecDir, { recursive: true });
      for (const file of [ovsdbPid, vswitchdPid, paths.dockerPidFile]) writeFileSync(file, `${pid}\n`);
      for (const daemon of ['ovsdb-server', 'ovs-vswitchd']) writeFileSync(join(paths.ovsDir, `${daemon}.${pid}.ctl`), '');
      await stopHost(paths);
      assert.doesNotThrow(() => process.kill(pid, 0), 'the process that took the pid is still alive');
    } finally {
      bystander.kill('SIGKILL');
      for (const daemon of ['ovsdb-server', 'ovs-vswitchd']) rmSync(join(paths.ovsDir, `${daemon}.${bystander.pid}.ctl`), { force: true });
    }
  });
});
