// client.ts — the chaos workloads' view of the cluster: signers that number their own commands, and
// one-shot HTTP calls classified the way Jepsen classifies them (ok / fail / info).
//
// A submission is tried once, on the node the workload chose: retrying elsewhere would hide which node
// answered what, and an indeterminate answer must stay indeterminate in the history.
import { keyIdHex, sha256, signCommand, toHex } from '../src/commands/index.js';
import type { CommandBody, KeyPair, Payload } from '../src/commands/index.js';
import type { Outcome } from './history.js';

/** COMMAND_LIFETIME_MS: how long a workload's command stays valid (expiry is checked at apply). */
const COMMAND_LIFETIME_MS = 10 * 60_000;

/** Signer signs commands of one signer ("root" with m keys, or one admin key), numbering them. */
export class Signer {
  readonly signer: string;
  private readonly keys: readonly KeyPair[];
  private readonly clusterId: Uint8Array;
  private seq = 0;

  constructor(clusterId: Uint8Array, keys: readonly KeyPair[], signer?: string) {
    this.clusterId = clusterId;
    this.keys = keys;
    this.signer = signer ?? keyIdHex(keys[0]!.publicKey);
  }

  /** sign builds the next command of this signer; `clusterId` overrides the cluster (a foreign envelope). */
  sign(domain: string, payload: Payload, clusterId: Uint8Array = this.clusterId): Signed {
    this.seq += 1;
    const body: CommandBody = { clusterId, domain, signer: this.signer, seq: this.seq, notAfterMs: Date.now() + COMMAND_LIFETIME_MS, payload };
    return signedOf(signCommand(body, this.keys));
  }
}

/** Signed is an envelope with its body hash (the dedup key every node uses). */
export interface Signed {
  readonly envelope: Uint8Array;
  readonly bodyHash: string;
}

/** signedOf computes the body hash of envelope bytes built by signCommand (protobuf: field 1 is the body). */
export function signedOf(envelope: Uint8Array): Signed {
  return { envelope, bodyHash: toHex(sha256(bodyBytesOf(envelope))) };
}

/**
 * bodyBytesOf extracts field 1 (bytes) of a SignedCommand without the codec's validation, so tampered
 * envelopes can be hashed too. Returns an empty array when the bytes do not start with field 1.
 */
export function bodyBytesOf(envelope: Uint8Array): Uint8Array {
  if (envelope[0] !== 0x0a) return new Uint8Array(0);
  let length = 0;
  let shift = 0;
  let i = 1;
  for (; i < envelope.length && i < 6; i++) {
    const byte = envelope[i]!;
    length |= (byte & 0x7f) << shift;
    shift += 7;
    if ((byte & 0x80) === 0) break;
  }
  return envelope.subarray(i + 1, Math.min(envelope.length, i + 1 + length));
}

/** SubmitAnswer is a classified answer to POST /v1/commands. */
export interface SubmitAnswer {
  readonly outcome: Outcome;
  readonly status: number;
  readonly index?: number;
  readonly duplicate?: boolean;
  /** ok: the state machine applied it (outcome ok) or recorded a rejection (outcome fail with index). */
  readonly ok?: boolean;
  readonly code?: string;
  readonly error?: string;
}

/**
 * clientFetch is how this harness reaches nodes: set once to the cluster's HTTPS client with pinned keys
 * and a read token (LocalCluster.fetch; docs/api.md "Authentication"), the global fetch until then.
 */
let clientFetch: (url: string, init: RequestInit) => Promise<Response> = (url, init) => fetch(url, init);

/** useClientFetch sets the HTTP client every request of the harness goes through. */
export function useClientFetch(fetchFunction: (url: string, init: RequestInit) => Promise<Response>): void {
  clientFetch = fetchFunction;
}

/** nodeFetch sends one request through the harness's HTTP client (useClientFetch). */
export function nodeFetch(url: string, init: RequestInit): Promise<Response> {
  return clientFetch(url, init);
}

