// fake-api.ts — a small stand-in for the quorumgate HTTP API (docs/api.md), for testing qgate's client
// logic without a cluster. It serves the routes qgate uses from a REAL StateMachine (src/state), so
// every envelope qgate builds is verified and applied exactly as a node would (signatures, seq,
// expiry, roles). Several FakeNode servers can share one FakeCluster (one agreed state) to act as the
// endpoints of one cluster. Faults are scripted per node: answer a status (optionally after applying
// the command, which makes the answer indeterminate), or drop the connection.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CommandError, type Genesis } from '../../src/commands/index.js';
import { policyEngines, StateMachine, type ApplyResult } from '../../src/state/index.js';

/** AppliedEvent is one entry the fake cluster applied. */
export interface AppliedEvent {
  index: number;
  term: number;
  timeMs: number;
  result: ApplyResult;
}

/** FakeCluster is the agreed state the fake nodes share. */
export class FakeCluster {
  readonly machine: StateMachine;
  readonly events: AppliedEvent[] = [];
  readonly payloads: Uint8Array[] = [];
  private readonly listeners = new Set<(event: AppliedEvent) => void>();
  term = 1;

  constructor(genesis: Genesis, readonly nowMs: () => number = () => Date.now()) {
    this.machine = new StateMachine(genesis, policyEngines);
  }

  /** apply appends one entry and applies it. */
  apply(payload: Uint8Array): AppliedEvent {
    const index = this.machine.lastApplied().index + 1;
    const timeMs = this.nowMs();
    const result = this.machine.apply({ index, term: this.term, timeMs, payload });
    const event = { index, term: this.term, timeMs, result };
    this.events.push(event);
    this.payloads.push(payload);
    for (const listener of this.listeners) listener(event);
    return event;
  }

