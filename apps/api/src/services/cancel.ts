// Canceling a job. Postgres decides, with the conditional UPDATEs of @capy/jobs only, so a cancel
// racing a worker's claim, another cancel or the job's own end has exactly one outcome:
// - pending → canceled at once (phase done, retry_classification canceled, job.canceled), then
//   the BullMQ job is removed, best effort: a worker that still gets it finds the row canceled
//   and its claim (state pending or running only) matches nothing. The same holds when the
//   job's add reaches Redis after the remove (the POST answers before Redis has the job, and a
//   cancel through another API process has a connection of its own).
// - running → cancel_requested_at is set and the state stays running: the worker's heartbeat
//   sees it, stops the attempt and writes `canceled` (or the job reconciler does, once the
//   attempt's heartbeat is stale).
// - completed, failed, canceled → 409.
import type { Db, Job } from "@capy/db";
import { cancelPendingJob, requestCancel } from "@capy/jobs";
import { type BackupQueue, withTimeout } from "@capy/queue";
import type { FastifyBaseLogger } from "fastify";
import { tenantScope } from "../auth/access.js";
import type { Principal } from "../auth/principal.js";
import { AppError } from "../errors.js";

/** How long a cancel waits for Redis to drop the BullMQ job before leaving it harmless (ms). */
const REMOVE_TIMEOUT_MS = 2_000;

export interface CancelDeps {
  db: Db;
  queue: BackupQueue;
  log: FastifyBaseLogger;
}

export interface CancelOutcome {
  job: Job;
  /** What the cancel did: `canceled` a pending job, `requested` a running job's stop, or nothing new (already requested). */
  effect: "canceled" | "requested" | "already_requested";
}

export async function cancelJob({ db, queue, log }: CancelDeps, principal: Principal, jobId: string): Promise<CancelOutcome> {
  const scope = { id: jobId, ...tenantScope(principal) };
  // A pending job may become running between the two UPDATEs (a worker claims it); one more
  // round then finds it running. Two rounds always settle it: running never goes back to
  // pending except through a retry, which a third round would also handle.
  for (let round = 0; round < 3; round++) {
    const canceled = await cancelPendingJob(db, scope);
    if (canceled) {
      try {
        await withTimeout(queue.remove(jobId), REMOVE_TIMEOUT_MS, "remove");
      } catch (err) {
        // Active (a worker holds it) or Redis down: the canceled row makes the job a no-op.
        log.warn({ err, jobId }, "could not remove the canceled job from the queue; a worker will skip it");
      }
      return { job: canceled, effect: "canceled" };
    }
    // Tenant-scoped like every write here: another tenant's id matches no row.
    const requested = await requestCancel(db, scope);
    const job = await db.job.findFirst({ where: scope });
    if (!job) throw new AppError("NOT_FOUND", "job not found");
    if (requested) return { job, effect: "requested" };
    if (job.state === "running") return { job, effect: "already_requested" };
    if (job.state !== "pending") throw new AppError("CONFLICT", `job is already ${job.state}`);
  }
  throw new AppError("CONFLICT", "job changed state while being canceled; retry");
}
