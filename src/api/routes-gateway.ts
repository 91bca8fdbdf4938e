// routes-gateway.ts — the gateway API: submit signed commands, read the agreed state, watch it.
// See docs/api.md for the contract these routes implement.
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { CommandError, decodeBody, decodeSignedCommand, type SensorValue } from '../commands/index.js';
import type { ApplyResult, StateMachine } from '../state/index.js';
import type { AppliedEvent, Committed } from './ports.js';
import { ApiError, batchResults, runtimeToApiError } from './errors.js';
import type { ApiDeps } from './deps.js';
import { ConsistencyQuery, readPointFor, type GatewayDeps } from './read-point.js';
import { WatchHub } from './watch.js';
import { authorizeRead, grantCovers, grantsEvery } from './read-auth.js';
import { verifiedAhead } from './verify-ahead.js';
import { TokenError, type ReadGrant } from '../commands/index.js';
import type { ServerResponse } from 'node:http';

/** MAX_ENVELOPE_BASE64_CHARS bounds a submitted envelope (a signed command is at most 1 MiB). */
const MAX_ENVELOPE_BASE64_CHARS = Math.ceil((1024 * 1024) / 3) * 4;

/**
 * MAX_BATCH_ENVELOPES bounds one POST /v1/commands/batch. The whole body is still bounded by
 * MAX_BODY_BYTES (2 MiB), so a batch of large commands holds fewer.
 */
const MAX_BATCH_ENVELOPES = 256;

/** MAX_EXPORT_ENTRIES bounds one export of the applied log. */
const MAX_EXPORT_ENTRIES = 100_000;

/** DEFAULT_ENFORCED_WAIT_MS and MAX_ENFORCED_WAIT_MS bound how long wait=enforced waits for the data plane. */
const DEFAULT_ENFORCED_WAIT_MS = 10_000;
const MAX_ENFORCED_WAIT_MS = 120_000;

const Consistency = ConsistencyQuery;

const ResultSchema = Type.Object({
  ok: Type.Boolean(),
  index: Type.Integer(),
  kind: Type.Optional(Type.String()),
  signer: Type.Optional(Type.String()),
  code: Type.Optional(Type.String()),
  reason: Type.Optional(Type.String()),
  path: Type.Optional(Type.String()),
  effects: Type.Optional(Type.Array(Type.Record(Type.String(), Type.Unknown()))),
}, { additionalProperties: true });

const SubmitAnswerSchema = Type.Object({ index: Type.Integer(), term: Type.Integer(), bodyHash: Type.String(), duplicate: Type.Boolean(), result: ResultSchema });

const ErrorSchema = Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Record(Type.String(), Type.Unknown())) });

/** SubmitAnswer is the answer to one submitted command (POST /v1/commands, one item of a batch). */
interface SubmitAnswer {
  readonly index: number;
  readonly term: number;
  readonly bodyHash: string;
  readonly duplicate: boolean;
  readonly result: Record<string, unknown> & { ok: boolean; index: number };
}

function decodeBase64(text: string, where: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new ApiError('BAD_REQUEST', `${where}: expected standard base64, found ${text.length} characters that are not`);
  }
  return Buffer.from(text, 'base64');
}

/** gatewayRoutes registers the routes of docs/api.md "Commands", "Reads" and "Watch". */
export const gatewayRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const gateway = deps.gateway;
  if (!gateway) throw new Error('gatewayRoutes needs deps.gateway');
  const machine = (): StateMachine => gateway.applier.machine;
  /** readPoint waits for a linearizable read point (ReadIndex) unless a stale read is asked for. */
  const readPoint = readPointFor(gateway);
  /** entryDomains finds the domain an applied entry's command names, for readers of some domains. */
  const entryDomains = watchDomains(gateway.appliedEnvelopes);
  const submitOne = commandSubmitter(deps, gateway, machine);

  submitRoute(app, gateway, submitOne);
  submitBatchRoute(app, submitOne);
  commandResultRoute(app, machine, entryDomains);
  stateRoute(app, machine, readPoint);
  devicesRoute(app, machine, readPoint);
  deviceRoute(app, machine, readPoint);
  domainsRoute(app, machine, readPoint);
  policyRoute(app, machine, readPoint);
  imagesRoute(app, machine, readPoint);
  keysRoute(app, machine, readPoint);
  signerSeqRoute(app, machine, readPoint);
  rejectionsRoute(app, machine, readPoint);
  auditLogRoute(app, gateway, machine);
  watchRoute(app, deps, gateway, machine, entryDomains);
};