/** submit posts an envelope to one node once and classifies the answer. */
export async function submit(baseUrl: string, envelope: Uint8Array, options: { timeoutMs: number; wait?: 'committed' | 'enforced' }): Promise<SubmitAnswer> {
  let response: Response;
  try {
    response = await clientFetch(`${baseUrl}/v1/commands`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ envelope: Buffer.from(envelope).toString('base64'), wait: options.wait ?? 'committed' }),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    // A refused connection never delivered the request: nothing was proposed. Any other failure leaves
    // no answer: the command may or may not have been proposed, and may commit later.
    const refused = ((error as { cause?: { code?: string } }).cause?.code) === 'ECONNREFUSED';
    return { outcome: refused ? 'fail' : 'info', status: 0, error: errorText(error) };
  }
  let body: Record<string, unknown>;
  try {
    body = (await response.json()) as Record<string, unknown>;
  } catch (error) {
    return { outcome: 'info', status: response.status, error: `unreadable answer: ${errorText(error)}` };
  }
  if (response.status === 200) {
    const result = body.result as { ok: boolean; code?: string; reason?: string; path?: string } | undefined;
    const index = typeof body.index === 'number' ? body.index : undefined;
    const duplicate = body.duplicate === true;
    if (result?.ok === true) return { outcome: 'ok', status: 200, ...(index !== undefined ? { index } : {}), duplicate, ok: true };
    if (result?.code === 'duplicate') {
      // This copy was recorded as a duplicate because another copy of the same body (a retry, a replay)
      // was applied first: the command took effect, at the index the other copy was applied at.
      const applied = await getJson<{ index: number; ok: boolean }>(`${baseUrl}/v1/commands/${signedOf(envelope).bodyHash}`, options.timeoutMs);
      const fromReason = /applied at index (\d+)/.exec(result.reason ?? '')?.[1];
      const appliedIndex = applied?.ok === true ? applied.index : fromReason !== undefined ? Number(fromReason) : undefined;
      return { outcome: 'ok', status: 200, ...(appliedIndex !== undefined ? { index: appliedIndex } : {}), duplicate: true, ok: true };
    }
    return {
      outcome: 'fail', status: 200, ...(index !== undefined ? { index } : {}), duplicate, ok: false,
      ...(result?.code !== undefined ? { code: result.code } : {}), error: `rejected: ${result?.reason ?? ''}${result?.path ? ` (at ${result.path})` : ''}`,
    };
  }
  const error = (body.error ?? {}) as { code?: string; message?: string; details?: Record<string, unknown> };
  const text = `${response.status} ${error.code ?? ''}: ${error.message ?? ''}`;
  // 504 and 503 (unless the node says it was never proposed) may have committed; the rest never were.
  const indeterminate = response.status === 504 || (response.status === 503 && error.details?.indeterminate !== false);
  return { outcome: indeterminate ? 'info' : 'fail', status: response.status, ...(error.code !== undefined ? { code: error.code } : {}), error: text };
}

/**
 * submitUntilAnswered sends the same envelope to `urls` in turn, up to `attempts` times with `pauseMs`
 * between tries, until a node answers it: applied (outcome ok) or recorded as rejected (outcome fail with
 * status 200). Resending the same bytes is safe: the cluster applies one body once. Returns the last
 * answer (undefined only when `attempts` is 0).
 */
export async function submitUntilAnswered(urls: readonly string[], envelope: Uint8Array, attempts: number, pauseMs: number): Promise<SubmitAnswer | undefined> {
  let last: SubmitAnswer | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    last = await submit(urls[attempt % urls.length]!, envelope, { timeoutMs: 5_000 });
    if (last.outcome === 'ok' || (last.outcome === 'fail' && last.status === 200)) return last;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return last;
}

/** getJson reads a JSON document; undefined when the node does not answer 200 in time. */
export async function getJson<T>(url: string, timeoutMs: number): Promise<T | undefined> {
  try {
    const response = await clientFetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (response.status !== 200) {
      await response.body?.cancel();
      return undefined;
    }
    return (await response.json()) as T;
  } catch {
    return undefined;
  }
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return error.cause instanceof Error ? `${error.message}: ${error.cause.message}` : error.message;
  return String(error);
}
