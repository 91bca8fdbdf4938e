// index.ts — the public surface of src/commands: the signed envelope, keys, genesis and verification.
export * from './constants.js';
export { CommandError, type CommandErrorCode } from './errors.js';
export type * from './types.js';
export { encodeBody, decodeBody, encodeSignedCommand, decodeSignedCommand } from './codec.js';
export {
  generateKeyPair, keyPairFromSeed, keyId, keyIdHex, signMessage, verifySignature, verifyInBackground, verificationCounts, verifiedMemoStats, privateKeyObject, sha256, toHex, fromHex,
  type KeyPair, type SignerImplementation, type SignatureCheck,
} from './crypto.js';
export { signBody, signCommand } from './envelope.js';
export { verifyCommand, signatureChecks, rolesFor, type Role, type KeyRecord, type RootSet, type TrustView, type VerifiedCommand } from './verify.js';
export { canonicalJson } from './canonical-json.js';
export {
  createGenesis, parseGenesis, loadGenesis, validateGenesis, genesisBytes, clusterIdOf, GenesisError,
  type Genesis, type GenesisMember, type GenesisErrorCode,
} from './genesis.js';
export {
  ALL_DOMAINS, MAX_TOKEN_CHARS, MAX_TOKEN_DOMAINS, MAX_TOKEN_LIFETIME_S, TOKEN_CLOCK_SKEW_S, TokenError, createToken, grantCovers, parseToken, verifyToken,
  type ReadGrant, type TokenClaims, type TokenErrorCode, type TokenReader, type TokenTrust,
} from './token.js';
