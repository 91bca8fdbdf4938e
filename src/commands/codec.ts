// codec.ts — converting the envelope and the command body between protobuf bytes and plain types.
//
// Decoding checks everything that can be checked without state: sizes, safe integers, identifier
// shapes, byte lengths, finite numbers, exactly one payload, and canonical encoding (the body must be
// byte-identical to the encoding of what it decodes to, so one logical command has one byte string and
// no unknown field can hide in a signed body). Verification always uses the received bytes.
import assert from 'node:assert/strict';
import {
  CLUSTER_ID_BYTES, IDENTIFIER, IMAGE_DIGEST, KEY_ID_BYTES, MAC_ADDRESS, MAX_ADDRESSES, MAX_ATTEMPT_REASON_CHARS, MAX_COMMAND_BYTES,
  MAX_DHCP_TEXT_CHARS, MAX_DONE_IDS, MAX_POLICY_JSON_CHARS, MAX_REASON_CHARS, MAX_ROOT_KEYS, MAX_SIGNATURES, MAX_TAGS,
  MAX_TELEMETRY_EVENTS, MAX_TEXT_CHARS, NODE_ADDRESS, PUBLIC_KEY_BYTES, SIGNATURE_BYTES, SWITCH_PORT_NAME,
} from './constants.js';
import { decodeDeviceInterface, deviceInterfaceFields } from './device-interface.js';
import { CommandError, describeValue } from './errors.js';
import { commandTypes } from '../wire/index.js';
import type {
  CommandBody, CommandFailure, DeviceSpec, DiscoveryEvent, MembershipAction, Payload, SignedCommand, TelemetryEvent,
} from './types.js';

type Fields = Record<string, unknown>;

const MEMBERSHIP_ACTIONS: ReadonlyMap<number, MembershipAction> = new Map([
  [1, 'addLearner'], [2, 'promote'], [3, 'remove'],
]);
const MEMBERSHIP_ACTION_NUMBERS: ReadonlyMap<MembershipAction, number> = new Map([
  ['addLearner', 1], ['promote', 2], ['remove', 3],
]);

/** PAYLOAD_FIELDS maps each payload kind to its CommandBody oneof field name. */
const PAYLOAD_FIELDS = {
  rotateRoot: 'rotate_root',
  addAdminKey: 'add_admin_key',
  revokeAdminKey: 'revoke_admin_key',
  setNodeKey: 'set_node_key',
  createDomain: 'create_domain',
  removeDomain: 'remove_domain',
  setPolicy: 'set_policy',
  putDevice: 'put_device',
  removeDevice: 'remove_device',
  putImage: 'put_image',
  removeImage: 'remove_image',
  setDeviceState: 'set_device_state',
  telemetry: 'telemetry',
  membership: 'membership',
  deviceCommandsDone: 'device_commands_done',
  transferLeader: 'transfer_leader',
  addViewerKey: 'add_viewer_key',
  revokeViewerKey: 'revoke_viewer_key',
} as const satisfies Record<Payload['kind'], string>;

// ---------------------------------------------------------------------------------------------------
// Encoding (signers, tests, the CLI).

/** encodeSignedCommand encodes an envelope; the body bytes are carried as they are. */
export function encodeSignedCommand(command: SignedCommand): Uint8Array {
  const types = commandTypes();
  return types.signedCommand.encode({
    body: command.body,
    signatures: command.signatures.map((s) => ({ key_id: s.keyId, sig: s.sig })),
  }).finish();
}

/** encodeBody encodes a command body canonically; it throws CommandError if the body is invalid. */
export function encodeBody(body: CommandBody): Uint8Array {
  const types = commandTypes();
  const message: Fields = {
    cluster_id: body.clusterId,
    domain: body.domain,
    signer: body.signer,
    seq: body.seq,
    not_after_ms: body.notAfterMs,
    [PAYLOAD_FIELDS[body.payload.kind]]: payloadToFields(body.payload),
  };
  const bytes = types.commandBody.encode(message).finish();
  // Round-trip so that a signer can never sign a body that every node would reject for its shape.
  const decoded = decodeBody(bytes);
  assert.equal(decoded.seq, body.seq);
  return bytes;
}

