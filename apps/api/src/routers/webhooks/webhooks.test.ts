// The webhook endpoints against the built API process (target switches OFF, as in production,
// while test stacks turn them on by default):
// the secret shown once and sealed at rest, SSRF refusals at creation, events validation,
// tenancy of project keys, PATCH, rotation, deletion, test pings and redelivery rules.

import { Webhook, WebhookDelivery } from "@capy/contracts";
import { createApiKey } from "@capy/db";
import { createProducerConnection, createWebhookQueue, deliveryAttemptJobId, type WebhookQueue } from "@capy/queue";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, request, startHarness } from "../../test/harness.js";

let h: Harness;
let orgKey: string;
let redis: Redis;
let queue: WebhookQueue;
const PUBLIC_URL = "https://93.184.216.34/capy-hooks";

beforeAll(async () => {
  h = await startHarness({ WEBHOOK_ALLOW_INSECURE: "0", WEBHOOK_ALLOW_PRIVATE_TARGETS: "0" });
  orgKey = (await createApiKey(h.stack.db, { organizationId: h.tenant.organization_id, name: "org" })).plaintext;
  redis = createProducerConnection({ url: h.stack.redis.url, prefix: h.stack.redis.prefix });
  queue = createWebhookQueue(redis, h.stack.redis.prefix);
});
afterAll(async () => {
  await queue?.close();
  redis?.disconnect();
  await h?.stop();
});

const base = () => `/v1/organizations/${h.tenant.organization_id}/webhooks`;
const create = (json: Record<string, unknown>, key = orgKey) => request(h.api, "POST", base(), { key, json });
const webhookOf = (body: unknown) => Webhook.strict().parse((body as { webhook: unknown }).webhook);

