// links.test.ts — goal: a LinkWatcher tells its listener when a host interface appears or goes (the event
// that lets a device plugged in after its registration get its flows at once), debounced, and nothing after
// close(). Method: a real `ip -o monitor link` while this test adds and deletes a dummy veth pair on the host.
// Needs root: skipped with a message when missing, failed when CI=true.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run, pollUntil } from '../../src/dataplane/exec.js';
import { LinkWatcher } from '../../src/dataplane/links.js';
import { requireInCi } from '../support/paths.js';

const root = process.getuid?.() === 0;
if (!root && requireInCi()) throw new Error('links.test needs root (CI=true: failing instead of skipping)');

test('a veth pair appearing and going is reported, debounced; nothing after close', { skip: root ? false : 'needs root' }, async () => {
  const name = `qtl${(process.pid % 46656).toString(36)}`;
  let calls = 0;
  const watcher = new LinkWatcher({ onChange: () => { calls++; }, debounceMs: 100 });
  try {
    await new Promise((resolve) => setTimeout(resolve, 300)); // the monitor starts
    await run('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
    assert.ok(await pollUntil(() => calls >= 1, 5_000, 20), 'the new interface was reported');
    assert.equal(calls, 1, 'the pair\'s several events came as one call');
    await run('ip', ['link', 'del', name]);
    assert.ok(await pollUntil(() => calls >= 2, 5_000, 20), 'its removal was reported');
  } finally {
    watcher.close();
    await run('ip', ['link', 'del', name], { allowFailure: true });
  }
  const after = calls;
  await run('ip', ['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
  await run('ip', ['link', 'del', name]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(calls, after, 'nothing after close');
});
