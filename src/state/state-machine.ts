// state-machine.ts — the replicated state machine: apply(entry) verifies and applies one signed command.
//
// apply is pure and deterministic (DESIGN.md promises 1, 2, 3, 6): it reads only the entry (its bytes,
// index, term and leader-stamped time) and the state; it never throws for bad input — a bad command is
// recorded as a rejection, identically on every node, and changes nothing else. Per entry it:
//   1. decodes the envelope (SignedCommand) and hashes the body;
//   2. rejects a body that was already applied (dedup by body hash, never by signature bytes);
//   3. decodes the body and verifies it (src/commands verifyCommand: cluster, signer, signatures with
//      native Ed25519 over the received bytes, threshold over distinct keys, expiry, seq, role, domain);
//   4. applies the payload (apply-payload.ts), which either changes the state or rejects untouched;
//   5. for an accepted command, advances the signer's seq and lets the policy engine fire the
//      time-in-state rules due by the entry time (a rejected entry changes no device state, so time
//      rules fire at the next accepted entry; nodes send empty telemetry batches as heartbeats);
//   6. extends the audit chain, for accepted and rejected entries alike.
// The state's clock is the largest entry time applied so far, so it never steps back.
import assert from 'node:assert/strict';
import {
  clusterIdOf, CommandError, decodeBody, decodeSignedCommand, keyIdHex, sha256, signatureChecks, toHex, verifyCommand,
  type CommandBody, type Genesis, type SignatureCheck, type SignedCommand, type TokenTrust, type TrustView,
} from '../commands/index.js';
import { applyPayload, reactionEffects, StateRejection, type ApplyContext } from './apply-payload.js';
import { extendChain } from './audit.js';
import { MAX_REASON_CHARS, MAX_RECENT_REJECTIONS, MAX_REMEMBERED_RESULTS } from './constants.js';
import type { PolicyDeviceType, PolicyDocumentView, PolicyEngineFactory, PolicySensor, PolicyState } from './policy-port.js';
import { fromSnapshotJson, initialData, toSnapshotJson, type StateData } from './state-data.js';
import { scratchStateHash, StateHasher } from './state-hash.js';
import type {
  AdminKeyRecord, ApplyResult, DeviceCommandFilter, DeviceCommandRecord, DeviceRecord, DiscoveredDevice, DomainRecord, KeyInfo,
  LogEntryInput, MemberRecord, PendingDeviceCommand, Rejection, RejectionCode, RememberedResult, SensorReadings,
} from './types.js';

/** AUTHENTICATED_CODES are the command errors verifyCommand reports only after the signatures verified. */
const AUTHENTICATED_CODES: ReadonlySet<RejectionCode> = new Set(['expired', 'lifetime_too_long', 'stale_sequence', 'role_not_allowed', 'wrong_domain']);

/** isAuthenticatedRejection: a rejection reported only after the command's signatures verified (its signer is known). */
function isAuthenticatedRejection(error: unknown): boolean {
  return error instanceof StateRejection || (error instanceof CommandError && AUTHENTICATED_CODES.has(error.code));
}

/** DevicePlan is what the data plane enforces for a device: its state's μmbox chain or verdict. */
export type DevicePlan = { deviceId: string; state: string; sinceMs: number } & (
  | { chain: { name: string; digest: string }[] }
  | { verdict: 'allow' | 'quarantine' }
);

/**
 * StateMachine is one node's copy of the replicated state. It implements the runtime's
 * RuntimeApplier<ApplyResult> port: apply(entry), snapshot(), restore(bytes).
 */
export class StateMachine {
  private data: StateData;
  private readonly engines: PolicyEngineFactory;

  /** constructor creates the state right after genesis; `engines` builds the policy engine. */
  constructor(genesis: Genesis, engines: PolicyEngineFactory) {
    this.engines = engines;
    this.data = initialData(genesis, clusterIdOf(genesis), engines.create());
  }

