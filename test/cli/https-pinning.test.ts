// https-pinning.test.ts — goal: qgate and every tool built on its HTTPS client (src/cli/https-fetch.ts) accept
// a node's API certificate only when it stands for the pinned node key: the node's Ed25519 certificate, or a
// P-256 leaf signed by that key, naming it, within its validity period. A P-256 leaf signed by another key, one
// that names the pinned key but was signed by another, an expired one, and an ordinary self-signed ECDSA
// certificate are refused before any request byte is sent, with the pin-mismatch error (exit 3 from qgate).
// Method: real HTTPS servers on loopback presenting each certificate (TLS 1.3, node:https), the pinned fetch
// in-process, and the real qgate binary as a child process for the exit code and message.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AuthorityKeyIdentifier, Extension, KeyIdentifier, id_ce_authorityKeyIdentifier } from '@peculiar/asn1-x509';
import { pinnedFetch, TlsPinError, type NodePins } from '../../src/cli/https-fetch.js';
import { createApiCertificate } from '../../src/tls/api-cert.js';
import type { ApiCertificateNames } from '../../src/tls/api-cert.js';
import { createNodeCertificate } from '../../src/tls/node-cert.js';
import { issueCertificate } from '../../src/tls/x509.js';
import { generateNodeIdentity } from '../../src/transport/keys.js';
import { qgateProcess } from './support.js';

const DAY_MS = 86_400_000;
const NAMES: ApiCertificateNames = { nodeCommonName: 'quorumgate node 1', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] };
const node = generateNodeIdentity(1);
const other = generateNodeIdentity(2);
const apiKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const apiKeyPem = apiKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const hex = (key: Uint8Array): string => Buffer.from(key).toString('hex');

/** claimsNodeSignedByOther is a P-256 leaf that names the node key as its issuer's but is signed by another key. */
function claimsNodeSignedByOther(): string {
  const aki = new Extension({
    extnID: id_ce_authorityKeyIdentifier, critical: false,
    extnValue: new OctetString(AsnConvert.serialize(new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(new Uint8Array(node.publicKey).buffer) }))),
  });
  return issueCertificate({
    issuerKey: other.privateKey, issuerCommonName: 'quorumgate node 1', subjectCommonName: 'quorumgate node 1 API',
    subjectSpki: createPublicKey(apiKey).export({ format: 'der', type: 'spki' }), notBefore: new Date(Date.now() - DAY_MS), notAfter: new Date(Date.now() + DAY_MS),
    ipAddresses: ['127.0.0.1'], extensions: [aki],
  });
}

