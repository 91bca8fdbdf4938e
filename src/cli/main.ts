#!/usr/bin/env node
// main.ts — the qgate process: runs the CLI with the real stdout, stderr, environment and clock, and
// ends watch on Ctrl-C (SIGINT) or SIGTERM. Run as `npm run qgate -- ARGS` or `node dist/src/cli/main.js ARGS`.
import { runCli } from './program.js';

const controller = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => controller.abort());
}

const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  nowMs: () => Date.now(),
  signal: controller.signal,
});
process.exitCode = code;
