// `pnpm dev` in one clone, then in a second clone with a new key against the same metadata
// database (or after deleting .data/): the second run says the stored secrets were sealed under
// a key it does not have, re-seals the demo cluster and project under its own, and a backup
// through its API and worker completes and verifies. scripts/dev.mjs runs as a real process
// (its own API and worker children), twice, with two keys.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Backup, Job } from "@capy/contracts";
import { generateEncryptionKey, keyId, quoteIdent, withDatabase } from "@capy/db";
import {
  createMetadataDatabase,
  createTestRedis,
  freePort,
  type ServiceProcess,
  startProcess,
  TEST_SERVER_URL,
  type TestDatabase,
  type TestRedis,
  uniqueName,
  waitFor,
  withAdminClient,
} from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { e2eApi } from "./support.js";

let metadata: TestDatabase;
let redis: TestRedis;
let storageDir: string;
const demoDatabase = uniqueName("capy_demo");
const running: ServiceProcess[] = [];
let baseUrl = "";
const { api, pollJob } = e2eApi(() => baseUrl);

beforeAll(async () => {
  [metadata, redis, storageDir] = await Promise.all([createMetadataDatabase(), createTestRedis(), mkdtemp(path.join(os.tmpdir(), "capy-dev-"))]);
});

afterAll(async () => {
  await Promise.all(running.map((dev) => dev.stop("SIGINT", 20_000)));
  await redis?.cleanup();
  await metadata?.drop();
  await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdent(demoDatabase)} WITH (FORCE)`));
  if (storageDir) await rm(storageDir, { recursive: true, force: true });
});

/** One `pnpm dev` (after its build step): waits until its API and worker are up. */
async function startDev(encryptionKey: string) {
  const port = await freePort();
  const dev = startProcess("scripts/dev.mjs", {
    DATABASE_URL: metadata.url,
    REDIS_URL: redis.url,
    CAPY_REDIS_PREFIX: redis.prefix,
    STORAGE_DIR: storageDir,
    DEMO_DATABASE_URL: withDatabase(TEST_SERVER_URL, demoDatabase),
    CAPY_ENCRYPTION_KEY: encryptionKey,
    PORT: String(port),
  });
  running.push(dev);
  await waitFor(
    () => {
      if (dev.child.exitCode !== null) throw new Error(`pnpm dev exited early:\n${dev.logs()}`);
      return dev.logs().includes('"msg":"api listening"') && dev.logs().includes('"msg":"worker ready"');
    },
    { timeoutMs: 60_000, what: "pnpm dev's API and worker" },
  );
  const printed = (label: string) => new RegExp(`^\\s*${label}\\s+(\\S+)`, "m").exec(dev.logs())?.[1] ?? "";
  return { dev, baseUrl: `http://127.0.0.1:${port}`, projectId: printed("project"), apiKey: printed("API key") };
}

describe("pnpm dev in a second clone (a new key, the same metadata database)", () => {
  it("re-seals the demo's secrets under its key, and a backup completes and verifies", async () => {
    const firstKey = generateEncryptionKey();
    const first = await startDev(firstKey);
    expect(first.dev.logs()).not.toContain("re-sealing");
    await first.dev.stop("SIGINT", 20_000);

    const secondKey = generateEncryptionKey();
    const second = await startDev(secondKey);
    expect(second.dev.logs()).toContain(
      `the metadata database holds 3 secret(s) sealed under key ${keyId(firstKey)}, which this checkout does not have (its key is ${keyId(secondKey)}, from CAPY_ENCRYPTION_KEY); re-sealing the demo cluster and project under it`,
    );
    expect(second.dev.logs()).not.toContain("still do not decrypt");
    expect(second.projectId).toBe(first.projectId);

    baseUrl = second.baseUrl;
    const created = await api(second.apiKey, "POST", `/v1/projects/${second.projectId}/backups`, { label: "second clone" });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const job = await pollJob(second.apiKey, Job.parse(created.body.job).id);
    expect(job.state, job.error ?? "").toBe("completed");
    const listed = await api(second.apiKey, "GET", `/v1/projects/${second.projectId}/backups`);
    const [backup] = (listed.body.backups as unknown[]).map((b) => Backup.parse(b));
    expect(backup).toMatchObject({ state: "completed", verification_state: "verified", label: "second clone" });
  });
});
