// Job, Backup and PreviewDatabase rows (camelCase, Date, BigInt) to their public snake_case shapes: ISO-8601 UTC
// strings, absent values as null. The API serves these, and events carry them as `data`, so an
// event holds exactly what a client polling the API would have read at that moment.
import {
  type Backup,
  isoTimestamp,
  isoTimestampOrNull,
  type Job,
  type JobState,
  type JobType,
  type PreviewDatabase,
  type RetryClassification,
  type VerificationState,
} from "@capy/contracts";
import type { BackupView as BackupRow, JobView as JobRow, PreviewDatabase as PreviewRow } from "@capy/db";

export function serializeJob(job: JobRow): Job {
  return {
    id: job.id,
    type: job.type as JobType,
    state: job.state as JobState,
    attempts: job.attempts,
    max_attempts: job.maxAttempts,
    claimed_at: isoTimestampOrNull(job.claimedAt),
    claimed_by: job.claimedBy,
    cluster_id: job.clusterId,
    locked_resource: job.lockedResource,
    preview_database_id: job.previewDatabaseId,
    retry_classification: job.retryClassification as RetryClassification | null,
    last_exit_code: job.lastExitCode,
    last_stdout: job.lastStdout,
    last_stderr: job.lastStderr,
    error: job.error,
    started_at: isoTimestampOrNull(job.startedAt),
    completed_at: isoTimestampOrNull(job.completedAt),
    organization_id: job.organizationId,
    project_id: job.projectId,
    created_at: isoTimestamp(job.createdAt),
    updated_at: isoTimestamp(job.updatedAt),
    phase: (job.phase as Job["phase"]) ?? null,
    progress_bytes: job.progressBytes === null ? null : Number(job.progressBytes),
  };
}

export function serializeBackup(backup: BackupRow): Backup {
  return {
    id: backup.id,
    project_id: backup.projectId,
    database_name: backup.databaseName,
    label: backup.label,
    backup_key: backup.backupKey,
    // Exact up to 2^53 bytes (8 PiB), far beyond any single dump.
    size_bytes: Number(backup.sizeBytes),
    compression: backup.compression as Backup["compression"],
    archive_format: backup.archiveFormat as Backup["archive_format"],
    stored_encoding: backup.storedEncoding as Backup["stored_encoding"],
    encryption: (backup.encryption as Backup["encryption"]) ?? null,
    encryption_key_id: backup.encryptionKeyId ?? null,
    state: backup.state as Backup["state"],
    verification_state: backup.verificationState as VerificationState,
    verification_error: backup.verificationError,
    verified_at: isoTimestampOrNull(backup.verifiedAt),
    created_at: isoTimestamp(backup.createdAt),
  };
}

export function serializePreview(preview: PreviewRow): PreviewDatabase {
  return {
    id: preview.id,
    organization_id: preview.organizationId,
    project_id: preview.projectId,
    name: preview.name,
    database_name: preview.databaseName,
    source_kind: preview.sourceKind as PreviewDatabase["source_kind"],
    source_backup_id: preview.sourceBackupId,
    source_backup_key: preview.sourceBackupKey,
    state: preview.state as PreviewDatabase["state"],
    ttl_expires_at: isoTimestamp(preview.ttlExpiresAt),
    created_at: isoTimestamp(preview.createdAt),
    updated_at: isoTimestamp(preview.updatedAt),
  };
}
