// verify.ts — authenticating and authorizing one signed command against the current trust state.
//
// The checks run in a fixed order so that every node reports the same reason for the same entry:
// cluster, signer, signatures (native Ed25519 over the received body bytes, each key counted once),
// threshold, expiry (and maximum lifetime) against the entry time, sequence, then role and domain.
import { MAX_COMMAND_LIFETIME_MS, ROOT_SIGNER } from './constants.js';
import { keyIdHex, toHex, verifySignature, type SignatureCheck } from './crypto.js';
import { CommandError } from './errors.js';
import type { CommandBody, PayloadKind, SignedCommand } from './types.js';

/**
 * Role is who may sign what (DESIGN.md "Roles"). A viewer signs no command: only read tokens for the
 * API (token.ts), so every command it signs is refused with role_not_allowed.
 */
export type Role = 'root' | 'admin' | 'node' | 'viewer';

/** KeyRecord is a registered non-root key: an admin or viewer key (per domains) or a node's key. */
export type KeyRecord =
  | { role: 'admin' | 'viewer'; publicKey: Uint8Array; domains: ReadonlySet<string> }
  | { role: 'node'; publicKey: Uint8Array; nodeId: string };

/** RootSet is the root role: its public keys (distinct) and how many must sign. */
export interface RootSet {
  keys: readonly Uint8Array[];
  threshold: number;
}

/** TrustView is what verification needs to know about the state at this point of the log. */
export interface TrustView {
  clusterId: Uint8Array;
  root: RootSet;
  /** key looks up an admin, viewer or node key by its hex key id. */
  key(keyIdHex: string): KeyRecord | undefined;
  /** lastSeq is the signer's last applied sequence number, 0 if none. */
  lastSeq(signer: string): number;
}

/** VerifiedCommand is a command whose signatures, freshness, role and domain have been checked. */
export interface VerifiedCommand {
  body: CommandBody;
  role: Role;
  /** nodeId is set when the signer is a node key. */
  nodeId?: string;
  /** adminDomains is set when the signer is an admin key: the domains it administers. */
  adminDomains?: ReadonlySet<string>;
  /** keyIds are the hex ids of the keys whose signatures were verified. */
  keyIds: string[];
}

/**
 * ROLE_PAYLOADS lists, per role, the payload kinds it may sign and whether they are domain-scoped.
 * Viewer keys are granted and revoked by root or by an admin of the domain (an admin may share read
 * access to what it administers); a viewer may sign nothing.
 */
const ROLE_PAYLOADS: Record<Role, ReadonlyMap<PayloadKind, 'domain' | 'cluster' | 'either'>> = {
  root: new Map([
    ['rotateRoot', 'cluster'], ['setNodeKey', 'cluster'], ['membership', 'cluster'], ['transferLeader', 'cluster'],
    ['addAdminKey', 'domain'], ['revokeAdminKey', 'domain'], ['createDomain', 'domain'], ['removeDomain', 'domain'],
    ['addViewerKey', 'domain'], ['revokeViewerKey', 'domain'],
  ]),
  admin: new Map([
    ['setPolicy', 'domain'], ['putDevice', 'domain'], ['removeDevice', 'domain'], ['putImage', 'domain'],
    ['removeImage', 'domain'], ['setDeviceState', 'domain'], ['addViewerKey', 'domain'], ['revokeViewerKey', 'domain'],
  ]),
  // A node may scope a telemetry batch to the domain of its devices (the data plane batches per
  // domain) or leave it cluster-wide; the state checks every event's device against it.
  node: new Map([['telemetry', 'either'], ['deviceCommandsDone', 'cluster']]),
  viewer: new Map(),
};

/** rolesFor returns the roles that may sign a payload kind (one, or root and admin for viewer keys). */
export function rolesFor(kind: PayloadKind): Role[] {
  return (Object.keys(ROLE_PAYLOADS) as Role[]).filter((role) => ROLE_PAYLOADS[role].has(kind));
}

/**
 * verifyCommand checks an envelope whose body has already been decoded into `body`, at entry time
 * `timeMs`. It throws CommandError with a stable code for the first check that fails.
 */
export function verifyCommand(envelope: SignedCommand, body: CommandBody, trust: TrustView, timeMs: number): VerifiedCommand {
  if (toHex(body.clusterId) !== toHex(trust.clusterId)) {
    throw new CommandError('wrong_cluster', `command is for cluster ${toHex(body.clusterId)}, this is ${toHex(trust.clusterId)}`, 'body.cluster_id');
  }
  const verified = body.signer === ROOT_SIGNER ? verifyRoot(envelope, body, trust) : verifySingle(envelope, body, trust);
  if (timeMs > body.notAfterMs) {
    throw new CommandError('expired', `command expired at ${body.notAfterMs} ms, entry time is ${timeMs} ms`, 'body.not_after_ms');
  }
  if (body.notAfterMs - timeMs > MAX_COMMAND_LIFETIME_MS) {
    throw new CommandError('lifetime_too_long', `command expires ${body.notAfterMs - timeMs} ms after the entry time, at most ${MAX_COMMAND_LIFETIME_MS} ms is allowed`, 'body.not_after_ms');
  }
  const last = trust.lastSeq(body.signer);
  if (body.seq <= last) {
    throw new CommandError('stale_sequence', `seq ${body.seq} of signer ${body.signer} is not greater than its last applied seq ${last}`, 'body.seq');
  }
  authorize(verified);
  return verified;
}

/**
 * signatureChecks lists the (key, body, signature) triples verifyCommand would verify for this envelope
 * against `trust`, without verifying anything: the signer's key, or for root each signature's key among
 * the current (and, for a rotation, the new) root keys. A signature whose key is unknown is left out
 * (verifyCommand refuses it before verifying). Used to verify ahead (crypto.ts verifyInBackground).
 */
