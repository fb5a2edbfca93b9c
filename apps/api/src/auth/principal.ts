// Who is calling, as every procedure and route sees it once authenticated: an API key, or a user
// holding a session token (JWT) issued by the platform's identity provider.
import { type PrincipalInfo, SCOPES, type Scope, type SessionRole } from "@capy/contracts";
import { AppError } from "../errors.js";

export interface Principal {
  source: "api_key" | "session";
  /** The API key's id (source "api_key"), else null. */
  keyId: string | null;
  /** The session's user id (`sub`, source "session"), else null. */
  userId: string | null;
  role: SessionRole | null;
  organizationId: string;
  /** Set for project-scoped keys: they act on this one project only. Sessions are org-wide. */
  projectId: string | null;
  scopes: readonly Scope[];
}

/** Scopes a session role grants within its organization. */
export const ROLE_SCOPES: Record<SessionRole, readonly Scope[]> = {
  admin: SCOPES,
  member: ["backups:read", "backups:write", "jobs:read", "projects:read"],
};

export function requireScope(principal: Principal, scope: Scope): void {
  if (!principal.scopes.includes(scope)) throw new AppError("FORBIDDEN", `missing scope ${scope}`);
}

/** The actor recorded in audit events. */
export function actorOf(principal: Principal): { actorType: "api_key" | "user"; actorId: string } {
  return principal.source === "api_key" ? { actorType: "api_key", actorId: principal.keyId! } : { actorType: "user", actorId: principal.userId! };
}

export function describePrincipal(principal: Principal): PrincipalInfo {
  return {
    source: principal.source,
    organization_id: principal.organizationId,
    project_id: principal.projectId,
    scopes: [...principal.scopes],
    key_id: principal.keyId,
    user_id: principal.userId,
    role: principal.role,
  };
}
