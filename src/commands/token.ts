// token.ts — read tokens for the API (docs/api.md "Authentication"): a compact JWS (RFC 7515) with
// EdDSA over Ed25519 (RFC 8037), signed by a key that holds a role (root, admin or viewer) in the
// domains the token names, verified by every node against its replicated trust store. No auth server.
//
// Format, checked strictly (anything else is refused with a TokenError naming what and where):
//   header  {"alg":"EdDSA","typ":"JWT","kid":"<32 hex: the signing key's id>"}   (exactly these members)
//   claims  {"aud":"<64 hex: the cluster id>","domains":["home",...] | "*","iat":s,"exp":s[,"nbf":s]}
// Times are Unix seconds. A token lives at most MAX_TOKEN_LIFETIME_S; iat and nbf may lie at most
// TOKEN_CLOCK_SKEW_S in the future. "*" names every domain the key holds a role in at each request.
// Pure: time is an input, nothing here reads a clock.
import { keyIdHex, signMessage, verifySignature, type KeyPair } from './crypto.js';
import { IDENTIFIER } from './constants.js';

/** MAX_TOKEN_CHARS bounds a token (a header, claims naming MAX_TOKEN_DOMAINS domains, a signature). */
export const MAX_TOKEN_CHARS = 4096;
/** MAX_TOKEN_DOMAINS bounds the domains one token names. */
export const MAX_TOKEN_DOMAINS = 64;
/** MAX_TOKEN_LIFETIME_S bounds exp - iat: a token is short-lived (24 h). */
export const MAX_TOKEN_LIFETIME_S = 24 * 3600;
/** TOKEN_CLOCK_SKEW_S is how far the signer's clock may be ahead of or behind the node's. */
export const TOKEN_CLOCK_SKEW_S = 60;
/** ALL_DOMAINS is the `domains` claim naming every domain the signing key holds a role in. */
export const ALL_DOMAINS = '*';

/** TokenErrorCode names every way a token is refused; `status` says 401 (who?) or 403 (not this). */
export type TokenErrorCode =
  | 'missing' | 'oversized' | 'malformed' | 'bad_header' | 'bad_claims' | 'wrong_cluster' | 'bad_signature'
  | 'expired' | 'not_yet_valid' | 'future_dated' | 'lifetime_too_long' | 'unknown_key' | 'role_not_allowed' | 'wrong_domain';

/** TokenError is a refused token: a stable code, the HTTP status it maps to, and a precise message. */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  readonly code: TokenErrorCode;
  readonly status: 401 | 403;
  constructor(code: TokenErrorCode, message: string) {
    super(message);
    this.code = code;
    this.status = code === 'wrong_domain' || code === 'role_not_allowed' ? 403 : 401;
  }
}

/** TokenClaims are what a token says: for which cluster, which domains, and when it is valid. */
export interface TokenClaims {
  aud: string;
  domains: readonly string[] | typeof ALL_DOMAINS;
  iat: number;
  exp: number;
  nbf?: number;
}

/** TokenReader is a key as token verification sees it: its role and the domains it may read. */
export interface TokenReader {
  role: 'root' | 'admin' | 'viewer' | 'node';
  publicKey: Uint8Array;
  /** domains: every domain for root ('all'), the domains it holds a role in otherwise (none for a node). */
  domains: 'all' | ReadonlySet<string>;
}

/** TokenTrust is the part of the replicated trust store that verification reads. */
export interface TokenTrust {
  /** clusterId is the cluster's id, hex. */
  clusterId: string;
  /** reader looks a key up by its hex id; undefined when no key has it (never registered, or revoked). */
  reader(keyIdHex: string): TokenReader | undefined;
}

