// Shared by the integration tests (excluded from the build): a test stack with a producer
// queue, submitting backup jobs the way the API does, and looking at rows and storage.
import { readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { JobState } from "@capy/contracts";
import { type Backup, type Job, openEncryptionIdentity } from "@capy/db";
import { enqueueJob, insertJobRow } from "@capy/jobs";
import { type BackupQueue, createBackupQueue, createProducerConnection } from "@capy/queue";
import { createTestStack, run, type TestStack, waitFor } from "@capy/testing";

export interface Harness {
  stack: TestStack;
  queue: BackupQueue;
  close(): Promise<void>;
}

export async function createHarness(extraEnv: NodeJS.ProcessEnv = {}): Promise<Harness> {
  const stack = await createTestStack(extraEnv);
  const producer = createProducerConnection({ url: stack.redis.url, prefix: stack.redis.prefix });
  const queue = createBackupQueue(producer, stack.redis.prefix);
  return {
    stack,
    queue,
    async close() {
      await queue.close();
      producer.disconnect();
      await stack.stop();
    },
  };
}

/** Inserts a job row for the project and enqueues it, as the API does. */
export async function insertJob(
  stack: TestStack,
  projectId: string,
  type: "backup" | "verify" = "backup",
  label: string | null = null,
  backupId: string | null = null,
): Promise<Job> {
  const project = await stack.db.project.findUniqueOrThrow({ where: { id: projectId } });
  return insertJobRow(stack.db, {
    type,
    organizationId: project.organizationId,
    projectId,
    clusterId: project.clusterId,
    databaseName: project.databaseName,
    label,
    backupId,
  });
}

export async function submitJob(
  harness: Harness,
  projectId: string,
  type: "backup" | "verify" = "backup",
  label: string | null = null,
  backupId: string | null = null,
): Promise<Job> {
  const job = await insertJob(harness.stack, projectId, type, label, backupId);
  await enqueueJob(harness.queue, job);
  return job;
}

export function waitForJob(stack: TestStack, jobId: string, states: readonly JobState[], timeoutMs = 60_000): Promise<Job> {
  return waitFor(
    async () => {
      const job = await stack.db.job.findUniqueOrThrow({ where: { id: jobId } });
      return states.includes(job.state as JobState) ? job : undefined;
    },
    { timeoutMs, what: `job ${jobId} to become ${states.join(" or ")}` },
  );
}

/** Every file (partial writes included) stored for a project. */
export async function projectFiles(storageDir: string, projectId: string): Promise<string[]> {
  const dir = path.join(storageDir, "projects", projectId);
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name));
}

/**
 * Decodes an encrypted zstd artifact (the defaults) into the pg_restore archive `out` with the
 * standard tools, as a customer would: `age -d` with the platform key's identity, then `zstd -d`.
 */
export async function decodeArtifact(stack: TestStack, backup: Backup, out: string): Promise<void> {
  const artifact = path.join(stack.storageDir, backup.backupKey);
  const identity = `${out}.key`;
  await writeFile(identity, `${await openEncryptionIdentity(stack.db, stack.keyring, backup.encryptionKeyId!)}\n`, { mode: 0o600 });
  try {
    await run("age", ["-d", "-i", identity, "-o", `${out}.zst`, artifact]);
    await run("zstd", ["-q", "-d", "-f", `${out}.zst`, "-o", out]);
  } finally {
    await Promise.all([identity, `${out}.zst`].map((file) => rm(file, { force: true })));
  }
}
