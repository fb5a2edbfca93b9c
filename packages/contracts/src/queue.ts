// What travels through Redis: the queue's name and the BullMQ payload. Everything else about a job
// kind (payload schema, retry policy, timeout, hooks) is in @capy/jobs' catalogue.
import { z } from "zod";

export const BACKUP_QUEUE = "capy-backups";

/** The BullMQ payload is only a pointer: the job row in Postgres is the source of truth. */
export const JobPayload = z.object({ jobId: z.string().startsWith("job_") });
export type JobPayload = z.infer<typeof JobPayload>;
