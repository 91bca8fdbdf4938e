// rate-limit-node.test.ts — goal: a real gateway node limits how fast one client address reads (node
// config `apiReadLimit`, docs/api.md "Rate limits"): within the burst every read is served; beyond it a read
// is answered 429 RATE_LIMITED in the documented shape with Retry-After; while the address is over its limit
// its new connections are closed before the TLS handshake (the cost a reconnecting reader would otherwise
// put on the node); another address reads on meanwhile; after Retry-After the address is served again.
// Method: LocalCluster with one gateway node (a real process, HTTPS over loopback) started with
// apiReadLimit {readsPerSecond: 1, burst: 10}; the limited client connects from 127.0.66.1 (the chaos
// adversary's range), over one kept-alive TLS connection, with a root read token; the other client reads
// from 127.0.66.2. Without the limit (apiReadLimit readsPerSecond 0) no read
// is refused and the test fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { LocalCluster } from '../../cluster/local-cluster.js';

const LIMITED_ADDRESS = '127.0.66.1';
/** OTHER_ADDRESS reads meanwhile (not 127.0.0.1: the cluster tool's own status polls while the node started spent its bucket). */
const OTHER_ADDRESS = '127.0.66.2';
const LIMIT = { readsPerSecond: 1, burst: 10 };

/** Answer is one HTTP answer: status, headers and body text. */
interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

describe('the read rate limit on a real node', { timeout: 120_000 }, () => {
  let cluster: LocalCluster;
  let url: URL;
  let agent: https.Agent;

  /** get reads `path` from `address` (LIMITED_ADDRESS by default) over the kept-alive agent (one connection per address). */
  const get = (path: string, address = LIMITED_ADDRESS): Promise<Answer> => new Promise((resolve, reject) => {
    const request = https.request({
      host: url.hostname, port: url.port, path, agent, localAddress: address, rejectUnauthorized: false,
      headers: { authorization: `Bearer ${cluster.readToken()}` },
    }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    request.on('error', reject);
    request.end();
  });

  /** handshake opens a new TLS connection from LIMITED_ADDRESS: 'secure' when the handshake completes, else how it ended. */
  const handshake = (): Promise<string> => new Promise((resolve) => {
    const tcp = net.connect({ host: url.hostname, port: Number(url.port), localAddress: LIMITED_ADDRESS });
    const socket = tls.connect({ socket: tcp, rejectUnauthorized: false });
    socket.once('secureConnect', () => {
      socket.destroy();
      resolve('secure');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    socket.once('close', () => resolve('closed'));
  });

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qg-rate-limit-'));
    cluster = await LocalCluster.create({ dir: join(dir, 'cluster'), nodes: 1, application: 'quorumgate' });
    const configFile = join(cluster.nodeDir(1), 'config.yaml');
    const config = parseYaml(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(configFile, toYaml({ ...config, apiReadLimit: LIMIT }));
    cluster.start(1);
    await cluster.waitForLeader(30_000);
    url = new URL(cluster.apiUrl(1));
    agent = new https.Agent({ keepAlive: true, maxSockets: 2 });
  });
  after(async () => {
    agent?.destroy();
    await cluster?.destroy();
  });

  test('the burst is served, the next read is 429 with Retry-After, new connections are closed before TLS, others read on', async () => {
    // The tool's waitForLeader read from 127.0.0.1, not from the limited address: its bucket is full.
    // Read until refused: the burst, and the token or two that come back meanwhile on a slow machine.
    const served: number[] = [];
    let refused: Answer | undefined;
    for (let i = 0; i < LIMIT.burst + 20 && refused === undefined; i++) {
      const answer = await get(i % 2 === 0 ? '/v1/status' : '/v1/state?consistency=stale');
      if (answer.status === 429) refused = answer;
      else served.push(answer.status);
    }
    assert.ok(served.length >= LIMIT.burst && served.every((status) => status === 200), `the burst is served: ${JSON.stringify(served)}`);
    assert.ok(refused !== undefined, `a read beyond the burst is refused (${served.length} served)`);
    const error = (JSON.parse(refused.body) as { error: { code: string; message: string; details: { retryAfterMs: number } } }).error;
    assert.equal(error.code, 'RATE_LIMITED');
    assert.match(error.message, /^reads: expected at most 1 per second from one address \(10 at once\), got more from 127\.0\.66\.1; retry after 1 s$/);
    assert.equal(refused.headers['retry-after'], '1');
    assert.notEqual(await handshake(), 'secure', 'a new connection from the limited address gets no TLS handshake');
    assert.equal((await get('/v1/status', OTHER_ADDRESS)).status, 200, 'another address is not limited');
    // Retry-After later the address has a token again: a new connection and a read are served.
    await new Promise((resolve) => setTimeout(resolve, Number(refused.headers['retry-after']) * 1000 + 100));
    assert.equal(await handshake(), 'secure');
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal((await get('/v1/status')).status, 200, 'served again after Retry-After');
  });
});
