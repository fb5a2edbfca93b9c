// What a backup job that ends without completing must not leave behind. The worker's own paths
// (a canceled attempt, a lost job failed at its next claim) and the job reconciler (a lost job
// whose worker never came back) end jobs in different places; they settle the job's backup the
// same way, here:
// - canceled: the job keeps nothing, neither its backup row nor any artifact or unfinished
//   upload under its storage prefix;
// - failed while its backup was still being verified: the backup row stays (its artifact is
//   complete and was checksummed at dump time) but its verification is recorded as failed, so
//   it never sits `pending` forever (retention and DELETE treat pending as busy).
import type { Db, Prisma } from "@capy/db";
import { jobArtifactPrefix, type ArtifactStorage } from "@capy/storage";
import type { Logger } from "../logger.js";

/** verification_error of a backup whose job lost its last worker before verifying it. */
export const LOST_BEFORE_VERIFIED = "not verified: the job lost its worker before verification finished, with no attempts left";

/** Marks the job's backup (if it recorded one) as failed verification, when still pending. */
export async function failPendingVerification(db: Db, jobId: string, reason: string): Promise<void> {
  await db.backup.updateMany({
    where: { jobId, verificationState: "pending" },
    data: { verificationState: "failed", verificationError: reason, verifiedAt: null },
  });
}

/** Removes every artifact and unfinished upload under the job's storage prefix, plus `recordedKeys` (best effort). */
export async function discardJobArtifacts(
  storage: ArtifactStorage,
  job: { id: string; projectId: string },
  recordedKeys: readonly string[],
  log: Logger,
): Promise<void> {
  const prefix = jobArtifactPrefix(job.projectId, job.id);
  try {
    const keys = new Set(recordedKeys);
    for await (const key of storage.list(prefix)) keys.add(key);
    for (const key of keys) await storage.delete(key);
    await storage.discardIncomplete?.(prefix);
    if (keys.size > 0) log.info({ removed: [...keys] }, "removed the canceled job's artifacts");
  } catch (error) {
    // Nothing refers to them any more; logged so an operator can remove them.
    log.error({ err: error instanceof Error ? error.message : String(error), prefix }, "could not remove the canceled job's artifacts");
  }
}

/** Deletes the backup rows a job recorded; returns their artifacts' keys (for discardJobArtifacts). */
export async function deleteJobBackups(tx: Prisma.TransactionClient, jobId: string): Promise<string[]> {
  const backups = await tx.backup.findMany({ where: { jobId }, select: { backupKey: true } });
  await tx.backup.deleteMany({ where: { jobId } });
  return backups.map((backup) => backup.backupKey);
}

/** Deletes the canceled job's backup rows, then its artifacts. */
export async function discardCanceledBackup(db: Db, storage: ArtifactStorage, job: { id: string; projectId: string }, log: Logger): Promise<void> {
  const keys = await db.$transaction((tx) => deleteJobBackups(tx, job.id));
  await discardJobArtifacts(storage, job, keys, log);
}
