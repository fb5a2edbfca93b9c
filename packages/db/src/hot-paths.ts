// The API's hot paths as parameterised SQL on the pool under Prisma's adapter (Db.pool),
// answering the same model types Prisma would: the reads of the list and job endpoints, the
// insert of a requested job (with its audit event, one statement) and of audit events. Why:
// each Prisma call cost ~1-2 ms of CPU in the API (client runtime, query-plan compilation,
// result mapping; $queryRaw included; createManyAndReturn also ran BEGIN and COMMIT), the same
// statement on the pg pool ~50-150 µs (bench/api-throughput/query-cost.mjs). Prisma stays the
// data layer for everything else; rows keep being shaped by their owners (@capy/jobs for jobs).
// - Each model's columns are listed once (`satisfies` makes the compiler insist on every field,
//   so a new column fails the build here until it is mapped).
// - Named statements: Postgres parses and plans each once per connection.
// - Shared statements (shared-statements.ts): the reads and job inserts that concurrent requests
//   make in one turn of the event loop run as one statement (by ids, by projects, many rows).
// - Values come back as Prisma gives them: timestamptz as Date, int8 as bigint, jsonb parsed,
//   text[] as arrays.
// - The API's reads select only the fields it shows (JobView, BackupView: what @capy/jobs
//   serializes): pg's price grows with every column of every row (row description, one parsed
//   value each; jsonb payloads and inventories parsed for nothing), Postgres's too (text output).
//   Measured (10 concurrent readers, API-side CPU per query): a job by id 32 → 23 columns,
//   ~85 → ~68 µs; 100 backups 23 → 16 columns, ~520 → ~400 µs (Postgres ~295 → ~240 µs).
import pg from "pg";
import type { Db } from "./client.js";
import type { AuditEvent, Backup, Job, ScheduledBackup } from "./generated/prisma/client.js";
import { type Answer, groupBy, sharedStatement } from "./shared-statements.js";

type ColumnsOf<T> = { readonly [K in keyof Required<T>]: string };

const INT8_OID = 20;

const TIMESTAMPTZ_OID = 1184;

const parseInt8 = (value: string) => BigInt(value);

const parseAnyTimestamptz = pg.types.getTypeParser(TIMESTAMPTZ_OID, "text") as (value: string) => Date;
const digit = (text: string, at: number) => text.charCodeAt(at) - 48;
const twoDigits = (text: string, at: number) => digit(text, at) * 10 + digit(text, at + 1);

/**
 * timestamptz as pg's own parser reads it, faster for the form a UTC session sends (DateStyle
 * ISO): `2026-11-30 19:54:48.123456+00`, with 0-6 fraction digits (ms kept, as Date does).
 * Anything else (another time zone, BC, infinity, years before 1000) goes to pg's parser:
 * its regular expressions cost ~0.5 µs a value, a fifth of the CPU of a list of 100 backups.
 */
export function parseTimestamptz(text: string): Date {
  const n = text.length;
  const utc = n >= 22 && n <= 29 && text.endsWith("+00") && text.charCodeAt(10) === 32 && (n === 22 || text.charCodeAt(19) === 46);
  if (!utc || digit(text, 0) === 0) return parseAnyTimestamptz(text);
  let ms = 0;
  for (let i = 20, scale = 100; i < Math.min(n - 3, 23); i++, scale /= 10) ms += digit(text, i) * scale;
  const year = twoDigits(text, 0) * 100 + twoDigits(text, 2);
  const time = Date.UTC(year, twoDigits(text, 5) - 1, twoDigits(text, 8), twoDigits(text, 11), twoDigits(text, 14), twoDigits(text, 17), ms);
  return new Date(time);
}

/** pg's parsers, except int8 as bigint (Prisma's BigInt) instead of a string, and timestamptz's fast path. */
const types = {
  getTypeParser: (oid: number, format?: "text" | "binary") =>
    oid === INT8_OID ? parseInt8 : oid === TIMESTAMPTZ_OID && format !== "binary" ? parseTimestamptz : pg.types.getTypeParser(oid, format as "text"),
};

/** A model's rows from `SELECT <its columns> FROM <table> …`, values in column order. */
class ModelTable<T> {
  /** Row (values in column order) to model: one object literal, compiled from the column map. */
  readonly #toModel: (row: readonly unknown[]) => T;
  readonly #columnOf: Readonly<Record<string, string>>;
  /** `col_a, col_b, …` in field order. */
  readonly columns: string;

