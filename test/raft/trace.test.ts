// trace.test.ts — data-driven traces of the Raft core (etcd-io/raft's testdata style): every
// file in test/raft/testdata is a script whose checked-in output is the exact, deterministic
// trace of messages, roles, applied entries and reads. A behaviour change shows up as a diff.
//
// Method: run each script with support/trace-runner.ts and compare with the file. To accept an
// intended change: RAFT_TRACE_REWRITE=1 npx tsx --test test/raft/trace.test.ts, then review
// the diff of test/raft/testdata like code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoPath } from '../support/paths.js';
import { runTraceFile } from './support/trace-runner.js';

const directory = repoPath('test', 'raft', 'testdata');
const files = readdirSync(directory).filter((name) => name.endsWith('.txt')).sort();

test('there are trace scripts', () => {
  assert.ok(files.length >= 5, `found ${files.length} in ${directory}`);
});

for (const name of files) {
  test(`trace ${name}`, () => {
    const path = join(directory, name);
    const expected = readFileSync(path, 'utf8');
    const actual = runTraceFile(expected);
    if (process.env.RAFT_TRACE_REWRITE === '1') {
      writeFileSync(path, actual);
      return;
    }
    assert.equal(actual, expected);
  });
}