/** ReadPoint waits for the read point of a consistency and answers the index the read reflects (read-point.ts). */
type ReadPoint = (consistency: 'linearizable' | 'stale') => Promise<number>;

/** SubmitOne checks, proposes and answers one signed command (commandSubmitter). */
type SubmitOne = (envelope: string, where: string, wait: 'committed' | 'enforced', timeoutMs: number) => Promise<SubmitAnswer>;

/** EntryDomains finds the domain an applied entry's command names (watchDomains). */
type EntryDomains = ReturnType<typeof watchDomains>;

/**
 * commandSubmitter returns submitOne, which the command routes share, with the proposals in flight it
 * dedups against.
 */
function commandSubmitter(deps: ApiDeps, gateway: GatewayDeps, machine: () => StateMachine): SubmitOne {
  /**
   * submitOne checks a signed command at the edge, proposes it and answers once this node has
   * applied it (or, for wait=enforced, enforces it): the answer of POST /v1/commands. Throws
   * ApiError (or an unknown error, a bug) when there is no such answer.
   */
  const submitOne = async (envelope: string, where: string, wait: 'committed' | 'enforced', timeoutMs: number): Promise<SubmitAnswer> => {
    const bytes = decodeBase64(envelope, where);
    const turn = inArrivalOrder();
    let checked;
    let proposing: Promise<{ committed: Committed<unknown>; first: boolean }>;
    try {
      await turn.after(verifiedAhead(machine(), bytes));
      checked = machine().precheck(bytes, (deps.nowMs ?? Date.now)());
      proposing = proposeOnce(bytes, checked.bodyHash);
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      // A retry of an applied (or rejected) command fails precheck: its seq is no longer above its
      // signer's last. It gets the original result, if its signatures verify.
      const earlier = originalAnswer(machine(), bytes);
      if (earlier) return earlier;
      const undecodable = ['too_large', 'malformed_envelope', 'malformed_body', 'non_canonical_body', 'unsafe_integer', 'unknown_payload', 'invalid_payload'];
      const status = undecodable.includes(error.code) ? 'BAD_REQUEST' : 'UNPROCESSABLE';
      // A batch item names itself; the single route's message is unchanged (clients match on it).
      const item = where === 'body.envelope' ? '' : `${where}: `;
      throw new ApiError(status, `${item}the command was not proposed: ${error.message}`, { commandCode: error.code, path: error.path });
    } finally {
      turn.done();
    }
    try {
      const { committed, first } = await proposing;
      const result = committed.result as ApplyResult;
      // A copy that reached this node before it applied the first one (a retry, the same envelope
      // posted to several nodes, or twice in a batch) is proposed too and applied as a duplicate:
      // answer the original result.
      if (!result.ok && result.code === 'duplicate') {
        const earlier = originalAnswer(machine(), bytes);
        if (earlier) return earlier;
      }
      if (wait === 'enforced') await waitEnforced(gateway.enforcement!, committed.index, timeoutMs);
      return { index: committed.index, term: committed.term, bodyHash: checked.bodyHash, duplicate: !first, result: resultBody(result) };
    } catch (error) {
      throw runtimeToApiError(error);
    }
  };

  /**
   * inFlight holds the proposal of each body being proposed by this node, so that a copy submitted
   * meanwhile waits for it instead of adding an entry to the log. Bounded by the runtime's bound on
   * pending proposals: an entry leaves when its proposal settles.
   */
  const inFlight = new Map<string, Promise<Committed<unknown>>>();
  const inArrivalOrder = arrivalOrder();
  const proposeOnce = async (bytes: Uint8Array, bodyHash: string): Promise<{ committed: Committed<unknown>; first: boolean }> => {
    const pending = inFlight.get(bodyHash);
    if (pending !== undefined) return { committed: await pending, first: false };
    const proposal = gateway.runtime.propose(bytes);
    inFlight.set(bodyHash, proposal);
    try {
      return { committed: await proposal, first: true };
    } finally {
      inFlight.delete(bodyHash);
    }
  };
  return submitOne;
}

/** Turn is one arrival's place in arrivalOrder: after() waits for its work and for the arrival before. */
interface Turn {
  after: <T>(work: Promise<T>) => Promise<T>;
  done: () => void;
}

