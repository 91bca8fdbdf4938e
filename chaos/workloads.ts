// workloads.ts — what runs against the cluster while faults are injected, each recording into the history:
//   register   processes that write unique values to a few keys (signed image pins in domain `kv`) and read
//              them back linearizably, each op on a node chosen at random;
//   updates    processes that add uniquely identified items (signed pins in domain `set`);
//   adversary  sees every envelope the other workloads send (as a man in the middle would) and replays it
//              at once to two other nodes, replays it later, tampers with its body or signature, and sends
//              a genuine admin's command made for another cluster;
//   probes     a UDP datagram every few milliseconds from each probe device to the upstream server, while a
//              process moves the devices between states that allow and forbid that traffic and notes when
//              the serving gateway reports the new state enforced;
//   sampler    every node's status four times a second.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sleepMs } from '../src/dataplane/exec.js';
import { sha256, toHex } from '../src/commands/index.js';
import type { SeededRandom } from '../src/raft/index.js';
import { PROBE_PORT, PROBE_STATES, serverAddressOf } from './environment.js';
import type { Environment } from './environment.js';
import { bodyBytesOf, getJson, signedOf, submit } from './client.js';
import type { Signed, Signer, SubmitAnswer } from './client.js';
import { seedRandom } from './faults.js';
import type { AdversaryAttempt, History, ProbeSeries, RegisterOp, StateChange, UniqueUpdate } from './history.js';

/** REGISTER_KEYS are the register workload's keys. */
export const REGISTER_KEYS = ['k1', 'k2', 'k3'];
const OP_TIMEOUT_MS = 4_000;
const PROBE_INTERVAL_MS = 5;

/** WorkloadContext is shared by the workloads of one run. */
export interface WorkloadContext {
  readonly env: Environment;
  readonly history: History;
  readonly seed: number;
  readonly t: () => number;
  /** running turns false when the workloads must stop. */
  readonly running: () => boolean;
  readonly log: (line: string) => void;
}


function nodesOf(env: Environment): number[] {
  return env.cluster.nodes.map((n) => n.nodeId);
}

function digestOf(text: string): string {
  return `sha256:${toHex(sha256(new TextEncoder().encode(text)))}`;
}

