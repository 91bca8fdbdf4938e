// scripts/run-tests.mjs — runs every compiled test file under dist/test with node:test, in two phases.
// Node 20's `node --test` does not expand globs, so the files are listed here.
// Usage: node scripts/run-tests.mjs [--list] [substring-filter ...]   (--list: print each phase's files, run none)
// TEST_PARALLEL_CONCURRENCY (default 2) and TEST_CONCURRENCY (default 1) set each phase's concurrency.
//
// Phase 1 runs the files listed in PARALLEL_SAFE two at a time (`--test-concurrency=2`, one per core of
// the CI machine): they work in their own process and temp directories and touch nothing another test
// uses. Phase 2 runs every other file one at a time, as the whole suite ran before: clusters of node
// processes (node ids n1..n3), the shared Open vSwitch and Docker engine, network namespaces, Mosquitto,
// etcd, Chromium, and the in-process tests that assert a real-time bound (an event-loop delay, an
// election within a timeout), which a neighbour on the other core could break. A new test file is
// serial until it is listed here.
//
// A listed file is checked before anything runs: if it, or a helper under dist/test it imports, names
// something only a serial file may use (HEAVY_MARKERS), the run stops and says which file and what.
// Both phases run even when the first fails; the exit status is non-zero if either did.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';

const ROOT = 'dist/test';
/** FILE_TIMES_REPORTER prints each phase's slowest files when it ends (a second reporter beside spec). */
const FILE_TIMES_REPORTER = new URL('./test-file-times.mjs', import.meta.url).href;

/**
 * PARALLEL_SAFE lists the test files that run in phase 1: a path under test/ without ".test.ts", or a folder
 * ending in "/" for every test file under it. Only pure logic, in-memory stand-ins, temp directories and
 * loopback servers on port 0, with no real-time bound asserted (a timeout that only bounds a wait is fine).
 */
const PARALLEL_SAFE = [
  'architecture/', 'commands/', 'policy/', 'raft/', 'state/', 'wire/',
  'api/api-tls', 'api/device-api', 'api/duplicates', 'api/gateway-api', 'api/scoped-reads', 'api/rate-limit', 'api/request-logging', 'api/verify-ahead', 'api/watch',
  'bench/devices', 'bench/etcd-ceiling', 'bench/etcd', 'bench/hostile', 'bench/reaction-cluster-report',
  'chaos/checkers', 'chaos/cli', 'chaos/hostile-checkers', 'chaos/linearizability', 'chaos/report',
  'cli/',
  'dataplane/agent', 'dataplane/alerts', 'dataplane/flow-table', 'dataplane/flows', 'dataplane/pass-schedule',
  'dataplane/planner', 'dataplane/state-adapter', 'dataplane/telemetry', 'dataplane/umbox-pools',
  // The release build and an offline install into temp directories: no engine, no node started (its one
  // rewrite in the checkout, dist/ui, is read by no phase-1 test: dashboard-routes serves a temp copy).
  'deploy/release',
  'devices/command-runner', 'devices/node-proposer', 'devices/units',
  'fuzz/envelopes', 'fuzz/policy-yaml', 'fuzz/raft-messages', 'fuzz/wire-codec',
  // Not node/runtime-prepare: three in-process runtimes with a 100 ms election timeout on real timers lost
  // their leader mid-test beside the release build (2026-12-07), so it stays serial like leader-loss.
  'node/datapath-config', 'node/gateway-applier', 'node/plant-delete-then-add', 'node/plants', 'node/propose-outcome',
  'node/raft-runtime-invariants', 'node/raft-runtime-requests', 'node/runtime-membership',
  'storage/leveldb', 'storage/memory',
  'tls/api-cert-store', 'tls/api-cert', 'tls/node-cert',
  'transport/framing', 'transport/peer-certificate',
  'ui/dashboard-routes',
];

/**
 * HEAVY_MARKERS are what a phase-1 file (or a dist/test helper it imports) must not contain: helpers that
 * start clusters or labs, the shared engines and host tools, node processes, a browser, a root requirement.
 */
