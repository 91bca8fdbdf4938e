// client.ts — the HTTP client of the quorumgate API (docs/api.md) as qgate uses it.
//
// Reads go to the first endpoint that answers. A submission sends one fixed envelope and, when the
// answer is indeterminate (network error, timeout, 503, 504) or says "not here" (421, 429), sends the
// SAME bytes again to the next endpoint after a capped exponential backoff: the state machine
// deduplicates by body hash, so a retry can only return the original result, never apply it twice.
// A definite refusal (400, 404, 409, 413, 422) is final and never retried.
import assert from 'node:assert/strict';
import { MAX_ENDPOINTS, MAX_SUBMIT_ATTEMPTS, RETRY_BASE_DELAY_MS, RETRY_MAX_DELAY_MS } from './constants.js';
import { CliError } from './errors.js';


/** MAX_SERVER_WAIT_MS is the longest enforcement wait a node accepts (docs/api.md). */
const MAX_SERVER_WAIT_MS = 120_000;
/** FetchFunction is the subset of the global fetch the client uses (injectable in tests). */
export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>;

/** WaitMode is how long a submission waits: until applied on the answering node, or until enforced. */
export type WaitMode = 'committed' | 'enforced';

/** ClientInit configures an ApiClient; limits default to constants.ts. */
export interface ClientInit {
  endpoints: readonly string[];
  /** timeoutMs bounds one HTTP request. */
  timeoutMs: number;
  fetch?: FetchFunction;
  sleep?: (ms: number) => Promise<void>;
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** note receives one line per retried attempt (qgate prints them to stderr). */
  note?: (line: string) => void;
}

/** ApplyResultView is the `result` of a submission: the state machine's verdict on the entry. */
export type ApplyResultView =
  | { ok: true; kind: string; signer: string; effects: unknown[] }
  | { ok: false; code: string; reason: string };

/** SubmitAnswer is a 200 answer to POST /v1/commands, with where and after how many tries it came. */
export interface SubmitAnswer {
  index: number;
  term: number;
  bodyHash: string;
  duplicate: boolean;
  result: ApplyResultView;
  endpoint: string;
  attempts: number;
}

/** HttpAnswer is a status and a parsed JSON body (undefined when the body was not JSON). */
interface HttpAnswer {
  status: number;
  body: unknown;
}