/** Adversary replays, reorders and tampers with the envelopes it is shown. */
export class Adversary {
  private readonly ctx: WorkloadContext;
  private readonly rng: SeededRandom;
  private readonly captured: Signed[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly foreignClusterId: Uint8Array;

  constructor(ctx: WorkloadContext) {
    this.ctx = ctx;
    this.rng = seedRandom(ctx.seed, 'adversary');
    this.foreignClusterId = sha256(new TextEncoder().encode(`another cluster ${ctx.seed}`));
  }

  /** capture is called with an envelope about to be submitted; a third of them are replayed at once to two nodes. */
  capture(signed: Signed, exceptNode: number): void {
    this.captured.push(signed);
    if (this.captured.length > 500) this.captured.shift();
    if (this.rng.nextInt(3) !== 0) return;
    const others = nodesOf(this.ctx.env).filter((id) => id !== exceptNode);
    for (const node of others.slice(0, 2)) this.attempt('replay', node, signed.envelope, signed.bodyHash);
  }

  /** run sends a hostile envelope every ~300 ms until the workloads stop. */
  async run(signerForForeign: Signer): Promise<void> {
    while (this.ctx.running()) {
      await sleepMs(200 + this.rng.nextInt(200));
      if (this.captured.length === 0) continue;
      const original = this.captured[this.rng.nextInt(this.captured.length)]!;
      const nodes = nodesOf(this.ctx.env);
      const node = nodes[this.rng.nextInt(nodes.length)]!;
      const choice = this.rng.nextInt(5);
      if (choice === 0) {
        this.attempt('reorder', node, original.envelope, original.bodyHash);
      } else if (choice === 1 || choice === 2) {
        const tampered = Uint8Array.from(original.envelope);
        const body = bodyBytesOf(tampered);
        const inBody = choice === 1 && body.length > 0;
        // Flip one bit inside the body (changes what was signed) or inside the last signature.
        const at = inBody ? (body.byteOffset - tampered.byteOffset) + this.rng.nextInt(body.length) : tampered.length - 1 - this.rng.nextInt(32);
        tampered[at] = tampered[at]! ^ (1 << this.rng.nextInt(8));
        this.attempt(inBody ? 'tamper-body' : 'tamper-signature', node, tampered, original.bodyHash);
      } else if (choice === 3) {
        const foreign = signerForForeign.sign('kv', { kind: 'putImage', name: 'k1', digest: digestOf(`foreign ${this.ctx.t()}`) }, this.foreignClusterId);
        this.attempt('foreign-cluster', node, foreign.envelope, foreign.bodyHash);
      } else {
        this.attempt('replay', node, original.envelope, original.bodyHash);
      }
    }
    await Promise.all([...this.inFlight]);
  }

  private attempt(kind: AdversaryAttempt['kind'], node: number, envelope: Uint8Array, originalBodyHash: string): void {
    const record: AdversaryAttempt = { t: this.ctx.t(), node, kind, bodyHash: signedOf(envelope).bodyHash, originalBodyHash, answer: null };
    this.ctx.history.adversary.push(record);
    const done = submit(this.ctx.env.cluster.apiUrl(node), envelope, { timeoutMs: OP_TIMEOUT_MS }).then((answer) => {
      record.answer = answer.status === 0 ? null : {
        status: answer.status,
        ...(answer.duplicate !== undefined ? { duplicate: answer.duplicate } : {}),
        ...(answer.ok !== undefined ? { ok: answer.ok } : {}),
        ...(answer.index !== undefined ? { index: answer.index } : {}),
        ...(answer.code !== undefined ? { code: answer.code } : {}),
      };
    }).finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }
}

let nextOpId = 1;

function finish(op: { completeMs: number | null; outcome: string; index?: number; error?: string; code?: string }, answer: SubmitAnswer, t: number): void {
  op.outcome = answer.outcome;
  op.completeMs = answer.outcome === 'info' ? null : t;
  if (answer.index !== undefined) op.index = answer.index;
  if (answer.error !== undefined) op.error = answer.error;
  if (answer.code !== undefined) op.code = answer.code;
}

/** registerProcess runs one register process: random reads and unique writes of REGISTER_KEYS. */
export async function registerProcess(ctx: WorkloadContext, process: number, signer: Signer, adversary: Adversary): Promise<void> {
  const rng = seedRandom(ctx.seed, `register-${process}`);
  let written = 0;
  while (ctx.running()) {
    const nodes = nodesOf(ctx.env);
    const node = nodes[rng.nextInt(nodes.length)]!;
    const key = REGISTER_KEYS[rng.nextInt(REGISTER_KEYS.length)]!;
    if (rng.nextInt(2) === 0) {
      written += 1;
      const value = digestOf(`p${process} w${written}`);
      const signed = signer.sign('kv', { kind: 'putImage', name: key, digest: value });
      const op: RegisterOp = { id: nextOpId++, process, node, kind: 'write', key, value, invokeMs: ctx.t(), completeMs: null, outcome: 'info', bodyHash: signed.bodyHash };
      ctx.history.register.push(op);
      adversary.capture(signed, node);
      finish(op, await submit(ctx.env.cluster.apiUrl(node), signed.envelope, { timeoutMs: OP_TIMEOUT_MS }), ctx.t());
      if (op.outcome === 'fail') await sleepMs(50); // A dead or leaderless node answers at once: do not spin on it.
    } else {
      const op: RegisterOp = { id: nextOpId++, process, node, kind: 'read', key, value: null, invokeMs: ctx.t(), completeMs: null, outcome: 'info' };
      ctx.history.register.push(op);
      const answer = await getJson<{ images: Array<{ domain: string; name: string; digest: string }> }>(`${ctx.env.cluster.apiUrl(node)}/v1/images?domain=kv`, OP_TIMEOUT_MS);
      if (answer === undefined) {
        op.outcome = 'fail'; // A read that did not answer changed nothing: it is left out of the check.
        op.completeMs = ctx.t();
        await sleepMs(50);
      } else {
        op.value = answer.images.find((image) => image.name === key)?.digest ?? null;
        op.outcome = 'ok';
        op.completeMs = ctx.t();
      }
    }
  }
}

/** updatesProcess adds uniquely identified items, each once. */
export async function updatesProcess(ctx: WorkloadContext, process: number, signer: Signer, adversary: Adversary): Promise<void> {
  const rng = seedRandom(ctx.seed, `updates-${process}`);
  for (let i = 1; ctx.running(); i++) {
    const nodes = nodesOf(ctx.env);
    const node = nodes[rng.nextInt(nodes.length)]!;
    const id = `u${process}-${i}`;
    const signed = signer.sign('set', { kind: 'putImage', name: `u${process}-${i % 100}`, digest: digestOf(id) });
    const update: UniqueUpdate = { id, process, node, bodyHash: signed.bodyHash, invokeMs: ctx.t(), completeMs: null, outcome: 'info' };
    ctx.history.updates.push(update);
    adversary.capture(signed, node);
    finish(update, await submit(ctx.env.cluster.apiUrl(node), signed.envelope, { timeoutMs: OP_TIMEOUT_MS }), ctx.t());
    await sleepMs(update.outcome === 'fail' ? 50 : rng.nextInt(40));
  }
}

/**
 * stateChanger moves probe devices between states that allow and forbid the probes (signed by the site
 * admin, one at a time), and records when the serving gateway reports each change enforced.
 */
export async function stateChanger(ctx: WorkloadContext): Promise<void> {
  const rng = seedRandom(ctx.seed, 'states');
  const states = Object.keys(PROBE_STATES);
  const current = new Map(ctx.env.devices.map((d) => [d.id, 'normal']));
  while (ctx.running()) {
    await sleepMs(300 + rng.nextInt(900));
    if (!ctx.running()) break;
    const device = ctx.env.devices[rng.nextInt(ctx.env.devices.length)]!;
    // Half the changes from an allowing state go to the other allowing state: swaps under allowed
    // traffic are where a break-before-make data plane shows (the probes checker's second rule).
    const now = current.get(device.id)!;
    const allowing = states.filter((s) => PROBE_STATES[s] && s !== now);
    const choices = PROBE_STATES[now] && rng.nextInt(2) === 0 ? allowing : states.filter((s) => s !== now);
    const state = choices[rng.nextInt(choices.length)]!;
    const signed = ctx.env.siteAdmin.sign('site', { kind: 'setDeviceState', deviceId: device.id, state, reason: 'chaos probe workload' });
    const nodes = nodesOf(ctx.env);
    const node = nodes[rng.nextInt(nodes.length)]!;
    const change: StateChange = { device: device.id, gateway: device.gateway, state, forbids: !PROBE_STATES[state], invokeMs: ctx.t(), enforcedMs: null, outcome: 'info' };
    ctx.history.stateChanges.push(change);
    const answer = await submit(ctx.env.cluster.apiUrl(node), signed.envelope, { timeoutMs: OP_TIMEOUT_MS });
    change.outcome = answer.outcome;
    if (answer.index !== undefined) change.index = answer.index;
    if (answer.outcome !== 'ok' || answer.index === undefined) continue;
    current.set(device.id, state);
    const index = answer.index;
    const deadline = ctx.t() + 10_000;
    while (ctx.t() < deadline) {
      const status = await getJson<{ enforcedIndex?: number }>(`${ctx.env.cluster.apiUrl(device.gateway)}/v1/status`, 1_000);
      if (status?.enforcedIndex !== undefined && status.enforcedIndex >= index) {
        change.enforcedMs = ctx.t();
        break;
      }
      await sleepMs(25);
    }
  }
}

/** sampler polls every node's status until the workloads stop. */
export async function sampler(ctx: WorkloadContext, until: () => boolean): Promise<void> {
  while (!until()) {
    const t = ctx.t();
    await Promise.all(ctx.env.cluster.nodes.map(async ({ nodeId }) => {
      const status = await getJson<{ role: string; leader: number; term: number; commit: number; applied: number }>(`${ctx.env.cluster.apiUrl(nodeId)}/v1/status`, 300);
      ctx.history.samples.push(status === undefined
        ? { t, node: nodeId, up: false }
        : { t, node: nodeId, up: true, role: status.role, leader: status.leader, term: status.term, commit: status.commit, applied: status.applied });
    }));
    await sleepMs(Math.max(0, 250 - (ctx.t() - t)));
  }
}

const SENDER = `
const dgram = require('node:dgram'); const fs = require('node:fs');
const [server, port, device, out, interval] = process.argv.slice(1);
const socket = dgram.createSocket('udp4'); socket.on('error', () => {});
const sent = []; let seq = 0;
const timer = setInterval(() => { socket.send(Buffer.from(device + ' ' + seq), Number(port), server, () => {}); sent.push(Date.now()); seq++; }, Number(interval));
const done = () => { clearInterval(timer); fs.writeFileSync(out, JSON.stringify(sent)); process.exit(0); };
process.on('SIGTERM', done); process.on('SIGINT', done);
`;

const RECEIVER = `
const dgram = require('node:dgram'); const fs = require('node:fs');
const [port, out] = process.argv.slice(1);
const socket = dgram.createSocket('udp4'); const got = [];
socket.on('message', (message) => { const [device, seq] = message.toString().split(' '); got.push([device, Number(seq), Date.now()]); });
socket.bind(Number(port), () => { fs.writeFileSync(out + '.ready', ''); });
const done = () => { fs.writeFileSync(out, JSON.stringify(got)); process.exit(0); };
process.on('SIGTERM', done); process.on('SIGINT', done);
`;

/** ProbeTraffic runs the probe senders and the receiver in their namespaces. */
export class ProbeTraffic {
  private readonly env: Environment;
  private readonly dir: string;
  private receiver: ChildProcess | undefined;
  private readonly senders = new Map<string, ChildProcess>();

