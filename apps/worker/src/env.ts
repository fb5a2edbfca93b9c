// The worker's configuration: the only module that reads process.env. Every setting has a
// working local default, so `pnpm start:worker` runs against the local services as is.
import os from "node:os";
import { parseCompressionSetting, parseEncryptionSetting } from "@capy/artifact";
import { type Keyring, loadKeyring } from "@capy/db";
import { JOB_KINDS } from "@capy/jobs";
import { type S3Config, s3ConfigFromEnv } from "@capy/storage";
import { z } from "zod";

const positiveInt = z.coerce.number().int().positive();

/** A setting parsed by `parse` (which throws an Error saying what it accepts), with its default. */
function parsedSetting<T>(parse: (text: string) => T, fallback: string) {
  return z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      try {
        return parse(text);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message });
        return z.NEVER;
      }
    });
}

const schema = z.object({
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).default("postgresql://postgres:postgres@127.0.0.1:5432/capy"),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default("redis://127.0.0.1:6379/0"),
  /** Prefix of every BullMQ key; the API must use the same one. */
  CAPY_REDIS_PREFIX: z.string().min(1).default("capy"),
  /** Root directory of the filesystem artifact storage. */
  STORAGE_DIR: z.string().min(1).default("./.data/storage"),
  /** 32 bytes as 64 hex characters: the keyring's current key (secrets at rest). */
  CAPY_ENCRYPTION_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex characters")
    .optional(),
  /** Older keys (comma-separated) that still open what they sealed, until a rotation re-sealed it. */
  CAPY_ENCRYPTION_KEYS_OLD: z.string().optional(),
  /** Recorded as claimed_by on every job this process claims. */
  WORKER_ID: z.string().min(1).default(`${os.hostname()}:${process.pid}`),
  /** Jobs this process runs at once (each one is a pg_dump child). */
  WORKER_CONCURRENCY: positiveInt.max(64).default(2),
  /**
   * Port of the worker's HTTP server (/metrics, /healthz, /readyz); 0 picks a free one. Unset:
   * DEFAULT_METRICS_PORT, or a free port when that one is taken (a second worker on the host).
   * Set: exactly this port, or the worker refuses to start.
   */
  WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  /** Address that server listens on. */
  WORKER_METRICS_HOST: z.string().min(1).default("0.0.0.0"),
  /** "1": human-readable logs through pino-pretty (pnpm dev); otherwise JSON lines. */
  LOG_PRETTY: z.enum(["0", "1", "true", "false"]).default("0"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** Directory holding pg_dump and pg_restore; unset means "look them up on PATH". */
  PG_BIN_DIR: z.string().min(1).optional(),
  /** Where PG_BIN_DIR is unset, the directories searched for the PostgreSQL tools. */
  PATH: z.string().default("/usr/local/bin:/usr/bin:/bin"),
  /** After SIGTERM/SIGINT, how long running jobs may continue before they are stopped (ms). */
  WORKER_SHUTDOWN_GRACE_MS: z.coerce.number().int().nonnegative().default(30_000),
  /** How often a running job refreshes heartbeat_at (ms). */
  WORKER_HEARTBEAT_INTERVAL_MS: positiveInt.min(50).default(5_000),
  /** How often the storage recovery sweep runs (ms); also once at start. See maintenance/storage-sweep.ts. */
  STORAGE_SWEEP_INTERVAL_MS: positiveInt.min(50).default(10 * 60_000),
  /**
   * Leftovers of killed uploads (S3 incomplete multipart uploads, filesystem .partial files) are
   * removed once at least this old (ms). Must exceed the longest upload: an S3 upload's age counts
   * from its start, so a smaller value aborts other workers' live uploads.
   */
  STORAGE_SWEEP_MIN_AGE_MS: z.coerce
    .number()
    .int()
    .nonnegative()
    .default(6 * 3_600_000),
  /**
   * How new backups are compressed: zstd:<1-19> (default zstd:1: measured smaller and faster than
   * pg_dump's gzip; see README, Benchmarks), gzip:<1-9> (pg_dump -Z, the old way) or none.
   */
  BACKUP_COMPRESSION: parsedSetting(parseCompressionSetting, "zstd:1"),
  /**
   * Whether new backups are encrypted: age (default; age-encryption.org v1, to the project's
   * platform key and its customer recipients, after compression) or none. Artifacts already
   * stored are read as their rows say, whatever this is.
   */
  BACKUP_ENCRYPTION: parsedSetting(parseEncryptionSetting, "age"),
  /** Template of the throwaway databases backups are restored into for verification. */
  VERIFY_TEMPLATE_DATABASE: z.string().min(1).max(63).default("template0"),
  /** pg_restore (and the check of the restored copy) is stopped after this long (ms; the catalogue's verify timeout, 2 h). */
  VERIFY_TIMEOUT_MS: positiveInt.default(JOB_KINDS.verify.timeoutMs),
  /** pg_restore --jobs of a verification restore (from a temporary file of the archive). */
  VERIFY_RESTORE_JOBS: positiveInt.max(32).default(2),
  /** Verifications at once per cluster, across all workers. */
  VERIFY_CONCURRENCY: positiveInt.max(64).default(2),
  /** How often leftover throwaway databases are looked for (ms); also once at start. */
  VERIFY_JANITOR_INTERVAL_MS: positiveInt.min(100).default(10 * 60_000),
  /** Past VERIFY_TIMEOUT_MS, how much older a throwaway database must be before it is dropped (ms; covers clock skew). */
  VERIFY_JANITOR_MARGIN_MS: z.coerce
    .number()
    .int()
    .nonnegative()
    .default(5 * 60_000),
  /** Throwaway databases are named `<prefix>_<epoch ms>_<random>`; the janitor drops only those. */
  VERIFY_DATABASE_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,31}$/, "must be lowercase letters, digits and underscores (at most 32)")
    .default("capy_verify"),
  /** How often every project's expired scheduled backups are deleted (ms); also once at start. See maintenance/retention.ts. */
  RETENTION_SWEEP_INTERVAL_MS: positiveInt.min(50).default(3_600_000),
  /** How often the job reconciler compares job rows with the queue (ms); also once at start. See maintenance/job-reconciler.ts. */
  JOB_RECONCILE_INTERVAL_MS: positiveInt.min(100).default(30_000),
  /** A running job whose heartbeat_at is older than this (ms) and that no worker holds lost its worker; keep it well above WORKER_HEARTBEAT_INTERVAL_MS. */
  JOB_HEARTBEAT_TIMEOUT_MS: positiveInt.min(100).default(60_000),
  /** pg_dump runs at once per cluster, across all workers (a Redis lease semaphore); more wait. */
  DUMP_CONCURRENCY_PER_CLUSTER: positiveInt.max(64).default(2),
  /** A dump running longer is stopped (SIGTERM, then SIGKILL) and its job fails with `timeout` (ms; the catalogue's backup timeout, 6 h). */
  DUMP_TIMEOUT_MS: positiveInt.default(JOB_KINDS.backup.timeoutMs),
  /**
   * BullMQ lock of a running job, and the lease of its database lock and dump slot (ms): a worker
   * that dies (or is paused) has its job taken over once this has passed without a renewal.
   */
  WORKER_LOCK_DURATION_MS: positiveInt.min(500).default(30_000),
  /** How often each worker looks for jobs whose lock has expired (ms). */
  WORKER_STALLED_INTERVAL_MS: positiveInt.min(100).default(30_000),
  /** How often the schedule reconciler syncs Redis's job schedulers with Postgres and catches up missed runs (ms); also at start. */
  SCHEDULE_RECONCILE_INTERVAL_MS: positiveInt.min(100).default(60_000),
  /** Missed-run policy: a scheduled run missed while the system was down is run late only if its due time is at most this many hours ago. */
  SCHEDULE_CATCH_UP_HOURS: z.coerce.number().nonnegative().max(24).default(6),
  /** Schedule firings one worker process handles at once; concurrent ones share one SQL statement (no dump runs here). */
  SCHEDULE_FIRE_CONCURRENCY: positiveInt.max(1_000).default(200),
  /**
   * Operator login (postgres://admin:pw@host:port/postgres) of a server dedicated to verification's
   * throwaway databases; unset: each backup's own cluster, through its registered admin login.
   */
  VERIFY_DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  /** The same for preview databases (restores with target new_preview / preview). */
  PREVIEW_DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  /** pg_restore -j of restores (1: the artifact streams into pg_restore's stdin, no temporary file). */
  RESTORE_JOBS: positiveInt.max(32).default(2),
  /** A restore running longer is stopped and its job fails with `timeout` (ms; 6 h). */
  RESTORE_TIMEOUT_MS: positiveInt.default(JOB_KINDS.restore.timeoutMs),
  /** How often expired and deleted preview databases are dropped, and failed restores' leftovers removed (ms); also at start. */
  PREVIEW_SWEEP_INTERVAL_MS: positiveInt.min(50).default(30_000),
  /** "1": webhooks may be delivered over plain http (development and tests only). */
  WEBHOOK_ALLOW_INSECURE: z.enum(["0", "1", "true", "false"]).default("0"),
  /** "1": webhooks may reach loopback, private, link-local, … addresses (development and tests only). */
  WEBHOOK_ALLOW_PRIVATE_TARGETS: z.enum(["0", "1", "true", "false"]).default("0"),
  /** Webhook deliveries this process sends at once (each waits at most 10 s on an endpoint). */
  WEBHOOK_CONCURRENCY: positiveInt.max(1_000).default(20),
  /** Gap after a delivery's first failed attempt (ms); each later gap is 3 times the previous, with jitter. */
  WEBHOOK_RETRY_BASE_MS: positiveInt.default(60_000),
  /** Longest gap between two attempts of a delivery (ms). */
  WEBHOOK_RETRY_MAX_MS: positiveInt.default(12 * 3_600_000),
  /** An endpoint failing (no success) for this long is disabled (ms; 3 days). */
  WEBHOOK_DISABLE_AFTER_MS: positiveInt.default(3 * 24 * 3_600_000),
  /** How often pending deliveries are compared with the delivery queue and lost attempts re-queued (ms); also once at start. */
  WEBHOOK_RECONCILE_INTERVAL_MS: positiveInt.min(100).default(30_000),
  /** How often the events outbox is read for events to deliver (ms): the bulk of a webhook's latency. */
  WEBHOOK_FANOUT_INTERVAL_MS: positiveInt.min(50).default(1_000),
});

export type WorkerEnv = z.infer<typeof schema> & {
  /** S3-compatible storage (S3_* variables); unset means the filesystem under STORAGE_DIR. */
  s3: S3Config | undefined;
  /** Opens stored passwords; undefined without a key (jobs needing one then fail, naming the variable). */
  keyring: Keyring | undefined;
};

/**
 * Parses the worker's configuration. Empty variables count as unset (a blank line in an env
 * file should mean "default", not "invalid"). The encryption key falls back to the local
 * development key file; a missing key only fails the jobs that need one (and, when secrets
 * are stored already, stops the worker at start: see main.ts).
 */
export function loadWorkerEnv(source: NodeJS.ProcessEnv = process.env): WorkerEnv {
  const present = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== undefined && value !== ""));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
    throw new Error(`invalid worker configuration: ${problems}`);
  }
  try {
    const s3 = s3ConfigFromEnv(present);
    const keyring = loadKeyring(parsed.data.CAPY_ENCRYPTION_KEY, parsed.data.CAPY_ENCRYPTION_KEYS_OLD);
    return { ...parsed.data, s3, keyring };
  } catch (error) {
    throw new Error(`invalid worker configuration: ${(error as Error).message}`);
  }
}
