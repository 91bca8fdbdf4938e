// identity.ts — a node's Ed25519 identity key file: reading, writing and checking it.
//
// Format (JSON): { "type": "quorumgate-ed25519", "publicKey": "<64 hex>", "seed": "<64 hex>" }.
// The file must be readable by its owner only (mode 0600), as ssh insists for private keys: a
// key that others could read is refused with a message saying how to fix it.
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { generateKeyPair, keyPairFromSeed, toHex } from '../commands/index.js';
import type { KeyPair } from '../commands/index.js';

/** IDENTITY_KEY_TYPE marks a quorumgate identity key file. */
export const IDENTITY_KEY_TYPE = 'quorumgate-ed25519';

/** IdentityKeyError says why a key file cannot be used. */
export class IdentityKeyError extends Error {
  readonly code = 'IDENTITY_KEY_INVALID';
  constructor(file: string, detail: string) {
    super(`key file ${file}: ${detail}`);
    this.name = 'IdentityKeyError';
  }
}

/** writeIdentityKey creates a new key file (mode 0600) and returns the key pair. */
export function writeIdentityKey(file: string, pair: KeyPair = generateKeyPair()): KeyPair {
  const body = { type: IDENTITY_KEY_TYPE, publicKey: toHex(pair.publicKey), seed: toHex(pair.seed) };
  writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return pair;
}

/** readIdentityKey loads and checks a key file: owner-only permissions, format, and that the seed matches the public key. */
export function readIdentityKey(file: string): KeyPair {
  let text: string;
  let mode: number;
  try {
    mode = statSync(file).mode;
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new IdentityKeyError(file, `cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); create one with "qgate keys gen"`);
  }
  if ((mode & 0o077) !== 0) {
    throw new IdentityKeyError(file, `permissions ${(mode & 0o777).toString(8)} let others read the private key; run "chmod 600 ${file}"`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new IdentityKeyError(file, 'is not JSON');
  }
  const record = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (record.type !== IDENTITY_KEY_TYPE) {
    throw new IdentityKeyError(file, `expected "type": "${IDENTITY_KEY_TYPE}", found ${JSON.stringify(record.type)}`);
  }
  if (typeof record.seed !== 'string' || !/^[0-9a-f]{64}$/.test(record.seed)) {
    throw new IdentityKeyError(file, 'expected "seed" to be 64 lowercase hex characters');
  }
  const pair = keyPairFromSeed(Buffer.from(record.seed, 'hex'));
  if (record.publicKey !== toHex(pair.publicKey)) {
    throw new IdentityKeyError(file, '"publicKey" does not belong to "seed" (the file is damaged or was edited)');
  }
  return pair;
}

