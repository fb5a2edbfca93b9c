// A whole system for an integration test: its own metadata database, Redis prefix and storage
// directory, real API and worker processes, and a seeded tenant whose project points at a real
// source database.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createDb, createProject, type Db, generateEncryptionKey, Keyring, registerCluster, withDatabase } from "@capy/db";
import { createMetadataDatabase, type TestDatabase, verifyDatabasePrefix } from "./postgres.js";
import { type ApiProcess, type ServiceProcess, startApi, startWorker } from "./processes.js";
import { createTestRedis, type TestRedis } from "./redis.js";

export interface TestStack {
  metadata: TestDatabase;
  redis: TestRedis;
  storageDir: string;
  encryptionKey: string;
  /** The keyring of encryptionKey alone, as the stack's processes build it. */
  keyring: Keyring;
  /** Environment every API/worker process of this stack gets. */
  env: NodeJS.ProcessEnv;
  db: Db;
  api?: ApiProcess;
  workers: ServiceProcess[];
  startApi(extraEnv?: NodeJS.ProcessEnv): Promise<ApiProcess>;
  startWorker(extraEnv?: NodeJS.ProcessEnv): Promise<ServiceProcess>;
  /**
   * Creates an organization + project on `databaseUrl`, returning ids and a project key. The
   * cluster is registered first with `adminUrl` (default: `databaseUrl`'s login on its
   * `postgres` database; tests' sources are made by the server's superuser).
   */
  createTenant(org: string, project: string, databaseUrl: string, adminUrl?: string): ReturnType<typeof createProject>;
  stop(): Promise<void>;
}

export async function createTestStack(extraEnv: NodeJS.ProcessEnv = {}): Promise<TestStack> {
  const metadata = await createMetadataDatabase();
  const redis = createTestRedis();
  const storageDir = await mkdtemp(path.join(os.tmpdir(), "capy-storage-"));
  const encryptionKey = generateEncryptionKey();
  const keyring = new Keyring(encryptionKey);
  const env: NodeJS.ProcessEnv = {
    DATABASE_URL: metadata.url,
    REDIS_URL: redis.url,
    CAPY_REDIS_PREFIX: redis.prefix,
    STORAGE_DIR: storageDir,
    CAPY_ENCRYPTION_KEY: encryptionKey,
    VERIFY_DATABASE_PREFIX: verifyDatabasePrefix(),
    // Test receivers listen on 127.0.0.1 over plain http; tests of the refusals turn these off.
    WEBHOOK_ALLOW_INSECURE: "1",
    WEBHOOK_ALLOW_PRIVATE_TARGETS: "1",
    ...extraEnv,
  };
  const db = createDb(metadata.url, { maxConnections: 3 });
  const stack: TestStack = {
    metadata,
    redis,
    storageDir,
    encryptionKey,
    keyring,
    env,
    db,
    workers: [],
    async startApi(more = {}) {
      stack.api = await startApi({ ...env, ...more });
      return stack.api;
    },
    async startWorker(more = {}) {
      const worker = await startWorker({ ...env, ...more });
      stack.workers.push(worker);
      return worker;
    },
    async createTenant(org, project, databaseUrl, adminUrl = withDatabase(databaseUrl, "postgres")) {
      await registerCluster(db, { adminUrl, keyring });
      return createProject(db, { organizationName: org, projectName: project, databaseUrl, keyring });
    },
    async stop() {
      await Promise.all([stack.api?.stop(), ...stack.workers.map((w) => w.stop())]);
      await db.$disconnect();
      await redis.cleanup();
      await metadata.drop();
      await rm(storageDir, { recursive: true, force: true });
    },
  };
  return stack;
}