  constructor(env: Environment, dir: string) {
    this.env = env;
    this.dir = dir;
  }

  async start(): Promise<void> {
    const out = join(this.dir, 'probe-received.json');
    this.receiver = spawn('ip', ['netns', 'exec', this.env.network.server, process.execPath, '-e', RECEIVER, String(PROBE_PORT), out], { stdio: 'ignore' });
    const ready = Date.now();
    while (!existsSync(`${out}.ready`)) {
      if (Date.now() - ready > 10_000) throw new Error('the probe receiver did not start within 10 s');
      await sleepMs(50);
    }
    for (const device of this.env.devices) {
      const file = join(this.dir, `probe-sent-${device.id}.json`);
      this.senders.set(device.id, spawn('ip', ['netns', 'exec', device.namespace, process.execPath, '-e', SENDER, serverAddressOf(this.env), String(PROBE_PORT), device.id, file, String(PROBE_INTERVAL_MS)], { stdio: 'ignore' }));
    }
  }

  /** stop ends the traffic and returns each device's series on the run's clock (`startedAtMs` is its wall-clock origin). */
  async stop(startedAtMs: number): Promise<ProbeSeries[]> {
    for (const sender of this.senders.values()) await stopChild(sender);
    await sleepMs(200); // Datagrams in flight arrive.
    if (this.receiver) await stopChild(this.receiver);
    const receivedFile = join(this.dir, 'probe-received.json');
    const received = existsSync(receivedFile) ? (JSON.parse(readFileSync(receivedFile, 'utf8')) as Array<[string, number, number]>) : [];
    return this.env.devices.map((device) => {
      const file = join(this.dir, `probe-sent-${device.id}.json`);
      const sent = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as number[]).map((ms) => ms - startedAtMs) : [];
      return {
        device: device.id,
        gateway: device.gateway,
        sent,
        received: received.filter(([id]) => id === device.id).map(([, seq, ms]) => ({ seq, t: ms - startedAtMs })),
      };
    });
  }

  /** kill stops everything at once (tear-down after a failure). */
  kill(): void {
    for (const child of [...this.senders.values(), this.receiver]) child?.kill('SIGKILL');
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await Promise.race([exited, sleepMs(5_000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
