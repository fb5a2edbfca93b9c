// Backups end to end through a real worker process (the built dist), real Postgres, Redis and
// pg_dump: the artifact restores to identical data; failures are recorded, classified and leave
// nothing behind.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { enqueueJob } from "@capy/jobs";
import {
  createEmptyDatabase,
  createPgbenchDatabase,
  type PrivatePostgres,
  pgbenchFingerprint,
  run,
  startPrivatePostgres,
  type TestDatabase,
  waitFor,
} from "@capy/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHarness, decodeArtifact, type Harness, insertJob, projectFiles, submitJob, waitForJob } from "../test-helpers.js";

let harness: Harness;
let source: TestDatabase;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  [harness, source] = await Promise.all([createHarness(), createPgbenchDatabase(1)]);
  await harness.stack.startWorker();
});

afterAll(async () => {
  await Promise.all(cleanups.map((cleanup) => cleanup()));
  await harness?.close();
  await source?.drop();
});

async function sha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * A job that must fail at once: no backup row, nothing in storage, and pg_dump's own exit code
 * and message on the job (the snapshot session meets the problem first, then lets pg_dump report it).
 */
async function expectPermanentFailure(jobId: string, projectId: string, serverMessage: string) {
  const { stack } = harness;
  const job = await waitForJob(stack, jobId, ["completed", "failed"]);
  expect(job).toMatchObject({ state: "failed", retryClassification: "permanent", attempts: 1, lastStdout: null, lastExitCode: 1 });
  expect(job.completedAt).not.toBeNull();
  expect(job.lastStderr).toContain(serverMessage);
  expect(job.error).toContain("pg_dump exited with code 1");
  expect(job.error).toContain(serverMessage);
  expect(await stack.db.backup.findUnique({ where: { jobId } })).toBeNull();
  expect(await projectFiles(stack.storageDir, projectId)).toEqual([]);
  return job;
}

