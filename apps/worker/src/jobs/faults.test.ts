// Issue 5, the worker side, through real worker processes, real signals, real Postgres, Redis and
// pg_dump: a worker killed or paused mid-dump has its job taken over; a stale worker can write
// nothing; one dump per database and at most DUMP_CONCURRENCY_PER_CLUSTER per cluster, waiting
// rather than failing; dumps past DUMP_TIMEOUT_MS and canceled jobs leave nothing behind; a short
// metadata-database outage converges. Lock, stall and heartbeat intervals are short here (ms).
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "ioredis";
import { quoteIdent } from "@capy/db";
import { LeaseSemaphore } from "@capy/queue";
import { createEmptyDatabase, uniqueName, waitFor, withAdminClient, type ServiceProcess, type TestDatabase } from "@capy/testing";
import { createHarness, projectFiles, submitJob, waitForJob, type Harness } from "../test-helpers.js";

/** Takeover within about LOCK + 2 x STALLED (ms); heartbeats (and cancel checks) every 200 ms. */
const FAST: NodeJS.ProcessEnv = {
  WORKER_LOCK_DURATION_MS: "2000",
  WORKER_STALLED_INTERVAL_MS: "1000",
  WORKER_HEARTBEAT_INTERVAL_MS: "200",
};

const cleanups: Array<() => Promise<unknown>> = [];
let template: TestDatabase;

beforeAll(async () => {
  // A source whose pg_dump takes a few seconds here: 600,000 rows of incompressible-ish text
  // (about 70 MB). Tests dump copies of it (CREATE DATABASE … TEMPLATE), never the template.
  template = await createEmptyDatabase("capy_faults_tpl");
  await withAdminClient(
    (client) => client.query("CREATE TABLE noise AS SELECT g AS id, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) AS payload FROM generate_series(1, 600000) g"),
    template.url,
  );
}, 60_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  await template?.drop();
});

let current: Harness | undefined;

async function harnessFor(extraEnv: NodeJS.ProcessEnv = {}): Promise<Harness> {
  const harness = await createHarness({ ...FAST, ...extraEnv });
  cleanups.push(() => harness.close());
  current = harness;
  return harness;
}

// A failed test shows what its workers logged (the last lines of each).
afterEach((context) => {
  if (context.task.result?.state !== "fail" || !current) return;
  for (const [index, worker] of current.stack.workers.entries()) console.error(`--- worker ${index} (pid ${worker.child.pid}) ---\n${worker.logs().split("\n").slice(-60).join("\n")}`);
});

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

/** Resolves with the path of the project's `.partial` artifact once pg_dump has streamed bytes into it. */
function partialWithBytes(harness: Harness, projectId: string): Promise<string> {
  return waitFor(
    async () => {
      for (const file of await projectFiles(harness.stack.storageDir, projectId)) {
        if (file.endsWith(".partial") && (await stat(file).catch(() => undefined))?.size) return file;
      }
      return undefined;
    },
    { timeoutMs: 30_000, intervalMs: 20, what: "pg_dump to stream into a partial artifact" },
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
    const source = await sourceCopy();
    const tenant = await harness.stack.createTenant("acme", "killed", source.url);
    const doomed = await harness.stack.startWorker({ WORKER_ID: "worker-a" });
    const job = await submitJob(harness, tenant.project_id);

    const partial = await partialWithBytes(harness, tenant.project_id);
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

    const done = await waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"]);
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
  }, 60_000);

  it("SIGSTOP past its lock: another worker completes the job; after SIGCONT the stale worker writes nothing and removes its artifact", async () => {
    const harness = await harnessFor();
    const source = await sourceCopy();
    const tenant = await harness.stack.createTenant("acme", "paused", source.url);
    const paused = await harness.stack.startWorker({ WORKER_ID: "worker-a" });
    const pid = paused.child.pid!;
    const job = await submitJob(harness, tenant.project_id);

    await partialWithBytes(harness, tenant.project_id);
    process.kill(pid, "SIGSTOP");
    let done;
    let survivor;
    try {
      survivor = await harness.stack.startWorker({ WORKER_ID: "worker-b" });
      done = await waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"]);
    } finally {
      // Never leave a stopped worker behind, even when the test fails.
      if (!done) process.kill(pid, "SIGCONT");
    }
    // The survivor ended the paused worker's pg_dump session, which would otherwise hold up every
    // DROP DATABASE on the server (its backend blocks writing to a pg_dump nobody reads).
    expect(survivor!.logs()).toContain("ended the lost attempt's sessions on the source database");
    expect(done).toMatchObject({ state: "completed", attempts: 2, claimedBy: "worker-b", retryClassification: null });
    const backup = await harness.stack.db.backup.findUniqueOrThrow({ where: { jobId: job.id } });
    const expectedFiles = [path.join(harness.stack.storageDir, backup.backupKey)];

    process.kill(pid, "SIGCONT");
    // The stale attempt notices it lost the job, stops pg_dump, discards its artifact and records nothing.
    await waitFor(() => paused.logs().includes("its failure was not recorded") || paused.logs().includes("its backup was discarded"), {
      timeoutMs: 20_000,
      what: "the resumed worker to give up its stale attempt",
    });
    expect(paused.logs()).toContain("attempt no longer owns the job; stopping it");
    await waitFor(async () => (await dumpSessions([source.name])).length === 0, { timeoutMs: 15_000, what: "the stale pg_dump to end" });
    expect(await harness.stack.db.job.findUniqueOrThrow({ where: { id: job.id } })).toEqual(done);
    expect(await harness.stack.db.backup.findMany({ where: { jobId: job.id } })).toEqual([backup]);
    expect(await projectFiles(harness.stack.storageDir, tenant.project_id)).toEqual(expectedFiles);
  }, 60_000);
});

