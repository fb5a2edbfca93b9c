// Webhook delivery end to end: the built API and real worker processes, real receivers on
// 127.0.0.1, Redis and Postgres. Signed pings verified with the SDK helper, retries with growing
// gaps, an endpoint down while the event happens, a worker SIGKILLed mid-delivery, 8 failures
// then redelivery, Redis losing the queue, secret rotation, and (with the switches off) refusal
// at delivery time and endpoints disabled after failing.

import { WEBHOOK_QUEUE } from "@capy/contracts";
import { createApiKey, encryptSecret, generateEncryptionKey, newId, type WebhookDelivery } from "@capy/db";
import { verifyWebhookSignature } from "@capy/sdk";
import { createTestStack, type ServiceProcess, startWebhookReceiver, type TestStack, type WebhookReceiver, waitFor } from "@capy/testing";
import { envelopeBody, generateWebhookSecret } from "@capy/webhooks";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: TestStack;
let orgKey: string;
let orgId: string;
let worker: ServiceProcess;
const receivers: WebhookReceiver[] = [];

const WORKER_ENV = {
  WEBHOOK_RETRY_BASE_MS: "300",
  WEBHOOK_RETRY_MAX_MS: "1000",
  WEBHOOK_RECONCILE_INTERVAL_MS: "300",
  WORKER_LOCK_DURATION_MS: "1000",
  WORKER_STALLED_INTERVAL_MS: "500",
};

beforeAll(async () => {
  stack = await createTestStack(WORKER_ENV);
  const tenant = await stack.createTenant("acme", "shop", stack.metadata.url);
  orgId = tenant.organization_id;
  orgKey = (await createApiKey(stack.db, { organizationId: orgId, name: "org" })).plaintext;
  [, worker] = await Promise.all([stack.startApi(), stack.startWorker()]);
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await stack?.stop();
});

