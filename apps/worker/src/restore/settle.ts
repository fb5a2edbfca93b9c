// The preview side of a restore job that ended without completing (failed, canceled, or lost for
// good): its preview is marked `failed` once its database and role are gone. Shared by the
// restore handler, its cancel and lost-worker hooks, and the preview sweep.
import type { Db, PreviewDatabase } from "@capy/db";
import type { Logger } from "../logger.js";
import { loadClusterAdmin } from "../postgres/target.js";
import { cleanUpProjectRestore, dropPreviewDatabase } from "./databases.js";
import { previewAdmin, type ServerLogins } from "./servers.js";

/** Marks the job's preview `failed` when the job ended without completing; true if it did. */
export async function failPreviewOfEndedJob(db: Db, previewId: string, jobId: string): Promise<boolean> {
  const count = await db.$executeRaw`
    UPDATE preview_databases SET state = 'failed', updated_at = now()
     WHERE id = ${previewId} AND job_id = ${jobId} AND state = 'creating'
       AND EXISTS (SELECT 1 FROM jobs WHERE id = ${jobId} AND state IN ('failed', 'canceled'))`;
  return count === 1;
}

/** Drops the preview's database and role where it lives (nothing when it was never placed). */
export async function dropPreview(logins: ServerLogins, preview: PreviewDatabase): Promise<void> {
  const admin = await previewAdmin(logins, preview);
  if (admin) await dropPreviewDatabase(admin, preview.databaseName);
}

/**
 * Removes what a restore job's attempts left (the preview's partial database and role, or a
 * project restore's staging database), then settles the preview if the job has ended.
 */
export async function cleanUpRestore(
  logins: ServerLogins,
  job: { id: string; previewDatabaseId: string | null; projectId: string; clusterId: string },
  log: Logger,
): Promise<void> {
  try {
    if (job.previewDatabaseId) {
      const preview = await logins.db.previewDatabase.findUnique({ where: { id: job.previewDatabaseId } });
      if (preview && preview.jobId === job.id && preview.state === "creating") await dropPreview(logins, preview);
      if (preview) await failPreviewOfEndedJob(logins.db, preview.id, job.id);
    } else {
      const project = await logins.db.project.findUniqueOrThrow({ where: { id: job.projectId } });
      await cleanUpProjectRestore(await loadClusterAdmin(logins.db, job.clusterId, logins.keyring), project.databaseName, job.id);
    }
    log.info({ preview_database_id: job.previewDatabaseId ?? undefined }, "removed what the restore left");
  } catch (error) {
    // The preview sweep retries for ended jobs.
    log.warn({ err: error instanceof Error ? error.message : String(error) }, "could not remove what the restore left; the preview sweep will");
  }
}
