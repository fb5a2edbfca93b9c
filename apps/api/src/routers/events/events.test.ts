// The events endpoint over REST against the built API process: events appended by real cancels and
// a real delete, newest first, paging forward with `after`, and tenancy.

import { Backup, Event, Job } from "@capy/contracts";
import { newId } from "@capy/db";
import { insertJobRow } from "@capy/jobs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, request, startHarness } from "../../test/harness.js";

let h: Harness;
let eventsPath: string;
/** The canceled jobs, oldest first. */
const canceled: string[] = [];

beforeAll(async () => {
  h = await startHarness();
  eventsPath = `/v1/projects/${h.tenant.project_id}/events`;
  for (let i = 0; i < 3; i++) {
    const created = await request(h.api, "POST", `/v1/projects/${h.tenant.project_id}/backups`, { key: h.tenant.api_key });
    const job = Job.parse((created.body as { job: unknown }).job);
    expect((await request(h.api, "POST", `/v1/jobs/${job.id}/cancel`, { key: h.tenant.api_key })).status).toBe(200);
    canceled.push(job.id);
  }
});
afterAll(async () => {
  await h?.stop();
});

const listed = (body: unknown) => (body as { events: unknown[] }).events.map((event) => Event.strict().parse(event));
const get = async (query = "") => {
  const response = await request(h.api, "GET", `${eventsPath}${query}`, { key: h.tenant.api_key });
  expect(response.status).toBe(200);
  return listed(response.body);
};

describe("GET /v1/projects/{id}/events", () => {
  it("lists the project's events newest first, each holding the Job as it was served", async () => {
    const events = await get();
    expect(events.map((event) => [event.type, event.data.id])).toEqual([...canceled].reverse().map((id) => ["job.canceled", id]));
    for (const event of events) {
      expect(event).toMatchObject({ organization_id: h.tenant.organization_id, project_id: h.tenant.project_id });
      expect(event.id).toMatch(/^evt_/);
      const job = await request(h.api, "GET", `/v1/jobs/${event.data.id}`, { key: h.tenant.api_key });
      expect(event.data).toEqual((job.body as { job: unknown }).job);
    }
  });

  it("pages forward from an event with `after`, and validates it", async () => {
    const [newest, middle, oldest] = await get();
    expect((await get(`?after=${oldest!.id}&limit=1`)).map((event) => event.id)).toEqual([middle!.id]);
    expect((await get(`?after=${oldest!.id}`)).map((event) => event.id)).toEqual([newest!.id, middle!.id]);
    expect(await get(`?after=${newest!.id}`)).toEqual([]);
    expect((await get("?limit=1")).map((event) => event.id)).toEqual([newest!.id]);
    expectError(await request(h.api, "GET", `${eventsPath}?after=evt_unknown`, { key: h.tenant.api_key }), 400, "after: no such event in this project");
    expectError(await request(h.api, "GET", `${eventsPath}?after=job_x`, { key: h.tenant.api_key }), 400, /^after: /);
    expectError(await request(h.api, "GET", `${eventsPath}?limit=101`, { key: h.tenant.api_key }), 400, "limit: Too big: expected number to be <=100");
  });

  it("appends backup.deleted with the backup as it was when a backup is deleted", async () => {
    const { db } = h.stack;
    const project = await db.project.findUniqueOrThrow({ where: { id: h.tenant.project_id } });
    const job = await insertJobRow(db, {
      type: "backup",
      organizationId: project.organizationId,
      projectId: project.id,
      clusterId: project.clusterId,
      databaseName: project.databaseName,
    });
    await db.job.update({ where: { id: job.id }, data: { state: "completed" } });
    const backup = await db.backup.create({
      data: {
        id: newId("bkp"),
        organizationId: project.organizationId,
        projectId: project.id,
        jobId: job.id,
        databaseName: project.databaseName,
        backupKey: `projects/${project.id}/x.dump`,
        sizeBytes: 5n,
        sha256: "00",
        state: "completed",
        verificationState: "verified",
        verifiedAt: new Date(),
      },
    });
    const deleted = await request(h.api, "DELETE", `/v1/projects/${project.id}/backups/${backup.id}`, { key: h.tenant.api_key });
    expect(deleted.status).toBe(200);
    const [event] = await get("?limit=1");
    expect(event).toMatchObject({ type: "backup.deleted" });
    expect(Backup.strict().parse(event!.data)).toEqual((deleted.body as { backup: unknown }).backup);
  });

  it("answers 404 for another tenant's project, and 400 for another project's event as `after`", async () => {
    const other = await h.stack.createTenant("globex", "shop", h.source.url);
    const foreign = await request(h.api, "GET", eventsPath, { key: other.api_key });
    const unknown = await request(h.api, "GET", "/v1/projects/prj_missing/events", { key: h.tenant.api_key });
    expectError(foreign, 404, "project not found");
    expect(foreign.body).toEqual(unknown.body);
    const [mine] = await get("?limit=1");
    expectError(
      await request(h.api, "GET", `/v1/projects/${other.project_id}/events?after=${mine!.id}`, { key: other.api_key }),
      400,
      "after: no such event in this project",
    );
  });
});