async function api(method: string, path: string, json?: unknown) {
  const response = await fetch(`${stack.api!.baseUrl}/v1/organizations/${orgId}/webhooks${path}`, {
    method,
    headers: { authorization: `Bearer ${orgKey}`, ...(json === undefined ? {} : { "content-type": "application/json" }) },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function endpoint(): Promise<{ receiver: WebhookReceiver; id: string; secret: string }> {
  const receiver = await startWebhookReceiver();
  receivers.push(receiver);
  const created = await api("POST", "", { url: receiver.url, events: ["*"] });
  expect(created.status).toBe(201);
  return { receiver, id: created.body.webhook.id, secret: created.body.secret };
}

const ping = async (webhookId: string) => (await api("POST", `/${webhookId}/test`)).body.delivery.id as string;
const row = (id: string) => stack.db.webhookDelivery.findUniqueOrThrow({ where: { id } });
const settled = (id: string, state = "succeeded", timeoutMs = 30_000) =>
  waitFor(async () => ((await row(id)).state === state ? row(id) : undefined), { timeoutMs, what: `delivery ${id} ${state}` });

describe("webhook delivery", () => {
  it("delivers a signed ping that the SDK helper verifies", async () => {
    const { receiver, id, secret } = await endpoint();
    const deliveryId = await ping(id);
    const done = await settled(deliveryId);
    expect(done).toMatchObject({ attempts: 1, lastStatusCode: 200, lastError: null, lastResponseBody: "answered 200" });
    expect(done.deliveredAt).not.toBeNull();
    const [request] = receiver.received;
    expect(request).toMatchObject({ event: "ping", delivery: deliveryId });
    expect(JSON.parse(request!.body)).toEqual({ id: done.eventId, type: "ping", created_at: expect.any(String), data: { webhook_id: id } });
    const header = String(request!.headers["x-capydb-signature"]);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    await expect(verifyWebhookSignature({ secret, header, body: request!.body })).resolves.toBe(true);
    await expect(verifyWebhookSignature({ secret, header, body: `${request!.body} ` })).resolves.toBe(false);

    const listed = await api("GET", `/${id}/deliveries`);
    expect(listed.body.deliveries[0]).toMatchObject({ id: deliveryId, state: "succeeded", attempts: 1, last_status_code: 200, next_attempt_at: null });
  });

  it("retries 500, 500, 200 with growing gaps: three attempts, one delivery", async () => {
    const { receiver, id } = await endpoint();
    receiver.respond((_request, index) => (index < 2 ? 500 : 200));
    const deliveryId = await ping(id);
    const done = await settled(deliveryId);
    expect(done).toMatchObject({ attempts: 3, lastStatusCode: 200 });
    expect(receiver.received.map((r) => r.delivery)).toEqual([deliveryId, deliveryId, deliveryId]);
    expect(new Set(receiver.received.map((r) => r.body)).size).toBe(1);
    const [a, b, c] = receiver.received.map((r) => r.at) as [number, number, number];
    // Gaps: 300 ms then 900 ms, each ±20 %.
    expect(b - a).toBeGreaterThanOrEqual(240);
    expect(c - b).toBeGreaterThan(b - a);
    const webhook = await stack.db.webhook.findUniqueOrThrow({ where: { id } });
    expect(webhook).toMatchObject({ health: "healthy", failingSince: null });
  });

  it("delivers to an endpoint that was down when the event happened once it is back", async () => {
    const { receiver, id } = await endpoint();
    await receiver.down();
    const deliveryId = await ping(id);
    const failing = await waitFor(async () => ((await row(deliveryId)).attempts >= 2 ? row(deliveryId) : undefined), { what: "two failed attempts" });
    expect(failing).toMatchObject({ state: "pending", lastStatusCode: null, lastError: "could not connect (ECONNREFUSED)" });
    expect((await stack.db.webhook.findUniqueOrThrow({ where: { id } })).health).toBe("failing");
    await receiver.start();
    await settled(deliveryId);
    expect(receiver.received.map((r) => r.delivery)).toEqual([deliveryId]);
    expect((await stack.db.webhook.findUniqueOrThrow({ where: { id } })).health).toBe("healthy");
  });

  it("still delivers, with the same delivery id, when the worker is SIGKILLed mid-delivery", async () => {
    const { receiver, id } = await endpoint();
    receiver.respond((_request, index) => (index === 0 ? "hang" : 200));
    const deliveryId = await ping(id);
    await waitFor(() => receiver.received.length === 1, { what: "the first attempt to arrive" });
    worker.child.kill("SIGKILL");
    await worker.exited;
    worker = await stack.startWorker();
    const done = await settled(deliveryId);
    expect(receiver.received.map((r) => r.delivery)).toEqual([deliveryId, deliveryId]);
    expect(done.lastStatusCode).toBe(200);
  });

  it("fails a delivery after 8 failed attempts, and redelivers it on request", async () => {
    const { receiver, id } = await endpoint();
    receiver.respond(() => 503);
    const deliveryId = await ping(id);
    const failed = await settled(deliveryId, "failed", 60_000);
    expect(failed).toMatchObject({ attempts: 8, lastStatusCode: 503, lastError: "endpoint answered 503", nextAttemptAt: null });
    expect(receiver.received).toHaveLength(8);

    receiver.respond(() => 200);
    const redelivered = await api("POST", `/${id}/deliveries/${deliveryId}/redeliver`);
    expect(redelivered.body.delivery).toMatchObject({ id: deliveryId, state: "pending" });
    const done = await settled(deliveryId);
    expect(done.attempts).toBe(9);
    expect(receiver.received.map((r) => r.delivery)).toEqual(Array(9).fill(deliveryId));
  });

  it("re-queues pending deliveries after Redis lost the queue", async () => {
    const { receiver, id } = await endpoint();
    await receiver.down();
    const deliveryId = await ping(id);
    await waitFor(async () => (await row(deliveryId)).attempts >= 1, { what: "a failed attempt" });
    // Redis loses every key of the delivery queue (the delayed next attempt with them).
    const redis = new Redis(stack.redis.url);
    const keys = await redis.keys(`${stack.redis.prefix}:${WEBHOOK_QUEUE}:*`);
    expect(keys.length).toBeGreaterThan(0);
    await redis.del(...keys);
    redis.disconnect();
    // And a delivery whose row was written but never queued at all.
    const orphan = await insertDelivery(id, "job.completed");
    await receiver.start();
    await Promise.all([settled(deliveryId), settled(orphan.id)]);
    expect(receiver.received.map((r) => r.delivery).sort()).toEqual([deliveryId, orphan.id].sort());
  });

  it("signs with both secrets for 24 hours after a rotation", async () => {
    const { receiver, id, secret } = await endpoint();
    const rotated = await api("POST", `/${id}/rotate-secret`);
    const next = rotated.body.secret as string;
    expect(next).not.toBe(secret);
    await settled(await ping(id));
    const [request] = receiver.received;
    const header = String(request!.headers["x-capydb-signature"]);
    expect(header.match(/v1=/g)).toHaveLength(2);
    for (const key of [secret, next]) await expect(verifyWebhookSignature({ secret: key, header, body: request!.body })).resolves.toBe(true);
    await expect(verifyWebhookSignature({ secret: generateWebhookSecret(), header, body: request!.body })).resolves.toBe(false);
  });

  it("counts deliveries by outcome and their latency in the worker's metrics", async () => {
    const port = /"metrics_port":(\d+)/.exec(worker.logs())?.[1];
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const series of ["capy_webhook_deliveries_total", "capy_webhook_delivery_duration_seconds_count"]) {
      const line = metrics.split("\n").find((l) => l.startsWith(`${series}{`) && l.includes('outcome="succeeded"'));
      expect(Number(line?.split(" ").at(-1)), series).toBeGreaterThanOrEqual(1);
    }
  });
});

/** A delivery row as the fan-out writes it, left for the reconciler to queue. */
async function insertDelivery(webhookId: string, type: string, db = stack.db): Promise<WebhookDelivery> {
  const webhook = await db.webhook.findUniqueOrThrow({ where: { id: webhookId } });
  const event = { id: newId("evt"), type, created_at: new Date().toISOString(), data: { job: { id: newId("job") } } };
  return db.webhookDelivery.create({
    data: {
      id: newId("dlv"),
      webhookId,
      organizationId: webhook.organizationId,
      projectId: webhook.projectId,
      eventId: event.id,
      eventType: type,
      body: envelopeBody(event),
      nextAttemptAt: new Date(),
    },
  });
}

describe("webhook delivery with the target switches off", () => {
  let strict: TestStack;
  beforeAll(async () => {
    strict = await createTestStack({ ...WORKER_ENV, WEBHOOK_ALLOW_PRIVATE_TARGETS: "0", WEBHOOK_DISABLE_AFTER_MS: "1500" });
    await strict.startWorker();
  });
  afterAll(async () => strict?.stop());

  it("refuses at delivery a target that resolves privately, then disables the failing endpoint", async () => {
    const receiver = await startWebhookReceiver();
    receivers.push(receiver);
    const tenant = await strict.createTenant("acme", "shop", strict.metadata.url);
    // Created while the address was acceptable (as when DNS later changes): the row as the API writes it.
    const webhook = await strict.db.webhook.create({
      data: {
        id: newId("whk"),
        organizationId: tenant.organization_id,
        url: receiver.url,
        events: ["*"],
        secretEncrypted: strict.keyring.seal(generateWebhookSecret()),
      },
    });
    const first = await insertDelivery(webhook.id, "job.completed", strict.db);
    const refused = await waitFor(async () => {
      const current = await strict.db.webhookDelivery.findUniqueOrThrow({ where: { id: first.id } });
      return current.attempts >= 1 ? current : undefined;
    });
    expect(refused).toMatchObject({ lastStatusCode: null, lastError: "refused: resolves to a non-public address (127.0.0.1, loopback)" });

    const disabled = await waitFor(async () => {
      const current = await strict.db.webhook.findUniqueOrThrow({ where: { id: webhook.id } });
      return current.health === "disabled" ? current : undefined;
    });
    expect(disabled.failingSince).not.toBeNull();
    const ended = await waitFor(async () => {
      const current = await strict.db.webhookDelivery.findUniqueOrThrow({ where: { id: first.id } });
      return current.state === "failed" ? current : undefined;
    });
    expect(ended.lastError).toBe("not sent: the webhook is disabled");
    expect(receiver.received).toHaveLength(0);
  });

  it("does not send, nor blame the endpoint, when the secret cannot be decrypted", async () => {
    const tenant = await strict.createTenant("acme", "keyless", strict.metadata.url);
    // Sealed under another key than the workers' (a misconfigured CAPY_ENCRYPTION_KEY).
    const webhook = await strict.db.webhook.create({
      data: {
        id: newId("whk"),
        organizationId: tenant.organization_id,
        url: "https://93.184.216.34/hook",
        events: ["*"],
        secretEncrypted: encryptSecret(generateWebhookSecret(), generateEncryptionKey()),
      },
    });
    const delivery = await insertDelivery(webhook.id, "job.completed", strict.db);
    const tried = await waitFor(async () => {
      const current = await strict.db.webhookDelivery.findUniqueOrThrow({ where: { id: delivery.id } });
      return current.attempts >= 2 ? current : undefined;
    });
    expect(tried).toMatchObject({
      state: "pending",
      lastStatusCode: null,
      lastError: "not sent: the signing secret could not be decrypted (CAPY_ENCRYPTION_KEY)",
    });
    expect(await strict.db.webhook.findUniqueOrThrow({ where: { id: webhook.id } })).toMatchObject({ health: "healthy", failingSince: null });
    expect(strict.workers[0]!.logs()).toContain("webhook secret cannot be decrypted");
  });
});
