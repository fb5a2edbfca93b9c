// The API and the worker refuse to start against a Redis that may evict queue keys: both exit
// non-zero with a message naming the policy. The Redis is a private redis-server started with
// --maxmemory-policy allkeys-lru (the shared server is never reconfigured).
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { generateEncryptionKey } from "@capy/db";
import { createMetadataDatabase, freePort, type PrivateRedis, runToExit, startPrivateRedis, type TestDatabase } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let redis: PrivateRedis;
let metadata: TestDatabase;
let storageDir: string;

beforeAll(async () => {
  [redis, metadata] = await Promise.all([startPrivateRedis(["--maxmemory-policy", "allkeys-lru"]), createMetadataDatabase()]);
  storageDir = await mkdtemp(path.join(os.tmpdir(), "capy-policy-"));
});
afterAll(async () => {
  await redis?.stop();
  await metadata?.drop();
  if (storageDir) await rm(storageDir, { recursive: true, force: true });
});

async function runToExitWithPolicy(entry: string) {
  return runToExit(entry, {
    DATABASE_URL: metadata.url,
    REDIS_URL: redis.url,
    CAPY_REDIS_PREFIX: "policytest",
    STORAGE_DIR: storageDir,
    CAPY_ENCRYPTION_KEY: generateEncryptionKey(),
    PORT: String(await freePort()),
    HOST: "127.0.0.1",
  });
}

describe("a Redis whose maxmemory-policy evicts keys", () => {
  it.each([
    ["api", "apps/api/dist/main.js"],
    ["worker", "apps/worker/dist/main.js"],
  ])("%s refuses to start, naming the policy", async (_name, entry) => {
    const { code, output } = await runToExitWithPolicy(entry);
    expect(code).toBe(1);
    expect(output).toContain('Redis maxmemory-policy is \\"allkeys-lru\\", but BullMQ needs \\"noeviction\\"');
    expect(output).not.toMatch(/api listening|worker ready/);
  });
});
