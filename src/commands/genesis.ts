// genesis.ts — the genesis document that creates a cluster; its canonical hash is the cluster id.
import { readFileSync } from 'node:fs';
import { canonicalJson } from './canonical-json.js';
import { IDENTIFIER, MAX_MEMBERS, MAX_ROOT_KEYS, NODE_ADDRESS } from './constants.js';
import { fromHex, sha256, toHex } from './crypto.js';
import { describeValue } from './errors.js';

/** GenesisMember is one first member of the cluster: its id, its node public key (hex) and address. */
export interface GenesisMember {
  nodeId: string;
  nodeKey: string;
  address: string;
}

/** Genesis is the document a cluster is created from (DESIGN.md "Genesis"). */
export interface Genesis {
  clusterName: string;
  /** rootKeys are 64-digit lowercase hex Ed25519 public keys, distinct. */
  rootKeys: string[];
  rootThreshold: number;
  members: GenesisMember[];
  /** createdAt is an optional ISO 8601 UTC timestamp, informative only (it changes the cluster id). */
  createdAt?: string;
}

/** GenesisErrorCode names the ways a genesis document can be wrong. */
export type GenesisErrorCode = 'unreadable' | 'not_json' | 'invalid';

/** GenesisError reports a bad genesis document: which file, where in it, what was expected and found. */
export class GenesisError extends Error {
  override readonly name = 'GenesisError';
  readonly code: GenesisErrorCode;
  readonly file: string;
  readonly path: string;
  readonly expected: string;
  readonly found: string;

  constructor(code: GenesisErrorCode, file: string, path: string, expected: string, found: string, options?: { cause?: unknown }) {
    super(`${file}: ${path === '' ? '' : `${path}: `}expected ${expected}, found ${found}`, options);
    this.code = code;
    this.file = file;
    this.path = path;
    this.expected = expected;
    this.found = found;
  }
}

const GENESIS_FIELDS = new Set(['clusterName', 'rootKeys', 'rootThreshold', 'members', 'createdAt']);
const MEMBER_FIELDS = new Set(['nodeId', 'nodeKey', 'address']);
const HEX_KEY = /^[0-9a-f]{64}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

/** createGenesis builds and validates a genesis document from public keys (raw bytes). */
export function createGenesis(init: {
  clusterName: string;
  rootKeys: readonly Uint8Array[];
  rootThreshold: number;
  members: readonly { nodeId: string; nodeKey: Uint8Array; address: string }[];
  createdAt?: string;
}): Genesis {
  const genesis: Genesis = {
    clusterName: init.clusterName,
    rootKeys: init.rootKeys.map(toHex),
    rootThreshold: init.rootThreshold,
    members: init.members.map((m) => ({ nodeId: m.nodeId, nodeKey: toHex(m.nodeKey), address: m.address })),
  };
  if (init.createdAt !== undefined) genesis.createdAt = init.createdAt;
  return validateGenesis(genesis, '<createGenesis>');
}

/** genesisBytes is the canonical JSON encoding of a genesis document (what is hashed and stored). */
export function genesisBytes(genesis: Genesis): Uint8Array {
  return new TextEncoder().encode(canonicalJson(genesis));
}

/** clusterIdOf is sha256 of the canonical genesis encoding: 32 bytes. */
export function clusterIdOf(genesis: Genesis): Uint8Array {
  return sha256(genesisBytes(genesis));
}

/** parseGenesis parses and validates genesis JSON text; `file` names the source in errors. */
export function parseGenesis(text: string, file: string): Genesis {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new GenesisError('not_json', file, '', 'a JSON document', (error as Error).message, { cause: error });
  }
  return validateGenesis(value, file);
}

/** loadGenesis reads a genesis file (the one I/O function of this module). */
export function loadGenesis(path: string): Genesis {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new GenesisError('unreadable', path, '', 'a readable file', (error as Error).message, { cause: error });
  }
  return parseGenesis(text, path);
}