/**
 * arrivalOrder keeps proposals in the order their requests arrived: verification ahead (verifiedAhead)
 * finishes in any order in the thread pool, and a signer's commands (a batch, or one client's pipelined
 * requests) proposed out of order would apply a later seq first and refuse the earlier one as stale.
 * Each arrival's after() resolves once the arrival before it is done (prechecked and handed to the runtime).
 */
function arrivalOrder(): () => Turn {
  let last: Promise<void> = Promise.resolve();
  return () => {
    const previous = last;
    let done!: () => void;
    last = new Promise<void>((resolve) => { done = resolve; });
    return { after: async (work) => { const value = await work; await previous; return value; }, done };
  };
}

/** submitRoute serves POST /v1/commands: one signed command, answered once applied (or enforced). */
function submitRoute(app: FastifyInstance, gateway: GatewayDeps, submitOne: SubmitOne): void {
  app.post('/v1/commands', {
    schema: {
      body: Type.Object({
        envelope: Type.String({ minLength: 4, maxLength: MAX_ENVELOPE_BASE64_CHARS }),
        wait: Type.Union([Type.Literal('committed'), Type.Literal('enforced')], { default: 'committed' }),
        /** timeoutMs bounds the wait for enforcement (wait=enforced). */
        timeoutMs: Type.Integer({ minimum: 1, maximum: MAX_ENFORCED_WAIT_MS, default: DEFAULT_ENFORCED_WAIT_MS }),
      }, { additionalProperties: false }),
      response: { 200: SubmitAnswerSchema },
    },
  }, async (request) => {
    const { envelope, wait, timeoutMs } = request.body as { envelope: string; wait: 'committed' | 'enforced'; timeoutMs: number };
    if (wait === 'enforced' && !gateway.enforcement) {
      throw new ApiError('BAD_REQUEST', 'body.wait: "enforced" needs a node that runs a data plane, and this one does not; wait for "committed", then poll GET /v1/status of the nodes that serve the devices');
    }
    return submitOne(envelope, 'body.envelope', wait, timeoutMs);
  });
}

/**
 * submitBatchRoute serves POST /v1/commands/batch: many signed commands in one request, each checked,
 * proposed and answered on its own, in order. All are handed to the runtime at once, so its queue gives the
 * core one batch (one append, one fsync, one message per follower) instead of one per request.
 */
function submitBatchRoute(app: FastifyInstance, submitOne: SubmitOne): void {
  app.post('/v1/commands/batch', {
    schema: {
      body: Type.Object({
        envelopes: Type.Array(Type.String({ minLength: 4, maxLength: MAX_ENVELOPE_BASE64_CHARS }), { minItems: 1, maxItems: MAX_BATCH_ENVELOPES }),
      }, { additionalProperties: false }),
      response: {
        200: Type.Object({
          results: Type.Array(Type.Union([
            Type.Object({ ok: Type.Literal(true), answer: SubmitAnswerSchema }),
            Type.Object({ ok: Type.Literal(false), error: ErrorSchema }),
          ])),
        }),
      },
    },
  }, async (request) => {
    const { envelopes } = request.body as { envelopes: string[] };
    const outcomes = await Promise.allSettled(envelopes.map((envelope, i) => submitOne(envelope, `body.envelopes[${i}]`, 'committed', DEFAULT_ENFORCED_WAIT_MS)));
    return { results: batchResults(outcomes, (answer) => answer, (error, i) => request.log.error({ err: error, envelope: i }, 'batch command failed')) };
  });
}

/** commandResultRoute serves GET /v1/commands/:bodyHash: the remembered result of an applied command. */
function commandResultRoute(app: FastifyInstance, machine: () => StateMachine, entryDomains: EntryDomains): void {
  app.get('/v1/commands/:bodyHash', {
    schema: {
      params: Type.Object({ bodyHash: Type.String({ pattern: '^[0-9a-f]{64}$' }) }),
      response: { 200: Type.Object({ index: Type.Integer(), ok: Type.Boolean(), code: Type.Optional(Type.String()), reason: Type.Optional(Type.String()) }) },
    },
  }, async (request) => {
    const grant = authorizeRead(request);
    const { bodyHash } = request.params as { bodyHash: string };
    const remembered = machine().resultFor(bodyHash);
    if (!remembered) throw new ApiError('NOT_FOUND', `no command with body hash ${bodyHash} was applied (or it was forgotten)`);
    // A reader of some domains sees the results of its domains' commands; a cluster-wide command, or one
    // whose entry was compacted away, is for readers of every domain.
    if (!grantsEvery(grant, machine().domains().map((d) => d.name))) authorizeRead(request, [entryDomains.at(remembered.index) || '(a cluster-wide command)']);
    return remembered;
  });
}

