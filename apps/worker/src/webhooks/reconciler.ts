// Deliveries survive Redis losing its data and workers dying: every pending delivery row must
// have its current attempt queued (waiting, delayed or active). This pass queues the attempts
// that are missing (Redis lost them, or queueing failed after a write) and replaces those that
// ended without recording a result (an attempt that threw, e.g. on a database outage).
import type { Db } from "@capy/db";
import { deliveryAttemptJobId, enqueueDeliveryAttempt, type WebhookQueue } from "@capy/queue";
import type { Logger } from "../logger.js";
import { type Periodic, runPeriodically } from "../maintenance/periodic.js";

/** Pending deliveries looked at per pass, soonest due first; the next pass takes the rest. */
const BATCH = 1_000;
const QUEUED_STATES = new Set(["waiting", "delayed", "active", "prioritized", "waiting-children"]);

export interface DeliveryReconcilerOptions {
  db: Db;
  queue: WebhookQueue;
  intervalMs: number;
  log: Logger;
}

/** Queues the lost attempts of pending deliveries; returns how many it queued. */
export async function reconcileDeliveries(db: Db, queue: WebhookQueue): Promise<number> {
  const pending = await db.webhookDelivery.findMany({
    where: { state: "pending" },
    select: { id: true, attempts: true, nextAttemptAt: true },
    orderBy: { nextAttemptAt: "asc" },
    take: BATCH,
  });
  let queued = 0;
  for (const delivery of pending) {
    const jobId = deliveryAttemptJobId(delivery.id, delivery.attempts);
    const state = await queue.getJobState(jobId);
    if (QUEUED_STATES.has(state)) continue;
    // Finished without a recorded result: a job id is used once, so remove it to queue it again.
    if (state === "completed" || state === "failed") await queue.remove(jobId);
    await enqueueDeliveryAttempt(queue, delivery);
    queued += 1;
  }
  return queued;
}

export function startDeliveryReconciler(options: DeliveryReconcilerOptions): Periodic {
  const log = options.log.child({ component: "delivery-reconciler" });
  return runPeriodically(async () => {
    try {
      const queued = await reconcileDeliveries(options.db, options.queue);
      if (queued > 0) log.info({ queued }, "queued lost webhook delivery attempts");
    } catch (err) {
      log.warn({ err }, "webhook delivery reconciliation failed; retrying next interval");
    }
  }, options.intervalMs);
}
