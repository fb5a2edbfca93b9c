// From the outbox to the customer's endpoint, with real backups: a backup's job.completed and
// backup.completed arrive signed (verified with the SDK helper), a failing backup sends
// job.failed, a cancel sends job.canceled, event filters and project-limited endpoints get only
// what they asked for, and an org-wide receiver deduplicating by event id sees exactly the outbox.
import { randomBytes } from "node:crypto";
import { createApiKey, type Webhook } from "@capy/db";
import { verifyWebhookSignature } from "@capy/sdk";
import {
  createEmptyDatabase,
  createTestStack,
  startWebhookReceiver,
  type TestDatabase,
  type TestStack,
  type WebhookReceiver,
  waitFor,
  withAdminClient,
} from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { matches } from "./fanout.js";

let stack: TestStack;
let source: TestDatabase;
let orgKey: string;
let tenant: Awaited<ReturnType<TestStack["createTenant"]>>;
let broken: Awaited<ReturnType<TestStack["createTenant"]>>;
const receivers: WebhookReceiver[] = [];

beforeAll(async () => {
  [stack, source] = await Promise.all([createTestStack({ WEBHOOK_FANOUT_INTERVAL_MS: "200" }), createEmptyDatabase()]);
  await withAdminClient((client) => client.query("CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 100) g"), source.url);
  tenant = await stack.createTenant("acme", "shop", source.url);
  const missing = new URL(source.url);
  missing.pathname = `/capy_missing_${randomBytes(4).toString("hex")}`;
  broken = await stack.createTenant("acme", "broken", missing.toString());
  orgKey = (await createApiKey(stack.db, { organizationId: tenant.organization_id, name: "org" })).plaintext;
  await Promise.all([stack.startApi(), stack.startWorker()]);
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await stack?.stop();
  await source?.drop();
});

