// exec.ts — running the host tools the adapters drive (ovs-vsctl, ovs-ofctl, ip, nsenter, tar, apt-get),
// always with an argument vector (never a shell), a time limit and bounded output.
import { spawn } from 'node:child_process';
import { DataplaneError } from './errors.js';

/** ExecOptions are the limits and environment of one tool run. */
export interface ExecOptions {
  /** timeoutMs kills the tool after this long (default 20 s). */
  timeoutMs?: number;
  /** env is merged over process.env. */
  env?: Record<string, string>;
  /** input is written to the tool's standard input. */
  input?: string | Buffer;
  /** allowFailure returns the result instead of throwing when the tool exits non-zero. */
  allowFailure?: boolean;
  /** maxOutputBytes bounds what is kept of stdout and of stderr (default 32 MiB). */
  maxOutputBytes?: number;
}

/** ExecResult is what one tool run printed and how it ended. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

const DEFAULT_TIMEOUT_MS = 20_000;
const DEFAULT_MAX_OUTPUT_BYTES = 32 * 1024 * 1024;

/** run executes `file` with `args` and resolves with its output; non-zero exit throws `command_failed`. */
export function run(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const shown = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: options.env ? { ...process.env, ...options.env } : process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      if (outBytes + chunk.length <= maxOutputBytes) out.push(chunk);
      outBytes += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (errBytes + chunk.length <= maxOutputBytes) err.push(chunk);
      errBytes += chunk.length;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (cause) => {
      clearTimeout(timer);
      reject(new DataplaneError('command_failed', `${shown}: could not start: ${cause.message}`, { cause }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
      if (timedOut) {
        reject(new DataplaneError('command_timeout', `${shown}: no answer within ${timeoutMs} ms`));
      } else if (result.code !== 0 && !options.allowFailure) {
        const detail = result.stderr.trim() || result.stdout.trim() || `signal ${signal ?? 'none'}`;
        reject(new DataplaneError('command_failed', `${shown}: exit ${result.code}: ${detail.slice(0, 2000)}`));
      } else {
        resolve(result);
      }
    });
    child.stdin.on('error', () => {
      // The tool may exit before reading its input; its exit status reports the failure.
    });
    child.stdin.end(options.input ?? '');
  });
}

/** sleepMs resolves after `ms` milliseconds. */
export function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** pollUntil calls `check` every `intervalMs` until it returns true or `timeoutMs` passes; returns the last answer. */
export async function pollUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleepMs(intervalMs);
  }
}
