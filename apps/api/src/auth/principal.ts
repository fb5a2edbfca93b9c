// Who is calling, as every procedure and route sees it once authenticated.
import type { Scope } from "@capy/contracts";
import { AppError } from "../errors.js";

export interface Principal {
  source: "api_key";
  keyId: string;
  organizationId: string;
  /** Set for project-scoped keys: they act on this one project only. */
  projectId: string | null;
  scopes: readonly Scope[];
}

export function requireScope(principal: Principal, scope: Scope): void {
  if (!principal.scopes.includes(scope)) throw new AppError("FORBIDDEN", `missing scope ${scope}`);
}
