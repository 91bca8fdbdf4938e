// context.ts — one qgate invocation: its options, its I/O, and the lazily made client, keys, cluster id
// and trust view that commands share. Commands receive a Context and never touch process.* directly,
// so tests can run them in-process with a fake I/O.
import { ALL_DOMAINS, clusterIdOf, createToken, fromHex, GenesisError, loadGenesis, toHex, type Payload } from '../commands/index.js';
import { ApiClient, type FetchFunction, type SubmitAnswer, type WaitMode } from './client.js';
import { DEFAULT_ENDPOINT, DEFAULT_TOKEN_TTL_S, ENFORCED_POLL_MS, ENV_ENDPOINTS, ENV_GENESIS, ENV_TOKEN, MAX_ENFORCED_POLLS } from './constants.js';
import { pinnedFetch } from './https-fetch.js';
import { loadTlsTrust } from './members.js';
import { buildEnvelope, chooseSigners, notAfterFor, SeqAllocator, type TrustInfo } from './envelope.js';
import { CliError } from './errors.js';
import { loadSigningKeys, type SigningKey } from './keys.js';
import { toJson, type OutputFormat } from './output.js';

/** Io is everything a command may touch outside itself. */
export interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  nowMs(): number;
  fetch?: FetchFunction;
  sleep?: (ms: number) => Promise<void>;
  /** signal ends long-running commands (watch) — Ctrl-C in the real process. */
  signal?: AbortSignal;
}

/** GlobalOptions are qgate's options that every command accepts. */
export interface GlobalOptions {
  endpoints?: string;
  key: string[];
  signer: string;
  genesis?: string;
  /** members: a members file pinning each endpoint's node key (src/cli/README.md "HTTPS"). */
  members?: string;
  /** ca: a CA certificate (PEM) for nodes serving CA-issued certificates, instead of pinning. */
  ca?: string;
  /** token: a read token to send instead of one made from the signing key. */
  token?: string;
  output: OutputFormat;
  timeout: number;
  expiresIn: number;
  consistency: 'linearizable' | 'stale';
  verbose: boolean;
}

/** SubmitOutcome is a submission's answer with what was signed. */
export interface SubmitOutcome extends SubmitAnswer {
  signer: string;
  seq: number;
  notAfterMs: number;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * parseTrust reads GET /v1/keys: `root: {keys: hex[], threshold}` and the registered keys
 * (`keys: [{keyId, role, domains?}]`; an `admins: [{keyId, domains | domain}]` list is read too).
 */
export function parseTrust(answer: Record<string, unknown>): TrustInfo | undefined {
  const root = answer['root'];
  if (!isObject(root) || !Array.isArray(root['keys']) || typeof root['threshold'] !== 'number') return undefined;
  const rootKeys = new Set<string>();
  for (const key of root['keys'] as unknown[]) {
    const hex = typeof key === 'string' ? key : isObject(key) ? key['publicKey'] : undefined;
    if (typeof hex === 'string') rootKeys.add(hex.toLowerCase());
  }
  const adminDomains = new Map<string, Set<string>>();
  const records = [
    ...(Array.isArray(answer['keys']) ? (answer['keys'] as unknown[]) : []).filter((k) => isObject(k) && k['role'] === 'admin'),
    ...(Array.isArray(answer['admins']) ? (answer['admins'] as unknown[]) : []),
  ];
  for (const admin of records) {
    if (!isObject(admin) || typeof admin['keyId'] !== 'string') continue;
    const domains = adminDomains.get(admin['keyId']) ?? new Set<string>();
    if (Array.isArray(admin['domains'])) for (const d of admin['domains']) if (typeof d === 'string') domains.add(d);
    if (typeof admin['domain'] === 'string') domains.add(admin['domain']);
    adminDomains.set(admin['keyId'], domains);
  }
  return { rootKeys, rootThreshold: root['threshold'], adminDomains };
}

/** reachedIndex is how far a node's status says it has got: enforcedIndex when it reports one, else applied. */
export function reachedIndex(status: Record<string, unknown>): number {
  const reached = typeof status['enforcedIndex'] === 'number' ? status['enforcedIndex'] : status['applied'];
  return typeof reached === 'number' ? reached : 0;
}

/** KEY_CHANGES are the payload kinds after which the cached trust view is stale. */
const KEY_CHANGES: ReadonlySet<Payload['kind']> = new Set(['addAdminKey', 'revokeAdminKey', 'rotateRoot', 'setNodeKey']);

/** Context carries one invocation's options and shared, lazily created resources. */
export class Context {
  private clientInstance: ApiClient | undefined;
  private keysLoaded: SigningKey[] | undefined;
  private clusterIdValue: Uint8Array | undefined;
  private trustValue: { value: TrustInfo | undefined } | undefined;
  private fetchInstance: FetchFunction | undefined;
  private tokenValue: { token: string; renewAtMs: number } | undefined;
  readonly seq: SeqAllocator;

