// The webhook side of a chaos run: one organization-wide endpoint (every event type) on a real
// receiver that answers 500 to a seeded share of first attempts, so retries happen too. After the
// run, what the receiver got is compared with the outbox: every terminal job's event must have
// arrived at least once, and nothing that is not in the outbox may have (deduplicated by event
// id, the receiver saw exactly the outbox).
import { randomBytes } from "node:crypto";
import { type Db, type Keyring, newId } from "@capy/db";
import type pg from "pg";
import { waitFor } from "../wait.js";
import { startWebhookReceiver, type WebhookReceiver } from "../webhook-receiver.js";
import type { Random } from "./random.js";

/** Worker settings: local targets allowed, short intervals so Redis restarts and retries settle within seconds. */
export const CHAOS_WEBHOOK_ENV: Record<string, string> = {
  WEBHOOK_ALLOW_INSECURE: "1",
  WEBHOOK_ALLOW_PRIVATE_TARGETS: "1",
  WEBHOOK_FANOUT_INTERVAL_MS: "250",
  WEBHOOK_RETRY_BASE_MS: "200",
  WEBHOOK_RETRY_MAX_MS: "2000",
  WEBHOOK_RECONCILE_INTERVAL_MS: "1000",
};

export interface ReceivedEvent {
  id: string;
  type: string;
  /** The job's or backup's id. */
  subject: string;
  delivery: string;
}

export interface ChaosWebhooks {
  /** Every request the receiver got (duplicates included). */
  received: ReceivedEvent[];
  /** The outbox at the end: event id, type, subject. */
  outbox: Array<{ id: string; type: string; subject: string }>;
  /**
   * Jobs terminal when the collection began (read before the outbox, so their events are in
   * it): each must have had its job.<state> event delivered. Jobs ending later (a run past its
   * deadline) are not counted here.
   */
  terminalJobs: Array<{ id: string; state: string }>;
  /** The receiver had every outbox event before the deadline. */
  caughtUp: boolean;
  /** How many first attempts the receiver answered 500. */
  refusedFirstAttempts: number;
}

export async function startChaosWebhook(
  db: Db,
  organizationId: string,
  keyring: Keyring,
  rng: Random,
): Promise<{ receiver: WebhookReceiver; refused: Set<string> }> {
  const receiver = await startWebhookReceiver();
  const refused = new Set<string>();
  const seen = new Set<string>();
  receiver.respond((request) => {
    const first = !seen.has(request.delivery);
    seen.add(request.delivery);
    if (first && rng.next() < 0.2) {
      refused.add(request.delivery);
      return 500;
    }
    return 200;
  });
  await db.webhook.create({
    data: {
      id: newId("whk"),
      organizationId,
      url: receiver.url,
      events: ["*"],
      description: "chaos",
      secretEncrypted: keyring.seal(`whsec_${randomBytes(32).toString("base64url")}`),
    },
  });
  return { receiver, refused };
}

/** Waits (up to `timeoutMs`) for the receiver to hold every outbox event, then reports. */
export async function collectChaosWebhooks(meta: pg.Client, receiver: WebhookReceiver, refused: Set<string>, timeoutMs: number): Promise<ChaosWebhooks> {
  const received = () =>
    receiver.received.map((request) => {
      const body = JSON.parse(request.body) as { id: string; type: string; data: { id: string } };
      return { id: body.id, type: body.type, subject: body.data.id, delivery: request.delivery };
    });
  const { rows: terminalJobs } = await meta.query<{ id: string; state: string }>(
    "SELECT id, state FROM jobs WHERE state IN ('completed', 'failed', 'canceled')",
  );
  const outbox = async () =>
    (await meta.query<{ id: string; type: string; subject: string }>("SELECT id, type, data->>'id' AS subject FROM events ORDER BY seq")).rows;
  const caughtUp = await waitFor(
    async () => {
      const ids = new Set(received().map((event) => event.id));
      return (await outbox()).every((event) => ids.has(event.id));
    },
    { timeoutMs, intervalMs: 250, what: "the webhook receiver to hold every outbox event" },
  ).then(
    () => true,
    () => false,
  );
  return { received: received(), outbox: await outbox(), terminalJobs, caughtUp, refusedFirstAttempts: refused.size };
}