describe("backup jobs", () => {
  it("store an artifact that restores to identical data, and record it", async () => {
    const { stack } = harness;
    const tenant = await stack.createTenant("acme", "shop", source.url);
    const submitted = await submitJob(harness, tenant.project_id, "backup", "before-migration");

    const job = await waitForJob(stack, submitted.id, ["completed", "failed"]);
    expect(job).toMatchObject({ state: "completed", attempts: 1, lastExitCode: 0, error: null, retryClassification: null, lastStdout: null, lastStderr: "" });
    expect(job.claimedBy).toMatch(/.+:\d+$/);
    for (const time of [job.claimedAt, job.startedAt, job.completedAt]) expect(time).not.toBeNull();

    const backup = await stack.db.backup.findUniqueOrThrow({ where: { jobId: job.id } });
    expect(backup).toMatchObject({
      organizationId: tenant.organization_id,
      projectId: tenant.project_id,
      databaseName: source.name,
      label: "before-migration",
      // One key per attempt: the job, the attempt's fencing token, the backup.
      backupKey: `projects/${tenant.project_id}/backups/${job.id}/1-${backup.id}.dump`,
      state: "completed",
      verificationState: "verified",
      verificationError: null,
      // BACKUP_COMPRESSION's default with pg_dump 15: zstd around an uncompressed archive,
      // and BACKUP_ENCRYPTION's: encrypted with age to the project's platform key.
      compression: "zstd",
      compressionLevel: 1,
      archiveFormat: "custom",
      storedEncoding: "zstd",
      encryption: "age",
    });
    const platformKey = await stack.db.projectEncryptionKey.findFirstOrThrow({ where: { projectId: tenant.project_id, retiredAt: null } });
    expect(backup.encryptionKeyId).toBe(platformKey.id);
    expect(backup.verifiedAt!.getTime()).toBeGreaterThanOrEqual(job.startedAt!.getTime());
    expect(backup.verifiedAt!.getTime()).toBeLessThanOrEqual(job.completedAt!.getTime());
    // What the dump's snapshot held, counted in that snapshot.
    expect(backup.sourceInventory).toMatchObject({
      schemas: ["public"],
      tables: ["public.pgbench_accounts", "public.pgbench_branches", "public.pgbench_history", "public.pgbench_tellers"],
      rowCounts: { "public.pgbench_accounts": 100_000, "public.pgbench_branches": 1, "public.pgbench_history": 0, "public.pgbench_tellers": 10 },
      largeObjects: 0,
    });
    expect(backup.id).toMatch(/^bkp_/);

    const artifact = path.join(stack.storageDir, backup.backupKey);
    expect(await projectFiles(stack.storageDir, tenant.project_id)).toEqual([artifact]);
    expect(backup.sizeBytes).toBe(BigInt((await stat(artifact)).size));
    expect(backup.sha256).toBe(await sha256(artifact));

    // Not a readable archive: an age stream, with neither pg_dump's magic nor a table's name in it.
    const stored = await readFile(artifact);
    expect(stored.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    expect(stored.includes("PGDMP")).toBe(false);
    expect(stored.includes("pgbench_accounts")).toBe(false);

    // age -d with the platform identity, then zstd -d, give the pg_restore archive, whose size verification recorded.
    const archive = `${artifact}.decoded`;
    cleanups.push(() => rm(archive, { force: true }));
    await decodeArtifact(stack, backup, archive);
    expect(backup.archiveSizeBytes).toBe(BigInt((await stat(archive)).size));
    const restored = await createEmptyDatabase("capy_restore");
    cleanups.push(() => restored.drop());
    await run("pg_restore", ["--no-owner", "--exit-on-error", "-d", restored.url, archive]);
    expect(await pgbenchFingerprint(restored.url)).toEqual(await pgbenchFingerprint(source.url));
  });

  it("fail permanently when the database no longer exists", async () => {
    const { stack } = harness;
    const doomed = await createEmptyDatabase("capy_gone");
    const tenant = await stack.createTenant("acme", "dropped", doomed.url);
    await doomed.drop();

    const job = await submitJob(harness, tenant.project_id);
    await expectPermanentFailure(job.id, tenant.project_id, `database "${doomed.name}" does not exist`);
  });

  describe("on a server with password authentication", () => {
    const password = "correct horse:battery\\staple";
    let server: PrivatePostgres;

    beforeAll(async () => {
      server = await startPrivatePostgres({ password });
      cleanups.push(() => server.stop());
    });

    it("fail permanently with a wrong password, which appears nowhere", async () => {
      const { stack } = harness;
      const wrong = "not-the-password";
      const tenant = await stack.createTenant("acme", "locked-out", `postgresql://postgres:${wrong}@127.0.0.1:${server.port}/postgres`);

      const job = await expectPermanentFailure(
        (await submitJob(harness, tenant.project_id)).id,
        tenant.project_id,
        'password authentication failed for user "postgres"',
      );
      expect(JSON.stringify(job)).not.toContain(wrong);
      expect(stack.workers[0]!.logs()).not.toContain(wrong);
    });

    it("succeed with the right password, passed through the passfile", async () => {
      const { stack } = harness;
      const tenant = await stack.createTenant("acme", "locked-in", server.url);
      // The cluster was registered by the locked-out tenant, with its wrong password as the admin
      // one; verification logs in as the cluster admin.
      const project = await stack.db.project.findUniqueOrThrow({ where: { id: tenant.project_id } });
      await stack.db.cluster.update({ where: { id: project.clusterId }, data: { adminPasswordEncrypted: stack.keyring.seal(password) } });

      const job = await waitForJob(stack, (await submitJob(harness, tenant.project_id)).id, ["completed", "failed"]);
      expect(job).toMatchObject({ state: "completed", lastExitCode: 0, error: null });
      expect(await stack.db.backup.findUniqueOrThrow({ where: { jobId: job.id } })).toMatchObject({ verificationState: "verified" });
      expect(stack.workers[0]!.logs()).not.toContain(password);
    });
  });

  describe("whose pg_dump, zstd or age child is killed mid-dump", () => {
    /** The worker's children running `name` (from /proc). */
    async function childrenNamed(parent: number, name: string): Promise<number[]> {
      const pids: number[] = [];
      for (const entry of await readdir("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
        // pid (comm) state ppid …
        const match = /^\d+ \((.*)\) \S (\d+)/.exec(stat);
        if (match && match[1] === name && Number(match[2]) === parent) pids.push(Number(entry));
      }
      return pids;
    }

    async function killMidDump(child: "zstd" | "age" | "pg_dump") {
      const { stack } = harness;
      const tenant = await stack.createTenant("acme", `killed-${child}`, source.url);
      // pg_dump (and the inventory) wait for this lock: the children are killed mid-dump.
      const blocker = new pg.Client({ connectionString: source.url });
      await blocker.connect();
      try {
        await blocker.query("BEGIN; LOCK TABLE pgbench_accounts IN ACCESS EXCLUSIVE MODE");
        // One attempt, so the failure is the job's outcome rather than a retry.
        const inserted = await insertJob(stack, tenant.project_id);
        await stack.db.job.update({ where: { id: inserted.id }, data: { maxAttempts: 1 } });
        await enqueueJob(harness.queue, inserted);
        const worker = stack.workers[0]!.child.pid!;
        const [pid] = await waitFor(
          async () => {
            const running = await Promise.all(["pg_dump", "zstd", "age"].map((name) => childrenNamed(worker, name)));
            return running.every((pids) => pids.length === 1) ? running[["pg_dump", "zstd", "age"].indexOf(child)] : undefined;
          },
          { timeoutMs: 30_000, what: "pg_dump, zstd and age running" },
        );
        process.kill(pid!, "SIGKILL");
      } finally {
        await blocker.query("ROLLBACK");
        await blocker.end();
      }
      const job = await waitForJob(stack, (await stack.db.job.findFirstOrThrow({ where: { projectId: tenant.project_id } })).id, ["completed", "failed"]);
      expect(job).toMatchObject({ state: "failed", attempts: 1, retryClassification: "transient" });
      expect(await stack.db.backup.findUnique({ where: { jobId: job.id } })).toBeNull();
      expect(await projectFiles(stack.storageDir, tenant.project_id)).toEqual([]);
      return job;
    }

    it("fails the job with zstd's failure when zstd is killed, leaving no artifact", async () => {
      const job = await killMidDump("zstd");
      expect(job.error).toBe("compression failed: zstd was killed by SIGKILL");
    });

    it("fails the job with age's failure when age is killed, leaving no artifact", async () => {
      const job = await killMidDump("age");
      expect(job.error).toBe("encryption failed: age was killed by SIGKILL");
    });

    it("fails the job with pg_dump's failure when pg_dump is killed, leaving no artifact", async () => {
      const job = await killMidDump("pg_dump");
      expect(job.error).toContain("pg_dump was killed by SIGKILL");
    });
  });

  it("keep pg_dump's gzip inside the archive, unencrypted, with BACKUP_COMPRESSION=gzip:6 and BACKUP_ENCRYPTION=none (the old artifacts' encoding)", async () => {
    const gzipHarness = await createHarness({ BACKUP_COMPRESSION: "gzip:6", BACKUP_ENCRYPTION: "none" });
    cleanups.push(() => gzipHarness.close());
    await gzipHarness.stack.startWorker();
    const tenant = await gzipHarness.stack.createTenant("acme", "gzip", source.url);
    const job = await waitForJob(gzipHarness.stack, (await submitJob(gzipHarness, tenant.project_id)).id, ["completed", "failed"]);
    expect(job).toMatchObject({ state: "completed", error: null });
    const backup = await gzipHarness.stack.db.backup.findUniqueOrThrow({ where: { jobId: job.id } });
    expect(backup).toMatchObject({
      verificationState: "verified",
      compression: "gzip",
      compressionLevel: 6,
      archiveFormat: "custom",
      storedEncoding: "identity",
      archiveSizeBytes: backup.sizeBytes,
      encryption: null,
      encryptionKeyId: null,
    });
    const artifact = await readFile(path.join(gzipHarness.stack.storageDir, backup.backupKey));
    expect(artifact.subarray(0, 5).toString()).toBe("PGDMP");
  });
});
