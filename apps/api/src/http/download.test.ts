// Artifact downloads against the built API process: bytes, headers and tenancy.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newId } from "@capy/db";
import { backupArtifactKey, createStorage } from "@capy/storage";
import { expectError, request, startHarness, type Harness } from "../test/harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.stop();
});

/** A backup row of the test tenant, with `bytes` stored as its artifact unless null. */
async function storedBackup(bytes: Buffer | null, state = "completed") {
  const id = newId("bkp");
  const backupKey = backupArtifactKey(h.tenant.project_id, id);
  if (bytes) await createStorage({ storageDir: h.stack.storageDir }).put(backupKey, Readable.from([bytes]));
  await h.stack.db.backup.create({
    data: {
      id,
      organizationId: h.tenant.organization_id,
      projectId: h.tenant.project_id,
      jobId: newId("job"),
      databaseName: h.source.name,
      backupKey,
      sizeBytes: BigInt(bytes?.length ?? 0),
      sha256: "0".repeat(64),
      state,
    },
  });
  return { id, path: `/v1/projects/${h.tenant.project_id}/backups/${id}/download` };
}

describe("GET /v1/projects/{id}/backups/{backupID}/download", () => {
  it("streams the artifact with its size and a filename", async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const backup = await storedBackup(bytes);
    const response = await fetch(`${h.api.baseUrl}${backup.path}`, { headers: { "x-api-key": h.tenant.api_key } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/octet-stream");
    expect(response.headers.get("content-length")).toBe(String(bytes.length));
    expect(response.headers.get("content-disposition")).toBe(`attachment; filename="${h.source.name}-${backup.id}.dump"`);
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("answers 404 to another organization's key, as for an unknown backup", async () => {
    const backup = await storedBackup(Buffer.from("dump"));
    const globex = await h.stack.createTenant("globex", "shop", h.source.url);
    expectError(await request(h.api, "GET", backup.path, { key: globex.api_key }), 404, "project not found");
    const unknown = `/v1/projects/${h.tenant.project_id}/backups/bkp_does_not_exist/download`;
    expectError(await request(h.api, "GET", unknown, { key: h.tenant.api_key }), 404, "backup not found");
  });

  it("answers 404 for a backup of another project of the same organization", async () => {
    const backup = await storedBackup(Buffer.from("dump"));
    const sibling = await h.stack.createTenant("acme", "sibling", h.source.url);
    const viaSibling = `/v1/projects/${sibling.project_id}/backups/${backup.id}/download`;
    expectError(await request(h.api, "GET", viaSibling, { key: sibling.api_key }), 404, "backup not found");
  });

  it("checks the key and its scope like every endpoint", async () => {
    const backup = await storedBackup(Buffer.from("dump"));
    expectError(await request(h.api, "GET", backup.path), 401);
    expectError(await request(h.api, "GET", backup.path, { key: "capy_live_nope" }), 401, "invalid API key");
  });

  it("answers 409 for a failed backup and 404 when the artifact is gone", async () => {
    const failed = await storedBackup(null, "failed");
    expectError(await request(h.api, "GET", failed.path, { key: h.tenant.api_key }), 409);
    const missing = await storedBackup(null);
    expectError(await request(h.api, "GET", missing.path, { key: h.tenant.api_key }), 404, "backup artifact not found");
  });
});