/** selfSignedEcdsa is what an ordinary web server presents: a P-256 certificate self-signed by openssl. */
function selfSignedEcdsa(dir: string): { certPem: string; keyPem: string } {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'ss-key.pem'), '-out', join(dir, 'ss-cert.pem'),
    '-days', '1', '-subj', '/CN=quorumgate node 1 API', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  return { certPem: readFileSync(join(dir, 'ss-cert.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'ss-key.pem'), 'utf8') };
}

describe('pinning the node key through the API certificates', { timeout: 120_000 }, () => {
  let dir: string;
  const servers = new Map<string, { server: Server; origin: string }>();
  let requests = 0;

  /** serve starts an HTTPS server presenting `credentials` and answering every request with 200 "ok". */
  const serve = async (name: string, credentials: ReadonlyArray<{ certPem: string; keyPem: string }>): Promise<void> => {
    const server = createServer({ cert: credentials.map((c) => c.certPem), key: credentials.map((c) => c.keyPem), minVersion: 'TLSv1.3' }, (_request, response) => {
      requests += 1;
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.set(name, { server, origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}` });
  };
  const origin = (name: string): string => servers.get(name)!.origin;
  /** pinsFor pins the node key for every server, as a members file would. */
  const pins = (): NodePins => ({ byOrigin: new Map([...servers.values()].map((s) => [s.origin, hex(node.publicKey)])), members: new Set([hex(node.publicKey)]), source: 'the members file m.json' });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'qg-pinning-'));
    const nodeCertificate = await createNodeCertificate(node.privateKey, { commonName: 'quorumgate node 1', ipAddresses: ['127.0.0.1'] });
    const nodeCredential = { certPem: nodeCertificate.certPem, keyPem: nodeCertificate.keyPem };
    await serve('node-key', [nodeCredential]);
    await serve('api', [{ certPem: createApiCertificate(node.privateKey, apiKey, NAMES, new Date()), keyPem: apiKeyPem }]);
    await serve('both', [{ certPem: createApiCertificate(node.privateKey, apiKey, NAMES, new Date()), keyPem: apiKeyPem }, nodeCredential]);
    await serve('signed-by-other', [{ certPem: createApiCertificate(other.privateKey, apiKey, NAMES, new Date()), keyPem: apiKeyPem }]);
    await serve('names-node-signed-by-other', [{ certPem: claimsNodeSignedByOther(), keyPem: apiKeyPem }]);
    await serve('expired', [{ certPem: createApiCertificate(node.privateKey, apiKey, NAMES, new Date(Date.now() - 400 * DAY_MS)), keyPem: apiKeyPem }]);
    await serve('self-signed-ecdsa', [selfSignedEcdsa(dir)]);
    writeFileSync(join(dir, 'members.json'), JSON.stringify({ members: [...servers.values()].map((s, i) => ({ nodeId: String(i + 1), endpoint: s.origin, publicKey: hex(node.publicKey) })) }));
  });

  after(() => {
    for (const { server } of servers.values()) server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('accepted: the node certificate, the P-256 certificate the node key signed, and a server presenting both', async () => {
    const fetchPinned = pinnedFetch({ kind: 'pins', pins: pins() });
    for (const name of ['node-key', 'api', 'both']) {
      const response = await fetchPinned(`${origin(name)}/v1/status`, {});
      assert.equal(response.status, 200, name);
      assert.deepEqual(await response.json(), { ok: true });
    }
    // The genesis pins any founder's key for any endpoint: the same certificates stand for the node key there.
    const genesisPinned = pinnedFetch({ kind: 'pins', pins: { byOrigin: new Map(), members: new Set([hex(node.publicKey), hex(other.publicKey)]), source: 'the genesis g.json' } });
    assert.equal((await genesisPinned(`${origin('api')}/v1/status`, {})).status, 200);
  });

  /** REFUSALS: each refused certificate, and what the error says about it (whatever the pins' source is called). */
  const REFUSALS: ReadonlyArray<{ name: string; rule: string; detail: RegExp }> = [
    { name: 'signed-by-other', rule: 'a P-256 leaf signed by another node key', detail: new RegExp(`the node presented key ${hex(other.publicKey)}, but .* names key ${hex(node.publicKey)} for this endpoint$`) },
    { name: 'names-node-signed-by-other', rule: 'a P-256 leaf that names the node key but was signed by another', detail: /\(none usable: certificate "CN=quorumgate node 1 API" is not signed by the node key [0-9a-f]{64} it names\)/ },
    { name: 'expired', rule: 'an expired P-256 leaf of the node key', detail: /\(none usable: certificate "CN=quorumgate node 1 API" expired at \d{4}-/ },
    { name: 'self-signed-ecdsa', rule: 'an ordinary self-signed ECDSA certificate', detail: /\(none usable: .* not by an Ed25519 node key\), but .* names Ed25519 node keys/ },
  ];

  for (const refusal of REFUSALS) {
    test(`refused before any request: ${refusal.rule}`, async () => {
      const before = requests;
      await assert.rejects(pinnedFetch({ kind: 'pins', pins: pins() })(`${origin(refusal.name)}/v1/status`, {}), (error: unknown) => {
        assert.ok(error instanceof TlsPinError, String(error));
        assert.ok(error.message.startsWith(`${origin(refusal.name)}: certificate mismatch: the node presented key `), error.message);
        assert.match(error.message, refusal.detail);
        return true;
      });
      assert.equal(requests, before, 'no request reached the server');
    });
  }

  test('qgate exits 3 with the pin-mismatch message on each refused certificate, and reads through the node\'s own', async () => {
    const members = join(dir, 'members.json');
    // Any token will do: the certificate is checked before a request (and its token) is sent.
    const ok = await qgateProcess(['--members', members, 'devices', 'list'], { QGATE_ENDPOINTS: origin('api'), QGATE_TOKEN: 'a.b.c' });
    assert.doesNotMatch(ok.stderr, /certificate mismatch/, ok.stderr);
    assert.notEqual(ok.code, 3, ok.stderr);
    for (const refusal of REFUSALS) {
      const run = await qgateProcess(['--members', members, 'devices', 'list'], { QGATE_ENDPOINTS: origin(refusal.name), QGATE_TOKEN: 'a.b.c' });
      assert.equal(run.code, 3, `${refusal.rule}: ${run.stderr}`);
      assert.ok(run.stderr.includes(`${origin(refusal.name)}: certificate mismatch: the node presented key `), run.stderr);
      assert.match(run.stderr.trim().replace(/\)$/, ''), refusal.detail, refusal.rule);
    }
  });
});
