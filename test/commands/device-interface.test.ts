// device-interface.test.ts — goal: the signed shapes of the device interface (issue 13) decode exactly
// as docs/devices.md says: a registration's interface (protocol, endpoint on one of the device's IPv4
// addresses, credential reference, options; nothing that looks like a secret), discovery events, and
// device-command reports with failures; every malformed one is refused with invalid_payload and the
// path of the bad field, and well-formed ones round-trip byte for byte.
// Method: table tests through encodeBody/decodeBody (the encoder round-trips, so a refused shape cannot
// even be signed), plus hand-built protobuf for what the encoder cannot produce (unsorted options).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  CommandError, decodeBody, encodeBody, type CommandBody, type DeviceInterface, type DeviceSpec, type Payload, type TelemetryEvent,
} from '../../src/commands/index.js';
import { commandTypes } from '../../src/wire/index.js';

const CLUSTER = new Uint8Array(32).fill(9);

function body(payload: Payload, domain = 'home'): CommandBody {
  return { clusterId: CLUSTER, domain, signer: 'root', seq: 1, notAfterMs: 2_000_000_000_000, payload };
}

function rejects(fn: () => unknown, path: string, expected?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CommandError, `expected CommandError, got ${String(error)}`);
    assert.equal(error.code, 'invalid_payload', error.message);
    assert.equal(error.path, path, error.message);
    if (expected !== undefined) assert.match(error.message, expected);
    return true;
  });
}

function plug(face: DeviceInterface | undefined, addresses = ['10.77.0.14', '02:00:00:00:00:14']): DeviceSpec {
  const spec: DeviceSpec = { id: 'plug-1', type: 'smart-plug', group: 'lab', tags: [], nodeId: '1', port: 'qgd1d4', addresses };
  if (face !== undefined) spec.interface = face;
  return spec;
}

const putDevice = (device: DeviceSpec): CommandBody => body({ kind: 'putDevice', device });
const AT = 'body.put_device.interface';