async function call(method: string, path: string, key: string, json?: unknown) {
  const response = await fetch(`${stack.api!.baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(json === undefined ? {} : { "content-type": "application/json" }) },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  return (await response.json()) as Record<string, unknown>;
}

async function endpoint(body: Record<string, unknown>, key = orgKey) {
  const receiver = await startWebhookReceiver();
  receivers.push(receiver);
  const created = await call("POST", `/v1/organizations/${tenant.organization_id}/webhooks`, key, { url: receiver.url, ...body });
  return { receiver, secret: created.secret as string, webhook: created.webhook as { id: string } };
}

const finished = (key: string, jobId: string) =>
  waitFor(
    async () => {
      const { job } = await call("GET", `/v1/jobs/${jobId}`, key);
      return ["completed", "failed", "canceled"].includes(job.state) ? job : undefined;
    },
    { timeoutMs: 120_000, what: `job ${jobId} to finish` },
  );

const events = (receiver: WebhookReceiver) =>
  receiver.received.map((r) => JSON.parse(r.body) as { id: string; type: string; data: { id: string; project_id: string } });

describe("webhook fan-out", () => {
  it("delivers job and backup outcomes to the endpoints that asked for them, and only those", async () => {
    const all = await endpoint({ events: ["*"] });
    const failures = await endpoint({ events: ["job.failed"] });
    const brokenOnly = await endpoint({ events: ["*"], project_id: broken.project_id });

    const ok = await call("POST", `/v1/projects/${tenant.project_id}/backups`, tenant.api_key, { label: "hooks" });
    const bad = await call("POST", `/v1/projects/${broken.project_id}/backups`, broken.api_key);
    expect((await finished(tenant.api_key, ok.job.id)).state).toBe("completed");
    expect((await finished(broken.api_key, bad.job.id)).state).toBe("failed");
    // Cancel a pending job: the queue may already hold it, but the cancel wins while it is pending.
    const doomed = await call("POST", `/v1/projects/${tenant.project_id}/backups`, tenant.api_key);
    const canceled = await call("POST", `/v1/jobs/${doomed.job.id}/cancel`, tenant.api_key);
    expect(["canceled", "running"]).toContain(canceled.job.state);
    const doomedEnd = await finished(tenant.api_key, doomed.job.id);

    const expected = ["job.completed", "backup.completed", "job.failed", doomedEnd.state === "canceled" ? "job.canceled" : "job.completed"];
    await waitFor(
      () =>
        expected.every((type) => events(all.receiver).some((e) => e.type === type)) &&
        failures.receiver.received.length >= 1 &&
        brokenOnly.receiver.received.length >= 1,
      {
        timeoutMs: 60_000,
        what: "every event at the receivers",
      },
    );

    const completed = all.receiver.received.find((r) => r.event === "job.completed" && JSON.parse(r.body).data.id === ok.job.id)!;
    expect(JSON.parse(completed.body)).toMatchObject({ type: "job.completed", data: { id: ok.job.id, state: "completed" } });
    expect(Object.keys(JSON.parse(completed.body))).toEqual(["id", "type", "created_at", "data"]);
    await expect(verifyWebhookSignature({ secret: all.secret, header: String(completed.headers["x-capydb-signature"]), body: completed.body })).resolves.toBe(
      true,
    );
    const backup = events(all.receiver).find((e) => e.type === "backup.completed")!;
    expect(backup.data).toMatchObject({ project_id: tenant.project_id, state: "completed", verification_state: "verified" });
    expect(events(all.receiver).find((e) => e.type === "job.failed")!.data).toMatchObject({ id: bad.job.id, state: "failed" });
    if (doomedEnd.state === "canceled") expect(events(all.receiver).find((e) => e.type === "job.canceled")!.data.id).toBe(doomed.job.id);

    // Filters: job.failed only; the broken project's events only.
    expect(failures.receiver.received.map((r) => r.event)).toEqual(["job.failed"]);
    expect(events(brokenOnly.receiver).map((e) => [e.type, e.data.project_id])).toEqual([["job.failed", broken.project_id]]);

    // Deduplicated by event id, the org-wide receiver saw exactly the outbox.
    const outbox = await stack.db.event.findMany({ where: { organizationId: tenant.organization_id }, orderBy: { seq: "asc" } });
    await waitFor(() => new Set(events(all.receiver).map((e) => e.id)).size === outbox.length, { what: "every outbox event at the org-wide receiver" });
    expect([...new Set(events(all.receiver).map((e) => e.id))].sort()).toEqual(outbox.map((e) => e.id).sort());
    const deliveries = await stack.db.webhookDelivery.findMany({ where: { webhookId: all.webhook.id } });
    expect(deliveries.every((d) => d.state === "succeeded")).toBe(true);
    expect(deliveries).toHaveLength(outbox.length);
  });

  it("lets a project key's endpoint see only its project's events", async () => {
    const own = await endpoint({ events: ["job.failed", "job.completed"] }, broken.api_key);
    expect(own.webhook).toMatchObject({ project_id: broken.project_id });
    const ok = await call("POST", `/v1/projects/${tenant.project_id}/backups`, tenant.api_key);
    const bad = await call("POST", `/v1/projects/${broken.project_id}/backups`, broken.api_key);
    await Promise.all([finished(tenant.api_key, ok.job.id), finished(broken.api_key, bad.job.id)]);
    await waitFor(() => own.receiver.received.length >= 1, { what: "the project's event" });
    // The other project's job.completed fanned out in the same pass or earlier: give it no excuse.
    await waitFor(
      async () =>
        (await stack.db.webhookFanoutCursor.findUniqueOrThrow({ where: { name: "webhooks" } })).seq >=
        (await stack.db.event.aggregate({ _max: { seq: true } }))._max.seq!,
      { what: "the fan-out to catch up" },
    );
    expect(events(own.receiver).map((e) => [e.type, e.data.id])).toEqual([["job.failed", bad.job.id]]);
  });
});

describe("matches", () => {
  const webhook = (over: Partial<Webhook>): Webhook =>
    ({ organizationId: "org_a", projectId: null, events: ["*"], createdAt: new Date(1_000), isActive: true, health: "healthy", ...over }) as Webhook;
  const event = { organizationId: "org_a", projectId: "prj_1", type: "job.failed", createdAt: new Date(2_000) };

  it("filters by organization, project, type and creation time", () => {
    expect(matches(webhook({}), event)).toBe(true);
    expect(matches(webhook({ organizationId: "org_b" }), event)).toBe(false);
    expect(matches(webhook({ projectId: "prj_1" }), event)).toBe(true);
    expect(matches(webhook({ projectId: "prj_2" }), event)).toBe(false);
    expect(matches(webhook({ events: ["job.failed", "job.completed"] }), event)).toBe(true);
    expect(matches(webhook({ events: ["job.completed"] }), event)).toBe(false);
    expect(matches(webhook({ createdAt: new Date(3_000) }), event)).toBe(false);
  });
});
