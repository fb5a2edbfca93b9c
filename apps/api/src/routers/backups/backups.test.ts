// On-demand backups and the backup list over REST against the built API process.

import { Backup, Job } from "@capy/contracts";
import { createBackupQueue, createProducerConnection } from "@capy/queue";
import { waitFor } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, insertBackupRow, request, startHarness } from "../../test/harness.js";

let h: Harness;
let backupsPath: string;

beforeAll(async () => {
  h = await startHarness();
  backupsPath = `/v1/projects/${h.tenant.project_id}/backups`;
});
afterAll(async () => {
  await h?.stop();
});

const parseJob = (body: unknown) => Job.strict().parse((body as { job: unknown }).job);

describe("POST /v1/projects/{id}/backups", () => {
  it("creates a pending job row and its BullMQ job with the same id (201)", async () => {
    const response = await request(h.api, "POST", backupsPath, { key: h.tenant.api_key, json: { label: "before migration" } });
    expect(response.status).toBe(201);
    const job = parseJob(response.body);
    const project = await h.stack.db.project.findUniqueOrThrow({ where: { id: h.tenant.project_id } });
    expect(job).toMatchObject({
      type: "backup",
      state: "pending",
      attempts: 0,
      max_attempts: 3,
      cluster_id: project.clusterId,
      locked_resource: `database:${project.clusterId}/${h.source.name}`,
      organization_id: h.tenant.organization_id,
      project_id: h.tenant.project_id,
      claimed_at: null,
      error: null,
    });

    const row = await h.stack.db.job.findUniqueOrThrow({ where: { id: job.id } });
    expect(row).toMatchObject({ state: "pending", maxAttempts: 3, label: "before migration" });

    const { url, prefix } = h.stack.redis;
    const connection = createProducerConnection({ url, prefix });
    const queue = createBackupQueue(connection, prefix);
    try {
      // The answer does not wait for the enqueue (services/enqueues.ts): the job reaches Redis right after.
      const queued = await waitFor(() => queue.getJob(job.id), { what: "the job in the queue" });
      expect(queued.id).toBe(job.id);
      expect(queued.data).toEqual({ jobId: job.id });
      expect(queued.opts.attempts).toBe(3);
    } finally {
      await queue.close();
      await connection.quit();
    }
  });

  it("accepts an empty object and no body at all", async () => {
    for (const options of [{ json: {} }, {}]) {
      const response = await request(h.api, "POST", backupsPath, { key: h.tenant.api_key, ...options });
      expect(response.status).toBe(201);
      expect(parseJob(response.body).state).toBe("pending");
    }
  });

  it("rejects unknown fields and non-JSON bodies with 400", async () => {
    expectError(await request(h.api, "POST", backupsPath, { key: h.tenant.api_key, json: { lable: "x" } }), 400, /lable/);
    expectError(await request(h.api, "POST", backupsPath, { key: h.tenant.api_key, json: { label: 5 } }), 400, /^label: /);
    const raw = await request(h.api, "POST", backupsPath, { key: h.tenant.api_key, rawBody: "{", headers: { "content-type": "application/json" } });
    expectError(raw, 400, "request body is not valid JSON");
  });
});

describe("GET /v1/projects/{id}/backups", () => {
  it("lists the project's backups newest first, every field present", async () => {
    const other = await h.stack.createTenant("acme", "elsewhere", h.source.url);
    const insert = (projectId: string, createdAt: Date, extra: Partial<{ label: string; verificationState: string; verifiedAt: Date }> = {}) =>
      insertBackupRow(h, { projectId, createdAt, ...extra });
    const older = await insert(h.tenant.project_id, new Date("2026-01-01T00:00:00Z"));
    const newer = await insert(h.tenant.project_id, new Date("2026-02-01T00:00:00Z"), {
      label: "weekly",
      verificationState: "verified",
      verifiedAt: new Date("2026-02-01T01:00:00Z"),
    });
    await insert(other.project_id, new Date("2026-03-01T00:00:00Z"));

    const response = await request(h.api, "GET", backupsPath, { key: h.tenant.api_key });
    expect(response.status).toBe(200);
    const backups = (response.body as { backups: unknown[] }).backups.map((b) => Backup.strict().parse(b));
    expect(backups.map((b) => b.id)).toEqual([newer.id, older.id]);
    expect(backups[0]).toEqual({
      id: newer.id,
      project_id: h.tenant.project_id,
      database_name: h.source.name,
      label: "weekly",
      backup_key: newer.backupKey,
      size_bytes: 123_456_789,
      state: "completed",
      verification_state: "verified",
      verification_error: null,
      verified_at: "2026-02-01T01:00:00.000Z",
      created_at: "2026-02-01T00:00:00.000Z",
      // A row written without the encoding columns: an artifact from before zstd (pg_dump's gzip),
      // and before encryption.
      compression: "gzip",
      archive_format: "custom",
      stored_encoding: "identity",
      encryption: null,
      encryption_key_id: null,
    });
    expect(backups[1]).toMatchObject({ label: null, verification_state: "pending", verified_at: null });
  });
});
