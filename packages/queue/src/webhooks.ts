// The webhook delivery queue: one BullMQ job per delivery attempt, named by delivery and attempt
// number, so re-adding an attempt that is already queued is a no-op and every new attempt (a
// retry, a redelivery) gets a fresh job. The delivery row in Postgres is the source of truth;
// the reconciler re-adds attempts Redis lost.
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { WEBHOOK_QUEUE, type WebhookDeliveryPayload } from "@capy/contracts";

export type WebhookQueue = Queue<WebhookDeliveryPayload, void, "deliver">;

export function createWebhookQueue(connection: Redis, prefix: string): WebhookQueue {
  const queue: WebhookQueue = new Queue(WEBHOOK_QUEUE, { connection, prefix });
  queue.on("error", () => {});
  return queue;
}

/** BullMQ job id of one attempt of a delivery. */
export function deliveryAttemptJobId(deliveryId: string, attempt: number): string {
  return `${deliveryId}-${attempt}`;
}

/** Queues attempt `attempt` (0-based count of attempts made before it) to run at `at` (or now). */
export async function enqueueDeliveryAttempt(queue: WebhookQueue, delivery: { id: string; attempts: number; nextAttemptAt: Date | null }): Promise<void> {
  const delay = delivery.nextAttemptAt ? Math.max(0, delivery.nextAttemptAt.getTime() - Date.now()) : 0;
  await queue.add(
    "deliver",
    { deliveryId: delivery.id, attempt: delivery.attempts },
    {
      jobId: deliveryAttemptJobId(delivery.id, delivery.attempts),
      delay,
      // One BullMQ attempt per job: retries are new jobs scheduled from the row (backoff lives there).
      attempts: 1,
      removeOnComplete: { age: 3_600 },
      removeOnFail: { age: 24 * 3_600 },
    },
  );
}
