// Re-verifying a backup on request: a `verify` job row naming the backup, then its BullMQ job.
// The worker restores the stored artifact into a throwaway database and compares it with the
// source inventory recorded when the backup was taken.
import type { Job, Project } from "@capy/db";
import { AppError } from "../errors.js";
import { type CreateJobDeps, createJob } from "./jobs.js";

/**
 * Records a pending verify job for one of the project's backups and enqueues it. An unknown
 * backup, or one of another project, is a 404 like any resource the caller may not see.
 */
export async function requestVerification(deps: CreateJobDeps, project: Project, backupId: string): Promise<Job> {
  const backup = await deps.db.backup.findFirst({ where: { id: backupId, projectId: project.id } });
  if (!backup) throw new AppError("NOT_FOUND", "backup not found");
  if (backup.state !== "completed") throw new AppError("CONFLICT", `backup has no artifact to verify (state: ${backup.state})`);
  return createJob(deps, {
    type: "verify",
    organizationId: project.organizationId,
    projectId: project.id,
    clusterId: project.clusterId,
    databaseName: backup.databaseName,
    backupId: backup.id,
  });
}