const HEAVY_MARKERS = [
  /local-cluster\.js/, /cluster-support\.js/, /netlab\.js/, /devlab\.js/, /cluster\/wan\.js/, /demo-site\.js/,
  /etcd-cluster\.js/, /\/lab\.js/, /facilities\(/, /(?<!function )requireInCi\(/, /puppeteer/,
  /\b(run|spawn|spawnSync|execFile|execFileSync)\(\s*['"](ovs-\w+|docker|ip|nft|iptables|mosquitto|etcd|sysctl|busybox|chromium)['"]/,
  /nodeEntryPoint\(|['"]node['"],\s*['"]main\.js['"]|src\/node\/main\.js/,
];

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

/** isParallelSafe says whether a compiled test file (dist/test/...) is listed in PARALLEL_SAFE. */
function isParallelSafe(file) {
  const path = relative(ROOT, file).split('\\').join('/');
  return PARALLEL_SAFE.some((entry) => (entry.endsWith('/') ? path.startsWith(entry) : path === `${entry}.test.js`));
}

/** heavyMarker returns "<file>: <marker>" for the first heavy marker in file or its dist/test imports, if any. */
function heavyMarker(file, seen = new Set()) {
  if (seen.has(file)) return undefined;
  seen.add(file);
  // Comments are left out: a comment may name what the file does not use.
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const marker = HEAVY_MARKERS.find((pattern) => pattern.test(text));
  if (marker) return `${file}: ${marker}`;
  for (const [, spec] of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)) {
    const target = resolve(dirname(file), spec);
    if (!target.startsWith(resolve(ROOT)) || !existsSync(target)) continue;
    const found = heavyMarker(target, seen);
    if (found) return found;
  }
  return undefined;
}

/** runPhase runs files under node:test with the given concurrency; returns its exit status and seconds. */
function runPhase(name, files, concurrency) {
  if (files.length === 0) return { status: 0, seconds: 0 };
  console.log(`run-tests: ${name}: ${files.length} files, ${concurrency} at a time`);
  const started = process.hrtime.bigint();
  const result = spawnSync(
    process.execPath,
    [
      '--enable-source-maps', '--test', `--test-concurrency=${concurrency}`,
      '--test-reporter=spec', '--test-reporter-destination=stdout',
      `--test-reporter=${FILE_TIMES_REPORTER}`, '--test-reporter-destination=stdout',
      ...files,
    ],
    { stdio: 'inherit' },
  );
  return { status: result.status ?? 1, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

const list = process.argv.includes('--list');
const filters = process.argv.slice(2).filter((arg) => arg !== '--list');
const files = walk(ROOT).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error(`no test files found under ${ROOT}${filters.length ? ` matching ${filters.join(', ')}` : ''}; run "npm run build" first`);
  process.exit(1);
}
const parallel = files.filter(isParallelSafe);
const serial = files.filter((f) => !isParallelSafe(f));
const misplaced = parallel.flatMap((f) => {
  const found = heavyMarker(f);
  return found === undefined ? [] : [`${f} (${found})`];
});
if (misplaced.length > 0) {
  console.error(`run-tests: listed in PARALLEL_SAFE but uses what only a serial test may (move it out of the list in scripts/run-tests.mjs):\n  ${misplaced.join('\n  ')}`);
  process.exit(1);
}

if (list) {
  console.log(`phase 1 (parallel):\n  ${parallel.join('\n  ')}\nphase 2 (serial):\n  ${serial.join('\n  ')}`);
  process.exit(0);
}

const parallelConcurrency = process.env.TEST_PARALLEL_CONCURRENCY ?? '2';
const serialConcurrency = process.env.TEST_CONCURRENCY ?? '1';
const first = runPhase('phase 1 (files that share nothing)', parallel, parallelConcurrency);
const second = runPhase('phase 2 (clusters, engines, real-time bounds)', serial, serialConcurrency);
console.log(`run-tests: phase 1 exit ${first.status} in ${first.seconds.toFixed(0)} s; phase 2 exit ${second.status} in ${second.seconds.toFixed(0)} s`);
process.exit(first.status !== 0 ? first.status : second.status);
