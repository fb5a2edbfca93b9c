// Tenancy: what a principal may see. A resource of another organization, or of another project
// for a project-scoped key, is answered exactly like one that does not exist (404, same
// message), so ids of other tenants can never be confirmed.
import type { Db, Project } from "@capy/db";
import { AppError } from "../errors.js";
import type { Principal } from "./principal.js";

/** Prisma `where` fragment restricting rows with organization_id/project_id to the principal. */
export function tenantScope(principal: Principal): { organizationId: string; projectId?: string } {
  return principal.projectId === null
    ? { organizationId: principal.organizationId }
    : { organizationId: principal.organizationId, projectId: principal.projectId };
}

export async function findAccessibleProject(db: Db, principal: Principal, projectId: string): Promise<Project> {
  const visible = principal.projectId === null || principal.projectId === projectId;
  const project = visible
    ? await db.project.findFirst({ where: { id: projectId, organizationId: principal.organizationId } })
    : null;
  if (!project) throw new AppError("NOT_FOUND", "project not found");
  return project;
}
