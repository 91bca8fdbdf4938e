// apply-payload.ts — what each verified command does to the state.
//
// Every handler checks everything first and mutates last, so a StateRejection always leaves the state
// untouched. The policy engine is called before the handler's own mutations: it promises to change
// nothing when it refuses (throws) an input.
import assert from 'node:assert/strict';
import {
  keyIdHex, toHex, type DeviceSpec, type DiscoveryEvent, type Payload, type TelemetryEvent, type VerifiedCommand,
} from '../commands/index.js';
import {
  MAX_ADMIN_KEYS_PER_DOMAIN, MAX_CLUSTER_MEMBERS, MAX_COMMAND_ATTEMPTS, MAX_DEVICES, MAX_DISCOVERIES_PER_NODE, MAX_DOMAINS,
  MAX_DONE_COMMANDS, MAX_FAILED_COMMANDS, MAX_IMAGES_PER_DOMAIN, MAX_PENDING_COMMANDS_PER_NODE, MAX_READINGS_HISTORY, MAX_SIGNERS,
} from './constants.js';
import type { PolicyDeviceType, PolicyDocumentView, PolicyEngineFactory, PolicyReaction } from './policy-port.js';
import {
  countOwner, deviceMacs, discoveryKey, portKey, type DomainData, type StateData,
} from './state-data.js';
import type { DeviceCommandRecord, DeviceRecord, Effect, PendingDeviceCommand, StateRejectionCode } from './types.js';
import { TouchedSet } from './touched-map.js';

/** StateRejection is a verified command that the current state forbids; nothing has changed. */
export class StateRejection extends Error {
  override readonly name = 'StateRejection';
  readonly code: StateRejectionCode;
  readonly path: string;
  constructor(code: StateRejectionCode, reason: string, path = '') {
    super(reason);
    this.code = code;
    this.path = path;
  }
}

/** ApplyContext is the entry being applied. */
export interface ApplyContext {
  index: number;
  timeMs: number;
  engines: PolicyEngineFactory;
}

type Handler<K extends Payload['kind']> = (data: StateData, command: VerifiedCommand, payload: Extract<Payload, { kind: K }>, context: ApplyContext) => Effect[];

function reject(code: StateRejectionCode, reason: string, path = ''): never {
  throw new StateRejection(code, reason, path);
}

/** applyPayload dispatches a verified command to its handler; throws StateRejection to reject. */
export function applyPayload(data: StateData, command: VerifiedCommand, context: ApplyContext): Effect[] {
  const payload = command.body.payload;
  switch (payload.kind) {
    case 'rotateRoot': return rotateRoot(data, command, payload, context);
    case 'addAdminKey': return addAdminKey(data, command, payload, context);
    case 'revokeAdminKey': return revokeAdminKey(data, command, payload, context);
    case 'addViewerKey': return addViewerKey(data, command, payload, context);
    case 'revokeViewerKey': return revokeViewerKey(data, command, payload, context);
    case 'setNodeKey': return setNodeKey(data, command, payload, context);
    case 'createDomain': return createDomain(data, command, payload, context);
    case 'removeDomain': return removeDomain(data, command, payload, context);
    case 'setPolicy': return setPolicy(data, command, payload, context);
    case 'putDevice': return putDevice(data, command, payload, context);
    case 'removeDevice': return removeDevice(data, command, payload, context);
    case 'putImage': return putImage(data, command, payload, context);
    case 'removeImage': return removeImage(data, command, payload, context);
    case 'setDeviceState': return setDeviceState(data, command, payload, context);
    case 'telemetry': return telemetry(data, command, payload, context);
    case 'membership': return membership(data, command, payload, context);
    case 'deviceCommandsDone': return deviceCommandsDone(data, command, payload, context);
    case 'transferLeader': return transferLeader(data, command, payload, context);
  }
}

// ---------------------------------------------------------------------------------------------------
// Keys and the root role.

/** keyInUse names the role already holding a public key, or undefined. */
function keyInUse(data: StateData, publicKey: Uint8Array): string | undefined {
  const hex = toHex(publicKey);
  if (data.root.keys.some((k) => toHex(k) === hex)) return 'a root key';
  const entry = data.keys.get(keyIdHex(publicKey));
  if (entry === undefined) return undefined;
  if (entry.role === 'node') return `the key of node ${entry.nodeId}`;
  return entry.role === 'viewer' ? 'a viewer key' : 'an admin key';
}

function requireNewSigner(data: StateData, keyId: string): void {
  if (!data.lastSeq.has(keyId) && data.lastSeq.size + data.keys.size >= MAX_SIGNERS) {
    reject('limit_reached', `the cluster already tracks ${MAX_SIGNERS} signers`);
  }
}

