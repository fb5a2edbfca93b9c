// The webhook delivery queue: one BullMQ job per delivery attempt, named by delivery and attempt
// number, so re-adding an attempt that is already queued is a no-op and every new attempt (a
// retry, a redelivery) gets a fresh job. The delivery row in Postgres is the source of truth;
// the reconciler re-adds attempts Redis lost.

import { WEBHOOK_QUEUE, type WebhookDeliveryPayload } from "@capy/contracts";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";

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

export interface QueuedDelivery {
  id: string;
  /** Attempts made so far: the attempt queued is the next one. */
  attempts: number;
  /** When it is due; null or past = now. */
  nextAttemptAt: Date | null;
}

function attemptJob(delivery: QueuedDelivery) {
  return {
    name: "deliver" as const,
    data: { deliveryId: delivery.id, attempt: delivery.attempts },
    opts: {
      jobId: deliveryAttemptJobId(delivery.id, delivery.attempts),
      delay: delivery.nextAttemptAt ? Math.max(0, delivery.nextAttemptAt.getTime() - Date.now()) : 0,
      // One BullMQ attempt per job: retries are new jobs scheduled from the row (backoff lives there).
      attempts: 1,
      removeOnComplete: { age: 3_600 },
      removeOnFail: { age: 24 * 3_600 },
    },
  };
}

/** Queues the delivery's next attempt, due at nextAttemptAt (idempotent per attempt). */
export async function enqueueDeliveryAttempt(queue: WebhookQueue, delivery: QueuedDelivery): Promise<void> {
  const job = attemptJob(delivery);
  await queue.add(job.name, job.data, job.opts);
}

/** The same for many deliveries in one Redis round trip (a fan-out batch). */
export async function enqueueDeliveryAttempts(queue: WebhookQueue, deliveries: readonly QueuedDelivery[]): Promise<void> {
  if (deliveries.length > 0) await queue.addBulk(deliveries.map(attemptJob));
}
