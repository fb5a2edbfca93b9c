// Scheduled backups over REST against the built API process.

import { ScheduledBackup } from "@capy/contracts";
import { createScheduleQueue, type ScheduleQueue, schedulerId } from "@capy/queue";
import { type ApiProcess, freePort, startApi } from "@capy/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, request, startHarness } from "../../test/harness.js";

let h: Harness;
let schedulesPath: string;
let defaultPath: string;
// Reads the job schedulers the API writes (the stack's own Redis prefix).
let redis: Redis;
let scheduleQueue: ScheduleQueue;

beforeAll(async () => {
  h = await startHarness();
  schedulesPath = `/v1/projects/${h.tenant.project_id}/scheduled-backups`;
  defaultPath = `${schedulesPath}/default`;
  redis = new Redis(h.stack.redis.url);
  scheduleQueue = createScheduleQueue(redis, h.stack.redis.prefix);
});
afterAll(async () => {
  await scheduleQueue?.close();
  redis?.disconnect();
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
    const responses = await Promise.all(Array.from({ length: 8 }, (_, minute) => put({ cron_hour: 4, cron_minute: minute, is_active: true })));
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

describe("the schedule's job scheduler", () => {
  const schedulers = () => scheduleQueue.getJobSchedulers(0, -1, true);

  it("follows every PUT: a moved time moves the next run, deactivating removes it, re-activating restores it", async () => {
    const created = parseOne((await put({ cron_hour: 2, cron_minute: 30, is_active: true })).body);
    let all = await schedulers();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ key: schedulerId(created.id), pattern: "30 2 * * *", tz: "UTC", template: { data: { scheduleId: created.id } } });
    // next_run_at is computed from the row, and agrees with BullMQ's own next run.
    expect(created.next_run_at).not.toBeNull();
    expect(Date.parse(created.next_run_at!)).toBe(all[0]!.next);
    expect(new Date(created.next_run_at!).getUTCHours()).toBe(2);

    const moved = parseOne((await put({ cron_hour: 17, cron_minute: 5, is_active: true })).body);
    all = await schedulers();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ key: schedulerId(created.id), pattern: "5 17 * * *", tz: "UTC" });
    expect(Date.parse(moved.next_run_at!)).toBe(all[0]!.next);
    expect(Date.parse(moved.next_run_at!)).toBeGreaterThan(Date.now());

    const stopped = parseOne((await put({ cron_hour: 17, cron_minute: 5, is_active: false })).body);
    expect(stopped.next_run_at).toBeNull();
    expect(await schedulers()).toEqual([]);
    const listed = await request(h.api, "GET", schedulesPath, { key: h.tenant.api_key });
    expect((listed.body as { scheduled_backups: Array<{ next_run_at: unknown }> }).scheduled_backups[0]!.next_run_at).toBeNull();

    const restarted = parseOne((await put({ cron_hour: 17, cron_minute: 5, is_active: true })).body);
    all = await schedulers();
    expect(all.map((s) => s.key)).toEqual([schedulerId(created.id)]);
    expect(Date.parse(restarted.next_run_at!)).toBe(all[0]!.next);
    // The timing took effect anew: the row remembers when (due times before it never fire).
    const row = await h.stack.db.scheduledBackup.findUniqueOrThrow({ where: { id: created.id } });
    expect(row.timingSince.getTime()).toBeGreaterThanOrEqual(Date.parse(stopped.updated_at));
  });

  it("leaves Redis matching Postgres after concurrent PUTs from several API processes", async () => {
    const extra: ApiProcess[] = await Promise.all([startApi(h.stack.env), startApi(h.stack.env)]);
    try {
      const apis = [h.api, ...extra];
      for (let round = 0; round < 3; round++) {
        const responses = await Promise.all(
          Array.from({ length: 24 }, (_, i) =>
            request(apis[i % apis.length]!, "PUT", defaultPath, {
              key: h.tenant.api_key,
              json: { cron_hour: (i * 7 + round) % 24, cron_minute: (i * 13) % 60, is_active: i % 5 !== 4 },
            }),
          ),
        );
        expect(responses.map((r) => r.status)).toEqual(Array(24).fill(200));
        const row = await h.stack.db.scheduledBackup.findFirstOrThrow({ where: { projectId: h.tenant.project_id } });
        const all = await schedulers();
        if (row.isActive) {
          expect(all).toHaveLength(1);
          expect(all[0]).toMatchObject({ key: schedulerId(row.id), pattern: `${row.cronMinute} ${row.cronHour} * * *` });
        } else {
          expect(all).toEqual([]);
        }
      }
    } finally {
      await Promise.all(extra.map((api) => api.stop()));
    }
  });

  it("still saves the schedule when Redis is unreachable (the reconciler syncs it later)", async () => {
    const deadRedis = `redis://127.0.0.1:${await freePort()}/0`;
    const api = await startApi({ ...h.stack.env, REDIS_URL: deadRedis });
    try {
      const started = Date.now();
      const response = await request(api, "PUT", defaultPath, { key: h.tenant.api_key, json: { cron_hour: 6, cron_minute: 6, is_active: true } });
      expect(response.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(parseOne(response.body)).toMatchObject({ cron_hour: 6, cron_minute: 6, is_active: true });
      expect(await h.stack.db.scheduledBackup.findFirstOrThrow({ where: { projectId: h.tenant.project_id } })).toMatchObject({ cronHour: 6, cronMinute: 6 });
    } finally {
      await api.stop();
    }
  });
});
