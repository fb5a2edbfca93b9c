// Entry point of a worker process (`pnpm start:worker`). Any number of these may run, on any
// number of hosts; Postgres arbitrates who owns each job.

import { encryptingPlan, findExecutable, formatCompressionSetting, pathDirs, resolveAge, resolveZstd, writePlan } from "@capy/artifact";
import { BACKUP_QUEUE } from "@capy/contracts";
import { assertStoredSecretsOpen, createDb } from "@capy/db";
import { encryptionIdentityLookup } from "@capy/jobs";
import {
  assertRedisKeepsQueueKeys,
  createBackupQueue,
  createProducerConnection,
  createWebhookQueue,
  createWorkerConnection,
  LeaseSemaphore,
  LeaseWaiters,
  RedisPolicyError,
} from "@capy/queue";
import { createStorage } from "@capy/storage";
import { createCatalogue } from "./catalogue.js";
import { loadWorkerEnv } from "./env.js";
import { createLogger, type Logger } from "./logger.js";
import { startJobReconciler } from "./maintenance/job-reconciler.js";
import { startRetentionSweep } from "./maintenance/retention.js";
import { startStorageSweep } from "./maintenance/storage-sweep.js";
import { DEFAULT_METRICS_PORT, startMetricsServer, WorkerMetrics } from "./metrics.js";
import { serverAdmin } from "./postgres/target.js";
import { pgMajorVersion, pgToolVersion, resolvePgTool } from "./postgres/tools.js";
import { ProcessRunner } from "./process/run.js";
import { startPreviewSweep } from "./restore/preview-sweep.js";
import { startScheduling } from "./scheduling/index.js";
import { createShutdown } from "./shutdown.js";
import { startJanitor } from "./verify/janitor.js";
import { Verifier } from "./verify/verifier.js";
import { startWebhookDelivery } from "./webhooks/index.js";
import { createJobWorker } from "./worker.js";