  /** onApplied subscribes to applied entries; returns the unsubscribe function. */
  onApplied(listener: (event: AppliedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** Fault is a scripted misbehaviour for the next POST /v1/commands a node receives. */
export type Fault =
  | { kind: 'answer'; status: number; body: unknown; applyFirst: boolean }
  | { kind: 'drop'; applyFirst: boolean };

/** Request is what a fake node received. */
export interface Received {
  method: string;
  url: string;
  body: string;
}

function resultBody(result: ApplyResult): Record<string, unknown> {
  if (result.ok) return { ok: true, index: result.index, kind: result.kind, signer: result.signer, effects: result.effects };
  return { ok: false, index: result.index, code: result.code, reason: result.reason, path: result.path };
}

/** FakeNode is one HTTP endpoint of a FakeCluster. */
export class FakeNode {
  readonly received: Received[] = [];
  readonly faults: Fault[] = [];
  private server: Server | undefined;
  url = '';
  /** enforcedLag makes GET /v1/status report `enforcedIndex` this many entries behind (a slow data plane). */
  enforcedLag = 0;
  /** silentWatch makes GET /v1/watch send its headers and then nothing at all (a silent partition). */
  silentWatch = false;
  /** statusPolls counts GET /v1/status requests. */
  statusPolls = 0;

  constructor(readonly cluster: FakeCluster, readonly id = 1) {}

  /** start listens on 127.0.0.1 on a free port. */
  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      void this.handle(request, response);
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** close stops the server and ends open connections (watch streams). */
  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    this.server = undefined;
  }

  /** posts are the bodies of the POST /v1/commands this node received. */
  posts(): string[] {
    return this.received.filter((r) => r.method === 'POST').map((r) => r.body);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(request.url ?? '/', 'http://fake');
    this.received.push({ method: request.method ?? '', url: `${url.pathname}${url.search}`, body });
    const send = (status: number, value: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(value));
    };
    const error = (status: number, code: string, message: string, details?: Record<string, unknown>): void =>
      send(status, { error: { code, message, ...(details ? { details } : {}) } });
    if (request.method === 'POST' && url.pathname === '/v1/commands') {
      this.submit(body, response, send, error);
      return;
    }
    if (request.method !== 'GET') return error(404, 'NOT_FOUND', 'no such route');
    const m = this.cluster.machine;
    const index = m.lastApplied().index;
    const path = url.pathname;
    let match: RegExpExecArray | null;
    if (path === '/v1/state') return send(200, { index, stateHash: m.stateHash(), auditChain: m.auditChain(), clusterId: m.clusterId(), rootVersion: m.root().version });
    if (path === '/v1/keys') return send(200, { index, root: m.root(), keys: m.keys(), members: m.members() });
    if (path === '/v1/domains') return send(200, { index, domains: m.domains() });
    if (path === '/v1/rejections') return send(200, { index, counts: m.rejectionCounts(), recent: m.rejections() });
    if (path === '/v1/status') {
      this.statusPolls += 1;
      return send(200, { id: this.id, role: this.id === 1 ? 'leader' : 'follower', leader: 1, term: this.cluster.term, clusterId: m.clusterId(), commit: index, applied: index,
        snapshotIndex: 0, lastIndex: index, voters: [1, 2, 3], learners: [], removed: false, stateHash: m.stateHash(),
        enforcedIndex: Math.max(0, index - this.enforcedLag),
        enforced: [
          { deviceId: 'plug1', desiredGeneration: 2, appliedGeneration: 2, enforcement: 'enforced', reason: null },
          { deviceId: 'cam1', desiredGeneration: 5, appliedGeneration: 4, enforcement: 'pending', reason: 'μmbox starting' },
        ] });
    }
    if (path === '/v1/images') {
      const domain = url.searchParams.get('domain');
      const domains = domain ? [domain] : m.domains().map((d) => d.name);
      return send(200, { index, images: domains.flatMap((d) => m.images(d).map((image) => ({ domain: d, ...image }))) });
    }
    if (path === '/v1/devices') {
      const filter = { ...(url.searchParams.get('domain') ? { domain: url.searchParams.get('domain') as string } : {}), ...(url.searchParams.get('node') ? { nodeId: url.searchParams.get('node') as string } : {}) };
      return send(200, { index, devices: m.devices(filter).map((d) => ({ ...d, ...(m.deviceState(d.id) ?? { state: 'unknown', sinceMs: 0 }) })) });
    }
    if ((match = /^\/v1\/devices\/([^/]+)$/.exec(path)) !== null) {
      const id = decodeURIComponent(match[1] as string);
      const device = m.device(id);
      if (device === undefined) return error(404, 'NOT_FOUND', `no device "${id}"`);
      return send(200, { index, device, ...(m.deviceState(id) ?? {}), plan: m.devicePlan(id) ?? null });
    }
    if ((match = /^\/v1\/policies\/([^/]+)$/.exec(path)) !== null) {
      const policy = m.policy(decodeURIComponent(match[1] as string));
      if (policy === undefined) return error(404, 'NOT_FOUND', 'no policy');
      return send(200, { index, policy });
    }
    if ((match = /^\/v1\/signers\/([^/]+)\/seq$/.exec(path)) !== null) {
      const signer = decodeURIComponent(match[1] as string);
      return send(200, { index, signer, lastSeq: m.lastSeq(signer) });
    }
    if ((match = /^\/v1\/commands\/([0-9a-f]{64})$/.exec(path)) !== null) {
      const remembered = m.resultFor(match[1] as string);
      if (remembered === undefined) return error(404, 'NOT_FOUND', 'no such command');
      return send(200, remembered);
    }
    if (path === '/v1/watch') return this.watch(url, response);
    return error(404, 'NOT_FOUND', `no route ${path}`);
  }

  private submit(text: string, response: ServerResponse, send: (status: number, value: unknown) => void,
    error: (status: number, code: string, message: string, details?: Record<string, unknown>) => void): void {
    let parsed: { envelope?: unknown; wait?: unknown };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      return error(400, 'BAD_REQUEST', 'body is not JSON');
    }
    const extra = Object.keys(parsed).filter((k) => k !== 'envelope' && k !== 'wait' && k !== 'timeoutMs');
    if (typeof parsed.envelope !== 'string' || extra.length > 0) return error(400, 'BAD_REQUEST', `body: expected {envelope, wait, timeoutMs?}, found keys ${Object.keys(parsed).join(',')}`);
    const bytes = new Uint8Array(Buffer.from(parsed.envelope, 'base64'));
    const m = this.cluster.machine;
    const fault = this.faults.shift();
    let checked;
    try {
      checked = m.precheck(bytes, this.cluster.nowMs());
    } catch (failure) {
      if (!(failure instanceof CommandError)) throw failure;
      const hash = m.bodyHashOf(bytes);
      const remembered = m.resultFor(hash);
      if (remembered?.ok === true) return send(200, { index: remembered.index, term: 0, bodyHash: hash, duplicate: true, result: { ok: true, index: remembered.index } });
      return error(422, 'UNPROCESSABLE', `the command was not proposed: ${failure.message}`, { commandCode: failure.code, path: failure.path });
    }
    const applied = fault === undefined || fault.applyFirst ? this.cluster.apply(bytes) : undefined;
    if (fault?.kind === 'drop') {
      response.socket?.destroy();
      return;
    }
    if (fault?.kind === 'answer') return send(fault.status, fault.body);
    const event = applied as AppliedEvent;
    send(200, { index: event.index, term: event.term, bodyHash: checked.bodyHash, duplicate: false, result: resultBody(event.result) });
  }

  private watch(url: URL, response: ServerResponse): void {
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    if (this.silentWatch) {
      response.flushHeaders();
      return;
    }
    const write = (event: AppliedEvent): void => {
      response.write(`event: applied\nid: ${event.index}\ndata: ${JSON.stringify({ ...resultBody(event.result), index: event.index, term: event.term, timeMs: event.timeMs })}\n\n`);
    };
    response.write(': hello\n\n');
    const from = url.searchParams.get('from');
    if (from !== null) for (const event of this.cluster.events) if (event.index >= Number(from)) write(event);
    const off = this.cluster.onApplied(write);
    response.on('close', off);
  }
}

/** closedPort returns a URL on 127.0.0.1 where nothing listens (connections are refused). */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
