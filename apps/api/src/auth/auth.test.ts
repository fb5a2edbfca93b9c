// Authentication, scopes and tenancy over real HTTP against the built API process.

import { createApiKey, mintApiKey, revokeApiKey } from "@capy/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, type Harness, request, startHarness } from "../test/harness.js";

let h: Harness;
let backupsPath: string;

beforeAll(async () => {
  h = await startHarness();
  backupsPath = `/v1/projects/${h.tenant.project_id}/backups`;
});
afterAll(async () => {
  await h?.stop();
});

/** A new key of the test tenant's organization; project-scoped unless `projectId` is null. */
async function keyOf(options: { projectId?: string | null; scopes?: Parameters<typeof createApiKey>[1]["scopes"]; expiresAt?: Date } = {}) {
  return createApiKey(h.stack.db, {
    organizationId: h.tenant.organization_id,
    projectId: options.projectId === undefined ? h.tenant.project_id : options.projectId,
    name: "test key",
    scopes: options.scopes,
    expiresAt: options.expiresAt,
  });
}

describe("API keys", () => {
  it("accepts the key as a Bearer token and as X-API-Key", async () => {
    expect((await request(h.api, "GET", backupsPath, { key: h.tenant.api_key })).status).toBe(200);
    expect((await request(h.api, "GET", backupsPath, { headers: { "x-api-key": h.tenant.api_key } })).status).toBe(200);
  });

  it("answers 401 without a key", async () => {
    expectError(await request(h.api, "GET", backupsPath), 401, /missing API key/);
  });

  it("answers 401 for a malformed key, a bad checksum and an unknown key", async () => {
    const valid = h.tenant.api_key;
    const badChecksum = valid.slice(0, -1) + (valid.endsWith("A") ? "B" : "A");
    for (const key of ["not-a-key", "capy_live_short", badChecksum, mintApiKey().plaintext]) {
      expectError(await request(h.api, "GET", backupsPath, { key }), 401, "invalid API key");
    }
    expectError(await request(h.api, "GET", backupsPath, { headers: { authorization: `Basic ${valid}` } }), 401);
  });

  it("answers 401 for a revoked key, from the request right after the revocation's answer", async () => {
    // Revoked through the API: that path is immediate (cached keys are dropped before it answers).
    // Changes made outside the API (CLI, SQL) arrive by Postgres notification: tenancy-cache.test.ts.
    const admin = await keyOf({ projectId: null });
    const key = await keyOf();
    expect((await request(h.api, "GET", backupsPath, { key: key.plaintext })).status).toBe(200);
    const revoke = await request(h.api, "DELETE", `/v1/organizations/${h.tenant.organization_id}/api-keys/${key.id}`, { key: admin.plaintext });
    expect(revoke.status).toBe(200);
    expectError(await request(h.api, "GET", backupsPath, { key: key.plaintext }), 401, "API key has been revoked");
  });

  it("answers 401 for a key revoked before its first use", async () => {
    const key = await keyOf();
    await revokeApiKey(h.stack.db, key.id);
    expectError(await request(h.api, "GET", backupsPath, { key: key.plaintext }), 401, "API key has been revoked");
  });

  it("answers 401 for an expired key", async () => {
    const key = await keyOf({ expiresAt: new Date(Date.now() - 1_000) });
    expectError(await request(h.api, "GET", backupsPath, { key: key.plaintext }), 401, "API key has expired");
  });

  it("answers 403 naming the missing scope", async () => {
    const key = await keyOf({ scopes: ["jobs:read"] });
    expectError(await request(h.api, "GET", backupsPath, { key: key.plaintext }), 403, "missing scope backups:read");
    expectError(await request(h.api, "POST", backupsPath, { key: key.plaintext, json: {} }), 403, "missing scope backups:write");
    expect((await request(h.api, "GET", `/v1/projects/${h.tenant.project_id}/jobs`, { key: key.plaintext })).status).toBe(200);
  });

  it("records last_used_at at most once per minute", async () => {
    const key = await keyOf();
    const lastUsed = async () => (await h.stack.db.apiKey.findUniqueOrThrow({ where: { id: key.id } })).lastUsedAt;
    expect(await lastUsed()).toBeNull();
    await request(h.api, "GET", backupsPath, { key: key.plaintext });
    const first = await lastUsed();
    expect(first).toBeInstanceOf(Date);
    await request(h.api, "GET", backupsPath, { key: key.plaintext });
    expect(await lastUsed()).toEqual(first);
  });
});

describe("tenancy", () => {
  it("lets an organization-wide key act on every project of its organization", async () => {
    const key = await keyOf({ projectId: null });
    expect((await request(h.api, "GET", backupsPath, { key: key.plaintext })).status).toBe(200);
  });

  it("answers 404 to another project's key of the same organization, as for a missing project", async () => {
    const other = await h.stack.createTenant("acme", "warehouse", h.source.url);
    expect(other.organization_id).toBe(h.tenant.organization_id);
    const foreign = await request(h.api, "GET", backupsPath, { key: other.api_key });
    const missing = await request(h.api, "GET", "/v1/projects/prj_does_not_exist/backups", { key: h.tenant.api_key });
    expectError(foreign, 404, "project not found");
    expect(foreign.body).toEqual(missing.body);
  });

  it("answers 404 to another organization's key, everywhere", async () => {
    const globex = await h.stack.createTenant("globex", "shop", h.source.url);
    const created = await request(h.api, "POST", backupsPath, { key: h.tenant.api_key });
    const jobId = (created.body as { job: { id: string } }).job.id;
    const { project_id } = h.tenant;
    for (const [method, path] of [
      ["GET", backupsPath],
      ["POST", backupsPath],
      ["GET", `/v1/projects/${project_id}/jobs`],
      ["GET", `/v1/projects/${project_id}/scheduled-backups`],
      ["PUT", `/v1/projects/${project_id}/scheduled-backups/default`],
      ["GET", `/v1/projects/${project_id}/backups/bkp_x/download`],
    ] as const) {
      const body = method === "PUT" ? { cron_hour: 1, cron_minute: 0, is_active: true } : {};
      expectError(await request(h.api, method, path, { key: globex.api_key, json: method === "GET" ? undefined : body }), 404, "project not found");
    }
    expectError(await request(h.api, "GET", `/v1/jobs/${jobId}`, { key: globex.api_key }), 404, "job not found");
    expect((await request(h.api, "GET", `/v1/jobs/${jobId}`, { key: h.tenant.api_key })).status).toBe(200);
  });
});
