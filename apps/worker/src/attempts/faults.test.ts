// Issue 5, the worker side, through real worker processes, real signals, real Postgres, Redis and
// pg_dump: a worker killed or paused mid-dump has its job taken over; a stale worker can write
// nothing; one dump per database and at most DUMP_CONCURRENCY_PER_CLUSTER per cluster, waiting
// rather than failing; dumps past DUMP_TIMEOUT_MS and canceled jobs leave nothing behind; a short
// metadata-database outage converges. Lock, stall and heartbeat intervals are short here (ms).
//
// Dumps are made long without big data: a test holds an ACCESS EXCLUSIVE lock on the source's
// table, so pg_dump (which takes ACCESS SHARE on every table, inside its snapshot transaction,
// before it copies any data) waits for as long as the test wants, with the job in phase
// `dumping`, pg_dump's session in pg_stat_activity and its `.partial` artifact open. A second
// lock queued behind pg_dump's holds the counting of the source that follows the dump. Releasing the lock lets the dump finish; the source is small, so the verification's
// restore is quick.
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { Prisma, quoteIdent } from "@capy/db";
import { LeaseSemaphore } from "@capy/queue";
import { createEmptyDatabase, type ServiceProcess, type TestDatabase, uniqueName, waitFor, withAdminClient } from "@capy/testing";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createHarness, type Harness, projectFiles, submitJob, waitForJob } from "../test-helpers.js";

/** Takeover within about LOCK + 2 x STALLED (ms); heartbeats (and cancel checks) every 200 ms. */
const FAST: NodeJS.ProcessEnv = {
  WORKER_LOCK_DURATION_MS: "2000",
  WORKER_STALLED_INTERVAL_MS: "1000",
  WORKER_HEARTBEAT_INTERVAL_MS: "200",
};

const cleanups: Array<() => Promise<unknown>> = [];
let template: TestDatabase;

beforeAll(async () => {
  // A small source (10,000 rows): the tests hold dumps with a lock (see above), never with size.
  // Tests dump copies of it (CREATE DATABASE … TEMPLATE), never the template.
  template = await createEmptyDatabase("capy_faults_tpl");
  await withAdminClient(
    (client) => client.query("CREATE TABLE noise AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) AS payload FROM generate_series(1, 10000) g"),
    template.url,
  );
}, 60_000);

async function runCleanups(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
}

afterAll(async () => {
  await runCleanups();
  await template?.drop();
});

let current: Harness | undefined;

async function harnessFor(extraEnv: NodeJS.ProcessEnv = {}): Promise<Harness> {
  const harness = await createHarness({ ...FAST, ...extraEnv });
  cleanups.push(() => harness.close());
  current = harness;
  return harness;
}

// A failed test shows what its workers logged (the last lines of each). Then its workers, locks
// and databases go at once: idle workers left running would load the (small, shared) machine.
afterEach(async (context) => {
  if (context.task.result?.state === "fail" && current) {
    for (const [index, worker] of current.stack.workers.entries())
      console.error(`--- worker ${index} (pid ${worker.child.pid}) ---\n${worker.logs().split("\n").slice(-60).join("\n")}`);
  }
  current = undefined;
  await runCleanups();
}, 60_000);

