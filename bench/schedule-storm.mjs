#!/usr/bin/env node
// bench/schedule-storm: 10,000 active schedules due in the same minute.
// Prints how long after the due minute all 10,000 backup job rows exist (target <= 10 s), and
// the most pg_dump connections observed at once per cluster while the storm's backups run
// (target <= 2, DUMP_CONCURRENCY_PER_CLUSTER; the cap itself lives in the worker, this only
// measures it).
// Everything is private and removed afterwards: a redis-server on a free port, its own
// metadata database, source databases on the local server and a storage directory.
// Schedulers are written the way the API writes them (syncScheduler); real worker processes
// fire them and run the backups.
// Usage: pnpm bench:schedule-storm [--schedules 10000] [--workers 2] [--concurrency 4] [--sources 4]
//                                  [--scale 5] [--window 60]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { createDb, createProject, generateEncryptionKey, Keyring, registerCluster, withDatabase } from "@capy/db";
import { createMetadataDatabase, createPgbenchDatabase, startPrivateRedis, startWorker, TEST_SERVER_URL, withAdminClient } from "@capy/testing";
// @capy/queue is not a dependency of the repository root; its built entry is imported by path
// (pnpm run build first), so the bench writes schedulers with the very code the API uses.
import { createScheduleQueue, createWorkerConnection, syncScheduler } from "../packages/queue/dist/index.js";

const { values: args } = parseArgs({
  options: {
    schedules: { type: "string", default: "10000" },
    workers: { type: "string", default: "2" },
    sources: { type: "string", default: "4" },
    window: { type: "string", default: "60" },
    scale: { type: "string", default: "5" },
    concurrency: { type: "string", default: "4" },
  },
});
const SCHEDULES = Number(args.schedules);
const WORKERS = Number(args.workers);
const SOURCES = Number(args.sources);
/** How long dumps are sampled after the due minute (s). */
const WINDOW_S = Number(args.window);
/** pgbench scale of each source database (5: ~75 MB, a dump of a few seconds, long enough to overlap). */
const SCALE = Number(args.scale);
/** WORKER_CONCURRENCY of each worker: without a per-cluster cap, up to workers x this dumps run at once. */
const CONCURRENCY = Number(args.concurrency);
/** pg_stat_activity sampling period (ms). */
const SAMPLE_MS = 200;
const PREFIX = "capystorm";
const VERIFY_PREFIX = "capy_storm_verify";

const cleanups = [];
const log = (...parts) => console.log(`[${new Date().toISOString().slice(11, 23)}]`, ...parts);

/** Local ports of the TCP connections pg_dump processes of this host hold (ss -tnp). */
function pgDumpClientPorts() {
  const out = spawnSync("ss", ["-Htnp"], { encoding: "utf8" }).stdout ?? "";
  const ports = new Set();
  for (const line of out.split("\n")) {
    if (!line.includes('"pg_dump"')) continue;
    const local = line.trim().split(/\s+/)[3] ?? "";
    ports.add(Number(local.slice(local.lastIndexOf(":") + 1)));
  }
  return ports;
}

