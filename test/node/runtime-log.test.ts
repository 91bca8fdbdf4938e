// runtime-log.test.ts — node logs are size-bounded and rotated (issue 15: node logs were appended
// forever; a connection flood wrote 17.7 MB in 40 s).
//
// Goal: with --log-file, a node writes its log itself and rotates it by size: FILE, FILE.1 .. FILE.N,
// none much over maxBytes, the oldest deleted, the newest lines in FILE; bad bounds are refused.
// Method: rotatingLog under a real pino logger writing real files; then the real node program (from
// source, through tsx) on a LocalCluster's config with a tiny --log-max-bytes and debug logging, one
// node of three started so that it keeps campaigning and logging.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { LocalCluster } from '../../cluster/local-cluster.js';
import { rotatingLog } from '../../src/node/runtime-log.js';
import { repoPath } from '../support/paths.js';
import { FAST_TIMING } from './cluster-support.js';

const dirs: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'qg-log-'));
  dirs.push(dir);
  return dir;
}

describe('node logs are bounded and rotated', () => {
  test('rotatingLog keeps FILE and FILE.1..N, each near maxBytes, the newest lines in FILE', () => {
    const dir = tempDir();
    const file = join(dir, 'node.log');
    const destination = rotatingLog({ file, maxBytes: 4096, files: 2 });
    const logger = pino({ base: null }, destination);
    for (let i = 0; i < 1000; i++) logger.info({ i, pad: 'p'.repeat(40) }, 'line');
    destination.flush();
    assert.deepEqual(readdirSync(dir).sort(), ['node.log', 'node.log.1', 'node.log.2']);
    for (const name of ['node.log', 'node.log.1', 'node.log.2']) {
      assert.ok(statSync(join(dir, name)).size < 4096 + 200, `${name} is ${statSync(join(dir, name)).size} bytes`);
    }
    assert.ok(destination.rotations > 20, `${destination.rotations} rotations`);
    // Oldest to newest: FILE.2, FILE.1, FILE; together the most recent lines, in order, ending with the last.
    const indexes = ['node.log.2', 'node.log.1', 'node.log'].flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter((line) => line !== ''))
      .map((line) => (JSON.parse(line) as { i: number }).i);
    assert.equal(indexes.at(-1), 999);
    assert.deepEqual(indexes, indexes.map((_, k) => indexes[0]! + k), 'consecutive lines, none lost between files');
  });

  test('bad bounds are refused, naming what was expected', () => {
    assert.throws(() => rotatingLog({ file: join(tempDir(), 'x.log'), maxBytes: 10 }), /log max bytes: expected an integer >= 1024, got 10/);
    assert.throws(() => rotatingLog({ file: join(tempDir(), 'x.log'), files: 0 }), /log files: expected an integer from 1 to 100, got 0/);
  });

  test('the node program with --log-file rotates its log by size', { timeout: 60_000 }, async () => {
    const cluster = await LocalCluster.create({ dir: tempDir(), nodes: 3, application: 'log', timing: FAST_TIMING });
    const dir = cluster.nodeDir(1);
    const file = join(dir, 'own.log');
    const child = spawn(process.execPath, ['--import', 'tsx', repoPath('src', 'node', 'main.ts'), '--config', join(dir, 'config.yaml'),
      '--log-level', 'debug', '--log-file', file, '--log-max-bytes', '2048', '--log-files', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const deadline = Date.now() + 45_000;
    while (!existsSync(`${file}.2`)) {
      assert.ok(child.exitCode === null, `the node exited (${child.exitCode}): ${output}`);
      assert.ok(Date.now() < deadline, `no second rotation in 45 s; files: ${readdirSync(dir).join(', ')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(existsSync(`${file}.3`), false, 'at most two rotated files are kept');
    for (const name of ['own.log', 'own.log.1', 'own.log.2']) {
      const path = join(dir, name);
      if (existsSync(path)) assert.ok(statSync(path).size < 2048 + 4096, `${name} is ${statSync(path).size} bytes`);
    }
    assert.equal(output.includes('"level"'), false, 'nothing is logged on stdout');
  });
});
