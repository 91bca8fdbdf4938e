// cmd-observe.ts — status (every endpoint, like `etcdctl endpoint status`) and watch (server-sent events).
import type { Command } from 'commander';
import { backoffMs, describeNetworkError } from './client.js';
import { statusRow, describeEffect } from './cmd-cluster.js';
import { RETRY_BASE_DELAY_MS, RETRY_MAX_DELAY_MS } from './constants.js';
import type { Context } from './context.js';
import { CliError } from './errors.js';
import type { Action } from './options.js';
import { positiveInteger } from './cmd-offline.js';
import { cell, renderTable } from './output.js';
import { SseParser } from './sse.js';

/** MAX_WATCH_RECONNECTS bounds consecutive failed (re)connections of `watch` before it gives up. */
export const MAX_WATCH_RECONNECTS = 10;

async function status(ctx: Context): Promise<void> {
  const client = ctx.client();
  const answers = await Promise.all(client.endpoints.map(async (endpoint) => {
    try {
      return { endpoint, status: await client.getFrom(endpoint, '/v1/status') };
    } catch (error) {
      if (error instanceof CliError) return { endpoint, error: error.message };
      throw error;
    }
  }));
  const headers = ['ENDPOINT', 'ID', 'ROLE', 'LEADER', 'TERM', 'COMMIT', 'APPLIED', 'STATE HASH', 'ENFORCED', 'ERROR'];
  const rows = answers.map((a) => (a.status !== undefined ? statusRow(a.endpoint, a.status) : [a.endpoint, '-', '-', '-', '-', '-', '-', '-', '-', a.error ?? '']));
  ctx.print(answers.map((a) => (a.status !== undefined ? { endpoint: a.endpoint, ...a.status } : { endpoint: a.endpoint, error: a.error })), renderTable(headers, rows));
  const failed = answers.filter((a) => a.status === undefined).length;
  if (failed > 0) throw new CliError('UNAVAILABLE', `${failed} of ${answers.length} endpoints did not answer`);
}

/** describeReading renders one reading of a telemetry entry: `reading DEVICE SENSOR = VALUE`. */
export function describeReading(reading: unknown): string {
  if (typeof reading !== 'object' || reading === null) return `reading ${cell(reading)}`;
  const r = reading as Record<string, unknown>;
  return `reading ${cell(r['deviceId'])} ${cell(r['sensor'])} = ${typeof r['value'] === 'string' ? JSON.stringify(r['value']) : cell(r['value'])}`;
}

/** formatWatchEvent renders one `applied` event for a person (one line; readings, then effects, indented below). */
export function formatWatchEvent(data: Record<string, unknown>): string {
  const time = typeof data['timeMs'] === 'number' ? new Date(data['timeMs']).toISOString() : '-';
  const verdict = data['ok'] === false ? `REJECTED ${cell(data['code'])}` : 'ok';
  const readings = Array.isArray(data['readings']) ? data['readings'].map((r) => `    ${describeReading(r)}`) : [];
  const effects = Array.isArray(data['effects']) ? data['effects'].map((e) => `    ${describeEffect(e)}`) : [];
  return [`${time}  #${cell(data['index'])} term ${cell(data['term'])}  ${cell(data['kind'])}  ${verdict}`, ...readings, ...effects].join('\n') + '\n';
}

/** WATCH_IDLE_MS is how long `watch` waits for any byte (events or 15 s keep-alives) before reconnecting. */
export const WATCH_IDLE_MS = 45_000;

/** WatchPosition is the next log index to ask for; undefined means "from now". */
interface WatchPosition {
  next: number | undefined;
}

/**
 * readStream prints the `applied` events of one SSE response until it ends or fails, advancing
 * `position` as it prints (so a failure mid-stream keeps what was printed). `connection` is aborted
 * when no byte arrives for idleMs (a silent partition).
 */
