// Re-verifying a backup on request: a `verify` job row naming the backup, then its BullMQ job.
// The worker restores the stored artifact into a throwaway database and compares it with the
// source inventory recorded when the backup was taken.
import type { Job, Project } from "@capy/db";
import { enqueueJob, insertJobRow } from "@capy/queue";
import { AppError } from "../errors.js";
import { withTimeout } from "../timeout.js";
import type { RequestBackupDeps } from "./backups.js";

/** How long a request waits for Redis to accept a job before leaving it to the reconciler (ms). */
const ENQUEUE_TIMEOUT_MS = 2_000;

/**
 * Records a pending verify job for one of the project's backups and enqueues it. An unknown
 * backup, or one of another project, is a 404 like any resource the caller may not see.
 */
export async function requestVerification({ db, queue, log }: RequestBackupDeps, project: Project, backupId: string): Promise<Job> {
  const backup = await db.backup.findFirst({ where: { id: backupId, projectId: project.id } });
  if (!backup) throw new AppError("NOT_FOUND", "backup not found");
  if (backup.state !== "completed") throw new AppError("CONFLICT", `backup has no artifact to verify (state: ${backup.state})`);
  const job = await insertJobRow(db, {
    type: "verify",
    organizationId: project.organizationId,
    projectId: project.id,
    clusterId: project.clusterId,
    databaseName: backup.databaseName,
    backupId: backup.id,
  });
  try {
    await withTimeout(enqueueJob(queue, job), ENQUEUE_TIMEOUT_MS, "enqueue");
  } catch (err) {
    log.warn({ err, jobId: job.id }, "enqueue failed; the job stays pending for the reconciler");
  }
  return job;
}
