// Events of the outbox → deliveries: each event (read in commit order by `events.seq`, after a
// persisted cursor) becomes one delivery per matching endpoint. Deliveries and the cursor's new
// position commit in one transaction that holds the cursor row's lock, so one worker at a time
// fans out, a crash before the commit redoes the batch, and (webhook_id, event_id) is unique, so
// a redone batch never duplicates a delivery. The attempts are queued after the commit; any that
// fail to queue are queued by the delivery reconciler from their rows.
import { type Db, type Event, newId, type Webhook } from "@capy/db";
import { enqueueDeliveryAttempts, type WebhookQueue } from "@capy/queue";
import { envelopeBody } from "@capy/webhooks";
import type { Logger } from "../logger.js";
import { type Periodic, runPeriodically } from "../maintenance/periodic.js";

export const FANOUT_CURSOR = "webhooks";
/** Events per transaction (ms of work each); a full batch is followed by the next at once. */
const BATCH = 500;

type NewDelivery = {
  id: string;
  webhookId: string;
  organizationId: string;
  projectId: string | null;
  eventId: string;
  eventType: string;
  body: string;
  nextAttemptAt: Date;
};

/** An active, not disabled endpoint receives an event of its organization (and project, if set) and of a type it subscribed to. */
export function matches(webhook: Webhook, event: Pick<Event, "organizationId" | "projectId" | "type" | "createdAt">): boolean {
  return (
    webhook.organizationId === event.organizationId &&
    (webhook.projectId === null || webhook.projectId === event.projectId) &&
    (webhook.events.includes("*") || webhook.events.includes(event.type)) &&
    // An endpoint created after the event does not get it.
    webhook.createdAt <= event.createdAt
  );
}

function deliveryOf(webhook: Webhook, event: Event, now: Date): NewDelivery {
  const body = envelopeBody({ id: event.id, type: event.type, created_at: event.createdAt.toISOString(), data: event.data });
  return {
    id: newId("dlv"),
    webhookId: webhook.id,
    organizationId: event.organizationId,
    projectId: event.projectId,
    eventId: event.id,
    eventType: event.type,
    body,
    nextAttemptAt: now,
  };
}

/**
 * Fans out the next batch of events. Returns the events read (0: caught up, or another worker
 * holds the cursor) and the deliveries created.
 */
export async function fanOutBatch(db: Db, limit = BATCH): Promise<{ events: number; deliveries: NewDelivery[] }> {
  return db.$transaction(async (tx) => {
    const [cursor] = await tx.$queryRaw<Array<{ seq: bigint }>>`SELECT seq FROM webhook_fanout_cursors WHERE name = ${FANOUT_CURSOR} FOR UPDATE SKIP LOCKED`;
    if (!cursor) return { events: 0, deliveries: [] };
    const events = await tx.event.findMany({ where: { seq: { gt: cursor.seq } }, orderBy: { seq: "asc" }, take: limit });
    if (events.length === 0) return { events: 0, deliveries: [] };
    const organizations = [...new Set(events.map((event) => event.organizationId))];
    const webhooks = await tx.webhook.findMany({ where: { organizationId: { in: organizations }, isActive: true, health: { not: "disabled" } } });
    const now = new Date();
    const deliveries = events.flatMap((event) => webhooks.filter((webhook) => matches(webhook, event)).map((webhook) => deliveryOf(webhook, event, now)));
    if (deliveries.length > 0) await tx.webhookDelivery.createMany({ data: deliveries, skipDuplicates: true });
    await tx.webhookFanoutCursor.update({ where: { name: FANOUT_CURSOR }, data: { seq: events.at(-1)!.seq } });
    return { events: events.length, deliveries };
  });
}

export interface FanOutOptions {
  db: Db;
  queue: WebhookQueue;
  intervalMs: number;
  log: Logger;
}

/** Fans out until caught up, now and then every interval. */
export function startFanOut(options: FanOutOptions): Periodic {
  const log = options.log.child({ component: "webhook-fanout" });
  return runPeriodically(async () => {
    try {
      for (;;) {
        const { events, deliveries } = await fanOutBatch(options.db);
        await enqueueDeliveryAttempts(
          options.queue,
          deliveries.map((d) => ({ id: d.id, attempts: 0, nextAttemptAt: d.nextAttemptAt })),
        ).catch((err: unknown) => log.warn({ err, deliveries: deliveries.length }, "deliveries not queued; the reconciler will queue them"));
        if (deliveries.length > 0) log.info({ events, deliveries: deliveries.length }, "events fanned out to webhooks");
        if (events < BATCH) return;
      }
    } catch (err) {
      log.warn({ err }, "webhook fan-out failed; retrying next interval");
    }
  }, options.intervalMs);
}
