// The BullMQ queue that carries every job kind: its payload is only a pointer to the job row.
// Job rows and their enqueueing belong to @capy/jobs.

import { BACKUP_QUEUE, type JobPayload, type JobType } from "@capy/contracts";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";

export type BackupQueue = Queue<JobPayload, void, JobType>;

export function createBackupQueue(connection: Redis, prefix: string): BackupQueue {
  const queue: BackupQueue = new Queue(BACKUP_QUEUE, { connection, prefix });
  queue.on("error", () => {});
  return queue;
}
