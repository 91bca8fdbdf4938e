// envelope.ts — building signed commands (signers: the CLI, nodes signing telemetry, tests).
import assert from 'node:assert/strict';
import { encodeBody, encodeSignedCommand } from './codec.js';
import { keyId, signMessage, type KeyPair, type SignerImplementation } from './crypto.js';
import type { CommandBody, SignedCommand } from './types.js';

/**
 * signBody signs already-encoded body bytes with each key pair, in the given order. The same bytes are
 * what every node verifies: nothing is re-encoded after signing.
 */
export function signBody(body: Uint8Array, keyPairs: readonly KeyPair[], implementation: SignerImplementation = 'native'): SignedCommand {
  assert.ok(keyPairs.length > 0, 'signBody needs at least one key pair');
  return {
    body,
    signatures: keyPairs.map((pair) => ({ keyId: keyId(pair.publicKey), sig: signMessage(pair, body, implementation) })),
  };
}

/** signCommand encodes body canonically, signs it with every key pair and returns the envelope bytes. */
export function signCommand(body: CommandBody, keyPairs: readonly KeyPair[], implementation: SignerImplementation = 'native'): Uint8Array {
  return encodeSignedCommand(signBody(encodeBody(body), keyPairs, implementation));
}
