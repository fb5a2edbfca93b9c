// POST /v1/jobs/{jobID}/cancel against the built API process: the API side of cancellation.
// (The worker ending a running job that has a cancel request is tested with the worker.)

import { Job } from "@capy/contracts";
import { createApiKey } from "@capy/db";
import { type BackupQueue, createBackupQueue, createProducerConnection } from "@capy/queue";
import { waitFor } from "@capy/testing";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, request, startHarness } from "../../test/harness.js";

let h: Harness;
let redis: Redis;
let queue: BackupQueue;

beforeAll(async () => {
  h = await startHarness();
  redis = createProducerConnection({ url: h.stack.redis.url, prefix: h.stack.redis.prefix });
  queue = createBackupQueue(redis, h.stack.redis.prefix);
});
afterAll(async () => {
  await queue?.close();
  redis?.disconnect();
  await h?.stop();
});

const jobOf = (body: unknown) => Job.strict().parse((body as { job: unknown }).job);
const createJob = async () => jobOf((await request(h.api, "POST", `/v1/projects/${h.tenant.project_id}/backups`, { key: h.tenant.api_key })).body);
const cancel = (jobId: string, key = h.tenant.api_key) => request(h.api, "POST", `/v1/jobs/${jobId}/cancel`, { key });

describe("POST /v1/jobs/{jobID}/cancel", () => {
  it("cancels a pending job at once and removes it from the queue", async () => {
    const job = await createJob();
    // Enqueued right after the answer (services/enqueues.ts).
    await waitFor(async () => (await queue.getJobState(job.id)) === "waiting", { what: "the job waiting in the queue" });

    const response = await cancel(job.id);
    expect(response.status).toBe(200);
    const canceled = jobOf(response.body);
    expect(canceled).toMatchObject({ id: job.id, state: "canceled", retry_classification: "canceled", error: "canceled by request", attempts: 0 });
    expect(canceled.completed_at).not.toBeNull();
    const row = await h.stack.db.job.findUniqueOrThrow({ where: { id: job.id } });
    expect(row).toMatchObject({ state: "canceled", phase: "done" });
    expect(await queue.getJob(job.id)).toBeUndefined();

    const audit = await h.stack.db.auditEvent.findFirstOrThrow({ where: { action: "job.canceled", targetId: job.id } });
    expect(audit).toMatchObject({ actorType: "api_key", targetType: "job", projectId: h.tenant.project_id });
    expect(audit.metadata).toMatchObject({ effect: "canceled" });

    // Finished now: a second cancel is a conflict.
    expectError(await cancel(job.id), 409, "job is already canceled");
  });

  it("records a cancel request on a running job, which stays running for its worker to stop", async () => {
    const job = await createJob();
    // As a worker's claim leaves it.
    await h.stack.db.job.update({
      where: { id: job.id },
      data: { state: "running", attempts: 1, fencingToken: 1, claimedBy: "test-worker", claimedAt: new Date(), heartbeatAt: new Date() },
    });

    const response = await cancel(job.id);
    expect(response.status).toBe(200);
    expect(jobOf(response.body)).toMatchObject({ id: job.id, state: "running", retry_classification: null });
    const row = await h.stack.db.job.findUniqueOrThrow({ where: { id: job.id } });
    expect(row.state).toBe("running");
    expect(row.cancelRequestedAt).toBeInstanceOf(Date);
    expect(row.fencingToken).toBe(1);

    // Repeating it is harmless and keeps the first request's time.
    expect((await cancel(job.id)).status).toBe(200);
    const again = await h.stack.db.job.findUniqueOrThrow({ where: { id: job.id } });
    expect(again.cancelRequestedAt).toEqual(row.cancelRequestedAt);
    expect(await h.stack.db.auditEvent.count({ where: { action: "job.canceled", targetId: job.id } })).toBe(1);
  });

  it("answers 409 for completed and failed jobs and leaves them alone", async () => {
    for (const state of ["completed", "failed"] as const) {
      const job = await createJob();
      await h.stack.db.job.update({ where: { id: job.id }, data: { state, completedAt: new Date() } });
      expectError(await cancel(job.id), 409, `job is already ${state}`);
      expect((await h.stack.db.job.findUniqueOrThrow({ where: { id: job.id } })).state).toBe(state);
    }
  });

  it("answers 404 for another tenant's job, exactly as for an unknown one", async () => {
    const job = await createJob();
    const stranger = await h.stack.createTenant("globex", "theirs", h.source.url);
    const foreign = await cancel(job.id, stranger.api_key);
    const unknown = await cancel("job_does_not_exist");
    expectError(foreign, 404, "job not found");
    expect(foreign.body).toEqual(unknown.body);
    expect((await h.stack.db.job.findUniqueOrThrow({ where: { id: job.id } })).state).toBe("pending");

    // Nor can it request a stop of a running job.
    await h.stack.db.job.update({ where: { id: job.id }, data: { state: "running", attempts: 1, heartbeatAt: new Date() } });
    expectError(await cancel(job.id, stranger.api_key), 404, "job not found");
    expect((await h.stack.db.job.findUniqueOrThrow({ where: { id: job.id } })).cancelRequestedAt).toBeNull();
  });

  it("answers 403 without backups:write", async () => {
    const job = await createJob();
    const readOnly = await createApiKey(h.stack.db, {
      organizationId: h.tenant.organization_id,
      projectId: h.tenant.project_id,
      name: "read-only",
      scopes: ["backups:read", "jobs:read"],
    });
    expectError(await cancel(job.id, readOnly.plaintext), 403);
    expect((await h.stack.db.job.findUniqueOrThrow({ where: { id: job.id } })).state).toBe("pending");
  });

  it("is in the OpenAPI document", async () => {
    const document = (await request(h.api, "GET", "/v1/openapi.json")).body as { paths: Record<string, Record<string, { operationId: string }>> };
    expect(document.paths["/v1/jobs/{jobID}/cancel"]?.post?.operationId).toBe("cancelJob");
  });
});
