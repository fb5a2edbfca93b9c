// hot-paths answers exactly what Prisma answers for the same rows (every field, or every field
// of the API's view; nulls, bigint, Date, Json), in the same order, and only the asked project's
// rows; timestamps read as pg's own parser reads them.
import { createMetadataDatabase, type TestDatabase } from "@capy/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createDb, type Db } from "./client.js";
import {
  insertAuditEvent,
  insertJob,
  isUniqueViolation,
  type NewJobRow,
  parseTimestamptz,
  readJob,
  readJobByIdempotencyKey,
  readProjectBackups,
  readProjectJobs,
  readProjectSchedules,
} from "./hot-paths.js";
import { newId } from "./ids.js";
import { generateEncryptionKey } from "./secrets/crypto.js";
import { Keyring } from "./secrets/keyring.js";
import { createProject, registerCluster } from "./tenants.js";

const keyring = new Keyring(generateEncryptionKey());
let database: TestDatabase;
let db: Db;
const projects: { id: string; organizationId: string; clusterId: string }[] = [];

/** Two projects, each with a full (every column set) and a sparse (nulls) job, backup and schedule. */
async function seedProject(name: string) {
  const tenant = await createProject(db, {
    organizationName: name,
    projectName: name,
    databaseUrl: `postgresql://postgres:postgres@127.0.0.1:5432/${name}`,
    keyring,
  });
  const project = await db.project.findUniqueOrThrow({ where: { id: tenant.project_id } });
  const owner = { organizationId: project.organizationId, projectId: project.id };
  const at = (minutes: number) => new Date(Date.UTC(2026, 10, 30, 12, minutes, 0, 123));
  const full = await db.job.create({
    data: {
      id: newId("job"),
      ...owner,
      type: "backup",
      state: "completed",
      attempts: 2,
      claimedAt: at(1),
      claimedBy: "worker-1",
      clusterId: project.clusterId,
      lockedResource: `database:${project.clusterId}/${name}`,
      retryClassification: "transient",
      lastExitCode: 0,
      lastStdout: "out",
      lastStderr: "err",
      error: "none",
      startedAt: at(2),
      completedAt: at(3),
      createdAt: at(4),
      label: "full",
      dueAt: at(5),
      fencingToken: 3,
      heartbeatAt: at(6),
      phase: "dumping",
      progressBytes: 9_007_199_254_740_993n,
      idempotencyKey: "key-1",
      cancelRequestedAt: at(7),
      payload: { tables: ["public.a"], nested: { n: 1 } },
    },
  });
  const sparse = await db.job.create({
    data: { id: newId("job"), ...owner, type: "verify", clusterId: project.clusterId, lockedResource: "x", createdAt: at(4) },
  });
  await db.backup.create({
    data: {
      id: newId("bkp"),
      ...owner,
      jobId: full.id,
      scheduleId: "sch_x",
      databaseName: name,
      label: "full",
      backupKey: `${project.id}/a.dump`,
      sizeBytes: 9_007_199_254_740_993n,
      sha256: "0".repeat(64),
      compression: "zstd",
      compressionLevel: 1,
      storedEncoding: "zstd",
      archiveSizeBytes: 12n,
      state: "completed",
      verificationState: "failed",
      verificationError: "mismatch",
      verifiedAt: at(8),
      sourceInventory: { tables: [{ name: "a", rows: 3 }] },
      createdAt: at(9),
    },
  });
  await db.backup.create({
    data: { id: newId("bkp"), ...owner, jobId: sparse.id, databaseName: name, backupKey: "b", sizeBytes: 0n, sha256: "1", state: "failed", createdAt: at(9) },
  });
  await db.scheduledBackup.create({
    data: { id: newId("sch"), ...owner, label: "nightly", cronHour: 3, cronMinute: 30, isActive: true, lastJobId: full.id, lastRunAt: at(10) },
  });
  projects.push(project);
}

beforeAll(async () => {
  database = await createMetadataDatabase();
  db = createDb(database.url, { maxConnections: 2 });
  await registerCluster(db, { adminUrl: "postgresql://postgres:postgres@127.0.0.1:5432/postgres", keyring });
  await seedProject("alpha");
  await seedProject("beta");
});
afterAll(async () => {
  await db?.$disconnect();
  await database?.drop();
});