/** A fresh copy of the template source. */
async function sourceCopy(): Promise<TestDatabase> {
  const name = uniqueName("capy_faults_src");
  await withAdminClient((client) => client.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template.name)}`));
  const url = template.url.replace(/\/[^/]*$/, `/${name}`);
  const copy: TestDatabase = {
    name,
    url,
    drop: async () => {
      await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
    },
  };
  cleanups.push(() => copy.drop());
  return copy;
}

/** pg_dump sessions (application_name capy-backups) connected to these databases. */
async function dumpSessions(databases: string[]): Promise<Array<{ datname: string; pid: number }>> {
  return withAdminClient(async (client) => {
    const { rows } = await client.query<{ datname: string; pid: number }>(
      "SELECT datname, pid FROM pg_stat_activity WHERE application_name = 'capy-backups' AND datname = ANY($1::text[])",
      [databases],
    );
    return rows;
  });
}

/** A fresh source copy, a tenant whose project dumps it, and the test's lock on it (see lockSource). */
async function lockedTenant(harness: Harness, name: string) {
  const source = await sourceCopy();
  const tenant = await harness.stack.createTenant("acme", name, source.url);
  return { source, tenant, lock: await lockSource(source) };
}

interface TableLock {
  /** Commits the lock's transaction and closes its session (idempotent). */
  release(): Promise<void>;
}

/**
 * Holds ACCESS EXCLUSIVE on the source's table until released: pg_dump of that database then
 * waits for its ACCESS SHARE lock (no lock timeout) and so does the counting after it.
 */
async function lockSource(source: TestDatabase, table = "noise"): Promise<TableLock> {
  const lock = queueLock(source, table);
  await lock.granted;
  return lock;
}

/** pg_dump sessions of these databases that wait for a lock (the test's, see lockSource). */
async function blockedDumps(databases: string[]): Promise<number> {
  return withAdminClient(async (client) => {
    const { rows } = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'capy-backups' AND datname = ANY($1::text[]) AND wait_event_type = 'Lock'",
      [databases],
    );
    return rows[0]!.n;
  });
}

/**
 * Resolves with the path of the project's `.partial` artifact once the job is mid-dump: phase
 * `dumping`, its pg_dump connected and waiting for the test's lock, its artifact being written.
 */
function midDump(harness: Harness, jobId: string, projectId: string, source: TestDatabase): Promise<string> {
  return waitFor(
    async () => {
      const row = await harness.stack.db.job.findUniqueOrThrow({ where: { id: jobId } });
      if (row.phase !== "dumping" || (await blockedDumps([source.name])) !== 1) return undefined;
      return (await projectFiles(harness.stack.storageDir, projectId)).find((file) => file.endsWith(".partial"));
    },
    { timeoutMs: 20_000, intervalMs: 20, what: "the job to be mid-dump (pg_dump waiting for the test's lock)" },
  );
}

/** Samples pg_dump sessions every 25 ms until `until` settles; returns the largest count seen. */
async function peakDumps(databases: string[], until: Promise<unknown>): Promise<number> {
  let done = false;
  void until.finally(() => (done = true));
  let peak = 0;
  while (!done) {
    peak = Math.max(peak, (await dumpSessions(databases)).length);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await until;
  return peak;
}

function logLines(worker: ServiceProcess): Array<Record<string, unknown> & { msg: string }> {
  return worker
    .logs()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown> & { msg: string });
}

describe("a worker that dies mid-dump", () => {
  it("SIGKILL: another worker takes the job over, removes the lost attempt's partial artifact and records one backup", async () => {
    const harness = await harnessFor();
    const [{ source, tenant, lock }, doomed] = await Promise.all([lockedTenant(harness, "killed"), harness.stack.startWorker({ WORKER_ID: "worker-a" })]);
    const job = await submitJob(harness, tenant.project_id);

    const partial = await midDump(harness, job.id, tenant.project_id, source);
    expect(await dumpSessions([source.name])).toHaveLength(1);
    const survivor = await harness.stack.startWorker({ WORKER_ID: "worker-b" });
    expect(await doomed.stop("SIGKILL")).toBe("SIGKILL");
    const killedAt = Date.now();

    // The takeover records the lost attempt until its own outcome replaces it.
    const takenOver = await waitFor(
      async () => {
        const row = await harness.stack.db.job.findUniqueOrThrow({ where: { id: job.id } });
        return row.attempts === 2 && row.state === "running" ? row : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 20, what: "the second worker to take the job over" },
    );
    const takeoverMs = Date.now() - killedAt;
    expect(takenOver).toMatchObject({ claimedBy: "worker-b", retryClassification: "worker_lost", fencingToken: 2 });
    expect(takenOver.error).toBe("attempt 1 was lost: its worker stopped before finishing it");
    await lock.release();

    const done = await waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"], 30_000);
    expect(done).toMatchObject({ state: "completed", attempts: 2, claimedBy: "worker-b", retryClassification: null, error: null });
    const backups = await harness.stack.db.backup.findMany({ where: { jobId: job.id } });
    expect(backups).toHaveLength(1);
    expect(backups[0]!.backupKey).toContain(`/backups/${job.id}/2-`);
    expect(backups[0]!.verificationState).toBe("verified");
    // Only the second attempt's artifact is left: the first one's partial file is gone.
    expect(existsSync(partial)).toBe(false);
    expect(await projectFiles(harness.stack.storageDir, tenant.project_id)).toEqual([path.join(harness.stack.storageDir, backups[0]!.backupKey)]);
    const removal = logLines(survivor).find((line) => line.msg === "removed what earlier attempts left in storage");
    expect(removal?.unfinished).toEqual([path.relative(harness.stack.storageDir, partial).replace(/\.\d+\.[0-9a-f-]{36}\.partial$/, "")]);
    expect(survivor.logs()).toContain("took over a job whose previous attempt was lost");
    // Lock (2 s) plus at most two stalled checks (1 s each), plus slack for a loaded machine.
    expect(takeoverMs).toBeLessThan(10_000);
    console.info(`takeover after SIGKILL: ${takeoverMs} ms`);
  }, 40_000);

  it("SIGSTOP past its lock: another worker completes the job; after SIGCONT the stale worker writes nothing and removes its artifact", async () => {
    const harness = await harnessFor();
    const [{ source, tenant, lock }, paused] = await Promise.all([lockedTenant(harness, "paused"), harness.stack.startWorker({ WORKER_ID: "worker-a" })]);
    const pid = paused.child.pid!;
    const job = await submitJob(harness, tenant.project_id);

    await midDump(harness, job.id, tenant.project_id, source);
    process.kill(pid, "SIGSTOP");
    let done;
    let survivor;
    try {
      survivor = await harness.stack.startWorker({ WORKER_ID: "worker-b" });
      // The survivor ends the paused worker's pg_dump session (still waiting for the lock here),
      // which would otherwise hold up every DROP DATABASE on the server once it streams (its
      // backend blocks writing to a pg_dump nobody reads). Only then may its own dump proceed.
      await waitFor(() => survivor!.logs().includes("ended the lost attempt's sessions on the source database"), {
        timeoutMs: 20_000,
        what: "the survivor to end the lost attempt's sessions",
      });
      await lock.release();
      done = await waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"], 30_000);
    } finally {
      // Never leave a stopped worker behind, even when the test fails.
      if (!done) process.kill(pid, "SIGCONT");
    }
    expect(done).toMatchObject({ state: "completed", attempts: 2, claimedBy: "worker-b", retryClassification: null });
    const backup = await harness.stack.db.backup.findUniqueOrThrow({ where: { jobId: job.id } });
    const expectedFiles = [path.join(harness.stack.storageDir, backup.backupKey)];

    process.kill(pid, "SIGCONT");
    // The stale attempt notices it lost the job, stops pg_dump, discards its artifact and records nothing.
    await waitFor(() => paused.logs().includes("its failure was not recorded") || paused.logs().includes("its backup was discarded"), {
      timeoutMs: 20_000,
      what: "the resumed worker to give up its stale attempt",
    });
    // Whichever of its two guards fires first after SIGCONT stops it: the job's heartbeat (its
    // fencing token is stale) or the database lock's lease renewal (the survivor holds it now).
    expect(paused.logs()).toMatch(/attempt no longer owns the job; stopping it|lease lost to another holder; stopping the attempt/);
    await waitFor(async () => (await dumpSessions([source.name])).length === 0, { timeoutMs: 15_000, what: "the stale pg_dump to end" });
    expect(await harness.stack.db.job.findUniqueOrThrow({ where: { id: job.id } })).toEqual(done);
    expect(await harness.stack.db.backup.findMany({ where: { jobId: job.id } })).toEqual([backup]);
    expect(await projectFiles(harness.stack.storageDir, tenant.project_id)).toEqual(expectedFiles);
  }, 40_000);
});

/** Jobs these workers sent back to wait for their database lock or a dump slot (logged at debug level). */
function waitingJobs(workers: ServiceProcess[]): number {
  const jobs = workers.flatMap((worker) =>
    logLines(worker)
      .filter((line) => line.msg === "waiting: the database's lock or the cluster's dump slots are taken")
      .map((line) => line.job_id),
  );
  return new Set(jobs).size;
}

describe("a worker that dies after recording its backup, before it counted the source", () => {
  it("the takeover discards that uncounted backup and its artifact, dumps again, and records one verified backup", async () => {
    const harness = await harnessFor();
    const [{ source, tenant, lock }, doomed] = await Promise.all([lockedTenant(harness, "uncounted"), harness.stack.startWorker({ WORKER_ID: "worker-a" })]);
    const job = await submitJob(harness, tenant.project_id);
    await midDump(harness, job.id, tenant.project_id, source);
    // Queued behind pg_dump's ACCESS SHARE: granted once pg_dump exits, it then holds the counting.
    const second = queueLock(source);
    await waitFor(async () => (await lockWaiters(source.name)) === 2, { what: "pg_dump and the second lock waiting, in that order" });
    await lock.release();
    const recorded = await waitFor(
      async () => {
        const backup = await harness.stack.db.backup.findUnique({ where: { jobId: job.id } });
        return backup && (await countingBlocked(source.name)) ? backup : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 20, what: "the backup recorded while the source's counting waits for the second lock" },
    );
    expect(recorded.sourceInventory).toBeNull();
    const first = path.join(harness.stack.storageDir, recorded.backupKey);
    expect(existsSync(first)).toBe(true);

    const survivor = await harness.stack.startWorker({ WORKER_ID: "worker-b" });
    expect(await doomed.stop("SIGKILL")).toBe("SIGKILL");
    await waitFor(async () => logLines(survivor).some((line) => line.msg === "the earlier attempt was lost before it counted the source; dumping again"), {
      timeoutMs: 20_000,
      what: "the takeover to discard the uncounted backup",
    });
    await second.release();

    const done = await waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"], 30_000);
    expect(done).toMatchObject({ state: "completed", attempts: 2, claimedBy: "worker-b", error: null });
    const backups = await harness.stack.db.backup.findMany({ where: { jobId: job.id } });
    expect(backups).toHaveLength(1);
    expect(backups[0]!.id).not.toBe(recorded.id);
    expect(backups[0]).toMatchObject({ verificationState: "verified", sourceInventory: expect.objectContaining({ rowCounts: { "public.noise": 10_000 } }) });
    expect(existsSync(first)).toBe(false);
    expect(await projectFiles(harness.stack.storageDir, tenant.project_id)).toEqual([path.join(harness.stack.storageDir, backups[0]!.backupKey)]);
  }, 90_000);
});

/** Asks for ACCESS EXCLUSIVE on the source's table; `granted` settles once it is held (see lockSource). */
function queueLock(source: TestDatabase, table = "noise"): TableLock & { granted: Promise<void> } {
  const client = new pg.Client({ connectionString: source.url, application_name: "capy-faults-lock" });
  client.on("error", () => {});
  let held = false;
  const granted = (async () => {
    await client.connect();
    await client.query("BEGIN");
    await client.query(`LOCK TABLE ${quoteIdent(table)} IN ACCESS EXCLUSIVE MODE`);
    held = true;
  })();
  granted.catch(() => {});
  let released: Promise<void> | undefined;
  const lock = {
    granted,
    // A lock still queued is not waited for (a COMMIT would queue behind it): its session just
    // closes (the source's drop in the cleanups ends its backend).
    release: () =>
      (released ??= (async () => {
        if (held) await client.query("COMMIT").catch(() => {});
        await client.end().catch(() => {});
      })()),
  };
  cleanups.push(() => lock.release());
  return lock;
}

/** Sessions of `database` waiting for a lock. */
async function lockWaiters(database: string): Promise<number> {
  return withAdminClient(async (client) => {
    const { rows } = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", [
      database,
    ]);
    return rows[0]!.n;
  });
}

/** Whether the backup's snapshot session (the counting) waits for a lock in `database`. */
async function countingBlocked(database: string): Promise<boolean> {
  return withAdminClient(async (client) => {
    const { rows } = await client.query(
      "SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND application_name = 'capy-backups-snapshot' AND wait_event_type = 'Lock'",
      [database],
    );
    return rows.length === 1;
  });
}

describe("locks and caps", () => {
  it("never runs two dumps of one database at once, across workers; the second job waits without using an attempt", async () => {
    const harness = await harnessFor();
    const [{ source, tenant, lock }, ...workers] = await Promise.all([
      lockedTenant(harness, "one-db"),
      harness.stack.startWorker({ WORKER_ID: "worker-a", LOG_LEVEL: "debug" }),
      harness.stack.startWorker({ WORKER_ID: "worker-b", LOG_LEVEL: "debug" }),
    ]);
    const jobs = [await submitJob(harness, tenant.project_id), await submitJob(harness, tenant.project_id)];

    const finished = Promise.all(jobs.map((job) => waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"], 40_000)));
    const peak = peakDumps([source.name], finished);
    // The first dump is held by the lock while the second job keeps trying: with two dumps of the
    // database allowed, both pg_dumps would sit in pg_stat_activity together (and the peak be 2).
    // Every job is accounted for once it is either held mid-dump or has been sent back to wait.
    await waitFor(
      async () => {
        const blocked = await blockedDumps([source.name]);
        return blocked >= 1 && blocked + waitingJobs(workers) >= jobs.length;
      },
      {
        timeoutMs: 20_000,
        what: "one dump held by the lock and the other job waiting",
      },
    );
    await lock.release();
    expect(await peak).toBe(1);
    for (const job of await finished) expect(job).toMatchObject({ state: "completed", attempts: 1 });
    // Waiting used no BullMQ attempt either: each job's only counted run is the one that completed.
    // (BullMQ's job ends a moment after the row: the throwaway copy is dropped after the verdict.)
    for (const job of jobs) {
      const queued = await waitFor(async () => ((await harness.queue.getJob(job.id))?.finishedOn ? harness.queue.getJob(job.id) : undefined), {
        timeoutMs: 15_000,
        what: `BullMQ's job ${job.id} to finish`,
      });
      expect(queued?.attemptsMade).toBe(1);
    }
    expect(waitingJobs(workers)).toBe(1);
  }, 60_000);

  it("runs at most DUMP_CONCURRENCY_PER_CLUSTER dumps per cluster, and all jobs complete", async () => {
    const harness = await harnessFor({ DUMP_CONCURRENCY_PER_CLUSTER: "2", WORKER_CONCURRENCY: "2", LOG_LEVEL: "debug" });
    const tenantsReady = (async () => {
      const created = [];
      for (const index of [0, 1, 2, 3]) created.push(await lockedTenant(harness, `capped-${index}`));
      return created;
    })();
    const [setups, ...workers] = await Promise.all([
      tenantsReady,
      harness.stack.startWorker({ WORKER_ID: "worker-a" }),
      harness.stack.startWorker({ WORKER_ID: "worker-b" }),
    ]);
    const names = setups.map(({ source }) => source.name);
    const tenants = setups.map(({ tenant }) => tenant);
    const locks = setups.map(({ lock }) => lock);
    const jobs = await Promise.all(tenants.map((tenant) => submitJob(harness, tenant.project_id)));

    const finished = Promise.all(jobs.map((job) => waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"], 40_000)));
    const peak = peakDumps(names, finished);
    // Two dumps held by the locks while the other two jobs (other databases) keep trying: without
    // the cap, all four would sit in pg_stat_activity together (and the peak be 4). Every job is
    // accounted for once it is either held mid-dump or has been sent back to wait.
    await waitFor(
      async () => {
        const blocked = await blockedDumps(names);
        return blocked >= 2 && blocked + waitingJobs(workers) >= jobs.length;
      },
      {
        timeoutMs: 20_000,
        what: "two dumps held by the locks and the other jobs waiting for a dump slot",
      },
    );
    await Promise.all(locks.map((lock) => lock.release()));
    // Four workers' slots, four databases: only the cluster's cap holds them to two.
    expect(await peak).toBe(2);
    for (const job of await finished) expect(job).toMatchObject({ state: "completed", attempts: 1 });
    expect(waitingJobs(workers)).toBe(2);
  }, 60_000);
});