/** ApiErrorView is the `error` object of every error answer. */
export interface ApiErrorView {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

/** normalizeEndpoints checks and normalizes a list of base URLs (http or https, no trailing slash). */
export function normalizeEndpoints(list: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of list) {
    const text = raw.trim();
    if (text === '') continue;
    let url: URL;
    try {
      url = new URL(text.includes('://') ? text : `http://${text}`);
    } catch {
      throw new CliError('USAGE', `--endpoints: expected a URL such as http://127.0.0.1:8001, found "${text}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new CliError('USAGE', `--endpoints: expected an http:// or https:// URL, found "${text}"`);
    }
    const base = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
    if (!out.includes(base)) out.push(base);
  }
  if (out.length === 0) throw new CliError('USAGE', '--endpoints: expected at least one URL, found none');
  if (out.length > MAX_ENDPOINTS) throw new CliError('USAGE', `--endpoints: expected at most ${MAX_ENDPOINTS} URLs, found ${out.length}`);
  return out;
}

/** errorView extracts the API's error object from an answer body, or describes what came instead. */
export function errorView(status: number, body: unknown): ApiErrorView {
  if (typeof body === 'object' && body !== null && 'error' in body) {
    const error = (body as { error: unknown }).error;
    if (typeof error === 'object' && error !== null) {
      const e = error as Record<string, unknown>;
      const details = typeof e['details'] === 'object' && e['details'] !== null ? (e['details'] as Record<string, unknown>) : {};
      return { code: String(e['code'] ?? `HTTP_${status}`), message: String(e['message'] ?? ''), details };
    }
  }
  return { code: `HTTP_${status}`, message: `HTTP ${status}`, details: {} };
}

/** Disposition says whether an answer may be retried (and whether the command may have been committed). */
export type Disposition = { retry: false } | { retry: true; indeterminate: boolean };

/**
 * dispositionOf classifies an HTTP status for a submission. 503 says in details.indeterminate whether
 * the command may have been committed; 504 always may have been. 421 (not the leader) and 429
 * (overloaded) were not proposed. Anything else is an answer, not a reason to try again.
 */
export function dispositionOf(status: number, error: ApiErrorView | undefined): Disposition {
  if (status === 504) return { retry: true, indeterminate: true };
  if (status === 503) return { retry: true, indeterminate: error?.details['indeterminate'] !== false };
  if (status === 421 || status === 429) return { retry: true, indeterminate: false };
  return { retry: false };
}

/** backoffMs is the delay before attempt `attempt` (0-based): none before the first, then doubling, capped. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  if (attempt <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 20));
}

function cliErrorFor(status: number, error: ApiErrorView, endpoint: string): CliError {
  const text = `${error.code}: ${error.message}`;
  const details = { status, endpoint, ...error.details, apiCode: error.code };
  if (status === 404) return new CliError('NOT_FOUND', text, details);
  if (status === 422 || status === 409) return new CliError('REJECTED', text, details);
  if (status >= 400 && status < 500) return new CliError('BAD_INPUT', text, details);
  return new CliError('UNAVAILABLE', `${endpoint} answered ${text}`, details);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** parseSubmitAnswer checks the shape of a 200 answer to POST /v1/commands. */
export function parseSubmitAnswer(body: unknown, endpoint: string, attempts: number): SubmitAnswer {
  const bad = (what: string): CliError =>
    new CliError('UNAVAILABLE', `${endpoint} answered POST /v1/commands with an unexpected body: ${what}`);
  if (!isObject(body)) throw bad('not a JSON object');
  const { index, term, bodyHash, duplicate, result } = body;
  if (typeof index !== 'number' || typeof term !== 'number') throw bad('index and term must be numbers');
  if (!isObject(result) || typeof result['ok'] !== 'boolean') throw bad('result.ok must be a boolean');
  const view: ApplyResultView = result['ok'] === true
    ? { ok: true, kind: String(result['kind'] ?? ''), signer: String(result['signer'] ?? ''), effects: Array.isArray(result['effects']) ? result['effects'] : [] }
    : { ok: false, code: String(result['code'] ?? 'rejected'), reason: String(result['reason'] ?? '') };
  return { index, term, bodyHash: typeof bodyHash === 'string' ? bodyHash : '', duplicate: duplicate === true, result: view, endpoint, attempts };
}

/** ApiClient talks to a set of equivalent endpoints (any node of one cluster). */
export class ApiClient {
  readonly endpoints: readonly string[];
  private readonly timeoutMs: number;
  private readonly fetchFunction: FetchFunction;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly note: (line: string) => void;
  /** preferred is the index of the endpoint that answered last; requests start there. */
  private preferred = 0;

  constructor(init: ClientInit) {
    this.endpoints = normalizeEndpoints(init.endpoints);
    assert.ok(init.timeoutMs > 0, 'timeoutMs must be positive');
    this.timeoutMs = init.timeoutMs;
    this.fetchFunction = init.fetch ?? ((url, requestInit) => fetch(url, requestInit));
    this.sleep = init.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.maxAttempts = init.maxAttempts ?? MAX_SUBMIT_ATTEMPTS;
    assert.ok(this.maxAttempts >= 1, 'maxAttempts must be at least 1');
    this.baseDelayMs = init.baseDelayMs ?? RETRY_BASE_DELAY_MS;
    this.maxDelayMs = init.maxDelayMs ?? RETRY_MAX_DELAY_MS;
    this.note = init.note ?? (() => undefined);
  }

  /** request sends one HTTP request to one endpoint; network failures and timeouts throw. */
  private async request(endpoint: string, method: 'GET' | 'POST', path: string, bodyText?: string): Promise<HttpAnswer> {
    const init: RequestInit = {
      method,
      headers: bodyText === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      signal: AbortSignal.timeout(this.timeoutMs),
    };
    if (bodyText !== undefined) init.body = bodyText;
    const response = await this.fetchFunction(`${endpoint}${path}`, init);
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.status, body: parsed };
  }

  /**
   * get reads a JSON resource from the first endpoint that answers (starting with the one that answered
   * last). Unreachable endpoints and 421/503/504 move on to the next; other errors are final.
   */
  async get(path: string): Promise<Record<string, unknown>> {
    assert.ok(path.startsWith('/'), 'path must start with /');
    const failures: string[] = [];
    for (let i = 0; i < this.endpoints.length; i++) {
      const at = (this.preferred + i) % this.endpoints.length;
      const endpoint = this.endpoints[at] as string;
      let answer: HttpAnswer;
      try {
        answer = await this.request(endpoint, 'GET', path);
      } catch (error) {
        failures.push(`${endpoint}: ${describeNetworkError(error)}`);
        continue;
      }
      if (answer.status === 200 && isObject(answer.body)) {
        this.preferred = at;
        return answer.body;
      }
      const error = errorView(answer.status, answer.body);
      if (answer.status === 200 || dispositionOf(answer.status, error).retry) {
        failures.push(`${endpoint}: ${answer.status === 200 ? 'a body that is not a JSON object' : `${error.code}: ${error.message}`}`);
        continue;
      }
      throw cliErrorFor(answer.status, error, endpoint);
    }
    throw new CliError('UNAVAILABLE', `GET ${path}: no endpoint answered (${failures.join('; ')})`, { failures });
  }

