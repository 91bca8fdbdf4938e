// envelope.ts — building the signed command for one payload: who signs (by the payload's role), the
// sequence number, the expiry, and a local check of the body before anything is sent.
import assert from 'node:assert/strict';
import {
  CommandError, ROOT_SIGNER, decodeBody, decodeSignedCommand, encodeBody, encodeSignedCommand, rolesFor, sha256,
  signBody, toHex, type CommandBody, type Payload, type SignerImplementation,
} from '../commands/index.js';
import { MAX_EXPIRES_IN_MS } from './constants.js';
import { CliError } from './errors.js';
import type { SigningKey } from './keys.js';

/** TrustInfo is what the cluster says about keys (GET /v1/keys), used to pick the signing keys. */
export interface TrustInfo {
  /** rootKeys are the current root public keys, hex. */
  rootKeys: ReadonlySet<string>;
  rootThreshold: number;
  /** adminDomains maps an admin key id to the domains it administers, when the cluster told us. */
  adminDomains: ReadonlyMap<string, ReadonlySet<string>>;
}

/** SignerChoice is `auto` (pick by the payload's role), `root`, or one key id. */
export type SignerChoice = string;

/** Signers is who signs one command: the body's signer name and the keys whose signatures it carries. */
export interface Signers {
  signer: string;
  keys: SigningKey[];
}

/**
 * chooseSigners picks the keys for a payload. Root payloads are signed by every loaded root key (at
 * least the threshold); admin and node payloads by exactly one key, which must not be a root key and,
 * when the cluster lists admin domains, must administer `domain`. `--signer KEYID` names that key.
 * `trustKnown` is undefined when the cluster's keys could not be read.
 */
export function chooseSigners(kind: Payload['kind'], domain: string, keys: readonly SigningKey[], trustKnown: TrustInfo | undefined, choice: SignerChoice): Signers {
  // Without the cluster's key list every loaded key is taken for what the payload needs: all of them
  // sign a root command, and an admin command needs exactly one.
  const trust: TrustInfo = trustKnown ?? {
    rootKeys: new Set(rolesFor(kind)[0] === 'root' ? keys.map((k) => k.publicKeyHex) : []),
    rootThreshold: 1,
    adminDomains: new Map(),
  };
  const role = signingRole(kind, domain, keys, trust, choice);
  if (keys.length === 0) {
    throw new CliError('KEY', `a ${kind} command must be signed by ${role === 'root' ? 'root keys' : `an ${role} key`}: give --key FILE (or set QGATE_KEY or QGATE_KEY_SEED)`);
  }
  if (role === 'root') {
    if (choice !== 'auto' && choice !== ROOT_SIGNER) throw new CliError('USAGE', `--signer ${choice}: a ${kind} command is signed by the root role (--signer root or auto)`);
    const roots = keys.filter((k) => trust.rootKeys.has(k.publicKeyHex));
    if (roots.length < trust.rootThreshold) {
      throw new CliError('KEY', `a ${kind} command needs ${trust.rootThreshold} signatures by root keys; the keys given include ${roots.length} root key${roots.length === 1 ? '' : 's'} (repeat --key FILE for each)`);
    }
    return { signer: ROOT_SIGNER, keys: roots };
  }
  if (choice === ROOT_SIGNER) throw new CliError('USAGE', `--signer root: a ${kind} command is signed by ${role === 'admin' ? 'an admin key of its domain' : 'a node key'}, not by root`);
  let candidates = keys.filter((k) => !trust.rootKeys.has(k.publicKeyHex));
  if (choice !== 'auto') {
    candidates = candidates.filter((k) => k.keyId === choice);
    if (candidates.length === 0) throw new CliError('KEY', `--signer ${choice}: no loaded non-root key has this key id`);
  }
  if (role === 'admin' && trust.adminDomains.size > 0) {
    const admins = candidates.filter((k) => trust.adminDomains.get(k.keyId)?.has(domain) === true);
    if (admins.length > 0) candidates = admins;
    else if (candidates.length > 0) throw new CliError('KEY', `none of the keys given (${candidates.map((k) => k.keyId).join(', ')}) is an admin key of domain "${domain}"`);
  }
  if (candidates.length === 0) throw new CliError('KEY', `a ${kind} command is signed by ${role === 'admin' ? `an admin key of domain "${domain}"` : 'a node key'}; only root keys were given`);
  if (candidates.length > 1) throw new CliError('USAGE', `several keys could sign this ${kind} command (${candidates.map((k) => k.keyId).join(', ')}): choose one with --signer KEYID`);
  return { signer: (candidates[0] as SigningKey).keyId, keys: candidates };
}