  constructor(readonly options: GlobalOptions, readonly io: Io) {
    this.seq = new SeqAllocator(async (signer) => {
      const answer = await this.client().get(this.readPath(`/v1/signers/${encodeURIComponent(signer)}/seq`, 'linearizable'));
      const lastSeq = answer['lastSeq'];
      if (typeof lastSeq !== 'number' || !Number.isSafeInteger(lastSeq) || lastSeq < 0) {
        throw new CliError('UNAVAILABLE', `GET /v1/signers/${signer}/seq: expected lastSeq to be a non-negative integer, found ${JSON.stringify(lastSeq)}`);
      }
      return lastSeq;
    });
  }

  /** json says whether stdout must hold JSON only. */
  get json(): boolean {
    return this.options.output === 'json';
  }

  /** print writes a result: `value` as JSON in json mode, else the human text. */
  print(value: unknown, human: string): void {
    this.io.stdout(this.json ? toJson(value) : human.endsWith('\n') || human === '' ? human : `${human}\n`);
  }

  /** note writes a progress line to stderr (never to stdout, so JSON output stays clean). */
  note(line: string): void {
    this.io.stderr(`${line}\n`);
  }

  /** transport is the fetch that reaches nodes: HTTPS with pinned node keys (or a CA), or the injected one. */
  private transport(): FetchFunction {
    this.fetchInstance ??= this.io.fetch ?? pinnedFetch(loadTlsTrust(this.options, this.io.env));
    return this.fetchInstance;
  }

  /**
   * fetch is the transport with a read token on every request (docs/api.md "Authentication"): --token
   * or QGATE_TOKEN when given, else a short-lived one signed by the first signing key, renewed before it
   * expires. Without either, requests go without one and protected reads answer 401.
   */
  fetch(): FetchFunction {
    return async (url, init) => {
      const token = await this.readToken();
      const headers = new Headers(init.headers);
      if (token !== undefined && !headers.has('authorization')) headers.set('authorization', `Bearer ${token}`);
      return this.transport()(url, { ...init, headers: Object.fromEntries(headers.entries()) });
    };
  }

  /** readToken is the token reads carry, undefined when there is no token and no key to sign one. */
  async readToken(): Promise<string | undefined> {
    const given = this.options.token ?? this.io.env[ENV_TOKEN];
    if (given !== undefined && given !== '') return given;
    const keys = this.keys();
    if (keys.length === 0) return undefined;
    const now = this.io.nowMs();
    if (this.tokenValue === undefined || now >= this.tokenValue.renewAtMs) {
      const clusterId = toHex(await this.clusterId());
      this.tokenValue = { token: createToken(keys[0]!.pair, clusterId, ALL_DOMAINS, now, DEFAULT_TOKEN_TTL_S), renewAtMs: now + (DEFAULT_TOKEN_TTL_S * 1000) / 2 };
    }
    return this.tokenValue.token;
  }

  /** newClient is an API client for the endpoints over `fetchFunction`. */
  private newClient(fetchFunction: FetchFunction): ApiClient {
    const list = (this.options.endpoints ?? this.io.env[ENV_ENDPOINTS] ?? DEFAULT_ENDPOINT).split(',');
    return new ApiClient({
      endpoints: list,
      timeoutMs: this.options.timeout,
      fetch: fetchFunction,
      ...(this.io.sleep ? { sleep: this.io.sleep } : {}),
      note: (line) => this.note(`qgate: ${line}`),
    });
  }

  /** client is the API client for --endpoints (or QGATE_ENDPOINTS, or the default), with read tokens. */
  client(): ApiClient {
    this.clientInstance ??= this.newClient(this.fetch());
    return this.clientInstance;
  }

  /** readPath adds the read consistency to a path. */
  readPath(path: string, consistency = this.options.consistency): string {
    return consistency === 'linearizable' ? path : `${path}${path.includes('?') ? '&' : '?'}consistency=${consistency}`;
  }

  /** keys loads the signing keys once. */
  keys(): SigningKey[] {
    this.keysLoaded ??= loadSigningKeys({ keyFiles: this.options.key, env: this.io.env });
    return this.keysLoaded;
  }