  /** restore (static) builds a state machine from snapshot() bytes. */
  static restore(bytes: Uint8Array, engines: PolicyEngineFactory): StateMachine {
    const machine = Object.create(StateMachine.prototype) as StateMachine;
    const fields = machine as unknown as { data: StateData; engines: PolicyEngineFactory };
    fields.engines = engines;
    fields.data = fromSnapshotJson(Buffer.from(bytes).toString('utf8'), engines);
    return machine;
  }

  /**
   * restore (instance) replaces this machine's state with snapshot() bytes, for the runtime's
   * RuntimeApplier port (src/node/ports.ts). Throws SnapshotError for bytes that are not a snapshot.
   */
  restore(bytes: Uint8Array): void {
    this.data = fromSnapshotJson(Buffer.from(bytes).toString('utf8'), this.engines);
  }

  private trustView(): TrustView {
    const data = this.data;
    return {
      clusterId: data.clusterId,
      root: data.root,
      key: (id) => data.keys.get(id),
      lastSeq: (signer) => this.lastSequence(signer),
    };
  }

  /**
   * lastSequence returns the last sequence number applied for `signer` (0 if none): a command must
   * carry a higher one (DESIGN.md promise 3). Protected, like earlierResult, so that the replay
   * checks can be seen through one seam (the composition root derives a machine from it).
   */
  protected lastSequence(signer: string): number {
    return this.data.lastSeq.peek(signer) ?? 0;
  }

  /** earlierResult returns the remembered outcome of a command with the same body, if it was applied or rejected after verifying. */
  protected earlierResult(bodyHash: string): { readonly ok: boolean; readonly code?: string; readonly index: number } | undefined {
    return this.data.remembered.peek(bodyHash);
  }

  /**
   * precheck verifies a command at the edge (the API) against the current state, at `timeMs`,
   * without changing anything: it decodes the envelope and checks cluster, signer, signatures,
   * threshold, role, domain, sequence and expiry. It throws CommandError for the first check that
   * fails. Passing is no promise: apply() verifies again, against the state at that entry.
   */
  precheck(envelopeBytes: Uint8Array, timeMs: number): { bodyHash: string; body: CommandBody } {
    const envelope = decodeSignedCommand(envelopeBytes);
    const body = decodeBody(envelope.body);
    verifyCommand(envelope, body, this.trustView(), Math.max(this.data.timeMs, timeMs));
    return { bodyHash: toHex(sha256(envelope.body)), body };
  }

  /**
   * signatureChecks returns the signature triples that verifying this envelope against the current state
   * would check (verify.ts signatureChecks), or none when it does not decode. Nothing is verified or
   * changed: the node verifies them ahead, off its main thread, so that precheck and apply find them in
   * the verification memo (crypto.ts verifyInBackground).
   */
  signatureChecks(envelopeBytes: Uint8Array): SignatureCheck[] {
    try {
      const envelope = decodeSignedCommand(envelopeBytes);
      return signatureChecks(envelope, decodeBody(envelope.body), this.trustView());
    } catch (error) {
      if (error instanceof CommandError) return [];
      throw error;
    }
  }

  /** bodyHashOf returns the hex sha256 of an envelope's body (the dedup key); throws CommandError if it does not decode. */
  bodyHashOf(envelopeBytes: Uint8Array): string {
    return toHex(sha256(decodeSignedCommand(envelopeBytes).body));
  }

