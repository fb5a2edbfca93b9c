// API key management for an organization: listing, creating (the plaintext is returned once and
// never stored) and revoking. Keys are minted by @capy/db's createApiKey/revokeApiKey.
import { PROJECT_SCOPES, type Scope } from "@capy/contracts";
import { type ApiKey, createApiKey, type Db, revokeApiKey, TenantError } from "@capy/db";
import { findAccessibleProject } from "../auth/access.js";
import type { Principal } from "../auth/principal.js";
import type { TenancyLookup } from "../auth/tenancy-cache.js";
import { AppError } from "../errors.js";

/**
 * The organization a request names, when the principal may manage it. Another organization's id
 * is answered exactly like an unknown one (404). Project-scoped keys never manage organization
 * resources (they cannot hold the scopes either; this is the second lock).
 */
export function requireOrganization(principal: Principal, organizationId: string): string {
  if (principal.organizationId !== organizationId) throw new AppError("NOT_FOUND", "organization not found");
  if (principal.projectId !== null) throw new AppError("FORBIDDEN", "project-scoped keys cannot manage organization resources");
  return organizationId;
}

export function listApiKeys(db: Db, organizationId: string): Promise<ApiKey[]> {
  return db.apiKey.findMany({ where: { organizationId }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
}

export interface NewApiKey {
  name: string;
  scopes: Scope[];
  projectId: string | null;
  expiresAt: Date | null;
}

export async function createOrganizationApiKey(
  { db, tenancy }: { db: Db; tenancy: TenancyLookup },
  principal: Principal,
  organizationId: string,
  input: NewApiKey,
): Promise<{ key: ApiKey; plaintext: string }> {
  const scopes = [...new Set(input.scopes)];
  if (input.projectId !== null) {
    const forbidden = scopes.filter((scope) => !PROJECT_SCOPES.includes(scope));
    if (forbidden.length > 0) throw new AppError("BAD_REQUEST", `a project-scoped key cannot hold ${forbidden.join(", ")}`);
    await findAccessibleProject(tenancy, principal, input.projectId);
  }
  // No escalation: a caller grants only scopes it holds itself.
  const ungrantable = scopes.filter((scope) => !principal.scopes.includes(scope));
  if (ungrantable.length > 0) throw new AppError("FORBIDDEN", `cannot grant scopes the caller does not hold: ${ungrantable.join(", ")}`);
  if (input.expiresAt !== null && input.expiresAt.getTime() <= Date.now()) throw new AppError("BAD_REQUEST", "expires_at: must be in the future");
  try {
    const created = await createApiKey(db, { organizationId, projectId: input.projectId, name: input.name, scopes, expiresAt: input.expiresAt });
    const key = await db.apiKey.findUniqueOrThrow({ where: { id: created.id } });
    return { key, plaintext: created.plaintext };
  } catch (error) {
    if (error instanceof TenantError) throw new AppError("BAD_REQUEST", error.message, { cause: error });
    throw error;
  }
}

/** Revokes the key (idempotent: revoking a revoked key answers it unchanged). */
export async function revokeOrganizationApiKey(db: Db, organizationId: string, keyId: string): Promise<{ key: ApiKey; revoked: boolean }> {
  const existing = await db.apiKey.findFirst({ where: { id: keyId, organizationId } });
  if (!existing) throw new AppError("NOT_FOUND", "API key not found");
  const revoked = await revokeApiKey(db, existing.id);
  return { key: await db.apiKey.findUniqueOrThrow({ where: { id: existing.id } }), revoked };
}