/** stateRoute serves GET /v1/state: the state hash, audit chain and identity of the cluster, to readers of every domain. */
function stateRoute(app: FastifyInstance, machine: () => StateMachine, readPoint: ReadPoint): void {
  app.get('/v1/state', { schema: { querystring: Consistency } }, async (request) => {
    requireEveryDomain(request, machine(), 'GET /v1/state describes the whole cluster state');
    const index = await readPoint((request.query as { consistency: 'linearizable' | 'stale' }).consistency);
    const m = machine();
    return { index, stateHash: m.stateHash(), auditChain: m.auditChain(), clusterId: m.clusterId(), clusterName: m.clusterName(), root: m.root(), lastApplied: m.lastApplied() };
  });
}

/** devicesRoute serves GET /v1/devices: the registered devices of the token's domains, with their states. */
function devicesRoute(app: FastifyInstance, machine: () => StateMachine, readPoint: ReadPoint): void {
  app.get('/v1/devices', {
    schema: {
      querystring: Type.Object({
        consistency: Type.Union([Type.Literal('linearizable'), Type.Literal('stale')], { default: 'linearizable' }),
        domain: Type.Optional(Type.String({ maxLength: 64 })),
        node: Type.Optional(Type.String({ maxLength: 64 })),
      }, { additionalProperties: false }),
    },
  }, async (request) => {
    const query = request.query as { consistency: 'linearizable' | 'stale'; domain?: string; node?: string };
    const grant = authorizeRead(request, query.domain ? [query.domain] : []);
    const index = await readPoint(query.consistency);
    const m = machine();
    const devices = m.devices({ ...(query.domain ? { domain: query.domain } : {}), ...(query.node ? { nodeId: query.node } : {}) })
      .filter((device) => grantCovers(grant, device.domain))
      .map((device) => ({ ...device, ...(m.deviceState(device.id) ?? { state: 'unknown', sinceMs: 0 }) }));
    return { index, devices };
  });
}

/** deviceRoute serves GET /v1/devices/:id: one device, its state and its plan. */
function deviceRoute(app: FastifyInstance, machine: () => StateMachine, readPoint: ReadPoint): void {
  app.get('/v1/devices/:id', {
    schema: { params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }), querystring: Consistency },
  }, async (request) => {
    const { id } = request.params as { id: string };
    const index = await readPoint((request.query as { consistency: 'linearizable' | 'stale' }).consistency);
    const m = machine();
    const device = m.device(id);
    if (!device) throw new ApiError('NOT_FOUND', `no device "${id}"`);
    authorizeRead(request, [device.domain]);
    return { index, device, ...(m.deviceState(id) ?? {}), plan: m.devicePlan(id) ?? null };
  });
}

/** domainsRoute serves GET /v1/domains: the domains the token reads. */
function domainsRoute(app: FastifyInstance, machine: () => StateMachine, readPoint: ReadPoint): void {
  app.get('/v1/domains', { schema: { querystring: Consistency } }, async (request) => {
    const index = await readPoint((request.query as { consistency: 'linearizable' | 'stale' }).consistency);
    const grant = authorizeRead(request);
    return { index, domains: machine().domains().filter((d) => grantCovers(grant, d.name)) };
  });
}

/** policyRoute serves GET /v1/policies/:domain: a domain's policy. */
function policyRoute(app: FastifyInstance, machine: () => StateMachine, readPoint: ReadPoint): void {
  app.get('/v1/policies/:domain', {
    schema: { params: Type.Object({ domain: Type.String({ minLength: 1, maxLength: 64 }) }), querystring: Consistency },
  }, async (request) => {
    const { domain } = request.params as { domain: string };
    authorizeRead(request, [domain]);
    const index = await readPoint((request.query as { consistency: 'linearizable' | 'stale' }).consistency);
    const policy = machine().policy(domain);
    if (!policy) throw new ApiError('NOT_FOUND', `domain "${domain}" has no policy`);
    return { index, policy };
  });
}