const rotateRoot: Handler<'rotateRoot'> = (data, _command, payload) => {
  if (payload.version !== data.root.version + 1) {
    reject('wrong_version', `root version must be exactly ${data.root.version + 1}, found ${payload.version}`, 'body.rotate_root.version');
  }
  payload.rootKeys.forEach((key, i) => {
    const entry = data.keys.get(keyIdHex(key));
    if (entry !== undefined) reject('key_in_use', `new root key ${i} is already ${entry.role === 'node' ? `the key of node ${entry.nodeId}` : `an ${entry.role} key`}`, `body.rotate_root.root_keys[${i}]`);
  });
  data.root = { version: payload.version, keys: payload.rootKeys.map((k) => Uint8Array.from(k)), threshold: payload.threshold };
  return [{ kind: 'changed', what: 'root', id: String(payload.version) }];
};

function domainOf(data: StateData, name: string): DomainData {
  const domain = data.domains.get(name);
  if (domain === undefined) reject('unknown_domain', `domain "${name}" does not exist`, 'body.domain');
  return domain;
}

/** DomainKeyRole is a role held per domain: admin (may sign the domain's commands) or viewer (may only read it). */
type DomainKeyRole = 'admin' | 'viewer';

/** ROLE_WORDS are the words of the rejection messages of each per-domain role. */
const ROLE_WORDS: Record<DomainKeyRole, { holds: string; holder: string; field: string }> = {
  admin: { holds: 'administers', holder: 'an admin key', field: 'admin_key' },
  viewer: { holds: 'reads', holder: 'a viewer key', field: 'viewer_key' },
};

/** holdersOf is the domain's map of the keys holding a per-domain role. */
function holdersOf(domain: DomainData, role: DomainKeyRole): Map<string, { publicKey: string; name: string }> {
  return role === 'admin' ? domain.admins : domain.viewers;
}

/**
 * grantDomainKey gives a key a per-domain role (addAdminKey, addViewerKey). A key holds one role: an
 * admin key of one domain may administer others, but never also be a viewer, root or node key.
 */
function grantDomainKey(data: StateData, domainName: string, role: DomainKeyRole, publicKey: Uint8Array, name: string): Effect[] {
  const domain = domainOf(data, domainName);
  const words = ROLE_WORDS[role];
  const id = keyIdHex(publicKey);
  const existing = data.keys.get(id);
  const path = `body.add_${words.field}.public_key`;
  if (existing?.role === role && existing.domains.has(domain.name)) {
    reject('key_exists', `key ${id} already ${words.holds} domain "${domain.name}"`, path);
  }
  if (existing === undefined || existing.role !== role) {
    const holder = keyInUse(data, publicKey);
    if (holder !== undefined) reject('key_in_use', `key ${id} is already ${holder}; a key has one role`, path);
  }
  const holders = holdersOf(domain, role);
  if (holders.size >= MAX_ADMIN_KEYS_PER_DOMAIN) reject('limit_reached', `domain "${domain.name}" already has ${MAX_ADMIN_KEYS_PER_DOMAIN} ${role} keys`);
  requireNewSigner(data, id);
  if (existing?.role === role) existing.domains.add(domain.name);
  else data.keys.set(id, { role, publicKey: Uint8Array.from(publicKey), domains: new Set([domain.name]) });
  holders.set(id, { publicKey: toHex(publicKey), name });
  return [{ kind: 'changed', what: 'key', id }];
}

/** revokeDomainKey takes a per-domain role away from a key (revokeAdminKey, revokeViewerKey). */
function revokeDomainKey(data: StateData, domainName: string, role: DomainKeyRole, keyId: Uint8Array): Effect[] {
  const domain = domainOf(data, domainName);
  const id = toHex(keyId);
  const entry = data.keys.get(id);
  if (entry?.role !== role || !entry.domains.has(domain.name)) {
    reject('unknown_key', `key ${id} is not ${ROLE_WORDS[role].holder} of domain "${domain.name}"`, `body.revoke_${ROLE_WORDS[role].field}.key_id`);
  }
  entry.domains.delete(domain.name);
  if (entry.domains.size === 0) data.keys.delete(id);
  holdersOf(domain, role).delete(id);
  // The signer's replay window (lastSeq) is kept: a re-added key continues from its last seq.
  return [{ kind: 'changed', what: 'key', id }];
}