describe("locks and caps", () => {
  it("never runs two dumps of one database at once, across workers; the second job waits without using an attempt", async () => {
    const harness = await harnessFor();
    const source = await sourceCopy();
    const tenant = await harness.stack.createTenant("acme", "one-db", source.url);
    const workers = [await harness.stack.startWorker({ WORKER_ID: "worker-a", LOG_LEVEL: "debug" }), await harness.stack.startWorker({ WORKER_ID: "worker-b", LOG_LEVEL: "debug" })];
    const jobs = [await submitJob(harness, tenant.project_id), await submitJob(harness, tenant.project_id)];

    const finished = Promise.all(jobs.map((job) => waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"], 90_000)));
    const peak = await peakDumps([source.name], finished);
    expect(peak).toBe(1);
    for (const job of await finished) expect(job).toMatchObject({ state: "completed", attempts: 1 });
    // Waiting used no BullMQ attempt either: each job's only counted run is the one that completed.
    for (const job of jobs) expect((await harness.queue.getJob(job.id))?.attemptsMade).toBe(1);
    expect(workers.some((worker) => worker.logs().includes("waiting: the database's lock or the cluster's dump slots are taken"))).toBe(true);
  }, 90_000);

  it("runs at most DUMP_CONCURRENCY_PER_CLUSTER dumps per cluster, and all jobs complete", async () => {
    const harness = await harnessFor({ DUMP_CONCURRENCY_PER_CLUSTER: "2", WORKER_CONCURRENCY: "2" });
    const sources = await Promise.all([sourceCopy(), sourceCopy(), sourceCopy(), sourceCopy()]);
    const tenants = [];
    for (const [index, source] of sources.entries()) tenants.push(await harness.stack.createTenant("acme", `capped-${index}`, source.url));
    await harness.stack.startWorker({ WORKER_ID: "worker-a" });
    await harness.stack.startWorker({ WORKER_ID: "worker-b" });
    const jobs = await Promise.all(tenants.map((tenant) => submitJob(harness, tenant.project_id)));

    const finished = Promise.all(jobs.map((job) => waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"], 90_000)));
    const peak = await peakDumps(
      sources.map((source) => source.name),
      finished,
    );
    // Four workers' slots, four databases: only the cluster's cap holds them to two.
    expect(peak).toBe(2);
    for (const job of await finished) expect(job).toMatchObject({ state: "completed", attempts: 1 });
  }, 90_000);
});

describe("a dump past DUMP_TIMEOUT_MS", () => {
  it("is stopped: the job fails with `timeout` without a retry, pg_dump is gone, nothing is stored", async () => {
    const harness = await harnessFor({ DUMP_TIMEOUT_MS: "700" });
    const source = await sourceCopy();
    const tenant = await harness.stack.createTenant("acme", "slow", source.url);
    await harness.stack.startWorker();
    const job = await submitJob(harness, tenant.project_id);

    const failed = await waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"]);
    expect(failed).toMatchObject({ state: "failed", attempts: 1, retryClassification: "timeout", error: "pg_dump timed out after 700 ms (DUMP_TIMEOUT_MS) and was stopped" });
    await waitFor(async () => (await dumpSessions([source.name])).length === 0, { timeoutMs: 10_000, what: "pg_dump to end" });
    expect(await projectFiles(harness.stack.storageDir, tenant.project_id)).toEqual([]);
    expect(await harness.stack.db.backup.count({ where: { jobId: job.id } })).toBe(0);
    expect(await harness.queue.getJobState(job.id)).toBe("failed");
  }, 60_000);
});

describe("canceling a running job", () => {
  it("mid-dump: pg_dump is stopped, the job ends canceled, nothing is stored", async () => {
    const harness = await harnessFor();
    const source = await sourceCopy();
    const tenant = await harness.stack.createTenant("acme", "cancel-dump", source.url);
    await harness.stack.startWorker();
    const job = await submitJob(harness, tenant.project_id);

    await partialWithBytes(harness, tenant.project_id);
    // What the API's cancel does to a running job.
    await harness.stack.db.job.update({ where: { id: job.id }, data: { cancelRequestedAt: new Date() } });
    const requestedAt = Date.now();
    const canceled = await waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"]);
    const cancelMs = Date.now() - requestedAt;
    expect(canceled).toMatchObject({ state: "canceled", phase: "done", attempts: 1, retryClassification: "canceled", error: "canceled by request" });
    expect(canceled.completedAt).not.toBeNull();
    await waitFor(async () => (await dumpSessions([source.name])).length === 0, { timeoutMs: 10_000, what: "pg_dump to end" });
    expect(await projectFiles(harness.stack.storageDir, tenant.project_id)).toEqual([]);
    expect(await harness.stack.db.backup.count({ where: { jobId: job.id } })).toBe(0);
    console.info(`cancel of a running dump took ${cancelMs} ms`);
  }, 60_000);

  it("while verifying (the dump slot already given back): the recorded backup row and its artifact are removed too", async () => {
    const harness = await harnessFor();
    const source = await sourceCopy();
    const tenant = await harness.stack.createTenant("acme", "cancel-verify", source.url);
    await harness.stack.startWorker();
    const job = await submitJob(harness, tenant.project_id);

    await waitFor(
      async () => {
        const row = await harness.stack.db.job.findUniqueOrThrow({ where: { id: job.id } });
        return row.phase === "verifying" && (await harness.stack.db.backup.count({ where: { jobId: job.id } })) === 1;
      },
      { timeoutMs: 30_000, intervalMs: 20, what: "the backup to be recorded and verifying" },
    );
    // pg_dump has ended: the cluster's dump slot is already back, the database's lock still held.
    const redis = new Redis(harness.stack.redis.url);
    try {
      const leases = new LeaseSemaphore(redis, harness.stack.redis.prefix);
      expect(await leases.holders(`dump:${job.clusterId}`)).toEqual([]);
      expect(await leases.holders(job.lockedResource)).toEqual([expect.stringContaining(`/${job.id}/`)]);
    } finally {
      redis.disconnect();
    }
    await harness.stack.db.job.update({ where: { id: job.id }, data: { cancelRequestedAt: new Date() } });
    const canceled = await waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"]);
    expect(canceled).toMatchObject({ state: "canceled", retryClassification: "canceled" });
    expect(await harness.stack.db.backup.count({ where: { jobId: job.id } })).toBe(0);
    expect(await projectFiles(harness.stack.storageDir, tenant.project_id)).toEqual([]);
  }, 60_000);
});

describe("a cancel requested while the job's worker is dead", () => {
  it("ends the job canceled at the next claim, without running pg_dump again, and removes the lost attempt's leftovers", async () => {
    const harness = await harnessFor();
    const source = await sourceCopy();
    const tenant = await harness.stack.createTenant("acme", "cancel-dead", source.url);
    const doomed = await harness.stack.startWorker({ WORKER_ID: "worker-a" });
    const job = await submitJob(harness, tenant.project_id);
    await partialWithBytes(harness, tenant.project_id);
    expect(await doomed.stop("SIGKILL")).toBe("SIGKILL");
    await waitFor(async () => (await dumpSessions([source.name])).length === 0, { timeoutMs: 10_000, what: "the orphaned pg_dump to end" });
    await harness.stack.db.job.update({ where: { id: job.id }, data: { cancelRequestedAt: new Date() } });

    const next = await harness.stack.startWorker({ WORKER_ID: "worker-b" });
    const finished = waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"]);
    expect(await peakDumps([source.name], finished)).toBe(0);
    expect(await finished).toMatchObject({ state: "canceled", attempts: 1, retryClassification: "canceled", claimedBy: "worker-b" });
    expect(next.logs()).toContain("job claimed with its cancel already requested; not running it");
    expect(await projectFiles(harness.stack.storageDir, tenant.project_id)).toEqual([]);
    expect(await harness.stack.db.backup.count({ where: { jobId: job.id } })).toBe(0);
  }, 60_000);
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
    const source = await sourceCopy();
    const tenant = await harness.stack.createTenant("acme", "outage", source.url);
    const metadataUrl = new URL(harness.stack.metadata.url);
    metadataUrl.port = String(proxy.port);
    metadataUrl.hostname = "127.0.0.1";
    const worker = await harness.stack.startWorker({ DATABASE_URL: metadataUrl.toString() });
    const job = await submitJob(harness, tenant.project_id);

    await partialWithBytes(harness, tenant.project_id);
    await proxy.breakDown();
    // pg_dump (straight to the source) finishes; recording the backup meets the outage.
    await waitFor(() => worker.logs().includes('"write":"record backup"') && worker.logs().includes("metadata database unreachable; retrying the write"), {
      timeoutMs: 30_000,
      what: "the worker to retry recording the backup",
    });
    await proxy.restore();

    const done = await waitForJob(harness.stack, job.id, ["completed", "failed", "canceled"]);
    expect(done).toMatchObject({ state: "completed", attempts: 1, error: null });
    expect(await harness.stack.db.backup.count({ where: { jobId: job.id } })).toBe(1);
    expect(worker.logs()).toContain("metadata database reachable again; write succeeded");
  }, 60_000);
});