/** imagesRoute serves GET /v1/images: the pinned μmbox images of the token's domains (or of the one asked for). */
function imagesRoute(app: FastifyInstance, machine: () => StateMachine, readPoint: ReadPoint): void {
  app.get('/v1/images', {
    schema: { querystring: Type.Object({ consistency: Type.Union([Type.Literal('linearizable'), Type.Literal('stale')], { default: 'linearizable' }), domain: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false }) },
  }, async (request) => {
    const query = request.query as { consistency: 'linearizable' | 'stale'; domain?: string };
    const grant = authorizeRead(request, query.domain ? [query.domain] : []);
    const index = await readPoint(query.consistency);
    const m = machine();
    const domains = query.domain ? [query.domain] : m.domains().map((d) => d.name).filter((name) => grantCovers(grant, name));
    return { index, images: domains.flatMap((domain) => m.images(domain).map((image) => ({ domain, ...image }))) };
  });
}

/** keysRoute serves GET /v1/keys: the root key, the keys the token may see (visibleKeys) and the members. */
function keysRoute(app: FastifyInstance, machine: () => StateMachine, readPoint: ReadPoint): void {
  app.get('/v1/keys', { schema: { querystring: Consistency } }, async (request) => {
    const grant = authorizeRead(request);
    const index = await readPoint((request.query as { consistency: 'linearizable' | 'stale' }).consistency);
    return { index, root: machine().root(), keys: visibleKeys(machine(), grant), members: machine().members() };
  });
}

/** rejectionsRoute serves GET /v1/rejections: the counts and recent rejected commands, of the token's domains' signers. */
function rejectionsRoute(app: FastifyInstance, machine: () => StateMachine, readPoint: ReadPoint): void {
  app.get('/v1/rejections', { schema: { querystring: Consistency } }, async (request) => {
    const grant = authorizeRead(request);
    const index = await readPoint((request.query as { consistency: 'linearizable' | 'stale' }).consistency);
    const m = machine();
    if (grantsEvery(grant, m.domains().map((d) => d.name))) return { index, counts: m.rejectionCounts(), recent: m.rejections() };
    // A reader of some domains sees the rejections signed by keys of those domains; the counts are theirs.
    const signers = new Set(m.keys().filter((k) => (k.domains ?? []).some((d) => grantCovers(grant, d))).map((k) => k.keyId));
    const recent = m.rejections().filter((r) => signers.has(r.signer));
    const counts: Record<string, number> = {};
    for (const r of recent) counts[r.code] = (counts[r.code] ?? 0) + 1;
    return { index, counts, recent };
  });
}

/** auditLogRoute serves GET /v1/audit/log: the applied log as NDJSON, headed by the audit chain when complete. */
function auditLogRoute(app: FastifyInstance, gateway: GatewayDeps, machine: () => StateMachine): void {
  app.get('/v1/audit/log', {
    schema: {
      querystring: Type.Object({
        from: Type.Integer({ minimum: 1, default: 1 }),
        limit: Type.Integer({ minimum: 1, maximum: MAX_EXPORT_ENTRIES, default: MAX_EXPORT_ENTRIES }),
      }, { additionalProperties: false }),
    },
  }, async (request, reply) => {
    const { from, limit } = request.query as { from: number; limit: number };
    requireEveryDomain(request, machine(), 'the audit export holds every domain\'s commands');
    const exporter = gateway.appliedEnvelopes;
    if (!exporter) throw new ApiError('NOT_FOUND', 'this node cannot export its log');
    // Read the chain and the entries in one synchronous step, so the header matches the entries.
    const m = machine();
    const last = m.lastApplied().index;
    const chain = m.auditChain();
    const { firstIndex, entries } = exporter(from, limit);
    // Index 1 is every founder's bootstrap snapshot, which holds no command: only a later snapshot loses entries.
    const snapshotIndex = firstIndex - 1;
    if (snapshotIndex > 1 && from <= snapshotIndex && from <= last) {
      throw new ApiError('GONE', `entries before index ${firstIndex} were compacted into a snapshot; export from ${firstIndex} (a full audit needs an export taken before compaction)`);
    }
    const complete = entries.length === 0 ? from > last : entries[entries.length - 1]!.index === last;
    const header = { clusterId: m.clusterId(), ...(complete && from === 1 ? { auditChain: chain, index: last } : {}) };
    const lines = [JSON.stringify(header), ...entries.map((e) => JSON.stringify({ index: e.index, term: e.term, timeMs: e.timeMs, payload: Buffer.from(e.payload).toString('base64') }))];
    reply.header('content-type', 'application/x-ndjson');
    return `${lines.join('\n')}\n`;
  });
}