describe("a dump past DUMP_TIMEOUT_MS", () => {
  it("is stopped: the job fails with `timeout` without a retry, pg_dump is gone, nothing is stored", async () => {
    const harness = await harnessFor({ DUMP_TIMEOUT_MS: "700" });
    // The lock is held throughout: pg_dump would wait for it forever, so only the timeout can end the dump.
    const [{ source, tenant }] = await Promise.all([lockedTenant(harness, "slow"), harness.stack.startWorker()]);
    const job = await submitJob(harness, tenant.project_id);

    const failed = await waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"], 20_000);
    expect(failed).toMatchObject({
      state: "failed",
      attempts: 1,
      retryClassification: "timeout",
      error: "pg_dump timed out after 700 ms (DUMP_TIMEOUT_MS) and was stopped",
    });
    await waitFor(async () => (await dumpSessions([source.name])).length === 0, { timeoutMs: 10_000, what: "pg_dump to end" });
    expect(await projectFiles(harness.stack.storageDir, tenant.project_id)).toEqual([]);
    expect(await harness.stack.db.backup.count({ where: { jobId: job.id } })).toBe(0);
    expect(await harness.queue.getJobState(job.id)).toBe("failed");
  }, 40_000);
});

describe("canceling a running job", () => {
  it("mid-dump: pg_dump is stopped, the job ends canceled, nothing is stored", async () => {
    const harness = await harnessFor();
    // The lock is held throughout: pg_dump would wait for it forever, so only the cancel can end the dump.
    const [{ source, tenant }] = await Promise.all([lockedTenant(harness, "cancel-dump"), harness.stack.startWorker()]);
    const job = await submitJob(harness, tenant.project_id);

    await midDump(harness, job.id, tenant.project_id, source);
    // What the API's cancel does to a running job.
    await harness.stack.db.job.update({ where: { id: job.id }, data: { cancelRequestedAt: new Date() } });
    const requestedAt = Date.now();
    const canceled = await waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"], 20_000);
    const cancelMs = Date.now() - requestedAt;
    expect(canceled).toMatchObject({ state: "canceled", phase: "done", attempts: 1, retryClassification: "canceled", error: "canceled by request" });
    expect(canceled.completedAt).not.toBeNull();
    await waitFor(async () => (await dumpSessions([source.name])).length === 0, { timeoutMs: 10_000, what: "pg_dump to end" });
    expect(await projectFiles(harness.stack.storageDir, tenant.project_id)).toEqual([]);
    expect(await harness.stack.db.backup.count({ where: { jobId: job.id } })).toBe(0);
    console.info(`cancel of a running dump took ${cancelMs} ms`);
  }, 40_000);

  it("while verifying (the dump slot already given back): the recorded backup row and its artifact are removed too", async () => {
    const harness = await harnessFor({ VERIFY_CONCURRENCY: "1" });
    const [tenant, worker] = await Promise.all([
      sourceCopy().then((source) => harness.stack.createTenant("acme", "cancel-verify", source.url)),
      harness.stack.startWorker(),
    ]);
    const project = await harness.stack.db.project.findUniqueOrThrow({ where: { id: tenant.project_id } });
    // The test holds the cluster's only verification slot, so the job stays in its verification
    // step (backup recorded, phase `verifying`) until canceled; a cancel during pg_restore takes
    // the same way out (the attempt's stop signal).
    const redis = new Redis(harness.stack.redis.url);
    cleanups.push(async () => redis.disconnect());
    const leases = new LeaseSemaphore(redis, harness.stack.redis.prefix);
    expect(await leases.acquire(`verify:${project.clusterId}`, "faults-test", 1, 60_000)).toBe(true);
    const job = await submitJob(harness, tenant.project_id);

    await waitFor(
      async () => {
        const row = await harness.stack.db.job.findUniqueOrThrow({ where: { id: job.id } });
        return (
          row.phase === "verifying" &&
          worker.logs().includes("waiting for a verification slot on the cluster") &&
          worker.logs().includes("source counted") &&
          (await harness.stack.db.backup.count({ where: { jobId: job.id, NOT: { sourceInventory: { equals: Prisma.DbNull } } } })) === 1
        );
      },
      { timeoutMs: 20_000, intervalMs: 20, what: "the backup to be recorded, counted and verifying" },
    );
    // pg_dump and the counting of the source have ended: the cluster's dump slot is back, the
    // database's lock still held.
    expect(await leases.holders(`dump:${job.clusterId}`)).toEqual([]);
    expect(await leases.holders(job.lockedResource)).toEqual([expect.stringContaining(`/${job.id}/`)]);
    await harness.stack.db.job.update({ where: { id: job.id }, data: { cancelRequestedAt: new Date() } });
    const canceled = await waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"], 20_000);
    expect(canceled).toMatchObject({ state: "canceled", retryClassification: "canceled" });
    expect(await harness.stack.db.backup.count({ where: { jobId: job.id } })).toBe(0);
    // Rows first, artifacts second (finishCanceled): the files go a moment after the canceled row.
    await waitFor(async () => (await projectFiles(harness.stack.storageDir, tenant.project_id)).length === 0, {
      timeoutMs: 10_000,
      what: "the canceled attempt's artifacts to be removed",
    });
  }, 40_000);
});