function payloadToFields(payload: Payload): Fields {
  switch (payload.kind) {
    case 'rotateRoot':
      return { version: payload.version, root_keys: payload.rootKeys, threshold: payload.threshold };
    case 'addAdminKey':
    case 'addViewerKey':
      return { public_key: payload.publicKey, name: payload.name };
    case 'revokeAdminKey':
    case 'revokeViewerKey':
      return { key_id: payload.keyId };
    case 'setNodeKey':
      return { node_id: payload.nodeId, public_key: payload.publicKey };
    case 'createDomain':
      return { description: payload.description };
    case 'removeDomain':
      return {};
    case 'setPolicy':
      return { document_json: payload.documentJson };
    case 'putDevice': {
      const d = payload.device;
      return {
        id: d.id, type: d.type, group: d.group, tags: d.tags, node_id: d.nodeId, port: d.port, addresses: d.addresses,
        ...(d.interface === undefined ? {} : { interface: deviceInterfaceFields(d.interface) }),
      };
    }
    case 'removeDevice':
      return { id: payload.id };
    case 'putImage':
      return { name: payload.name, digest: payload.digest };
    case 'removeImage':
      return { name: payload.name };
    case 'setDeviceState':
      return { device_id: payload.deviceId, state: payload.state, reason: payload.reason };
    case 'telemetry':
      return { events: payload.events.map(eventToFields) };
    case 'membership':
      return {
        action: MEMBERSHIP_ACTION_NUMBERS.get(payload.action),
        node_id: payload.nodeId,
        ...(payload.nodeKey === undefined ? {} : { node_key: payload.nodeKey }),
        ...(payload.address === undefined ? {} : { address: payload.address }),
      };
    case 'deviceCommandsDone':
      return { ids: payload.ids, failures: payload.failures.map((f) => ({ id: f.id, reason: f.reason, final: f.final })) };
    case 'transferLeader':
      return { node_id: payload.nodeId };
  }
}

function eventToFields(event: TelemetryEvent): Fields {
  if (event.kind === 'alert') {
    return { alert: { device_id: event.deviceId, alert_type: event.alertType, source: event.source } };
  }
  if (event.kind === 'discovery') {
    return {
      discovery: {
        port: event.port, mac: event.mac, first_seen_ms: event.firstSeenMs, last_seen_ms: event.lastSeenMs,
        hostname: event.hostname, vendor_class: event.vendorClass,
      },
    };
  }
  const value = event.value;
  const valueField = typeof value === 'number' ? { number: value } : typeof value === 'boolean' ? { boolean: value } : { text: value };
  return { reading: { device_id: event.deviceId, sensor: event.sensor, ...valueField } };
}

// ---------------------------------------------------------------------------------------------------
// Decoding (every node, on every entry).

/** decodeSignedCommand decodes an envelope and checks its signature list's shape (not the signatures). */
export function decodeSignedCommand(bytes: Uint8Array): SignedCommand {
  if (bytes.length > MAX_COMMAND_BYTES) {
    throw new CommandError('too_large', `command is ${bytes.length} bytes, expected at most ${MAX_COMMAND_BYTES}`);
  }
  let message: Fields;
  try {
    message = commandTypes().signedCommand.decode(bytes) as unknown as Fields;
  } catch (error) {
    throw new CommandError('malformed_envelope', `SignedCommand is not valid protobuf: ${(error as Error).message}`, '', { cause: error });
  }
  const body = message['body'];
  if (!(body instanceof Uint8Array) || body.length === 0) {
    throw new CommandError('malformed_envelope', 'SignedCommand.body is missing or empty', 'body');
  }
  const rawSignatures = message['signatures'];
  const list = Array.isArray(rawSignatures) ? (rawSignatures as Fields[]) : [];
  if (list.length === 0) throw new CommandError('no_signatures', 'SignedCommand carries no signature', 'signatures');
  if (list.length > MAX_SIGNATURES) {
    throw new CommandError('too_many_signatures', `SignedCommand carries ${list.length} signatures, expected at most ${MAX_SIGNATURES}`, 'signatures');
  }
  const seen = new Set<string>();
  const signatures = list.map((entry, i) => {
    const keyId = bytesField(entry, 'key_id');
    const sig = bytesField(entry, 'sig');
    if (keyId.length !== KEY_ID_BYTES) {
      throw new CommandError('bad_key_id', `signatures[${i}].key_id is ${keyId.length} bytes, expected ${KEY_ID_BYTES}`, `signatures[${i}].key_id`);
    }
    if (sig.length !== SIGNATURE_BYTES) {
      throw new CommandError('bad_signature_length', `signatures[${i}].sig is ${sig.length} bytes, expected ${SIGNATURE_BYTES}`, `signatures[${i}].sig`);
    }
    const hex = Buffer.from(keyId).toString('hex');
    if (seen.has(hex)) {
      throw new CommandError('duplicate_signature', `signatures[${i}] repeats key ${hex}; a key is counted once`, `signatures[${i}].key_id`);
    }
    seen.add(hex);
    return { keyId, sig };
  });
  return { body, signatures };
}