/** watchRoute serves GET /v1/watch: applied entries as server-sent events, through one WatchHub (watch.ts). */
function watchRoute(app: FastifyInstance, deps: ApiDeps, gateway: GatewayDeps, machine: () => StateMachine, entryDomains: EntryDomains): void {
  /** readings finds the sensor readings of an applied telemetry entry, for the watch stream. */
  const readings = watchReadings(gateway.appliedEnvelopes);
  /** watchHub serves GET /v1/watch: one listener on the applier, bounded clients (watch.ts). */
  const applier = gateway.applier;
  const watchHub = new WatchHub({
    on: (e, l) => applier.on(e, l), off: (e, l) => applier.off(e, l), recentFrom: (at) => applier.recentFrom(at),
    prime: (events) => readings.prime(events), format: (event) => eventBody(event, readings.of(event)),
  }, deps.watchLimits);
  app.get('/v1/watch', {
    schema: { querystring: Type.Object({ from: Type.Optional(Type.Integer({ minimum: 0 })) }, { additionalProperties: false }) },
  }, async (request, reply) => {
    const { from } = request.query as { from?: number };
    const grant = authorizeRead(request);
    const domains = (): string[] => machine().domains().map((d) => d.name);
    // A reader of some domains sees the entries of those domains only (cluster-wide ones are for readers of every domain).
    const visible = grantsEvery(grant, domains()) ? undefined : (event: AppliedEvent): boolean => {
      const domain = entryDomains.of(event);
      return domain !== undefined && domain !== '' && grantCovers(grant, domain);
    };
    watchHub.admit(request.ip);
    const raw = reply.raw;
    reply.hijack();
    raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    // Node holds the headers until the first body byte: without this, a client watching from now
    // would not see its stream open until the next entry is applied (or the first keep-alive, 15 s).
    raw.flushHeaders();
    watchHub.open(raw, request.ip, from, visible);
    endWhenUnauthorized(request, raw, grant, domains);
    return reply;
  });
}

/**
 * requireEveryDomain refuses (403) a token that does not grant every domain of the cluster, for the
 * routes whose answer cannot be split by domain without breaking it (the audit chain covers every entry).
 */
export function requireEveryDomain(request: FastifyRequest, machine: StateMachine, why: string): void {
  const grant = authorizeRead(request);
  if (!grantsEvery(grant, machine.domains().map((d) => d.name))) {
    throw new ApiError('FORBIDDEN', `authorization: ${why}; the token of key ${grant.keyId} does not grant every domain (sign it with a root key, or name every domain)`, { tokenCode: 'wrong_domain' });
  }
}

/** signerSeqRoute serves a signer's last sequence number (qgate reads it before signing), to the readers authorizeSigner allows. */
function signerSeqRoute(app: FastifyInstance, machine: () => StateMachine, readPoint: (consistency: 'linearizable' | 'stale') => Promise<number>): void {
  app.get('/v1/signers/:signer/seq', {
    schema: { params: Type.Object({ signer: Type.String({ minLength: 1, maxLength: 64 }) }), querystring: Consistency },
  }, async (request) => {
    const grant = authorizeRead(request);
    const { signer } = request.params as { signer: string };
    authorizeSigner(request, grant, machine(), signer);
    const index = await readPoint((request.query as { consistency: 'linearizable' | 'stale' }).consistency);
    return { index, signer, lastSeq: machine().lastSeq(signer) };
  });
}

/**
 * authorizeSigner lets a token read a signer's last sequence number when the signer is the token's own key,
 * an admin or viewer key all of whose domains the token grants, or when the token grants every domain
 * (root and node keys, and unknown signers, are cluster-wide); 403 otherwise.
 */
function authorizeSigner(request: FastifyRequest, grant: ReadGrant, machine: StateMachine, signer: string): void {
  const key = machine.keys().find((k) => k.keyId === signer || k.publicKey === signer);
  if (key !== undefined && key.keyId === grant.keyId) return;
  if (key?.domains !== undefined && key.domains.length > 0) {
    authorizeRead(request, key.domains);
    return;
  }
  requireEveryDomain(request, machine, `signer ${signer} is not a key of the token's domains`);
}