  /** getFrom reads one resource from one given endpoint (status of each node). */
  async getFrom(endpoint: string, path: string): Promise<Record<string, unknown>> {
    let answer: HttpAnswer;
    try {
      answer = await this.request(endpoint, 'GET', path);
    } catch (error) {
      throw new CliError('UNAVAILABLE', `${endpoint}: ${describeNetworkError(error)}`);
    }
    if (answer.status === 200 && isObject(answer.body)) return answer.body;
    throw cliErrorFor(answer.status === 200 ? 502 : answer.status, errorView(answer.status, answer.body), endpoint);
  }

  /**
   * submit posts one envelope (already signed; these exact bytes are resent on every attempt) and
   * returns the first definite answer. It throws CliError REJECTED for a 422/409, BAD_INPUT for other
   * 4xx, and INDETERMINATE (or UNAVAILABLE when nothing can have been committed) after maxAttempts.
   */
  async submit(envelope: Uint8Array, wait: WaitMode): Promise<SubmitAnswer> {
    assert.ok(envelope.length > 0, 'an envelope is never empty');
    // The body is built once: every attempt sends exactly these bytes.
    // With wait=enforced the node waits for its data plane; it answers a little before this
    // client's own request timeout so that a slow data plane is reported, not a lost answer.
    const enforcedWaitMs = Math.max(1_000, Math.min(MAX_SERVER_WAIT_MS, this.timeoutMs - 1_000));
    const requestText = JSON.stringify({
      envelope: Buffer.from(envelope).toString('base64'), wait, ...(wait === 'enforced' ? { timeoutMs: enforcedWaitMs } : {}),
    });
    const start = this.preferred;
    let indeterminate = false;
    const failures: string[] = [];
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const delayMs = backoffMs(attempt, this.baseDelayMs, this.maxDelayMs);
      if (delayMs > 0) await this.sleep(delayMs);
      const at = (start + attempt) % this.endpoints.length;
      const endpoint = this.endpoints[at] as string;
      let answer: HttpAnswer;
      try {
        answer = await this.request(endpoint, 'POST', '/v1/commands', requestText);
      } catch (error) {
        // The request may have reached the node and been proposed before the connection failed.
        indeterminate = true;
        failures.push(`${endpoint}: ${describeNetworkError(error)}`);
        this.note(`attempt ${attempt + 1}/${this.maxAttempts} to ${endpoint} failed (${describeNetworkError(error)}); retrying the same envelope`);
        continue;
      }
      if (answer.status === 200) {
        this.preferred = at;
        return parseSubmitAnswer(answer.body, endpoint, attempt + 1);
      }
      const error = errorView(answer.status, answer.body);
      const committedIndex = error.details['committedIndex'];
      if (answer.status === 504 && typeof committedIndex === 'number') {
        // Committed for sure, but not enforced in time (wait=enforced): resending cannot help.
        throw new CliError('NOT_ENFORCED', `committed at index ${committedIndex}, but not enforced in time: ${error.message}`, { index: committedIndex, endpoint });
      }
      const disposition = dispositionOf(answer.status, error);
      if (!disposition.retry) throw cliErrorFor(answer.status, error, endpoint);
      indeterminate ||= disposition.indeterminate;
      failures.push(`${endpoint}: ${error.code}: ${error.message}`);
      this.note(`attempt ${attempt + 1}/${this.maxAttempts} to ${endpoint}: ${error.code} (${error.message}); retrying the same envelope`);
    }
    const summary = `after ${this.maxAttempts} attempts (${failures.slice(-3).join('; ')})`;
    if (indeterminate) {
      throw new CliError('INDETERMINATE', `the outcome of the command is unknown ${summary}`, { failures });
    }
    throw new CliError('UNAVAILABLE', `the command was not accepted ${summary}; nothing was committed`, { failures });
  }
}

/** describeNetworkError names a fetch failure in a few words (timeouts, refused connections, DNS). */
export function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'no answer in time';
    const cause = (error as Error & { cause?: unknown }).cause;
    if (cause instanceof Error) {
      const code = (cause as NodeJS.ErrnoException).code;
      return code !== undefined ? `${code} (${cause.message})` : cause.message;
    }
    return error.message;
  }
  return String(error);
}
