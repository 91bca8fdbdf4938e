// alerts.test.ts — goal: an alert is attributed to the μmbox whose channel carried it, never to what the
// line claims, so one μmbox cannot forge another's alerts; malformed and over-long lines are counted and
// dropped without disturbing the lines after them; a detached channel is no longer read.
// Method: real FIFOs in a temporary directory (the same files a μmbox container writes to), written by
// this process the way a μmbox's shell does, read by a real AlertIntake.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync, writeSync, closeSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlertIntake } from '../../src/dataplane/alerts.js';
import { pollUntil, run } from '../../src/dataplane/exec.js';
import type { PlannedUmbox, UmboxAlert } from '../../src/dataplane/types.js';

const root = mkdtempSync(join(tmpdir(), 'qgt-alerts-'));
after(() => rmSync(root, { recursive: true, force: true }));

function umbox(name: string, deviceId: string, image: string): PlannedUmbox {
  return { name, nodeId: 'n1', deviceId, generation: 3, position: 0, image, digest: `sha256:${'0'.repeat(64)}`, config: {}, inPort: 'qmi', outPort: 'qmo' };
}

async function channel(name: string): Promise<string> {
  const dir = join(root, name);
  mkdirSync(dir);
  await run('mkfifo', [join(dir, 'alert')]);
  return dir;
}

