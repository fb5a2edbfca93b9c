// Identical reads in one turn share one statement, and identical calls in it the very same rows
// (@capy/db shared-statements.ts). Over HTTP against the built API, what that must not change:
// tenancy per request, answers equal to a lone request's, and no answer older than its request.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, insertBackupRow, request, startHarness, type Tenant } from "./test/harness.js";

describe("reads sharing a statement, over HTTP (built API)", () => {
  let h: Harness;
  let other: Tenant;
  let jobId: string;

  beforeAll(async () => {
    h = await startHarness();
    other = await h.stack.createTenant("globex", "store", h.source.url);
    const created = await request(h.api, "POST", `/v1/projects/${h.tenant.project_id}/backups`, { key: h.tenant.api_key, json: {} });
    expect(created.status).toBe(201);
    jobId = (created.body as { job: { id: string } }).job.id;
    // Lists with rows in them: a schedule, and three backups.
    const schedule = await request(h.api, "PUT", `/v1/projects/${h.tenant.project_id}/scheduled-backups/default`, {
      key: h.tenant.api_key,
      json: { cron_hour: 2, cron_minute: 30, is_active: true },
    });
    expect(schedule.status).toBe(200);
    for (let i = 0; i < 3; i++) await insertBackupRow(h, { sizeBytes: 1_000n + BigInt(i) });
  });
  afterAll(async () => {
    await h?.stop();
  });

  /** Statements of `name` so far, and how many of them answered one call only (/metrics). */
  async function sharedStatements(name: string): Promise<{ statements: number; alone: number }> {
    const response = await fetch(`${h.api.baseUrl}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    const read = (series: string, labels = "") => Number(new RegExp(`^${series}\\{${labels}[^}]*statement="${name}"[^}]*\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
    return { statements: read("db_shared_statement_calls_count"), alone: read("db_shared_statement_calls_bucket", 'le="1",') };
  }

  /** `count` requests for `path` with each key, all sent at once. */
  const burst = (path: string, keys: string[], count: number) =>
    Promise.all(keys.flatMap((key) => Array.from({ length: count }, () => request(h.api, "GET", path, { key }))));

  it("answers a job polled at once by its owner and by another tenant: the owner's answer to each, a 404 to the other", async () => {
    const lone = await request(h.api, "GET", `/v1/jobs/${jobId}`, { key: h.tenant.api_key });
    expect(lone.status).toBe(200);
    // Until one statement answered several of these calls.
    const before = await sharedStatements("jobs_by_id");
    for (let round = 0; round < 20; round++) {
      const answers = await burst(`/v1/jobs/${jobId}`, [h.tenant.api_key, other.api_key], 10);
      for (const answer of answers.slice(0, 10)) expect(answer).toMatchObject({ status: 200, body: lone.body });
      for (const answer of answers.slice(10)) expect(answer).toMatchObject({ status: 404, body: { error: "job not found" } });
      const after = await sharedStatements("jobs_by_id");
      if (after.statements - before.statements > after.alone - before.alone) return;
    }
    expect.fail("no statement answered more than one of 400 concurrent requests");
  });

  it("answers identical lists at once as a lone request does", async () => {
    const paths = ["backups", "jobs?limit=5", "scheduled-backups"].map((list) => `/v1/projects/${h.tenant.project_id}/${list}`);
    for (const path of paths) {
      const lone = await request(h.api, "GET", path, { key: h.tenant.api_key });
      expect(lone.status, path).toBe(200);
      expect(Object.values(lone.body as Record<string, unknown[]>)[0]!.length, path).toBeGreaterThan(0);
      for (const answer of await burst(path, [h.tenant.api_key], 10)) expect(answer, path).toMatchObject({ status: 200, body: lone.body });
      // Another tenant's key still gets its 404, whatever it asks at the same time.
      const [mine, theirs] = await Promise.all([request(h.api, "GET", path, { key: h.tenant.api_key }), request(h.api, "GET", path, { key: other.api_key })]);
      expect(mine.status).toBe(200);
      expect(theirs.status, path).toBe(404);
    }
  });

  it("answers a burst after a change with the change: nothing is kept between turns", async () => {
    const canceled = await request(h.api, "POST", `/v1/jobs/${jobId}/cancel`, { key: h.tenant.api_key });
    expect(canceled.status).toBe(200);
    const answers = await burst(`/v1/jobs/${jobId}`, [h.tenant.api_key], 10);
    for (const answer of answers) expect(answer.body).toMatchObject({ job: { id: jobId, state: "canceled" } });
    const list = await burst(`/v1/projects/${h.tenant.project_id}/jobs?limit=5`, [h.tenant.api_key], 10);
    for (const answer of list) expect((answer.body as { jobs: { id: string; state: string }[] }).jobs[0]).toMatchObject({ id: jobId, state: "canceled" });
  });
});
