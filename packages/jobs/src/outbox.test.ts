// The outbox and the catalogue's hooks against a real Postgres: an event exists exactly when its
// change committed (a failure injected after the state write, inside the transaction, leaves
// neither), appends need a transaction, seq follows commit order, and every kind's cancel and
// lost-worker hooks run in the transaction that ends its job.

import { JOB_TYPES, type JobType } from "@capy/contracts";
import { createDb, type Db, type Job, newId } from "@capy/db";
import { createMetadataDatabase, type TestDatabase } from "@capy/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { z } from "zod";
import { type AttemptFailure, cancelAttempt, claimJob, completeAttempt, failAttempt } from "./attempt.js";
import { cancelPendingJob } from "./cancel.js";
import { JOB_KINDS } from "./catalogue.js";
import { insertJobRow, type NewJob, readJobPayload } from "./create.js";
import { appendEvent, listProjectEvents, readEventsAfter } from "./events.js";
import { failLostJob, resetLostJob } from "./lost.js";
import { serializeJob } from "./serialize.js";

let metadata: TestDatabase;
let db: Db;

beforeAll(async () => {
  metadata = await createMetadataDatabase();
  db = createDb(metadata.url, { maxConnections: 4 });
});

afterAll(async () => {
  await db?.$disconnect();
  await metadata?.drop();
});

afterEach(() => vi.restoreAllMocks());

/** A payload each kind accepts: a new kind must add one here (the record is exhaustive). */
const PAYLOADS: Record<JobType, Partial<NewJob>> = {
  backup: { label: "nightly" },
  verify: { backupId: "bkp_t" },
  restore: { backupId: "bkp_t", previewDatabaseId: "pvw_t", payload: { restoreOptions: { target_kind: "new_preview", tables: null, safety_job_id: null } } },
};

const projectId = () => newId("prj");
const newJob = (type: JobType = "backup", project = projectId()) =>
  insertJobRow(db, { type, organizationId: "org_t", projectId: project, clusterId: "cls_t", databaseName: "app", ...PAYLOADS[type] });
const claimed = async (type: JobType = "backup") => {
  const job = await newJob(type);
  const attempt = (await claimJob(db, job.id, "worker-o"))!;
  return { job, attempt };
};
const eventsOf = (job: Job) => db.event.findMany({ where: { projectId: job.projectId }, orderBy: { seq: "asc" } });
const row = (job: Job) => db.job.findUniqueOrThrow({ where: { id: job.id } });
const injected = new Error("injected after the state write");
const failure: AttemptFailure = { classification: "permanent", message: "bad", exitCode: 1, stderr: null, stdout: null };

