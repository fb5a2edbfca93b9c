// The metadata database goes away under a running API process and comes back: requests that
// need it answer 503 `{ error }` (no internals), authentication included, and the API serves
// again by itself once the database is back, without a restart. The database is a private
// PostgreSQL server of this test's own, stopped and started again; the shared one is untouched.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createDb, createProject, type Db, generateEncryptionKey, Keyring, migrateDatabase, registerCluster, withDatabase } from "@capy/db";
import { type ApiProcess, createTestRedis, type PrivatePostgres, startApi, startPrivatePostgres, type TestRedis, waitFor } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectError, request } from "./test/harness.js";

let pg: PrivatePostgres;
let redis: TestRedis;
let storageDir: string;
let db: Db;
let api: ApiProcess;
let tenant: Awaited<ReturnType<typeof createProject>>;

beforeAll(async () => {
  pg = await startPrivatePostgres({ password: "outage-test-password" });
  redis = createTestRedis();
  storageDir = await mkdtemp(path.join(os.tmpdir(), "capy-outage-"));
  const metadataUrl = withDatabase(pg.url, "capy_meta");
  await migrateDatabase(metadataUrl);
  db = createDb(metadataUrl, { maxConnections: 2 });
  const encryptionKey = generateEncryptionKey();
  await registerCluster(db, { adminUrl: withDatabase(pg.url, "postgres"), keyring: new Keyring(encryptionKey) });
  tenant = await createProject(db, {
    organizationName: "acme",
    projectName: "shop",
    databaseUrl: withDatabase(pg.url, "shop"),
    keyring: new Keyring(encryptionKey),
  });
  api = await startApi({
    DATABASE_URL: metadataUrl,
    REDIS_URL: redis.url,
    CAPY_REDIS_PREFIX: redis.prefix,
    STORAGE_DIR: storageDir,
    CAPY_ENCRYPTION_KEY: encryptionKey,
  });
});
afterAll(async () => {
  await api?.stop();
  await db?.$disconnect();
  await pg?.stop();
  await redis?.cleanup();
  if (storageDir) await rm(storageDir, { recursive: true, force: true });
});

describe("metadata database outage", () => {
  it("answers 503 { error } while the database is down and recovers by itself", async () => {
    const jobsPath = `/v1/projects/${tenant.project_id}/jobs`;
    const backupsPath = `/v1/projects/${tenant.project_id}/backups`;
    expect((await request(api, "GET", jobsPath, { key: tenant.api_key })).status).toBe(200);
    expect((await request(api, "POST", backupsPath, { key: tenant.api_key })).status).toBe(201);

    await db.$disconnect();
    await pg.halt();

    // Authentication (the API key lookup) is the first thing to need the database.
    for (const [method, url] of [
      ["GET", jobsPath],
      ["POST", backupsPath],
      ["GET", "/v1/me"],
      ["GET", `${backupsPath}/bkp_x/download`],
    ] as const) {
      const response = await request(api, method, url, { key: tenant.api_key });
      expectError(response, 503, "service temporarily unavailable; retry later");
      expect(JSON.stringify(response.body)).not.toMatch(new RegExp(`${pg.port}|127\\.0\\.0\\.1|prisma|P1001`, "i"));
    }
    // The native tRPC endpoint maps it the same way.
    const trpc = await fetch(`${api.baseUrl}/trpc/jobs.get?input=${encodeURIComponent(JSON.stringify({ jobID: "job_x" }))}`, {
      headers: { authorization: `Bearer ${tenant.api_key}` },
    });
    expect(trpc.status).toBe(503);
    expect(((await trpc.json()) as { error: { message: string } }).error.message).toBe("service temporarily unavailable; retry later");
    // Readiness says which dependency is missing; liveness stays up.
    expectError(await request(api, "GET", "/readyz"), 503, "not ready: postgres unreachable");
    expect((await request(api, "GET", "/healthz")).status).toBe(200);
    expect(api.child.exitCode).toBeNull();

    await pg.resume();
    await waitFor(async () => (await request(api, "GET", jobsPath, { key: tenant.api_key })).status === 200, {
      timeoutMs: 30_000,
      what: "the API to serve again",
    });
    const created = await request(api, "POST", backupsPath, { key: tenant.api_key });
    expect(created.status).toBe(201);
    expect((await request(api, "GET", "/readyz")).status).toBe(200);
    // Logged as an outage, not as a crash.
    expect(api.logs()).toContain("metadata database unavailable");
  });
});
