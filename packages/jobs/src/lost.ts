// A lost worker: an attempt whose worker died or stalled. Two places notice one, and both end it
// here with a fenced statement that bumps fencing_token, so the vanished attempt can never write
// again: a worker's claim that finds the last allowed attempt lost (failLostJob), and the job
// reconciler that finds a stale heartbeat (resetLostJob). An ended job runs its kind's hook
// (onWorkerLost, or onCancel when its cancel was requested) and appends its event in the same
// transaction.
import type { Db } from "@capy/db";
import { endWithHook } from "./attempt.js";
import { CANCELED_ERROR, jobKind } from "./catalogue.js";
import { fromStates } from "./transitions.js";

export const WORKER_LOST_ERROR = "worker lost: the attempt stopped sending heartbeats";

/**
 * Ends a job whose lost attempt was its last allowed one (attempts >= max_attempts) as `failed`
 * with `worker_lost`, without claiming it: a job that keeps killing its workers must stop being
 * handed out. Conditional on the row being exactly as read (`running` at `fencingToken`).
 */
export async function failLostJob(db: Db, job: { id: string; fencingToken: number; attempts: number }): Promise<boolean> {
  return db.$transaction(async (tx) => {
    const { count } = await tx.job.updateMany({
      where: { id: job.id, fencingToken: job.fencingToken, state: { in: fromStates("lostFail") } },
      data: {
        state: "failed",
        phase: "done",
        completedAt: new Date(),
        retryClassification: "worker_lost",
        error: `attempt ${job.attempts} was lost: its worker stopped before finishing it, and no attempts are left`,
        fencingToken: { increment: 1 },
      },
    });
    if (count === 0) return false;
    await endWithHook(tx, job.id, (row) => jobKind(row.type).onWorkerLost(tx, row));
    return true;
  });
}

export interface LostRow {
  id: string;
  fencing_token: number;
}

export type LostOutcome =
  | { state: "pending" }
  | { state: "failed" }
  /** `keys`: storage keys the kind's cancel hook reported, to remove now that it committed. */
  | { state: "canceled"; keys: string[] };

/**
 * The reconciler's fenced reset of a lost attempt: only if the row is still running under the
 * token read and its heartbeat is still stale (no new claim in between). Back to `pending`
 * (worker_lost) with attempts left, `failed` (worker_lost) without, `canceled` when a cancel was
 * requested. Undefined when the row changed meanwhile.
 */
export async function resetLostJob(db: Db, row: LostRow, heartbeatTimeoutMs: number): Promise<LostOutcome | undefined> {
  return db.$transaction(async (tx) => {
    // One statement, three outcomes (lostRetry, lostFail, lostCancel), all from the same states.
    const updated = await tx.$queryRaw<Array<{ state: "pending" | "failed" | "canceled" }>>`
      UPDATE jobs
         SET state = CASE WHEN cancel_requested_at IS NOT NULL THEN 'canceled'
                          WHEN attempts >= max_attempts THEN 'failed'
                          ELSE 'pending' END,
             phase = CASE WHEN cancel_requested_at IS NULL AND attempts < max_attempts THEN 'queued' ELSE 'done' END,
             completed_at = CASE WHEN cancel_requested_at IS NULL AND attempts < max_attempts THEN NULL ELSE now() END,
             retry_classification = CASE WHEN cancel_requested_at IS NOT NULL THEN 'canceled' ELSE 'worker_lost' END,
             error = CASE WHEN cancel_requested_at IS NOT NULL THEN ${CANCELED_ERROR} ELSE ${WORKER_LOST_ERROR} END,
             fencing_token = fencing_token + 1,
             updated_at = now()
       WHERE id = ${row.id} AND state = ANY(${fromStates("lostRetry")}) AND fencing_token = ${row.fencing_token}
         AND coalesce(heartbeat_at, claimed_at, updated_at) < now() - ${heartbeatTimeoutMs}::double precision * interval '1 millisecond'
      RETURNING state`;
    const state = updated[0]?.state;
    if (state === undefined || state === "pending") return state && { state };
    if (state === "failed") {
      await endWithHook(tx, row.id, (job) => jobKind(job.type).onWorkerLost(tx, job));
      return { state };
    }
    return { state, keys: await endWithHook(tx, row.id, (job) => jobKind(job.type).onCancel(tx, job)) };
  });
}
