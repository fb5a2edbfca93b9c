// DELETE /v1/projects/{id}/backups/{backupID} against the built API process: the row and the
// artifact (a real file in the stack's storage directory) go; 404 for backups the caller cannot
// see; 403 without backups:write; 409 while the backup is being made or verified.
import { stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { Backup } from "@capy/contracts";
import { createApiKey, newId } from "@capy/db";
import { insertJobRow } from "@capy/jobs";
import { backupArtifactKey, createStorage } from "@capy/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, request, startHarness } from "../../test/harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.stop();
});

/** A backup row with its artifact really stored where the API reads artifacts. */
async function insertBackup(projectId: string, options: { verificationState?: string; jobState?: string; label?: string } = {}) {
  const { db } = h.stack;
  const project = await db.project.findUniqueOrThrow({ where: { id: projectId } });
  const job = await insertJobRow(db, {
    type: "backup",
    organizationId: project.organizationId,
    projectId,
    clusterId: project.clusterId,
    databaseName: project.databaseName,
  });
  await db.job.update({ where: { id: job.id }, data: { state: options.jobState ?? "completed" } });
  const id = newId("bkp");
  const backupKey = backupArtifactKey(projectId, id);
  const stored = await createStorage({ storageDir: h.stack.storageDir }).put(backupKey, Readable.from([Buffer.from(`dump ${id}`)]));
  return db.backup.create({
    data: {
      id,
      organizationId: project.organizationId,
      projectId,
      jobId: job.id,
      databaseName: project.databaseName,
      label: options.label ?? null,
      backupKey,
      sizeBytes: BigInt(stored.sizeBytes),
      sha256: stored.sha256,
      state: "completed",
      verificationState: options.verificationState ?? "verified",
      verifiedAt: (options.verificationState ?? "verified") === "verified" ? new Date() : null,
    },
  });
}

const artifactExists = (key: string) =>
  stat(path.join(h.stack.storageDir, key)).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return false;
      throw error;
    },
  );

const deletePath = (projectId: string, backupId: string) => `/v1/projects/${projectId}/backups/${backupId}`;

