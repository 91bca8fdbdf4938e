// tls.test.ts — goal: between nodes only TLS 1.3 with mutual authentication by node keys is
// spoken. A member with its own key's certificate is accepted (and authenticates the listener by
// its pinned key); a client with no certificate, with a certificate for another key, with a
// certificate for a non-Ed25519 key, a node whose key was rotated out of the membership, a
// TLS 1.2-only client and bytes that are not TLS are each refused with a precise reason, logged
// through the drop log (a few lines in full, then a summary per source address).
// Method: the listening node is a real Transport in its own process (tls-listener.ts, IPC for its
// logs, deliveries and membership changes); clients are a real Transport and raw node:tls / TCP
// sockets in this process, on real loopback ports. Assertions read the client's view (protocol,
// the listener's key, whether the listener's confirmation frame came) and the listener's log lines.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import type { SecureVersion } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { certificateEd25519Key, createNodeCertificate, sameKey } from '../../src/tls/node-cert.js';
import { PROTOCOL_VERSION, hex, nodeCommonName, nodeIdentityFromSeed } from '../../src/transport/index.js';
import type { NodeIdentity } from '../../src/transport/index.js';
import { CLUSTER_ID, Membership, message, startNode, waitFor } from './helpers.js';
import type { TestNode } from './helpers.js';
import type { ListenerReport, ListenerSetup } from './tls-listener.js';

const ALPN = `quorumgate-raft/${PROTOCOL_VERSION}/${hex(CLUSTER_ID)}`;

/** Listener is the node process under test and what it reported. */
interface Listener {
  readonly child: ChildProcess;
  readonly port: number;
  readonly logs: Record<string, unknown>[];
  readonly received: { from: number; commit: number }[];
}

const children: ChildProcess[] = [];
const nodes: TestNode[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'qg-tls-test-'));
after(async () => {
  for (const node of nodes) await node.transport.stop();
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(scratch, { recursive: true, force: true });
});

function identity(nodeId: number): { identity: NodeIdentity; seedHex: string } {
  const seed = randomBytes(32);
  return { identity: nodeIdentityFromSeed(nodeId, seed), seedHex: seed.toString('hex') };
}

async function startListener(self: { identity: NodeIdentity; seedHex: string }, members: Record<string, string>, dropLog: ListenerSetup['dropLog']): Promise<Listener> {
  const compiled = import.meta.url.endsWith('.js');
  const script = fileURLToPath(new URL(compiled ? './tls-listener.js' : './tls-listener.ts', import.meta.url));
  const child = fork(script, { execArgv: compiled ? [] : ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  const logs: Record<string, unknown>[] = [];
  const received: { from: number; commit: number }[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    child.on('message', (raw) => {
      const report = raw as ListenerReport;
      if ('port' in report) resolve(report.port);
      else if ('log' in report) logs.push(report.log);
      else received.push(report.received);
    });
    child.once('exit', (code) => reject(new Error(`the listener exited with ${code} before listening`)));
    const setup: ListenerSetup = { nodeId: self.identity.nodeId, seedHex: self.seedHex, clusterIdHex: hex(CLUSTER_ID), members, dropLog };
    child.send(setup);
  });
  return { child, port, logs, received };
}

/** DialOutcome is what a raw TLS client saw. */
interface DialOutcome {
  readonly protocol: string | null;
  readonly listenerKey: Uint8Array | undefined;
  /** confirmed: the listener sent its empty confirmation frame, i.e. accepted this client. */
  readonly confirmed: boolean;
  readonly errorCode: string | undefined;
}

/** dialTls connects with node:tls as a client with the given certificate (or none) and reports what it saw. */
function dialTls(port: number, options: { certPem?: string; keyPem?: string; maxVersion?: SecureVersion } = {}): Promise<DialOutcome> {
  return new Promise((resolve) => {
    let protocol: string | null = null;
    let listenerKey: Uint8Array | undefined;
    let received = Buffer.alloc(0);
    let errorCode: string | undefined;
    const socket = connectTls({
      host: '127.0.0.1', port, rejectUnauthorized: false, servername: '', ALPNProtocols: [ALPN],
      ...(options.certPem === undefined ? {} : { cert: options.certPem, key: options.keyPem }),
      ...(options.maxVersion === undefined ? {} : { minVersion: 'TLSv1.2', maxVersion: options.maxVersion }),
    });
    const timer = setTimeout(() => socket.destroy(), 5000);
    socket.on('secureConnect', () => {
      protocol = socket.getProtocol();
      const certificate = socket.getPeerX509Certificate();
      listenerKey = certificate === undefined ? undefined : certificateEd25519Key(certificate);
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 4) socket.destroy();
    });
    socket.on('error', (error: Error & { code?: string }) => { errorCode = error.code; });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ protocol, listenerKey, confirmed: received.length === 4 && received.readUInt32BE(0) === 0, errorCode });
    });
  });
}

