// Idempotency-Key on POST /v1/projects/{id}/backups, against the built API process.

import { Job } from "@capy/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, request, startHarness, type Tenant } from "../../test/harness.js";

let h: Harness;
let other: Tenant;

beforeAll(async () => {
  h = await startHarness();
  other = await h.stack.createTenant("acme", "other", h.source.url);
});
afterAll(async () => {
  await h?.stop();
});

const create = (tenant: Tenant, key?: string, json: unknown = {}) =>
  request(h.api, "POST", `/v1/projects/${tenant.project_id}/backups`, {
    key: tenant.api_key,
    json,
    headers: key === undefined ? {} : { "idempotency-key": key },
  });
const jobOf = (body: unknown) => Job.strict().parse((body as { job: unknown }).job);
const rowsWithKey = (projectId: string, key: string) => h.stack.db.job.count({ where: { projectId, idempotencyKey: key } });

describe("Idempotency-Key", () => {
  it("answers a repeat with the job the first request created", async () => {
    const first = await create(h.tenant, "retry-me-1", { label: "nightly" });
    expect(first.status).toBe(201);
    const again = await create(h.tenant, "retry-me-1", { label: "nightly" });
    expect(again.status).toBe(201);
    expect(jobOf(again.body)).toEqual(jobOf(first.body));
    expect(await rowsWithKey(h.tenant.project_id, "retry-me-1")).toBe(1);
    // One audit event: the repeat created nothing.
    const audits = await h.stack.db.auditEvent.count({ where: { action: "backup.created", targetId: jobOf(first.body).id } });
    expect(audits).toBe(1);
  });

  it("creates a new job without a key, and for another key", async () => {
    const a = jobOf((await create(h.tenant)).body);
    const b = jobOf((await create(h.tenant)).body);
    const c = jobOf((await create(h.tenant, "retry-me-2")).body);
    expect(new Set([a.id, b.id, c.id]).size).toBe(3);
  });

  it("is per project: the same key in another project creates another job", async () => {
    const mine = jobOf((await create(h.tenant, "shared-key")).body);
    const theirs = await create(other, "shared-key");
    expect(theirs.status).toBe(201);
    expect(jobOf(theirs.body).id).not.toBe(mine.id);
    expect(jobOf(theirs.body).project_id).toBe(other.project_id);
  });

  it("creates exactly one job for concurrent requests with the same key", async () => {
    const responses = await Promise.all(Array.from({ length: 12 }, () => create(h.tenant, "concurrent-key")));
    expect(responses.map((response) => response.status)).toEqual(Array(12).fill(201));
    expect(new Set(responses.map((response) => jobOf(response.body).id)).size).toBe(1);
    expect(await rowsWithKey(h.tenant.project_id, "concurrent-key")).toBe(1);
  });

  it("rejects a malformed key with 400 and creates nothing", async () => {
    const before = await h.stack.db.job.count();
    expectError(await create(h.tenant, "x".repeat(256)), 400, "Idempotency-Key header must be at most 255 characters");
    expectError(await create(h.tenant, "tab\there"), 400, "Idempotency-Key header must be printable ASCII");
    expectError(await create(h.tenant, "caf\u00e9"), 400, "Idempotency-Key header must be printable ASCII");
    expect(await h.stack.db.job.count()).toBe(before);
    // 255 printable characters are fine.
    expect((await create(h.tenant, "k".repeat(255))).status).toBe(201);
  });

  it("lets a key older than 24 hours create a new job", async () => {
    const old = jobOf((await create(h.tenant, "daily-key")).body);
    await h.stack.db.job.update({ where: { id: old.id }, data: { createdAt: new Date(Date.now() - 25 * 3_600_000) } });
    const fresh = await create(h.tenant, "daily-key");
    expect(fresh.status).toBe(201);
    expect(jobOf(fresh.body).id).not.toBe(old.id);
    // The old job keeps everything but the key; the new one holds it now.
    const oldRow = await h.stack.db.job.findUniqueOrThrow({ where: { id: old.id } });
    expect(oldRow.idempotencyKey).toBeNull();
    expect(await rowsWithKey(h.tenant.project_id, "daily-key")).toBe(1);
    expect(jobOf((await create(h.tenant, "daily-key")).body).id).toBe(jobOf(fresh.body).id);
  });

  it("is documented as a header of the operation", async () => {
    const document = (await request(h.api, "GET", "/v1/openapi.json")).body as {
      paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string }> }>>;
    };
    expect(document.paths["/v1/projects/{id}/backups"]?.post?.parameters).toContainEqual(expect.objectContaining({ in: "header", name: "Idempotency-Key" }));
  });

  it("applies to the native tRPC endpoint too", async () => {
    const call = () =>
      fetch(`${h.api.baseUrl}/trpc/backups.create`, {
        method: "POST",
        headers: { authorization: `Bearer ${h.tenant.api_key}`, "content-type": "application/json", "idempotency-key": "trpc-key" },
        body: JSON.stringify({ id: h.tenant.project_id }),
      }).then(async (response) => ((await response.json()) as { result: { data: { job: { id: string } } } }).result.data.job.id);
    expect(await call()).toBe(await call());
    expect(await rowsWithKey(h.tenant.project_id, "trpc-key")).toBe(1);
  });
});