describe('a registration may name its interface', () => {
  const good: Array<[string, DeviceInterface]> = [
    ['mqtt', { protocol: 'mqtt', endpoint: '', credentialRef: 'plug-1', options: {} }],
    ['http-json with pointers and a command URL', {
      protocol: 'http-json', endpoint: 'http://10.77.0.14:8080/status?fields=all', credentialRef: '',
      options: { 'sensor.temperature': '/sensors/temperature', 'sensor.raw': '', 'sensor.odd': '/a~1b/c~0d', commandUrl: 'http://10.77.0.14:8080/commands' },
    }],
    ['hue', { protocol: 'hue', endpoint: 'http://10.77.0.14', credentialRef: 'hue-bridge.lab', options: { light: '1' } }],
  ];
  for (const [name, face] of good) {
    test(`${name} round-trips byte for byte, options in ascending key order`, () => {
      const bytes = encodeBody(putDevice(plug(face)));
      const decoded = decodeBody(bytes);
      assert.ok(decoded.payload.kind === 'putDevice');
      assert.deepEqual(decoded.payload.device.interface, face);
      assert.deepEqual(Object.keys(decoded.payload.device.interface?.options ?? {}), Object.keys(face.options).sort());
      assert.deepEqual(encodeBody(decoded), bytes);
    });
  }

  test('absent means no interface (and the old encoding of PutDevice is unchanged)', () => {
    const decoded = decodeBody(encodeBody(putDevice(plug(undefined))));
    assert.ok(decoded.payload.kind === 'putDevice');
    assert.equal(decoded.payload.device.interface, undefined);
    assert.equal('interface' in decoded.payload.device, false);
  });

  const http = (endpoint: string, options: Record<string, string> = {}, credentialRef = ''): DeviceInterface =>
    ({ protocol: 'http-json', endpoint, credentialRef, options });
  const bad: Array<[string, DeviceInterface, string, RegExp?]> = [
    ['an unknown protocol', { protocol: 'coap' as DeviceInterface['protocol'], endpoint: '', credentialRef: 'x', options: {} }, `${AT}.protocol`, /one of mqtt, http-json, hue/],
    ['an mqtt endpoint', { protocol: 'mqtt', endpoint: 'http://10.77.0.14', credentialRef: 'x', options: {} }, `${AT}.endpoint`],
    ['mqtt without a credential', { protocol: 'mqtt', endpoint: '', credentialRef: '', options: {} }, `${AT}.credential_ref`, /required for mqtt/],
    ['hue without a credential', { protocol: 'hue', endpoint: 'http://10.77.0.14', credentialRef: '', options: { light: '1' } }, `${AT}.credential_ref`],
    ['a credential reference with a slash', { protocol: 'mqtt', endpoint: '', credentialRef: 'a/b', options: {} }, `${AT}.credential_ref`],
    ['hue without a light', { protocol: 'hue', endpoint: 'http://10.77.0.14', credentialRef: 'x', options: {} }, `${AT}.options["light"]`],
    ['https', http('https://10.77.0.14/status'), `${AT}.endpoint`],
    ['a host name', http('http://plug.local/status'), `${AT}.endpoint`],
    ['another device\'s address', http('http://10.77.0.99/status'), `${AT}.endpoint`, /one of 10\.77\.0\.14/],
    ['a MAC-only device', http('http://10.77.0.14/'), `${AT}.endpoint`],
    ['an octet above 255', http('http://10.77.0.256/'), `${AT}.endpoint`],
    ['port 70000', http('http://10.77.0.14:70000/'), `${AT}.endpoint`, /1 to 65535/],
    ['user info (a secret in the URL)', http('http://admin:hunter2@10.77.0.14/'), `${AT}.endpoint`],
    ['a token in the query', http('http://10.77.0.14/status?access_token=abc'), `${AT}.endpoint`, /no secret/],
    ['a space in the path', http('http://10.77.0.14/a b'), `${AT}.endpoint`],
    ['a URL of 513 characters', http(`http://10.77.0.14/${'a'.repeat(495)}`), `${AT}.endpoint`, /at most 512/],
    ['a Hue user name in the bridge URL', { protocol: 'hue', endpoint: 'http://10.77.0.14/api/Zx9secret', credentialRef: 'x', options: { light: '1' } }, `${AT}.endpoint`, /Hue bridge's base URL/],
    ['a sensor pointer without a slash', http('http://10.77.0.14/', { 'sensor.temperature': 'sensors/temperature' }), `${AT}.options["sensor.temperature"]`, /JSON pointer/],
    ['a bad pointer escape', http('http://10.77.0.14/', { 'sensor.t': '/a~2' }), `${AT}.options["sensor.t"]`],
    ['a command URL elsewhere', http('http://10.77.0.14/', { commandUrl: 'http://10.1.1.1/c' }), `${AT}.options["commandUrl"]`],
    ['an option named like a password', { protocol: 'mqtt', endpoint: '', credentialRef: 'x', options: { mqttPassword: 'hunter2' } }, `${AT}.options["mqttPassword"]`, /no secret/],
    ['an option named api_key', { protocol: 'mqtt', endpoint: '', credentialRef: 'x', options: { api_key: 'k' } }, `${AT}.options["api_key"]`],
    ['an option key starting with a digit', { protocol: 'mqtt', endpoint: '', credentialRef: 'x', options: { '1st': 'a' } }, `${AT}.options["1st"]`],
    ['a value of 513 characters', { protocol: 'mqtt', endpoint: '', credentialRef: 'x', options: { topic: 'a'.repeat(513) } }, `${AT}.options["topic"]`],
    ['a value with a newline', { protocol: 'mqtt', endpoint: '', credentialRef: 'x', options: { topic: 'a\nb' } }, `${AT}.options["topic"]`],
    ['33 options', { protocol: 'mqtt', endpoint: '', credentialRef: 'x', options: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`o${String(i).padStart(2, '0')}`, 'v'])) }, `${AT}.options`, /at most 32/],
  ];
  for (const [name, face, path, expected] of bad) {
    test(`${name} is refused at ${path}`, () => {
      const addresses = name === 'a MAC-only device' ? ['02:00:00:00:00:14'] : undefined;
      rejects(() => encodeBody(putDevice(plug(face, addresses))), path, expected);
    });
  }

  test('options out of ascending order (hand-made protobuf) are refused, so one registration has one encoding', () => {
    const types = commandTypes();
    const bytes = types.commandBody.encode({
      cluster_id: CLUSTER, domain: 'home', signer: 'root', seq: 1, not_after_ms: 2_000_000_000_000,
      put_device: {
        id: 'p', type: 't', group: 'g', node_id: '1', port: 'p1', addresses: ['10.0.0.1'],
        interface: { protocol: 'mqtt', credential_ref: 'x', options: { topic: 'a', keepalive: 'b' } },
      },
    }).finish();
    rejects(() => decodeBody(bytes), `${AT}.options["keepalive"]`, /ascending order/);
  });
});

