// Public shapes of webhook endpoints and their deliveries, the event types they subscribe to,
// and the delivery queue's payload. Snake_case, absent values null, exactly as the REST API
// returns them.
import { z } from "zod";
import { EVENT_TYPES } from "./events.js";

import { Timestamp as timestamp } from "./timestamp.js";

/**
 * Event types an endpoint can subscribe to: every type of the outbox (events.ts), so a new event
 * type is deliverable as soon as it exists. `ping` is sent by /test only.
 */
export const WEBHOOK_EVENT_TYPES = EVENT_TYPES;
export const WebhookEventType = z.enum(WEBHOOK_EVENT_TYPES);
export type WebhookEventType = z.infer<typeof WebhookEventType>;
export const PING_EVENT = "ping";

export const WEBHOOK_HEALTHS = ["healthy", "failing", "disabled"] as const;
export const WebhookHealth = z.enum(WEBHOOK_HEALTHS);
export type WebhookHealth = z.infer<typeof WebhookHealth>;

export const WEBHOOK_DELIVERY_STATES = ["pending", "succeeded", "failed"] as const;
export const WebhookDeliveryState = z.enum(WEBHOOK_DELIVERY_STATES);
export type WebhookDeliveryState = z.infer<typeof WebhookDeliveryState>;

export const Webhook = z
  .object({
    id: z.string().describe("`whk_…`"),
    organization_id: z.string(),
    project_id: z.string().nullable().describe("Only this project's events when set; every project's otherwise"),
    url: z.string(),
    events: z.array(z.string()).describe('Event types delivered, or ["*"] for all'),
    description: z.string().nullable(),
    is_active: z.boolean(),
    health: WebhookHealth.describe(
      "failing after a failed attempt, until one succeeds; disabled after failing for 3 days straight (PATCH is_active true to re-enable)",
    ),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .meta({ id: "Webhook" });
export type Webhook = z.infer<typeof Webhook>;

export const WebhookDelivery = z
  .object({
    id: z.string().describe("`dlv_…`, sent as X-CapyDB-Delivery on every attempt (dedupe by it)"),
    webhook_id: z.string(),
    event_id: z.string(),
    event_type: z.string(),
    state: WebhookDeliveryState,
    attempts: z.number().int(),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    last_response_ms: z.number().int().nullable(),
    // Beyond the platform's shape: what the endpoint answered, for debugging it.
    last_response_body: z.string().nullable().describe("At most the first 1 KiB of the last response body"),
    next_attempt_at: timestamp.nullable(),
    created_at: timestamp,
    delivered_at: timestamp.nullable(),
  })
  .meta({ id: "WebhookDelivery" });
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

/** BullMQ queue of delivery attempts, consumed by the workers. */
export const WEBHOOK_QUEUE = "capy-webhooks";

/** The queue payload: which delivery, and which attempt (stale attempts are skipped). */
export const WebhookDeliveryPayload = z.object({ deliveryId: z.string().startsWith("dlv_"), attempt: z.number().int().nonnegative() });
export type WebhookDeliveryPayload = z.infer<typeof WebhookDeliveryPayload>;

/** Attempts of one delivery before it is `failed` (a redelivery allows as many again). */
export const WEBHOOK_MAX_ATTEMPTS = 8;