  /** clusterId comes from --genesis when given, else from GET /v1/status (open: it names no domain data). */
  async clusterId(): Promise<Uint8Array> {
    if (this.clusterIdValue !== undefined) return this.clusterIdValue;
    const genesis = this.options.genesis ?? this.io.env[ENV_GENESIS];
    if (genesis !== undefined && genesis !== '') {
      try {
        this.clusterIdValue = clusterIdOf(loadGenesis(genesis));
      } catch (error) {
        if (error instanceof GenesisError) throw new CliError('BAD_INPUT', error.message, undefined, { cause: error });
        throw error;
      }
    } else {
      const status = await this.newClient(this.transport()).get('/v1/status');
      const id = typeof status['clusterId'] === 'string' ? fromHex(status['clusterId'], 32) : undefined;
      if (id === undefined) throw new CliError('UNAVAILABLE', `GET /v1/status: expected clusterId to be 64 hex digits, found ${JSON.stringify(status['clusterId'])}`);
      this.clusterIdValue = id;
    }
    return this.clusterIdValue;
  }

  /** trust reads the cluster's keys once; undefined when the answer cannot be interpreted. */
  async trust(): Promise<TrustInfo | undefined> {
    if (this.trustValue === undefined) {
      const answer = await this.client().get(this.readPath('/v1/keys'));
      this.trustValue = { value: parseTrust(answer) };
      if (this.trustValue.value === undefined) this.note('qgate: GET /v1/keys gave no root key list; signing with every key given');
    }
    return this.trustValue.value;
  }

  /**
   * submit signs `payload` for `domain` with the keys its role needs, sequence lastSeq+1 and expiry
   * now + --expires-in, then submits it (indeterminate answers are retried with the same bytes).
   */
  async submit(domain: string, payload: Payload, wait: WaitMode): Promise<SubmitOutcome> {
    const keys = this.keys();
    const trust = await this.trust();
    const signers = chooseSigners(payload.kind, domain, keys, trust, this.options.signer);
    const clusterId = await this.clusterId();
    const seq = await this.seq.next(signers.signer);
    const notAfterMs = notAfterFor(this.io.nowMs(), this.options.expiresIn);
    const built = buildEnvelope({ clusterId, domain, signer: signers.signer, seq, notAfterMs, payload }, signers.keys);
    if (this.options.verbose) {
      this.note(`qgate: ${payload.kind} signer=${signers.signer} seq=${seq} keys=${signers.keys.map((k) => k.keyId).join(',')} body=${built.bodyHash} cluster=${toHex(clusterId)}`);
    }
    const answer = await this.client().submit(built.bytes, wait);
    // A change of keys changes who may sign what: read the cluster's keys again for the next command.
    if (answer.result.ok && KEY_CHANGES.has(payload.kind)) this.trustValue = undefined;
    if (wait === 'enforced' && answer.result.ok) await this.waitEnforcedEverywhere(answer.index);
    return { ...answer, signer: signers.signer, seq, notAfterMs };
  }

  /**
   * waitEnforcedEverywhere is the client's half of `--wait enforced`. The answering node waited for its
   * own data plane (docs/api.md); this waits until every endpoint that answers reports in
   * GET /v1/status `enforcedIndex >= index` (its data plane enforces the state at that entry), or,
   * from a node without a data plane report, `applied >= index`. An endpoint that does not answer is
   * skipped with a note (a dead node must not block the operator).
   */
  private async waitEnforcedEverywhere(index: number): Promise<void> {
    const client = this.client();
    const sleep = this.io.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const pending = new Set(client.endpoints);
    const deadlineMs = this.io.nowMs() + this.options.timeout;
    for (let poll = 0; poll < MAX_ENFORCED_POLLS && pending.size > 0; poll++) {
      for (const endpoint of [...pending]) {
        try {
          if (reachedIndex(await client.getFrom(endpoint, '/v1/status')) >= index) pending.delete(endpoint);
        } catch (error) {
          if (!(error instanceof CliError)) throw error;
          this.note(`qgate: ${endpoint} did not answer (${error.message}); not waiting for it`);
          pending.delete(endpoint);
        }
      }
      if (pending.size === 0) return;
      if (this.io.nowMs() >= deadlineMs) break;
      await sleep(ENFORCED_POLL_MS);
    }
    throw new CliError('NOT_ENFORCED', `committed at index ${index}, but ${[...pending].join(', ')} did not enforce it within --timeout ${this.options.timeout} ms`, { index, pending: [...pending] });
  }
}