function refusal(listener: Listener, code: string): Record<string, unknown> | undefined {
  return listener.logs.find((line) => line.code === code && line.msg === 'transport: connection closed');
}

describe('TLS 1.3 with mutual key pinning, against a node in its own process', { timeout: 60_000 }, () => {
  const node1 = identity(1);
  const node2 = identity(2);
  let listener: Listener;
  let members: Record<string, string>;
  let node2Certificate: { certPem: string; keyPem: string };

  before(async () => {
    members = { 1: hex(node1.identity.publicKey), 2: hex(node2.identity.publicKey) };
    listener = await startListener(node1, members, { windowMs: 60_000, maxDetailedPerWindow: 100 });
    node2Certificate = await createNodeCertificate(node2.identity.privateKey, { commonName: nodeCommonName(2) });
  });

  test('a member is accepted: TLS 1.3, each side proves the key the membership names, messages are delivered', async () => {
    const outcome = await dialTls(listener.port, node2Certificate);
    assert.equal(outcome.protocol, 'TLSv1.3');
    assert.ok(outcome.listenerKey !== undefined && sameKey(outcome.listenerKey, node1.identity.publicKey), 'the listener presents node 1\'s key');
    assert.ok(outcome.confirmed, 'the listener confirms a member');
    const membership = new Membership();
    membership.add(node1.identity);
    membership.add(node2.identity);
    const dialer = await startNode(2, membership, { identity: node2.identity });
    nodes.push(dialer);
    dialer.transport.setPeers(new Map([[1, { host: '127.0.0.1', port: listener.port, publicKey: node1.identity.publicKey }]]));
    dialer.transport.send([message(2, 1, { commit: 41 })]);
    await waitFor('delivery in the listener process', () => listener.received.some((m) => m.from === 2 && m.commit === 41));
    assert.ok(listener.logs.some((line) => line.msg === 'transport: accepted' && line.peer === 2));
  });

  test('a client offering no certificate is refused', async () => {
    const outcome = await dialTls(listener.port);
    assert.equal(outcome.confirmed, false);
    await waitFor('the refusal logged', () => refusal(listener, 'TRANSPORT_NO_CERTIFICATE') !== undefined);
    assert.match(String(refusal(listener, 'TRANSPORT_NO_CERTIFICATE')!.reason), /the client presented no certificate/);
  });

  test('a certificate for another key than the membership names for that node is refused', async () => {
    const impostor = identity(2);
    const certificate = await createNodeCertificate(impostor.identity.privateKey, { commonName: nodeCommonName(2) });
    const outcome = await dialTls(listener.port, certificate);
    assert.equal(outcome.confirmed, false);
    await waitFor('the refusal logged', () => refusal(listener, 'TRANSPORT_NOT_MEMBER') !== undefined);
    assert.equal(String(refusal(listener, 'TRANSPORT_NOT_MEMBER')!.reason), `transport: node 2 with key ${hex(impostor.identity.publicKey)} is not a member of the cluster`);
  });

  test('a certificate for a non-Ed25519 key is refused', async () => {
    const keyFile = join(scratch, 'p256.key');
    const certFile = join(scratch, 'p256.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${nodeCommonName(2)}`,
      '-days', '1', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
    const outcome = await dialTls(listener.port, { certPem: readFileSync(certFile, 'utf8'), keyPem: readFileSync(keyFile, 'utf8') });
    assert.equal(outcome.confirmed, false);
    await waitFor('the refusal logged', () => refusal(listener, 'TRANSPORT_CERTIFICATE_KEY') !== undefined);
    assert.match(String(refusal(listener, 'TRANSPORT_CERTIFICATE_KEY')!.reason), /carries a ec key, not an Ed25519 node key/);
  });

  test('a TLS 1.2-only client is refused during the handshake', async () => {
    const outcome = await dialTls(listener.port, { ...node2Certificate, maxVersion: 'TLSv1.2' });
    assert.equal(outcome.protocol, null, 'no TLS session is established');
    assert.equal(outcome.errorCode, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    await waitFor('the refusal logged', () => refusal(listener, 'TRANSPORT_TLS_VERSION') !== undefined);
    assert.match(String(refusal(listener, 'TRANSPORT_TLS_VERSION')!.reason), /the peer does not speak TLSv1\.3/);
  });

  test('a node whose key was rotated out of the membership is disconnected at once and refused from then on', async () => {
    const dialer = nodes[0]!;
    dialer.transport.send([message(2, 1, { commit: 42 })]);
    await waitFor('node 2 connected', () => listener.received.some((m) => m.commit === 42));
    const rotated = identity(2);
    listener.child.send({ members: { ...members, 2: hex(rotated.identity.publicKey) } });
    await waitFor('the established connection closed', () => listener.logs.some((line) => line.code === 'TRANSPORT_NOT_MEMBER' && line.authenticated === true));
    const outcome = await dialTls(listener.port, node2Certificate);
    assert.equal(outcome.confirmed, false, 'the old key is refused at the next handshake');
    const refusedOldKey = (): boolean => listener.logs.some((line) => line.code === 'TRANSPORT_NOT_MEMBER' && line.authenticated === false
      && line.reason === `transport: node 2 with key ${hex(node2.identity.publicKey)} is not a member of the cluster`);
    await waitFor('the old key refused at the handshake', refusedOldKey);
    dialer.transport.send([message(2, 1, { commit: 43 })]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(!listener.received.some((m) => m.commit === 43), 'nothing from the rotated-out key is delivered');
  });
});

describe('bytes that are not TLS, against a node in its own process', { timeout: 60_000 }, () => {
  test('garbage before the handshake is refused and logged aggregated by source, a few lines in full', async () => {
    const node1 = identity(1);
    const listener = await startListener(node1, { 1: hex(node1.identity.publicKey) }, { windowMs: 1500, maxDetailedPerWindow: 3 });
    const garbage = async (): Promise<void> => new Promise((resolve) => {
      const socket = connectTcp(listener.port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      socket.on('error', () => undefined);
      socket.on('data', () => undefined);
      socket.on('close', () => resolve());
    });
    for (let i = 0; i < 20; i++) await garbage();
    await waitFor('the summary line', () => listener.logs.some((line) => typeof line.dropped === 'number'), 10_000);
    const detailed = listener.logs.filter((line) => line.msg === 'transport: connection closed');
    assert.equal(detailed.length, 3, 'three drops in full, the rest in the summary');
    for (const line of detailed) {
      assert.equal(line.code, 'TRANSPORT_NOT_TLS');
      assert.equal(line.source, '127.0.0.1');
      assert.match(String(line.reason), /the peer's first bytes are not a TLS handshake \(http request\)/);
    }
    const summary = listener.logs.find((line) => typeof line.dropped === 'number')!;
    assert.equal(summary.dropped, 20);
    assert.deepEqual(summary.sources, { '127.0.0.1': 20 });
    assert.deepEqual(summary.codes, { TRANSPORT_NOT_TLS: 20 });
    listener.child.send('stop');
  });
});
