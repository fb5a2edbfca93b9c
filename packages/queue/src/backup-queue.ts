// The BullMQ queue that carries every job kind: its payload is only a pointer to the job row.
// Job rows and their enqueueing belong to @capy/jobs.

import { BACKUP_QUEUE, type JobPayload, type JobType } from "@capy/contracts";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { sendAtEndOfTurn } from "./connection.js";

export type BackupQueue = Queue<JobPayload, void, JobType>;

export function createBackupQueue(connection: Redis, prefix: string): BackupQueue {
  const queue: BackupQueue = new Queue(BACKUP_QUEUE, { connection, prefix });
  queue.on("error", () => {});
  return queue;
}

/**
 * Lets the adds made on `queue` in this turn of the event loop leave for Redis in one socket
 * write (sendAtEndOfTurn on the queue's connection); call before each add. The API's POSTs
 * answered in one turn (their job rows come back from one shared insert) then enqueue with one
 * send, as the scheduler's and the reconciler's batches do.
 */
export function coalesceAdds(queue: BackupQueue): void {
  const { connection } = queue.opts;
  // The Redis given to createBackupQueue (by shape: an instance of another copy of ioredis counts).
  if ("stream" in connection) sendAtEndOfTurn(connection as Redis);
}
