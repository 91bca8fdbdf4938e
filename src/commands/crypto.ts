// crypto.ts — Ed25519 keys, key ids, signing (tweetnacl or native) and verification (native only).
//
// Every node verifies with Node's native Ed25519 (OpenSSL), which enforces S < L and so rejects the
// malleated signatures (S + L) that tweetnacl's verify accepts (DESIGN.md "Ed25519"). Mixing verifiers
// would let nodes disagree about the same entry, so tweetnacl is used to sign only.
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import nacl from 'tweetnacl';
import { KEY_ID_BYTES, MAX_BACKGROUND_VERIFICATIONS, MAX_KEY_CACHE_ENTRIES, MAX_VERIFIED_CACHE_BYTES, MAX_VERIFIED_CACHE_ENTRIES, PUBLIC_KEY_BYTES, SEED_BYTES, SIGNATURE_BYTES } from './constants.js';

/** KeyPair is a raw Ed25519 key pair: the 32-byte seed (the private key of RFC 8032) and public key. */
export interface KeyPair {
  publicKey: Uint8Array;
  seed: Uint8Array;
}

/** SignerImplementation names the Ed25519 implementation that produces a signature; both give identical bytes. */
export type SignerImplementation = 'native' | 'tweetnacl';

// DER prefixes that wrap a raw Ed25519 key as SPKI (public) and PKCS#8 (private), RFC 8410.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** generateKeyPair makes a fresh key pair from the operating system's random source. */
export function generateKeyPair(): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  const pair = {
    publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX.length)),
    seed: new Uint8Array(pkcs8.subarray(PKCS8_PREFIX.length)),
  };
  assert.equal(pair.publicKey.length, PUBLIC_KEY_BYTES);
  assert.equal(pair.seed.length, SEED_BYTES);
  return pair;
}

/** keyPairFromSeed derives the public key of a 32-byte seed (deterministic; used by tests and key files). */
export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  assert.equal(seed.length, SEED_BYTES, `an Ed25519 seed is ${SEED_BYTES} bytes`);
  const pair = nacl.sign.keyPair.fromSeed(seed);
  return { publicKey: pair.publicKey, seed: Uint8Array.from(seed) };
}

/** keyId is the first KEY_ID_BYTES bytes of sha256(public key). */
export function keyId(publicKey: Uint8Array): Uint8Array {
  assert.equal(publicKey.length, PUBLIC_KEY_BYTES);
  return new Uint8Array(createHash('sha256').update(publicKey).digest().subarray(0, KEY_ID_BYTES));
}

/** keyIdHex is keyId() as lowercase hex: the signer name of admin and node keys. */
export function keyIdHex(publicKey: Uint8Array): string {
  return Buffer.from(keyId(publicKey)).toString('hex');
}

/** signMessage makes an Ed25519 signature over message with the chosen implementation. */
export function signMessage(pair: KeyPair, message: Uint8Array, implementation: SignerImplementation = 'native'): Uint8Array {
  if (implementation === 'tweetnacl') {
    const secretKey = new Uint8Array(64);
    secretKey.set(pair.seed, 0);
    secretKey.set(pair.publicKey, 32);
    return nacl.sign.detached(message, secretKey);
  }
  let privateKey = privateKeys.get(pair);
  if (privateKey === undefined) {
    privateKey = privateKeyObject(pair.seed);
    privateKeys.set(pair, privateKey);
  }
  return new Uint8Array(sign(null, message, privateKey));
}

/** privateKeyObject is a node:crypto private key for a 32-byte Ed25519 seed (e.g. to make a TLS certificate). */
export function privateKeyObject(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

// Parsing a PKCS#8 key costs several times a signature. The parsed key lives exactly as long as the
// caller's KeyPair object (a WeakMap), so no private key outlives the pair that holds it.
const privateKeys = new WeakMap<KeyPair, KeyObject>();

// A bounded cache of parsed public keys: parsing SPKI costs more than the verification itself.
const keyCache = new Map<string, KeyObject>();

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  const cacheKey = Buffer.from(publicKey).toString('hex');
  const hit = keyCache.get(cacheKey);
  if (hit !== undefined) return hit;
  const object = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
  if (keyCache.size >= MAX_KEY_CACHE_ENTRIES) {
    const oldest = keyCache.keys().next().value;
    if (oldest !== undefined) keyCache.delete(oldest);
  }
  keyCache.set(cacheKey, object);
  return object;
}

/**
 * verified remembers (public key, message, signature) triples that this process verified, keyed by
 * the signature's hex and compared byte for byte: the node that prechecks a command at its API
 * verifies the same bytes again when it applies the entry, and verification is a pure function of
 * the three, so the second call is answered from here (the leader's second Ed25519 verification
 * per command). Only successes are kept; bounded, oldest first out. The signature is a lookup key
 * only, never an identity: a hit needs the key and message to be equal too.
 */
const verified = new Map<string, { publicKey: Buffer; message: Buffer }>();
/** verifiedBytes is the bytes the memo's entries hold. Invariant: verifiedBytes <= MAX_VERIFIED_CACHE_BYTES. */
let verifiedBytes = 0;

/**
 * copyUnpooled copies bytes into a buffer of their own: Buffer.from of a small array is a slice of an 8 KiB
 * pool slab, and a 32-byte key kept in the memo kept its whole slab alive (22.7 MB for 2,769 keys).
 */
function copyUnpooled(bytes: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.byteLength);
  copy.set(bytes);
  return copy;
}

