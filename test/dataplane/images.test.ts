// images.test.ts — goal: μmbox images are reproducible, so a pin recorded in policy stays valid: building
// an image twice gives byte-identical tars and the same digest; the tar is normalized (sorted names, mtime
// 0, owner 0) and holds busybox, nft and the libraries nft needs; the engine reports the tar's digest as
// the image's only layer; and a μmbox whose configuration is invalid never becomes ready (fail-closed).
// Method: build tars into a temporary directory (needs tar, busybox-static and nftables; skipped outside
// CI when missing); import into the private Docker engine and start one μmbox with a bad config (root and
// Docker needed; skipped outside CI when missing).
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { buildImage, buildImageTar, UMBOX_IMAGES } from '../../src/dataplane/umbox-images.js';
import { DockerUmboxRuntime } from '../../src/dataplane/docker-runtime.js';
import { DataplaneError } from '../../src/dataplane/errors.js';
import { run } from '../../src/dataplane/exec.js';
import { umboxName, umboxPorts } from '../../src/dataplane/planner.js';
import { requireInCi } from '../support/paths.js';
import { facilities, releaseFacilities } from './lab.js';

const tools = existsSync('/bin/busybox') && existsSync('/usr/sbin/nft');
if (!tools && requireInCi()) throw new Error('images tests need busybox-static and nftables (CI=true: failing instead of skipping)');
const dir = mkdtempSync(join(tmpdir(), 'qgt-images-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('μmbox image tars', { skip: tools ? false : 'needs busybox-static and nftables' }, () => {
  for (const image of UMBOX_IMAGES) {
    test(`${image}: two builds give byte-identical tars and the same digest`, async () => {
      const first = await buildImageTar(image, join(dir, `${image}-1.tar`));
      const second = await buildImageTar(image, join(dir, `${image}-2.tar`));
      assert.equal(first, second);
      assert.equal(first, `sha256:${createHash('sha256').update(readFileSync(join(dir, `${image}-1.tar`))).digest('hex')}`);
      assert.ok(readFileSync(join(dir, `${image}-1.tar`)).equals(readFileSync(join(dir, `${image}-2.tar`))));
    });
  }

  test('the tar is normalized and holds the image\'s scripts, busybox, nft and every library ldd lists', async () => {
    const tarPath = join(dir, 'monitor-1.tar');
    if (!existsSync(tarPath)) await buildImageTar('monitor', tarPath);
    const { stdout } = await run('tar', ['--numeric-owner', '--full-time', '-tvf', tarPath]);
    const lines = stdout.trim().split('\n');
    const paths = lines.map((line) => line.split(/\s+/)[5] ?? '');
    assert.deepEqual(paths, [...paths].sort(), 'entries are in name order');
    assert.ok(lines.every((line) => / 0\/0 /.test(line)), 'every entry is owned by 0/0');
    assert.ok(lines.every((line) => line.includes('1970-01-01 00:00:00')), 'every entry has mtime 0');
    for (const path of ['./bin/busybox', './bin/sh', './usr/sbin/nft', './umbox/start', './umbox/rules', './umbox/watch', './etc/umbox-image']) {
      assert.ok(paths.includes(path), `${path} is in the image`);
    }
    const libraries = (await run('ldd', ['/usr/sbin/nft'])).stdout.match(/\/[^\s]+(?=\s+\(0x)/g) ?? [];
    assert.ok(libraries.length > 3);
    for (const library of libraries) assert.ok(paths.includes(`.${library}`), `${library} is in the image`);
  });

  test('an image without a recipe is refused with image_build_failed', async () => {
    await assert.rejects(buildImageTar('no-such-image', join(dir, 'x.tar')), (error: unknown) => error instanceof DataplaneError && error.code === 'image_build_failed');
  });
});

const available = tools ? await facilities() : { ok: false as const, reason: 'busybox-static and nftables' };
after(async () => {
  if (available.ok) await releaseFacilities(available);
});

describe('μmbox images in the engine', { skip: available.ok ? false : `needs ${available.ok ? '' : available.reason}` }, () => {
  test('the engine reports the tar digest as the only layer; a μmbox with a bad config never becomes ready', async () => {
    assert.ok(available.ok);
    const runtime = new DockerUmboxRuntime({ socketPath: available.paths.dockerSocket, umboxDir: available.paths.umboxDir, readyTimeoutMs: 10_000 });
    const built = await buildImage(runtime, 'monitor');
    const inspected = await runtime.docker.getImage(built.reference).inspect();
    assert.deepEqual(inspected.RootFS.Layers, [built.digest]);
    const check = await runtime.checkImage('monitor', built.digest);
    assert.ok(check.ok);
    const name = umboxName(`qgt-${process.pid}-images`, 1, 'monitor', built.digest, {}, 0);
    const umbox = { name, nodeId: `qgt-${process.pid}-images`, deviceId: 'd', generation: 1, position: 0, image: 'monitor', digest: built.digest, config: { LOGIN_PORT: '22; flush ruleset' }, ...umboxPorts(name) };
    try {
      await assert.rejects(runtime.start(umbox, check.imageId), (error: unknown) => error instanceof DataplaneError && error.code === 'umbox_start_failed' && /UMBOX_LOGIN_PORT must be a port number/.test(error.message));
    } finally {
      await runtime.remove(name);
    }
  });

  test('a μmbox guards its rules: set elements may change; a chain changed by hand, or its watcher gone, makes it exit', async () => {
    assert.ok(available.ok);
    const runtime = new DockerUmboxRuntime({ socketPath: available.paths.dockerSocket, umboxDir: available.paths.umboxDir, readyTimeoutMs: 10_000 });
    const built = await buildImage(runtime, 'monitor');
    const check = await runtime.checkImage('monitor', built.digest);
    assert.ok(check.ok);
    const name = umboxName(`qgt-${process.pid}-guard`, 1, 'monitor', built.digest, {}, 0);
    const umbox = { name, nodeId: `qgt-${process.pid}-guard`, deviceId: 'd', generation: 1, position: 0, image: 'monitor', digest: built.digest, config: {}, ...umboxPorts(name) };
    const exec = async (argv: string[]): Promise<void> => {
      await run('docker', ['-H', `unix://${available.paths.dockerSocket}`, 'exec', name, ...argv]);
    };
    const state = async (): Promise<{ Running: boolean; ExitCode: number }> => (await runtime.docker.getContainer(name).inspect()).State;
    const exited = async (): Promise<{ Running: boolean; ExitCode: number }> => {
      const deadline = Date.now() + 10_000;
      let now = await state();
      while (now.Running && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        now = await state();
      }
      return now;
    };
    try {
      await runtime.start(umbox, check.imageId);
      // What the monitor does by design: its sets fill. The guard must not take that for tampering.
      await exec(['nft', 'add', 'element', 'netdev', 'umbox', 'attempts', '{ 10.9.9.8 }']);
      await exec(['nft', 'add', 'element', 'netdev', 'umbox', 'offenders', '{ 10.9.9.9 }']);
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      assert.equal((await state()).Running, true, 'set elements changed: the μmbox keeps running');

      await exec(['nft', 'flush', 'chain', 'netdev', 'umbox', 'in']);
      const flushed = await exited();
      assert.equal(flushed.Running, false, 'a chain flushed by hand: the μmbox exits');
      assert.equal(flushed.ExitCode, 3);
      assert.match((await runtime.docker.getContainer(name).logs({ stdout: true, stderr: true })).toString('utf8'), /rules were changed in place/);

      await runtime.start(umbox, check.imageId);
      // The image has no pkill: find the watcher by its command line (not this shell's own).
      await exec(['sh', '-c', 'for p in /proc/[0-9]*; do n=${p#/proc/}; [ "$n" = "$$" ] && continue; case "$(tr "\\0" " " < $p/cmdline 2>/dev/null)" in "/bin/sh /umbox/watch"*) kill "$n";; esac; done']);
      const watcherGone = await exited();
      assert.equal(watcherGone.Running, false, 'the watcher killed: the μmbox exits');
      assert.equal(watcherGone.ExitCode, 4);
    } finally {
      await runtime.remove(name);
    }
  });
});