/** decodeBody decodes and validates the shape of a command body (not its authorization). */
export function decodeBody(bytes: Uint8Array): CommandBody {
  const type = commandTypes().commandBody;
  let message: Fields;
  try {
    message = type.decode(bytes) as unknown as Fields;
  } catch (error) {
    throw new CommandError('malformed_body', `CommandBody is not valid protobuf: ${(error as Error).message}`, 'body', { cause: error });
  }
  const clusterId = bytesField(message, 'cluster_id');
  if (clusterId.length !== CLUSTER_ID_BYTES) {
    throw invalid('body.cluster_id', `${CLUSTER_ID_BYTES} bytes`, clusterId);
  }
  const domain = stringField(message, 'domain');
  if (domain !== '') identifier(domain, 'body.domain');
  const signer = stringField(message, 'signer');
  const seq = safeInteger(message['seq'], 'body.seq');
  if (seq < 1) throw invalid('body.seq', 'a sequence number >= 1', seq);
  const notAfterMs = safeInteger(message['not_after_ms'], 'body.not_after_ms');
  const payload = decodePayload(message);
  // Canonical encoding: re-encoding what was decoded must give the received bytes back. This rejects
  // unknown fields, repeated scalar fields and non-minimal encodings, so nothing unseen rides along.
  const again = type.encode(message).finish();
  if (!Buffer.from(again).equals(Buffer.from(bytes))) {
    throw new CommandError('non_canonical_body', 'CommandBody is not canonically encoded (unknown, repeated or out-of-order fields)', 'body');
  }
  return { clusterId, domain, signer, seq, notAfterMs, payload };
}

