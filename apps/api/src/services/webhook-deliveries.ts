// Deliveries of one webhook as its owner sees them: the list, a test ping, and redelivery. The
// API only writes the delivery row and queues its next attempt; the workers send it (and the
// reconciler re-queues it if Redis loses the job).
import { PING_EVENT, WEBHOOK_MAX_ATTEMPTS } from "@capy/contracts";
import { type Db, newId, type Webhook, type WebhookDelivery } from "@capy/db";
import { enqueueDeliveryAttempt, type WebhookQueue } from "@capy/queue";
import { envelopeBody } from "@capy/webhooks";
import type { FastifyBaseLogger } from "fastify";
import { AppError } from "../errors.js";

export function listDeliveries(db: Db, webhook: Webhook, limit: number): Promise<WebhookDelivery[]> {
  return db.webhookDelivery.findMany({ where: { webhookId: webhook.id }, orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: limit });
}

function requireDeliverable(webhook: Webhook): void {
  if (!webhook.isActive) throw new AppError("CONFLICT", "webhook is inactive; set is_active to true first");
  if (webhook.health === "disabled") throw new AppError("CONFLICT", "webhook is disabled after failing for days; set is_active to true to re-enable it");
}

/** Queues the attempt; a Redis failure is left to the reconciler (the row is already pending). */
async function enqueue(queue: WebhookQueue, log: FastifyBaseLogger, delivery: WebhookDelivery): Promise<void> {
  try {
    await enqueueDeliveryAttempt(queue, delivery);
  } catch (err) {
    log.warn({ err, delivery_id: delivery.id }, "delivery not queued; the reconciler will queue it");
  }
}

/** A `ping` event for this endpoint alone, delivered like any other. */
export async function sendPing(db: Db, queue: WebhookQueue, log: FastifyBaseLogger, webhook: Webhook): Promise<WebhookDelivery> {
  requireDeliverable(webhook);
  const now = new Date();
  const event = { id: newId("evt"), type: PING_EVENT, created_at: now.toISOString(), data: { webhook_id: webhook.id } };
  const delivery = await db.webhookDelivery.create({
    data: {
      id: newId("dlv"),
      webhookId: webhook.id,
      organizationId: webhook.organizationId,
      projectId: webhook.projectId,
      eventId: event.id,
      eventType: event.type,
      body: envelopeBody(event),
      attemptLimit: WEBHOOK_MAX_ATTEMPTS,
      nextAttemptAt: now,
    },
  });
  await enqueue(queue, log, delivery);
  return delivery;
}

/**
 * Sends a finished delivery again, with the same id and body and WEBHOOK_MAX_ATTEMPTS more
 * attempts. A pending one is already being sent: 409.
 */
export async function redeliver(db: Db, queue: WebhookQueue, log: FastifyBaseLogger, webhook: Webhook, deliveryId: string): Promise<WebhookDelivery> {
  const existing = await db.webhookDelivery.findFirst({ where: { id: deliveryId, webhookId: webhook.id } });
  if (!existing) throw new AppError("NOT_FOUND", "delivery not found");
  requireDeliverable(webhook);
  // Conditional, so two concurrent redeliveries re-arm it once.
  const { count } = await db.webhookDelivery.updateMany({
    where: { id: existing.id, state: { not: "pending" } },
    data: { state: "pending", attemptLimit: existing.attempts + WEBHOOK_MAX_ATTEMPTS, nextAttemptAt: new Date(), deliveredAt: null },
  });
  if (count === 0) throw new AppError("CONFLICT", "delivery is still pending");
  const delivery = await db.webhookDelivery.findUniqueOrThrow({ where: { id: existing.id } });
  await enqueue(queue, log, delivery);
  return delivery;
}
