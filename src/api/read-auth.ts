// read-auth.ts — who may read what (docs/api.md "Authentication"): every read of domain data carries a
// bearer token (src/commands/token.ts) signed by a key that holds a role in the domains it reads.
//
// One onRequest hook verifies the token of every protected route before the body is parsed (401 when it
// is missing or invalid); routes then call authorizeRead(request, domains) for the domains they serve
// (403 when one is not granted) or filter their lists with grantCovers. Refusals are logged at most once
// per (reason, client address) per REFUSAL_LOG_INTERVAL_MS, with how many were not logged.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TokenError, grantCovers, verifyToken, type ReadGrant, type TokenTrust } from '../commands/index.js';
import { ApiError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** readGrant is the verified read token of this request, null when it carried none. */
    readGrant: ReadGrant | null;
    /** recheckRead verifies the request's token again against the trust store now (long-lived streams). */
    recheckRead: (() => ReadGrant) | null;
  }
}

/** OPEN_ROUTES are the /v1/ routes anyone may call: the node's status without device details, and submissions (signed). */
export const OPEN_ROUTES: ReadonlySet<string> = new Set(['GET /v1/status', 'POST /v1/commands', 'POST /v1/commands/batch']);

/** REFUSAL_LOG_INTERVAL_MS: one log line per (reason, address) in this interval. */
const REFUSAL_LOG_INTERVAL_MS = 60_000;
/** MAX_REFUSAL_LOG_KEYS bounds the (reason, address) pairs remembered for rate limiting. */
const MAX_REFUSAL_LOG_KEYS = 1024;

/** ReadAuthInit is what the hook needs: the trust store at each request, and the clock. */
export interface ReadAuthInit {
  trust: () => TokenTrust;
  nowMs: () => number;
}

/** isProtected says whether a route needs a read token: every /v1/ route but OPEN_ROUTES. */
export function isProtected(method: string, routeUrl: string | undefined): boolean {
  if (routeUrl === undefined || !routeUrl.startsWith('/v1/')) return false;
  return !OPEN_ROUTES.has(`${method} ${routeUrl}`);
}

/** bearerToken extracts the token of an Authorization header ("Bearer TOKEN"), throwing TokenError otherwise. */
function bearerToken(header: string | string[] | undefined): string {
  if (header === undefined || header === '') throw new TokenError('missing', 'expected an Authorization: Bearer TOKEN header (create a token with "qgate token create"), found none');
  const text = Array.isArray(header) ? header.join(',') : header;
  const match = /^Bearer ([^\s,]+)$/i.exec(text);
  if (match === null) throw new TokenError('malformed', 'Authorization: expected "Bearer TOKEN", found another scheme or shape');
  return match[1]!;
}

/** RefusalLog logs refused tokens, rate-limited per reason and client address. */
class RefusalLog {
  private readonly seen = new Map<string, { atMs: number; suppressed: number }>();

  constructor(private readonly nowMs: () => number) {}

  record(request: FastifyRequest, error: TokenError): void {
    const key = `${error.code} ${request.ip}`;
    const now = this.nowMs();
    const last = this.seen.get(key);
    if (last !== undefined && now - last.atMs < REFUSAL_LOG_INTERVAL_MS) {
      last.suppressed += 1;
      return;
    }
    if (this.seen.size >= MAX_REFUSAL_LOG_KEYS) this.seen.clear();
    this.seen.set(key, { atMs: now, suppressed: 0 });
    request.log.warn({ code: error.code, address: request.ip, route: `${request.method} ${request.routeOptions.url ?? '?'}`, notLoggedBefore: last?.suppressed ?? 0 }, `read token refused: ${error.message}`);
  }
}

/** tokenApiError maps a refused token to the API's error catalogue. */
function tokenApiError(error: TokenError): ApiError {
  return new ApiError(error.status === 403 ? 'FORBIDDEN' : 'UNAUTHENTICATED', `authorization: ${error.message}`, { tokenCode: error.code });
}

/**
 * installReadAuth adds the onRequest hook that verifies read tokens. A protected route without a valid
 * token is answered 401 (403 for a token whose key holds no role in a domain it names) before its body
 * is read; an open route with a token gets its grant too (e.g. /v1/status shows device details).
 */
export function installReadAuth(app: FastifyInstance, init: ReadAuthInit): void {
  const refusals = new RefusalLog(init.nowMs);
  app.decorateRequest('readGrant', null);
  app.decorateRequest('recheckRead', null);
  app.addHook('onRequest', async (request) => {
    const needed = isProtected(request.method, request.routeOptions.url);
    // An empty Authorization header is no header (some clients send one).
    if (!needed && (request.headers.authorization ?? '') === '') return;
    try {
      const token = bearerToken(request.headers.authorization);
      request.readGrant = verifyToken(token, init.trust(), init.nowMs());
      request.recheckRead = () => verifyToken(token, init.trust(), init.nowMs());
    } catch (error) {
      if (!(error instanceof TokenError)) throw error;
      refusals.record(request, error);
      throw tokenApiError(error);
    }
  });
}

/**
 * authorizeRead is the one check a route makes before serving domain data: the request's token must
 * grant every domain in `domains` (none: any valid token). It returns the grant, for filtering lists
 * with grantCovers; it throws ApiError UNAUTHENTICATED (401) or FORBIDDEN (403).
 */
export function authorizeRead(request: FastifyRequest, domains: readonly string[] = []): ReadGrant {
  const grant = request.readGrant;
  if (grant === null) throw new ApiError('UNAUTHENTICATED', 'authorization: expected an Authorization: Bearer TOKEN header, found none', { tokenCode: 'missing' });
  const missing = domains.find((domain) => !grantCovers(grant, domain));
  if (missing !== undefined) {
    throw new ApiError('FORBIDDEN', `authorization: the token of key ${grant.keyId} does not grant domain "${missing}"`, { tokenCode: 'wrong_domain' });
  }
  return grant;
}

/** grantsEvery says whether a grant reads every domain in `all` (the audit export, cluster-wide events). */
export function grantsEvery(grant: ReadGrant, all: readonly string[]): boolean {
  return grant.domains === 'all' || all.every((domain) => grantCovers(grant, domain));
}

export { grantCovers };
