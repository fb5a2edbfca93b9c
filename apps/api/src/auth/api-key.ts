// API-key authentication: `Authorization: Bearer capy_live_…` or `X-API-Key: capy_live_…`.
// Only the SHA-256 of a key is stored, so the lookup is by hash; malformed keys (wrong shape or
// checksum) are rejected before touching the database.
import type { IncomingHttpHeaders } from "node:http";
import { SCOPES, type Scope } from "@capy/contracts";
import { hashApiKey, isWellFormedApiKey, type Db } from "@capy/db";
import { AppError } from "../errors.js";
import type { Principal } from "./principal.js";

/** `last_used_at` is written at most this often per key (ms): a hint, not a write per request. */
export const LAST_USED_RESOLUTION_MS = 60_000;

const unauthorized = (message: string) => new AppError("UNAUTHORIZED", message);

/** The presented key, from Authorization (preferred) or X-API-Key. */
export function readApiKey(headers: IncomingHttpHeaders): string {
  const authorization = headers.authorization;
  if (authorization !== undefined) {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!bearer?.[1]) throw unauthorized('Authorization header must be "Bearer <API key>"');
    return bearer[1];
  }
  const apiKey = headers["x-api-key"];
  if (typeof apiKey === "string" && apiKey.trim() !== "") return apiKey.trim();
  throw unauthorized("missing API key: send Authorization: Bearer <key> or X-API-Key: <key>");
}

const isScope = (value: string): value is Scope => (SCOPES as readonly string[]).includes(value);

export async function authenticateApiKey(db: Db, headers: IncomingHttpHeaders, now = new Date()): Promise<Principal> {
  const presented = readApiKey(headers);
  if (!isWellFormedApiKey(presented)) throw unauthorized("invalid API key");
  const key = await db.apiKey.findUnique({ where: { keyHash: hashApiKey(presented) } });
  if (!key) throw unauthorized("invalid API key");
  if (key.revokedAt) throw unauthorized("API key has been revoked");
  if (key.expiresAt && key.expiresAt <= now) throw unauthorized("API key has expired");

  const cutoff = new Date(now.getTime() - LAST_USED_RESOLUTION_MS);
  if (!key.lastUsedAt || key.lastUsedAt < cutoff) {
    // Conditional, so concurrent requests and other API processes write it once per interval.
    await db.apiKey.updateMany({
      where: { id: key.id, OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: cutoff } }] },
      data: { lastUsedAt: now },
    });
  }

  return {
    source: "api_key",
    keyId: key.id,
    userId: null,
    role: null,
    organizationId: key.organizationId,
    projectId: key.projectId,
    // Scopes unknown to this build (newer rows) grant nothing here.
    scopes: key.scopes.filter(isScope),
  };
}
