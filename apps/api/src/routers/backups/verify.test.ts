// POST /v1/projects/{id}/backups/{backupID}/verify against the built API process: a pending
// `verify` job naming the backup, enqueued; 404 for backups the caller cannot see.

import { Job } from "@capy/contracts";
import { createApiKey } from "@capy/db";
import { createBackupQueue, createProducerConnection } from "@capy/queue";
import { waitFor } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, insertBackupRow, request, startHarness } from "../../test/harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.stop();
});

function insertBackup(projectId: string, state = "completed") {
  return insertBackupRow(h, { projectId, sizeBytes: 1_234n, state, verificationState: "verified", verifiedAt: new Date() });
}

const verifyPath = (projectId: string, backupId: string) => `/v1/projects/${projectId}/backups/${backupId}/verify`;

describe("POST /v1/projects/{id}/backups/{backupID}/verify", () => {
  it("creates a pending verify job for the backup and enqueues it (201)", async () => {
    const backup = await insertBackup(h.tenant.project_id);
    const response = await request(h.api, "POST", verifyPath(h.tenant.project_id, backup.id), { key: h.tenant.api_key });
    expect(response.status).toBe(201);
    const job = Job.strict().parse((response.body as { job: unknown }).job);
    const project = await h.stack.db.project.findUniqueOrThrow({ where: { id: h.tenant.project_id } });
    expect(job).toMatchObject({
      type: "verify",
      state: "pending",
      attempts: 0,
      max_attempts: 3,
      cluster_id: project.clusterId,
      locked_resource: `database:${project.clusterId}/${h.source.name}`,
      organization_id: h.tenant.organization_id,
      project_id: h.tenant.project_id,
      error: null,
    });
    expect(await h.stack.db.job.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({ type: "verify", backupId: backup.id, state: "pending" });

    const { url, prefix } = h.stack.redis;
    const connection = createProducerConnection({ url, prefix });
    const queue = createBackupQueue(connection, prefix);
    try {
      // Enqueued right after the answer (services/enqueues.ts).
      const queued = await waitFor(() => queue.getJob(job.id), { what: "the job in the queue" });
      expect(queued.name).toBe("verify");
      expect(queued.data).toEqual({ jobId: job.id });
    } finally {
      await queue.close();
      await connection.quit();
    }
    // The backup keeps its last verification result until the job reports a new one.
    expect(await h.stack.db.backup.findUniqueOrThrow({ where: { id: backup.id } })).toMatchObject({ verificationState: "verified" });
  });

  it("answers 404 for an unknown backup and for another project's backup", async () => {
    const other = await h.stack.createTenant("acme", "elsewhere", h.source.url);
    const theirs = await insertBackup(other.project_id);
    const before = await h.stack.db.job.count();
    expectError(await request(h.api, "POST", verifyPath(h.tenant.project_id, "bkp_nope"), { key: h.tenant.api_key }), 404, "backup not found");
    // Addressed through our project, or through theirs with our project key: indistinguishable.
    expectError(await request(h.api, "POST", verifyPath(h.tenant.project_id, theirs.id), { key: h.tenant.api_key }), 404, "backup not found");
    expectError(await request(h.api, "POST", verifyPath(other.project_id, theirs.id), { key: h.tenant.api_key }), 404, "project not found");
    expect(await h.stack.db.job.count()).toBe(before);
  });

  it("answers 409 for a backup without an artifact", async () => {
    const failed = await insertBackup(h.tenant.project_id, "failed");
    expectError(
      await request(h.api, "POST", verifyPath(h.tenant.project_id, failed.id), { key: h.tenant.api_key }),
      409,
      "backup has no artifact to verify (state: failed)",
    );
  });

  it("needs backups:write", async () => {
    const backup = await insertBackup(h.tenant.project_id);
    const key = await createApiKey(h.stack.db, {
      organizationId: h.tenant.organization_id,
      projectId: h.tenant.project_id,
      name: "read only",
      scopes: ["backups:read"],
    });
    const response = await request(h.api, "POST", verifyPath(h.tenant.project_id, backup.id), { key: key.plaintext });
    expect(response.status).toBe(403);
    expectError(await request(h.api, "POST", verifyPath(h.tenant.project_id, backup.id)), 401);
  });

  it("is in the OpenAPI document", async () => {
    const response = await request(h.api, "GET", "/v1/openapi.json");
    const doc = response.body as { paths: Record<string, Record<string, { operationId?: string }>> };
    expect(doc.paths["/v1/projects/{id}/backups/{backupID}/verify"]?.post?.operationId).toBe("verifyBackup");
  });
});
