// The backup outcomes a job's lifecycle produces, each written with its event in the caller's
// transaction: verified (backup.completed), verification failed (backup.verification_failed),
// discarded with its canceled job (rows only: such a backup was never announced), deleted
// (backup.deleted, by the API or by retention through @capy/db backup-deletion).
import {
  type Db,
  type DeleteBackupResult,
  type DeletedBackupRow,
  deleteExpiredBackup as deleteExpiredRow,
  deleteIdleBackup as deleteIdleRow,
  type RetentionCandidate,
} from "@capy/db";
import { appendBackupEvent, type Tx } from "./events.js";

/** verification_error of a backup whose job lost its last worker before verifying it. */
export const LOST_BEFORE_VERIFIED = "not verified: the job lost its worker before verification finished, with no attempts left";

/** Records the backup verified; `announce` appends backup.completed (a backup job's own backup). */
export async function recordVerified(tx: Tx, backupId: string, verifiedAt: Date, announce: boolean): Promise<void> {
  const backup = await tx.backup.update({ where: { id: backupId }, data: { verificationState: "verified", verificationError: null, verifiedAt } });
  if (announce) await appendBackupEvent(tx, "backup.completed", backup);
}

/** Records the backup's verification failed, with backup.verification_failed. */
export async function recordVerificationFailed(tx: Tx, backupId: string, reason: string): Promise<void> {
  const backup = await tx.backup.update({ where: { id: backupId }, data: { verificationState: "failed", verificationError: reason, verifiedAt: null } });
  await appendBackupEvent(tx, "backup.verification_failed", backup);
}

/** Marks the job's backup (if it recorded one) as failed verification, when still pending. */
export async function failPendingVerification(tx: Tx, jobId: string, reason: string): Promise<void> {
  const pending = await tx.backup.findFirst({ where: { jobId, verificationState: "pending" }, select: { id: true } });
  if (pending) await recordVerificationFailed(tx, pending.id, reason);
}

/** Deletes the backup rows a job recorded; returns their artifacts' keys (to remove after commit). */
export async function deleteJobBackups(tx: Tx, jobId: string): Promise<string[]> {
  const backups = await tx.backup.findMany({ where: { jobId }, select: { backupKey: true } });
  await tx.backup.deleteMany({ where: { jobId } });
  return backups.map((backup) => backup.backupKey);
}

/** @capy/db's deleteIdleBackup, with backup.deleted in the same transaction. */
export function deleteIdleBackup(db: Db, projectId: string, backupId: string): Promise<DeleteBackupResult> {
  return deleteIdleRow(db, projectId, backupId, announceDeleted);
}

/** @capy/db's deleteExpiredBackup (retention), with backup.deleted in the same transaction. */
export function deleteExpiredBackup(db: Db, candidate: Pick<RetentionCandidate, "id" | "project_id">, now: Date): Promise<DeletedBackupRow | null> {
  return deleteExpiredRow(db, candidate, now, announceDeleted);
}

async function announceDeleted(tx: Tx, row: DeletedBackupRow): Promise<void> {
  await appendBackupEvent(tx, "backup.deleted", {
    id: row.id,
    organizationId: row.organization_id,
    projectId: row.project_id,
    jobId: row.job_id,
    scheduleId: row.schedule_id,
    databaseName: row.database_name,
    label: row.label,
    backupKey: row.backup_key,
    sizeBytes: row.size_bytes,
    sha256: row.sha256,
    state: row.state,
    verificationState: row.verification_state,
    verificationError: row.verification_error,
    verifiedAt: row.verified_at,
    sourceInventory: null,
    createdAt: row.created_at,
    compression: row.compression,
    compressionLevel: row.compression_level,
    archiveFormat: row.archive_format,
    storedEncoding: row.stored_encoding,
    archiveSizeBytes: row.archive_size_bytes,
    encryption: row.encryption,
    encryptionKeyId: row.encryption_key_id,
  });
}
