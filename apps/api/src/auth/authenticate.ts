// One entry point for authentication: API keys (Bearer capy_live_… or X-API-Key) and session
// tokens (Bearer <JWT>). A Bearer credential is a session token when it has the shape of a JWT
// and does not start with the API key prefix; anything else is checked as an API key.
import type { IncomingHttpHeaders } from "node:http";
import { API_KEY_PREFIX, type Db } from "@capy/db";
import { createApiKeyAuthenticator, presentedApiKey, presentedKeyHash } from "./api-key.js";
import type { Principal } from "./principal.js";
import { looksLikeJwt, type SessionVerifier } from "./session.js";
import type { TenancyLookup } from "./tenancy-cache.js";

export interface AuthDeps {
  db: Db;
  /** Keys by hash (the process's tenancy cache). */
  tenancy: TenancyLookup;
  verifySession: SessionVerifier;
}

export type Authenticate = (headers: IncomingHttpHeaders) => Promise<Principal>;

/** The Bearer credential, when it is a session token; otherwise undefined. */
export function readSessionToken(headers: IncomingHttpHeaders): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? "")?.[1];
  return bearer !== undefined && !bearer.startsWith(API_KEY_PREFIX) && looksLikeJwt(bearer) ? bearer : undefined;
}

export function createAuthenticator(deps: AuthDeps): Authenticate {
  const authenticateApiKey = createApiKeyAuthenticator(deps.db, deps.tenancy);
  return async (headers) => {
    const token = readSessionToken(headers);
    return token !== undefined ? deps.verifySession(token) : authenticateApiKey(headers);
  };
}

/**
 * The rate-limit bucket of a request, computed before authentication: the session's user (only
 * once its signature verifies), the API key's hash (only when well formed: shape and checksum),
 * else the client address. Never the credential itself, so Redis holds no secret.
 */
export function createRateLimitKeyGenerator(verifySession: SessionVerifier) {
  const forSession = async (token: string, ip: string): Promise<string> => {
    const principal = await verifySession(token).catch(() => undefined);
    return principal ? `user:${principal.organizationId}:${principal.userId}` : `ip:${ip}`;
  };
  // Not async: an API key's bucket is known at once (the rate limiter awaits either).
  return (request: { headers: IncomingHttpHeaders; ip: string }): string | Promise<string> => {
    const token = readSessionToken(request.headers);
    if (token !== undefined) return forSession(token, request.ip);
    const presented = presentedApiKey(request.headers);
    const hash = presented === undefined ? undefined : presentedKeyHash(presented);
    return hash !== undefined ? `key:${hash}` : `ip:${request.ip}`;
  };
}
