// The worker process around the handlers: unknown job types, transient failures and retries,
// heartbeats, and a shutdown in the middle of a dump.
import { spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { resolveZstd } from "@capy/artifact";
import { createEmptyDatabase, freePort, REPO_ROOT, type TestDatabase, waitFor } from "@capy/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolvePgTool } from "./postgres/tools.js";
import { createHarness, type Harness, insertJob, projectFiles, submitJob, waitForJob } from "./test-helpers.js";

const cleanups: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function harnessFor(extraEnv: NodeJS.ProcessEnv = {}): Promise<Harness> {
  const harness = await createHarness(extraEnv);
  cleanups.push(() => harness.close());
  return harness;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("the worker", () => {
  let harness: Harness;
  let source: TestDatabase;

  beforeAll(async () => {
    [harness, source] = await Promise.all([harnessFor(), createEmptyDatabase()]);
    cleanups.push(() => source.drop());
    await harness.stack.startWorker();
  });

  it("fails jobs of a type it has no handler for, permanently", async () => {
    const tenant = await harness.stack.createTenant("acme", "restore-me", source.url);
    // A type from a newer API than this worker knows.
    const job = await insertJob(harness.stack, tenant.project_id);
    await harness.queue.add("rewind" as "backup", { jobId: job.id }, { jobId: job.id, attempts: 3 });

    const failed = await waitForJob(harness.stack, job.id, ["failed", "completed"]);
    expect(failed).toMatchObject({ state: "failed", retryClassification: "permanent", error: "this worker has no handler for rewind jobs", attempts: 0 });
    expect(await harness.queue.getJobState(job.id)).toBe("failed");
  });

  it("retries transient failures, recording each attempt, until attempts run out", async () => {
    // Nothing listens on this port: every attempt is refused.
    const tenant = await harness.stack.createTenant("acme", "unreachable", `postgresql://postgres:postgres@127.0.0.1:${await freePort()}/app`);
    const job = await insertJob(harness.stack, tenant.project_id);
    await harness.queue.add("backup", { jobId: job.id }, { jobId: job.id, attempts: 3, backoff: { type: "fixed", delay: 1_000 } });

    const between = await waitFor(
      async () => {
        const row = await harness.stack.db.job.findUniqueOrThrow({ where: { id: job.id } });
        return row.state === "pending" && row.attempts === 1 ? row : undefined;
      },
      { intervalMs: 20, timeoutMs: 30_000, what: "the first attempt to be recorded" },
    );
    // pg_dump reports the refused connection itself (exit code 1, its message on the job).
    expect(between).toMatchObject({ retryClassification: "transient", lastExitCode: 1, completedAt: null });
    expect(between.error).toMatch(/^pg_dump exited with code 1: .*Connection refused/);

    const failed = await waitForJob(harness.stack, job.id, ["failed", "completed"]);
    expect(failed).toMatchObject({ state: "failed", attempts: 3, retryClassification: "transient", lastExitCode: 1 });
    expect(failed.completedAt).not.toBeNull();
    expect(failed.error).toContain("Connection refused");
    expect(await harness.stack.db.backup.count({ where: { jobId: job.id } })).toBe(0);
    expect(await projectFiles(harness.stack.storageDir, tenant.project_id)).toEqual([]);
  });
});

describe("a worker shutting down mid-dump", () => {
  let binDir: string;

  beforeAll(async () => {
    // A pg_dump that writes a few bytes and then never finishes, recording its pid.
    binDir = await mkdtemp(path.join(os.tmpdir(), "capy-slow-pg-dump-"));
    cleanups.push(() => rm(binDir, { recursive: true, force: true }));
    const script = [
      "#!/bin/sh",
      'if [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 15"; exit 0; fi',
      'echo $$ > "$(dirname "$0")/pg_dump.pid"',
      "printf PGDMP",
      "exec sleep 600",
      "",
    ].join("\n");
    await writeFile(path.join(binDir, "pg_dump"), script);
    await chmod(path.join(binDir, "pg_dump"), 0o755);
    // PG_BIN_DIR is the only place the tools are looked for: the real pg_restore verifies.
    await symlink(resolvePgTool("pg_restore", { binDir: undefined, searchPath: process.env.PATH ?? "" }), path.join(binDir, "pg_restore"));
  });

  it("heartbeats, then stops pg_dump after the grace period, requeues the job and exits 0", async () => {
    const harness = await harnessFor();
    const source = await createEmptyDatabase();
    cleanups.push(() => source.drop());
    const tenant = await harness.stack.createTenant("acme", "slow", source.url);
    const stuck = await harness.stack.startWorker({ PG_BIN_DIR: binDir, WORKER_SHUTDOWN_GRACE_MS: "300", WORKER_HEARTBEAT_INTERVAL_MS: "100" });
    const job = await submitJob(harness, tenant.project_id);

    const pid = Number(await waitFor(() => readFile(path.join(binDir, "pg_dump.pid"), "utf8"), { what: "the slow pg_dump to start" }));
    const running = await waitFor(
      async () => {
        const row = await harness.stack.db.job.findUniqueOrThrow({ where: { id: job.id } });
        return row.state === "running" && row.heartbeatAt! > row.claimedAt! ? row : undefined;
      },
      { what: "a heartbeat after the claim" },
    );
    expect(running.attempts).toBe(1);

    expect(await stuck.stop("SIGTERM", 30_000)).toBe(0);
    expect(stuck.logs()).toContain("job interrupted by shutdown; returned to the queue");
    expect(isAlive(pid)).toBe(false);
    const requeued = await harness.stack.db.job.findUniqueOrThrow({ where: { id: job.id } });
    expect(requeued).toMatchObject({ state: "pending", retryClassification: "transient", completedAt: null });
    expect(requeued.error).toMatch(/^interrupted: the worker shut down/);
    expect(await projectFiles(harness.stack.storageDir, tenant.project_id)).toEqual([]);
    expect(await harness.queue.getJobState(job.id)).toBe("waiting");
    // The hand-back gave the job's leases back: its database lock and the cluster's dump slot are free.
    const redis = new Redis(harness.stack.redis.url);
    try {
      for (const resource of [requeued.lockedResource, `dump:${requeued.clusterId}`]) {
        expect(await redis.zcard(`${harness.stack.redis.prefix}:lease:${resource}`)).toBe(0);
      }
    } finally {
      redis.disconnect();
    }

    // The next worker (with the real pg_dump) finishes the job; the interruption cost no attempt.
    const next = await harness.stack.startWorker();
    const completed = await waitForJob(harness.stack, job.id, ["completed", "failed"]);
    expect(completed).toMatchObject({ state: "completed", attempts: 2, error: null, retryClassification: null });
    // BullMQ counts the completing run; the interrupted one was not counted. (The row completes
    // just before BullMQ finishes the job: wait for BullMQ.)
    await waitFor(async () => (await harness.queue.getJobState(job.id)) === "completed", { what: "BullMQ to finish the job" });
    expect((await harness.queue.getJob(job.id))?.attemptsMade).toBe(1);
    expect(await next.stop("SIGTERM")).toBe(0);
  });
});

describe("the worker's start", () => {
  /** Runs the built worker until it exits; its exit code and output. */
  async function startAndExit(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
    const harness = await harnessFor();
    const child = spawn(process.execPath, [path.join(REPO_ROOT, "apps/worker/dist/main.js")], {
      env: { ...process.env, ...harness.stack.env, WORKER_METRICS_PORT: "0", ...env },
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    return { code, output };
  }

  it("refuses to start without zstd, saying how to install it", async () => {
    // PostgreSQL's tools and nothing else on PATH.
    const bin = await mkdtemp(path.join(os.tmpdir(), "capy-no-zstd-"));
    cleanups.push(() => rm(bin, { recursive: true, force: true }));
    for (const tool of ["pg_dump", "pg_restore"] as const)
      await symlink(resolvePgTool(tool, { binDir: undefined, searchPath: process.env.PATH ?? "" }), path.join(bin, tool));
    const { code, output } = await startAndExit({ PATH: bin });
    expect(code).toBe(1);
    expect(output).toContain(
      "zstd was not found on PATH: it compresses new backups and decompresses zstd artifacts; install it (Debian/Ubuntu: apt-get install zstd)",
    );
  });

  it("refuses to start without age, saying how to install it", async () => {
    // PostgreSQL's tools and zstd, but no age.
    const bin = await mkdtemp(path.join(os.tmpdir(), "capy-no-age-"));
    cleanups.push(() => rm(bin, { recursive: true, force: true }));
    for (const tool of ["pg_dump", "pg_restore"] as const)
      await symlink(resolvePgTool(tool, { binDir: undefined, searchPath: process.env.PATH ?? "" }), path.join(bin, tool));
    await symlink(resolveZstd(process.env.PATH ?? ""), path.join(bin, "zstd"));
    const { code, output } = await startAndExit({ PATH: bin });
    expect(code).toBe(1);
    expect(output).toContain(
      "age was not found on PATH: it encrypts new backups and decrypts encrypted artifacts; install it (Debian/Ubuntu: apt-get install age)",
    );
  });

  it("refuses a BACKUP_COMPRESSION it does not know", async () => {
    const { code, output } = await startAndExit({ BACKUP_COMPRESSION: "lz4" });
    expect(code).toBe(1);
    expect(output).toContain('BACKUP_COMPRESSION: invalid compression \\"lz4\\": expected zstd[:1-19], gzip[:1-9] or none');
  });
});