export function signatureChecks(envelope: SignedCommand, body: CommandBody, trust: TrustView): SignatureCheck[] {
  if (body.signer !== ROOT_SIGNER) {
    const signature = envelope.signatures[0];
    const record = trust.key(body.signer);
    if (envelope.signatures.length !== 1 || signature === undefined || record === undefined) return [];
    return [{ publicKey: record.publicKey, message: envelope.body, signature: signature.sig }];
  }
  const keys = new Map(trust.root.keys.map((k) => [keyIdHex(k), k] as const));
  if (body.payload.kind === 'rotateRoot') for (const k of body.payload.rootKeys) keys.set(keyIdHex(k), k);
  const checks: SignatureCheck[] = [];
  for (const signature of envelope.signatures) {
    const publicKey = keys.get(toHex(signature.keyId));
    if (publicKey !== undefined) checks.push({ publicKey, message: envelope.body, signature: signature.sig });
  }
  return checks;
}

function verifyRoot(envelope: SignedCommand, body: CommandBody, trust: TrustView): VerifiedCommand {
  const current = new Map(trust.root.keys.map((k) => [keyIdHex(k), k] as const));
  // A rotation must also be signed by a threshold of the new root set (TUF's rule).
  const next = body.payload.kind === 'rotateRoot' ? new Map(body.payload.rootKeys.map((k) => [keyIdHex(k), k] as const)) : new Map<string, Uint8Array>();
  const valid = new Set<string>();
  envelope.signatures.forEach((signature, i) => {
    const id = toHex(signature.keyId);
    const publicKey = current.get(id) ?? next.get(id);
    if (publicKey === undefined) {
      throw new CommandError('unexpected_key', `signatures[${i}] is by key ${id}, which is not a root key${next.size > 0 ? ' of the current or new set' : ''}`, `signatures[${i}].key_id`);
    }
    if (!verifySignature(publicKey, envelope.body, signature.sig)) {
      // Every signature on a root command must verify, not only a threshold of them: a bad one means
      // the envelope was altered or assembled carelessly, and nothing it carries is trusted.
      throw new CommandError('bad_signature', `signatures[${i}] by key ${id} does not verify over the body`, `signatures[${i}].sig`);
    }
    valid.add(id);
  });
  const countIn = (set: Map<string, Uint8Array>): number => [...valid].filter((id) => set.has(id)).length;
  const have = countIn(current);
  if (have < trust.root.threshold) {
    throw new CommandError('below_threshold', `${have} valid signatures by current root keys, threshold is ${trust.root.threshold}`, 'signatures');
  }
  if (body.payload.kind === 'rotateRoot') {
    const haveNew = countIn(next);
    if (haveNew < body.payload.threshold) {
      throw new CommandError('below_threshold', `${haveNew} valid signatures by new root keys, new threshold is ${body.payload.threshold}`, 'signatures');
    }
  }
  return { body, role: 'root', keyIds: [...valid].sort() };
}

function verifySingle(envelope: SignedCommand, body: CommandBody, trust: TrustView): VerifiedCommand {
  if (!/^[0-9a-f]{32}$/.test(body.signer)) {
    throw new CommandError('bad_signer', `signer must be "root" or a 32-digit lowercase hex key id, found "${body.signer.slice(0, 40)}"`, 'body.signer');
  }
  const record = trust.key(body.signer);
  if (record === undefined) throw new CommandError('unknown_signer', `no admin, viewer or node key has id ${body.signer}`, 'body.signer');
  if (envelope.signatures.length !== 1) {
    throw new CommandError('unexpected_key', `a ${record.role} command carries exactly one signature, found ${envelope.signatures.length}`, 'signatures');
  }
  const signature = envelope.signatures[0];
  if (signature === undefined || toHex(signature.keyId) !== body.signer) {
    throw new CommandError('unexpected_key', `signatures[0] must be by the signer ${body.signer}`, 'signatures[0].key_id');
  }
  if (!verifySignature(record.publicKey, envelope.body, signature.sig)) {
    throw new CommandError('bad_signature', `signatures[0] by key ${body.signer} does not verify over the body`, 'signatures[0].sig');
  }
  if (record.role === 'node') return { body, role: 'node', nodeId: record.nodeId, keyIds: [body.signer] };
  if (record.role === 'viewer') return { body, role: 'viewer', keyIds: [body.signer] };
  return { body, role: 'admin', adminDomains: record.domains, keyIds: [body.signer] };
}

function authorize(verified: VerifiedCommand): void {
  const { body, role } = verified;
  const scope = ROLE_PAYLOADS[role].get(body.payload.kind);
  if (scope === undefined) {
    throw new CommandError('role_not_allowed', `a ${role} key may not sign ${body.payload.kind} (allowed: ${rolesFor(body.payload.kind).join(', ')})`, 'body.payload');
  }
  if (scope === 'cluster' && body.domain !== '') {
    throw new CommandError('wrong_domain', `${body.payload.kind} is cluster-wide: domain must be empty, found "${body.domain}"`, 'body.domain');
  }
  if (scope === 'domain' && body.domain === '') {
    throw new CommandError('wrong_domain', `${body.payload.kind} acts on one domain: domain must be set`, 'body.domain');
  }
  if (role === 'admin' && verified.adminDomains?.has(body.domain) !== true) {
    const domains = [...(verified.adminDomains ?? [])].sort().join(', ');
    throw new CommandError('wrong_domain', `admin key ${body.signer} administers [${domains}], not domain "${body.domain}"`, 'body.domain');
  }
}
