// Reading jobs. Rows are written by insertJobRow (API) and by workers.
import type { Db, Job, Project } from "@capy/db";
import { tenantScope } from "../auth/access.js";
import type { Principal } from "../auth/principal.js";
import { AppError } from "../errors.js";

/** Newest first; ids are ULIDs, so they break ties between equal timestamps. */
export function listJobs(db: Db, project: Project, limit: number): Promise<Job[]> {
  return db.job.findMany({
    where: { projectId: project.id },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: limit,
  });
}

export async function getJob(db: Db, principal: Principal, jobId: string): Promise<Job> {
  const job = await db.job.findFirst({ where: { id: jobId, ...tenantScope(principal) } });
  if (!job) throw new AppError("NOT_FOUND", "job not found");
  return job;
}