const addAdminKey: Handler<'addAdminKey'> = (data, command, payload) => grantDomainKey(data, command.body.domain, 'admin', payload.publicKey, payload.name);
const revokeAdminKey: Handler<'revokeAdminKey'> = (data, command, payload) => revokeDomainKey(data, command.body.domain, 'admin', payload.keyId);
const addViewerKey: Handler<'addViewerKey'> = (data, command, payload) => grantDomainKey(data, command.body.domain, 'viewer', payload.publicKey, payload.name);
const revokeViewerKey: Handler<'revokeViewerKey'> = (data, command, payload) => revokeDomainKey(data, command.body.domain, 'viewer', payload.keyId);

const setNodeKey: Handler<'setNodeKey'> = (data, _command, payload) => {
  const member = data.members.get(payload.nodeId);
  if (member === undefined) reject('unknown_node', `node "${payload.nodeId}" is not a member`, 'body.set_node_key.node_id');
  const holder = keyInUse(data, payload.publicKey);
  if (holder !== undefined) reject('key_in_use', `the new key is already ${holder}`, 'body.set_node_key.public_key');
  const id = keyIdHex(payload.publicKey);
  requireNewSigner(data, id);
  const oldId = [...data.keys.entries()].find(([, k]) => k.role === 'node' && k.nodeId === payload.nodeId)?.[0];
  assert.ok(oldId !== undefined, `member ${payload.nodeId} has no registered key`);
  data.keys.delete(oldId);
  data.keys.set(id, { role: 'node', publicKey: Uint8Array.from(payload.publicKey), nodeId: payload.nodeId });
  member.nodeKey = toHex(payload.publicKey);
  return [{ kind: 'changed', what: 'key', id }, { kind: 'changed', what: 'member', id: payload.nodeId }];
};

// ---------------------------------------------------------------------------------------------------
// Domains, images, policies.

const createDomain: Handler<'createDomain'> = (data, command, payload) => {
  const name = command.body.domain;
  if (data.domains.has(name)) reject('domain_exists', `domain "${name}" already exists`, 'body.domain');
  if (data.domains.size >= MAX_DOMAINS) reject('limit_reached', `the cluster already has ${MAX_DOMAINS} domains`);
  data.domains.set(name, { name, description: payload.description, admins: new Map(), viewers: new Map(), images: new Map(), policy: undefined, devices: new TouchedSet() });
  return [{ kind: 'changed', what: 'domain', id: name }];
};

const removeDomain: Handler<'removeDomain'> = (data, command) => {
  const domain = domainOf(data, command.body.domain);
  const blockers = [
    domain.devices.size > 0 ? `${domain.devices.size} devices` : '',
    domain.admins.size > 0 ? `${domain.admins.size} admin keys` : '',
    domain.viewers.size > 0 ? `${domain.viewers.size} viewer keys` : '',
    domain.policy !== undefined ? `a policy (version ${domain.policy.version})` : '',
  ].filter((b) => b !== '');
  if (blockers.length > 0) reject('domain_not_empty', `domain "${domain.name}" still has ${blockers.join(', ')}`, 'body.domain');
  data.domains.delete(domain.name);
  return [{ kind: 'changed', what: 'domain', id: domain.name }];
};

/** chainPins lists every (image name, digest) a policy's state chains pin. */
function chainPins(policy: PolicyDocumentView): { type: string; state: string; name: string; digest: string }[] {
  const pins = [];
  for (const type of policy.deviceTypes) {
    for (const state of type.states) {
      if ('chain' in state) for (const pin of state.chain) pins.push({ type: type.name, state: state.name, name: pin.name, digest: pin.digest });
    }
  }
  return pins;
}

const putImage: Handler<'putImage'> = (data, command, payload) => {
  const domain = domainOf(data, command.body.domain);
  const current = domain.images.get(payload.name);
  if (current === undefined && domain.images.size >= MAX_IMAGES_PER_DOMAIN) reject('limit_reached', `domain "${domain.name}" already pins ${MAX_IMAGES_PER_DOMAIN} images`);
  const user = domain.policy === undefined ? undefined : chainPins(domain.policy).find((p) => p.name === payload.name && p.digest !== payload.digest);
  if (user !== undefined) {
    reject('image_in_use', `policy version ${domain.policy?.version} pins image "${payload.name}" to ${user.digest} (type ${user.type}, state ${user.state}); publish a policy with the new digest after pinning it under a new name`, 'body.put_image.digest');
  }
  domain.images.set(payload.name, payload.digest);
  return [{ kind: 'changed', what: 'image', id: `${domain.name}/${payload.name}` }];
};

