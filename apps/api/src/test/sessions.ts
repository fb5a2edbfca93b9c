// Session tokens for tests: a key pair of a fake identity provider, its public key written where
// the API reads it, and helpers to sign (or forge) tokens.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type CryptoKey, exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";

export const TEST_ISSUER = "https://id.capy.test";
export const TEST_AUDIENCE = "capy-backups";

export interface SessionClaims {
  sub?: string;
  org?: string;
  role?: string;
}

export interface SessionIssuer {
  /** Environment enabling sessions in the API process. */
  env: NodeJS.ProcessEnv;
  sign(
    claims: SessionClaims,
    options?: { expiresIn?: string | number; notBefore?: string | number; issuer?: string; audience?: string; key?: CryptoKey; alg?: string },
  ): Promise<string>;
  /** A key pair the API does not trust. */
  otherKey: CryptoKey;
  cleanup(): Promise<void>;
}

export async function createSessionIssuer(kind: "pem" | "jwks" = "pem", alg: "RS256" | "ES256" = "RS256"): Promise<SessionIssuer> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const other = await generateKeyPair(alg, { extractable: true });
  const dir = await mkdtemp(path.join(os.tmpdir(), "capy-jwt-"));
  let env: NodeJS.ProcessEnv;
  if (kind === "pem") {
    const file = path.join(dir, "public.pem");
    await writeFile(file, await exportSPKI(publicKey));
    env = { CAPY_JWT_PUBLIC_KEY_FILE: file };
  } else {
    const file = path.join(dir, "jwks.json");
    await writeFile(file, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), alg, kid: "test", use: "sig" }] }));
    env = { CAPY_JWT_JWKS_FILE: file };
  }
  env = { ...env, CAPY_JWT_ISSUER: TEST_ISSUER, CAPY_JWT_AUDIENCE: TEST_AUDIENCE };
  return {
    env,
    otherKey: other.privateKey,
    async sign(claims, options = {}) {
      const jwt = new SignJWT({ ...claims })
        .setProtectedHeader({ alg: options.alg ?? alg, kid: "test" })
        .setIssuedAt()
        .setIssuer(options.issuer ?? TEST_ISSUER)
        .setAudience(options.audience ?? TEST_AUDIENCE)
        .setExpirationTime(options.expiresIn ?? "10m");
      if (claims.sub !== undefined) jwt.setSubject(claims.sub);
      if (options.notBefore !== undefined) jwt.setNotBefore(options.notBefore);
      return jwt.sign(options.key ?? privateKey);
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** An unsigned token (`alg: none`) with valid-looking claims. */
export function unsignedToken(claims: SessionClaims): string {
  const now = Math.floor(Date.now() / 1000);
  return `${b64({ alg: "none", typ: "JWT" })}.${b64({ ...claims, iss: TEST_ISSUER, aud: TEST_AUDIENCE, iat: now, exp: now + 600 })}.`;
}
