// control.ts — a simulator's control channel: an HTTP server on a unix socket through which a test sets
// sensor values, reads state, makes the device stop answering and resume, and makes it flood.
//   GET  /state                       → the simulator's state (JSON)
//   POST /set    {device?, values}    → set sensor values / settings
//   POST /stop   {mode?}              → stop answering ("silent"; MQTT also "drop": lose the connection)
//   POST /resume                      → answer again
//   POST /flood  {device?, count, bytes} → MQTT: publish `count` readings of `bytes` at once; HTTP: pad the answer to `bytes`
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { rmSync } from 'node:fs';

/** ControlTarget is what a simulator exposes to its control channel. */
export interface ControlTarget {
  state(): unknown;
  set(device: string | undefined, values: Record<string, unknown>): void;
  stop(mode: string): void;
  resume(): void;
  flood(device: string | undefined, count: number, bytes: number): Promise<void> | void;
}

const MAX_CONTROL_BODY_BYTES = 64 * 1024;

/** serveControl listens on `socketPath` (replacing a stale socket file). */
export function serveControl(socketPath: string, target: ControlTarget): Promise<Server> {
  rmSync(socketPath, { force: true });
  const server = createServer((req, res) => {
    void readJson(req).then(async (body) => {
      const device = typeof body.device === 'string' ? body.device : undefined;
      if (req.method === 'GET' && req.url === '/state') return target.state();
      if (req.method !== 'POST') throw new Error(`unknown control request ${req.method ?? ''} ${req.url ?? ''}`);
      if (req.url === '/set') target.set(device, isObject(body.values) ? body.values : {});
      else if (req.url === '/stop') target.stop(typeof body.mode === 'string' ? body.mode : 'silent');
      else if (req.url === '/resume') target.resume();
      else if (req.url === '/flood') await target.flood(device, Number(body.count ?? 0), Number(body.bytes ?? 0));
      else throw new Error(`unknown control request POST ${req.url ?? ''}`);
      return { ok: true };
    }).then((answer) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    }, (error: Error) => {
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: false, error: error.message }));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve(server));
  });
}

/** controlRequest sends one control request to a simulator's socket (for tests and tools). */
export function controlRequest(socketPath: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers: { 'content-type': 'application/json' }, timeout: 10_000 }, (res) => {
      readJson(res).then((answer) => (res.statusCode === 200 ? resolve(answer) : reject(new Error(`control ${path}: ${JSON.stringify(answer)}`))), reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`control ${path}: no answer within 10 s`)));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** readJson reads a bounded JSON object body ({} when empty). */
export function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_CONTROL_BODY_BYTES) req.destroy(new Error(`body over ${MAX_CONTROL_BODY_BYTES} bytes`));
      else chunks.push(chunk);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        const parsed: unknown = text === '' ? {} : JSON.parse(text);
        resolve(isObject(parsed) ? parsed : { value: parsed });
      } catch (error) {
        reject(new Error(`body is not JSON: ${(error as Error).message}`));
      }
    });
    req.on('error', reject);
  });
}

/** isObject says whether a parsed JSON value is an object. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
