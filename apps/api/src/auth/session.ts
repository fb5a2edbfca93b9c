// Session tokens: JWTs signed by the platform's identity provider with RS256 or ES256, verified
// locally against a configured public key (PEM SPKI file or local JWKS file), never over the
// network. Claims: sub (user id), org (organization id), role ("admin" | "member").
import { createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { SessionRole } from "@capy/contracts";
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey, errors as joseErrors, jwtVerify } from "jose";
import type { SessionConfig } from "../env.js";
import { AppError } from "../errors.js";
import { type Principal, ROLE_SCOPES } from "./principal.js";

export const SESSION_ALGORITHMS = ["RS256", "ES256"] as const;

/** Verifies a session token; throws AppError UNAUTHORIZED for any invalid one. */
export type SessionVerifier = (token: string) => Promise<Principal>;

/** A compact JWS: three base64url segments (the signature may be empty, as in `alg: none`). */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

const unauthorized = (message: string) => new AppError("UNAUTHORIZED", message);

/** Without configuration every session token is rejected. Key files are read once, here. */
export function createSessionVerifier(config: SessionConfig | undefined): SessionVerifier {
  if (!config) {
    return async () => {
      throw unauthorized("session tokens are not accepted by this server");
    };
  }
  let key: KeyObject | JWTVerifyGetKey;
  let algorithms: string[];
  if (config.publicKeyFile) {
    const publicKey = createPublicKey(readFileSync(config.publicKeyFile, "utf8"));
    key = publicKey;
    // Pin the algorithm to the key's type, so an RSA key can never verify an ES256 token or vice versa.
    algorithms = publicKey.asymmetricKeyType === "ec" ? ["ES256"] : publicKey.asymmetricKeyType === "rsa" ? ["RS256"] : [];
    if (algorithms.length === 0) throw new Error(`CAPY_JWT_PUBLIC_KEY_FILE: unsupported key type ${publicKey.asymmetricKeyType}`);
  } else {
    key = createLocalJWKSet(JSON.parse(readFileSync(config.jwksFile!, "utf8")) as JSONWebKeySet);
    algorithms = [...SESSION_ALGORITHMS];
  }

  return async (token) => {
    let payload;
    try {
      const options = { algorithms, issuer: config.issuer, audience: config.audience, requiredClaims: ["sub", "exp"], clockTolerance: 5 };
      ({ payload } = typeof key === "function" ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw unauthorized("session token has expired");
      throw unauthorized("invalid session token");
    }
    const role = SessionRole.safeParse(payload.role);
    if (typeof payload.sub !== "string" || payload.sub === "" || typeof payload.org !== "string" || payload.org === "" || !role.success) {
      throw unauthorized("invalid session token");
    }
    return {
      source: "session",
      keyId: null,
      userId: payload.sub,
      role: role.data,
      organizationId: payload.org,
      projectId: null,
      scopes: ROLE_SCOPES[role.data],
    };
  };
}