const removeImage: Handler<'removeImage'> = (data, command, payload) => {
  const domain = domainOf(data, command.body.domain);
  if (!domain.images.has(payload.name)) reject('unknown_image', `domain "${domain.name}" pins no image "${payload.name}"`, 'body.remove_image.name');
  const user = domain.policy === undefined ? undefined : chainPins(domain.policy).find((p) => p.name === payload.name);
  if (user !== undefined) reject('image_in_use', `policy version ${domain.policy?.version} uses image "${payload.name}" (type ${user.type}, state ${user.state})`, 'body.remove_image.name');
  domain.images.delete(payload.name);
  return [{ kind: 'changed', what: 'image', id: `${domain.name}/${payload.name}` }];
};

const setPolicy: Handler<'setPolicy'> = (data, command, payload, context) => {
  const domain = domainOf(data, command.body.domain);
  let value: unknown;
  try {
    value = JSON.parse(payload.documentJson);
  } catch (error) {
    reject('invalid_policy', `policy document is not JSON: ${(error as Error).message}`, 'body.set_policy.document_json');
  }
  let document: PolicyDocumentView;
  try {
    document = data.engine.validate(value, `policy of domain ${domain.name}`);
  } catch (error) {
    const refusal = context.engines.rejection(error);
    if (refusal === undefined) throw error;
    reject('invalid_policy', `${refusal.code}: ${refusal.reason}`, 'body.set_policy.document_json');
  }
  if (document.domain !== domain.name) {
    reject('invalid_policy', `policy document is for domain "${document.domain}", the command acts on "${domain.name}"`, 'body.set_policy.document_json');
  }
  const current = domain.policy?.version ?? 0;
  if (document.version <= current) {
    reject('stale_policy', `policy version ${document.version} does not move forward from ${current}`, 'body.set_policy.document_json');
  }
  for (const pin of chainPins(document)) {
    const pinned = domain.images.get(pin.name);
    if (pinned !== pin.digest) {
      reject('image_not_pinned', `type ${pin.type}, state ${pin.state}: image "${pin.name}" ${pinned === undefined ? 'is not pinned in the domain' : `is pinned to ${pinned}`}, the policy says ${pin.digest}`, 'body.set_policy.document_json');
    }
  }
  engineCall(context, () => data.engine.setPolicy(document));
  domain.policy = document;
  for (const id of domain.devices) {
    const device = data.devices.get(id);
    if (device !== undefined) fitReadings(data, id, document.deviceTypes.find((t) => t.name === device.type));
  }
  return [{ kind: 'changed', what: 'policy', id: `${domain.name}@${document.version}` }];
};

