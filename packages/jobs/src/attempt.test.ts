// The job row's fencing, against a real Postgres: a stale attempt's writes change nothing.

import { createDb, type Db } from "@capy/db";
import { createMetadataDatabase, type TestDatabase } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AttemptFailure, beat, cancelAttempt, claimJob, completeAttempt, failAttempt, failUnclaimed } from "./attempt.js";
import { insertJobRow } from "./create.js";
import { AttemptCanceledError, StaleAttemptError } from "./errors.js";
import { failLostJob } from "./lost.js";

let metadata: TestDatabase;
let db: Db;

beforeAll(async () => {
  metadata = await createMetadataDatabase();
  db = createDb(metadata.url, { maxConnections: 2 });
});

afterAll(async () => {
  await db?.$disconnect();
  await metadata?.drop();
});

// Job rows have no foreign keys, so made-up owners do for these tests.
const newJob = () => insertJobRow(db, { type: "backup", organizationId: "org_test", projectId: "prj_test", clusterId: "cls_test", databaseName: "app" });

const transientFailure: AttemptFailure = {
  classification: "transient",
  message: "pg_dump exited with code 1: boom",
  exitCode: 1,
  stderr: "boom\n",
  stdout: null,
};

describe("job attempts", () => {
  it("claims a pending job: running, one more attempt, a new fencing token, claimant and times", async () => {
    const job = await newJob();
    const attempt = await claimJob(db, job.id, "worker-a");
    expect(attempt).toEqual({ jobId: job.id, fencingToken: 1, number: 1, tookOver: false, cancelRequested: false });
    const row = await db.job.findUniqueOrThrow({ where: { id: job.id } });
    expect(row).toMatchObject({ state: "running", attempts: 1, fencingToken: 1, claimedBy: "worker-a" });
    expect(row.claimedAt).not.toBeNull();
    expect(row.startedAt).not.toBeNull();
    expect(row.heartbeatAt).not.toBeNull();
  });

  it("lets a new claim fence off the previous attempt", async () => {
    const job = await newJob();
    const first = (await claimJob(db, job.id, "worker-a"))!;
    const startedAt = (await db.job.findUniqueOrThrow({ where: { id: job.id } })).startedAt;
    const second = (await claimJob(db, job.id, "worker-b"))!;
    expect(second).toEqual({ jobId: job.id, fencingToken: 2, number: 2, tookOver: true, cancelRequested: false });

    expect(await beat(db, first)).toBe("lost");
    expect(await failAttempt(db, first, transientFailure, true)).toBe(false);
    await expect(db.$transaction((tx) => completeAttempt(tx, first, { stderr: "", stdout: null }))).rejects.toBeInstanceOf(StaleAttemptError);
    const row = await db.job.findUniqueOrThrow({ where: { id: job.id } });
    // The takeover recorded the lost attempt.
    expect(row).toMatchObject({
      state: "running",
      claimedBy: "worker-b",
      retryClassification: "worker_lost",
      error: "attempt 1 was lost: its worker stopped before finishing it",
      lastExitCode: null,
    });
    expect(row.startedAt).toEqual(startedAt);

    expect(await beat(db, second)).not.toBe("lost");
  });

  it("puts a non-final failure back to pending and a final one to failed", async () => {
    const job = await newJob();
    const first = (await claimJob(db, job.id, "worker-a"))!;
    expect(await failAttempt(db, first, transientFailure, false)).toBe(true);
    expect(await db.job.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({
      state: "pending",
      retryClassification: "transient",
      error: "pg_dump exited with code 1: boom",
      lastExitCode: 1,
      lastStderr: "boom\n",
      completedAt: null,
    });

    const second = (await claimJob(db, job.id, "worker-a"))!;
    expect(await failAttempt(db, second, transientFailure, true)).toBe(true);
    const row = await db.job.findUniqueOrThrow({ where: { id: job.id } });
    expect(row).toMatchObject({ state: "failed", attempts: 2 });
    expect(row.completedAt).not.toBeNull();
  });

  it("does not claim a finished job", async () => {
    const job = await newJob();
    const attempt = (await claimJob(db, job.id, "worker-a"))!;
    await db.$transaction((tx) => completeAttempt(tx, attempt, { stderr: "", stdout: null }));
    expect(await claimJob(db, job.id, "worker-b")).toBeNull();
    expect(await db.job.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({ state: "completed", lastExitCode: 0, claimedBy: "worker-a" });
  });

  it("fails a job no handler can run without claiming it, and never a finished one", async () => {
    const job = await newJob();
    await failUnclaimed(db, job.id, "no handler");
    expect(await db.job.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({
      state: "failed",
      retryClassification: "permanent",
      error: "no handler",
      attempts: 0,
    });
    await failUnclaimed(db, job.id, "again");
    expect(await db.job.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({ error: "no handler" });
  });

  it("reads a requested cancel on the heartbeat, and never completes a job whose cancel was requested", async () => {
    const job = await newJob();
    const attempt = (await claimJob(db, job.id, "worker-a"))!;
    expect(await beat(db, attempt)).toBe("owned");
    await db.job.update({ where: { id: job.id }, data: { cancelRequestedAt: new Date() } });
    expect(await beat(db, attempt)).toBe("cancel");
    await expect(db.$transaction((tx) => completeAttempt(tx, attempt, { stderr: "", stdout: null }))).rejects.toBeInstanceOf(AttemptCanceledError);
    expect(await cancelAttempt(db, attempt)).toEqual([]);
    expect(await db.job.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({
      state: "canceled",
      phase: "done",
      retryClassification: "canceled",
      error: "canceled by request",
    });
    expect(await beat(db, attempt)).toBe("lost");
    expect(await cancelAttempt(db, attempt)).toBeNull();
  });

  it("claims a running job with a requested cancel without counting an attempt", async () => {
    const job = await newJob();
    await claimJob(db, job.id, "worker-a");
    await db.job.update({ where: { id: job.id }, data: { cancelRequestedAt: new Date() } });
    const second = (await claimJob(db, job.id, "worker-b"))!;
    expect(second).toMatchObject({ number: 1, fencingToken: 2, tookOver: true, cancelRequested: true });
  });

  it("fails a job whose last allowed attempt was lost, fenced by the token it read", async () => {
    const job = await newJob();
    const attempt = (await claimJob(db, job.id, "worker-a"))!;
    expect(await failLostJob(db, { id: job.id, fencingToken: attempt.fencingToken + 1, attempts: 1 })).toBe(false);
    expect(await failLostJob(db, { id: job.id, fencingToken: attempt.fencingToken, attempts: 1 })).toBe(true);
    expect(await db.job.findUniqueOrThrow({ where: { id: job.id } })).toMatchObject({ state: "failed", retryClassification: "worker_lost" });
    expect(await beat(db, attempt)).toBe("lost");
  });
});
