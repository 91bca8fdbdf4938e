// codec.test.ts — goal: every way an envelope or body can be malformed is rejected with its stable code
// and the path of the bad field, and well-formed bodies round-trip exactly (canonical encoding).
// Method: fast-check round trips over generated bodies, plus one table row per malformation, built by
// hand-editing protobuf bytes where the encoder would refuse to produce them.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import {
  CommandError, decodeBody, decodeSignedCommand, encodeBody, encodeSignedCommand, keyPairFromSeed, signBody,
  MAX_COMMAND_BYTES, type CommandBody, type Payload,
} from '../../src/commands/index.js';

const CLUSTER = new Uint8Array(32).fill(9);
const KEY = keyPairFromSeed(new Uint8Array(32).fill(3));

function body(payload: Payload, overrides: Partial<CommandBody> = {}): CommandBody {
  return { clusterId: CLUSTER, domain: 'home', signer: 'root', seq: 1, notAfterMs: 2_000_000_000_000, payload, ...overrides };
}

function rejects(fn: () => unknown, code: string, path?: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CommandError, `expected CommandError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (path !== undefined) assert.equal(error.path, path, error.message);
    return true;
  });
}

const name = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/);
const payloads: fc.Arbitrary<Payload> = fc.oneof(
  fc.record({ kind: fc.constant('createDomain' as const), description: fc.string({ maxLength: 40 }) }),
  fc.record({ kind: fc.constant('removeDevice' as const), id: name }),
  fc.record({ kind: fc.constant('setDeviceState' as const), deviceId: name, state: name, reason: fc.string({ minLength: 1, maxLength: 50 }).filter((s) => s.trim() !== '') }),
  fc.record({
    kind: fc.constant('telemetry' as const),
    events: fc.array(fc.oneof(
      fc.record({ kind: fc.constant('alert' as const), deviceId: name, alertType: name, source: name }),
      fc.record({ kind: fc.constant('reading' as const), deviceId: name, sensor: name, value: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.string({ maxLength: 20 })) }),
      fc.tuple(fc.nat(), fc.nat()).chain(([a, b]) => fc.record({
        kind: fc.constant('discovery' as const), port: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,15}$/),
        mac: fc.stringMatching(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/), firstSeenMs: fc.constant(Math.min(a, b)), lastSeenMs: fc.constant(Math.max(a, b)),
        hostname: fc.stringMatching(/^[ -~]{0,64}$/), vendorClass: fc.stringMatching(/^[ -~]{0,64}$/),
      })),
    ), { maxLength: 5 }),
  }),
  fc.uniqueArray(fc.nat(), { minLength: 1, maxLength: 8 }).chain((ids) => fc.integer({ min: 0, max: ids.length }).chain((split) => fc.record({
    kind: fc.constant('deviceCommandsDone' as const),
    ids: fc.constant(ids.slice(0, split)),
    failures: fc.tuple(...ids.slice(split).map((id) => fc.record({
      id: fc.constant(id), reason: fc.string({ minLength: 1, maxLength: 200 }).filter((r) => r.trim() !== ''), final: fc.boolean(),
    }))),
  }))),
  fc.record({
    kind: fc.constant('putDevice' as const),
    device: fc.record({
      id: name, type: name, group: name, tags: fc.constant<string[]>([]), nodeId: name, port: name, addresses: fc.constant<string[]>(['10.0.0.7', '02:00:00:00:00:07']),
      interface: fc.oneof(
        fc.record({ protocol: fc.constant('mqtt' as const), endpoint: fc.constant(''), credentialRef: name, options: fc.dictionary(fc.stringMatching(/^topic[a-z]{0,8}$/), fc.stringMatching(/^[ -~]{0,30}$/)) }),
        fc.record({ protocol: fc.constant('http-json' as const), endpoint: fc.constant('http://10.0.0.7:8080/status'), credentialRef: fc.oneof(fc.constant(''), name),
          options: fc.dictionary(name.map((n) => `sensor.${n}`), fc.stringMatching(/^(\/[a-z0-9]{1,8}){0,4}$/)) }),
        fc.record({ protocol: fc.constant('hue' as const), endpoint: fc.constant('http://10.0.0.7'), credentialRef: name, options: fc.constant({ light: '3' }) }),
      ),
    }),
  }),
);

describe('command body codec', () => {
  test('bodies round-trip exactly, with seq and notAfterMs up to 2^53 - 1', () => {
    fc.assert(fc.property(payloads, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (payload, seq, notAfterMs) => {
      const original = body(payload, { seq, notAfterMs, domain: payload.kind === 'telemetry' ? '' : 'home' });
      const bytes = encodeBody(original);
      const decoded = decodeBody(bytes);
      const plain = (b: CommandBody): unknown => JSON.parse(JSON.stringify({ ...b, clusterId: [...b.clusterId] }));
      assert.deepEqual(plain(decoded), plain(original));
      assert.deepEqual(encodeBody(decoded), bytes);
    }), { numRuns: 200 });
  });

  test('a 64-bit value above 2^53 - 1 is rejected as unsafe_integer, never rounded', () => {
    // The encoder accepts a Long-like {low, high}, so this is how a hostile client would send 2^53.
    const type = protobuf.parse('syntax = "proto3"; message B { bytes cluster_id = 1; string domain = 2; string signer = 3; uint64 seq = 4; uint64 not_after_ms = 5; }', { keepCase: true }).root.lookupType('B');
    const head = type.encode({ cluster_id: CLUSTER, signer: 'root', seq: { low: 0, high: 0x200000, unsigned: true }, not_after_ms: 1 }).finish();
    const tail = encodeBody(body({ kind: 'removeDomain' })).subarray(0); // append a payload field from a valid body
    const payloadField = tail.subarray(tail.length - 2); // remove_domain = field 15, empty message: 0x7a 0x00
    assert.deepEqual([...payloadField], [0x7a, 0x00]);
    rejects(() => decodeBody(Buffer.concat([head, payloadField])), 'unsafe_integer', 'body.seq');
  });

  test('a body with an unknown field is rejected as non_canonical_body', () => {
    const bytes = encodeBody(body({ kind: 'removeDomain' }));
    const extra = Buffer.concat([bytes, Buffer.from([0xf8, 0x07, 0x01])]); // field 127, varint 1
    rejects(() => decodeBody(extra), 'non_canonical_body');
  });

  test('a body whose payload is absent or unknown is rejected as unknown_payload', () => {
    const type = protobuf.parse('syntax = "proto3"; message B { bytes cluster_id = 1; string signer = 3; uint64 seq = 4; bytes future = 99; }', { keepCase: true }).root.lookupType('B');
    rejects(() => decodeBody(type.encode({ cluster_id: CLUSTER, signer: 'root', seq: 1 }).finish()), 'unknown_payload');
    rejects(() => decodeBody(type.encode({ cluster_id: CLUSTER, signer: 'root', seq: 1, future: new Uint8Array([1]) }).finish()), 'unknown_payload');
  });

  test('garbage is rejected as malformed_body', () => {
    rejects(() => decodeBody(new Uint8Array([0x0a, 0xff, 0x01])), 'malformed_body');
  });

  const shapeRows: { rule: string; payload: Payload; overrides?: Partial<CommandBody>; path: string }[] = [
    { rule: 'seq starts at 1', payload: { kind: 'removeDomain' }, overrides: { seq: 0 }, path: 'body.seq' },
    { rule: 'cluster id is 32 bytes', payload: { kind: 'removeDomain' }, overrides: { clusterId: new Uint8Array(31) }, path: 'body.cluster_id' },
    { rule: 'domain is an identifier', payload: { kind: 'removeDomain' }, overrides: { domain: 'has space' }, path: 'body.domain' },
    { rule: 'device ids are identifiers', payload: { kind: 'removeDevice', id: '' }, path: 'body.remove_device.id' },
    { rule: 'image digests are sha256 pins', payload: { kind: 'putImage', name: 'monitor', digest: 'sha256:abc' }, path: 'body.put_image.digest' },
    { rule: 'a manual state change needs a reason', payload: { kind: 'setDeviceState', deviceId: 'd', state: 'normal', reason: ' ' }, path: 'body.set_device_state.reason' },
    { rule: 'sensor numbers are finite', payload: { kind: 'telemetry', events: [{ kind: 'reading', deviceId: 'd', sensor: 's', value: Number.NaN }] }, path: 'body.telemetry.events[0].reading.number' },
    { rule: 'device tags are distinct', payload: { kind: 'putDevice', device: { id: 'd', type: 't', group: 'g', tags: ['a', 'a'], nodeId: 'n1', port: 'p', addresses: [] } }, path: 'body.put_device.tags' },
    { rule: 'root thresholds fit the key set', payload: { kind: 'rotateRoot', version: 2, rootKeys: [KEY.publicKey], threshold: 2 }, path: 'body.rotate_root.threshold' },
    { rule: 'root keys are distinct', payload: { kind: 'rotateRoot', version: 2, rootKeys: [KEY.publicKey, KEY.publicKey], threshold: 1 }, path: 'body.rotate_root.root_keys' },
    { rule: 'public keys are 32 bytes', payload: { kind: 'addAdminKey', publicKey: new Uint8Array(33), name: 'bob' }, path: 'body.add_admin_key.public_key' },
    { rule: 'membership actions are known enum values', payload: { kind: 'membership', action: 'demote' as 'promote', nodeId: 'n4' }, path: 'body.membership.action' },
    { rule: 'new members have an address', payload: { kind: 'membership', action: 'addLearner', nodeId: 'n4', nodeKey: KEY.publicKey, address: 'nowhere' }, path: 'body.membership.address' },
  ];
  for (const row of shapeRows) {
    test(`invalid_payload: ${row.rule}`, () => {
      rejects(() => encodeBody(body(row.payload, row.overrides)), 'invalid_payload', row.path);
    });
  }
});

describe('envelope codec', () => {
  const signed = signBody(encodeBody(body({ kind: 'removeDomain' })), [KEY]);

  test('an envelope round-trips with its body bytes untouched', () => {
    const decoded = decodeSignedCommand(encodeSignedCommand(signed));
    assert.deepEqual(decoded.body, signed.body);
    assert.equal(decoded.signatures.length, 1);
  });

  const rows: { rule: string; code: string; bytes: () => Uint8Array }[] = [
    { rule: 'not protobuf', code: 'malformed_envelope', bytes: () => new Uint8Array([0x0a, 0x05, 0x01]) },
    { rule: 'no body', code: 'malformed_envelope', bytes: () => encodeSignedCommand({ body: new Uint8Array(0), signatures: signed.signatures }) },
    { rule: 'no signature', code: 'no_signatures', bytes: () => encodeSignedCommand({ body: signed.body, signatures: [] }) },
    { rule: 'key id of 15 bytes', code: 'bad_key_id', bytes: () => encodeSignedCommand({ body: signed.body, signatures: [{ keyId: new Uint8Array(15), sig: new Uint8Array(64) }] }) },
    { rule: 'signature of 65 bytes', code: 'bad_signature_length', bytes: () => encodeSignedCommand({ body: signed.body, signatures: [{ keyId: new Uint8Array(16), sig: new Uint8Array(65) }] }) },
    { rule: 'the same key twice', code: 'duplicate_signature', bytes: () => encodeSignedCommand({ body: signed.body, signatures: [...signed.signatures, ...signed.signatures] }) },
    { rule: 'too many signatures', code: 'too_many_signatures', bytes: () => encodeSignedCommand({ body: signed.body, signatures: Array.from({ length: 33 }, (_, i) => ({ keyId: new Uint8Array(16).fill(i), sig: new Uint8Array(64) })) }) },
    { rule: 'too large', code: 'too_large', bytes: () => new Uint8Array(MAX_COMMAND_BYTES + 1) },
  ];
  for (const row of rows) {
    test(`${row.code}: ${row.rule}`, () => rejects(() => decodeSignedCommand(row.bytes()), row.code));
  }
});
