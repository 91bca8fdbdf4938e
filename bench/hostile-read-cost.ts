// hostile-read-cost.ts — what one read costs a node's API, on a new HTTPS connection and on a kept-alive
// one (issue 15, bench:hostile's status-poll flood, which opens a connection per request). Runs the real
// API app (real StateMachine behind the stand-in runtime of test/api/support.ts, HTTPS with the node-key
// certificates a gateway serves: src/node/api-tls.ts) in a child process and measures that process's CPU
// time (process.cpuUsage) per request over --requests requests from 4 concurrent clients, after 50 to warm up:
//   healthz            GET /healthz, no token
//   status             GET /v1/status with a read token
//   state              GET /v1/state?consistency=stale with a read token
//   over the limit     GET /v1/status from 4 clients whose address is over the read rate limit (a second child whose
//                      limit is 1 read per hour): a read on an open connection is answered 429 before the token is
//                      checked, a new connection is closed at accept (status 0); CPU per attempt, both mixed
// each on a kept-alive connection and with Connection: close (a new TLS handshake per request; not the 429
// row: over the limit a new connection is closed before TLS).
// Prints one JSON report; the machine is shared, so compare rows of one run.
//
// Usage: npx tsx bench/hostile-read-cost.ts [--requests N]
import { fork, type ChildProcess } from 'node:child_process';
import https from 'node:https';
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { buildApp } from '../src/api/app.js';
import { apiTls } from '../src/node/api-tls.js';
import type { NodeConfig } from '../src/node/config.js';
import { GatewayApplier } from '../src/node/gateway-applier.js';
import { StateMachine, policyEngines } from '../src/state/index.js';
import { generateKeyPair } from '../src/commands/index.js';
import { T0_MS, TestCluster } from '../test/state/fixtures.js';
import { StandInRuntime, readToken } from '../test/api/support.js';

const CLIENTS = 4;
const WARMUP_REQUESTS = 50;

/**
 * server runs in the child: the app over HTTPS, answering {port, token} and then CPU readings on request.
 * `limited`: a read rate limit of 1 read per hour and address (every read after an address's first is 429); else none.
 */
async function server(limited: boolean): Promise<void> {
  const cluster = new TestCluster();
  const applier = new GatewayApplier(new StateMachine(cluster.genesis, policyEngines));
  const runtime = new StandInRuntime(applier, () => T0_MS);
  const config = { nodeId: 1, dataDir: mkdtempSync(join(tmpdir(), 'qg-read-cost-')), api: { host: '127.0.0.1', port: 0 } } as unknown as NodeConfig;
  const tls = await apiTls(config, generateKeyPair().seed, pino({ level: 'silent' }));
  const readRateLimit = limited ? { readsPerSecond: 1 / 3600, burst: 1, maxClients: 16 } : { readsPerSecond: 0, burst: 1, maxClients: 1 };
  const app = await buildApp({ runtime, gateway: { applier, runtime }, nowMs: () => T0_MS, readRateLimit }, undefined, tls);
  await app.listen({ host: '127.0.0.1', port: 0 });
  let since = process.cpuUsage();
  process.on('message', (message) => {
    if (message === 'reset') {
      since = process.cpuUsage();
      process.send?.({ reset: true });
    } else if (message === 'read') {
      const used = process.cpuUsage(since);
      process.send?.({ cpuMs: (used.user + used.system) / 1000 });
    } else {
      process.exit(0);
    }
  });
  process.send?.({ port: (app.server.address() as { port: number }).port, token: readToken(cluster, T0_MS) });
}

/** Server is a child running server(). */
interface Server {
  child: ChildProcess;
  port: number;
  token: string;
  ask: <T>(message: string) => Promise<T>;
}

/** startServer forks a child running server(limited) and waits until it listens. */
async function startServer(limited: boolean): Promise<Server> {
  const child = fork(fileURLToPath(import.meta.url), ['--server', ...(limited ? ['--limited'] : [])], { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ask = <T>(message: string): Promise<T> => new Promise((resolve) => {
    child.once('message', (answer) => resolve(answer as T));
    if (message !== '') child.send(message);
  });
  const { port, token } = await ask<{ port: number; token: string }>('');
  return { child, port, token, ask };
}

/** Row is one measured kind of request. */
interface Row {
  name: string;
  path: string;
  token: boolean;
  keepAlive: boolean;
  /** limited: measured on the child whose read rate limit answers 429. */
  limited?: boolean;
}

async function main(): Promise<void> {
  const requestsFlag = process.argv.indexOf('--requests');
  const requests = requestsFlag < 0 ? 1_000 : Number(process.argv[requestsFlag + 1]);
  if (!Number.isInteger(requests) || requests < CLIENTS) throw new Error(`--requests: expected an integer >= ${CLIENTS}, got ${process.argv[requestsFlag + 1]}`);
  const servers = await Promise.all([false, true].map((limited) => startServer(limited)));
  const keptAlive = new https.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const get = (row: Row): Promise<number> => new Promise((resolve) => {
    const { port, token } = servers[row.limited === true ? 1 : 0]!;
    const request = https.request({
      host: '127.0.0.1', port, path: row.path, rejectUnauthorized: false, agent: row.keepAlive ? keptAlive : false,
      headers: { ...(row.token ? { authorization: `Bearer ${token}` } : {}), ...(row.keepAlive ? {} : { connection: 'close' }) },
    }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', () => resolve(0));
    request.end();
  });
  const rows: Row[] = [];
  for (const keepAlive of [true, false]) {
    const how = keepAlive ? 'kept-alive' : 'new connection';
    rows.push({ name: `healthz, ${how}`, path: '/healthz', token: false, keepAlive }, { name: `status, ${how}`, path: '/v1/status', token: true, keepAlive },
      { name: `state, ${how}`, path: '/v1/state?consistency=stale', token: true, keepAlive });
  }
  // Over the limit a new connection is closed before TLS, so the 429 is measured on a kept-alive one.
  rows.push({ name: 'over the limit (429 or closed at accept)', path: '/v1/status', token: true, keepAlive: true, limited: true });
  const report: Record<string, { cpu_ms_per_request: number; statuses: Record<number, number> }> = {};
  const loadAtStart = loadavg();
  for (const row of rows) {
    const { ask } = servers[row.limited === true ? 1 : 0]!;
    for (let i = 0; i < WARMUP_REQUESTS; i++) await get(row);
    await ask('reset');
    const statuses: Record<number, number> = {};
    await Promise.all(Array.from({ length: CLIENTS }, async () => {
      for (let i = 0; i < requests / CLIENTS; i++) {
        const status = await get(row);
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    }));
    const { cpuMs } = await ask<{ cpuMs: number }>('read');
    report[row.name] = { cpu_ms_per_request: Number((cpuMs / requests).toFixed(3)), statuses };
  }
  keptAlive.destroy();
  for (const { child } of servers) child.send('stop');
  console.log(JSON.stringify({ date: new Date().toISOString(), requests_per_row: requests, clients: CLIENTS, load_average_at_start: loadAtStart, load_average_at_end: loadavg(), rows: report }, null, 2));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  (process.argv.includes('--server') ? server(process.argv.includes('--limited')) : main()).catch((error: unknown) => {
    console.error(`hostile-read-cost: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  });
}
