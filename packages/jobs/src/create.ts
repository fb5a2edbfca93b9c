// Creating jobs, the one insert path (the API's requests and the scheduler's firings): the row in
// Postgres first (the source of truth, `pending`), then the BullMQ job with the same id. If the
// enqueue fails after the row exists, the job stays `pending` and the reconciler enqueues it
// again; BullMQ deduplicates by job id.
import type { JobType } from "@capy/contracts";
import { type Db, insertJob, type Job, type NewAuditRow, type NewJobRow, newId, type Prisma } from "@capy/db";
import { type BackupQueue, coalesceAdds } from "@capy/queue";
import { jobKind } from "./catalogue.js";
import type { Tx } from "./events.js";

export interface NewJob {
  /** A chosen id (a related row must name the job first, e.g. a restore's safety backup); a new one otherwise. */
  id?: string;
  type: JobType;
  organizationId: string;
  projectId: string;
  clusterId: string;
  databaseName: string;
  idempotencyKey?: string | null;
  // The kind's payload, validated by its catalogue entry: fields that have a column of their own,
  label?: string | null;
  backupId?: string | null;
  scheduleId?: string | null;
  dueAt?: Date | null;
  /** The preview a restore job fills (a public Job field, so a column). */
  previewDatabaseId?: string | null;
  /** and the kind's other fields, stored in jobs.payload (JSON values; read back with readJobPayload). */
  payload?: Record<string, unknown>;
}

/** Payload fields that have a column of their own (the rest go to jobs.payload). */
const COLUMN_FIELDS = ["label", "backupId", "scheduleId", "dueAt", "previewDatabaseId"] as const;
type ColumnField = (typeof COLUMN_FIELDS)[number];
const isColumnField = (key: string): key is ColumnField => (COLUMN_FIELDS as readonly string[]).includes(key);

/** The column fields `source` has (neither undefined nor null), by name. */
function presentColumns(source: Partial<Record<ColumnField, unknown>>): Record<string, unknown> {
  return Object.fromEntries(COLUMN_FIELDS.filter((field) => source[field] != null).map((field) => [field, source[field]]));
}

/** The row of a new job, as its catalogue entry shapes it. Throws (ZodError) on a payload the kind refuses. */
function newJobRow(input: NewJob): NewJobRow & { payload: Prisma.InputJsonObject } {
  const kind = jobKind(input.type);
  // Absent (undefined or null) fields are left out, so a kind sees only what the caller gave.
  const columns = presentColumns(input);
  const parsed = kind.payload.parse({ ...input.payload, ...columns }) as Record<string, unknown>;
  const payload: Partial<Record<ColumnField, unknown>> = {};
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (isColumnField(key)) payload[key] = value;
    else rest[key] = value;
  }
  return {
    id: input.id ?? newId("job"),
    type: input.type,
    state: "pending",
    phase: "queued",
    maxAttempts: kind.retry.maxAttempts,
    clusterId: input.clusterId,
    lockedResource: kind.lockedResource(input),
    organizationId: input.organizationId,
    projectId: input.projectId,
    idempotencyKey: input.idempotencyKey ?? null,
    label: (payload.label as string | null | undefined) ?? null,
    backupId: (payload.backupId as string | null | undefined) ?? null,
    scheduleId: (payload.scheduleId as string | null | undefined) ?? null,
    dueAt: (payload.dueAt as Date | null | undefined) ?? null,
    previewDatabaseId: (payload.previewDatabaseId as string | null | undefined) ?? null,
    payload: rest as Prisma.InputJsonObject & Prisma.JsonObject,
  };
}

/** A job's payload as its kind's schema reads it: its column fields and jobs.payload together. */
export function readJobPayload(job: Job): unknown {
  const columns = presentColumns(job);
  const stored = job.payload !== null && typeof job.payload === "object" && !Array.isArray(job.payload) ? job.payload : {};
  return jobKind(job.type).payload.parse({ ...stored, ...columns });
}

/**
 * Inserts job rows in one statement. With `skipDuplicates`, a row that hits a unique key
 * (schedule_id, due_at) is left out (ON CONFLICT DO NOTHING) and only the rows inserted return.
 */
export function insertJobRows(db: Db | Tx, jobs: readonly NewJob[], options: { skipDuplicates?: boolean } = {}): Promise<Job[]> {
  if (jobs.length === 0) return Promise.resolve([]);
  return db.job.createManyAndReturn({ data: jobs.map((job) => newJobRow(job)), skipDuplicates: options.skipDuplicates ?? false });
}

export async function insertJobRow(db: Db | Tx, input: NewJob): Promise<Job> {
  const [job] = await insertJobRows(db, [input]);
  return job!;
}

/**
 * insertJobRow outside a transaction, as one SQL statement (@capy/db insertJob; the API's POSTs:
 * Prisma's createManyAndReturn cost ~2 ms of CPU and three round trips), with `audit` recorded in
 * the same statement when given: both rows or neither. A taken Idempotency-Key rejects with the
 * unique violation (isUniqueViolation).
 */
export function insertJobRowAlone(db: Db, input: NewJob, audit?: NewAuditRow): Promise<Job> {
  return insertJob(db, newJobRow(input), audit);
}

/** Adds the BullMQ job for an existing job row (idempotent: same id, same job). */
export async function enqueueJob(queue: BackupQueue, job: Pick<Job, "id" | "type">): Promise<void> {
  const type = job.type as JobType;
  const { retry } = jobKind(type);
  // Enqueues of one turn (concurrent POSTs, a scheduler's firing) leave in one socket write.
  coalesceAdds(queue);
  await queue.add(
    type,
    { jobId: job.id },
    {
      jobId: job.id,
      attempts: retry.maxAttempts,
      // Exponential backoff with jitter between attempts (ms).
      backoff: { type: "exponential", delay: retry.backoffMs, jitter: 0.5 },
      // Postgres keeps the history; Redis only needs recent jobs (seconds).
      removeOnComplete: { age: 3_600 },
      removeOnFail: { age: 7 * 24 * 3_600 },
    },
  );
}

/**
 * Lets an expired Idempotency-Key go: the old job gives it up (conditional, so concurrent
 * requests agree) and keeps everything else.
 */
export async function releaseIdempotencyKey(db: Db, jobId: string, key: string, cutoff: Date): Promise<void> {
  await db.job.updateMany({ where: { id: jobId, idempotencyKey: key, createdAt: { lte: cutoff } }, data: { idempotencyKey: null } });
}