  /**
   * apply verifies and applies one committed entry. Indexes must strictly increase (Raft applies in
   * order; entries that are not commands may be skipped). Never throws for bad input.
   */
  apply(entry: LogEntryInput): ApplyResult {
    const data = this.data;
    assert.ok(Number.isSafeInteger(entry.index) && entry.index > data.lastIndex, `apply: index ${entry.index} after ${data.lastIndex}`);
    assert.ok(Number.isSafeInteger(entry.term) && entry.term >= data.lastTerm, `apply: term ${entry.term} after ${data.lastTerm}`);
    assert.ok(Number.isSafeInteger(entry.timeMs) && entry.timeMs >= 0, `apply: timeMs ${entry.timeMs}`);
    // Entry times may step back when leadership moves between nodes with skewed clocks; the state's
    // time never does, so expiry and policy windows see a monotonic clock.
    const timeMs = Math.max(data.timeMs, entry.timeMs);
    const result = this.process(entry, timeMs);
    // Postcondition: the answer (a result or a rejection) is for this entry, never an earlier one's.
    assert.ok(result.index === entry.index, `apply: answered for index ${result.index}, applying ${entry.index}`);
    data.chain = extendChain(data.chain, entry);
    data.lastIndex = entry.index;
    data.lastTerm = entry.term;
    data.timeMs = timeMs;
    data.appliedCount += 1;
    return result;
  }

  private process(entry: LogEntryInput, timeMs: number): ApplyResult {
    const data = this.data;
    let envelope: SignedCommand;
    try {
      envelope = decodeSignedCommand(entry.payload);
    } catch (error) {
      return this.reject(entry, timeMs, error, '', '');
    }
    const bodyHash = toHex(sha256(envelope.body));
    // A body that was applied, or rejected after its signatures verified, is answered as a duplicate
    // and its remembered result kept: a retry must find the original result, never a later one.
    const earlier = this.earlierResult(bodyHash);
    if (earlier !== undefined) {
      const what = earlier.ok ? 'applied' : `rejected (${earlier.code ?? 'unknown'})`;
      return this.reject(entry, timeMs, new CommandError('duplicate', `this command was ${what} at index ${earlier.index}`), '', bodyHash, false);
    }
    let body: CommandBody | undefined;
    try {
      body = decodeBody(envelope.body);
      const verified = verifyCommand(envelope, body, this.trustView(), timeMs);
      const context: ApplyContext = { index: entry.index, timeMs, engines: this.engines };
      const effects = applyPayload(data, verified, context);
      data.lastSeq.set(body.signer, body.seq);
      effects.push(...reactionEffects(data, data.engine.onTime(timeMs), context));
      this.remember(bodyHash, { index: entry.index, term: entry.term, ok: true });
      return { ok: true, index: entry.index, kind: body.payload.kind, signer: body.signer, bodyHash, effects };
    } catch (error) {
      if (body !== undefined && isAuthenticatedRejection(error)) this.consumeSeq(body);
      return this.reject(entry, timeMs, error, body?.signer ?? '', bodyHash);
    }
  }

  /**
   * consumeSeq raises the signer's last sequence number to a command rejected after its signatures
   * verified, so that the same envelope can never be applied later (DESIGN.md promise 3; issue 15: an
   * admin's putDevice rejected because the device belonged to another domain was applied, replayed by
   * anyone, once that domain removed the device). Why this and not remembering rejected body hashes
   * until their expiry: the sequence number is already replicated, hashed and in the snapshot, it
   * costs nothing per rejection, and it cannot be evicted, while a bounded memory of rejected bodies
   * could be flushed by a signer's own stream of rejections, and an unbounded one is not allowed. The
   * signer loses nothing it could use: its next command takes a higher sequence number anyway.
   */
  private consumeSeq(body: CommandBody): void {
    const last = this.data.lastSeq.get(body.signer) ?? 0;
    if (body.seq > last) this.data.lastSeq.set(body.signer, body.seq);
  }