async function main(): Promise<void> {
  const env = loadWorkerEnv();
  const log = createLogger(
    env.LOG_LEVEL,
    { service: "capy-worker", worker_id: env.WORKER_ID },
    { pretty: env.LOG_PRETTY === "1" || env.LOG_PRETTY === "true" },
  );
  const runner = new ProcessRunner();
  installCrashHandlers(log, () => runner.killAll());

  // Per running job: its own queries plus a heartbeat, and room for the worker's own.
  // webhook attempts hold a connection only for their short reads and writes around each POST.
  const db = createDb(env.DATABASE_URL, { maxConnections: env.WORKER_CONCURRENCY * 2 + 2 + Math.ceil(env.WEBHOOK_CONCURRENCY / 4) });
  // A keyring that opens none of the stored secrets would fail every job: refuse to start (the
  // error is main's one line). First, so that line is all a refused start prints.
  await assertStoredSecretsOpen(db, env.keyring, (message) => log.warn(message));

  const pgDump = resolvePgTool("pg_dump", { binDir: env.PG_BIN_DIR, searchPath: env.PATH });
  const pgDumpVersion = await pgToolVersion(runner, pgDump);
  log.info({ path: pgDump, version: pgDumpVersion }, "using pg_dump");
  // coreutils; without it pg_dump runs as is, with a 4 KiB stdout buffer (pg-dump.ts).
  const stdbuf = findExecutable("stdbuf", pathDirs(env.PATH));
  if (stdbuf === null) log.warn("stdbuf was not found on PATH: pg_dump writes its archive 4 KiB at a time (more CPU per backup)");
  // Needed whatever BACKUP_COMPRESSION says: zstd artifacts already stored are verified with it.
  const zstd = resolveZstd(env.PATH);
  // Likewise age, whatever BACKUP_ENCRYPTION says: encrypted artifacts already stored are verified with it.
  const age = resolveAge(env.PATH);
  const compressing = writePlan(env.BACKUP_COMPRESSION, { pgDumpMajor: pgMajorVersion(pgDumpVersion), zstd });
  const plan = env.BACKUP_ENCRYPTION === "age" ? encryptingPlan(compressing, age.age) : compressing;
  const { storedEncoding, encryption } = plan.encoding;
  log.info(
    { zstd, age: age.age, compression: formatCompressionSetting(env.BACKUP_COMPRESSION), stored_encoding: storedEncoding, encryption },
    "backup compression and encryption",
  );
  const pgRestore = resolvePgTool("pg_restore", { binDir: env.PG_BIN_DIR, searchPath: env.PATH });
  log.info({ path: pgRestore, version: await pgToolVersion(runner, pgRestore) }, "using pg_restore");
  const storage = createStorage({ storageDir: env.STORAGE_DIR, s3: env.s3 });
  // Metrics and probes, the job reconciler and lease wake-ups share one producer connection
  // (fails fast when Redis is down: all of them retry later) and one queue handle.
  const producerConnection = createProducerConnection({ url: env.REDIS_URL, prefix: env.CAPY_REDIS_PREFIX });
  const backupQueue = createBackupQueue(producerConnection, env.CAPY_REDIS_PREFIX);
  const metrics = new WorkerMetrics({ db, queue: backupQueue, log });
  // Bound before anything waits for Redis or starts a sweep: a taken, explicitly configured port
  // stops the worker at once.
  const metricsServer = await startMetricsServer({
    metrics,
    db,
    redis: producerConnection,
    port: env.WORKER_METRICS_PORT ?? DEFAULT_METRICS_PORT,
    portExplicit: env.WORKER_METRICS_PORT !== undefined,
    host: env.WORKER_METRICS_HOST,
    log,
  });
  // Removes what writers killed mid-upload left in storage: now, then every interval.
  const storageSweep = startStorageSweep({
    storage,
    db,
    intervalMs: env.STORAGE_SWEEP_INTERVAL_MS,
    minAgeMs: env.STORAGE_SWEEP_MIN_AGE_MS,
    log,
  });
  // Deletes scheduled backups past their schedule's retention: now, then every interval, and
  // for a project right after one of its scheduled backups completed (see handlers).
  const retention = startRetentionSweep({ db, storage, log, intervalMs: env.RETENTION_SWEEP_INTERVAL_MS, workerId: env.WORKER_ID });
  const connection = createWorkerConnection({ url: env.REDIS_URL, prefix: env.CAPY_REDIS_PREFIX });
  connection.on("error", (error: Error) => log.warn({ err: error.message }, "redis connection error"));
  // Refuse to start against a Redis that may evict queue keys (maxmemory-policy must be
  // noeviction; waits for Redis like the worker itself); re-checked after every reconnect.
  await assertRedisKeepsQueueKeys(connection);
  connection.on("ready", () => {
    assertRedisKeepsQueueKeys(connection).catch((error: unknown) => {
      if (error instanceof RedisPolicyError) log.error({ err: error.message }, "Redis may evict queue keys");
    });
  });

  // Leases (verification slots, database locks, dump slots) live in Redis, on a connection of their own.
  const leaseConnection = createWorkerConnection({ url: env.REDIS_URL, prefix: env.CAPY_REDIS_PREFIX });
  const semaphore = new LeaseSemaphore(leaseConnection, env.CAPY_REDIS_PREFIX);
  const verifyConfig = {
    timeoutMs: env.VERIFY_TIMEOUT_MS,
    templateDatabase: env.VERIFY_TEMPLATE_DATABASE,
    concurrency: env.VERIFY_CONCURRENCY,
    databasePrefix: env.VERIFY_DATABASE_PREFIX,
    restoreJobs: env.VERIFY_RESTORE_JOBS,
  };
  // Dedicated servers for throwaway and preview databases, when configured (operator logins).
  const verifyServer = env.VERIFY_DATABASE_URL ? serverAdmin(env.VERIFY_DATABASE_URL) : undefined;
  const previewServer = env.PREVIEW_DATABASE_URL ? serverAdmin(env.PREVIEW_DATABASE_URL) : undefined;
  // Encrypted artifacts are decrypted with the identity of the platform key their row names.
  const decrypt = { age, identity: encryptionIdentityLookup(db, env.keyring) };
  const verifier = new Verifier({
    verifyServer,
    db,
    storage,
    runner,
    pgRestore,
    zstd,
    decrypt,
    semaphore,
    workerId: env.WORKER_ID,
    keyring: env.keyring,
    config: verifyConfig,
  });
  // Drops throwaway databases that dead workers left behind: now, then every interval.
  const stopJanitor = startJanitor({
    db,
    keyring: env.keyring,
    databasePrefix: env.VERIFY_DATABASE_PREFIX,
    maxAgeMs: env.VERIFY_TIMEOUT_MS + env.VERIFY_JANITOR_MARGIN_MS,
    intervalMs: env.VERIFY_JANITOR_INTERVAL_MS,
    log: log.child({ component: "verify-janitor" }),
    verifyServer,
  });
  // Drops expired and deleted previews and what failed restores left: now, then every interval.
  const previewSweep = startPreviewSweep({
    db,
    keyring: env.keyring,
    previewServer,
    intervalMs: env.PREVIEW_SWEEP_INTERVAL_MS,
    log: log.child({ component: "preview-sweep" }),
  });
  // Jobs waiting for a database lock or dump slot, woken when it is given back.
  const waiters = new LeaseWaiters(producerConnection, backupQueue, env.CAPY_REDIS_PREFIX);
  const catalogue = createCatalogue({
    metrics,
    verifier,
    db,
    storage,
    runner,
    pgDump,
    stdbuf,
    pgRestore,
    previewServer,
    restoreJobs: env.RESTORE_JOBS,
    restoreTimeoutMs: env.RESTORE_TIMEOUT_MS,
    writePlan: plan,
    zstd,
    decrypt,
    workerId: env.WORKER_ID,
    keyring: env.keyring,
    heartbeatIntervalMs: env.WORKER_HEARTBEAT_INTERVAL_MS,
    afterScheduledBackup: (projectId) => retention.sweepProject(projectId),
    leases: {
      semaphore,
      waiters,
      leaseMs: env.WORKER_LOCK_DURATION_MS,
      dumpConcurrencyPerCluster: env.DUMP_CONCURRENCY_PER_CLUSTER,
    },
    dumpTimeoutMs: env.DUMP_TIMEOUT_MS,
  });
  // Re-enqueues pending jobs Redis lost and recovers running jobs whose worker died: now, then every interval.
  const jobReconciler = startJobReconciler({
    db,
    queue: backupQueue,
    redis: producerConnection,
    storage,
    heartbeatTimeoutMs: env.JOB_HEARTBEAT_TIMEOUT_MS,
    intervalMs: env.JOB_RECONCILE_INTERVAL_MS,
    // Two of BullMQ's stalled checks would have returned such a job; a third interval is slack.
    activeUnlockedMs: 3 * env.WORKER_STALLED_INTERVAL_MS,
    log,
  });
  const worker = createJobWorker({
    connection,
    prefix: env.CAPY_REDIS_PREFIX,
    concurrency: env.WORKER_CONCURRENCY,
    workerId: env.WORKER_ID,
    catalogue,
    db,
    log,
    metrics,
    waiters,
    lockDurationMs: env.WORKER_LOCK_DURATION_MS,
    stalledIntervalMs: env.WORKER_STALLED_INTERVAL_MS,
  });

  // Scheduled backups: firings of the job schedulers, and the schedule reconciler.
  const scheduling = await startScheduling({
    databaseUrl: env.DATABASE_URL,
    redisUrl: env.REDIS_URL,
    prefix: env.CAPY_REDIS_PREFIX,
    workerId: env.WORKER_ID,
    fireConcurrency: env.SCHEDULE_FIRE_CONCURRENCY,
    catchUpHours: env.SCHEDULE_CATCH_UP_HOURS,
    reconcileIntervalMs: env.SCHEDULE_RECONCILE_INTERVAL_MS,
    log,
  });

  // Webhook deliveries: their own queue, concurrency and reconciler.
  const webhookQueue = createWebhookQueue(producerConnection, env.CAPY_REDIS_PREFIX);
  const webhooks = startWebhookDelivery({
    db,
    queue: webhookQueue,
    redisUrl: env.REDIS_URL,
    prefix: env.CAPY_REDIS_PREFIX,
    workerId: env.WORKER_ID,
    concurrency: env.WEBHOOK_CONCURRENCY,
    policy: { allowInsecure: flag(env.WEBHOOK_ALLOW_INSECURE), allowPrivateTargets: flag(env.WEBHOOK_ALLOW_PRIVATE_TARGETS) },
    backoff: { baseMs: env.WEBHOOK_RETRY_BASE_MS, maxMs: env.WEBHOOK_RETRY_MAX_MS },
    disableAfterMs: env.WEBHOOK_DISABLE_AFTER_MS,
    reconcileIntervalMs: env.WEBHOOK_RECONCILE_INTERVAL_MS,
    fanOutIntervalMs: env.WEBHOOK_FANOUT_INTERVAL_MS,
    keyring: env.keyring,
    lockDurationMs: env.WORKER_LOCK_DURATION_MS,
    stalledIntervalMs: env.WORKER_STALLED_INTERVAL_MS,
    metrics,
    log,
  });

  const shutdown = createShutdown(
    {
      drain: () => Promise.all([worker.close(), scheduling.drain(), webhooks.drain()]).then(() => {}),
      interrupt: () => worker.cancelAllJobs("worker shutting down"),
      killChildren: () => runner.killAll(),
      release: async () => {
        // Everything that still reads or writes (the database, storage, Redis) stops first.
        await Promise.all([stopJanitor(), retention.stop(), jobReconciler.stop(), storageSweep.stop(), previewSweep.stop()]);
        await scheduling.release();
        await webhooks.release();
        await webhookQueue.close().catch(() => {});
        await metricsServer.close();
        await backupQueue.close().catch(() => {});
        producerConnection.disconnect();
        connection.disconnect();
        leaseConnection.disconnect();
        await db.$disconnect();
        await storage.close?.();
      },
    },
    { graceMs: env.WORKER_SHUTDOWN_GRACE_MS, log, exit: (code) => process.exit(code) },
  );
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => void shutdown.begin(signal));

  await Promise.all([worker.waitUntilReady(), webhooks.waitUntilReady()]);
  // worker_id is on every line (the logger's base).
  log.info({ queue: BACKUP_QUEUE, concurrency: env.WORKER_CONCURRENCY, job_types: Object.keys(catalogue), metrics_port: metricsServer.port }, "worker ready");
}

const flag = (value: "0" | "1" | "true" | "false") => value === "1" || value === "true";

/** A crash must not leave pg_dump children running without a parent that records them. */
function installCrashHandlers(log: Logger, killChildren: () => void): void {
  const crash = (kind: string) => (error: unknown) => {
    log.fatal({ err: error }, kind);
    killChildren();
    process.exit(1);
  };
  process.on("uncaughtException", crash("uncaught exception"));
  process.on("unhandledRejection", crash("unhandled rejection"));
}

main().catch((error: unknown) => {
  // Logging may not be set up yet (e.g. invalid configuration): write one JSON line directly.
  process.stderr.write(`${JSON.stringify({ level: "fatal", msg: "worker failed to start", error: error instanceof Error ? error.message : String(error) })}\n`);
  process.exit(1);
});
