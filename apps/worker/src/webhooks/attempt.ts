// One attempt of one delivery, as the delivery queue hands it out. The row decides: a payload
// whose attempt number no longer matches the row (already made, or redelivered since) is skipped,
// and every write is fenced on (state pending, attempts = this attempt), so a stale or duplicate
// attempt never overwrites a newer result. After a failure the next attempt is queued with its
// backoff; if queueing fails, the reconciler queues it from the row.
import { WEBHOOK_QUEUE, type WebhookDeliveryPayload } from "@capy/contracts";
import type { Db, Keyring, Prisma, Webhook, WebhookDelivery } from "@capy/db";
import { enqueueDeliveryAttempt, type WebhookQueue } from "@capy/queue";
import { type AttemptResult, type BackoffPolicy, deliveryHeaders, retryDelayMs, signatureHeader, type WebhookSender } from "@capy/webhooks";
import type { Logger } from "../logger.js";
import type { DeliveryOutcome, WorkerMetrics } from "../metrics.js";
import { recordEndpointFailure, recordEndpointSuccess } from "./health.js";

export interface AttemptDeps {
  db: Db;
  queue: WebhookQueue;
  sender: WebhookSender;
  keyring: Keyring | undefined;
  backoff: BackoffPolicy;
  disableAfterMs: number;
  metrics?: WorkerMetrics;
  log: Logger;
}

/** The secrets signing now: the current one, and the previous one during a rotation's overlap. */
export function signingSecrets(webhook: Webhook, keyring: Keyring | undefined, now = new Date()): string[] {
  if (!keyring) throw new Error("CAPY_ENCRYPTION_KEY is not set: webhook secrets cannot be decrypted");
  const secrets = [keyring.open(webhook.secretEncrypted)];
  if (webhook.previousSecretEncrypted && webhook.previousSecretExpiresAt && webhook.previousSecretExpiresAt > now) {
    secrets.push(keyring.open(webhook.previousSecretEncrypted));
  }
  return secrets;
}

export async function attemptDelivery(deps: AttemptDeps, payload: WebhookDeliveryPayload): Promise<void> {
  const delivery = await deps.db.webhookDelivery.findUnique({ where: { id: payload.deliveryId }, include: { webhook: true } });
  // Deleted with its webhook, finished, or this attempt already made: nothing to do.
  if (delivery?.state !== "pending" || delivery.attempts !== payload.attempt) return;
  const log = deps.log.child({ delivery_id: delivery.id, webhook_id: delivery.webhookId, attempt: delivery.attempts + 1 });
  const { webhook } = delivery;
  if (!webhook.isActive || webhook.health === "disabled") {
    // Counted as an attempt, so that a redelivery later queues a fresh attempt number.
    await finish(deps.db, delivery, {
      state: "failed",
      attempts: delivery.attempts + 1,
      nextAttemptAt: null,
      lastError: `not sent: the webhook is ${webhook.isActive ? "disabled" : "inactive"}`,
    });
    return;
  }
  const secrets = unsealSecrets(webhook, deps.keyring, log);
  // Our own misconfiguration is a failed attempt (retried, then failed and redeliverable) but
  // not the endpoint's failure: its health is left alone.
  const result = secrets ? await send(deps, delivery, webhook, secrets) : NOT_SIGNED;
  const outcome = await record(deps, delivery, result, secrets !== undefined);
  deps.metrics?.webhookDeliveries.inc({ outcome });
  deps.metrics?.webhookLatency.observe({ outcome }, result.responseMs / 1000);
  log.info({ outcome, status_code: result.statusCode, response_ms: result.responseMs, error: result.error, queue: WEBHOOK_QUEUE }, "webhook delivery attempt");
}

const NOT_SIGNED: AttemptResult = {
  ok: false,
  statusCode: null,
  responseMs: 0,
  error: "not sent: the signing secret could not be decrypted (CAPY_ENCRYPTION_KEY)",
  responseBody: null,
};

function unsealSecrets(webhook: Webhook, keyring: Keyring | undefined, log: Logger): string[] | undefined {
  try {
    return signingSecrets(webhook, keyring);
  } catch (err) {
    log.error({ err: (err as Error).message }, "webhook secret cannot be decrypted; check CAPY_ENCRYPTION_KEY");
    return undefined;
  }
}

/** One signed POST; the signature's timestamp is the send time. */
function send(deps: AttemptDeps, delivery: WebhookDelivery, webhook: Webhook, secrets: string[]): Promise<AttemptResult> {
  const signature = signatureHeader(secrets, Math.floor(Date.now() / 1000), delivery.body);
  return deps.sender.send(webhook.url, delivery.body, deliveryHeaders({ eventType: delivery.eventType, deliveryId: delivery.id, signature }));
}

/** Writes the attempt's result (fenced) and, if it says anything about the endpoint, its health; queues the next attempt. */
async function record(
  deps: AttemptDeps,
  delivery: WebhookDelivery & { webhook: Webhook },
  result: AttemptResult,
  aboutEndpoint: boolean,
): Promise<DeliveryOutcome> {
  const health = delivery.webhook.health;
  const attempts = delivery.attempts + 1;
  const outcome: DeliveryOutcome = result.ok ? "succeeded" : attempts >= delivery.attemptLimit ? "failed" : "retrying";
  const nextAttemptAt = outcome === "retrying" ? new Date(Date.now() + retryDelayMs(attempts, deps.backoff)) : null;
  // One transaction: whoever reads the delivery's outcome reads the endpoint's health with it.
  const recorded = await deps.db.$transaction(async (tx) => {
    const written = await finish(tx, delivery, {
      state: outcome === "retrying" ? "pending" : outcome,
      attempts,
      lastStatusCode: result.statusCode,
      lastError: result.error,
      lastResponseMs: result.responseMs,
      lastResponseBody: result.responseBody,
      nextAttemptAt,
      deliveredAt: result.ok ? new Date() : null,
    });
    if (!written) return false;
    // A success on an endpoint already healthy writes nothing (a failure racing it is undone by the next success).
    if (result.ok && health !== "healthy") await recordEndpointSuccess(tx, delivery.webhookId);
    else if (!result.ok && aboutEndpoint) await recordEndpointFailure(tx, delivery.webhookId, deps.disableAfterMs);
    return true;
  });
  if (!recorded) return outcome;
  if (nextAttemptAt) {
    await enqueueDeliveryAttempt(deps.queue, { id: delivery.id, attempts, nextAttemptAt }).catch((err: unknown) =>
      deps.log.warn({ err, delivery_id: delivery.id }, "next attempt not queued; the reconciler will queue it"),
    );
  }
  return outcome;
}

/** The fenced write: only while the row is still pending at this attempt. False if it moved on. */
async function finish(db: Prisma.TransactionClient, delivery: WebhookDelivery, data: Partial<WebhookDelivery>): Promise<boolean> {
  const { count } = await db.webhookDelivery.updateMany({ where: { id: delivery.id, state: "pending", attempts: delivery.attempts }, data });
  return count === 1;
}
