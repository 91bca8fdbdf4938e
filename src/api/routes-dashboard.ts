// routes-dashboard.ts — the reads the web dashboard (docs/dashboard.md) makes, computed here so that the page
// only displays: the devices table, one device's story, this node's view of the cluster, the policy as a
// graph of states and rules, and the discovered devices with the command that adopts each.
//
// Every answer comes from this node's applied state at once (no ReadIndex through the leader), so the
// dashboard keeps working on a follower and on a node cut off from the leader; each answer says which
// index it reflects and how far this node is behind what it knows to be committed. Histories (state
// changes, alerts) are kept from the applied events this node saw: the applier's recent events at start,
// then every new one, bounded per device and in devices.
import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import { CommandError, decodeBody, decodeSignedCommand } from '../commands/index.js';
import type { StateMachine } from '../state/index.js';
import type { AppliedEvent } from './ports.js';
import type { Status as RaftStatus } from '../raft/types.js';
import type { ApiDeps } from './deps.js';
import { ApiError } from './errors.js';
import { authorizeRead, grantCovers } from './read-auth.js';
import type { ReadGrant } from '../commands/index.js';

/** MAX_HISTORY_PER_DEVICE bounds the state changes and the alerts kept per device. */
export const MAX_HISTORY_PER_DEVICE = 100;
/** MAX_TRACKED_DEVICES bounds the devices whose history is kept (the oldest-touched is forgotten first). */
export const MAX_TRACKED_DEVICES = 10_000;
/** MAX_DASHBOARD_COMMANDS bounds the device commands one device's page lists (the newest). */
export const MAX_DASHBOARD_COMMANDS = 50;
/** MAX_PENDING_EVENTS bounds the applied events waiting to be recorded (they are recorded at once beyond it). */
const MAX_PENDING_EVENTS = 4096;
/** ROLE_SAMPLE_MS is how often the node's Raft role and term are sampled to date elections and lost leaders. */
export const ROLE_SAMPLE_MS = 100;

/** DEVICE_ID is what a device id may be (the adopt command proposes the DHCP host name when it is one). */
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
const Name = Type.String({ minLength: 1, maxLength: 64, pattern: DEVICE_ID.source });

/** StateChange is one move of a device's security state, with the rule (or admin) that made it. */
export interface StateChange { index: number; timeMs: number; from: string; to: string; rule: string }
/** AlertRecord is one alert a device raised, as the cluster committed it. */
export interface AlertRecord { index: number; timeMs: number; alertType: string }

/**
 * DeviceHistories remembers, per device, its latest state changes and alerts from applied events. Bounded:
 * MAX_HISTORY_PER_DEVICE each, MAX_TRACKED_DEVICES devices (a Map keeps insertion order; a touched device
 * moves to the end, the first one is dropped).
 */
export class DeviceHistories {
  private readonly byDevice = new Map<string, { changes: StateChange[]; alerts: AlertRecord[] }>();

  /**
   * record adds what one applied event did: its state changes and its alerts (`alert` effects: a telemetry
   * batch is not decoded again). `payloadOf` gives its entry's bytes when the event needs them: an admin's
   * state change (the engine names its rule "manual"; the signer and the reason are in the command).
   */
  record(event: AppliedEvent, payloadOf: (index: number) => Uint8Array | undefined): void {
    const result = event.result;
    if (!result.ok) return;
    let manual: string | undefined;
    for (const effect of result.effects) {
      if (effect.kind !== 'deviceState') continue;
      if (effect.rule === 'manual' && manual === undefined) manual = manualCause(payloadOf(event.index));
      const rule = effect.rule === 'manual' ? manual ?? 'manual' : effect.rule;
      push(this.entry(effect.deviceId).changes, { index: event.index, timeMs: effect.timeMs, from: effect.from, to: effect.to, rule });
    }
    for (const effect of result.effects) {
      if (effect.kind === 'alert') push(this.entry(effect.deviceId).alerts, { index: event.index, timeMs: event.timeMs, alertType: effect.alertType });
    }
  }

  /** of returns a device's remembered changes and alerts, oldest first. */
  of(deviceId: string): { changes: readonly StateChange[]; alerts: readonly AlertRecord[] } {
    return this.byDevice.get(deviceId) ?? { changes: [], alerts: [] };
  }