function engineCall<T>(context: ApplyContext, call: () => T): T {
  try {
    return call();
  } catch (error) {
    const refusal = context.engines.rejection(error);
    if (refusal === undefined) throw error;
    reject('policy_rejected', `${refusal.code}: ${refusal.reason}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Devices and their states.

function deviceType(domain: DomainData, typeName: string, path: string): PolicyDeviceType {
  if (domain.policy === undefined) reject('no_policy', `domain "${domain.name}" has no policy yet, so no device types`, path);
  const type = domain.policy.deviceTypes.find((t) => t.name === typeName);
  if (type === undefined) {
    reject('unknown_device_type', `policy version ${domain.policy.version} of domain "${domain.name}" has no device type "${typeName}" (has: ${domain.policy.deviceTypes.map((t) => t.name).join(', ')})`, path);
  }
  return type;
}

function deviceIn(data: StateData, domain: DomainData, id: string, path: string): DeviceSpec & { domain: string } {
  const device = data.devices.get(id);
  if (device === undefined) reject('unknown_device', `device "${id}" does not exist`, path);
  if (device.domain !== domain.name) reject('device_in_other_domain', `device "${id}" belongs to another domain`, path);
  return device;
}

const putDevice: Handler<'putDevice'> = (data, command, payload, context) => {
  const domain = domainOf(data, command.body.domain);
  const spec = payload.device;
  const existing = data.devices.get(spec.id);
  if (existing !== undefined && existing.domain !== domain.name) reject('device_in_other_domain', `device "${spec.id}" belongs to another domain`, 'body.put_device.id');
  if (existing === undefined && data.devices.size >= MAX_DEVICES) reject('limit_reached', `the cluster already has ${MAX_DEVICES} devices`);
  const type = deviceType(domain, spec.type, 'body.put_device.type');
  if (!data.members.has(spec.nodeId)) reject('unknown_node', `node "${spec.nodeId}" is not a member`, 'body.put_device.node_id');
  const record: DeviceRecord = {
    id: spec.id, domain: domain.name, type: spec.type, group: spec.group, tags: [...spec.tags], nodeId: spec.nodeId, port: spec.port,
    addresses: [...spec.addresses],
  };
  if (spec.interface !== undefined) record.interface = { ...spec.interface, options: { ...spec.interface.options } };
  const reactions = engineCall(context, () => data.engine.upsertDevice({ id: record.id, type: record.type, domain: record.domain, group: record.group, tags: record.tags }, context.timeMs));
  if (existing !== undefined && existing.nodeId !== record.nodeId) {
    giveUpPendingFor(data, existing.nodeId, record.id, `device ${record.id} moved to node ${record.nodeId}`, context.timeMs);
  }
  if (existing !== undefined) countOwner(data.owners, existing, -1);
  data.devices.set(record.id, record);
  countOwner(data.owners, record, 1);
  domain.devices.add(record.id);
  fitReadings(data, record.id, type);
  forgetOwnedDiscoveries(data, record);
  return [{ kind: 'changed', what: 'device', id: record.id }, ...reactionEffects(data, reactions, context)];
};

/** giveUpPendingFor moves a device's pending commands on a node to the failed list (moved or removed device). */
function giveUpPendingFor(data: StateData, nodeId: string, deviceId: string, reason: string, timeMs: number): void {
  const queue = data.pending.get(nodeId);
  if (queue === undefined) return;
  for (const [id, pending] of queue) {
    if (pending.deviceId !== deviceId) continue;
    queue.delete(id);
    remember(data.failedCommands, { ...pending, status: 'failed', failedMs: timeMs, reason }, MAX_FAILED_COMMANDS);
  }
  if (queue.size === 0) data.pending.delete(nodeId);
}

/** remember appends a finished command to a bounded list, evicting the oldest. */
function remember(list: DeviceCommandRecord[], record: DeviceCommandRecord, max: number): void {
  list.push(record);
  if (list.length > max) list.splice(0, list.length - max);
}

/** fitReadings drops a device's reading histories its type (if any) no longer declares with that value type. */
function fitReadings(data: StateData, deviceId: string, type: PolicyDeviceType | undefined): void {
  const sensors = data.readings.get(deviceId);
  if (sensors === undefined) return;
  for (const [name, samples] of [...sensors]) {
    const declared = type?.sensors.find((s) => s.name === name);
    if (declared === undefined || typeof samples[0]?.value !== declared.type) sensors.delete(name);
  }
  if (sensors.size === 0) data.readings.delete(deviceId);
}

/** forgetOwnedDiscoveries forgets what nodes reported about a port or MAC that this device now owns. */
function forgetOwnedDiscoveries(data: StateData, device: DeviceRecord): void {
  const macs = new Set(deviceMacs(device));
  for (const [nodeId, found] of data.discoveries) {
    for (const [key, d] of found) {
      if (macs.has(d.mac) || (nodeId === device.nodeId && d.port === device.port)) found.delete(key);
    }
    if (found.size === 0) data.discoveries.delete(nodeId);
  }
}

const removeDevice: Handler<'removeDevice'> = (data, command, payload, context) => {
  const domain = domainOf(data, command.body.domain);
  const device = deviceIn(data, domain, payload.id, 'body.remove_device.id');
  const reactions = engineCall(context, () => data.engine.removeDevice(device.id));
  giveUpPendingFor(data, device.nodeId, device.id, `device ${device.id} was removed`, context.timeMs);
  countOwner(data.owners, device, -1);
  data.devices.delete(device.id);
  data.readings.delete(device.id);
  domain.devices.delete(device.id);
  return [{ kind: 'changed', what: 'device', id: device.id }, ...reactionEffects(data, reactions, context)];
};

const setDeviceState: Handler<'setDeviceState'> = (data, command, payload, context) => {
  const domain = domainOf(data, command.body.domain);
  const device = deviceIn(data, domain, payload.deviceId, 'body.set_device_state.device_id');
  const type = deviceType(domain, device.type, 'body.set_device_state.device_id');
  if (!type.states.some((s) => s.name === payload.state)) {
    reject('unknown_state', `device type ${type.name} has no state "${payload.state}" (has: ${type.states.map((s) => s.name).join(', ')})`, 'body.set_device_state.state');
  }
  const cause = `manual by ${command.body.signer.slice(0, 8)}: ${payload.reason}`;
  const reactions = engineCall(context, () => data.engine.setState(device.id, payload.state, context.timeMs, cause));
  return reactionEffects(data, reactions, context);
};

/** reactionEffects records the engine's reactions: state changes as effects, commands as pending work. */
export function reactionEffects(data: StateData, reactions: readonly PolicyReaction[], context: ApplyContext): Effect[] {
  const effects: Effect[] = [];
  for (const reaction of reactions) {
    if (reaction.kind === 'state') {
      effects.push({ kind: 'deviceState', deviceId: reaction.deviceId, from: reaction.from, to: reaction.to, rule: reaction.rule, timeMs: reaction.timeMs ?? context.timeMs });
      continue;
    }
    const device = data.devices.get(reaction.deviceId);
    assert.ok(device !== undefined, `the engine reacted for unknown device ${reaction.deviceId}`);
    const queue = data.pending.get(device.nodeId) ?? new Map();
    if (queue.size >= MAX_PENDING_COMMANDS_PER_NODE) {
      data.droppedDeviceCommands += 1;
      effects.push({ kind: 'deviceCommandDropped', nodeId: device.nodeId, deviceId: device.id, command: reaction.command });
      continue;
    }
    const id = data.nextCommandId;
    data.nextCommandId += 1;
    queue.set(id, {
      id, nodeId: device.nodeId, deviceId: device.id, command: reaction.command, args: { ...reaction.args }, index: context.index,
      timeMs: context.timeMs, attempts: 0, lastError: '',
    });
    data.pending.set(device.nodeId, queue);
    effects.push({ kind: 'deviceCommand', id, nodeId: device.nodeId, deviceId: device.id, command: reaction.command, args: { ...reaction.args } });
  }
  return effects;
}

// ---------------------------------------------------------------------------------------------------
// Telemetry and device commands (node keys).

function checkEvent(data: StateData, nodeId: string, scope: string, event: TelemetryEvent, at: string): void {
  if (event.kind === 'discovery') {
    // A discovery names no device: it is listed in the batch's domain, which must exist.
    if (scope === '' || !data.domains.has(scope)) {
      reject('unknown_domain', scope === '' ? 'a discovery must come in a batch scoped to a domain' : `domain "${scope}" does not exist`, 'body.domain');
    }
    return;
  }
  const device = data.devices.peek(event.deviceId);
  if (device === undefined) reject('unknown_device', `device "${event.deviceId}" does not exist`, `${at}.device_id`);
  if (device.nodeId !== nodeId) {
    reject('device_not_served', `node "${nodeId}" does not serve device "${device.id}" (node "${device.nodeId}" does)`, `${at}.device_id`);
  }
  const domain = data.domains.get(device.domain);
  assert.ok(domain !== undefined, `device ${device.id} has no domain`);
  const type = deviceType(domain, device.type, `${at}.device_id`);
  if (event.kind === 'alert') {
    if (!type.alertTypes.includes(event.alertType) && !data.engine.builtinAlertTypes().includes(event.alertType)) {
      reject('invalid_telemetry', `device type ${type.name} declares no alert type "${event.alertType}"`, `${at}.alert_type`);
    }
    return;
  }
  const sensor = type.sensors.find((s) => s.name === event.sensor);
  if (sensor === undefined) reject('invalid_telemetry', `device type ${type.name} declares no sensor "${event.sensor}"`, `${at}.sensor`);
  if (typeof event.value !== sensor.type) {
    reject('invalid_telemetry', `sensor ${type.name}.${sensor.name} takes ${sensor.type} values, found a ${typeof event.value}`, `${at}.value`);
  }
}

const telemetry: Handler<'telemetry'> = (data, command, payload, context) => {
  const nodeId = command.nodeId;
  assert.ok(nodeId !== undefined, 'telemetry is verified as signed by a node key');
  const scope = command.body.domain;
  payload.events.forEach((event, i) => checkEvent(data, nodeId, scope, event, `body.telemetry.events[${i}].${event.kind}`));
  payload.events.forEach((event, i) => {
    if (event.kind === 'discovery') return;
    const domain = data.devices.peek(event.deviceId)?.domain;
    if (scope !== '' && domain !== scope) {
      reject('device_in_other_domain', `the batch is scoped to domain "${scope}" but device "${event.deviceId}" belongs to "${domain}"`, `body.telemetry.events[${i}]`);
    }
  });
  const effects: Effect[] = [];
  payload.events.forEach((event, i) => {
    if (event.kind === 'discovery') {
      effects.push(...discover(data, nodeId, scope, event));
      return;
    }
    // The batch was checked as a whole above; a value the engine still refuses (out of its numeric
    // range, say) skips that one event, deterministically, and the rest of the batch applies.
    let reactions: PolicyReaction[];
    try {
      reactions = event.kind === 'alert'
        ? data.engine.onAlert(event.deviceId, event.alertType, context.timeMs)
        : data.engine.onSensor(event.deviceId, event.sensor, event.value, context.timeMs);
    } catch (error) {
      const refusal = context.engines.rejection(error);
      if (refusal === undefined) throw error;
      effects.push({ kind: 'telemetrySkipped', event: i, code: refusal.code, reason: refusal.reason });
      return;
    }
    if (event.kind === 'reading') recordReading(data, event.deviceId, event.sensor, event.value, context.timeMs);
    else effects.push({ kind: 'alert', event: i, deviceId: event.deviceId, alertType: event.alertType });
    effects.push(...reactionEffects(data, reactions, context));
  });
  return effects;
};

/** recordReading keeps an accepted reading in the device's bounded history, for people (not for rules). */
function recordReading(data: StateData, deviceId: string, sensor: string, value: number | boolean | string, timeMs: number): void {
  let sensors = data.readings.get(deviceId);
  if (sensors === undefined) {
    sensors = new Map();
    data.readings.set(deviceId, sensors);
  }
  const samples = sensors.get(sensor) ?? [];
  samples.push({ value, timeMs });
  if (samples.length > MAX_READINGS_HISTORY) samples.splice(0, samples.length - MAX_READINGS_HISTORY);
  sensors.set(sensor, samples);
}

/**
 * discover records a node's report of an unknown device, merged with what it reported before; a report
 * of a port or MAC a registered device owns is ignored. The node's list is bounded: the discovery seen
 * longest ago (ties: the smallest port and MAC) is evicted and counted.
 */
function discover(data: StateData, nodeId: string, domain: string, event: DiscoveryEvent): Effect[] {
  if (data.owners.ports.has(portKey(nodeId, event.port)) || data.owners.macs.has(event.mac)) return [];
  let found = data.discoveries.get(nodeId);
  if (found === undefined) {
    found = new Map();
    data.discoveries.set(nodeId, found);
  }
  const key = discoveryKey(event.port, event.mac);
  const earlier = found.get(key);
  if (earlier !== undefined) {
    earlier.domain = domain;
    earlier.firstSeenMs = Math.min(earlier.firstSeenMs, event.firstSeenMs);
    earlier.lastSeenMs = Math.max(earlier.lastSeenMs, event.lastSeenMs);
    if (event.hostname !== '') earlier.hostname = event.hostname;
    if (event.vendorClass !== '') earlier.vendorClass = event.vendorClass;
    return [];
  }
  found.set(key, {
    nodeId, domain, port: event.port, mac: event.mac, firstSeenMs: event.firstSeenMs, lastSeenMs: event.lastSeenMs,
    hostname: event.hostname, vendorClass: event.vendorClass,
  });
  if (found.size > MAX_DISCOVERIES_PER_NODE) {
    let oldest: [string, number] | undefined;
    for (const [k, d] of found) {
      if (oldest === undefined || d.lastSeenMs < oldest[1] || (d.lastSeenMs === oldest[1] && k < oldest[0])) oldest = [k, d.lastSeenMs];
    }
    assert.ok(oldest !== undefined, 'a full list has an oldest discovery');
    found.delete(oldest[0]);
    data.discoveriesEvicted += 1;
    if (oldest[0] === key) return [];
  }
  return [{ kind: 'discovery', nodeId, domain, port: event.port, mac: event.mac }];
}

/**
 * deviceCommandsDone records what the signing node did with its pending commands: those carried out
 * move to the done list; a failed attempt is counted on the command, which stays pending for a retry
 * unless the failure is final or the attempts reach MAX_COMMAND_ATTEMPTS, when it moves to the failed
 * list with its reason. Every id must be one of the node's pending commands, listed once.
 */
const deviceCommandsDone: Handler<'deviceCommandsDone'> = (data, command, payload, context) => {
  const nodeId = command.nodeId;
  assert.ok(nodeId !== undefined, 'deviceCommandsDone is verified as signed by a node key');
  const queue = data.pending.get(nodeId) ?? new Map<number, PendingDeviceCommand>();
  const seen = new Set<number>();
  const check = (id: number, path: string): void => {
    if (seen.has(id)) reject('unknown_command_id', `device command ${id} is listed twice`, path);
    seen.add(id);
    if (!queue.has(id)) reject('unknown_command_id', `node "${nodeId}" has no pending device command ${id}`, path);
  };
  payload.ids.forEach((id, i) => check(id, `body.device_commands_done.ids[${i}]`));
  payload.failures.forEach((f, i) => check(f.id, `body.device_commands_done.failures[${i}].id`));
  const effects: Effect[] = [];
  const outcome = (c: PendingDeviceCommand, status: 'done' | 'failed' | 'retry', reason: string): Effect =>
    ({ kind: 'deviceCommandOutcome', id: c.id, nodeId, deviceId: c.deviceId, command: c.command, status, attempts: c.attempts, reason });
  for (const id of payload.ids) {
    const done = queue.get(id) as PendingDeviceCommand;
    queue.delete(id);
    remember(data.doneCommands, { ...done, status: 'done', doneMs: context.timeMs }, MAX_DONE_COMMANDS);
    effects.push(outcome(done, 'done', ''));
  }
  for (const failure of payload.failures) {
    const pending = queue.get(failure.id) as PendingDeviceCommand;
    pending.attempts += 1;
    pending.lastError = failure.reason;
    if (!failure.final && pending.attempts < MAX_COMMAND_ATTEMPTS) {
      effects.push(outcome(pending, 'retry', failure.reason));
      continue;
    }
    queue.delete(failure.id);
    const reason = failure.final ? failure.reason : `gave up after ${pending.attempts} attempts: ${failure.reason}`;
    remember(data.failedCommands, { ...pending, status: 'failed', failedMs: context.timeMs, reason }, MAX_FAILED_COMMANDS);
    effects.push(outcome(pending, 'failed', reason));
  }
  if (queue.size === 0) data.pending.delete(nodeId);
  return effects;
};

// ---------------------------------------------------------------------------------------------------
// Leadership transfer (root): only to a voter; the leader carries out the effect.

const transferLeader: Handler<'transferLeader'> = (data, _command, payload) => {
  const member = data.members.get(payload.nodeId);
  if (member === undefined) reject('unknown_node', `node "${payload.nodeId}" is not a member`, 'body.transfer_leader.node_id');
  if (member.role !== 'voter') reject('not_a_voter', `node "${payload.nodeId}" is a ${member.role}; only a voter can lead`, 'body.transfer_leader.node_id');
  return [{ kind: 'transferLeader', nodeId: payload.nodeId }];
};

// ---------------------------------------------------------------------------------------------------
// Membership intents (root); the runtime turns the effect into a Raft configuration change.

const membership: Handler<'membership'> = (data, _command, payload) => {
  const member = data.members.get(payload.nodeId);
  const path = 'body.membership.node_id';
  if (payload.action === 'addLearner') {
    const nodeKey = payload.nodeKey;
    const address = payload.address;
    assert.ok(nodeKey !== undefined && address !== undefined, 'the codec requires key and address for ADD_LEARNER');
    if (member !== undefined) reject('node_exists', `node "${payload.nodeId}" is already a ${member.role}`, path);
    if (data.members.size >= MAX_CLUSTER_MEMBERS) reject('limit_reached', `the cluster already has ${MAX_CLUSTER_MEMBERS} members`);
    const holder = keyInUse(data, nodeKey);
    if (holder !== undefined) reject('key_in_use', `the node key is already ${holder}`, 'body.membership.node_key');
    const id = keyIdHex(nodeKey);
    requireNewSigner(data, id);
    data.members.set(payload.nodeId, { nodeId: payload.nodeId, nodeKey: toHex(nodeKey), address, role: 'learner' });
    data.keys.set(id, { role: 'node', publicKey: Uint8Array.from(nodeKey), nodeId: payload.nodeId });
    return [{ kind: 'membership', action: 'addLearner', nodeId: payload.nodeId, address, nodeKey: toHex(nodeKey) }];
  }
  if (member === undefined) reject('unknown_node', `node "${payload.nodeId}" is not a member`, path);
  if (payload.action === 'promote') {
    if (member.role !== 'learner') reject('not_a_learner', `node "${payload.nodeId}" is already a voter`, path);
    member.role = 'voter';
    return [{ kind: 'membership', action: 'promote', nodeId: payload.nodeId }];
  }
  const served = [...data.devices.values()].filter((d) => d.nodeId === member.nodeId).length;
  if (served > 0) reject('node_serves_devices', `node "${member.nodeId}" still serves ${served} devices; move them first`, path);
  const voters = [...data.members.values()].filter((m) => m.role === 'voter').length;
  if (member.role === 'voter' && voters <= 1) reject('last_voter', `node "${member.nodeId}" is the last voter`, path);
  data.members.delete(member.nodeId);
  for (const [id, key] of data.keys) if (key.role === 'node' && key.nodeId === member.nodeId) data.keys.delete(id);
  data.pending.delete(member.nodeId);
  data.discoveries.delete(member.nodeId);
  return [{ kind: 'membership', action: 'remove', nodeId: member.nodeId }];
};