/** validateGenesis checks every field of an untrusted value and returns it as a Genesis. */
export function validateGenesis(value: unknown, file: string): Genesis {
  const bad = (path: string, expected: string, found: unknown): GenesisError =>
    new GenesisError('invalid', file, path, expected, describeValue(found));
  const object = plainObject(value, '', bad);
  onlyFields(object, GENESIS_FIELDS, '', bad);
  const clusterName = object['clusterName'];
  if (typeof clusterName !== 'string' || !IDENTIFIER.test(clusterName)) throw bad('clusterName', 'an identifier (1-64 of A-Z a-z 0-9 . _ : -)', clusterName);
  const rootKeys = object['rootKeys'];
  if (!Array.isArray(rootKeys) || rootKeys.length === 0 || rootKeys.length > MAX_ROOT_KEYS) throw bad('rootKeys', `an array of 1..${MAX_ROOT_KEYS} public keys`, rootKeys);
  const keys = rootKeys.map((k: unknown, i) => {
    if (typeof k !== 'string' || !HEX_KEY.test(k)) throw bad(`rootKeys[${i}]`, 'a 64-digit lowercase hex Ed25519 public key', k);
    return k;
  });
  if (new Set(keys).size !== keys.length) throw bad('rootKeys', 'distinct keys (a key is counted once)', `a repeated key`);
  const threshold = object['rootThreshold'];
  if (typeof threshold !== 'number' || !Number.isInteger(threshold) || threshold < 1 || threshold > keys.length) {
    throw bad('rootThreshold', `an integer in 1..${keys.length}`, threshold);
  }
  const members = object['members'];
  if (!Array.isArray(members) || members.length === 0 || members.length > MAX_MEMBERS) throw bad('members', `an array of 1..${MAX_MEMBERS} members`, members);
  const parsed = members.map((m: unknown, i) => validateMember(m, `members[${i}]`, bad));
  const nodeIds = new Set(parsed.map((m) => m.nodeId));
  if (nodeIds.size !== parsed.length) throw bad('members', 'distinct nodeIds', 'a repeated nodeId');
  const nodeKeys = new Set(parsed.map((m) => m.nodeKey));
  if (nodeKeys.size !== parsed.length) throw bad('members', 'distinct nodeKeys', 'a repeated nodeKey');
  parsed.forEach((m, i) => {
    if (keys.includes(m.nodeKey)) throw bad(`members[${i}].nodeKey`, 'a key that is not also a root key', m.nodeKey);
  });
  const genesis: Genesis = { clusterName, rootKeys: keys, rootThreshold: threshold, members: parsed };
  const createdAt = object['createdAt'];
  if (createdAt !== undefined) {
    if (typeof createdAt !== 'string' || !ISO_UTC.test(createdAt) || Number.isNaN(Date.parse(createdAt))) {
      throw bad('createdAt', 'an ISO 8601 UTC time such as 2026-01-31T12:00:00Z', createdAt);
    }
    genesis.createdAt = createdAt;
  }
  return genesis;
}

type Bad = (path: string, expected: string, found: unknown) => GenesisError;

function validateMember(value: unknown, at: string, bad: Bad): GenesisMember {
  const object = plainObject(value, at, bad);
  onlyFields(object, MEMBER_FIELDS, at, bad);
  const { nodeId, nodeKey, address } = object;
  if (typeof nodeId !== 'string' || !IDENTIFIER.test(nodeId)) throw bad(`${at}.nodeId`, 'an identifier', nodeId);
  if (typeof nodeKey !== 'string' || !HEX_KEY.test(nodeKey) || fromHex(nodeKey, 32) === undefined) {
    throw bad(`${at}.nodeKey`, 'a 64-digit lowercase hex Ed25519 public key', nodeKey);
  }
  if (typeof address !== 'string' || !NODE_ADDRESS.test(address)) throw bad(`${at}.address`, '"host:port"', address);
  return { nodeId, nodeKey, address };
}

function plainObject(value: unknown, at: string, bad: Bad): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(at, 'an object', value);
  return value as Record<string, unknown>;
}

function onlyFields(object: Record<string, unknown>, allowed: ReadonlySet<string>, at: string, bad: Bad): void {
  for (const key of Object.keys(object).sort()) {
    if (!allowed.has(key)) throw bad(at === '' ? key : `${at}.${key}`, `one of the fields ${[...allowed].join(', ')}`, `an unknown field "${key}"`);
  }
}