async function readStream(ctx: Context, body: ReadableStream<Uint8Array>, position: WatchPosition, idleMs: number, connection: AbortController): Promise<void> {
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let idle = setTimeout(() => connection.abort(), idleMs);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      clearTimeout(idle);
      if (done) return;
      idle = setTimeout(() => connection.abort(), idleMs);
      for (const event of parser.push(decoder.decode(value, { stream: true }))) {
        if (event.event === 'gap') {
          ctx.note(`qgate: watch: some entries were not delivered (${event.data})`);
          continue;
        }
        if (event.event !== 'applied') continue;
        let data: unknown;
        try {
          data = JSON.parse(event.data);
        } catch {
          ctx.note('qgate: watch: skipped an event whose data is not JSON');
          continue;
        }
        if (typeof data !== 'object' || data === null) continue;
        const record = data as Record<string, unknown>;
        // A reconnection asks from the entry after the last one printed, so none is printed twice.
        if (typeof record['index'] === 'number') {
          if (position.next !== undefined && record['index'] < position.next) continue;
          position.next = record['index'] + 1;
        }
        ctx.io.stdout(ctx.json ? `${JSON.stringify(record)}\n` : formatWatchEvent(record));
      }
    }
  } finally {
    clearTimeout(idle);
  }
}

async function watch(ctx: Context, options: { from?: number; idleTimeout: number }): Promise<void> {
  const client = ctx.client();
  const fetchFunction = ctx.fetch();
  const sleep = ctx.io.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const signal = ctx.io.signal;
  // A function, not a property read, because the signal changes under the awaits below.
  const aborted = (): boolean => signal?.aborted === true;
  const position: WatchPosition = { next: options.from };
  let failures = 0;
  let endpointAt = 0;
  while (!aborted()) {
    const endpoint = client.endpoints[endpointAt % client.endpoints.length] as string;
    const url = `${endpoint}/v1/watch${position.next === undefined ? '' : `?from=${position.next}`}`;
    const before = position.next;
    const connection = new AbortController();
    let reason: string;
    try {
      const response = await fetchFunction(url, {
        headers: { accept: 'text/event-stream' },
        signal: signal ? AbortSignal.any([signal, connection.signal]) : connection.signal,
      });
      if (response.status !== 200 || response.body === null) {
        const text = await response.text();
        if (response.status >= 400 && response.status < 500) throw new CliError(response.status === 404 ? 'NOT_FOUND' : 'BAD_INPUT', `GET ${url}: HTTP ${response.status} ${text.slice(0, 200)}`);
        reason = `HTTP ${response.status}`;
      } else {
        if (failures > 0 || position.next !== undefined) ctx.note(`qgate: watching ${endpoint}${position.next === undefined ? '' : ` from index ${position.next}`}`);
        await readStream(ctx, response.body, position, options.idleTimeout, connection);
        reason = 'the stream ended';
      }
    } catch (error) {
      if (aborted()) return;
      if (error instanceof CliError) throw error;
      reason = connection.signal.aborted ? `no data for ${options.idleTimeout} ms` : describeNetworkError(error);
    }
    // A connection that delivered entries was a success: only consecutive empty ones count.
    failures = position.next !== before ? 1 : failures + 1;
    if (failures > MAX_WATCH_RECONNECTS) throw new CliError('UNAVAILABLE', `watch: gave up after ${MAX_WATCH_RECONNECTS} failed connections (last: ${endpoint}: ${reason})`);
    ctx.note(`qgate: watch: ${endpoint}: ${reason}; reconnecting`);
    endpointAt += 1;
    await sleep(backoffMs(failures, RETRY_BASE_DELAY_MS, RETRY_MAX_DELAY_MS));
  }
}

/** registerObserve adds status and watch. */
export function registerObserve(program: Command, run: Action): void {
  program.command('status').description('the status of every endpoint: role, leader, term, commit/applied index, state hash, enforcement')
    .action(run((ctx) => status(ctx)));
  program.command('watch').description('print applied entries as they happen (server-sent events), with the sensor readings they carry, until Ctrl-C')
    .option('--from <index>', 'start at this log index (default: from now)', positiveInteger('--from', true))
    .option('--idle-timeout <ms>', 'reconnect to the next endpoint when nothing (not even a keep-alive) arrives for this long', positiveInteger('--idle-timeout'), WATCH_IDLE_MS)
    .action(run((ctx, options: { from?: number; idleTimeout: number }) => watch(ctx, options)));
}
