// keys.ts — node identities (Ed25519) and the raw-key conversions the transport needs, with
// Node's native crypto only (DESIGN.md: one native verifier on every node).
import { KeyObject, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { ED25519_PUBLIC_KEY_BYTES } from './constants.js';
import { assert } from './errors.js';

// DER PKCS#8 prefix (RFC 8410) for a raw 32-byte Ed25519 private key seed.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const ED25519_SEED_BYTES = 32;
// DER SubjectPublicKeyInfo prefixes (RFC 8410) for a raw 32-byte key.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** NodeIdentity is a node's transport identity: its Raft node id and its Ed25519 node key. */
export interface NodeIdentity {
  readonly nodeId: number;
  readonly privateKey: KeyObject;
  /** publicKey: the raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
}

/** generateNodeIdentity makes a fresh Ed25519 identity (tests, `qgate keygen`). */
export function generateNodeIdentity(nodeId: number): NodeIdentity {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { nodeId, privateKey, publicKey: rawPublicKey(publicKey) };
}

/** nodeIdentityFromPrivateKey builds an identity from a PEM/DER-encoded or KeyObject Ed25519 private key. */
export function nodeIdentityFromPrivateKey(nodeId: number, key: KeyObject | string | Buffer): NodeIdentity {
  const privateKey = key instanceof KeyObject ? key : createPrivateKey(key);
  assert(privateKey.asymmetricKeyType === 'ed25519', () => `node key must be Ed25519, got ${privateKey.asymmetricKeyType}`);
  return { nodeId, privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) };
}

/**
 * nodeIdentityFromSeed builds an identity from a raw 32-byte Ed25519 seed (RFC 8032's private
 * key; tweetnacl's `secretKey` is this seed followed by the public key).
 */
export function nodeIdentityFromSeed(nodeId: number, seed: Uint8Array): NodeIdentity {
  assert(seed.length === ED25519_SEED_BYTES, () => `Ed25519 seed must be ${ED25519_SEED_BYTES} bytes, got ${seed.length}`);
  const privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  return { nodeId, privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) };
}

/** rawPublicKey returns the raw 32 bytes of an Ed25519 public key. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const der = key.export({ format: 'der', type: 'spki' });
  assert(der.length === ED25519_SPKI_PREFIX.length + ED25519_PUBLIC_KEY_BYTES, () => `unexpected SPKI length ${der.length}`);
  return new Uint8Array(der.subarray(ED25519_SPKI_PREFIX.length));
}

/** hex renders key bytes for logs. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