/** WATCH_RECHECK_MS is how often a watch stream's token is verified again (expiry, revocation). */
const WATCH_RECHECK_MS = 5_000;

/**
 * endWhenUnauthorized ends a watch stream with an `error` event once its token no longer reads what it
 * read when the stream opened: expired, its key revoked, a domain of it revoked (or, for a reader of every
 * domain, a domain created that it does not grant).
 */
function endWhenUnauthorized(request: FastifyRequest, raw: ServerResponse, opened: ReadGrant, domains: () => string[]): void {
  const recheck = request.recheckRead;
  if (recheck === null) return;
  const wasEvery = grantsEvery(opened, domains());
  const timer = setInterval(() => {
    let message: string | undefined;
    try {
      const now = recheck();
      const still = wasEvery ? grantsEvery(now, domains()) : opened.domains !== 'all' && [...opened.domains].every((d) => grantCovers(now, d));
      if (!still) message = `the token no longer grants ${wasEvery ? 'every domain' : 'the domains it watched'}`;
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      message = error.message;
    }
    if (message === undefined) return;
    clearInterval(timer);
    raw.end(`event: error\ndata: ${JSON.stringify({ code: 'UNAUTHENTICATED', message: `watch: ended: ${message}` })}\n\n`);
  }, WATCH_RECHECK_MS);
  timer.unref();
  raw.on('close', () => clearInterval(timer));
}

/** visibleKeys lists the root and node keys, and the admin and viewer keys of the domains a grant reads (with only those domains). */
function visibleKeys(machine: StateMachine, grant: ReadGrant): ReturnType<StateMachine['keys']> {
  return machine.keys().flatMap((key) => {
    if (key.domains === undefined || grant.domains === 'all') return [key];
    const domains = key.domains.filter((d) => grantCovers(grant, d));
    return domains.length === 0 ? [] : [{ ...key, domains }];
  });
}