describe('discovery events', () => {
  const discovery = (overrides: Partial<Extract<TelemetryEvent, { kind: 'discovery' }>> = {}): TelemetryEvent => ({
    kind: 'discovery', port: 'qgd1d4', mac: '02:00:00:00:00:99', firstSeenMs: 1000, lastSeenMs: 2000, hostname: 'esp-lamp', vendorClass: 'udhcp 1.36.1', ...overrides,
  });
  const telemetry = (event: TelemetryEvent): CommandBody => body({ kind: 'telemetry', events: [event] });
  const at = 'body.telemetry.events[0].discovery';

  test('round-trips, with empty DHCP names allowed', () => {
    for (const event of [discovery(), discovery({ hostname: '', vendorClass: '', firstSeenMs: 5, lastSeenMs: 5 })]) {
      const bytes = encodeBody(telemetry(event));
      const decoded = decodeBody(bytes);
      assert.deepEqual(decoded.payload, { kind: 'telemetry', events: [event] });
      assert.deepEqual(encodeBody(decoded), bytes);
    }
  });

  const bad: Array<[string, TelemetryEvent, string]> = [
    ['an empty port', discovery({ port: '' }), `${at}.port`],
    ['a port of 16 characters', discovery({ port: 'p'.repeat(16) }), `${at}.port`],
    ['a port with a slash', discovery({ port: 'eth0/1' }), `${at}.port`],
    ['an uppercase MAC', discovery({ mac: '02:00:00:00:00:AA' }), `${at}.mac`],
    ['a MAC with dashes', discovery({ mac: '02-00-00-00-00-aa' }), `${at}.mac`],
    ['a host name of 65 characters', discovery({ hostname: 'h'.repeat(65) }), `${at}.hostname`],
    ['a vendor class with a control character', discovery({ vendorClass: 'udhcp\u0007' }), `${at}.vendor_class`],
    ['a host name outside ASCII', discovery({ hostname: 'lämpchen' }), `${at}.hostname`],
    ['first seen after last seen', discovery({ firstSeenMs: 3000, lastSeenMs: 2000 }), `${at}.first_seen_ms`],
  ];
  for (const [name, event, path] of bad) {
    test(`${name} is refused at ${path}`, () => rejects(() => encodeBody(telemetry(event)), path));
  }
});

describe('device-command reports', () => {
  const done = (ids: number[], failures: Array<{ id: number; reason: string; final: boolean }>): CommandBody =>
    body({ kind: 'deviceCommandsDone', ids, failures }, '');
  const at = 'body.device_commands_done';

  test('done ids and failures round-trip', () => {
    const original = done([3, 1], [{ id: 7, reason: 'broker unreachable', final: false }, { id: 9, reason: 'device refused: unknown command', final: true }]);
    const bytes = encodeBody(original);
    assert.deepEqual(decodeBody(bytes).payload, original.payload);
  });

  test('failures alone are a valid report; the old ids-only encoding is unchanged', () => {
    assert.deepEqual(decodeBody(encodeBody(done([], [{ id: 1, reason: 'timeout', final: false }]))).payload.kind, 'deviceCommandsDone');
    assert.deepEqual(decodeBody(encodeBody(done([1], []))).payload, { kind: 'deviceCommandsDone', ids: [1], failures: [] });
  });

  const bad: Array<[string, CommandBody, string, RegExp?]> = [
    ['nothing at all', done([], []), `${at}.ids`, /at least one id or failure/],
    ['an id twice among the done ones', done([4, 4], []), `${at}.ids[1]`, /already listed at body\.device_commands_done\.ids\[0\]/],
    ['an id both done and failed', done([4], [{ id: 4, reason: 'x', final: true }]), `${at}.failures[0].id`, /already listed at body\.device_commands_done\.ids\[0\]/],
    ['an id failed twice', done([], [{ id: 4, reason: 'x', final: false }, { id: 4, reason: 'y', final: true }]), `${at}.failures[1].id`],
    ['an empty reason', done([], [{ id: 4, reason: '', final: false }]), `${at}.failures[0].reason`, /1\.\.200/],
    ['a blank reason', done([], [{ id: 4, reason: '   ', final: false }]), `${at}.failures[0].reason`],
    ['a reason of 201 characters', done([], [{ id: 4, reason: 'r'.repeat(201), final: false }]), `${at}.failures[0].reason`],
  ];
  for (const [name, command, path, expected] of bad) {
    test(`${name} is refused at ${path}`, () => rejects(() => encodeBody(command), path, expected));
  }
});
