// routes-health.ts — liveness, readiness and the node's Raft status.
import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { ApiDeps, DevicesStatus } from './deps.js';
import { grantCovers, type ReadGrant } from '../commands/index.js';

/** DevicesStatusSchema is the `devices` section of GET /v1/status (DevicesStatus in deps.ts). */
export const DevicesStatusSchema = Type.Object({
  adapters: Type.Array(Type.Object({
    protocol: Type.String(),
    connected: Type.Boolean(),
    lastError: Type.Union([Type.String(), Type.Null()]),
    retries: Type.Integer({ minimum: 0 }),
    devices: Type.Integer({ minimum: 0 }),
    unreachable: Type.Array(Type.String()),
    intakeLagMs: Type.Optional(Type.Integer({ minimum: 0 })),
  })),
  broker: Type.Union([Type.Object({ running: Type.Boolean(), address: Type.String(), lastError: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
  readings: Type.Object({
    queued: Type.Integer({ minimum: 0 }), dropped: Type.Record(Type.String(), Type.Integer({ minimum: 0 })), submitted: Type.Integer({ minimum: 0 }),
    batches: Type.Optional(Type.Integer({ minimum: 0 })), batchMs: Type.Optional(Type.Integer({ minimum: 0 })),
  }),
  commands: Type.Object({ inFlight: Type.Integer({ minimum: 0 }), failed: Type.Integer({ minimum: 0 }) }),
  management: Type.Object({ address: Type.String(), port: Type.String(), ready: Type.Boolean(), lastError: Type.Union([Type.String(), Type.Null()]) }),
  problems: Type.Array(Type.Object({ deviceId: Type.String(), problem: Type.String() })),
});

// The schema and the interface the node implements must describe the same thing: this fails to
// compile when one changes without the other.
const schemaMatchesInterface: [Static<typeof DevicesStatusSchema>, DevicesStatus] extends [DevicesStatus, Static<typeof DevicesStatusSchema>] ? true : false = true;
void schemaMatchesInterface;

const StatusSchema = Type.Object({
  id: Type.Integer(),
  role: Type.String(),
  leader: Type.Integer(),
  term: Type.Integer(),
  commit: Type.Integer(),
  applied: Type.Integer(),
  snapshotIndex: Type.Integer(),
  lastIndex: Type.Integer(),
  voters: Type.Array(Type.Integer()),
  learners: Type.Array(Type.Integer()),
  removed: Type.Boolean(),
  /** clusterId names the cluster (gateway mode): what a read token's `aud` must be. */
  clusterId: Type.Optional(Type.String()),
  stateHash: Type.Optional(Type.String()),
  auditChain: Type.Optional(Type.String()),
  enforcedIndex: Type.Optional(Type.Integer()),
  enforced: Type.Optional(Type.Array(Type.Object({
    deviceId: Type.String(),
    desiredGeneration: Type.Integer(),
    appliedGeneration: Type.Union([Type.Integer(), Type.Null()]),
    enforcement: Type.String(),
    reason: Type.Union([Type.String(), Type.Null()]),
  }))),
  devices: Type.Optional(DevicesStatusSchema),
  /** dataplane: the Open vSwitch datapath of this gateway's bridge, the config's setting and why (docs/datapath.md). */
  dataplane: Type.Optional(Type.Object({
    datapath: Type.Union([Type.Literal('system'), Type.Literal('netdev')]),
    setting: Type.Union([Type.Literal('auto'), Type.Literal('system'), Type.Literal('netdev')]),
    reason: Type.String(),
  })),
});

/** healthRoutes: GET /healthz (the process answers), GET /readyz (a leader is known), GET /v1/status. */
export const healthRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  app.get('/healthz', { schema: { response: { 200: Type.Object({ ok: Type.Boolean() }) } } }, async () => ({ ok: true }));
  app.get('/readyz', {
    schema: { response: { 200: Type.Object({ ready: Type.Boolean(), reason: Type.String() }), 503: Type.Object({ ready: Type.Boolean(), reason: Type.String() }) } },
  }, async (_request, reply) => {
    const status = deps.runtime.status();
    if (status.removed) return reply.status(503).send({ ready: false, reason: 'this node was removed from the cluster' });
    if (status.leader === 0) return reply.status(503).send({ ready: false, reason: 'no leader known' });
    return { ready: true, reason: `leader is node ${status.leader}` };
  });
  // Open to anyone (docs/api.md "Authentication"): Raft status, hashes and the enforced index. Device
  // details (per-device enforcement, the devices section) only with a read token, for its domains.
  app.get('/v1/status', { schema: { response: { 200: StatusSchema } } }, async (request) => {
    const status = deps.runtime.status();
    const gateway = deps.gateway;
    const grant = request.readGrant;
    if (!gateway) return { ...status, ...(deps.devices ? { devices: deps.devices.status() } : {}) };
    const machine = gateway.applier.machine;
    const enforcement = gateway.enforcement;
    const visible = (deviceId: string): boolean => grant !== null && (grant.domains === 'all' || grantCovers(grant, machine.deviceHome(deviceId)?.domain ?? ''));
    return {
      ...status,
      clusterId: machine.clusterId(),
      stateHash: machine.stateHash(),
      auditChain: machine.auditChain(),
      ...(enforcement ? { enforcedIndex: enforcement.enforcedIndex(), ...(grant !== null ? { enforced: enforcement.report().filter((e) => visible(e.deviceId)) } : {}) } : {}),
      ...(deps.devices && grant !== null ? { devices: devicesFor(deps.devices.status(), grant, visible) } : {}),
      ...(enforcement?.datapath ? { dataplane: enforcement.datapath } : {}),
    };
  });
};

/** devicesFor keeps the device ids of the devices section that a grant may read. */
function devicesFor(status: DevicesStatus, grant: ReadGrant, visible: (deviceId: string) => boolean): DevicesStatus {
  if (grant.domains === 'all') return status;
  return {
    ...status,
    adapters: status.adapters.map((a) => ({ ...a, unreachable: a.unreachable.filter(visible) })),
    problems: status.problems.filter((p) => visible(p.deviceId)),
  };
}