/**
 * signingRole is the role that signs a payload: its one role, or for kinds both root and an admin may
 * sign (viewer keys), root when asked (--signer root) or when no loaded key administers the domain and
 * enough root keys are loaded, an admin otherwise.
 */
function signingRole(kind: Payload['kind'], domain: string, keys: readonly SigningKey[], trust: TrustInfo, choice: SignerChoice): string {
  const roles = rolesFor(kind);
  const first = roles[0];
  assert.ok(first !== undefined, `payload kind ${kind} has a role`);
  if (!(roles.includes('root') && roles.includes('admin'))) return first;
  if (choice === ROOT_SIGNER) return 'root';
  if (choice !== 'auto') return 'admin';
  const admins = keys.filter((k) => !trust.rootKeys.has(k.publicKeyHex) && (trust.adminDomains.size === 0 || trust.adminDomains.get(k.keyId)?.has(domain) === true));
  const roots = keys.filter((k) => trust.rootKeys.has(k.publicKeyHex));
  return admins.length === 0 && roots.length >= trust.rootThreshold ? 'root' : 'admin';
}

/** notAfterFor is the expiry of a command signed at `nowMs` that is valid for `expiresInMs`. */
export function notAfterFor(nowMs: number, expiresInMs: number): number {
  if (!Number.isSafeInteger(expiresInMs) || expiresInMs < 1 || expiresInMs > MAX_EXPIRES_IN_MS) {
    throw new CliError('USAGE', `--expires-in: expected 1..${MAX_EXPIRES_IN_MS} ms, found ${expiresInMs}`);
  }
  return nowMs + expiresInMs;
}

/**
 * SeqAllocator hands out sequence numbers per signer: the cluster's lastSeq + 1 for the first command
 * of a signer in this invocation, then one more for each next one. Gaps are harmless (the cluster only
 * requires seq > lastSeq), so a rejected command does not require asking again.
 */
export class SeqAllocator {
  private readonly last = new Map<string, number>();

  constructor(private readonly fetchLastSeq: (signer: string) => Promise<number>) {}

  /** next returns the sequence number for the signer's next command. */
  async next(signer: string): Promise<number> {
    let last = this.last.get(signer);
    if (last === undefined) {
      last = await this.fetchLastSeq(signer);
      assert.ok(Number.isSafeInteger(last) && last >= 0, `lastSeq of ${signer} must be a non-negative integer`);
    }
    const seq = last + 1;
    this.last.set(signer, seq);
    return seq;
  }
}

/** BuiltCommand is one signed envelope ready to submit, with what was signed. */
export interface BuiltCommand {
  bytes: Uint8Array;
  body: CommandBody;
  bodyHash: string;
}

/**
 * buildEnvelope encodes and signs a body, then decodes the result exactly as a node will (body and
 * envelope) so that a payload the cluster would refuse as malformed is reported here, with its path.
 */
export function buildEnvelope(body: CommandBody, keys: readonly SigningKey[], implementation: SignerImplementation = 'native'): BuiltCommand {
  assert.ok(keys.length > 0, 'buildEnvelope needs a key');
  let bytes: Uint8Array;
  try {
    const encoded = encodeBody(body);
    decodeBody(encoded);
    bytes = encodeSignedCommand(signBody(encoded, keys.map((k) => k.pair), implementation));
    const check = decodeSignedCommand(bytes);
    return { bytes, body, bodyHash: toHex(sha256(check.body)) };
  } catch (error) {
    if (error instanceof CommandError) {
      throw new CliError('BAD_INPUT', `${body.payload.kind}: ${error.path === '' ? '' : `${error.path}: `}${error.message}`, { commandCode: error.code, path: error.path });
    }
    throw error;
  }
}
