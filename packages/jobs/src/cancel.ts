// Canceling on request (POST /v1/jobs/{id}/cancel): conditional statements only, so a cancel racing
// a worker's claim, another cancel or the job's own end has exactly one outcome. A pending job is
// canceled at once (its kind's cancel hook and job.canceled in the same transaction); a running
// one gets cancel_requested_at and its worker (or the reconciler) ends it.
import type { Db, Job, Prisma } from "@capy/db";
import { endWithHook } from "./attempt.js";
import { CANCELED_ERROR, jobKind } from "./catalogue.js";
import { fromStates } from "./transitions.js";

/**
 * Cancels the job matched by `where` (its id plus the caller's tenant scope) if it is pending.
 * Returns the canceled row, or null when no pending job matched.
 */
export async function cancelPendingJob(db: Db, where: Prisma.JobWhereInput & { id: string }): Promise<Job | null> {
  return db.$transaction(async (tx) => {
    const now = new Date();
    const { count } = await tx.job.updateMany({
      where: { ...where, state: { in: fromStates("cancelPending") } },
      data: { state: "canceled", phase: "done", completedAt: now, retryClassification: "canceled", error: CANCELED_ERROR, cancelRequestedAt: now },
    });
    if (count === 0) return null;
    // A pending job has run no attempt that is still alive: whatever rows earlier ones made go now.
    await endWithHook(tx, where.id, (job) => jobKind(job.type).onCancel(tx, job));
    return tx.job.findUniqueOrThrow({ where: { id: where.id } });
  });
}

/** Asks the running job matched by `where` to stop; false when it is not running or already asked. */
export async function requestCancel(db: Db, where: Prisma.JobWhereInput & { id: string }): Promise<boolean> {
  const { count } = await db.job.updateMany({
    where: { ...where, state: { in: fromStates("requestCancel") }, cancelRequestedAt: null },
    data: { cancelRequestedAt: new Date() },
  });
  return count === 1;
}
