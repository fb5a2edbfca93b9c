// Hot-path reads as parameterised SQL on the pool under Prisma's adapter (Db.pool), answering
// the same model types Prisma would. Why: each Prisma call cost ~1-2 ms of CPU in the API
// (client runtime, query-plan compilation, result mapping; $queryRaw included), the same
// statement on the pg pool ~50-100 µs (bench/api-throughput/query-cost.mjs). Prisma stays the
// data layer for everything else, every write included; these are plain reads of one table.
// - Each model's columns are listed once (`satisfies` makes the compiler insist on every field,
//   so a new column fails the build here until it is mapped).
// - Named statements: Postgres parses and plans each once per connection.
// - Values come back as Prisma gives them: timestamptz as Date, int8 as bigint, jsonb parsed,
//   text[] as arrays.
import pg from "pg";
import type { Db } from "./client.js";
import type { Backup, Job, ScheduledBackup } from "./generated/prisma/client.js";

type ColumnsOf<T> = { readonly [K in keyof Required<T>]: string };

const INT8_OID = 20;

/** pg's parsers, except int8 as bigint (Prisma's BigInt) instead of a string. */
const types = {
  getTypeParser: (oid: number, format?: "text" | "binary") =>
    oid === INT8_OID ? (value: string) => BigInt(value) : pg.types.getTypeParser(oid, format as "text"),
};

/** A model's rows from `SELECT <its columns> FROM <table> …`, values in column order. */
class ModelTable<T> {
  readonly #fields: readonly string[];
  /** `col_a, col_b, …` in field order. */
  readonly columns: string;

  constructor(
    readonly table: string,
    columns: ColumnsOf<T>,
  ) {
    this.#fields = Object.keys(columns);
    this.columns = Object.values<string>(columns).join(", ");
  }

  /** Runs the named statement `name` (`SELECT <columns> FROM <table> <rest>`) and maps its rows. */
  async read(db: Db, name: string, rest: string, values: readonly unknown[]): Promise<T[]> {
    const text = `SELECT ${this.columns} FROM ${this.table} ${rest}`;
    const result = await db.pool.query<unknown[]>({ name: `capy_${name}`, text, values: values as unknown[], rowMode: "array", types });
    return result.rows.map((row) => this.#toModel(row));
  }

  #toModel(row: readonly unknown[]): T {
    const model: Record<string, unknown> = {};
    for (let i = 0; i < this.#fields.length; i++) model[this.#fields[i]!] = row[i];
    return model as T;
  }
}

const backups = new ModelTable<Backup>("backups", {
  id: "id",
  organizationId: "organization_id",
  projectId: "project_id",
  jobId: "job_id",
  scheduleId: "schedule_id",
  databaseName: "database_name",
  label: "label",
  backupKey: "backup_key",
  sizeBytes: "size_bytes",
  sha256: "sha256",
  compression: "compression",
  compressionLevel: "compression_level",
  archiveFormat: "archive_format",
  storedEncoding: "stored_encoding",
  archiveSizeBytes: "archive_size_bytes",
  state: "state",
  verificationState: "verification_state",
  verificationError: "verification_error",
  verifiedAt: "verified_at",
  sourceInventory: "source_inventory",
  createdAt: "created_at",
});

const jobs = new ModelTable<Job>("jobs", {
  id: "id",
  type: "type",
  state: "state",
  attempts: "attempts",
  maxAttempts: "max_attempts",
  claimedAt: "claimed_at",
  claimedBy: "claimed_by",
  clusterId: "cluster_id",
  lockedResource: "locked_resource",
  previewDatabaseId: "preview_database_id",
  retryClassification: "retry_classification",
  lastExitCode: "last_exit_code",
  lastStdout: "last_stdout",
  lastStderr: "last_stderr",
  error: "error",
  startedAt: "started_at",
  completedAt: "completed_at",
  organizationId: "organization_id",
  projectId: "project_id",
  createdAt: "created_at",
  updatedAt: "updated_at",
  label: "label",
  backupId: "backup_id",
  scheduleId: "schedule_id",
  dueAt: "due_at",
  fencingToken: "fencing_token",
  heartbeatAt: "heartbeat_at",
  phase: "phase",
  progressBytes: "progress_bytes",
  idempotencyKey: "idempotency_key",
  cancelRequestedAt: "cancel_requested_at",
  payload: "payload",
});

const schedules = new ModelTable<ScheduledBackup>("scheduled_backups", {
  id: "id",
  organizationId: "organization_id",
  projectId: "project_id",
  name: "name",
  label: "label",
  cronHour: "cron_hour",
  cronMinute: "cron_minute",
  isActive: "is_active",
  retentionDays: "retention_days",
  lastJobId: "last_job_id",
  lastRunAt: "last_run_at",
  createdAt: "created_at",
  updatedAt: "updated_at",
  timingSince: "timing_since",
});

/** The project's backups, newest first (ids are ULIDs: they break ties between equal times). */
export function readProjectBackups(db: Db, projectId: string): Promise<Backup[]> {
  return backups.read(db, "project_backups", "WHERE project_id = $1 ORDER BY created_at DESC, id DESC", [projectId]);
}

/** The project's newest `limit` jobs, newest first. */
export function readProjectJobs(db: Db, projectId: string, limit: number): Promise<Job[]> {
  return jobs.read(db, "project_jobs", "WHERE project_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2", [projectId, limit]);
}

/** One job by id, or undefined; the caller checks that it is the principal's. */
export async function readJob(db: Db, id: string): Promise<Job | undefined> {
  const [job] = await jobs.read(db, "job", "WHERE id = $1", [id]);
  return job;
}

/** The project's schedules, oldest first. */
export function readProjectSchedules(db: Db, projectId: string): Promise<ScheduledBackup[]> {
  return schedules.read(db, "project_schedules", "WHERE project_id = $1 ORDER BY created_at ASC, id ASC", [projectId]);
}