describe("the outbox", () => {
  it("appends job.completed with the job as served at that moment, in the completing transaction", async () => {
    const { job, attempt } = await claimed();
    await db.$transaction((tx) => completeAttempt(tx, attempt, { stderr: "done", stdout: null }));
    const [event, ...more] = await eventsOf(job);
    expect(more).toEqual([]);
    expect(event).toMatchObject({ type: "job.completed", organizationId: "org_t", projectId: job.projectId });
    expect(event!.id).toMatch(/^evt_/);
    expect(event!.data).toEqual(serializeJob(await row(job)));
  });

  it("leaves no event and no state change when the transaction fails after the state write", async () => {
    const { job, attempt } = await claimed();
    const before = await row(job);
    await expect(
      db.$transaction(async (tx) => {
        await completeAttempt(tx, attempt, { stderr: "", stdout: null });
        // The state write and its event are in; the transaction still fails.
        expect((await tx.job.findUniqueOrThrow({ where: { id: job.id } })).state).toBe("completed");
        expect(await tx.event.count({ where: { projectId: job.projectId } })).toBe(1);
        throw injected;
      }),
    ).rejects.toBe(injected);
    expect(await row(job)).toEqual(before);
    expect(await eventsOf(job)).toEqual([]);
  });

  it("rolls back a cancel, a lost-worker failure and a failed attempt whose hook or backup write fails", async () => {
    vi.spyOn(JOB_KINDS.backup, "onCancel").mockRejectedValue(injected);
    vi.spyOn(JOB_KINDS.backup, "onWorkerLost").mockRejectedValue(injected);
    const lastAttemptLost = (job: Job) => db.job.update({ where: { id: job.id }, data: { attempts: 3, heartbeatAt: new Date(Date.now() - 60_000) } });
    const cases: Array<[string, (job: Job, attempt: { jobId: string; fencingToken: number }) => Promise<unknown>, ((job: Job) => Promise<unknown>)?]> = [
      ["cancelAttempt", (_job, attempt) => cancelAttempt(db, attempt)],
      ["failLostJob", (job, attempt) => failLostJob(db, { id: job.id, fencingToken: attempt.fencingToken, attempts: 1 })],
      ["resetLostJob", (job, attempt) => resetLostJob(db, { id: job.id, fencing_token: attempt.fencingToken }, 1_000), lastAttemptLost],
      // The backup it names does not exist: the verification write fails after the job's.
      ["failAttempt", (_job, attempt) => failAttempt(db, attempt, failure, true, "bkp_missing")],
    ];
    for (const [name, run, prepare] of cases) {
      const { job, attempt } = await claimed();
      await prepare?.(job);
      const before = await row(job);
      await expect(run(job, attempt), name).rejects.toBeDefined();
      const after = await row(job);
      expect(after, name).toEqual(before);
      expect(after.state, name).toBe("running");
      expect(await eventsOf(job), name).toEqual([]);
    }
  });

  it("refuses to append outside a transaction", async () => {
    const job = await newJob();
    await expect(appendEvent(db, "job.completed", job, serializeJob(job))).rejects.toThrow(/transaction/);
    expect(await eventsOf(job)).toEqual([]);
  });

  it("hands out seq in commit order: an append waits for an earlier uncommitted one", async () => {
    const [first, second] = [await newJob(), await newJob()];
    let releaseFirst!: () => void;
    const held = new Promise<void>((resolve) => (releaseFirst = resolve));
    let firstAppended!: () => void;
    const appended = new Promise<void>((resolve) => (firstAppended = resolve));
    const slow = db.$transaction(async (tx) => {
      await appendEvent(tx, "job.completed", first, serializeJob(first));
      firstAppended();
      await held;
    });
    await appended;
    const fast = db.$transaction((tx) => appendEvent(tx, "job.completed", second, serializeJob(second)));
    // The second append cannot get its seq while the first transaction is open.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await db.event.count({ where: { projectId: second.projectId } })).toBe(0);
    releaseFirst();
    await Promise.all([slow, fast]);
    const [a, b] = await Promise.all([eventsOf(first), eventsOf(second)]);
    expect(a[0]!.seq < b[0]!.seq).toBe(true);
    expect((await readEventsAfter(db, a[0]!.seq - 1n, 10)).map((event) => event.id).slice(0, 2)).toEqual([a[0]!.id, b[0]!.id]);
  });

  it("pages a project's events newest first, and forward from an event with `after`", async () => {
    const project = projectId();
    const jobs: Job[] = [];
    for (let i = 0; i < 5; i++) {
      const job = await newJob("backup", project);
      await db.$transaction((tx) => appendEvent(tx, "job.canceled", job, serializeJob(job)));
      jobs.push(job);
    }
    const ids = (await db.event.findMany({ where: { projectId: project }, orderBy: { seq: "asc" } })).map((event) => event.id);
    expect((await listProjectEvents(db, project, { limit: 2 }))!.map((event) => event.id)).toEqual([ids[4], ids[3]]);
    expect((await listProjectEvents(db, project, { limit: 2, after: ids[0] }))!.map((event) => event.id)).toEqual([ids[2], ids[1]]);
    expect((await listProjectEvents(db, project, { limit: 2, after: ids[2] }))!.map((event) => event.id)).toEqual([ids[4], ids[3]]);
    expect(await listProjectEvents(db, project, { limit: 2, after: ids[4] })).toEqual([]);
    expect(await listProjectEvents(db, projectId(), { limit: 2, after: ids[0] })).toBeNull();
  });
});

