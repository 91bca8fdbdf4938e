// token.test.ts — goal: read tokens (src/commands/token.ts) are accepted exactly when well formed, signed
// by a key that holds a role now, for this cluster, and within their times; each refusal names what was
// wrong, with the code and status the API answers (401 who?, 403 not this).
// Method: table tests against an in-memory trust view; time is an input.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALL_DOMAINS, MAX_TOKEN_LIFETIME_S, TokenError, createToken, keyIdHex, keyPairFromSeed, sha256, verifyToken, type TokenReader, type TokenTrust,
} from '../../src/commands/index.js';

const NOW_MS = 1_767_225_600_000;
const CLUSTER = 'c'.repeat(64);
const key = (label: string) => keyPairFromSeed(sha256(new TextEncoder().encode(label)));
const root = key('root');
const viewer = key('viewer');
const node = key('node');
const readers = new Map<string, TokenReader>([
  [keyIdHex(root.publicKey), { role: 'root', publicKey: root.publicKey, domains: 'all' }],
  [keyIdHex(viewer.publicKey), { role: 'viewer', publicKey: viewer.publicKey, domains: new Set(['home']) }],
  [keyIdHex(node.publicKey), { role: 'node', publicKey: node.publicKey, domains: new Set() }],
]);
const trust: TokenTrust = { clusterId: CLUSTER, reader: (id) => readers.get(id) };
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

function refusedWith(token: string, code: string, status: number, message: RegExp): void {
  assert.throws(() => verifyToken(token, trust, NOW_MS), (error: unknown) => {
    assert.ok(error instanceof TokenError, String(error));
    assert.equal(error.code, code, error.message);
    assert.equal(error.status, status);
    assert.match(error.message, message);
    return true;
  });
}

describe('read tokens', () => {
  test('a valid token grants what it names, "*" what the key holds now, root every domain', () => {
    const named = verifyToken(createToken(viewer, CLUSTER, ['home'], NOW_MS, 600), trust, NOW_MS);
    assert.deepEqual([...(named.domains as Set<string>)], ['home']);
    assert.equal(named.role, 'viewer');
    assert.deepEqual([...(verifyToken(createToken(viewer, CLUSTER, ALL_DOMAINS, NOW_MS, 600), trust, NOW_MS).domains as Set<string>)], ['home']);
    assert.equal(verifyToken(createToken(root, CLUSTER, ALL_DOMAINS, NOW_MS, 600), trust, NOW_MS).domains, 'all');
  });

  test('times: expired, future-dated, too long-lived; a small clock skew is allowed', () => {
    refusedWith(createToken(viewer, CLUSTER, ['home'], NOW_MS - 700_000, 600), 'expired', 401, /token expired at/);
    assert.doesNotThrow(() => verifyToken(createToken(viewer, CLUSTER, ['home'], NOW_MS - 630_000, 600), trust, NOW_MS));
    refusedWith(createToken(viewer, CLUSTER, ['home'], NOW_MS + 120_000, 600), 'future_dated', 401, /120 s in the future/);
    assert.doesNotThrow(() => verifyToken(createToken(viewer, CLUSTER, ['home'], NOW_MS + 30_000, 600), trust, NOW_MS));
    assert.throws(() => createToken(viewer, CLUSTER, ['home'], NOW_MS, MAX_TOKEN_LIFETIME_S + 1), /expected 1\.\.86400 s, found 86401/);
  });

  test('shape: three canonical base64url parts, exactly the known header and claim members', () => {
    const [header, claims, signature] = createToken(viewer, CLUSTER, ['home'], NOW_MS, 600).split('.') as [string, string, string];
    const kid = keyIdHex(viewer.publicKey);
    refusedWith('a.b', 'malformed', 401, /three base64url parts/);
    refusedWith(`${header}.${claims}.${signature}=`, 'malformed', 401, /unpadded base64url/);
    refusedWith(`${b64({ alg: 'HS256', typ: 'JWT', kid })}.${claims}.${signature}`, 'bad_header', 401, /expected "EdDSA", found "HS256"/);
    refusedWith(`${b64({ alg: 'EdDSA', typ: 'JWT', kid, jku: 'x' })}.${claims}.${signature}`, 'bad_header', 401, /unexpected member "jku"/);
    refusedWith(`${header}.${b64({ aud: CLUSTER, domains: [], iat: 1, exp: 2 })}.${signature}`, 'bad_claims', 401, /"\*" or 1\.\.64 domain names/);
    refusedWith(`${header}.${b64({ aud: CLUSTER, domains: ['home'], iat: 1.5, exp: 2 })}.${signature}`, 'bad_claims', 401, /claims\.iat: expected Unix seconds/);
    refusedWith(`${header}.${b64({ aud: CLUSTER, domains: ['home'], iat: 1, exp: 2, admin: true })}.${signature}`, 'bad_claims', 401, /unexpected member "admin"/);
    refusedWith('x'.repeat(4097), 'oversized', 401, /at most 4096 characters, found 4097/);
  });

  test('signer: unknown or revoked key, wrong signature, wrong cluster, node key, a domain the key does not hold', () => {
    refusedWith(createToken(key('stranger'), CLUSTER, ['home'], NOW_MS, 600), 'unknown_key', 401, /never added, or revoked/);
    const [header, claims] = createToken(viewer, CLUSTER, ['home'], NOW_MS, 600).split('.');
    const forged = createToken(root, CLUSTER, ['home'], NOW_MS, 600).split('.')[2];
    refusedWith(`${header}.${claims}.${forged}`, 'bad_signature', 401, /does not verify/);
    refusedWith(createToken(viewer, 'd'.repeat(64), ['home'], NOW_MS, 600), 'wrong_cluster', 401, /is for cluster d{64}/);
    refusedWith(createToken(node, CLUSTER, ALL_DOMAINS, NOW_MS, 600), 'role_not_allowed', 403, /node key/);
    refusedWith(createToken(viewer, CLUSTER, ['home', 'office'], NOW_MS, 600), 'wrong_domain', 403, /names domain "office"/);
  });
});