  private reject(entry: LogEntryInput, timeMs: number, error: unknown, signer: string, bodyHash: string, remember = true): ApplyResult {
    const index = entry.index;
    // Only expected failures become rejections; anything else is a broken invariant and crashes.
    if (!(error instanceof CommandError) && !(error instanceof StateRejection)) throw error;
    const code: RejectionCode = error.code;
    const reason = error.message.length > MAX_REASON_CHARS ? `${error.message.slice(0, MAX_REASON_CHARS - 3)}...` : error.message;
    const rejection: Rejection = { index, timeMs, code, reason, path: error.path, signer, bodyHash };
    const data = this.data;
    data.rejections.push(rejection);
    if (data.rejections.length > MAX_RECENT_REJECTIONS) data.rejections.shift();
    assert.ok(data.rejections.length <= MAX_RECENT_REJECTIONS, 'the recent rejections stay bounded');
    data.rejectionCounts.set(code, (data.rejectionCounts.get(code) ?? 0) + 1);
    // Only authenticated commands are remembered, so unsigned junk cannot evict real results.
    if (remember && bodyHash !== '' && isAuthenticatedRejection(error)) {
      this.remember(bodyHash, { index, term: entry.term, ok: false, code, reason });
    }
    return { ok: false, index, code, reason, path: error.path, bodyHash };
  }

  private remember(bodyHash: string, result: RememberedResult): void {
    const remembered = this.data.remembered;
    remembered.delete(bodyHash);
    remembered.set(bodyHash, result);
    if (remembered.size > MAX_REMEMBERED_RESULTS) {
      const oldest = remembered.keys().next().value;
      if (oldest !== undefined) remembered.delete(oldest);
    }
    assert.ok(remembered.size <= MAX_REMEMBERED_RESULTS, 'the remembered results stay bounded');
  }

  // -------------------------------------------------------------------------------------------------
  // Hashes, snapshots.

  /** snapshot is the whole state as canonical JSON bytes; restore() rebuilds an identical machine. */
  snapshot(): Uint8Array {
    return new TextEncoder().encode(toSnapshotJson(this.data));
  }

  /**
   * stateHash is the incremental state hash (state-hash.ts), hex: equal on every node after the same
   * entries. Its cost is proportional to the entries changed since the last call, and it is kept per
   * applied index: /v1/status and /v1/state are polled while writes flow (issue 15).
   */
  stateHash(): string {
    const data = this.data;
    const memo = this.hashMemo;
    if (memo !== undefined && memo.data === data && memo.appliedCount === data.appliedCount && memo.lastIndex === data.lastIndex) return memo.hash;
    this.hasher ??= new StateHasher();
    const hash = this.hasher.digest(data);
    this.hashMemo = { data, appliedCount: data.appliedCount, lastIndex: data.lastIndex, hash };
    return hash;
  }

  /** recomputeStateHash is stateHash() computed from nothing, changing nothing (for tests and benchmarks). */
  recomputeStateHash(): string {
    return scratchStateHash(this.data);
  }

  /** hashMemo is the last stateHash and the state it was computed for (undefined on a machine made by restore). */
  private hashMemo: { data: StateData; appliedCount: number; lastIndex: number; hash: string } | undefined;
  /** hasher keeps the state hash incrementally; it rebuilds a section whose maps were replaced (restore). */
  private hasher: StateHasher | undefined;

  /** auditChain is the audit hash chain value after the last applied entry, hex. */
  auditChain(): string {
    return toHex(this.data.chain);
  }

  /** lastApplied is the index, term and state time of the last applied entry (0s before any). */
  lastApplied(): { index: number; term: number; timeMs: number; count: number } {
    return { index: this.data.lastIndex, term: this.data.lastTerm, timeMs: this.data.timeMs, count: this.data.appliedCount };
  }

  /** resultFor answers a retried submission: the result of the body with this sha256 (hex), if remembered. */
  resultFor(bodyHash: string): RememberedResult | undefined {
    const result = this.data.remembered.peek(bodyHash);
    return result === undefined ? undefined : { ...result };
  }

