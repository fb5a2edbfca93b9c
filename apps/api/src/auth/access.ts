// Tenancy: what a principal may see. A resource of another organization, or of another project
// for a project-scoped key, is answered exactly like one that does not exist (404, same
// message), so ids of other tenants can never be confirmed.
import type { Project } from "@capy/db";
import { AppError } from "../errors.js";
import type { Principal } from "./principal.js";
import type { TenancyLookup } from "./tenancy-cache.js";

/** Prisma `where` fragment restricting rows with organization_id/project_id to the principal. */
export function tenantScope(principal: Principal): { organizationId: string; projectId?: string } {
  return principal.projectId === null
    ? { organizationId: principal.organizationId }
    : { organizationId: principal.organizationId, projectId: principal.projectId };
}

/** Whether a row with organization_id/project_id is the principal's (tenantScope, in memory). */
export function isVisible(principal: Principal, row: { organizationId: string; projectId: string | null }): boolean {
  return row.organizationId === principal.organizationId && (principal.projectId === null || row.projectId === principal.projectId);
}

/** `tenancy`: the process's tenancy cache (projects as Postgres last notified them). */
export async function findAccessibleProject(tenancy: TenancyLookup, principal: Principal, projectId: string): Promise<Project> {
  const visible = principal.projectId === null || principal.projectId === projectId;
  const project = visible ? await tenancy.project(projectId) : null;
  if (!project || project.organizationId !== principal.organizationId) throw new AppError("NOT_FOUND", "project not found");
  return project;
}
