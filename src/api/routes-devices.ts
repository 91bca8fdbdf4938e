// routes-devices.ts — the reads of the device interface (docs/devices.md, docs/api.md "Device
// interface"): a device's sensor readings, the device commands the policy ordered and what became of
// them, and the devices gateways discovered on their ports. Every answer is computed from the agreed
// state, at the consistency the client asks for, and carries the index it reflects.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { StateMachine } from '../state/index.js';
import type { ApiDeps } from './deps.js';
import { ApiError } from './errors.js';
import { ConsistencyField, readPointFor, type Consistency } from './read-point.js';
import { authorizeRead, grantCovers } from './read-auth.js';

/** MAX_HISTORY_SAMPLES bounds the history per sensor one answer carries (the policy keeps at most 1,000). */
export const MAX_HISTORY_SAMPLES = 1000;
/** DEFAULT_COMMANDS_LIMIT and MAX_COMMANDS_LIMIT bound GET /v1/device-commands. */
export const DEFAULT_COMMANDS_LIMIT = 100;
export const MAX_COMMANDS_LIMIT = 1000;
/** DEFAULT_DISCOVERED_LIMIT and MAX_DISCOVERED_LIMIT bound GET /v1/discovered. */
export const DEFAULT_DISCOVERED_LIMIT = 1000;
export const MAX_DISCOVERED_LIMIT = 10_000;

/** Name is an identifier as the state uses them (device ids, node ids): 1-64 characters. */
const Name = Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$' });

const ReadingValue = Type.Union([Type.Number(), Type.Boolean(), Type.String()]);
const Sample = Type.Object({ value: ReadingValue, timeMs: Type.Integer() });

/** ReadingsAnswerSchema is the answer of GET /v1/devices/:id/readings. */
export const ReadingsAnswerSchema = Type.Object({
  index: Type.Integer(),
  deviceId: Type.String(),
  /** samplingMs is how often the device is read in its current state; null when its type says nothing. */
  samplingMs: Type.Union([Type.Integer(), Type.Null()]),
  sensors: Type.Array(Type.Object({
    sensor: Type.String(),
    latest: Type.Union([Sample, Type.Null()]),
    /** history is oldest first, the newest `limit` samples. */
    history: Type.Array(Sample),
  })),
});

const CommandStatus = Type.Union([Type.Literal('pending'), Type.Literal('done'), Type.Literal('failed')]);

/** DeviceCommandSchema is one device command and what became of it. */
export const DeviceCommandSchema = Type.Object({
  id: Type.Integer(),
  nodeId: Type.String(),
  deviceId: Type.String(),
  command: Type.String(),
  args: Type.Record(Type.String(), Type.String()),
  /** index and timeMs locate the entry whose policy reaction ordered it. */
  index: Type.Integer(),
  timeMs: Type.Integer(),
  status: CommandStatus,
  /** attempts counts the failures the serving node reported; lastError is the latest one's reason. */
  attempts: Type.Integer({ minimum: 0 }),
  lastError: Type.Union([Type.String(), Type.Null()]),
  doneMs: Type.Optional(Type.Integer()),
  failedMs: Type.Optional(Type.Integer()),
  /** reason is why a failed command was given up. */
  reason: Type.Optional(Type.String()),
});
/** DeviceCommandView is one item of GET /v1/device-commands. */
export type DeviceCommandView = Static<typeof DeviceCommandSchema>;

/** DiscoveredSchema is a device seen on a gateway's port that no registered device owns. */
export const DiscoveredSchema = Type.Object({
  nodeId: Type.String(),
  domain: Type.String(),
  port: Type.String(),
  mac: Type.String(),
  firstSeenMs: Type.Integer(),
  lastSeenMs: Type.Integer(),
  hostname: Type.String(),
  vendorClass: Type.String(),
});
/** DiscoveredView is one item of GET /v1/discovered. */
export type DiscoveredView = Static<typeof DiscoveredSchema>;