async function main() {
  const started = Date.now();
  const [meta, redisServer, ...sources] = await Promise.all([
    createMetadataDatabase(),
    startPrivateRedis(),
    ...Array.from({ length: SOURCES }, () => createPgbenchDatabase(SCALE)),
  ]);
  cleanups.push(
    () => meta.drop(),
    () => redisServer.stop(),
    ...sources.map((s) => () => s.drop()),
  );
  const storageDir = mkdtempSync(path.join(os.tmpdir(), "capy-storm-"));
  cleanups.push(async () => rmSync(storageDir, { recursive: true, force: true }));
  const encryptionKey = generateEncryptionKey();
  const db = createDb(meta.url, { maxConnections: 4 });
  cleanups.push(() => db.$disconnect());

  // One organization and cluster; SCHEDULES projects spread over the source databases (so the
  // per-database lock, where present, does not hide the per-cluster cap), one schedule each.
  const seeds = [];
  for (const [i, source] of sources.entries()) {
    await registerCluster(db, { adminUrl: withDatabase(source.url, "postgres"), keyring: new Keyring(encryptionKey) });
    seeds.push(await createProject(db, { organizationName: "storm", projectName: `seed${i}`, databaseUrl: source.url, encryptionKey }));
  }
  await db.$executeRawUnsafe(
    `INSERT INTO projects (id, organization_id, cluster_id, name, database_name, db_user, db_password_encrypted)
     SELECT 'prj_storm' || lpad(g::text, 6, '0'), s.organization_id, s.cluster_id, 'storm' || g, s.database_name, s.db_user, s.db_password_encrypted
     FROM generate_series(1, $1::int) g
     JOIN (SELECT *, row_number() OVER (ORDER BY id) - 1 AS k FROM projects) s ON s.k = g % $2::int`,
    SCHEDULES,
    SOURCES,
  );
  // The due minute: far enough ahead for the schedulers and workers to be set up.
  const due = new Date(Math.ceil((Date.now() + 40_000) / 60_000) * 60_000);
  await db.$executeRawUnsafe(
    `INSERT INTO scheduled_backups (id, organization_id, project_id, name, label, cron_hour, cron_minute, is_active, retention_days, created_at, updated_at, timing_since)
     SELECT 'sch_' || substr(p.id, 5), p.organization_id, p.id, 'default', 'storm', $1::int, $2::int, true, 7, now(), now(), now()
     FROM projects p WHERE p.id LIKE 'prj_storm%'`,
    due.getUTCHours(),
    due.getUTCMinutes(),
  );
  log(
    `${SCHEDULES} schedules at ${due.toISOString().slice(11, 16)} UTC on ${SOURCES} source databases (setup ${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );

  const redis = createWorkerConnection({ url: redisServer.url, prefix: PREFIX });
  const scheduleQueue = createScheduleQueue(redis, PREFIX);
  cleanups.push(async () => {
    await scheduleQueue.close();
    redis.disconnect();
  });
  const rows = await db.scheduledBackup.findMany({ where: { label: "storm" } });
  const syncStarted = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < rows.length) {
        const row = rows[next++];
        await syncScheduler(scheduleQueue, row.id, row);
      }
    }),
  );
  log(`${await scheduleQueue.getJobSchedulersCount()} job schedulers written in ${((Date.now() - syncStarted) / 1000).toFixed(1)} s`);

  const env = {
    DATABASE_URL: meta.url,
    REDIS_URL: redisServer.url,
    CAPY_REDIS_PREFIX: PREFIX,
    STORAGE_DIR: storageDir,
    CAPY_ENCRYPTION_KEY: encryptionKey,
    VERIFY_DATABASE_PREFIX: VERIFY_PREFIX,
    WORKER_SHUTDOWN_GRACE_MS: "2000",
    WORKER_CONCURRENCY: String(CONCURRENCY),
    // Reconcile every 15 s (default 60 s), so the flush at the end is repaired within the
    // bench's patience; rounds during the storm are part of what is measured.
    SCHEDULE_RECONCILE_INTERVAL_MS: "15000",
    // startWorker waits for the "worker ready" line, logged at info.
    LOG_LEVEL: "info",
  };
  const workers = [];
  cleanups.unshift(() => Promise.all(workers.map((w) => w.stop("SIGTERM", 10_000))));
  for (let i = 0; i < WORKERS; i++) workers.push(await startWorker(env));
  if (Date.now() > due.getTime() - 2_000) throw new Error("setup overran the due minute; run again");
  log(`${WORKERS} workers ready; waiting ${((due.getTime() - Date.now()) / 1000).toFixed(1)} s for the due minute`);

  // Sample from the due minute on: pg_dump connections to this bench's source databases
  // (pg_stat_activity is server-wide, so the metadata database's own pool can read it).
  const cluster = new URL(TEST_SERVER_URL).host;
  await sleepUntil(due.getTime());
  let maxDumps = 0;
  let samples = 0;
  let allAt;
  const windowEnd = due.getTime() + WINDOW_S * 1_000;
  while (Date.now() < windowEnd) {
    // The worker's snapshot session uses the same application_name as pg_dump; ss tells the
    // pg_dump processes' client ports apart.
    const conns = await db.$queryRawUnsafe(
      "SELECT client_port FROM pg_stat_activity WHERE application_name = 'capy-backups' AND datname = ANY($1::text[])",
      sources.map((s) => s.name),
    );
    const dumpPorts = pgDumpClientPorts();
    const dumps = conns.filter((c) => dumpPorts.has(c.client_port)).length;
    maxDumps = Math.max(maxDumps, dumps);
    samples++;
    if (allAt === undefined) {
      const { n, last } = (await db.$queryRawUnsafe("SELECT count(*)::int AS n, max(created_at) AS last FROM jobs WHERE due_at = $1::timestamptz", due))[0];
      if (n >= SCHEDULES) {
        allAt = last.getTime();
        log(`all ${n} job rows exist ${((allAt - due.getTime()) / 1000).toFixed(2)} s after the due minute`);
      }
    }
    await new Promise((r) => setTimeout(r, SAMPLE_MS));
  }
  const [{ n, first, last, distinct }] = await db.$queryRawUnsafe(
    `SELECT count(*)::int AS n, min(created_at) AS first, max(created_at) AS last, count(DISTINCT schedule_id)::int AS distinct
     FROM jobs WHERE due_at = $1::timestamptz`,
    due,
  );
  // Redis loses everything: how long until the reconciler has every scheduler back?
  await redisServer.flush();
  const flushedAt = Date.now();
  let restoredAfter;
  while (Date.now() - flushedAt < 120_000) {
    if ((await scheduleQueue.getJobSchedulersCount()) >= SCHEDULES) {
      restoredAfter = (Date.now() - flushedAt) / 1000;
      break;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const reconciled = workers
    .flatMap((w) => w.logs().split("\n"))
    .filter((l) => l.includes('"msg":"schedules reconciled"'))
    .map((l) => JSON.parse(l));
  const states = await db.$queryRawUnsafe("SELECT state, count(*)::int AS n, max(error) AS error FROM jobs GROUP BY state ORDER BY state");
  const completed = states.find((s) => s.state === "completed")?.n ?? 0;
  console.log("");
  console.log(
    `schedules due at ${due.toISOString()}: ${SCHEDULES}; workers: ${WORKERS} x WORKER_CONCURRENCY ${CONCURRENCY}; sources: ${SOURCES} x pgbench scale ${SCALE}`,
  );
  console.log(`job rows for that due time: ${n} (${distinct} distinct schedules; duplicates: ${n - distinct})`);
  if (n > 0) {
    console.log(
      `first job row ${((first.getTime() - due.getTime()) / 1000).toFixed(2)} s, last ${((last.getTime() - due.getTime()) / 1000).toFixed(2)} s after the due minute`,
    );
  }
  console.log(
    allAt === undefined
      ? `NOT all ${SCHEDULES} job rows existed within ${WINDOW_S} s (target <= 10 s)`
      : `all ${SCHEDULES} job rows existed ${((allAt - due.getTime()) / 1000).toFixed(2)} s after the due minute (target <= 10 s)`,
  );
  console.log(
    `max concurrent pg_dump connections on cluster ${cluster}: ${maxDumps} (${samples} samples every ${SAMPLE_MS} ms over ${WINDOW_S} s; cap target 2)`,
  );
  console.log(`backups completed in the window: ${completed}; job states: ${states.map((s) => `${s.state} ${s.n}`).join(", ")}`);
  for (const s of states) if (s.error) console.log(`  e.g. ${s.state}: ${s.error}`);
  const inSync = reconciled.find((r) => r.upserted === 0);
  if (inSync) console.log(`a reconcile round with all ${SCHEDULES} schedulers in sync took ${inSync.duration_ms} ms`);
  console.log(
    restoredAfter === undefined
      ? `after a Redis flush, NOT all schedulers were restored within 120 s`
      : `after a Redis flush, all ${SCHEDULES} schedulers were back ${restoredAfter.toFixed(1)} s later (reconcile interval 15 s)`,
  );
  const repair = reconciled.filter((r) => r.upserted > 0).at(-1);
  if (repair) console.log(`  the repairing round: ${repair.upserted} upserted in ${repair.duration_ms} ms`);
  const failures = workers.flatMap((w) => w.logs().split("\n")).filter((l) => l.includes("schedule firing failed") || l.includes("schedule worker error"));
  if (failures.length > 0) console.log(`schedule firing failures logged: ${failures.length}, e.g. ${failures[0].slice(0, 300)}`);
  if (process.env.BENCH_DEBUG)
    for (const w of workers)
      console.log(
        w
          .logs()
          .split("\n")
          .filter((l) => !l.includes('"level":20'))
          .slice(-15)
          .join("\n"),
      );
}

function sleepUntil(ms) {
  return new Promise((r) => setTimeout(r, Math.max(0, ms - Date.now())));
}

async function cleanup() {
  for (const fn of cleanups.splice(0))
    await Promise.resolve()
      .then(fn)
      .catch((e) => console.error("cleanup:", e.message));
  // Throwaway verification databases the stopped workers may have left.
  await withAdminClient(async (client) => {
    const { rows } = await client.query("SELECT datname FROM pg_database WHERE datname LIKE $1", [`${VERIFY_PREFIX}_%`]);
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  }).catch((e) => console.error("cleanup:", e.message));
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
} finally {
  await cleanup();
}