/** verifiedMemoStats returns how many triples the memo holds and their bytes (for tests and metrics). */
export function verifiedMemoStats(): { readonly entries: number; readonly bytes: number } {
  return { entries: verified.size, bytes: verifiedBytes };
}

/**
 * verifySignature checks an Ed25519 signature with Node's native verifier (the only verifier nodes use).
 * It returns false for any malformed input instead of throwing.
 */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  const memoKey = toHex(signature);
  const memo = verified.get(memoKey);
  if (memo !== undefined && memo.publicKey.equals(publicKey) && memo.message.equals(message)) {
    counts.memoHits += 1;
    return true;
  }
  counts.onThread += 1;
  let key: KeyObject;
  try {
    key = publicKeyObject(publicKey);
  } catch {
    // Not a valid curve point encoding: no signature can verify under it.
    return false;
  }
  const ok = verify(null, message, key, signature);
  if (ok) remember(memoKey, copyUnpooled(publicKey), copyUnpooled(message));
  return ok;
}

/** remember records a triple the native verifier accepted; bounded in entries and bytes, oldest first out. */
function remember(memoKey: string, publicKey: Buffer, message: Buffer): void {
  const bytes = publicKey.byteLength + message.byteLength;
  if (bytes > MAX_VERIFIED_CACHE_BYTES) return;
  forget(memoKey);
  // Bounded: each pass removes one entry, and the memo holds at most MAX_VERIFIED_CACHE_ENTRIES.
  while (verified.size > 0 && (verified.size >= MAX_VERIFIED_CACHE_ENTRIES || verifiedBytes + bytes > MAX_VERIFIED_CACHE_BYTES)) {
    forget(verified.keys().next().value as string);
  }
  verified.set(memoKey, { publicKey, message });
  verifiedBytes += bytes;
  assert(verifiedBytes <= MAX_VERIFIED_CACHE_BYTES && verified.size <= MAX_VERIFIED_CACHE_ENTRIES, 'the verification memo stays within its bounds');
}

/** forget removes one memo entry, if present, and its bytes. */
function forget(memoKey: string): void {
  const entry = verified.get(memoKey);
  if (entry === undefined) return;
  verified.delete(memoKey);
  verifiedBytes -= entry.publicKey.byteLength + entry.message.byteLength;
}

/** SignatureCheck is one (public key, message, signature) triple that verification will ask about. */
export interface SignatureCheck {
  readonly publicKey: Uint8Array;
  readonly message: Uint8Array;
  readonly signature: Uint8Array;
}

let backgroundInFlight = 0;

/** counts: verifications answered from the memo, verified natively on the caller's thread, and in the pool. */
const counts = { memoHits: 0, onThread: 0, inBackground: 0 };

/** verificationCounts returns how this process's signature checks were answered so far (for tests and metrics). */
export function verificationCounts(): { readonly memoHits: number; readonly onThread: number; readonly inBackground: number } {
  return { ...counts };
}

/**
 * verifyInBackground runs the same native Ed25519 verification as verifySignature, in Node's thread pool
 * instead of on the caller's thread, and records each triple that verifies in the memo — so that a later
 * verifySignature of the same bytes (the edge check, or apply) is answered at once. It changes no
 * answer: the memo holds only triples this process's native verifier accepted, compared byte for byte,
 * and a check not finished (or not started: more than MAX_BACKGROUND_VERIFICATIONS in flight, malformed
 * input) is simply verified again by verifySignature. The returned promise resolves once every started
 * check finished; it never rejects. Issue #18: a node's main thread carries its API, Raft and apply, so
 * moving verification (a fifth of the leader's CPU per write) to the pool's threads unloads it, and on
 * followers it overlaps with the log's fsync.
 */
export function verifyInBackground(checks: readonly SignatureCheck[]): Promise<void> {
  const started: Array<Promise<void>> = [];
  for (const check of checks) {
    if (backgroundInFlight >= MAX_BACKGROUND_VERIFICATIONS) break;
    if (check.publicKey.length !== PUBLIC_KEY_BYTES || check.signature.length !== SIGNATURE_BYTES) continue;
    const memoKey = toHex(check.signature);
    const memo = verified.get(memoKey);
    if (memo !== undefined && memo.publicKey.equals(check.publicKey) && memo.message.equals(check.message)) continue;
    let key: KeyObject;
    try {
      key = publicKeyObject(check.publicKey);
    } catch {
      continue; // not a curve point: verifySignature answers false without the pool
    }
    // Copies: the pool reads them on another thread, and the memo keeps them.
    const publicKey = copyUnpooled(check.publicKey);
    const message = copyUnpooled(check.message);
    const signature = Buffer.from(check.signature);
    backgroundInFlight += 1;
    counts.inBackground += 1;
    started.push(new Promise<void>((resolve) => {
      verify(null, message, key, signature, (error, ok) => {
        backgroundInFlight -= 1;
        if (error === null && ok) remember(memoKey, publicKey, message);
        resolve();
      });
    }));
  }
  return started.length === 0 ? Promise.resolve() : Promise.all(started).then(() => undefined);
}

/** sha256 hashes bytes. */
export function sha256(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

/** toHex renders bytes as lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** fromHex parses lowercase or uppercase hex of an exact byte length, or returns undefined. */
export function fromHex(hex: string, bytes: number): Uint8Array | undefined {
  if (hex.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(hex)) return undefined;
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