describe("a cancel requested while the job's worker is dead", () => {
  it("ends the job canceled at the next claim, without running pg_dump again, and removes the lost attempt's leftovers", async () => {
    const harness = await harnessFor();
    const [{ source, tenant, lock }, doomed] = await Promise.all([lockedTenant(harness, "cancel-dead"), harness.stack.startWorker({ WORKER_ID: "worker-a" })]);
    const job = await submitJob(harness, tenant.project_id);
    await midDump(harness, job.id, tenant.project_id, source);
    expect(await doomed.stop("SIGKILL")).toBe("SIGKILL");
    // Let the orphaned pg_dump go on: it ends writing to its dead reader.
    await lock.release();
    await waitFor(async () => (await dumpSessions([source.name])).length === 0, { timeoutMs: 10_000, what: "the orphaned pg_dump to end" });
    await harness.stack.db.job.update({ where: { id: job.id }, data: { cancelRequestedAt: new Date() } });

    const next = await harness.stack.startWorker({ WORKER_ID: "worker-b" });
    const finished = waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"], 20_000);
    expect(await peakDumps([source.name], finished)).toBe(0);
    expect(await finished).toMatchObject({ state: "canceled", attempts: 1, retryClassification: "canceled", claimedBy: "worker-b" });
    expect(next.logs()).toContain("job claimed with its cancel already requested; not running it");
    // Rows first, artifacts second (finishCanceled): the files go a moment after the canceled row.
    await waitFor(async () => (await projectFiles(harness.stack.storageDir, tenant.project_id)).length === 0, {
      timeoutMs: 10_000,
      what: "the canceled attempt's artifacts to be removed",
    });
    expect(await harness.stack.db.backup.count({ where: { jobId: job.id } })).toBe(0);
  }, 40_000);
});

