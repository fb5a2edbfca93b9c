// The orphan-artifact sweep against a real metadata database and real filesystem storage: only
// artifacts of finished jobs that no backup row refers to are removed.
import { Readable } from "node:stream";
import { type Job, newId } from "@capy/db";
import { attemptArtifactKey, backupArtifactKey, FilesystemStorage } from "@capy/storage";
import { createEmptyDatabase, type TestDatabase } from "@capy/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createHarness, type Harness, insertJob } from "../test-helpers.js";
import { sweepOrphanArtifacts } from "./orphan-artifacts.js";

let harness: Harness;
let source: TestDatabase;
let storage: FilesystemStorage;
let projectId: string;

beforeAll(async () => {
  [harness, source] = await Promise.all([createHarness(), createEmptyDatabase()]);
  storage = new FilesystemStorage(harness.stack.storageDir);
  projectId = (await harness.stack.createTenant("acme", "orphans", source.url)).project_id;
});

afterAll(async () => {
  await harness?.close();
  await source?.drop();
});

async function jobIn(state: Job["state"]): Promise<Job> {
  const job = await insertJob(harness.stack, projectId);
  return harness.stack.db.job.update({ where: { id: job.id }, data: { state } });
}

async function store(key: string): Promise<string> {
  await storage.put(key, Readable.from([Buffer.from("dump bytes")]));
  return key;
}

const exists = (key: string) =>
  storage.size(key).then(
    () => true,
    () => false,
  );

it("removes artifacts of finished jobs that no backup row refers to, and nothing else", async () => {
  const finished = await jobIn("completed");
  const recordedKey = await store(attemptArtifactKey(projectId, finished.id, 2, newId("bkp")));
  await harness.stack.db.backup.create({
    data: {
      id: newId("bkp"),
      organizationId: finished.organizationId,
      projectId,
      jobId: finished.id,
      databaseName: source.name,
      backupKey: recordedKey,
      sizeBytes: 10n,
      sha256: "0".repeat(64),
      state: "completed",
      verificationState: "verified",
    },
  });
  // A stale attempt's artifact beside the recorded one, and one whose row retention deleted.
  const staleKey = await store(attemptArtifactKey(projectId, finished.id, 1, newId("bkp")));
  const deletedRowKey = await store(attemptArtifactKey(projectId, (await jobIn("failed")).id, 1, newId("bkp")));
  // A running job's artifact is about to be recorded; a job row that no longer exists left one.
  const runningKey = await store(attemptArtifactKey(projectId, (await jobIn("running")).id, 1, newId("bkp")));
  const goneJobKey = await store(attemptArtifactKey(projectId, newId("job"), 1, newId("bkp")));
  // Keys in another layout are not this sweep's to judge.
  const otherKey = await store(backupArtifactKey(projectId, newId("bkp")));

  const removed = await sweepOrphanArtifacts(harness.stack.db, storage);
  expect(removed.sort()).toEqual([staleKey, deletedRowKey, goneJobKey].sort());
  for (const key of [recordedKey, runningKey, otherKey]) expect(await exists(key)).toBe(true);
  for (const key of removed) expect(await exists(key)).toBe(false);
  expect(await sweepOrphanArtifacts(harness.stack.db, storage)).toEqual([]);
});