describe("DELETE /v1/projects/{id}/backups/{backupID}", () => {
  it("removes the row and the artifact and answers the deleted backup (200), audited", async () => {
    const backup = await insertBackup(h.tenant.project_id, { label: "nightly" });
    expect(await artifactExists(backup.backupKey)).toBe(true);
    const response = await request(h.api, "DELETE", deletePath(h.tenant.project_id, backup.id), { key: h.tenant.api_key });
    expect(response.status).toBe(200);
    const deleted = Backup.strict().parse((response.body as { backup: unknown }).backup);
    expect(deleted).toMatchObject({
      id: backup.id,
      project_id: h.tenant.project_id,
      label: "nightly",
      backup_key: backup.backupKey,
      state: "completed",
      verification_state: "verified",
    });
    expect(Object.keys(response.body as object)).toEqual(["backup"]);
    expect(await h.stack.db.backup.findUnique({ where: { id: backup.id } })).toBeNull();
    expect(await artifactExists(backup.backupKey)).toBe(false);
    const list = await request(h.api, "GET", `/v1/projects/${h.tenant.project_id}/backups`, { key: h.tenant.api_key });
    expect((list.body as { backups: Array<{ id: string }> }).backups.map((b) => b.id)).not.toContain(backup.id);
    expectError(await request(h.api, "GET", `${deletePath(h.tenant.project_id, backup.id)}/download`, { key: h.tenant.api_key }), 404, "backup not found");

    const events = await h.stack.db.auditEvent.findMany({ where: { action: "backup.deleted", targetId: backup.id } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      organizationId: h.tenant.organization_id,
      projectId: h.tenant.project_id,
      actorType: "api_key",
      actorId: h.tenant.api_key_id,
      targetType: "backup",
    });
    expect(JSON.stringify(events[0]!.metadata)).not.toContain("capy_live_");

    // Deleting it again: it no longer exists.
    expectError(await request(h.api, "DELETE", deletePath(h.tenant.project_id, backup.id), { key: h.tenant.api_key }), 404, "backup not found");
  });

  it("answers 404 for an unknown backup and another tenant's, touching nothing", async () => {
    const other = await h.stack.createTenant("globex", "shop", h.source.url);
    const theirs = await insertBackup(other.project_id);
    expectError(await request(h.api, "DELETE", deletePath(h.tenant.project_id, "bkp_nope"), { key: h.tenant.api_key }), 404, "backup not found");
    expectError(await request(h.api, "DELETE", deletePath(h.tenant.project_id, theirs.id), { key: h.tenant.api_key }), 404, "backup not found");
    expectError(await request(h.api, "DELETE", deletePath(other.project_id, theirs.id), { key: h.tenant.api_key }), 404, "project not found");
    expect(await h.stack.db.backup.findUnique({ where: { id: theirs.id } })).not.toBeNull();
    expect(await artifactExists(theirs.backupKey)).toBe(true);
  });

  it("needs backups:write (403) and credentials (401)", async () => {
    const backup = await insertBackup(h.tenant.project_id);
    const key = await createApiKey(h.stack.db, {
      organizationId: h.tenant.organization_id,
      projectId: h.tenant.project_id,
      name: "read only",
      scopes: ["backups:read", "jobs:read"],
    });
    expectError(await request(h.api, "DELETE", deletePath(h.tenant.project_id, backup.id), { key: key.plaintext }), 403);
    expectError(await request(h.api, "DELETE", deletePath(h.tenant.project_id, backup.id)), 401);
    expect(await h.stack.db.backup.findUnique({ where: { id: backup.id } })).not.toBeNull();
    expect(await artifactExists(backup.backupKey)).toBe(true);
  });

  it("answers 409 while the backup is being made or verified, and deletes it once that is over", async () => {
    const { db } = h.stack;
    const busy = "backup is still being made or verified; try again once its job has finished";
    // Verification pending (its backup job still running).
    const making = await insertBackup(h.tenant.project_id, { verificationState: "pending", jobState: "running" });
    expectError(await request(h.api, "DELETE", deletePath(h.tenant.project_id, making.id), { key: h.tenant.api_key }), 409, busy);
    expect(await artifactExists(making.backupKey)).toBe(true);
    // The job verified it and completed: now it can go.
    await db.backup.update({ where: { id: making.id }, data: { verificationState: "verified", verifiedAt: new Date() } });
    await db.job.update({ where: { id: making.jobId }, data: { state: "completed" } });
    expect((await request(h.api, "DELETE", deletePath(h.tenant.project_id, making.id), { key: h.tenant.api_key })).status).toBe(200);
    expect(await artifactExists(making.backupKey)).toBe(false);

    // A verify job for it running (requested through the API, then claimed).
    const verified = await insertBackup(h.tenant.project_id);
    const verify = await request(h.api, "POST", `${deletePath(h.tenant.project_id, verified.id)}/verify`, { key: h.tenant.api_key });
    expect(verify.status).toBe(201);
    const verifyJobId = (verify.body as { job: { id: string } }).job.id;
    expectError(await request(h.api, "DELETE", deletePath(h.tenant.project_id, verified.id), { key: h.tenant.api_key }), 409, busy);
    await db.job.update({ where: { id: verifyJobId }, data: { state: "running" } });
    expectError(await request(h.api, "DELETE", deletePath(h.tenant.project_id, verified.id), { key: h.tenant.api_key }), 409, busy);
    expect(await db.backup.findUnique({ where: { id: verified.id } })).not.toBeNull();
    expect(await artifactExists(verified.backupKey)).toBe(true);
    await db.job.update({ where: { id: verifyJobId }, data: { state: "completed" } });
    const response = await request(h.api, "DELETE", deletePath(h.tenant.project_id, verified.id), { key: h.tenant.api_key });
    expect(response.status).toBe(200);
    expect(await db.backup.findUnique({ where: { id: verified.id } })).toBeNull();
    expect(await artifactExists(verified.backupKey)).toBe(false);
  });

  it("is in the OpenAPI document with its scope", async () => {
    const response = await request(h.api, "GET", "/v1/openapi.json");
    const doc = response.body as {
      paths: Record<string, Record<string, { operationId?: string; "x-required-scope"?: string; responses: Record<string, unknown> }>>;
    };
    const operation = doc.paths["/v1/projects/{id}/backups/{backupID}"]?.delete;
    expect(operation).toMatchObject({ operationId: "deleteBackup", "x-required-scope": "backups:write" });
    expect(operation?.responses["409"]).toMatchObject({ content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } });
    expect(Object.keys(operation?.responses ?? {})).toContain("200");
  });
});