function decodePayload(message: Fields): Payload {
  const kinds = Object.keys(PAYLOAD_FIELDS) as Payload['kind'][];
  const present = kinds.filter((kind) => Object.prototype.hasOwnProperty.call(message, PAYLOAD_FIELDS[kind]));
  if (present.length !== 1) {
    throw new CommandError('unknown_payload', 'CommandBody has no payload this version knows (expected exactly one)', 'body.payload');
  }
  const kind = present[0] as Payload['kind'];
  const field = PAYLOAD_FIELDS[kind];
  const p = message[field] as Fields;
  const at = `body.${field}`;
  switch (kind) {
    case 'rotateRoot': {
      const keys = listField(p, 'root_keys', at, MAX_ROOT_KEYS).map((k, i) => publicKey(k, `${at}.root_keys[${i}]`));
      const threshold = safeInteger(p['threshold'], `${at}.threshold`);
      if (threshold < 1 || threshold > keys.length) throw invalid(`${at}.threshold`, `1..${keys.length}`, threshold);
      distinctKeys(keys, `${at}.root_keys`);
      return { kind, version: safeInteger(p['version'], `${at}.version`), rootKeys: keys, threshold };
    }
    case 'addAdminKey':
    case 'addViewerKey':
      return { kind, publicKey: publicKey(p['public_key'], `${at}.public_key`), name: text(p, 'name', at, true) };
    case 'revokeAdminKey':
    case 'revokeViewerKey': {
      const keyId = bytesField(p, 'key_id');
      if (keyId.length !== KEY_ID_BYTES) throw invalid(`${at}.key_id`, `${KEY_ID_BYTES} bytes`, keyId);
      return { kind, keyId };
    }
    case 'setNodeKey':
      return { kind, nodeId: identifier(stringField(p, 'node_id'), `${at}.node_id`), publicKey: publicKey(p['public_key'], `${at}.public_key`) };
    case 'createDomain':
      return { kind, description: text(p, 'description', at, false) };
    case 'removeDomain':
      return { kind };
    case 'setPolicy': {
      const documentJson = stringField(p, 'document_json');
      if (documentJson.length === 0 || documentJson.length > MAX_POLICY_JSON_CHARS) {
        throw invalid(`${at}.document_json`, `1..${MAX_POLICY_JSON_CHARS} characters of JSON`, documentJson);
      }
      return { kind, documentJson };
    }
    case 'putDevice':
      return { kind, device: decodeDevice(p, at) };
    case 'removeDevice':
      return { kind, id: identifier(stringField(p, 'id'), `${at}.id`) };
    case 'putImage': {
      const digest = stringField(p, 'digest');
      if (!IMAGE_DIGEST.test(digest)) throw invalid(`${at}.digest`, '"sha256:" and 64 lowercase hex digits', digest);
      return { kind, name: identifier(stringField(p, 'name'), `${at}.name`), digest };
    }
    case 'removeImage':
      return { kind, name: identifier(stringField(p, 'name'), `${at}.name`) };
    case 'setDeviceState':
      return {
        kind,
        deviceId: identifier(stringField(p, 'device_id'), `${at}.device_id`),
        state: identifier(stringField(p, 'state'), `${at}.state`),
        reason: text(p, 'reason', at, true, MAX_REASON_CHARS),
      };
    case 'telemetry':
      return { kind, events: listField(p, 'events', at, MAX_TELEMETRY_EVENTS).map((e, i) => decodeEvent(e as Fields, `${at}.events[${i}]`)) };
    case 'membership':
      return decodeMembership(p, at);
    case 'deviceCommandsDone':
      return decodeCommandsDone(p, at);
    case 'transferLeader':
      return { kind, nodeId: identifier(stringField(p, 'node_id'), `${at}.node_id`) };
  }
}

function decodeDevice(p: Fields, at: string): DeviceSpec {
  const group = identifier(stringField(p, 'group'), `${at}.group`);
  const tags = listField(p, 'tags', at, MAX_TAGS).map((t, i) => identifier(t, `${at}.tags[${i}]`));
  if (new Set(tags).size !== tags.length) throw invalid(`${at}.tags`, 'distinct tags', tags);
  const addresses = listField(p, 'addresses', at, MAX_ADDRESSES).map((a, i) => identifier(a, `${at}.addresses[${i}]`));
  const device: DeviceSpec = {
    id: identifier(stringField(p, 'id'), `${at}.id`),
    type: identifier(stringField(p, 'type'), `${at}.type`),
    group,
    tags,
    nodeId: identifier(stringField(p, 'node_id'), `${at}.node_id`),
    port: identifier(stringField(p, 'port'), `${at}.port`),
    addresses,
  };
  const face = p['interface'];
  if (face !== undefined && face !== null) device.interface = decodeDeviceInterface(face as Fields, `${at}.interface`, addresses);
  return device;
}

/**
 * decodeCommandsDone reads the ids carried out and the failed attempts. At least one of either, and
 * each id once across both lists (a command is either done or failed, and reported once per command).
 */
