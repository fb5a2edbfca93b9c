// One entry point for authentication: API keys (Bearer capy_live_… or X-API-Key) and session
// tokens (Bearer <JWT>). A Bearer credential is a session token when it has the shape of a JWT
// and does not start with the API key prefix; anything else is checked as an API key.
import type { IncomingHttpHeaders } from "node:http";
import { API_KEY_PREFIX, type Db, hashApiKey, isWellFormedApiKey } from "@capy/db";
import { createApiKeyAuthenticator, readApiKey } from "./api-key.js";
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
  return async (request: { headers: IncomingHttpHeaders; ip: string }): Promise<string> => {
    const token = readSessionToken(request.headers);
    if (token !== undefined) {
      const principal = await verifySession(token).catch(() => undefined);
      if (principal) return `user:${principal.organizationId}:${principal.userId}`;
    } else {
      let key: string | undefined;
      try {
        key = readApiKey(request.headers);
      } catch {
        key = undefined;
      }
      if (key !== undefined && isWellFormedApiKey(key)) return `key:${hashApiKey(key)}`;
    }
    return `ip:${request.ip}`;
  };
}