// What the API shows of a job and a backup (@capy/jobs serializeJob, serializeBackup).
const JOB_VIEW =
  "id type state attempts maxAttempts claimedAt claimedBy clusterId lockedResource previewDatabaseId retryClassification lastExitCode lastStdout lastStderr error startedAt completedAt organizationId projectId createdAt updatedAt phase progressBytes".split(
    " ",
  );
const BACKUP_VIEW =
  "id projectId databaseName label backupKey sizeBytes compression archiveFormat storedEncoding encryption encryptionKeyId state verificationState verificationError verifiedAt createdAt".split(
    " ",
  );

/** `row` without the fields its view leaves out (those the API never shows). */
const viewOf = <T extends object>(row: T, like: object): Partial<T> => Object.fromEntries(Object.entries(row).filter(([field]) => field in like)) as Partial<T>;

/** A pending backup job of `project` as @capy/jobs shapes one, with `fields` over the defaults. */
function newJobRow(project: (typeof projects)[number], fields: Partial<NewJobRow> = {}): NewJobRow {
  return {
    id: newId("job"),
    type: "backup",
    state: "pending",
    phase: "queued",
    maxAttempts: 3,
    clusterId: project.clusterId,
    lockedResource: "database:x/y",
    organizationId: project.organizationId,
    projectId: project.id,
    idempotencyKey: null,
    label: "label",
    backupId: null,
    scheduleId: null,
    dueAt: null,
    previewDatabaseId: null,
    payload: {},
    ...fields,
  };
}

/** The audit event the API records with `row`. */
function auditOf(row: NewJobRow) {
  return {
    id: newId("aud"),
    organizationId: row.organizationId,
    projectId: row.projectId,
    actorType: "api_key",
    actorId: "key_x",
    action: "backup.created",
    targetType: "job",
    targetId: row.id,
    metadata: { label: row.label },
  };
}

