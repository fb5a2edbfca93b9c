// Public resource shapes, exactly as the REST API returns them (snake_case; absent values are
// null, never missing). Routers declare these as .output(), so the OpenAPI document and the
// responses cannot drift apart.
import { z } from "zod";
import { Timestamp as timestamp } from "./timestamp.js";

const nullableTimestamp = timestamp.nullable();

export const JOB_TYPES = ["backup", "verify", "restore"] as const;
export const JobType = z.enum(JOB_TYPES);
export type JobType = z.infer<typeof JobType>;

export const JOB_STATES = ["pending", "running", "completed", "failed", "canceled"] as const;
export const JobState = z.enum(JOB_STATES);
export type JobState = z.infer<typeof JobState>;
export const TERMINAL_JOB_STATES: readonly JobState[] = ["completed", "failed", "canceled"];

export const RETRY_CLASSIFICATIONS = ["transient", "permanent", "worker_lost", "timeout", "verification", "canceled"] as const;
export const RetryClassification = z.enum(RETRY_CLASSIFICATIONS);
export type RetryClassification = z.infer<typeof RetryClassification>;

export const VERIFICATION_STATES = ["pending", "verified", "failed"] as const;
export const VerificationState = z.enum(VERIFICATION_STATES);
export type VerificationState = z.infer<typeof VerificationState>;

/** The compression algorithm of a backup's artifact (inside the archive or around it). */
export const COMPRESSIONS = ["zstd", "gzip", "none"] as const;
export const Compression = z.enum(COMPRESSIONS);
/** pg_dump's archive format; "custom" is `pg_dump -Fc`, what pg_restore reads. */
export const ARCHIVE_FORMATS = ["custom"] as const;
export const ArchiveFormat = z.enum(ARCHIVE_FORMATS);
/**
 * What wraps the archive in storage: "identity" (the stored bytes are the archive, compressed
 * inside by pg_dump if at all) or "zstd" (one zstd stream of an uncompressed archive).
 */
export const STORED_ENCODINGS = ["identity", "zstd"] as const;
export const StoredEncoding = z.enum(STORED_ENCODINGS);
/**
 * What encrypts the stored bytes, around the stored encoding: "age" (age-encryption.org v1, to
 * the project's platform key and its customer recipients); null for artifacts made before
 * encryption, or with BACKUP_ENCRYPTION=none.
 */
export const ENCRYPTIONS = ["age"] as const;
export const Encryption = z.enum(ENCRYPTIONS);

export const BACKUP_STATES = ["completed", "failed"] as const;
export const BackupState = z.enum(BACKUP_STATES);

export const JOB_PHASES = ["queued", "dumping", "verifying", "restoring", "done"] as const;
export const JobPhase = z.enum(JOB_PHASES);

export const Job = z
  .object({
    id: z.string(),
    type: JobType,
    state: JobState,
    attempts: z.number().int(),
    max_attempts: z.number().int(),
    claimed_at: nullableTimestamp,
    claimed_by: z.string().nullable(),
    cluster_id: z.string(),
    locked_resource: z.string(),
    preview_database_id: z.string().nullable(),
    retry_classification: RetryClassification.nullable(),
    last_exit_code: z.number().int().nullable(),
    last_stdout: z.string().nullable(),
    last_stderr: z.string().nullable(),
    error: z.string().nullable(),
    started_at: nullableTimestamp,
    completed_at: nullableTimestamp,
    organization_id: z.string(),
    project_id: z.string(),
    created_at: timestamp,
    updated_at: timestamp,
    // Beyond the platform's Job shape: live progress for pollers (the capy CLI's --wait).
    phase: JobPhase.nullable().describe("queued | dumping | verifying | restoring | done"),
    progress_bytes: z.number().int().nullable().describe("Bytes of the artifact written (backup) or read (restore) so far by the running attempt"),
  })
  .meta({ id: "Job" });
export type Job = z.infer<typeof Job>;

export const Backup = z
  .object({
    id: z.string(),
    project_id: z.string(),
    database_name: z.string(),
    label: z.string().nullable(),
    backup_key: z.string(),
    size_bytes: z.number().int().describe("Artifact size in bytes, as stored"),
    compression: Compression.describe("zstd | gzip | none: how the artifact is compressed"),
    archive_format: ArchiveFormat.describe("pg_dump's archive format: custom (pg_dump -Fc, read by pg_restore)"),
    stored_encoding: StoredEncoding.describe(
      "identity: the stored bytes are the archive itself; zstd: a zstd stream of the archive. A download gives the archive either way (decompressed on the fly) unless ?encoding=stored",
    ),
    encryption: Encryption.nullable().describe(
      "age: the stored bytes are an age-encrypted stream of the stored encoding (e.g. a .dump.zst.age), decryptable by the project's platform key and every customer recipient it was made for; null: not encrypted (older artifacts)",
    ),
    encryption_key_id: z.string().nullable().describe("The project's platform encryption key (key_…) the artifact was encrypted to; null when not encrypted"),
    state: BackupState,
    verification_state: VerificationState,
    verification_error: z.string().nullable(),
    verified_at: nullableTimestamp,
    created_at: timestamp,
  })
  .meta({ id: "Backup" });
export type Backup = z.infer<typeof Backup>;

export const ScheduledBackup = z
  .object({
    id: z.string(),
    organization_id: z.string(),
    project_id: z.string(),
    label: z.string().nullable(),
    cron_hour: z.number().int(),
    cron_minute: z.number().int(),
    is_active: z.boolean(),
    retention_days: z.number().int(),
    last_job_id: z.string().nullable(),
    last_run_at: nullableTimestamp,
    created_at: timestamp,
    updated_at: timestamp,
    next_run_at: nullableTimestamp.describe("When the schedule fires next (UTC); null when inactive"),
  })
  .meta({ id: "ScheduledBackup" });
export type ScheduledBackup = z.infer<typeof ScheduledBackup>;

export const Project = z
  .object({
    id: z.string(),
    organization_id: z.string(),
    name: z.string(),
    database_name: z.string(),
    created_at: timestamp,
  })
  .meta({ id: "Project" });
export type Project = z.infer<typeof Project>;

export const ErrorBody = z.object({ error: z.string() }).meta({ id: "Error" });
export type ErrorBody = z.infer<typeof ErrorBody>;