/** waitEnforced resolves once this node's data plane enforces the state at `index`, or fails with TIMEOUT. */
async function waitEnforced(enforcement: NonNullable<NonNullable<ApiDeps['gateway']>['enforcement']>, index: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (enforcement.enforcedIndex() < index) {
    if (Date.now() > deadline) {
      throw new ApiError('TIMEOUT', `committed at index ${index}, but this node's data plane did not enforce it within ${timeoutMs} ms`, { indeterminate: false, committedIndex: index });
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * originalAnswer is the answer to an envelope whose body was applied (or rejected) before: the original
 * index, term and result, marked duplicate. Undefined when nothing is remembered for its body, or when
 * its signatures do not verify (StateMachine.resultForEnvelope).
 */
function originalAnswer(machine: StateMachine, bytes: Uint8Array): SubmitAnswer | undefined {
  const found = machine.resultForEnvelope(bytes);
  if (found === undefined) return undefined;
  const { result, kind, signer } = found;
  return {
    index: result.index, term: result.term, bodyHash: machine.bodyHashOf(bytes), duplicate: true,
    result: result.ok ? { ok: true, index: result.index, kind, signer } : { ok: false, index: result.index, kind, signer, code: result.code, reason: result.reason },
  };
}

function resultBody(result: ApplyResult): Record<string, unknown> & { ok: boolean; index: number } {
  if (result.ok) return { ok: true, index: result.index, kind: result.kind, signer: result.signer, effects: result.effects as unknown as Record<string, unknown>[] };
  return { ok: false, index: result.index, code: result.code, reason: result.reason, path: result.path };
}

/** WatchReading is a sensor reading that an applied telemetry entry recorded (docs/api.md "Watch"). */
export interface WatchReading {
  deviceId: string;
  sensor: string;
  value: SensorValue;
  /** timeMs is the entry's leader-stamped time, the time the state records for the reading. */
  timeMs: number;
}

/**
 * readingsOf lists the readings an applied telemetry entry recorded, from the entry's own bytes: every
 * `reading` event of the batch except those the state machine skipped (a `telemetrySkipped` effect
 * names each by its position). Undefined for any other entry, and for a rejected batch, which records
 * nothing.
 */
export function readingsOf(result: ApplyResult, timeMs: number, payload: Uint8Array | undefined): WatchReading[] | undefined {
  if (!result.ok || result.kind !== 'telemetry' || payload === undefined) return undefined;
  let events;
  try {
    const body = decodeBody(decodeSignedCommand(payload).body);
    if (body.payload.kind !== 'telemetry') return undefined;
    events = body.payload.events;
  } catch (error) {
    // The bytes were applied, so they decode; if they do not, the watch says nothing of readings.
    if (error instanceof CommandError) return undefined;
    throw error;
  }
  const skipped = new Set(result.effects.flatMap((effect) => (effect.kind === 'telemetrySkipped' ? [effect.event] : [])));
  const readings: WatchReading[] = [];
  events.forEach((event, i) => {
    if (event.kind === 'reading' && !skipped.has(i)) readings.push({ deviceId: event.deviceId, sensor: event.sensor, value: event.value, timeMs });
  });
  return readings;
}

function eventBody(event: AppliedEvent, readings: WatchReading[] | undefined): string {
  const result = event.result;
  return JSON.stringify({ ...resultBody(result), index: event.index, term: event.term, timeMs: event.timeMs, ...(readings === undefined ? {} : { readings }) });
}

/**
 * watchReadings returns the function that finds the readings of an applied event, from the applied
 * entries' bytes (appliedEnvelopes: the runtime's in-memory log). Each event is decoded once for all
 * watch clients (a weak map keyed by the event object the applier hands every listener); a node that
 * cannot export its log sends no readings.
 */
function watchReadings(appliedEnvelopes: NonNullable<ApiDeps['gateway']>['appliedEnvelopes']): WatchReadings {
  const decoded = new WeakMap<AppliedEvent, { readings: WatchReading[] | undefined }>();
  const isTelemetry = (event: AppliedEvent): boolean => event.result.ok && event.result.kind === 'telemetry';
  const remember = (event: AppliedEvent, payload: Uint8Array | undefined): WatchReading[] | undefined => {
    const readings = readingsOf(event.result, event.timeMs, payload);
    decoded.set(event, { readings });
    return readings;
  };
  return {
    of: (event) => {
      if (!isTelemetry(event) || appliedEnvelopes === undefined) return undefined;
      const known = decoded.get(event);
      if (known !== undefined) return known.readings;
      const entry = appliedEnvelopes(event.index, 1).entries[0];
      return remember(event, entry?.index === event.index ? entry.payload : undefined);
    },
    prime: (events) => {
      const wanted = events.filter((event) => isTelemetry(event) && !decoded.has(event));
      const first = wanted[0];
      const last = wanted[wanted.length - 1];
      if (appliedEnvelopes === undefined || first === undefined || last === undefined) return;
      // One read of the log for a replay, instead of one per entry.
      const payloads = new Map(appliedEnvelopes(first.index, last.index - first.index + 1).entries.map((entry) => [entry.index, entry.payload]));
      for (const event of wanted) remember(event, payloads.get(event.index));
    },
  };
}

/**
 * watchDomains returns the function that finds the domain an applied entry's command names ('' for a
 * cluster-wide one), from the entry's bytes, decoded once per event; undefined when the bytes are gone.
 */
function watchDomains(appliedEnvelopes: NonNullable<ApiDeps['gateway']>['appliedEnvelopes']): { of: (event: AppliedEvent) => string | undefined; at: (index: number) => string | undefined } {
  const decoded = new WeakMap<AppliedEvent, { domain: string | undefined }>();
  const domainOf = (payload: Uint8Array | undefined): string | undefined => {
    if (payload === undefined) return undefined;
    try {
      return decodeBody(decodeSignedCommand(payload).body).domain;
    } catch (error) {
      if (error instanceof CommandError) return undefined;
      throw error;
    }
  };
  const at = (index: number): string | undefined => {
    const entry = appliedEnvelopes?.(index, 1).entries[0];
    return domainOf(entry?.index === index ? entry.payload : undefined);
  };
  return {
    of: (event) => {
      const known = decoded.get(event);
      if (known !== undefined) return known.domain;
      const domain = at(event.index);
      decoded.set(event, { domain });
      return domain;
    },
    at,
  };
}

/** WatchReadings finds the readings of applied events: one at a time, or primed for a replay. */
interface WatchReadings {
  of: (event: AppliedEvent) => WatchReading[] | undefined;
  prime: (events: readonly AppliedEvent[]) => void;
}
