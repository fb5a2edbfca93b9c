// Creating jobs: the row in Postgres first (the source of truth), then the BullMQ job with the
// same id. If the enqueue fails after the row exists, the job stays `pending` in Postgres and
// the reconciler enqueues it again; BullMQ deduplicates by job id.
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { BACKUP_QUEUE, JOB_KINDS, databaseResource, type JobPayload, type JobType } from "@capy/contracts";
import { newId, type Db, type Job, type Prisma } from "@capy/db";

export type BackupQueue = Queue<JobPayload, void, JobType>;

export function createBackupQueue(connection: Redis, prefix: string): BackupQueue {
  const queue: BackupQueue = new Queue(BACKUP_QUEUE, { connection, prefix });
  queue.on("error", () => {});
  return queue;
}

export interface NewJob {
  /** A chosen id (e.g. one a related row must name first); a new one otherwise. */
  id?: string;
  type: JobType;
  organizationId: string;
  projectId: string;
  clusterId: string;
  databaseName: string;
  label?: string | null;
  backupId?: string | null;
  scheduleId?: string | null;
  dueAt?: Date | null;
  idempotencyKey?: string | null;
  previewDatabaseId?: string | null;
  restoreOptions?: Prisma.InputJsonValue | null;
}

/** Inserts the pending row; `db` may be a transaction, so a job can be created with related rows. */
export async function insertJobRow(db: Pick<Db, "job"> | Prisma.TransactionClient, input: NewJob): Promise<Job> {
  const kind = JOB_KINDS[input.type];
  return db.job.create({
    data: {
      id: input.id ?? newId("job"),
      type: input.type,
      state: "pending",
      phase: "queued",
      maxAttempts: kind.maxAttempts,
      clusterId: input.clusterId,
      lockedResource: databaseResource(input.clusterId, input.databaseName),
      organizationId: input.organizationId,
      projectId: input.projectId,
      label: input.label ?? null,
      backupId: input.backupId ?? null,
      scheduleId: input.scheduleId ?? null,
      dueAt: input.dueAt ?? null,
      idempotencyKey: input.idempotencyKey ?? null,
      previewDatabaseId: input.previewDatabaseId ?? null,
      ...(input.restoreOptions ? { restoreOptions: input.restoreOptions } : {}),
    },
  });
}

/** Adds the BullMQ job for an existing job row (idempotent: same id, same job). */
export async function enqueueJob(queue: BackupQueue, job: Pick<Job, "id" | "type">): Promise<void> {
  const type = job.type as JobType;
  const kind = JOB_KINDS[type];
  await queue.add(
    type,
    { jobId: job.id },
    {
      jobId: job.id,
      attempts: kind.maxAttempts,
      // Exponential backoff with jitter between attempts (ms).
      backoff: { type: "exponential", delay: kind.backoffMs, jitter: 0.5 },
      // Postgres keeps the history; Redis only needs recent jobs (seconds).
      removeOnComplete: { age: 3_600 },
      removeOnFail: { age: 7 * 24 * 3_600 },
    },
  );
}