  /**
   * resultForEnvelope answers a retried or duplicated envelope: the remembered result of its body,
   * with the body's kind and signer, but only if its signatures verify against the current keys
   * (sequence number and expiry aside: a retry of an applied command is stale by design). An
   * envelope whose body was applied but whose signature is wrong or malleated gets undefined: it
   * must be refused as what it is, never answered as the original.
   */
  resultForEnvelope(envelopeBytes: Uint8Array): { result: RememberedResult; kind: string; signer: string } | undefined {
    let envelope: SignedCommand;
    let body: CommandBody;
    try {
      envelope = decodeSignedCommand(envelopeBytes);
      body = decodeBody(envelope.body);
    } catch (error) {
      if (error instanceof CommandError) return undefined;
      throw error;
    }
    const remembered = this.data.remembered.peek(toHex(sha256(envelope.body)));
    if (remembered === undefined) return undefined;
    try {
      verifyCommand(envelope, body, { ...this.trustView(), lastSeq: () => 0 }, body.notAfterMs);
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      if (!AUTHENTICATED_CODES.has(error.code)) return undefined;
    }
    return { result: { ...remembered }, kind: body.payload.kind, signer: body.signer };
  }

  // -------------------------------------------------------------------------------------------------
  // Read accessors (copies; callers cannot change the state through them).

  /** clusterId is the cluster's id (sha256 of its genesis), hex. */
  clusterId(): string {
    return toHex(this.data.clusterId);
  }

  /** clusterName is the genesis cluster name. */
  clusterName(): string {
    return this.data.clusterName;
  }

  /** root is the current root role: version, public keys (hex) and threshold. */
  root(): { version: number; keys: string[]; threshold: number } {
    const root = this.data.root;
    return { version: root.version, keys: root.keys.map(toHex), threshold: root.threshold };
  }

  /** keys lists every registered key (root, admin, node) with its role, sorted by key id. */
  keys(): KeyInfo[] {
    const root: KeyInfo[] = this.data.root.keys.map((k) => ({ keyId: keyIdHex(k), publicKey: toHex(k), role: 'root' }));
    const others = [...this.data.keys.entries()].map(([keyId, k]): KeyInfo =>
      k.role === 'node'
        ? { keyId, publicKey: toHex(k.publicKey), role: 'node', nodeId: k.nodeId }
        : { keyId, publicKey: toHex(k.publicKey), role: k.role, domains: [...k.domains].sort() });
    return [...root, ...others].sort((a, b) => (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0));
  }

  /**
   * tokenTrust is the trust store as read-token verification sees it (src/commands/token.ts): a root
   * key reads every domain, an admin or viewer key the domains it holds its role in, a node key none.
   * It reads the current state at each call, so a revocation applies to the next request.
   */
  tokenTrust(): TokenTrust {
    return {
      clusterId: toHex(this.data.clusterId),
      reader: (id) => {
        const root = this.data.root.keys.find((k) => keyIdHex(k) === id);
        if (root !== undefined) return { role: 'root', publicKey: root, domains: 'all' };
        const entry = this.data.keys.get(id);
        if (entry === undefined) return undefined;
        if (entry.role === 'node') return { role: 'node', publicKey: entry.publicKey, domains: new Set<string>() };
        return { role: entry.role, publicKey: entry.publicKey, domains: new Set(entry.domains) };
      },
    };
  }

  /** lastSeq is a signer's last applied sequence number (0 if none): what its next command must exceed. */
  lastSeq(signer: string): number {
    return this.data.lastSeq.peek(signer) ?? 0;
  }

  /** members lists the member nodes, sorted by id. */
  members(): MemberRecord[] {
    return [...this.data.members.values()].map((m) => ({ ...m })).sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
  }