  private entry(deviceId: string): { changes: StateChange[]; alerts: AlertRecord[] } {
    const known = this.byDevice.get(deviceId);
    if (known !== undefined) {
      this.byDevice.delete(deviceId);
      this.byDevice.set(deviceId, known);
      return known;
    }
    if (this.byDevice.size >= MAX_TRACKED_DEVICES) this.byDevice.delete(this.byDevice.keys().next().value!);
    const fresh = { changes: [], alerts: [] };
    this.byDevice.set(deviceId, fresh);
    return fresh;
  }
}

function push<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > MAX_HISTORY_PER_DEVICE) list.shift();
}

/** decoded is an applied entry's body, or undefined when its bytes do not decode (then the dashboard says less). */
function decoded(payload: Uint8Array): ReturnType<typeof decodeBody> | undefined {
  try {
    return decodeBody(decodeSignedCommand(payload).body);
  } catch (error) {
    // The entry was applied, so its bytes decode; if they do not, the dashboard shows less of it.
    if (error instanceof CommandError) return undefined;
    throw error;
  }
}

/** manualCause is an admin's state change as the state records its cause: "manual by <signer>: <reason>". */
function manualCause(payload: Uint8Array | undefined): string | undefined {
  const body = payload === undefined ? undefined : decoded(payload);
  if (body === undefined || body.payload.kind !== 'setDeviceState') return undefined;
  return `manual by ${body.signer.slice(0, 8)}: ${body.payload.reason}`;
}

/**
 * RoleTracker samples this node's Raft status and remembers when the term last changed (an election this
 * node saw), which leader it followed before, and since when it has known no leader.
 */
export class RoleTracker {
  lastElection: { term: number; atMs: number; leader: number } | null = null;
  lostLeader: { nodeId: number; atMs: number } | null = null;
  noLeaderSinceMs: number | null = null;
  private term = -1;
  private leader = 0;

  /** sample takes one observation of the node's term and leader at `nowMs`. */
  sample(status: { term: number; leader: number }, nowMs: number): void {
    if (this.term !== -1 && status.term !== this.term) this.lastElection = { term: status.term, atMs: nowMs, leader: status.leader };
    if (this.lastElection !== null && this.lastElection.term === status.term) this.lastElection.leader = status.leader;
    if (this.leader !== 0 && status.leader !== this.leader) this.lostLeader = { nodeId: this.leader, atMs: nowMs };
    if (status.leader === 0 && this.noLeaderSinceMs === null) this.noLeaderSinceMs = nowMs;
    if (status.leader !== 0) this.noLeaderSinceMs = null;
    this.term = status.term;
    this.leader = status.leader;
  }
}

/** formatCondition writes a rule's condition the way the policy file says it, on one line. */
export function formatCondition(condition: unknown): string {
  if (condition === null || typeof condition !== 'object') return String(condition);
  const c = condition as Record<string, unknown>;
  if (Array.isArray(c.all)) return `(${c.all.map(formatCondition).join(' and ')})`;
  if (Array.isArray(c.any)) return `(${c.any.map(formatCondition).join(' or ')})`;
  if (c.not !== undefined) return `not ${formatCondition(c.not)}`;
  const alert = c.alert as { type: string; atLeast: number; withinMs: number } | undefined;
  if (alert) return `alert ${alert.type} ≥ ${alert.atLeast} in ${alert.withinMs} ms`;
  const sensor = c.sensor as { name: string; op: string; value: unknown; over?: { last: number; aggregate: string } } | undefined;
  if (sensor) return `${sensor.over ? `${sensor.over.aggregate}(${sensor.name}, last ${sensor.over.last})` : sensor.name} ${sensor.op} ${JSON.stringify(sensor.value)}`;
  const inState = c.timeInState as { atLeastMs: number } | undefined;
  if (inState) return `in state ≥ ${inState.atLeastMs} ms`;
  const timeOfDay = c.timeOfDay as { from: string; to: string; timezone: string } | undefined;
  if (timeOfDay) return `time in ${timeOfDay.from}-${timeOfDay.to} ${timeOfDay.timezone}`;
  return JSON.stringify(condition);
}