function decodeCommandsDone(p: Fields, at: string): Payload {
  const ids = listField(p, 'ids', at, MAX_DONE_IDS).map((id, i) => safeInteger(id, `${at}.ids[${i}]`));
  const failures = listField(p, 'failures', at, MAX_DONE_IDS).map((raw, i): CommandFailure => {
    const f = raw as Fields;
    const path = `${at}.failures[${i}]`;
    const reason = stringField(f, 'reason');
    if (reason.trim().length === 0 || reason.length > MAX_ATTEMPT_REASON_CHARS) {
      throw invalid(`${path}.reason`, `1..${MAX_ATTEMPT_REASON_CHARS} characters of text`, reason);
    }
    return { id: safeInteger(f['id'], `${path}.id`), reason, final: f['final'] === true };
  });
  if (ids.length + failures.length === 0) throw invalid(`${at}.ids`, 'at least one id or failure', ids);
  if (ids.length + failures.length > MAX_DONE_IDS) throw invalid(at, `at most ${MAX_DONE_IDS} ids and failures together`, ids.length + failures.length);
  const seen = new Map<number, string>();
  const once = (id: number, path: string): void => {
    const first = seen.get(id);
    if (first !== undefined) throw invalid(path, `each command id once (${id} is already listed at ${first})`, id);
    seen.set(id, path);
  };
  ids.forEach((id, i) => once(id, `${at}.ids[${i}]`));
  failures.forEach((f, i) => once(f.id, `${at}.failures[${i}].id`));
  return { kind: 'deviceCommandsDone', ids, failures };
}

