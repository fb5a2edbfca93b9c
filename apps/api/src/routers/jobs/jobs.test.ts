// Job listing and lookup over REST against the built API process.

import { Job } from "@capy/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, request, startHarness } from "../../test/harness.js";

let h: Harness;
let jobsPath: string;
const created: string[] = [];

beforeAll(async () => {
  h = await startHarness();
  jobsPath = `/v1/projects/${h.tenant.project_id}/jobs`;
  for (let i = 0; i < 3; i++) {
    const response = await request(h.api, "POST", `/v1/projects/${h.tenant.project_id}/backups`, { key: h.tenant.api_key });
    created.push(Job.parse((response.body as { job: unknown }).job).id);
  }
});
afterAll(async () => {
  await h?.stop();
});

const listed = (body: unknown) => (body as { jobs: unknown[] }).jobs.map((job) => Job.strict().parse(job));

describe("GET /v1/projects/{id}/jobs", () => {
  it("lists jobs newest first with every field present", async () => {
    const response = await request(h.api, "GET", jobsPath, { key: h.tenant.api_key });
    expect(response.status).toBe(200);
    const jobs = listed(response.body);
    expect(jobs.map((job) => job.id)).toEqual([...created].reverse());
    for (const job of jobs) {
      expect(job).toMatchObject({ claimed_at: null, claimed_by: null, preview_database_id: null, retry_classification: null });
      expect(job.last_exit_code).toBeNull();
      expect(new Date(job.created_at).toISOString()).toBe(job.created_at);
    }
  });

  it("honours limit and validates it (1-100)", async () => {
    const response = await request(h.api, "GET", `${jobsPath}?limit=2`, { key: h.tenant.api_key });
    expect(listed(response.body).map((job) => job.id)).toEqual([created[2], created[1]]);
    expectError(await request(h.api, "GET", `${jobsPath}?limit=0`, { key: h.tenant.api_key }), 400, "limit: Too small: expected number to be >=1");
    expectError(await request(h.api, "GET", `${jobsPath}?limit=101`, { key: h.tenant.api_key }), 400, "limit: Too big: expected number to be <=100");
    expectError(await request(h.api, "GET", `${jobsPath}?limit=many`, { key: h.tenant.api_key }), 400, /^limit: /);
  });
});

describe("GET /v1/jobs/{jobID}", () => {
  it("returns the job", async () => {
    const response = await request(h.api, "GET", `/v1/jobs/${created[0]}`, { key: h.tenant.api_key });
    expect(response.status).toBe(200);
    expect(Job.strict().parse((response.body as { job: unknown }).job)).toMatchObject({ id: created[0], state: "pending" });
  });

  it("answers 404 for an unknown job and for another project's job alike", async () => {
    const other = await h.stack.createTenant("acme", "other", h.source.url);
    const foreign = await request(h.api, "GET", `/v1/jobs/${created[0]}`, { key: other.api_key });
    const unknown = await request(h.api, "GET", "/v1/jobs/job_does_not_exist", { key: h.tenant.api_key });
    expectError(foreign, 404, "job not found");
    expect(foreign.body).toEqual(unknown.body);
  });
});