/** shellQuote quotes one word for a POSIX shell when it needs it. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9._:/=@-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** dashboardRoutes registers GET /v1/dashboard/{node,devices,devices/:id,cluster,policy,discovered}. */
export const dashboardRoutes: FastifyPluginAsync<{ deps: ApiDeps }> = async (app, { deps }) => {
  const gateway = deps.gateway;
  if (!gateway) throw new Error('dashboardRoutes needs deps.gateway');
  const machine = (): StateMachine => gateway.applier.machine;
  const nowMs = deps.nowMs ?? Date.now;
  const histories = new DeviceHistories();
  const payloadOf = (index: number): Uint8Array | undefined => {
    const entry = gateway.appliedEnvelopes?.(index, 1).entries[0];
    return entry?.index === index ? entry.payload : undefined;
  };
  // The runtime exports an entry's bytes only once it counts the entry applied, after its listeners ran:
  // events are recorded on the next turn of the event loop (or before any answer, whichever is first).
  const pending: AppliedEvent[] = [];
  const flush = (): void => {
    for (const event of pending.splice(0)) histories.record(event, payloadOf);
  };
  const onApplied = (event: AppliedEvent): void => {
    if (pending.length >= MAX_PENDING_EVENTS) flush();
    if (pending.push(event) === 1) setImmediate(flush);
  };
  for (const event of gateway.applier.recentFrom(0).events) histories.record(event, payloadOf);
  gateway.applier.on('applied', onApplied);
  app.addHook('onRequest', async () => flush());
  const roles = new RoleTracker();
  roles.sample(deps.runtime.status(), nowMs());
  const sampler = setInterval(() => roles.sample(deps.runtime.status(), nowMs()), ROLE_SAMPLE_MS);
  sampler.unref();
  app.addHook('onClose', async () => {
    clearInterval(sampler);
    gateway.applier.off('applied', onApplied);
  });
  const view = { deps, machine, histories, roles, nowMs };
  // Every answer needs a valid read token (the onRequest hook of read-auth.ts refuses the others); domain
  // data is only of the grant's domains; this node's Raft view names no domain data (docs/api.md).
  app.get('/v1/dashboard/node', async (request) => {
    authorizeRead(request);
    return nodeView(view);
  });
  app.get('/v1/dashboard/devices', async (request) => ({ node: nodeView(view), devices: devicesView(view, authorizeRead(request)) }));
  app.get('/v1/dashboard/devices/:id', { schema: { params: Type.Object({ id: Name }) } }, async (request) => {
    const { id } = request.params as { id: string };
    return { node: nodeView(view), device: deviceDetail(view, id, (domain) => authorizeRead(request, [domain])) };
  });
  app.get('/v1/dashboard/cluster', async (request) => clusterView(view, authorizeRead(request)));
  app.get('/v1/dashboard/policy', async (request) => ({ node: nodeView(view), domains: policyView(machine(), authorizeRead(request)) }));
  app.get('/v1/dashboard/discovered', async (request) => ({ node: nodeView(view), discovered: discoveredView(machine(), authorizeRead(request)) }));
};

/** DashboardView is what the dashboard's answers are computed from. */
interface DashboardView {
  readonly deps: ApiDeps;
  readonly machine: () => StateMachine;
  readonly histories: DeviceHistories;
  readonly roles: RoleTracker;
  readonly nowMs: () => number;
}

/**
 * nodeView says which node answers and how current its applied state is: the index and time it reflects,
 * the commit index it knows (behind = commit - applied), the leader it follows, and since when it knows none.
 */
function nodeView(view: DashboardView): Record<string, unknown> {
  const status = view.deps.runtime.status();
  const applied = view.machine().lastApplied();
  return {
    id: status.id, role: status.role, leader: status.leader, term: status.term, commit: status.commit, applied: applied.index,
    appliedTimeMs: applied.timeMs, behindEntries: Math.max(0, status.commit - applied.index), nowMs: view.nowMs(),
    noLeaderSinceMs: view.roles.noLeaderSinceMs, lastElection: view.roles.lastElection, lostLeader: view.roles.lostLeader,
    enforcedIndex: view.deps.gateway?.enforcement?.enforcedIndex() ?? null,
  };
}

/** enforcementOf is this node's enforcement report for a device it serves, null for the others. */
function enforcementOf(view: DashboardView): (deviceId: string) => Record<string, unknown> | null {
  const report = new Map((view.deps.gateway?.enforcement?.report() ?? []).map((r) => [r.deviceId, r]));
  return (deviceId) => {
    const r = report.get(deviceId);
    return r === undefined ? null : { enforcement: r.enforcement, reason: r.reason, desiredGeneration: r.desiredGeneration, appliedGeneration: r.appliedGeneration };
  };
}

/** planText is a device plan's chain ("a → b") or verdict, as the page shows it. */
function planText(plan: ReturnType<StateMachine['devicePlan']>): string {
  if (plan === undefined) return '';
  return 'chain' in plan ? plan.chain.map((p) => p.name).join(' → ') : plan.verdict;
}