  constructor(
    readonly table: string,
    columns: ColumnsOf<T>,
  ) {
    // A literal with every field builds each row in one step and gives all rows one shape; a
    // loop of keyed stores cost 5 % of the CPU of a list of 100 backups. The names are this
    // file's own (the column maps below), quoted by JSON.stringify.
    const fields = Object.keys(columns).map((field, i) => `${JSON.stringify(field)}: row[${i}]`);
    this.#toModel = new Function("row", `return { ${fields.join(", ")} };`) as (row: readonly unknown[]) => T;
    this.#columnOf = columns;
    this.columns = Object.values<string>(columns).join(", ");
  }

  /** Runs the named statement `name` (`SELECT <columns> FROM <table> <rest>`) and maps its rows. */
  read(db: Db, name: string, rest: string, values: readonly unknown[]): Promise<T[]> {
    return this.run(db, name, `SELECT ${this.columns} FROM ${this.table} ${rest}`, values);
  }

  /** Column of each field, for statements that name some of them (inserts). */
  column(field: keyof T & string): string {
    return this.#columnOf[field]!;
  }

  /** The same table, reading only `fields` (in that order). */
  only<K extends keyof T & string>(fields: readonly K[]): ModelTable<Pick<T, K>> {
    const columns = Object.fromEntries(fields.map((field) => [field, this.#columnOf[field]!]));
    return new ModelTable<Pick<T, K>>(this.table, columns as ColumnsOf<Pick<T, K>>);
  }

  /** Runs a named statement whose result has this table's columns (e.g. `… RETURNING <columns>`) and maps its rows. */
  async run(db: Db, name: string, text: string, values: readonly unknown[]): Promise<T[]> {
    const result = await db.pool.query<unknown[]>({ name: `capy_${name}`, text, values: values as unknown[], rowMode: "array", types });
    return result.rows.map(this.#toModel);
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
  encryption: "encryption",
  encryptionKeyId: "encryption_key_id",
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

/** The fields of a job the API shows (@capy/jobs serializeJob) and checks (tenancy). */
const JOB_VIEW_FIELDS = [
  "id",
  "type",
  "state",
  "attempts",
  "maxAttempts",
  "claimedAt",
  "claimedBy",
  "clusterId",
  "lockedResource",
  "previewDatabaseId",
  "retryClassification",
  "lastExitCode",
  "lastStdout",
  "lastStderr",
  "error",
  "startedAt",
  "completedAt",
  "organizationId",
  "projectId",
  "createdAt",
  "updatedAt",
  "phase",
  "progressBytes",
] as const satisfies readonly (keyof Job)[];
export type JobView = Pick<Job, (typeof JOB_VIEW_FIELDS)[number]>;
const jobViews = jobs.only(JOB_VIEW_FIELDS);

/** The fields of a backup the API shows (@capy/jobs serializeBackup). */
const BACKUP_VIEW_FIELDS = [
  "id",
  "projectId",
  "databaseName",
  "label",
  "backupKey",
  "sizeBytes",
  "compression",
  "archiveFormat",
  "storedEncoding",
  "encryption",
  "encryptionKeyId",
  "state",
  "verificationState",
  "verificationError",
  "verifiedAt",
  "createdAt",
] as const satisfies readonly (keyof Backup)[];
export type BackupView = Pick<Backup, (typeof BACKUP_VIEW_FIELDS)[number]>;
const backupViews = backups.only(BACKUP_VIEW_FIELDS);

// The reads below are shared statements (shared-statements.ts): calls in one turn of the event
// loop are answered together, by one statement for all their ids or projects.

/** The project's backups as the API shows them, newest first (ids are ULIDs: they break ties between equal times). */
export function readProjectBackups(db: Db, projectId: string): Promise<readonly BackupView[]> {
  return backupsOfProjects(db, projectId);
}

/**
 * Whole lists by project (`SELECT … WHERE project_id = ANY(…) ORDER BY project_id, <order>`), each
 * call its project's rows in `order`, frozen (identical calls share it); `maxCalls` lists in one
 * answer at most.
 */
function listsOfProjects<T extends { projectId: string }>(table: ModelTable<T>, name: string, order: string, maxCalls: number) {
  return sharedStatement<string, readonly T[]>(
    async (db, projectIds) => {
      const rows = await table.read(db, name, `WHERE project_id = ANY($1::text[]) ORDER BY project_id, ${order}`, [projectIds]);
      const byProject = groupBy(rows, (row) => row.projectId);
      return projectIds.map((id) => Object.freeze(byProject.get(id) ?? []));
    },
    { name, maxCalls, keyOf: (projectId) => projectId },
  );
}

// Up to 16 lists of backups in one answer: a list holds every backup of its project.
const backupsOfProjects = listsOfProjects(backupViews, "backups_of_projects", "created_at DESC, id DESC", 16);

/** The project's newest `limit` jobs as the API shows them, newest first. */
export function readProjectJobs(db: Db, projectId: string, limit: number): Promise<readonly JobView[]> {
  return jobsOfProjects(db, { projectId, limit });
}

/** Each project's newest jobs, as many as its largest page asks for; each call takes its own page of them. */
const JOBS_OF_PROJECTS = `SELECT page.* FROM unnest($1::text[], $2::int[]) AS wanted(project, page_size)
  CROSS JOIN LATERAL (SELECT ${jobViews.columns} FROM jobs WHERE jobs.project_id = wanted.project ORDER BY created_at DESC, id DESC LIMIT wanted.page_size) AS page
  ORDER BY page.project_id, page.created_at DESC, page.id DESC`;

/** Each page frozen (identical calls share it, as listsOfProjects' lists). */
const jobsOfProjects = sharedStatement<{ projectId: string; limit: number }, readonly JobView[]>(
  async (db, pages) => {
    const pageSizes = new Map<string, number>();
    for (const { projectId, limit } of pages) pageSizes.set(projectId, Math.max(limit, pageSizes.get(projectId) ?? 0));
    const rows = await jobViews.run(db, "jobs_of_projects", JOBS_OF_PROJECTS, [[...pageSizes.keys()], [...pageSizes.values()]]);
    const byProject = groupBy(rows, (job) => job.projectId);
    return pages.map(({ projectId, limit }) => Object.freeze((byProject.get(projectId) ?? []).slice(0, limit)));
  },
  { name: "jobs_of_projects", maxCalls: 32, keyOf: ({ projectId, limit }) => `${limit}:${projectId}` },
);

/** One job by id as the API shows it, or undefined; the caller checks that it is the principal's. */
export const readJob: (db: Db, id: string) => Promise<JobView | undefined> = sharedStatement(
  async (db, ids) => {
    const rows = await jobViews.read(db, "jobs_by_id", "WHERE id = ANY($1::text[])", [ids]);
    const byId = new Map(rows.map((job) => [job.id, job]));
    return ids.map((id) => byId.get(id));
  },
  { name: "jobs_by_id", maxCalls: 64, keyOf: (id) => id },
);

/** The project's schedules, oldest first. */
export function readProjectSchedules(db: Db, projectId: string): Promise<readonly ScheduledBackup[]> {
  return schedulesOfProjects(db, projectId);
}

const schedulesOfProjects = listsOfProjects(schedules, "schedules_of_projects", "created_at ASC, id ASC", 32);

const auditEvents = new ModelTable<AuditEvent>("audit_events", {
  id: "id",
  organizationId: "organization_id",
  projectId: "project_id",
  actorType: "actor_type",
  actorId: "actor_id",
  action: "action",
  targetType: "target_type",
  targetId: "target_id",
  metadata: "metadata",
  createdAt: "created_at",
});

/** A new job row as @capy/jobs shapes it; the other columns take their defaults (times: now()). */
export type NewJobRow = Pick<
  Job,
  | "id"
  | "type"
  | "state"
  | "phase"
  | "maxAttempts"
  | "clusterId"
  | "lockedResource"
  | "organizationId"
  | "projectId"
  | "idempotencyKey"
  | "label"
  | "backupId"
  | "scheduleId"
  | "dueAt"
  | "previewDatabaseId"
  | "payload"
>;

/** An audit event to record; created_at is now(). */
export type NewAuditRow = Omit<AuditEvent, "createdAt">;

const JOB_FIELDS = [
  "id",
  "type",
  "state",
  "phase",
  "maxAttempts",
  "clusterId",
  "lockedResource",
  "organizationId",
  "projectId",
  "idempotencyKey",
  "label",
  "backupId",
  "scheduleId",
  "dueAt",
  "previewDatabaseId",
  "payload",
] as const satisfies readonly (keyof NewJobRow)[];
const AUDIT_FIELDS = [
  "id",
  "organizationId",
  "projectId",
  "actorType",
  "actorId",
  "action",
  "targetType",
  "targetId",
  "metadata",
] as const satisfies readonly (keyof NewAuditRow)[];

/** `$from, $from+1, …` for `count` values. */
const placeholders = (count: number, from = 1) => Array.from({ length: count }, (_, i) => `$${from + i}`).join(", ");
const jsonValue = (value: unknown) => JSON.stringify(value);

const INSERT_AUDIT = `INSERT INTO audit_events (${AUDIT_FIELDS.map((f) => auditEvents.column(f)).join(", ")})`;
const INSERT_AUDIT_ALONE = `${INSERT_AUDIT} VALUES (${placeholders(AUDIT_FIELDS.length)})`;

/** `($from, …, now(), now()), (…)`: `rows` rows of `width` values each, plus `extra` after each row's values. */
const valueRows = (rows: number, width: number, from: number, extra = "") =>
  Array.from({ length: rows }, (_, i) => `(${placeholders(width, from + i * width)}${extra})`).join(", ");

/**
 * `jobCount` jobs, and `auditCount` audit events after them in the same statement (both rows or
 * neither), answering the jobs as stored.
 */
function insertJobsStatement(jobCount: number, auditCount: number): string {
  const insertJobs = `INSERT INTO jobs (${JOB_FIELDS.map((f) => jobs.column(f)).join(", ")}, created_at, updated_at)
  VALUES ${valueRows(jobCount, JOB_FIELDS.length, 1, ", now(), now()")} RETURNING ${jobs.columns}`;
  if (auditCount === 0) return insertJobs;
  const auditRows = valueRows(auditCount, AUDIT_FIELDS.length, jobCount * JOB_FIELDS.length + 1);
  return `WITH job AS (${insertJobs}), audit AS (${INSERT_AUDIT} VALUES ${auditRows}) SELECT * FROM job`;
}

/** insertJobsStatement's texts by shape (`<jobs>_<audit events>`), built once each. */
const insertJobsStatements = new Map<string, string>();

const jobValues = (row: NewJobRow) => JOB_FIELDS.map((field) => (field === "payload" ? jsonValue(row.payload) : row[field]));
const auditValues = (row: NewAuditRow) => AUDIT_FIELDS.map((field) => (field === "metadata" ? jsonValue(row.metadata) : row[field]));

interface JobInsert {
  row: NewJobRow;
  audit: NewAuditRow | undefined;
}

/**
 * Inserts one job row, and `audit` with it in the same statement when given; answers the job
 * as stored. A unique violation (e.g. a taken Idempotency-Key) rejects with pg's error (code 23505).
 * Inserts requested in one turn share a statement, and so a commit (see insertJobsTogether).
 */
export function insertJob(db: Db, row: NewJobRow, audit?: NewAuditRow): Promise<Job> {
  return insertJobsTogether(db, { row, audit });
}

const insertJobsTogether = sharedStatement<JobInsert, Job>(
  async (db, inserts) => {
    if (inserts.length === 1) return insertJobsNow(db, inserts);
    try {
      return await insertJobsNow(db, inserts);
    } catch (error) {
      // A row Postgres refused (a taken Idempotency-Key, a project deleted meanwhile) fails the
      // whole statement, which wrote nothing: each insert then runs alone and gets its own
      // answer. Any other failure (the connection) is every insert's.
      if (!isRowRefused(error)) throw error;
      return Promise.all(
        inserts.map(
          (insert): Promise<Answer<Job>> =>
            insertJobsNow(db, [insert]).then(
              ([job]) => job!,
              (refused: Error) => refused,
            ),
        ),
      );
    }
  },
  { name: "insert_jobs", maxCalls: 16 },
);

/** The inserts' jobs (and audit events), one statement; each job as stored, in the inserts' order. */
async function insertJobsNow(db: Db, inserts: readonly JobInsert[]): Promise<Job[]> {
  const audits = inserts.flatMap(({ audit }) => (audit ? [audit] : []));
  const values = [...inserts.flatMap(({ row }) => jobValues(row)), ...audits.flatMap(auditValues)];
  const shape = `${inserts.length}_${audits.length}`;
  let text = insertJobsStatements.get(shape);
  if (text === undefined) {
    text = insertJobsStatement(inserts.length, audits.length);
    insertJobsStatements.set(shape, text);
  }
  const stored = await jobs.run(db, `insert_jobs_${shape}`, text, values);
  const byId = new Map(stored.map((job) => [job.id, job]));
  return inserts.map(({ row }) => byId.get(row.id)!);
}

/** Whether Postgres refused a row's values (SQLSTATE classes 22, data exception, and 23, integrity constraint violation). */
function isRowRefused(error: unknown): boolean {
  const code = sqlstate(error);
  return typeof code === "string" && (code.startsWith("22") || code.startsWith("23"));
}

/** The SQLSTATE of a pg error (its `code`), or whatever else `error` holds there. */
const sqlstate = (error: unknown): unknown => (error as { code?: unknown } | null)?.code;

/** Records an audit event (created_at: now()). */
export async function insertAuditEvent(db: Db, row: NewAuditRow): Promise<void> {
  await db.pool.query({ name: "capy_insert_audit", text: INSERT_AUDIT_ALONE, values: auditValues(row) });
}

/** The project's job holding `idempotencyKey`, or undefined. */
export async function readJobByIdempotencyKey(db: Db, projectId: string, idempotencyKey: string): Promise<Job | undefined> {
  const [job] = await jobs.read(db, "job_by_idempotency_key", "WHERE project_id = $1 AND idempotency_key = $2", [projectId, idempotencyKey]);
  return job;
}

/** Whether `error` is Postgres refusing a duplicate key (SQLSTATE 23505) from these statements. */
export function isUniqueViolation(error: unknown): boolean {
  return sqlstate(error) === "23505";
}