/** ReadGrant is what a verified token allows: the signing key, its role, the domains it may read, and until when. */
export interface ReadGrant {
  keyId: string;
  role: 'root' | 'admin' | 'viewer';
  /** domains: 'all' for a root key asking for every domain; otherwise the domains the token may read. */
  domains: 'all' | ReadonlySet<string>;
  expiresAtMs: number;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function base64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

/** createToken signs a token with `pair` for the cluster `clusterIdHex`, valid from `nowMs` for `ttlS` seconds. */
export function createToken(pair: KeyPair, clusterIdHex: string, domains: readonly string[] | typeof ALL_DOMAINS, nowMs: number, ttlS: number): string {
  if (!Number.isSafeInteger(ttlS) || ttlS < 1 || ttlS > MAX_TOKEN_LIFETIME_S) {
    throw new TokenError('lifetime_too_long', `token lifetime: expected 1..${MAX_TOKEN_LIFETIME_S} s, found ${ttlS}`);
  }
  const iat = Math.floor(nowMs / 1000);
  const header = { alg: 'EdDSA', typ: 'JWT', kid: keyIdHex(pair.publicKey) };
  const claims: TokenClaims = { aud: clusterIdHex, domains: domains === ALL_DOMAINS ? ALL_DOMAINS : [...domains], iat, exp: iat + ttlS };
  checkDomains(claims.domains);
  const signingInput = `${base64url(Buffer.from(JSON.stringify(header)))}.${base64url(Buffer.from(JSON.stringify(claims)))}`;
  return `${signingInput}.${base64url(signMessage(pair, Buffer.from(signingInput, 'ascii')))}`;
}

/** decodePart decodes one base64url part strictly (no padding, canonical) into bytes. */
function decodePart(part: string, name: string): Buffer {
  if (!BASE64URL.test(part)) throw new TokenError('malformed', `token ${name}: expected unpadded base64url, found other characters`);
  const bytes = Buffer.from(part, 'base64url');
  if (bytes.toString('base64url') !== part) throw new TokenError('malformed', `token ${name}: base64url is not canonical`);
  return bytes;
}

function parseJsonObject(bytes: Buffer, name: string, code: 'bad_header' | 'bad_claims'): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new TokenError(code, `token ${name}: expected a JSON object, found text that is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new TokenError(code, `token ${name}: expected a JSON object`);
  return value as Record<string, unknown>;
}

function onlyMembers(object: Record<string, unknown>, allowed: readonly string[], name: string, code: 'bad_header' | 'bad_claims'): void {
  const extra = Object.keys(object).filter((key) => !allowed.includes(key));
  if (extra.length > 0) throw new TokenError(code, `token ${name}: unexpected member "${extra[0]!.slice(0, 40)}" (expected only ${allowed.join(', ')})`);
}

function checkDomains(domains: unknown): asserts domains is readonly string[] | typeof ALL_DOMAINS {
  if (domains === ALL_DOMAINS) return;
  if (!Array.isArray(domains) || domains.length === 0 || domains.length > MAX_TOKEN_DOMAINS) {
    throw new TokenError('bad_claims', `token claims.domains: expected "*" or 1..${MAX_TOKEN_DOMAINS} domain names`);
  }
  domains.forEach((domain, i) => {
    if (typeof domain !== 'string' || !IDENTIFIER.test(domain)) throw new TokenError('bad_claims', `token claims.domains[${i}]: expected a domain name`);
  });
  if (new Set(domains).size !== domains.length) throw new TokenError('bad_claims', 'token claims.domains: a domain is named twice');
}

function seconds(claims: Record<string, unknown>, name: string, required: boolean): number | undefined {
  const value = claims[name];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new TokenError('bad_claims', `token claims.${name}: expected Unix seconds (a non-negative integer)`);
  return value;
}

/** ParsedToken is a token whose shape was checked, not yet its signature or its signer. */
interface ParsedToken {
  kid: string;
  claims: TokenClaims;
  signingInput: Buffer;
  signature: Buffer;
}

/** parseToken checks a token's size and shape: three parts, the header, the claims. */
export function parseToken(token: string): ParsedToken {
  if (token.length > MAX_TOKEN_CHARS) throw new TokenError('oversized', `token: expected at most ${MAX_TOKEN_CHARS} characters, found ${token.length}`);
  const parts = token.split('.');
  if (parts.length !== 3) throw new TokenError('malformed', `token: expected three base64url parts separated by ".", found ${parts.length}`);
  const [headerPart, claimsPart, signaturePart] = parts as [string, string, string];
  const header = parseJsonObject(decodePart(headerPart, 'header'), 'header', 'bad_header');
  onlyMembers(header, ['alg', 'typ', 'kid'], 'header', 'bad_header');
  if (header['alg'] !== 'EdDSA') throw new TokenError('bad_header', `token header.alg: expected "EdDSA", found ${JSON.stringify(header['alg'])?.slice(0, 40)}`);
  if (header['typ'] !== 'JWT') throw new TokenError('bad_header', 'token header.typ: expected "JWT"');
  const kid = header['kid'];
  if (typeof kid !== 'string' || !/^[0-9a-f]{32}$/.test(kid)) throw new TokenError('bad_header', 'token header.kid: expected a key id (32 lowercase hex digits)');
  const raw = parseJsonObject(decodePart(claimsPart, 'claims'), 'claims', 'bad_claims');
  onlyMembers(raw, ['aud', 'domains', 'iat', 'exp', 'nbf'], 'claims', 'bad_claims');
  if (typeof raw['aud'] !== 'string' || !/^[0-9a-f]{64}$/.test(raw['aud'])) throw new TokenError('bad_claims', 'token claims.aud: expected a cluster id (64 hex digits)');
  checkDomains(raw['domains']);
  const nbf = seconds(raw, 'nbf', false);
  const claims: TokenClaims = { aud: raw['aud'], domains: raw['domains'], iat: seconds(raw, 'iat', true)!, exp: seconds(raw, 'exp', true)!, ...(nbf === undefined ? {} : { nbf }) };
  const signature = decodePart(signaturePart, 'signature');
  if (signature.length !== 64) throw new TokenError('malformed', `token signature: expected 64 bytes, found ${signature.length}`);
  return { kid, claims, signingInput: Buffer.from(`${headerPart}.${claimsPart}`, 'ascii'), signature };
}

function checkTimes(claims: TokenClaims, nowMs: number): void {
  const now = Math.floor(nowMs / 1000);
  if (claims.exp <= claims.iat) throw new TokenError('bad_claims', `token claims.exp (${claims.exp}) must be after claims.iat (${claims.iat})`);
  if (claims.exp - claims.iat > MAX_TOKEN_LIFETIME_S) {
    throw new TokenError('lifetime_too_long', `token lives ${claims.exp - claims.iat} s (exp - iat), at most ${MAX_TOKEN_LIFETIME_S} s is allowed`);
  }
  if (claims.iat > now + TOKEN_CLOCK_SKEW_S) throw new TokenError('future_dated', `token issued at ${claims.iat}, ${claims.iat - now} s in the future (clock skew allowed: ${TOKEN_CLOCK_SKEW_S} s)`);
  if (claims.nbf !== undefined && claims.nbf > now + TOKEN_CLOCK_SKEW_S) throw new TokenError('not_yet_valid', `token not valid before ${claims.nbf}, now is ${now}`);
  if (now >= claims.exp + TOKEN_CLOCK_SKEW_S) throw new TokenError('expired', `token expired at ${claims.exp}, now is ${now}`);
}

/** grantedDomains is what a token may read: what it names, each held by its key (403 otherwise). */
function grantedDomains(kid: string, reader: TokenReader, named: TokenClaims['domains']): ReadGrant['domains'] {
  if (named === ALL_DOMAINS) return reader.domains;
  if (reader.domains !== 'all') {
    const missing = named.find((domain) => !(reader.domains as ReadonlySet<string>).has(domain));
    if (missing !== undefined) throw new TokenError('wrong_domain', `token names domain "${missing}", in which key ${kid} holds no role`);
  }
  return new Set(named);
}

/**
 * verifyToken checks a token at `nowMs` against the trust store: shape, cluster, signature (native
 * Ed25519 over the received header and claims), times, then that its key holds a role now in every
 * domain it names. A key revoked since the token was signed is unknown, so its tokens stop working at once.
 */
export function verifyToken(token: string, trust: TokenTrust, nowMs: number): ReadGrant {
  const parsed = parseToken(token);
  const { kid, claims } = parsed;
  if (claims.aud !== trust.clusterId) throw new TokenError('wrong_cluster', `token is for cluster ${claims.aud}, this is ${trust.clusterId}`);
  const reader = trust.reader(kid);
  if (reader === undefined) throw new TokenError('unknown_key', `no root, admin or viewer key has id ${kid} (never added, or revoked)`);
  if (!verifySignature(reader.publicKey, parsed.signingInput, parsed.signature)) {
    throw new TokenError('bad_signature', `token signature does not verify with key ${kid}`);
  }
  checkTimes(claims, nowMs);
  if (reader.role === 'node') throw new TokenError('role_not_allowed', `key ${kid} is a node key; read tokens are signed by root, admin or viewer keys`);
  return { keyId: kid, role: reader.role, domains: grantedDomains(kid, reader, claims.domains), expiresAtMs: (claims.exp + TOKEN_CLOCK_SKEW_S) * 1000 };
}

/** grantCovers says whether a grant may read `domain`. */
export function grantCovers(grant: ReadGrant, domain: string): boolean {
  return grant.domains === 'all' || grant.domains.has(domain);
}