/** devicesView is the devices table: the devices of the grant's domains. */
function devicesView(view: DashboardView, grant: ReadGrant): Record<string, unknown>[] {
  const m = view.machine();
  const enforcement = enforcementOf(view);
  const selfId = `n${view.deps.runtime.status().id}`;
  return m.devices().filter((device) => grantCovers(grant, device.domain)).map((device) => {
    const state = m.deviceState(device.id) ?? { state: 'unknown', sinceMs: 0 };
    const alerts = view.histories.of(device.id).alerts;
    return {
      id: device.id, domain: device.domain, type: device.type, group: device.group, nodeId: device.nodeId, port: device.port,
      state: state.state, sinceMs: state.sinceMs, plan: planText(m.devicePlan(device.id)),
      enforcement: device.nodeId === selfId ? enforcement(device.id) : null,
      readings: m.deviceReadings(device.id).flatMap((s) => (s.latest === null ? [] : [{ sensor: s.sensor, value: s.latest.value, timeMs: s.latest.timeMs }])),
      lastAlert: alerts[alerts.length - 1] ?? null,
    };
  });
}

/** deviceDetail is one device's story; `authorize` refuses (403) a device outside the request's grant. */
function deviceDetail(view: DashboardView, id: string, authorize: (domain: string) => void): Record<string, unknown> {
  const m = view.machine();
  const device = m.device(id);
  if (device === undefined) throw new ApiError('NOT_FOUND', `no device "${id}" in this node's applied state`);
  authorize(device.domain);
  const state = m.deviceState(id) ?? { state: 'unknown', sinceMs: 0 };
  const type = m.policy(device.domain)?.deviceTypes.find((t) => t.name === device.type);
  const sensors = type?.sensors ?? [];
  const commands = m.commands({ deviceId: id }).sort((a, b) => a.id - b.id).slice(-MAX_DASHBOARD_COMMANDS);
  const history = view.histories.of(id);
  const other = type?.states.map((s) => s.name).find((name) => name !== state.state) ?? '<state>';
  return {
    ...device, state: state.state, sinceMs: state.sinceMs, plan: planText(m.devicePlan(id)),
    states: type?.states.map((s) => s.name) ?? [],
    enforcement: device.nodeId === `n${view.deps.runtime.status().id}` ? enforcementOf(view)(id) : null,
    changes: history.changes, alerts: history.alerts,
    readings: m.deviceReadings(id).map((s) => ({ sensor: s.sensor, unit: sensors.find((spec) => spec.name === s.sensor)?.unit ?? '', history: s.history.map((h) => ({ value: h.value, timeMs: h.timeMs })) })),
    commands: commands.map((c) => ({ id: c.id, command: c.command, args: c.args, status: c.status, timeMs: c.timeMs, attempts: c.attempts, lastError: c.lastError, reason: c.reason ?? null })),
    stateCommand: `qgate --key <admin key of ${device.domain}> state set ${shellQuote(id)} ${shellQuote(other)} --reason ${shellQuote('why you change it')}`,
  };
}

/**
 * clusterView is this node's view of the cluster. Every node knows its own indexes, term, leader and the
 * elections it saw; the leader also knows each member's replicated index and whether it answered since the
 * last quorum check (the Raft thesis, section 6.2), so a dead or cut-off member shows there as unreachable.
 */
function clusterView(view: DashboardView, grant: ReadGrant): Record<string, unknown> {
  const node = nodeView(view);
  const status = view.deps.runtime.status();
  const raft = raftStatusOf(view.deps.runtime);
  const progress = status.role === 'leader' && raft !== undefined ? raft.progress : undefined;
  const members = [...status.voters.map((id) => ({ id, voter: true })), ...status.learners.map((id) => ({ id, voter: false }))].sort((a, b) => a.id - b.id);
  const rows = members.map(({ id, voter }) => {
    const self = id === status.id;
    const peer = progress?.get(id);
    const reachable = self ? true : peer !== undefined ? peer.recentActive : null;
    const lost = !self && view.roles.lostLeader?.nodeId === id && status.leader !== id;
    return {
      id, voter, self, leader: id === status.leader,
      match: self ? status.lastIndex : peer?.match ?? null,
      lagEntries: self ? Math.max(0, status.commit - status.applied) : peer !== undefined ? Math.max(0, status.lastIndex - peer.match) : null,
      reachable: lost && reachable === null ? false : reachable,
      note: self ? 'this node' : progress !== undefined ? (peer?.recentActive ? 'answers the leader' : 'no answer to the leader since the last quorum check') : lost ? `stopped leading at ${new Date(view.roles.lostLeader!.atMs).toISOString()}` : 'known to the leader only',
    };
  });
  const m = view.machine();
  const visible = (deviceId: string): boolean => grantCovers(grant, m.device(deviceId)?.domain ?? '');
  const enforcement = view.deps.gateway?.enforcement;
  const dataplane = enforcement ? { ...summarizeEnforcement(enforcement.report().filter((r) => visible(r.deviceId))), datapath: enforcement.datapath ?? null } : null;
  return { node, members: rows, dataplane, devicesInterface: view.deps.devices?.status() ?? null };
}