describe("hot-paths", () => {
  it("reads a project's backups as Prisma's findMany does, newest first", async () => {
    for (const { id } of projects) {
      const expected = await db.backup.findMany({ where: { projectId: id }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
      expect(expected).toHaveLength(2);
      const read = await readProjectBackups(db, id);
      expect(Object.keys(read[0]!).sort()).toEqual(BACKUP_VIEW.sort());
      expect(read).toStrictEqual(expected.map((row) => viewOf(row, read[0]!)));
    }
  });

  it("reads a project's jobs as Prisma's findMany does, newest first, up to the limit", async () => {
    for (const { id } of projects) {
      const expected = await db.job.findMany({ where: { projectId: id }, orderBy: [{ createdAt: "desc" }, { id: "desc" }] });
      expect(expected).toHaveLength(2);
      const read = await readProjectJobs(db, id, 25);
      expect(Object.keys(read[0]!).sort()).toEqual(JOB_VIEW.sort());
      expect(read).toStrictEqual(expected.map((row) => viewOf(row, read[0]!)));
      expect(await readProjectJobs(db, id, 1)).toStrictEqual(read.slice(0, 1));
    }
  });

  it("reads one job by id as Prisma's findUnique does, and undefined for an unknown id", async () => {
    for (const job of await db.job.findMany()) {
      const read = await readJob(db, job.id);
      expect(read).toStrictEqual(viewOf(job, read!));
      expect(Object.keys(read!).sort()).toEqual(JOB_VIEW.sort());
    }
    expect(await readJob(db, "job_unknown")).toBeUndefined();
  });

  it("reads a project's schedules as Prisma's findMany does", async () => {
    for (const { id } of projects) {
      const expected = await db.scheduledBackup.findMany({ where: { projectId: id }, orderBy: [{ createdAt: "asc" }, { id: "asc" }] });
      expect(expected).toHaveLength(1);
      expect(await readProjectSchedules(db, id)).toStrictEqual(expected);
    }
  });

  it("inserts a job as Prisma reads it back, its audit event in the same statement, both or neither", async () => {
    const [project] = projects;
    const row = newJobRow(project!, {
      idempotencyKey: "insert-test",
      dueAt: new Date(Date.UTC(2026, 10, 30, 1, 2, 3, 456)),
      payload: { tables: ["public.a"] },
    });
    const audit = auditOf(row);
    const job = await insertJob(db, row, audit);
    expect(job).toStrictEqual(await db.job.findUniqueOrThrow({ where: { id: row.id } }));
    expect(job).toMatchObject({ ...row, attempts: 0, fencingToken: 0, claimedAt: null });
    expect(await readJobByIdempotencyKey(db, project!.id, "insert-test")).toStrictEqual(job);
    expect(await readJobByIdempotencyKey(db, project!.id, "other-key")).toBeUndefined();
    expect(await db.auditEvent.findUniqueOrThrow({ where: { id: audit.id } })).toMatchObject(audit);

    // The same Idempotency-Key again: a unique violation, and no second audit event either.
    const second = { ...audit, id: newId("aud") };
    const refused = await insertJob(db, { ...row, id: newId("job") }, second).catch((error: unknown) => error);
    expect(isUniqueViolation(refused)).toBe(true);
    expect(await db.auditEvent.findUnique({ where: { id: second.id } })).toBeNull();

    const alone = await insertJob(db, { ...row, id: newId("job"), idempotencyKey: null });
    expect(alone).toStrictEqual(await db.job.findUniqueOrThrow({ where: { id: alone.id } }));
    const recorded = { ...audit, id: newId("aud"), metadata: {} };
    await insertAuditEvent(db, recorded);
    expect(await db.auditEvent.findUniqueOrThrow({ where: { id: recorded.id } })).toMatchObject(recorded);
  });

  it("reads timestamps as pg's parser does, in every form Postgres sends them", async () => {
    const { rows } = await db.pool.query<{ text: string; iso: string }>(
      `SELECT t::text AS text, to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS iso
       FROM unnest(ARRAY['2026-11-30 19:54:48+00', '2026-11-30 19:54:48.1+00', '2026-11-30 19:54:48.12+00',
         '2026-02-28 23:59:59.999999+00', '2024-02-29 00:00:00.000001+00', '1970-01-01 00:00:00+00', '0999-12-31 23:59:59.5+00',
         '2026-06-15 10:00:00.123456+02:30']::timestamptz[]) AS t`,
    );
    for (const { text, iso } of rows) expect(parseTimestamptz(text).toISOString(), text).toBe(iso);
    // Every millisecond, with microseconds after it (pg rounds nothing: they are dropped).
    for (let ms = 0; ms < 1000; ms++) {
      const fraction = String(ms).padStart(3, "0");
      const expected = `2026-11-30T19:54:48.${fraction}Z`;
      expect(parseTimestamptz(`2026-11-30 19:54:48.${fraction}+00`).toISOString()).toBe(expected);
      expect(parseTimestamptz(`2026-11-30 19:54:48.${fraction}999+00`).toISOString()).toBe(expected);
    }
    // Forms of other sessions and special values: as pg's own parser reads them.
    expect(parseTimestamptz("2026-11-30 21:54:48.5+02").toISOString()).toBe("2026-11-30T19:54:48.500Z");
    expect(parseTimestamptz("infinity")).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("hot-paths: calls in one turn share a statement", () => {
  /** Statements the pool runs from here on. */
  const statements = () => vi.spyOn(db.pool, "query");
  afterEach(() => vi.restoreAllMocks());

  it("answers each read exactly as it would alone, with one statement per kind of read", async () => {
    const [alpha, beta] = projects as [(typeof projects)[number], (typeof projects)[number]];
    const jobIds = (await db.job.findMany({ select: { id: true } })).map(({ id }) => id);
    const alone = {
      backups: [await readProjectBackups(db, alpha.id), await readProjectBackups(db, beta.id)],
      jobs: [await readProjectJobs(db, alpha.id, 25), await readProjectJobs(db, beta.id, 1)],
      schedules: [await readProjectSchedules(db, alpha.id), await readProjectSchedules(db, beta.id)],
      job: [] as unknown[],
    };
    for (const id of jobIds) alone.job.push(await readJob(db, id));
    const ran = statements();
    const together = await Promise.all([
      Promise.all([readProjectBackups(db, alpha.id), readProjectBackups(db, beta.id), readProjectBackups(db, alpha.id)]),
      // The same project with different page sizes: each call gets its own page.
      Promise.all([readProjectJobs(db, alpha.id, 25), readProjectJobs(db, beta.id, 1), readProjectJobs(db, alpha.id, 1), readProjectJobs(db, alpha.id, 1)]),
      Promise.all([readProjectSchedules(db, alpha.id), readProjectSchedules(db, beta.id)]),
      Promise.all([...jobIds, "job_unknown", jobIds[0]!].map((id) => readJob(db, id))),
    ]);
    expect(ran).toHaveBeenCalledTimes(4);
    const [backups, jobs, schedules, job] = together;
    expect(backups).toStrictEqual([...alone.backups, alone.backups[0]]);
    // Identical calls get the same list, frozen (the API renders their answer once); others their own.
    expect(backups[0]).toBe(backups[2]);
    expect(backups[0]).not.toBe(backups[1]);
    expect(Object.isFrozen(backups[0])).toBe(true);
    expect(jobs).toStrictEqual([...alone.jobs, alone.jobs[0]!.slice(0, 1), alone.jobs[0]!.slice(0, 1)]);
    expect(jobs[0]!.length).toBeGreaterThan(1);
    expect(jobs[3]).toBe(jobs[2]);
    expect(jobs[2]).not.toBe(jobs[0]);
    expect(Object.isFrozen(jobs[2])).toBe(true);
    expect(job[0]).toBe(job.at(-1));
    expect(schedules).toStrictEqual(alone.schedules);
    expect(job).toStrictEqual([...alone.job, undefined, alone.job[0]]);
  });

  it("remembers nothing between turns: a call made after a write reads it", async () => {
    const [alpha] = projects;
    const row = await insertJob(db, newJobRow(alpha!));
    expect((await readJob(db, row.id))?.state).toBe("pending");
    await db.job.update({ where: { id: row.id }, data: { state: "running" } });
    expect((await readJob(db, row.id))?.state).toBe("running");
    expect((await readProjectJobs(db, alpha!.id, 1))[0]).toMatchObject({ id: row.id, state: "running" });
  });

  it("inserts jobs requested together in one statement, and a row Postgres refuses fails only its own request", async () => {
    const [alpha, beta] = projects as [(typeof projects)[number], (typeof projects)[number]];
    const rows = [newJobRow(alpha), newJobRow(beta, { idempotencyKey: "together" }), newJobRow(alpha, { label: null })];
    const ran = statements();
    const jobs = await Promise.all(rows.map((row) => insertJob(db, row, auditOf(row))));
    expect(ran).toHaveBeenCalledTimes(1);
    for (const [i, job] of jobs.entries()) expect(job).toStrictEqual(await db.job.findUniqueOrThrow({ where: { id: rows[i]!.id } }));
    expect(await db.auditEvent.count({ where: { targetId: { in: rows.map(({ id }) => id) } } })).toBe(3);

    // The key is taken now: that insert is refused, the two beside it are stored with their events.
    ran.mockClear();
    const again = [newJobRow(alpha), newJobRow(beta, { idempotencyKey: "together" }), newJobRow(beta)];
    const settled = await Promise.allSettled(again.map((row) => insertJob(db, row, auditOf(row))));
    expect(ran).toHaveBeenCalledTimes(1 + again.length);
    expect(settled.map(({ status }) => status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(isUniqueViolation((settled[1] as PromiseRejectedResult).reason)).toBe(true);
    const stored = await db.job.findMany({ where: { id: { in: again.map(({ id }) => id) } }, select: { id: true } });
    expect(stored.map(({ id }) => id).sort()).toEqual([again[0]!.id, again[2]!.id].sort());
    expect(await db.auditEvent.count({ where: { targetId: { in: again.map(({ id }) => id) } } })).toBe(2);
  });
});