describe("webhook endpoints", () => {
  it("creates an endpoint, shows its secret once and keeps it only sealed", async () => {
    const created = await create({ url: PUBLIC_URL, events: ["job.completed", "job.failed", "job.completed"], description: "ops" });
    expect(created.status).toBe(201);
    const { secret } = created.body as { secret: string };
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const webhook = webhookOf(created.body);
    expect(webhook).toMatchObject({
      url: PUBLIC_URL,
      events: ["job.completed", "job.failed"],
      description: "ops",
      is_active: true,
      health: "healthy",
      project_id: null,
    });
    expect(webhook.id).toMatch(/^whk_/);

    const row = await h.stack.db.webhook.findUniqueOrThrow({ where: { id: webhook.id } });
    expect(row.secretEncrypted).not.toContain(secret);
    expect(h.stack.keyring.open(row.secretEncrypted)).toBe(secret);

    const listed = await request(h.api, "GET", base(), { key: orgKey });
    const got = await request(h.api, "GET", `${base()}/${webhook.id}`, { key: orgKey });
    expect(JSON.stringify([listed.body, got.body])).not.toContain(secret);
    expect(webhookOf(got.body)).toEqual(webhook);

    // Audited with the URL's host only: URLs often carry a token.
    const audit = (await request(h.api, "GET", `/v1/organizations/${h.tenant.organization_id}/audit-events`, { key: orgKey })).body as {
      audit_events: Array<{ action: string; target_id: string; metadata: unknown }>;
    };
    expect(audit.audit_events.find((e) => e.action === "webhook.created" && e.target_id === webhook.id)?.metadata).toEqual({
      host: "93.184.216.34",
      events: ["job.completed", "job.failed"],
    });
  });

  it.each([
    ["http://93.184.216.34/hook", /must use https/],
    ["https://127.0.0.1/hook", /127\.0\.0\.1, loopback/],
    ["https://10.0.0.1/hook", /10\.0\.0\.1, private/],
    ["https://169.254.169.254/latest/meta-data", /169\.254\.169\.254, linkLocal/],
    ["https://[::1]/hook", /::1, loopback/],
    ["https://localhost:8443/hook", /non-public address .* loopback/],
  ])("refuses %s with 400", async (url, message) => {
    expectError(await create({ url, events: ["*"] }), 400, message);
    expect(await h.stack.db.webhook.count({ where: { url } })).toBe(0);
  });

  it("validates events", async () => {
    expectError(await create({ url: PUBLIC_URL, events: ["job.exploded"] }), 400, /unknown event type job\.exploded/);
    expectError(await create({ url: PUBLIC_URL, events: ["*", "job.failed"] }), 400, /cannot be combined/);
    expectError(await create({ url: PUBLIC_URL, events: [] }), 400);
  });

  it("limits project keys to their project's webhooks", async () => {
    const orgWide = webhookOf((await create({ url: PUBLIC_URL, events: ["*"] })).body);
    const own = await create({ url: PUBLIC_URL, events: ["*"] }, h.tenant.api_key);
    expect(own.status).toBe(201);
    expect(webhookOf(own.body).project_id).toBe(h.tenant.project_id);

    const sibling = await h.stack.createTenant("acme", "sibling", h.source.url);
    expectError(await create({ url: PUBLIC_URL, events: ["*"], project_id: sibling.project_id }, h.tenant.api_key), 404, "project not found");
    const listed = (await request(h.api, "GET", base(), { key: h.tenant.api_key })).body as { webhooks: Webhook[] };
    expect(listed.webhooks.map((w) => w.project_id)).toEqual([h.tenant.project_id]);
    expectError(await request(h.api, "GET", `${base()}/${orgWide.id}`, { key: h.tenant.api_key }), 404, "webhook not found");
    expectError(await request(h.api, "DELETE", `${base()}/${orgWide.id}`, { key: sibling.api_key }), 404, "webhook not found");
    expectError(await request(h.api, "GET", `${base()}/whk_missing`, { key: orgKey }), 404, "webhook not found");
  });

  it("changes, pauses, rotates and deletes", async () => {
    const webhook = webhookOf((await create({ url: PUBLIC_URL, events: ["*"] })).body);
    const path = `${base()}/${webhook.id}`;
    const patched = await request(h.api, "PATCH", path, { key: orgKey, json: { events: ["backup.completed"], description: null, is_active: false } });
    expect(webhookOf(patched.body)).toMatchObject({ events: ["backup.completed"], description: null, is_active: false });
    expectError(await request(h.api, "PATCH", path, { key: orgKey, json: { url: "https://10.0.0.1/x" } }), 400, /private/);
    expectError(await request(h.api, "PATCH", path, { key: orgKey, json: { is_active: "false" } }), 400);
    expectError(await request(h.api, "POST", `${path}/test`, { key: orgKey }), 409, /inactive/);

    const before = await h.stack.db.webhook.findUniqueOrThrow({ where: { id: webhook.id } });
    const rotated = await request(h.api, "POST", `${path}/rotate-secret`, { key: orgKey });
    expect(rotated.status).toBe(200);
    const after = await h.stack.db.webhook.findUniqueOrThrow({ where: { id: webhook.id } });
    expect(h.stack.keyring.open(after.secretEncrypted)).toBe((rotated.body as { secret: string }).secret);
    expect(after.previousSecretEncrypted).toBe(before.secretEncrypted);
    expect(after.previousSecretExpiresAt!.getTime() - Date.now()).toBeGreaterThan(23.9 * 3_600_000);

    expect(webhookOf((await request(h.api, "DELETE", path, { key: orgKey })).body).id).toBe(webhook.id);
    expectError(await request(h.api, "GET", path, { key: orgKey }), 404, "webhook not found");
  });

  it("queues a ping on /test, lists it, and refuses to redeliver it while pending", async () => {
    const webhook = webhookOf((await create({ url: PUBLIC_URL, events: ["*"] })).body);
    const path = `${base()}/${webhook.id}`;
    const tested = await request(h.api, "POST", `${path}/test`, { key: orgKey });
    expect(tested.status).toBe(201);
    const delivery = WebhookDelivery.strict().parse((tested.body as { delivery: unknown }).delivery);
    expect(delivery).toMatchObject({ event_type: "ping", state: "pending", attempts: 0, webhook_id: webhook.id });
    expect(await queue.getJobState(deliveryAttemptJobId(delivery.id, 0))).toBe("waiting");
    const row = await h.stack.db.webhookDelivery.findUniqueOrThrow({ where: { id: delivery.id } });
    expect(JSON.parse(row.body)).toEqual({ id: delivery.event_id, type: "ping", created_at: expect.any(String), data: { webhook_id: webhook.id } });

    const listed = (await request(h.api, "GET", `${path}/deliveries?limit=5`, { key: orgKey })).body as { deliveries: unknown[] };
    expect(listed.deliveries).toEqual([delivery]);
    expectError(await request(h.api, "POST", `${path}/deliveries/${delivery.id}/redeliver`, { key: orgKey }), 409, "delivery is still pending");
    expectError(await request(h.api, "POST", `${path}/deliveries/dlv_missing/redeliver`, { key: orgKey }), 404, "delivery not found");

    await h.stack.db.webhookDelivery.update({ where: { id: delivery.id }, data: { state: "failed", attempts: 8 } });
    const again = await request(h.api, "POST", `${path}/deliveries/${delivery.id}/redeliver`, { key: orgKey });
    expect(again.status).toBe(200);
    expect(await queue.getJobState(deliveryAttemptJobId(delivery.id, 8))).toBe("waiting");
    expect(await h.stack.db.webhookDelivery.findUniqueOrThrow({ where: { id: delivery.id } })).toMatchObject({ state: "pending", attemptLimit: 16 });
  });
});
