// http-request.ts — one bounded HTTP exchange with a device: node:http/https (so the connection can be bound
// to the gateway's management address with `localAddress`), a time limit, and a cap on the answer's size
// (a bigger answer is cut off and reported, never buffered). Never rejects: every failure is a value.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** HttpExchange is one request to make. */
export interface HttpExchange {
  url: string;
  method: 'GET' | 'POST' | 'PUT';
  headers?: Record<string, string>;
  /** body is sent as JSON when given. */
  body?: unknown;
  timeoutMs: number;
  maxBodyBytes: number;
}

/** HttpAnswer is what came back: a body, an oversize answer (not read), or a failure with its reason. */
export type HttpAnswer =
  | { kind: 'ok'; status: number; text: string; bytes: number }
  | { kind: 'oversize'; status: number; bytes: number }
  | { kind: 'error'; reason: string; timeout: boolean };

/** HttpClient makes bounded requests through keep-alive agents bound to one local address. */
export class HttpClient {
  private readonly httpAgent: HttpAgent;
  private readonly httpsAgent: HttpsAgent;

  constructor(private readonly localAddress?: string, maxSockets = 1024) {
    const options = { keepAlive: true, maxSockets: 4, maxTotalSockets: maxSockets, maxFreeSockets: 256, timeout: 60_000 };
    this.httpAgent = new HttpAgent(options);
    this.httpsAgent = new HttpsAgent(options);
  }

  /** send makes one exchange; it resolves within `timeoutMs` (plus a tick) whatever the peer does. */
  send(exchange: HttpExchange): Promise<HttpAnswer> {
    let url: URL;
    try {
      url = new URL(exchange.url);
    } catch {
      return Promise.resolve({ kind: 'error', reason: `not a URL: ${JSON.stringify(exchange.url)}`, timeout: false });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return Promise.resolve({ kind: 'error', reason: `unsupported URL scheme ${url.protocol}`, timeout: false });
    }
    const payload = exchange.body === undefined ? undefined : Buffer.from(JSON.stringify(exchange.body));
    const headers: Record<string, string> = { accept: 'application/json', ...exchange.headers };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const makeRequest = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      let settled = false;
      const finish = (answer: HttpAnswer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(answer);
      };
      const req = makeRequest(url, {
        method: exchange.method,
        headers,
        agent: url.protocol === 'https:' ? this.httpsAgent : this.httpAgent,
        ...(this.localAddress === undefined ? {} : { localAddress: this.localAddress }),
      }, (res) => this.readBody(res, exchange.maxBodyBytes, finish, () => req.destroy()));
      const timer = setTimeout(() => {
        finish({ kind: 'error', reason: `no answer within ${exchange.timeoutMs} ms`, timeout: true });
        req.destroy();
      }, exchange.timeoutMs);
      req.on('error', (cause) => finish({ kind: 'error', reason: cause.message, timeout: false }));
      req.end(payload);
    });
  }

  private readBody(res: IncomingMessage, maxBodyBytes: number, finish: (answer: HttpAnswer) => void, abort: () => void): void {
    const status = res.statusCode ?? 0;
    const declared = Number.parseInt(res.headers['content-length'] ?? '', 10);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      finish({ kind: 'oversize', status, bytes: declared });
      abort();
      return;
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    res.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > maxBodyBytes) {
        finish({ kind: 'oversize', status, bytes });
        abort();
        return;
      }
      chunks.push(chunk);
    });
    res.on('end', () => finish({ kind: 'ok', status, text: Buffer.concat(chunks).toString('utf8'), bytes }));
    res.on('error', (cause) => finish({ kind: 'error', reason: cause.message, timeout: false }));
  }

  /** close drops every kept-alive connection. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
