// The projects a principal may see: its organization's, or only its own for a project key.
import type { Db, Project } from "@capy/db";
import type { Principal } from "../auth/principal.js";

export function listVisibleProjects(db: Db, principal: Principal): Promise<Project[]> {
  const where =
    principal.projectId === null ? { organizationId: principal.organizationId } : { organizationId: principal.organizationId, id: principal.projectId };
  return db.project.findMany({ where, orderBy: [{ name: "asc" }, { id: "asc" }] });
}