function decodeEvent(e: Fields, at: string): TelemetryEvent {
  if (e['alert'] !== undefined && e['alert'] !== null) {
    const a = e['alert'] as Fields;
    return {
      kind: 'alert',
      deviceId: identifier(stringField(a, 'device_id'), `${at}.alert.device_id`),
      alertType: identifier(stringField(a, 'alert_type'), `${at}.alert.alert_type`),
      source: identifier(stringField(a, 'source'), `${at}.alert.source`),
    };
  }
  if (e['reading'] !== undefined && e['reading'] !== null) {
    const r = e['reading'] as Fields;
    const deviceId = identifier(stringField(r, 'device_id'), `${at}.reading.device_id`);
    const sensor = identifier(stringField(r, 'sensor'), `${at}.reading.sensor`);
    const has = (name: string): boolean => Object.prototype.hasOwnProperty.call(r, name);
    if (has('number')) {
      const value = r['number'];
      if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${at}.reading.number`, 'a finite number', value);
      return { kind: 'reading', deviceId, sensor, value };
    }
    if (has('boolean')) return { kind: 'reading', deviceId, sensor, value: r['boolean'] === true };
    if (has('text')) {
      const value = stringField(r, 'text');
      if (value.length > MAX_TEXT_CHARS) throw invalid(`${at}.reading.text`, `at most ${MAX_TEXT_CHARS} characters`, value);
      return { kind: 'reading', deviceId, sensor, value };
    }
    throw invalid(`${at}.reading`, 'one of number, boolean, text', undefined);
  }
  if (e['discovery'] !== undefined && e['discovery'] !== null) return decodeDiscovery(e['discovery'] as Fields, `${at}.discovery`);
  throw invalid(at, 'an alert, a reading or a discovery', undefined);
}

/** decodeDiscovery checks a discovery: port name, lowercase MAC, DHCP texts, and first <= last seen. */
function decodeDiscovery(d: Fields, at: string): DiscoveryEvent {
  const port = stringField(d, 'port');
  if (!SWITCH_PORT_NAME.test(port)) throw invalid(`${at}.port`, 'a port name of 1-15 characters [A-Za-z0-9_.:-]', port);
  const mac = stringField(d, 'mac');
  if (!MAC_ADDRESS.test(mac)) throw invalid(`${at}.mac`, 'a MAC address in lowercase xx:xx:xx:xx:xx:xx', mac);
  const dhcpText = (name: string): string => {
    const value = stringField(d, name);
    if (value.length > MAX_DHCP_TEXT_CHARS || !/^[\x20-\x7e]*$/.test(value)) {
      throw invalid(`${at}.${name}`, `"" or at most ${MAX_DHCP_TEXT_CHARS} printable ASCII characters`, value);
    }
    return value;
  };
  const firstSeenMs = safeInteger(d['first_seen_ms'], `${at}.first_seen_ms`);
  const lastSeenMs = safeInteger(d['last_seen_ms'], `${at}.last_seen_ms`);
  if (firstSeenMs > lastSeenMs) throw invalid(`${at}.first_seen_ms`, `a time no later than last_seen_ms (${lastSeenMs})`, firstSeenMs);
  return { kind: 'discovery', port, mac, firstSeenMs, lastSeenMs, hostname: dhcpText('hostname'), vendorClass: dhcpText('vendor_class') };
}

function decodeMembership(p: Fields, at: string): Payload {
  const number = p['action'];
  const action = typeof number === 'number' ? MEMBERSHIP_ACTIONS.get(number) : undefined;
  if (action === undefined) throw invalid(`${at}.action`, 'ADD_LEARNER, PROMOTE or REMOVE', number);
  const nodeId = identifier(stringField(p, 'node_id'), `${at}.node_id`);
  if (action !== 'addLearner') {
    if (Object.prototype.hasOwnProperty.call(p, 'node_key') || Object.prototype.hasOwnProperty.call(p, 'address')) {
      throw invalid(`${at}`, 'no node_key or address except for ADD_LEARNER', 'them');
    }
    return { kind: 'membership', action, nodeId };
  }
  const address = stringField(p, 'address');
  if (!NODE_ADDRESS.test(address)) throw invalid(`${at}.address`, '"host:port"', address);
  return { kind: 'membership', action, nodeId, nodeKey: publicKey(p['node_key'], `${at}.node_key`), address };
}

// ---------------------------------------------------------------------------------------------------
// Field readers. protobufjs leaves absent proto3 fields as defaults on the prototype, so every reader
// normalizes to the type's zero value.

function invalid(path: string, expected: string, found: unknown): CommandError {
  return new CommandError('invalid_payload', `${path}: expected ${expected}, found ${describeValue(found)}`, path);
}

function bytesField(message: Fields, name: string): Uint8Array {
  const value = message[name];
  return value instanceof Uint8Array ? value : new Uint8Array(0);
}

function stringField(message: Fields, name: string): string {
  const value = message[name];
  return typeof value === 'string' ? value : '';
}

function listField(message: Fields, name: string, at: string, max: number): unknown[] {
  const value = message[name];
  const list = Array.isArray(value) ? (value as unknown[]) : [];
  if (list.length > max) throw invalid(`${at}.${name}`, `at most ${max} entries`, list);
  return list;
}

function text(message: Fields, name: string, at: string, required: boolean, max = MAX_TEXT_CHARS): string {
  const value = stringField(message, name);
  if ((required && value.trim().length === 0) || value.length > max) {
    throw invalid(`${at}.${name}`, `${required ? '1' : '0'}..${max} characters of text`, value);
  }
  return value;
}

function identifier(value: unknown, path: string): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw invalid(path, 'an identifier (1-64 of A-Z a-z 0-9 . _ : -, starting with a letter or digit)', value);
  }
  return value;
}

function publicKey(value: unknown, path: string): Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== PUBLIC_KEY_BYTES) {
    throw invalid(path, `a ${PUBLIC_KEY_BYTES}-byte Ed25519 public key`, value);
  }
  return value;
}

function distinctKeys(keys: Uint8Array[], path: string): void {
  const hex = new Set(keys.map((k) => Buffer.from(k).toString('hex')));
  if (hex.size !== keys.length) throw invalid(path, 'distinct public keys', keys);
}

/** safeInteger converts a decoded 64-bit field (number or Long) to a safe integer, or throws. */
function safeInteger(value: unknown, path: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new CommandError('unsafe_integer', `${path}: expected an integer in 0..2^53-1, found ${value}`, path);
    }
    return value;
  }
  if (typeof value === 'object' && 'low' in value && 'high' in value) {
    const { low, high } = value as { low: number; high: number };
    const n = (high >>> 0) * 2 ** 32 + (low >>> 0);
    if (!Number.isSafeInteger(n)) {
      throw new CommandError('unsafe_integer', `${path}: expected an integer in 0..2^53-1, found ${String(value)}`, path);
    }
    return n;
  }
  throw invalid(path, 'an integer', value);
}