function write(dir: string, text: string): void {
  const fd = openSync(join(dir, 'alert'), constants.O_WRONLY | constants.O_NONBLOCK);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

describe('AlertIntake', () => {
  test('alerts are attributed by channel; a line naming another device is still the sender\'s', async () => {
    const alerts: UmboxAlert[] = [];
    const intake = new AlertIntake({ onAlert: (alert) => alerts.push(alert), clock: () => 1234 });
    try {
      const a = await channel('a');
      const b = await channel('b');
      intake.attach(umbox('mb-a', 'camera-1', 'monitor'), a);
      intake.attach(umbox('mb-b', 'plug-7', 'firewall'), b);
      write(a, 'brute-force src=10.0.0.66 port=22\n');
      write(b, 'brute-force device=camera-1 src=10.0.0.66\n'); // plug-7's μmbox pretends to speak for camera-1
      assert.ok(await pollUntil(() => alerts.length === 2, 2000, 10));
      const sorted = [...alerts].sort((x, y) => x.deviceId.localeCompare(y.deviceId));
      assert.deepEqual(sorted, [
        { deviceId: 'camera-1', image: 'monitor', generation: 3, alertType: 'brute-force', detail: 'src=10.0.0.66 port=22', observedAtMs: 1234 },
        { deviceId: 'plug-7', image: 'firewall', generation: 3, alertType: 'brute-force', detail: 'device=camera-1 src=10.0.0.66', observedAtMs: 1234 },
      ]);
    } finally {
      intake.close();
    }
  });

  test('a μmbox kept by a later plan (same container, new generation) reports under the generation that uses it now', async () => {
    const alerts: UmboxAlert[] = [];
    const intake = new AlertIntake({ onAlert: (alert) => alerts.push(alert) });
    try {
      const dir = await channel('kept');
      intake.attach(umbox('mb-kept', 'camera-2', 'monitor'), dir);
      write(dir, 'brute-force src=10.0.0.1\n');
      assert.ok(await pollUntil(() => alerts.length === 1, 2000, 10));
      intake.attach({ ...umbox('mb-kept', 'camera-2', 'monitor'), generation: 4 }, dir);
      write(dir, 'brute-force src=10.0.0.2\n');
      assert.ok(await pollUntil(() => alerts.length === 2, 2000, 10));
      assert.deepEqual(alerts.map((alert) => alert.generation), [3, 4]);
      assert.deepEqual(intake.attached(), ['mb-kept'], 'still one channel');
    } finally {
      intake.close();
    }
  });

  test('a μmbox destroyed and created again under the same name is read from its new FIFO, not the deleted one', async () => {
    const alerts: UmboxAlert[] = [];
    const intake = new AlertIntake({ onAlert: (alert) => alerts.push(alert) });
    try {
      const dir = await channel('recreated');
      intake.attach(umbox('mb-again', 'camera-3', 'monitor'), dir);
      write(dir, 'brute-force src=10.0.0.1\n');
      assert.ok(await pollUntil(() => alerts.length === 1, 2000, 10));
      // The container goes and a new one of the same name comes, with a new channel directory and FIFO.
      rmSync(dir, { recursive: true, force: true });
      const again = await channel('recreated');
      intake.attach(umbox('mb-again', 'camera-3', 'monitor'), again);
      write(again, 'brute-force src=10.0.0.2\n');
      assert.ok(await pollUntil(() => alerts.length === 2, 2000, 10), 'the new FIFO is read');
      assert.equal(alerts[1]!.detail, 'src=10.0.0.2');
      assert.deepEqual(intake.attached(), ['mb-again']);
    } finally {
      intake.close();
    }
  });

  test('lines split across writes are joined; malformed and over-long lines are counted and skipped', async () => {
    const alerts: UmboxAlert[] = [];
    const intake = new AlertIntake({ onAlert: (alert) => alerts.push(alert) });
    try {
      const dir = await channel('c');
      intake.attach(umbox('mb-c', 'lock-2', 'monitor'), dir);
      write(dir, 'port-sc');
      await new Promise((resolve) => setTimeout(resolve, 50));
      write(dir, 'an src=10.1.1.1\n');
      write(dir, 'Bad Type\n');
      write(dir, `too-long ${'x'.repeat(600)}`);
      write(dir, `${'y'.repeat(100)}\nafter-long ok=1\n`);
      write(dir, 'weird detail=$(rm -rf /)\n');
      assert.ok(await pollUntil(() => alerts.length === 2 && intake.malformed === 3, 2000, 10), `alerts ${JSON.stringify(alerts)}, malformed ${intake.malformed}`);
      assert.deepEqual(alerts.map((alert) => [alert.alertType, alert.detail]), [['port-scan', 'src=10.1.1.1'], ['after-long', 'ok=1']]);
    } finally {
      intake.close();
    }
  });

  test('a channel replaced by a symlink or a regular file is refused, so a μmbox cannot read as another', async () => {
    const alerts: UmboxAlert[] = [];
    const intake = new AlertIntake({ onAlert: (alert) => alerts.push(alert) });
    try {
      const victim = await channel('victim');
      const thief = join(root, 'thief');
      mkdirSync(thief);
      symlinkSync(join(victim, 'alert'), join(thief, 'alert'));
      const plain = join(root, 'plain');
      mkdirSync(plain);
      writeFileSync(join(plain, 'alert'), 'brute-force src=9.9.9.9\n');
      intake.attach(umbox('mb-thief', 'thief-device', 'monitor'), thief);
      intake.attach(umbox('mb-plain', 'plain-device', 'monitor'), plain);
      assert.deepEqual(intake.attached(), []);
      assert.equal(intake.refused, 2);
      intake.attach(umbox('mb-victim', 'victim-device', 'monitor'), victim);
      write(victim, 'brute-force src=10.0.0.66\n');
      assert.ok(await pollUntil(() => alerts.length === 1, 2000, 10));
      assert.equal(alerts[0]?.deviceId, 'victim-device');
    } finally {
      intake.close();
    }
  });

  test('a detached channel is not read any more', async () => {
    const alerts: UmboxAlert[] = [];
    const intake = new AlertIntake({ onAlert: (alert) => alerts.push(alert) });
    const dir = await channel('d');
    intake.attach(umbox('mb-d', 'tv', 'monitor'), dir);
    intake.attach(umbox('mb-d', 'tv', 'monitor'), dir); // idempotent
    assert.deepEqual(intake.attached(), ['mb-d']);
    intake.detach('mb-d');
    assert.deepEqual(intake.attached(), []);
    try {
      write(dir, 'brute-force src=1.2.3.4\n');
    } catch (error) {
      assert.equal((error as NodeJS.ErrnoException).code, 'ENXIO', 'nobody reads the FIFO any more');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(alerts, []);
    intake.close();
  });
});