describe("the catalogue's hooks", () => {
  it.each(JOB_TYPES)("runs %s's cancel hook in the cancel of a pending and of a running job", async (type) => {
    const onCancel = vi.spyOn(JOB_KINDS[type], "onCancel");
    const pending = await newJob(type);
    await cancelPendingJob(db, { id: pending.id });
    const { job, attempt } = await claimed(type);
    await cancelAttempt(db, attempt);
    expect(onCancel.mock.calls.map(([, row]) => [row.id, row.state])).toEqual([
      [pending.id, "canceled"],
      [job.id, "canceled"],
    ]);
    expect((await eventsOf(job)).map((event) => event.type)).toEqual(["job.canceled"]);
  });

  it.each(JOB_TYPES)("runs %s's lost-worker hook when its last attempt is lost, at a claim or by the reconciler", async (type) => {
    const onWorkerLost = vi.spyOn(JOB_KINDS[type], "onWorkerLost");
    const atClaim = await claimed(type);
    await failLostJob(db, { id: atClaim.job.id, fencingToken: atClaim.attempt.fencingToken, attempts: 1 });
    const byReconciler = await claimed(type);
    await db.job.update({ where: { id: byReconciler.job.id }, data: { attempts: 3, heartbeatAt: new Date(Date.now() - 60_000) } });
    await resetLostJob(db, { id: byReconciler.job.id, fencing_token: byReconciler.attempt.fencingToken }, 1_000);
    expect(onWorkerLost.mock.calls.map(([, row]) => [row.id, row.state])).toEqual([
      [atClaim.job.id, "failed"],
      [byReconciler.job.id, "failed"],
    ]);
    expect((await eventsOf(byReconciler.job)).map((event) => event.type)).toEqual(["job.failed"]);
  });

  it("stores a kind's payload fields that have no column in jobs.payload, and reads them back with the column fields", async () => {
    const original = JOB_KINDS.verify.payload;
    // A kind with a field of its own, as a new kind would declare it in its catalogue entry.
    (JOB_KINDS.verify as { payload: z.ZodType }).payload = z.strictObject({ backupId: z.string(), tables: z.array(z.string()) });
    try {
      const job = await insertJobRow(db, {
        type: "verify",
        organizationId: "org_t",
        projectId: "prj_t",
        clusterId: "cls_t",
        databaseName: "app",
        backupId: "bkp_t",
        payload: { tables: ["public.a"] },
      });
      expect(job).toMatchObject({ backupId: "bkp_t", payload: { tables: ["public.a"] } });
      expect(readJobPayload(await row(job))).toEqual({ backupId: "bkp_t", tables: ["public.a"] });
      await expect(
        insertJobRow(db, { type: "verify", organizationId: "org_t", projectId: "prj_t", clusterId: "cls_t", databaseName: "app", backupId: "bkp_t" }),
      ).rejects.toThrow();
    } finally {
      (JOB_KINDS.verify as { payload: z.ZodType }).payload = original;
    }
  });

  it("refuses a payload its kind does not take", async () => {
    await expect(
      insertJobRow(db, { type: "verify", organizationId: "org_t", projectId: "prj_t", clusterId: "cls_t", databaseName: "app", label: "x" }),
    ).rejects.toThrow();
    await expect(
      insertJobRow(db, { type: "backup", organizationId: "org_t", projectId: "prj_t", clusterId: "cls_t", databaseName: "app", backupId: "bkp_t" }),
    ).rejects.toThrow();
  });
});
