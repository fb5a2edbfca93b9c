// Metrics end to end: a real backup through a real worker (started by the API), then both
// /metrics endpoints scraped, and the worker's probes.

import { enqueueJob } from "@capy/jobs";
import { type ApiProcess, createEmptyDatabase, type ServiceProcess, startApi, type TestDatabase, waitFor, withAdminClient } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, insertJob, waitForJob } from "./test-helpers.js";

/** Value of one series in a Prometheus text exposition, e.g. series(text, "x_total", { a: "b" }). */
function series(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key, value]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
  return response.text();
}

describe("metrics", () => {
  let harness: Harness;
  let source: TestDatabase;
  let api: ApiProcess;
  let worker: ServiceProcess;
  let workerMetrics: string;

  beforeAll(async () => {
    [harness, source] = await Promise.all([createHarness(), createEmptyDatabase()]);
    await withAdminClient(async (client) => {
      await client.query("CREATE TABLE items AS SELECT g AS id, md5(g::text) AS body FROM generate_series(1, 5000) AS g");
    }, source.url);
    [api, worker] = await Promise.all([harness.stack.startApi(), harness.stack.startWorker()]);
    const port = /"msg":"worker ready".*"metrics_port":(\d+)|"metrics_port":(\d+).*"msg":"worker ready"/.exec(worker.logs());
    workerMetrics = `http://127.0.0.1:${port?.[1] ?? port?.[2]}`;
  });

  afterAll(async () => {
    await harness?.close();
    await source?.drop();
  });

  it("counts a real backup on the API and the worker", async () => {
    const tenant = await harness.stack.createTenant("acme", "metrics", source.url);
    const created = await fetch(`${api.baseUrl}/v1/projects/${tenant.project_id}/backups`, {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.api_key}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(created.status).toBe(201);
    const { job } = (await created.json()) as { job: { id: string } };
    const polled = await fetch(`${api.baseUrl}/v1/jobs/${job.id}`, { headers: { authorization: `Bearer ${tenant.api_key}` } });
    expect(polled.status).toBe(200);
    const done = await waitForJob(harness.stack, job.id, ["completed", "failed"], 90_000);
    expect(done.state).toBe("completed");
    const backup = await harness.stack.db.backup.findUniqueOrThrow({ where: { jobId: job.id } });
    expect(backup.verificationState).toBe("verified");
    // The phase ends "done"; the bytes streamed are the artifact's size.
    expect(done.phase).toBe("done");
    expect(done.progressBytes).toBe(backup.sizeBytes);

    // API: request counts and durations by route pattern, never by raw id.
    const apiText = await scrape(`${api.baseUrl}/metrics`);
    expect(series(apiText, "http_requests_total", { method: "POST", route: "/v1/projects/:id/backups", status: "201" })).toBe(1);
    expect(series(apiText, "http_requests_total", { method: "GET", route: "/v1/jobs/:jobID", status: "200" })).toBe(1);
    expect(series(apiText, "http_request_duration_seconds_count", { route: "/v1/jobs/:jobID", status: "200" })).toBe(1);
    // The insert and the read each ran as a shared statement (one call each here).
    expect(series(apiText, "db_shared_statement_calls_sum", { statement: "insert_jobs" })).toBe(1);
    expect(series(apiText, "db_shared_statement_calls_sum", { statement: "jobs_by_id" })).toBe(1);
    expect(apiText).not.toContain(job.id);
    expect(apiText).not.toContain(tenant.project_id);
    expect(series(apiText, "process_cpu_user_seconds_total")).toBeGreaterThan(0);

    // Worker: the job's outcome, the dump, the verification, the queue and the backup's age.
    // The job is counted when its run ends, a moment after the row: the throwaway copy is dropped
    // after the verdict.
    const text = await waitFor(
      async () => {
        const scraped = await scrape(`${workerMetrics}/metrics`);
        return series(scraped, "capy_jobs_total", { type: "backup", outcome: "completed" }) === undefined ? undefined : scraped;
      },
      { timeoutMs: 15_000, what: "the worker to count the finished job" },
    );
    expect(series(text, "capy_jobs_total", { type: "backup", outcome: "completed" })).toBe(1);
    expect(series(text, "capy_dump_duration_seconds_count")).toBe(1);
    expect(series(text, "capy_dump_duration_seconds_sum")).toBeGreaterThan(0);
    expect(series(text, "capy_dump_bytes_sum")).toBe(Number(backup.sizeBytes));
    expect(Number(backup.sizeBytes)).toBeGreaterThan(0);
    expect(series(text, "capy_verifications_total", { outcome: "verified" })).toBe(1);
    for (const state of ["waiting", "active", "delayed"]) expect(series(text, "capy_queue_depth", { state })).toBe(0);
    const age = series(text, "capy_newest_good_backup_age_seconds", { project_id: tenant.project_id });
    expect(age).toBeGreaterThan(0);
    expect(age).toBeLessThan(120);
  });

  it("counts a job whose row finished before it could run as skipped, not completed", async () => {
    // As when a cancel through another API process removed the BullMQ job before the POST's add reached Redis.
    const tenant = await harness.stack.createTenant("acme", "skipped", source.url);
    const job = await insertJob(harness.stack, tenant.project_id);
    await harness.stack.db.job.update({ where: { id: job.id }, data: { state: "canceled", phase: "done", completedAt: new Date() } });
    await enqueueJob(harness.queue, job);
    await waitFor(async () => (await harness.queue.getJobState(job.id)) === "completed", { what: "the worker to take the job" });

    const text = await scrape(`${workerMetrics}/metrics`);
    expect(series(text, "capy_jobs_total", { type: "backup", outcome: "skipped" })).toBe(1);
    expect(series(text, "capy_jobs_total", { type: "backup", outcome: "completed" })).toBe(1);
    const lines = worker
      .logs()
      .split("\n")
      .filter((line) => line.includes(`"job_id":"${job.id}"`));
    expect(lines.some((line) => line.includes('"msg":"job already finished; nothing to do"'))).toBe(true);
    expect(lines.some((line) => line.includes('"msg":"job finished"'))).toBe(false);
    expect(await harness.stack.db.job.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({ state: "canceled", attempts: 0 });
  });

  it("answers probes on the metrics port", async () => {
    expect((await fetch(`${workerMetrics}/healthz`)).status).toBe(200);
    const ready = await fetch(`${workerMetrics}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ok" });
    expect((await fetch(`${workerMetrics}/nope`)).status).toBe(404);
  });

  it("is exempt from auth and rate limits on the API", async () => {
    // Started beside the stack's API (stack.startApi would replace it, and leak it).
    const limited = await startApi({ ...harness.stack.env, RATE_LIMIT_PER_MINUTE: "2" });
    try {
      for (let i = 0; i < 5; i++) expect((await fetch(`${limited.baseUrl}/metrics`)).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });
});
