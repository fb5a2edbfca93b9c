// Scheduled backups over REST against the built API process.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ScheduledBackup } from "@capy/contracts";
import { expectError, request, startHarness, type Harness } from "../../test/harness.js";

let h: Harness;
let schedulesPath: string;
let defaultPath: string;

beforeAll(async () => {
  h = await startHarness();
  schedulesPath = `/v1/projects/${h.tenant.project_id}/scheduled-backups`;
  defaultPath = `${schedulesPath}/default`;
});
afterAll(async () => {
  await h?.stop();
});

const put = (json: unknown) => request(h.api, "PUT", defaultPath, { key: h.tenant.api_key, json });
const parseOne = (body: unknown) => ScheduledBackup.strict().parse((body as { scheduled_backup: unknown }).scheduled_backup);

describe("PUT /v1/projects/{id}/scheduled-backups/default", () => {
  it("creates the default schedule, then updates the same row", async () => {
    expect((await request(h.api, "GET", schedulesPath, { key: h.tenant.api_key })).body).toEqual({ scheduled_backups: [] });

    const first = await put({ cron_hour: 2, cron_minute: 30, is_active: true });
    expect(first.status).toBe(200);
    const created = parseOne(first.body);
    expect(created).toMatchObject({
      organization_id: h.tenant.organization_id,
      project_id: h.tenant.project_id,
      label: null,
      cron_hour: 2,
      cron_minute: 30,
      is_active: true,
      retention_days: 7,
      last_job_id: null,
      last_run_at: null,
    });
    expect(created.id).toMatch(/^sch_/);

    const second = await put({ cron_hour: 23, cron_minute: 59, is_active: false, retention_days: 30, label: "nightly" });
    expect(second.status).toBe(200);
    const updated = parseOne(second.body);
    expect(updated).toMatchObject({ id: created.id, cron_hour: 23, cron_minute: 59, is_active: false, retention_days: 30, label: "nightly" });
    expect(updated.created_at).toBe(created.created_at);
    expect(Date.parse(updated.updated_at)).toBeGreaterThanOrEqual(Date.parse(created.updated_at));

    const listed = await request(h.api, "GET", schedulesPath, { key: h.tenant.api_key });
    expect(listed.status).toBe(200);
    const schedules = (listed.body as { scheduled_backups: unknown[] }).scheduled_backups.map((s) => ScheduledBackup.strict().parse(s));
    expect(schedules).toEqual([updated]);
  });

  it("keeps one row under concurrent PUTs", async () => {
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, minute) => put({ cron_hour: 4, cron_minute: minute, is_active: true })),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(await h.stack.db.scheduledBackup.count({ where: { projectId: h.tenant.project_id } })).toBe(1);
  });

  it("rejects out-of-range and mistyped fields with a readable 400", async () => {
    const valid = { cron_hour: 1, cron_minute: 0, is_active: true };
    expectError(await put({ ...valid, cron_hour: 24 }), 400, "cron_hour: Too big: expected number to be <=23");
    expectError(await put({ ...valid, cron_minute: -1 }), 400, "cron_minute: Too small: expected number to be >=0");
    expectError(await put({ ...valid, retention_days: 0 }), 400, "retention_days: Too small: expected number to be >=1");
    expectError(await put({ ...valid, retention_days: 366 }), 400, /^retention_days: /);
    expectError(await put({ ...valid, cron_hour: 1.5 }), 400, /^cron_hour: /);
    expectError(await put({ cron_minute: 0, is_active: true }), 400, /^cron_hour: /);
    // Body fields are never coerced: "false" must not become true, nor null become 0.
    expectError(await put({ ...valid, is_active: "false" }), 400, /^is_active: /);
    expectError(await put({ ...valid, cron_hour: null }), 400, /^cron_hour: /);
    expectError(await put({ ...valid, cron_hour: "3" }), 400, /^cron_hour: /);
    expectError(await put({ ...valid, retention_dayz: 3 }), 400, /retention_dayz/);
  });

  it("rejects a body that is not JSON with 400", async () => {
    const send = (rawBody: string, contentType?: string) =>
      request(h.api, "PUT", defaultPath, { key: h.tenant.api_key, rawBody, headers: contentType ? { "content-type": contentType } : {} });
    expectError(await send("{not json", "application/json"), 400, "request body is not valid JSON");
    expectError(await send("cron_hour=1", "application/x-www-form-urlencoded"), 400, /must be JSON/);
    expectError(await send("hello", "text/plain"), 400, /must be JSON/);
    expectError(await send("hello"), 400, /must be JSON/);
  });
});