  /** domains lists the security domains with their admins, images and policy version, sorted. */
  domains(): DomainRecord[] {
    return [...this.data.domains.values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map((d) => ({
      name: d.name,
      description: d.description,
      adminKeys: [...d.admins.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([keyId, a]): AdminKeyRecord => ({ keyId, publicKey: a.publicKey, name: a.name })),
      viewerKeys: [...d.viewers.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([keyId, v]): AdminKeyRecord => ({ keyId, publicKey: v.publicKey, name: v.name })),
      images: [...d.images.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, digest]) => ({ name, digest })),
      policyVersion: d.policy?.version ?? 0,
      deviceCount: d.devices.size,
    }));
  }

  /** policy is a domain's current validated policy document, or undefined. */
  policy(domain: string): PolicyDocumentView | undefined {
    const policy = this.data.domains.get(domain)?.policy;
    return policy === undefined ? undefined : structuredClone(policy);
  }

  /** deviceTypes are the device types of a domain's current policy (they are part of the document). */
  deviceTypes(domain: string): PolicyDocumentView['deviceTypes'] {
    return structuredClone(this.data.domains.get(domain)?.policy?.deviceTypes ?? []);
  }

  /** images are a domain's pinned μmbox images (name → digest), sorted by name. */
  images(domain: string): { name: string; digest: string }[] {
    return this.domains().find((d) => d.name === domain)?.images ?? [];
  }

  /** device returns one device, or undefined. */
  device(id: string): DeviceRecord | undefined {
    const device = this.data.devices.peek(id);
    return device === undefined ? undefined : structuredClone(device);
  }

  /**
   * deviceHome is a device's domain and serving node, or undefined: what the device half asks once per
   * reading, without the deep copy of the whole record that device() makes.
   */
  deviceHome(id: string): { domain: string; nodeId: string } | undefined {
    const device = this.data.devices.peek(id);
    return device === undefined ? undefined : { domain: device.domain, nodeId: device.nodeId };
  }

  /** devices lists devices, optionally only one domain's or one node's, sorted by id. */
  devices(filter: { domain?: string; nodeId?: string } = {}): DeviceRecord[] {
    return [...this.data.devices.values()]
      .filter((d) => (filter.domain === undefined || d.domain === filter.domain) && (filter.nodeId === undefined || d.nodeId === filter.nodeId))
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .map((d) => structuredClone(d));
  }

  /** deviceState is a device's security state and since when (entry time), or undefined. */
  deviceState(id: string): { state: string; sinceMs: number } | undefined {
    const state = this.data.engine.deviceState(id);
    return state === undefined ? undefined : { state: state.state, sinceMs: state.sinceMs };
  }

  /** devicePlan is what the data plane must enforce for a device now (its state's chain or verdict). */
  devicePlan(id: string): DevicePlan | undefined {
    const device = this.data.devices.peek(id);
    const state = this.data.engine.deviceState(id);
    if (device === undefined || state === undefined) return undefined;
    const type = this.data.domains.get(device.domain)?.policy?.deviceTypes.find((t) => t.name === device.type);
    const spec: PolicyState | undefined = type?.states.find((s) => s.name === state.state);
    assert.ok(spec !== undefined, `device ${id} is in state ${state.state}, which its type lacks`);
    const base = { deviceId: id, state: state.state, sinceMs: state.sinceMs };
    return 'chain' in spec ? { ...base, chain: spec.chain.map((p) => ({ ...p })) } : { ...base, verdict: spec.verdict };
  }

  /** pendingCommands lists the device commands (policy reactions) a node has yet to carry out, by id. */
  pendingCommands(nodeId: string): PendingDeviceCommand[] {
    return [...(this.data.pending.get(nodeId)?.values() ?? [])].map((c) => structuredClone(c));
  }

  /**
   * commands lists device commands with their status, sorted by id: every pending one, and the newest
   * MAX_DONE_COMMANDS carried out and MAX_FAILED_COMMANDS given up. Every given filter field must match.
   */
  commands(filter: DeviceCommandFilter = {}): DeviceCommandRecord[] {
    const matches = (c: PendingDeviceCommand): boolean =>
      (filter.nodeId === undefined || c.nodeId === filter.nodeId) && (filter.deviceId === undefined || c.deviceId === filter.deviceId);
    const out: DeviceCommandRecord[] = [];
    if (filter.status === undefined || filter.status === 'pending') {
      for (const queue of this.data.pending.values()) {
        for (const c of queue.values()) if (matches(c)) out.push({ ...structuredClone(c), status: 'pending' });
      }
    }
    if (filter.status === undefined || filter.status === 'done') {
      for (const c of this.data.doneCommands) if (matches(c)) out.push(structuredClone(c));
    }
    if (filter.status === undefined || filter.status === 'failed') {
      for (const c of this.data.failedCommands) if (matches(c)) out.push(structuredClone(c));
    }
    return out.sort((a, b) => a.id - b.id);
  }

  /** command is one device command with its status, or undefined (never ordered, or forgotten). */
  command(id: number): DeviceCommandRecord | undefined {
    for (const queue of this.data.pending.values()) {
      const pending = queue.get(id);
      if (pending !== undefined) return { ...structuredClone(pending), status: 'pending' };
    }
    const finished = this.data.doneCommands.find((c) => c.id === id) ?? this.data.failedCommands.find((c) => c.id === id);
    return finished === undefined ? undefined : structuredClone(finished);
  }

  /** discovered lists the unknown devices nodes reported (one node's, or all), sorted by node, port and MAC. */
  discovered(nodeId?: string): DiscoveredDevice[] {
    const nodes = nodeId === undefined ? [...this.data.discoveries.keys()].sort() : [nodeId];
    return nodes.flatMap((node) => [...(this.data.discoveries.get(node)?.values() ?? [])]
      .sort((a, b) => (a.port < b.port ? -1 : a.port > b.port ? 1 : a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0))
      .map((d) => ({ ...d })));
  }

  /** discoveriesEvicted counts discoveries evicted because a node's list was full. */
  discoveriesEvicted(): number {
    return this.data.discoveriesEvicted;
  }

  /**
   * deviceReadings lists, for every sensor the device's type declares (in declared order), its latest
   * accepted reading and the last MAX_READINGS_HISTORY with their entry times; [] for an unknown device.
   */
  deviceReadings(id: string): SensorReadings[] {
    const type = this.typeOfDevice(id);
    if (type === undefined) return [];
    const stored = this.data.readings.peek(id);
    return type.sensors.map((sensor) => {
      const history = (stored?.get(sensor.name) ?? []).map((sample) => ({ ...sample }));
      const last = history[history.length - 1];
      return { sensor: sensor.name, latest: last === undefined ? null : { ...last }, history };
    });
  }

  /** samplingMs is how often the serving node reads the device now: its type's interval for its current state. */
  samplingMs(deviceId: string): number | undefined {
    const type = this.typeOfDevice(deviceId);
    const state = this.data.engine.deviceState(deviceId);
    if (type === undefined || state === undefined) return undefined;
    return Object.prototype.hasOwnProperty.call(type.samplingMs, state.state) ? type.samplingMs[state.state] : undefined;
  }

  /** sensorSpecs are the sensors the device's type declares (name, type, unit, min, max), or undefined. */
  sensorSpecs(deviceId: string): PolicySensor[] | undefined {
    const type = this.typeOfDevice(deviceId);
    return type === undefined ? undefined : structuredClone(type.sensors);
  }

  /**
   * nextDeadlineMs is the earliest pending policy deadline (time in state or time of day, in every
   * domain), or null. When it is at or before the current time, the node proposes an empty telemetry
   * batch so that the deadline fires.
   */
  nextDeadlineMs(): number | null {
    return this.data.engine.nextDeadlineMs();
  }

  private typeOfDevice(id: string): PolicyDeviceType | undefined {
    const device = this.data.devices.peek(id);
    if (device === undefined) return undefined;
    return this.data.domains.get(device.domain)?.policy?.deviceTypes.find((t) => t.name === device.type);
  }

  /** rejections lists the most recent rejections, oldest first (at most MAX_RECENT_REJECTIONS). */
  rejections(): Rejection[] {
    return this.data.rejections.map((r) => ({ ...r }));
  }

  /** rejectionCounts counts every rejection ever applied, by code. */
  rejectionCounts(): Record<string, number> {
    return Object.fromEntries([...this.data.rejectionCounts.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  /** droppedDeviceCommands counts reactions not queued because a node's queue was full. */
  droppedDeviceCommands(): number {
    return this.data.droppedDeviceCommands;
  }
}

