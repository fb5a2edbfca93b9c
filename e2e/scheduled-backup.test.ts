// A scheduled backup end to end: a schedule set over REST for the coming minute fires through
// the real BullMQ job scheduler and real worker processes (two API and two worker processes,
// one worker restarted before the due time, concurrent PUTs of the same schedule), producing
// exactly one job and one completed, verified backup, and the schedule shows the run.

import { Backup, SCHEDULE_QUEUE, ScheduledBackup } from "@capy/contracts";
import {
  type ApiProcess,
  createPgbenchDatabase,
  createTestStack,
  listJobSchedulers,
  startApi,
  type TestDatabase,
  type TestStack,
  waitFor,
} from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eApi } from "./support.js";

let stack: TestStack;
let source: TestDatabase;
let secondApi: ApiProcess;
const schedulers = async () => (await listJobSchedulers(stack.redis.url, stack.redis.prefix, SCHEDULE_QUEUE)).map((s) => [s.key, s.next, s.pattern, s.tz]);

const { api, pollJob } = e2eApi(() => stack.api!.baseUrl);

beforeAll(async () => {
  [stack, source] = await Promise.all([createTestStack(), createPgbenchDatabase(1)]);
  await Promise.all([stack.startApi(), stack.startWorker(), stack.startWorker()]);
  secondApi = await startApi(stack.env);
});

afterAll(async () => {
  await secondApi?.stop();
  await stack?.stop();
  await source?.drop();
});

describe("scheduled backup", () => {
  it("fires once for the coming minute through the real scheduler and workers", async () => {
    const tenant = await stack.createTenant("acme", "shop", source.url);
    const key = tenant.api_key;
    const path = `/v1/projects/${tenant.project_id}/scheduled-backups`;

    // The next minute boundary at least 10 s away, so every PUT lands before it.
    const due = new Date(Math.ceil((Date.now() + 10_000) / 60_000) * 60_000);
    const body = { cron_hour: due.getUTCHours(), cron_minute: due.getUTCMinutes(), is_active: true, label: "nightly" };
    const apis = [stack.api!.baseUrl, secondApi.baseUrl];
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        fetch(`${apis[i % 2]}${path}/default`, {
          method: "PUT",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        }),
      ),
    );
    expect(responses.map((r) => r.status)).toEqual(Array(8).fill(200));
    const schedule = ScheduledBackup.parse(((await responses[0]!.json()) as { scheduled_backup: unknown }).scheduled_backup);
    expect(schedule.next_run_at).toBe(due.toISOString());
    const pattern = `${due.getUTCMinutes()} ${due.getUTCHours()} * * *`;
    expect(await schedulers()).toEqual([[`schedule:${schedule.id}`, due.getTime(), pattern, "UTC"]]);

    // A worker restarting before the due time changes nothing.
    await stack.workers[0]!.stop();
    await stack.startWorker();

    const fired = await waitFor(
      async () => {
        const listed = await api(key, "GET", path);
        const current = ScheduledBackup.parse((listed.body.scheduled_backups as unknown[])[0]);
        return current.last_job_id ? current : undefined;
      },
      { timeoutMs: due.getTime() - Date.now() + 30_000, intervalMs: 250, what: "the schedule to fire" },
    );
    const job = await pollJob(key, fired.last_job_id!);
    expect(job.state, job.error ?? "").toBe("completed");
    expect(job.type).toBe("backup");
    expect(Date.parse(fired.last_run_at!)).toBeGreaterThanOrEqual(due.getTime());
    expect(Date.parse(fired.last_run_at!)).toBeLessThan(due.getTime() + 15_000);
    // The next run is tomorrow at the same time.
    expect(fired.next_run_at).toBe(new Date(due.getTime() + 24 * 3_600_000).toISOString());

    // Exactly one job for that due time, and exactly one backup, labelled from the schedule.
    const rows = await stack.db.job.findMany({ where: { scheduleId: schedule.id } });
    expect(rows.map((r) => [r.id, r.dueAt?.toISOString()])).toEqual([[job.id, due.toISOString()]]);
    const backups = ((await api(key, "GET", `/v1/projects/${tenant.project_id}/backups`)).body.backups as unknown[]).map((b) => Backup.parse(b));
    expect(backups).toHaveLength(1);
    expect(backups[0]).toMatchObject({ state: "completed", label: "nightly", verification_state: "verified" });

    // Still exactly one scheduler, now waiting for tomorrow; and no late duplicate appears.
    expect(await schedulers()).toEqual([[`schedule:${schedule.id}`, due.getTime() + 24 * 3_600_000, pattern, "UTC"]]);
    expect(await stack.db.job.count({ where: { projectId: tenant.project_id } })).toBe(1);
  });
});