/** commandView copies a state record into the API's shape (no field the schema does not name). */
function commandView(record: ReturnType<StateMachine['commands']>[number]): DeviceCommandView {
  return {
    id: record.id, nodeId: record.nodeId, deviceId: record.deviceId, command: record.command, args: { ...record.args },
    index: record.index, timeMs: record.timeMs, status: record.status, attempts: record.attempts,
    // The state records '' before any failure; the API says null.
    lastError: record.lastError === '' ? null : record.lastError,
    ...(record.doneMs !== undefined ? { doneMs: record.doneMs } : {}),
    ...(record.failedMs !== undefined ? { failedMs: record.failedMs } : {}),
    ...(record.reason !== undefined ? { reason: record.reason } : {}),
  };
}

/** newest keeps the last `limit` items of a list (all of them when it is shorter). */
function newest<T>(items: readonly T[], limit: number): T[] {
  return limit === 0 ? [] : items.slice(Math.max(0, items.length - limit));
}

/** deviceRoutes registers the routes of docs/api.md "Device interface". */
export const deviceRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const gateway = deps.gateway;
  if (!gateway) throw new Error('deviceRoutes needs deps.gateway');
  const machine = (): StateMachine => gateway.applier.machine;
  const readPoint = readPointFor(gateway);
  readingsRoute(app, machine, readPoint);
  deviceCommandsRoute(app, machine, readPoint);
  deviceCommandRoute(app, machine, readPoint);
  discoveredRoute(app, machine, readPoint);
};

/** ReadPoint waits for the read point of a consistency and answers the index the read reflects (read-point.ts). */
type ReadPoint = (consistency: Consistency) => Promise<number>;

/** readingsRoute serves GET /v1/devices/:id/readings: a device's sensors, latest reading and history each. */
function readingsRoute(app: FastifyInstance, machine: () => StateMachine, readPoint: ReadPoint): void {
  app.get('/v1/devices/:id/readings', {
    schema: {
      params: Type.Object({ id: Name }),
      querystring: Type.Object({
        consistency: ConsistencyField,
        /** limit: at most this many history samples per sensor (the newest); 0 for the latest only. */
        limit: Type.Integer({ minimum: 0, maximum: MAX_HISTORY_SAMPLES, default: MAX_HISTORY_SAMPLES }),
      }, { additionalProperties: false }),
      response: { 200: ReadingsAnswerSchema },
    },
  }, async (request) => {
    const { id } = request.params as { id: string };
    const { consistency, limit } = request.query as { consistency: Consistency; limit: number };
    const index = await readPoint(consistency);
    const m = machine();
    const device = m.device(id);
    if (device === undefined) throw new ApiError('NOT_FOUND', `no device "${id}"`);
    authorizeRead(request, [device.domain]);
    const sensors = m.deviceReadings(id).map((s) => ({
      sensor: s.sensor,
      latest: s.latest === null ? null : { value: s.latest.value, timeMs: s.latest.timeMs },
      history: newest(s.history, limit).map((sample) => ({ value: sample.value, timeMs: sample.timeMs })),
    }));
    return { index, deviceId: id, samplingMs: m.samplingMs(id) ?? null, sensors };
  });
}