/** A TCP forwarder to the shared Postgres that can drop every connection and refuse new ones. */
async function startOutageProxy(targetPort: number): Promise<{ port: number; breakDown(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      const created = net.createServer((client) => {
        const upstream = net.connect(targetPort, "127.0.0.1");
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on("error", () => {});
          socket.on("close", () => {
            sockets.delete(socket);
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream);
        upstream.pipe(client);
      });
      created.once("error", reject);
      created.listen(port, "127.0.0.1", () => {
        server = created;
        resolve((created.address() as net.AddressInfo).port);
      });
    });
  const port = await listen(0);
  const breakDown = async () => {
    const closing = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
    for (const socket of sockets) socket.resetAndDestroy();
    await closing;
  };
  return {
    port,
    breakDown,
    restore: async () => {
      await listen(port);
    },
    close: breakDown,
  };
}

describe("a metadata-database outage", () => {
  it("during a dump: the worker's writes retry until the database is back, and the job completes", async () => {
    const harness = await harnessFor();
    const proxy = await startOutageProxy(5432);
    cleanups.push(() => proxy.close());
    const metadataUrl = new URL(harness.stack.metadata.url);
    metadataUrl.port = String(proxy.port);
    metadataUrl.hostname = "127.0.0.1";
    const [{ source, tenant, lock }, worker] = await Promise.all([
      lockedTenant(harness, "outage"),
      harness.stack.startWorker({ DATABASE_URL: metadataUrl.toString() }),
    ]);
    const job = await submitJob(harness, tenant.project_id);

    await midDump(harness, job.id, tenant.project_id, source);
    await proxy.breakDown();
    // pg_dump (straight to the source) finishes once the lock is gone; recording the backup meets the outage.
    await lock.release();
    await waitFor(() => worker.logs().includes('"write":"record backup"') && worker.logs().includes("metadata database unreachable; retrying the write"), {
      timeoutMs: 30_000,
      what: "the worker to retry recording the backup",
    });
    await proxy.restore();

    const done = await waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"], 30_000);
    expect(done).toMatchObject({ state: "completed", attempts: 1, error: null });
    expect(await harness.stack.db.backup.count({ where: { jobId: job.id } })).toBe(1);
    expect(worker.logs()).toContain("metadata database reachable again; write succeeded");
  }, 40_000);
});
