// The catalogue of job kinds: queue, payload schema, retry and timeout policy. The API enqueues
// and the worker handles through this one table, so both sides agree on every kind.
import { z } from "zod";
import type { JobType } from "./resources.js";

export const BACKUP_QUEUE = "capy-backups";

/** The BullMQ payload is only a pointer: the job row in Postgres is the source of truth. */
export const JobPayload = z.object({ jobId: z.string().startsWith("job_") });
export type JobPayload = z.infer<typeof JobPayload>;

export interface JobKind {
  type: JobType;
  /** Attempts before the job is failed for good (BullMQ `attempts`, our `max_attempts`). */
  maxAttempts: number;
  /** Base of the exponential backoff between attempts, in milliseconds. */
  backoffMs: number;
}

export const JOB_KINDS: Record<JobType, JobKind> = {
  backup: { type: "backup", maxAttempts: 3, backoffMs: 5_000 },
  verify: { type: "verify", maxAttempts: 3, backoffMs: 5_000 },
  restore: { type: "restore", maxAttempts: 3, backoffMs: 5_000 },
};

/** `locked_resource` of every job touching one database: at most one runs at a time. */
export function databaseResource(clusterId: string, databaseName: string): string {
  return `database:${clusterId}/${databaseName}`;
}

/** `error` of a job that ended `canceled` because its cancel was requested (API, worker, reconciler). */
export const CANCELED_ERROR = "canceled by request";