/** raftStatusOf reads the core's status (peers' progress on the leader) when the runtime offers it (RaftRuntime.raftStatus). */
function raftStatusOf(runtime: ApiDeps['runtime']): RaftStatus | undefined {
  const offered = (runtime as { raftStatus?: () => RaftStatus }).raftStatus;
  return typeof offered === 'function' ? offered.call(runtime) : undefined;
}

/** summarizeEnforcement counts devices by enforcement and lists the first problems (of the report it is given: the grant's devices). */
function summarizeEnforcement(report: ReturnType<NonNullable<NonNullable<ApiDeps['gateway']>['enforcement']>['report']>): Record<string, unknown> {
  const byState: Record<string, number> = {};
  for (const r of report) byState[r.enforcement] = (byState[r.enforcement] ?? 0) + 1;
  return { devices: report.length, byEnforcement: byState, problems: report.filter((r) => r.reason !== null).slice(0, 20).map((r) => ({ deviceId: r.deviceId, reason: r.reason })) };
}

/** PolicyRule is the part of a policy rule the graph shows (the document holds the full RuleSpec). */
interface PolicyRule { name: string; from: string; to: string; when: unknown; commands?: { command: string; target?: string; args?: Record<string, string> }[] }

/** policyView lists, per domain and device type, its states (chain or verdict) and rules (condition, commands). */
function policyView(m: StateMachine, grant: ReadGrant): Record<string, unknown>[] {
  return m.domains().filter((domain) => grantCovers(grant, domain.name)).map((domain) => {
    const policy = m.policy(domain.name);
    const types = (policy?.deviceTypes ?? []).map((type) => {
      const rules = ((type as unknown as { rules?: PolicyRule[] }).rules ?? []);
      return {
        name: type.name,
        initialState: (type as unknown as { initialState?: string }).initialState ?? type.states[0]?.name ?? '',
        states: type.states.map((s) => ({ name: s.name, plan: 'chain' in s ? s.chain.map((p) => p.name).join(' → ') : s.verdict })),
        rules: rules.map((r) => ({
          name: r.name, from: r.from, to: r.to, when: formatCondition(r.when),
          commands: (r.commands ?? []).map((c) => `${c.command}${c.target === 'group' ? ' (group)' : ''}`),
        })),
      };
    });
    return { name: domain.name, version: policy?.version ?? 0, deviceTypes: types };
  });
}

/** discoveredView lists the discovered devices of the grant's domains (those of no domain yet: a grant of every domain). */
function discoveredView(m: StateMachine, grant: ReadGrant): Record<string, unknown>[] {
  return m.discovered().filter((d) => grantCovers(grant, d.domain)).sort((a, b) => b.lastSeenMs - a.lastSeenMs).slice(0, 1000).map((d) => {
    // A discovered device may name no domain yet: the command then leaves a placeholder for it.
    const domain = d.domain !== '' ? shellQuote(d.domain) : '<domain>';
    const id = DEVICE_ID.test(d.hostname) ? d.hostname : `dev-${d.mac.replace(/:/g, '')}`;
    return {
      nodeId: d.nodeId, domain: d.domain, port: d.port, mac: d.mac, hostname: d.hostname, vendorClass: d.vendorClass, firstSeenMs: d.firstSeenMs, lastSeenMs: d.lastSeenMs,
      adoptCommand: `qgate --key <admin key of ${d.domain !== '' ? d.domain : 'that domain'}> devices register ${shellQuote(id)} --from-discovered ${shellQuote(d.mac)} --domain ${domain} --node ${shellQuote(d.nodeId)} --type <type>`,
    };
  });
}