/** deviceCommandsRoute serves GET /v1/device-commands: the newest device commands that match, of the token's domains. */
function deviceCommandsRoute(app: FastifyInstance, machine: () => StateMachine, readPoint: ReadPoint): void {
  app.get('/v1/device-commands', {
    schema: {
      querystring: Type.Object({
        consistency: ConsistencyField,
        node: Type.Optional(Name),
        device: Type.Optional(Name),
        status: Type.Optional(CommandStatus),
        limit: Type.Integer({ minimum: 1, maximum: MAX_COMMANDS_LIMIT, default: DEFAULT_COMMANDS_LIMIT }),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ index: Type.Integer(), total: Type.Integer(), commands: Type.Array(DeviceCommandSchema) }) },
    },
  }, async (request) => {
    const query = request.query as { consistency: Consistency; node?: string; device?: string; status?: 'pending' | 'done' | 'failed'; limit: number };
    const grant = authorizeRead(request);
    const index = await readPoint(query.consistency);
    const m = machine();
    // A command is read with its device's domain; a command whose device was removed, by every-domain readers only.
    const visible = (deviceId: string): boolean => grant.domains === 'all' || grantCovers(grant, m.device(deviceId)?.domain ?? '');
    const all = m.commands({
      ...(query.node !== undefined ? { nodeId: query.node } : {}),
      ...(query.device !== undefined ? { deviceId: query.device } : {}),
      ...(query.status !== undefined ? { status: query.status } : {}),
    }).filter((c) => visible(c.deviceId)).sort((a, b) => a.id - b.id);
    // The newest commands matter most: a long list keeps the last `limit`, and says how many matched.
    return { index, total: all.length, commands: newest(all, query.limit).map(commandView) };
  });
}

/** deviceCommandRoute serves GET /v1/device-commands/:id: one device command, to readers of its device's domain. */
function deviceCommandRoute(app: FastifyInstance, machine: () => StateMachine, readPoint: ReadPoint): void {
  app.get('/v1/device-commands/:id', {
    schema: {
      params: Type.Object({ id: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) }),
      querystring: Type.Object({ consistency: ConsistencyField }, { additionalProperties: false }),
      response: { 200: Type.Object({ index: Type.Integer(), command: DeviceCommandSchema }) },
    },
  }, async (request) => {
    const { id } = request.params as { id: number };
    const index = await readPoint((request.query as { consistency: Consistency }).consistency);
    const record = machine().command(id);
    if (record === undefined) throw new ApiError('NOT_FOUND', `no device command ${id} (never ordered, or forgotten)`);
    const grant = authorizeRead(request);
    const domain = machine().device(record.deviceId)?.domain;
    if (grant.domains !== 'all') authorizeRead(request, [domain ?? `(the removed device ${record.deviceId})`]);
    return { index, command: commandView(record) };
  });
}

/** discoveredRoute serves GET /v1/discovered: unregistered devices seen on gateways' ports, most recently seen first. */
function discoveredRoute(app: FastifyInstance, machine: () => StateMachine, readPoint: ReadPoint): void {
  app.get('/v1/discovered', {
    schema: {
      querystring: Type.Object({
        consistency: ConsistencyField,
        node: Type.Optional(Name),
        limit: Type.Integer({ minimum: 1, maximum: MAX_DISCOVERED_LIMIT, default: DEFAULT_DISCOVERED_LIMIT }),
      }, { additionalProperties: false }),
      response: { 200: Type.Object({ index: Type.Integer(), total: Type.Integer(), discovered: Type.Array(DiscoveredSchema) }) },
    },
  }, async (request) => {
    const query = request.query as { consistency: Consistency; node?: string; limit: number };
    const grant = authorizeRead(request);
    const index = await readPoint(query.consistency);
    const all: DiscoveredView[] = machine().discovered(query.node).filter((d) => grantCovers(grant, d.domain)).map((d) => ({
      nodeId: d.nodeId, domain: d.domain, port: d.port, mac: d.mac, firstSeenMs: d.firstSeenMs, lastSeenMs: d.lastSeenMs, hostname: d.hostname, vendorClass: d.vendorClass,
    }));
    // The most recently seen first; ties in a stable order, so two reads of one state answer alike.
    all.sort((a, b) => b.lastSeenMs - a.lastSeenMs || compareText(a.nodeId, b.nodeId) || compareText(a.port, b.port) || compareText(a.mac, b.mac));
    return { index, total: all.length, discovered: all.slice(0, query.limit) };
  });
}

/** compareText orders two strings by code unit (a stable, locale-free order). */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
