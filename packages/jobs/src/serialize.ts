// Job and Backup rows (camelCase, Date, BigInt) to their public snake_case shapes: ISO-8601 UTC
// strings, absent values as null. The API serves these, and events carry them as `data`, so an
// event holds exactly what a client polling the API would have read at that moment.
import type { Backup, Job, JobState, JobType, RetryClassification, VerificationState } from "@capy/contracts";
import type { Backup as BackupRow, Job as JobRow } from "@capy/db";

const iso = (date: Date): string => date.toISOString();
const isoOrNull = (date: Date | null): string | null => (date ? date.toISOString() : null);

export function serializeJob(job: JobRow): Job {
  return {
    id: job.id,
    type: job.type as JobType,
    state: job.state as JobState,
    attempts: job.attempts,
    max_attempts: job.maxAttempts,
    claimed_at: isoOrNull(job.claimedAt),
    claimed_by: job.claimedBy,
    cluster_id: job.clusterId,
    locked_resource: job.lockedResource,
    preview_database_id: job.previewDatabaseId,
    retry_classification: job.retryClassification as RetryClassification | null,
    last_exit_code: job.lastExitCode,
    last_stdout: job.lastStdout,
    last_stderr: job.lastStderr,
    error: job.error,
    started_at: isoOrNull(job.startedAt),
    completed_at: isoOrNull(job.completedAt),
    organization_id: job.organizationId,
    project_id: job.projectId,
    created_at: iso(job.createdAt),
    updated_at: iso(job.updatedAt),
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
    state: backup.state as Backup["state"],
    verification_state: backup.verificationState as VerificationState,
    verification_error: backup.verificationError,
    verified_at: isoOrNull(backup.verifiedAt),
    created_at: iso(backup.createdAt),
  };
}
