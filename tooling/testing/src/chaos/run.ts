// One chaos run against real processes: a private Redis, a fresh metadata database, several
// small pgbench source databases (one project each, so several backups hit one database and the
// per-database lock matters), one API and N workers from the built dist. It fires M backups
// through the HTTP API (in bursts, often several for one project at once), cancels some through
// POST /v1/jobs/{id}/cancel (some while pending, some while running), SIGKILLs random workers at
// random moments (preferring one that is dumping) and starts replacements, restarts Redis (all
// keys lost), samples pg_stat_activity and the job rows every ~100 ms, waits (with a deadline)
// until every job row is terminal and the system has settled, and then collects what the
// invariant checks (invariants.ts) need: final rows, storage contents, leftover databases, and a
// restore of every completed backup (or a sample).
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createDb, createProject, generateEncryptionKey, Keyring, migrateDatabase, quoteIdent, registerCluster, withDatabase } from "@capy/db";
import pg from "pg";
import { createMetadataDatabase, run, TEST_SERVER_URL, type TestDatabase, uniqueName, withAdminClient } from "../postgres.js";
import { startPrivatePostgres } from "../private-postgres.js";
import { startPrivateRedis } from "../private-redis.js";
import { type ApiProcess, type ServiceProcess, startApi, startWorker } from "../processes.js";
import { waitFor } from "../wait.js";
import { databaseArgument, processesNamed } from "./proc.js";
import { describeQueueStates } from "./queue-state.js";
import { seededRandom } from "./random.js";
import { type SamplerReport, startSampler } from "./sampler.js";
import { CHAOS_WEBHOOK_ENV, type ChaosWebhooks, collectChaosWebhooks, startChaosWebhook } from "./webhooks.js";

export interface ChaosOptions {
  backups: number;
  workers: number;
  kills: number;
  redisRestarts: number;
  cancels: number;
  seed: number;
  /** Source databases, one project each (default 4). */
  projects?: number;
  /** pgbench scale of each source (default 5: 500,000 accounts; here pg_dump takes ~0.5 s, a restore ~1.7 s, so the ~100 ms sampler sees every dump). */
  pgbenchScale?: number;
  /** WORKER_CONCURRENCY of each worker (default 2). */
  workerConcurrency?: number;
  /** DUMP_CONCURRENCY_PER_CLUSTER given to the workers, and the cap the check holds them to (default 2). */
  dumpCap?: number;
  /** WORKER_HEARTBEAT_INTERVAL_MS (default 500). */
  heartbeatIntervalMs?: number;
  /** JOB_HEARTBEAT_TIMEOUT_MS (default 5000). */
  heartbeatTimeoutMs?: number;
  /** JOB_RECONCILE_INTERVAL_MS (default 2000). */
  reconcileIntervalMs?: number;
  /** WORKER_LOCK_DURATION_MS (default 3000). */
  lockDurationMs?: number;
  /** WORKER_STALLED_INTERVAL_MS (default 2000). */
  stalledIntervalMs?: number;
  /** VERIFY_TIMEOUT_MS (default 30000); a killed verification's database is dropped by the janitor after this + 1 s. */
  verifyTimeoutMs?: number;
  /** Mean pause between bursts of backup requests (ms, default 300). */
  fireGapMs?: number;
  /**
   * Chaos events are spread over the run's progress: an event planned at fraction f fires once
   * f of the backups are terminal, or once f of this window has passed, whichever is first (ms;
   * default 1 s per backup + 10 s), so kills still happen when progress stalls.
   */
  chaosWindowMs?: number;
  /** After the last event, how long the jobs may take to all become terminal (ms; default 90 s + 1 s per backup). */
  terminalTimeoutMs?: number;
  /** "all" (default) or how many completed backups to restore (a seeded sample). */
  restore?: "all" | number;
  /**
   * "private" (default): a PostgreSQL server of the run's own (startPrivatePostgres, password
   * authentication) holds the metadata and source databases, so other tests on the shared server
   * neither disturb the run nor show up in its pg_stat_activity samples; "shared": the test server.
   */
  postgres?: "private" | "shared";
  /** Where worker/API logs are written at the end (default: a new temporary directory). */
  logDir?: string;
  /** The workers' LOG_LEVEL (default info; debug shows every wait for a lease). */
  workerLogLevel?: string;
  log?: (line: string) => void;
}

export interface PostRecord {
  index: number;
  projectId: string;
  sentAt: number;
  returnedAt: number;
  status: number;
  jobId?: string;
  error?: string;
}

export interface CancelRecord {
  jobId: string;
  /** What the run meant to hit: a job still pending, or one running (dumping if possible). */
  mode: "pending" | "running";
  sentAt: number;
  returnedAt: number;
  /** HTTP status; 0 when no request was made (no running job to cancel was found in time). */
  status: number;
  /** The job as the cancel answer showed it (state, attempts, claimed_at), when 200. */
  answered?: { state: string; attempts: number; claimed_at: string | null };
  /** The job row's state and phase just before the request. */
  before: { state: string; phase: string | null };
  error?: string;
}

export interface KillRecord {
  at: number;
  workerId: string;
  pid: number;
  /** Jobs still `running` under this worker right after it died (their attempt was lost). */
  lostJobs: Array<{ id: string; phase: string | null }>;
  replacement?: string;
  replacementError?: string;
}

export interface FinalJob {
  id: string;
  projectId: string;
  database: string;
  state: string;
  phase: string | null;
  attempts: number;
  maxAttempts: number;
  claimedAt: Date | null;
  claimedBy: string | null;
  retryClassification: string | null;
  error: string | null;
  createdAt: Date;
  completedAt: Date | null;
  cancelRequestedAt: Date | null;
}

export interface FinalBackup {
  id: string;
  jobId: string;
  projectId: string;
  backupKey: string;
  sha256: string;
  sizeBytes: number;
  verificationState: string;
  /** "identity": the file is the archive; "zstd": a zstd stream of it. */
  storedEncoding: string;
  /** The identity (AGE-SECRET-KEY-1…) of the platform key an encrypted artifact was encrypted to; null when not encrypted. */
  identity: string | null;
}

/** An outbox event (the events table), with the state its `data` reports. */
export interface FinalEvent {
  id: string;
  seq: number;
  type: string;
  /** data.id: the job or backup the event is about. */
  subjectId: string;
  /** data.state of a job.* event. */
  state: string | null;
  /** data.verification_state of a backup.* event. */
  verificationState: string | null;
}

export interface RestoreRecord {
  backupId: string;
  jobId: string;
  exists: boolean;
  sha256Matches: boolean;
  /** undefined when this backup was not in the restored sample. */
  restored?: boolean;
  rowCountsMatch?: boolean;
  error?: string;
}

export interface ChaosRun {
  options: Required<Omit<ChaosOptions, "log" | "logDir" | "workerLogLevel">>;
  seed: number;
  startedAt: number;
  wallMs: number;
  /** Every job row was terminal before the deadline. */
  allTerminal: boolean;
  /** From the first request until every job was terminal (or the deadline). */
  processingMs: number;
  /** For each job not terminal at the deadline: what Redis held for it then (queue-state.ts). */
  stuckQueueStates?: Record<string, string>;
  /** No `.partial`, throwaway database or pg_dump was left once the run settled (within its deadline). */
  settled: boolean;
  settleMs: number;
  posts: PostRecord[];
  cancels: CancelRecord[];
  kills: KillRecord[];
  redisRestarts: Array<{ at: number; downMs: number }>;
  sampler: SamplerReport;
  jobs: FinalJob[];
  backups: FinalBackup[];
  events: FinalEvent[];
  /** Files under the storage directory (relative, "/"-separated) after the run, `.partial` included. */
  storageFiles: string[];
  /** Databases named with this run's VERIFY_DATABASE_PREFIX left after the run. */
  leftoverThrowawayDatabases: string[];
  /** pg_dump processes still running on the sources after the run settled. */
  leftoverDumps: number;
  restores: RestoreRecord[];
  restoreMode: string;
  verifyDatabasePrefix: string;
  logDir: string;
  /** The settings the workers were given. */
  workerEnv: Record<string, string>;
  /** What the organization's webhook receiver got, against the outbox. */
  webhooks?: ChaosWebhooks;
}

const PGBENCH_TABLES = ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"];

export async function runChaos(input: ChaosOptions): Promise<ChaosRun> {
  const options: ChaosRun["options"] = {
    projects: 4,
    pgbenchScale: 5,
    workerConcurrency: 2,
    dumpCap: 2,
    heartbeatIntervalMs: 500,
    heartbeatTimeoutMs: 5_000,
    reconcileIntervalMs: 2_000,
    lockDurationMs: 3_000,
    stalledIntervalMs: 2_000,
    verifyTimeoutMs: 30_000,
    fireGapMs: 300,
    chaosWindowMs: input.backups * 1_000 + 10_000,
    terminalTimeoutMs: 90_000 + input.backups * 1_000,
    restore: "all",
    postgres: "private",
    ...stripUndefined(input),
  } as ChaosRun["options"];
  const log = input.log ?? (() => {});
  const rng = seededRandom(options.seed);
  log(
    `chaos seed ${options.seed}: ${options.backups} backups, ${options.workers} workers, ${options.kills} kills, ${options.redisRestarts} Redis restarts, ${options.cancels} cancels`,
  );

  const cleanups: Array<() => Promise<unknown>> = [];
  const workers: Array<{ id: string; process: ServiceProcess; alive: boolean }> = [];
  let api: ApiProcess | undefined;
  const logDir = input.logDir ?? (await mkdtemp(path.join(os.tmpdir(), "capy-chaos-logs-")));
  // An interrupted run (Ctrl-C in the bench exits through process.exit) must not leave workers behind.
  const killChildren = () => {
    for (const child of [api?.child, ...workers.map((w) => w.process.child)]) if (child && child.exitCode === null) child.kill("SIGKILL");
  };
  process.once("exit", killChildren);
  try {
    // --- the system under test -------------------------------------------------------------
    const redis = await startPrivateRedis();
    cleanups.push(() => redis.stop());
    let serverUrl = TEST_SERVER_URL;
    let metadata: TestDatabase;
    if (options.postgres === "private") {
      // Workers hold ~2 connections per job plus pools; 3-5 workers, the API and the checks fit in 200.
      const server = await startPrivatePostgres({ password: randomBytes(12).toString("hex"), maxConnections: 200 });
      cleanups.push(() => server.stop());
      serverUrl = server.url;
      const name = uniqueName("capy_test");
      await withAdminClient((c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`), serverUrl);
      metadata = { name, url: withDatabase(serverUrl, name), drop: async () => {} };
      await migrateDatabase(metadata.url);
    } else {
      const shared = await createMetadataDatabase();
      cleanups.push(() => shared.drop());
      metadata = shared;
    }
    const sources = await createSources(serverUrl, options.projects, options.pgbenchScale);
    cleanups.push(() => Promise.all(sources.map((s) => s.drop())));
    const sourceCounts = await rowCounts(sources[0]!.url);
    const storageDir = await mkdtemp(path.join(os.tmpdir(), "capy-chaos-storage-"));
    cleanups.push(() => rm(storageDir, { recursive: true, force: true }));
    const encryptionKey = generateEncryptionKey();
    const verifyDatabasePrefix = `chaosv_${randomBytes(4).toString("hex")}`;
    cleanups.push(() => dropDatabasesLike(serverUrl, verifyDatabasePrefix));
    const restorePrefix = `chaosr_${randomBytes(4).toString("hex")}`;
    cleanups.push(() => dropDatabasesLike(serverUrl, restorePrefix));

    const tenantDb = createDb(metadata.url, { maxConnections: 2 });
    const tenants: Array<{ projectId: string; apiKey: string; database: string }> = [];
    let webhook: Awaited<ReturnType<typeof startChaosWebhook>>;
    try {
      let organizationId = "";
      for (const [i, source] of sources.entries()) {
        await registerCluster(tenantDb, { adminUrl: withDatabase(source.url, "postgres"), keyring: new Keyring(encryptionKey) });
        const created = await createProject(tenantDb, {
          organizationName: "chaos",
          projectName: `p${i + 1}`,
          databaseUrl: source.url,
          keyring: new Keyring(encryptionKey),
        });
        tenants.push({ projectId: created.project_id, apiKey: created.api_key, database: source.name });
        organizationId = created.organization_id;
      }
      // Every event of the organization goes to one receiver (seeded 500s on first attempts).
      webhook = await startChaosWebhook(tenantDb, organizationId, new Keyring(encryptionKey), seededRandom(options.seed + 2));
      cleanups.push(() => webhook.receiver.close());
    } finally {
      await tenantDb.$disconnect();
    }

    const baseEnv: Record<string, string> = {
      DATABASE_URL: metadata.url,
      REDIS_URL: redis.url,
      CAPY_REDIS_PREFIX: "chaos",
      STORAGE_DIR: storageDir,
      CAPY_ENCRYPTION_KEY: encryptionKey,
    };
    // Short intervals so that losses are noticed within seconds (names per DESIGN-issues-3-5.md;
    // a worker without a setting ignores it).
    const workerEnv: Record<string, string> = {
      ...baseEnv,
      WORKER_CONCURRENCY: String(options.workerConcurrency),
      WORKER_HEARTBEAT_INTERVAL_MS: String(options.heartbeatIntervalMs),
      JOB_HEARTBEAT_TIMEOUT_MS: String(options.heartbeatTimeoutMs),
      JOB_RECONCILE_INTERVAL_MS: String(options.reconcileIntervalMs),
      WORKER_LOCK_DURATION_MS: String(options.lockDurationMs),
      WORKER_STALLED_INTERVAL_MS: String(options.stalledIntervalMs),
      DUMP_CONCURRENCY_PER_CLUSTER: String(options.dumpCap),
      // A killed writer's `.partial` goes once 10 s old (a live dump writes far more often).
      STORAGE_SWEEP_INTERVAL_MS: "2000",
      STORAGE_SWEEP_MIN_AGE_MS: "10000",
      VERIFY_TIMEOUT_MS: String(options.verifyTimeoutMs),
      VERIFY_JANITOR_MARGIN_MS: "1000",
      VERIFY_JANITOR_INTERVAL_MS: "2000",
      VERIFY_DATABASE_PREFIX: verifyDatabasePrefix,
      WORKER_SHUTDOWN_GRACE_MS: "3000",
      ...CHAOS_WEBHOOK_ENV,
      ...(input.workerLogLevel ? { LOG_LEVEL: input.workerLogLevel } : {}),
    };
    let workerSerial = 0;
    const launchWorker = async () => {
      const id = `chaos-w${++workerSerial}`;
      const process = await startWorker({ ...workerEnv, WORKER_ID: id });
      const entry = { id, process, alive: true };
      workers.push(entry);
      void process.exited.then(() => (entry.alive = false));
      return entry;
    };
    [api] = await Promise.all([startApi({ ...baseEnv, RATE_LIMIT_PER_MINUTE: "1000000" }), ...Array.from({ length: options.workers }, () => launchWorker())]);
    const apiUrl = api.baseUrl;
    log(`stack up: api ${apiUrl}, ${options.workers} workers, redis ${redis.url}, sources ${sources.map((s) => s.name).join(", ")}`);

    const meta = new pg.Client({ connectionString: metadata.url, application_name: "capy-chaos" });
    await meta.connect();
    cleanups.push(() => meta.end().catch(() => {}));

    const serverPort = Number(new URL(serverUrl).port || 5432);
    const sampler = await startSampler({
      adminUrl: serverUrl,
      metadataUrl: metadata.url,
      serverPort,
      sourceDatabases: sources.map((s) => s.name),
      workerIdOf: (pid) => workers.find((w) => w.process.child.pid === pid)?.id,
      workerPids: () => workers.filter((w) => w.alive && w.process.child.pid !== undefined).map((w) => w.process.child.pid!),
    });
    let samplerStopped = false;
    cleanups.push(async () => {
      if (!samplerStopped) await sampler.stop();
    });

    // --- the plan (all seeded) -----------------------------------------------------------------
    const startedAt = Date.now();
    const posts: PostRecord[] = [];
    const cancels: CancelRecord[] = [];
    const kills: KillRecord[] = [];
    const redisRestarts: ChaosRun["redisRestarts"] = [];
    const background: Array<Promise<unknown>> = [];
    const pendingCancelCount = Math.ceil(options.cancels / 2);
    const runningCancelCount = options.cancels - pendingCancelCount;
    // Pending cancels hit requests from the second half, when the queue is deepest.
    const lateIndices = rng.shuffle(Array.from({ length: options.backups }, (_, i) => i).filter((i) => i >= Math.floor(options.backups / 2)));
    const pendingCancelIndices = new Set(lateIndices.slice(0, pendingCancelCount));
    type Event = { kind: "kill" | "redis" | "cancel-running"; at: number; firstTriedAt?: number };
    const fraction = (min: number, max: number) => min + rng.next() * (max - min);
    const events: Event[] = [
      ...Array.from({ length: options.kills }, () => ({ kind: "kill" as const, at: fraction(0.05, 0.85) })),
      ...Array.from({ length: options.redisRestarts }, () => ({ kind: "redis" as const, at: fraction(0.2, 0.6) })),
      ...Array.from({ length: runningCancelCount }, () => ({ kind: "cancel-running" as const, at: fraction(0.1, 0.7) })),
    ].sort((a, b) => a.at - b.at);
    const canceledTargets = new Set<string>();
    const keyOf = new Map(tenants.map((t) => [t.projectId, t.apiKey]));
    const jobProject = new Map<string, string>();

    const cancel = async (jobId: string, mode: CancelRecord["mode"], before: CancelRecord["before"]) => {
      canceledTargets.add(jobId);
      const sentAt = Date.now();
      const record: CancelRecord = { jobId, mode, sentAt, returnedAt: sentAt, status: 0, before };
      try {
        const response = await fetch(`${apiUrl}/v1/jobs/${jobId}/cancel`, {
          method: "POST",
          headers: { authorization: `Bearer ${keyOf.get(jobProject.get(jobId)!)}` },
        });
        record.returnedAt = Date.now();
        record.status = response.status;
        const body = (await response.json().catch(() => ({}))) as { job?: { state: string; attempts: number; claimed_at: string | null }; error?: string };
        if (body.job) record.answered = { state: body.job.state, attempts: body.job.attempts, claimed_at: body.job.claimed_at };
        if (body.error) record.error = body.error;
      } catch (error) {
        record.returnedAt = Date.now();
        record.error = (error as Error).message;
      }
      cancels.push(record);
      log(`cancel ${mode} ${jobId} (was ${before.state}/${before.phase ?? "-"}): HTTP ${record.status} ${record.answered?.state ?? record.error ?? ""}`);
    };

    // --- firing backups ------------------------------------------------------------------------
    const firing = (async () => {
      let index = 0;
      while (index < options.backups) {
        // Mostly one project per burst, so several backups of one database are requested at once
        // (the per-database lock must serialise them).
        const burst = Math.min(rng.int(1, 4), options.backups - index);
        const focus = rng.pick(tenants);
        const batch = Array.from({ length: burst }, () => ({ index: index++, tenant: rng.next() < 0.75 ? focus : rng.pick(tenants) }));
        await Promise.all(
          batch.map(async ({ index: i, tenant }) => {
            const sentAt = Date.now();
            const record: PostRecord = { index: i, projectId: tenant.projectId, sentAt, returnedAt: sentAt, status: 0 };
            try {
              const response = await fetch(`${apiUrl}/v1/projects/${tenant.projectId}/backups`, {
                method: "POST",
                headers: { authorization: `Bearer ${tenant.apiKey}`, "content-type": "application/json" },
                body: JSON.stringify({ label: `chaos ${i}` }),
              });
              record.status = response.status;
              const body = (await response.json()) as { job?: { id: string; state: string; phase?: string | null }; error?: string };
              if (body.job) {
                record.jobId = body.job.id;
                jobProject.set(body.job.id, tenant.projectId);
              } else record.error = body.error;
            } catch (error) {
              record.error = (error as Error).message;
            }
            record.returnedAt = Date.now();
            posts.push(record);
            if (record.jobId && pendingCancelIndices.has(i)) {
              const row = await meta.query<{ state: string; phase: string | null }>("SELECT state, phase FROM jobs WHERE id = $1", [record.jobId]);
              await cancel(record.jobId, "pending", row.rows[0] ?? { state: "unknown", phase: null });
            }
          }),
        );
        await sleep(rng.int(0, 2 * options.fireGapMs));
      }
    })();

    // --- chaos events ----------------------------------------------------------------------------
    const progress = async () => {
      const { rows } = await meta.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE state IN ('completed', 'failed', 'canceled')");
      return Math.max(rows[0]!.n / options.backups, (Date.now() - startedAt) / options.chaosWindowMs);
    };
    const killOne = async () => {
      const busy = (phase?: string) => {
        const running = sampler.current().filter((j) => j.state === "running");
        return workers.filter((w) => w.alive && running.some((j) => j.claimedBy === w.id && (phase === undefined || j.phase === phase)));
      };
      // Mostly mid-dump (the hardest moment: a pg_dump child and a .partial upload in flight):
      // wait up to 3 s for a worker to be dumping, else take a busy one, else any.
      if (rng.next() < 0.7) await waitFor(() => busy("dumping").length > 0, { timeoutMs: 3_000, intervalMs: 20 }).catch(() => {});
      const live = workers.filter((w) => w.alive);
      if (live.length === 0) return;
      const candidates = busy("dumping").length > 0 ? busy("dumping") : busy().length > 0 ? busy() : live;
      const victim = rng.pick(candidates);
      const at = Date.now();
      victim.process.child.kill("SIGKILL");
      await victim.process.exited;
      victim.alive = false;
      // The victim cannot write any more: what is still running under its name was lost.
      const { rows } = await meta.query<{ id: string; phase: string | null }>("SELECT id, phase FROM jobs WHERE state = 'running' AND claimed_by = $1", [
        victim.id,
      ]);
      const record: KillRecord = { at, workerId: victim.id, pid: victim.process.child.pid!, lostJobs: rows };
      kills.push(record);
      log(
        `SIGKILL ${victim.id} (pid ${record.pid}) at +${((at - startedAt) / 1000).toFixed(1)} s; lost ${rows.map((r) => `${r.id}/${r.phase}`).join(", ") || "nothing"}`,
      );
      background.push(
        launchWorker().then(
          (w) => (record.replacement = w.id),
          (error: Error) => (record.replacementError = error.message.slice(0, 500)),
        ),
      );
    };
    const restartRedis = async () => {
      const at = Date.now();
      await redis.restart();
      redisRestarts.push({ at, downMs: Date.now() - at });
      log(`Redis restarted (all keys lost) at +${((at - startedAt) / 1000).toFixed(1)} s, down ${Date.now() - at} ms`);
    };
    /** Cancels a running job (dumping if any); false when none is running now. */
    const cancelRunning = async () => {
      const running = sampler.current().filter((j) => j.state === "running" && !canceledTargets.has(j.id) && jobProject.has(j.id));
      const dumping = running.filter((j) => j.phase === "dumping");
      const pool = dumping.length > 0 ? dumping : running;
      if (pool.length === 0) return false;
      const target = rng.pick(pool);
      await cancel(target.id, "running", { state: target.state, phase: target.phase });
      return true;
    };

    const directing = (async () => {
      let firingDone = false;
      void firing.finally(() => (firingDone = true));
      while (events.length > 0) {
        const next = events[0]!;
        if ((await progress()) >= next.at) {
          // A short random offset, so events do not line up with the sampling or polling.
          await sleep(rng.int(0, 400));
          if (next.kind === "kill") await killOne();
          else if (next.kind === "redis") await restartRedis();
          else {
            next.firstTriedAt ??= Date.now();
            if (!(await cancelRunning())) {
              // Nothing running right now: try again shortly, for up to 20 s.
              if (Date.now() - next.firstTriedAt < 20_000) {
                await sleep(100);
                continue;
              }
              cancels.push({
                jobId: "",
                mode: "running",
                sentAt: Date.now(),
                returnedAt: Date.now(),
                status: 0,
                before: { state: "none", phase: null },
                error: "no running job to cancel within 20 s",
              });
            }
          }
          events.shift();
        } else {
          await sleep(100);
        }
        if (firingDone && (await allTerminal(meta))) {
          // Everything finished before the remaining events came due: fire them now, so the
          // requested chaos still happens (against an idle system it tests less, which the
          // report shows through the lost-job counts).
          for (const e of events.splice(0)) {
            if (e.kind === "kill") await killOne();
            else if (e.kind === "redis") await restartRedis();
            else
              cancels.push({
                jobId: "",
                mode: "running",
                sentAt: Date.now(),
                returnedAt: Date.now(),
                status: 0,
                before: { state: "none", phase: null },
                error: "every job finished before this cancel came due",
              });
          }
        }
      }
    })();
    await firing;
    await directing;
    await Promise.all(background);
    log(
      `all ${options.backups} requests sent and every chaos event fired at +${((Date.now() - startedAt) / 1000).toFixed(1)} s; waiting for every job to be terminal`,
    );

    // --- waiting for the end ---------------------------------------------------------------------
    const terminal = await waitFor(() => allTerminal(meta), { timeoutMs: options.terminalTimeoutMs, intervalMs: 250, what: "every job terminal" }).then(
      () => true,
      () => false,
    );
    const processingMs = Date.now() - startedAt;
    log(terminal ? `every job terminal after ${(processingMs / 1000).toFixed(1)} s` : `NOT every job terminal after ${(processingMs / 1000).toFixed(1)} s`);
    // What BullMQ holds for each stuck job, read now, while the workers still run (teardown
    // would change it): the invariant's detail then says why it is stuck.
    let stuckQueueStates: Record<string, string> = {};
    if (!terminal) {
      const { rows: stuck } = await meta.query<{ id: string; locked_resource: string | null; cluster_id: string | null }>(
        "SELECT id, locked_resource, cluster_id FROM jobs WHERE state NOT IN ('completed', 'failed', 'canceled') ORDER BY id",
      );
      const states = await describeQueueStates(
        redis.url,
        baseEnv.CAPY_REDIS_PREFIX!,
        stuck.map((r) => ({ id: r.id, lockedResource: r.locked_resource, clusterId: r.cluster_id })),
      );
      stuckQueueStates = Object.fromEntries(states);
      for (const [id, state] of states) log(`stuck ${id}: ${state}`);
    }
    const settleStarted = Date.now();
    // Leftovers of killed attempts are removed by the storage sweep and the verification janitor
    // (or by the takeover); give them their intervals and ages to do so.
    const settleTimeoutMs = terminal ? options.verifyTimeoutMs + 1_000 + 2_000 + 10_000 + 10_000 : 5_000;
    const settled = await waitFor(
      async () => {
        const partials = (await listFiles(storageDir)).filter((f) => f.endsWith(".partial"));
        const throwaway = await databasesLike(serverUrl, verifyDatabasePrefix);
        const dumps = await pgDumpsOn(sources.map((s) => s.name));
        return partials.length === 0 && throwaway.length === 0 && dumps === 0;
      },
      { timeoutMs: settleTimeoutMs, intervalMs: 250, what: "the run to settle" },
    ).then(
      () => true,
      () => false,
    );
    const settleMs = Date.now() - settleStarted;
    // Deliveries catch up with the outbox while the workers still run (retries, lost queue keys).
    const webhooks = await collectChaosWebhooks(meta, webhook.receiver, webhook.refused, terminal ? 30_000 : 5_000);
    log(`webhooks: ${webhooks.received.length} requests for ${webhooks.outbox.length} outbox events${webhooks.caughtUp ? "" : " (NOT caught up)"}`);
    samplerStopped = true;
    const samplerReport = await sampler.stop();

    // --- collecting --------------------------------------------------------------------------------
    const leftoverDumps = await pgDumpsOn(sources.map((s) => s.name));
    await Promise.all([api.stop(), ...workers.map((w) => w.process.stop("SIGTERM", 5_000))]);
    await writeFile(path.join(logDir, "api.log"), api.logs());
    for (const w of workers) await writeFile(path.join(logDir, `${w.id}.log`), w.process.logs());

    const jobs = await finalJobs(meta);
    const backups = await finalBackups(meta, new Keyring(encryptionKey));
    const outbox = await finalEvents(meta);
    const storageFiles = await listFiles(storageDir);
    const leftoverThrowawayDatabases = await databasesLike(serverUrl, verifyDatabasePrefix);
    const completedBackups = backups.filter((b) => jobs.find((j) => j.id === b.jobId)?.state === "completed");
    const toRestore = new Set(
      options.restore === "all"
        ? completedBackups.map((b) => b.id)
        : seededRandom(options.seed + 1)
            .shuffle(completedBackups.map((b) => b.id))
            .slice(0, options.restore),
    );
    const restoreMode =
      options.restore === "all" ? `all ${toRestore.size} completed` : `a seeded sample of ${toRestore.size} of ${completedBackups.length} completed`;
    log(`restoring ${restoreMode} backups`);
    const restores = await mapLimit(completedBackups, 2, (backup, i) =>
      checkArtifact(serverUrl, storageDir, backup, toRestore.has(backup.id), `${restorePrefix}_${i}`, sourceCounts),
    );
    return {
      options,
      seed: options.seed,
      startedAt,
      wallMs: Date.now() - startedAt,
      allTerminal: terminal,
      processingMs,
      stuckQueueStates,
      settled,
      settleMs,
      posts: posts.sort((a, b) => a.index - b.index),
      cancels,
      kills,
      redisRestarts,
      sampler: samplerReport,
      jobs,
      backups,
      events: outbox,
      storageFiles,
      leftoverThrowawayDatabases,
      leftoverDumps,
      restores,
      restoreMode,
      verifyDatabasePrefix,
      logDir,
      webhooks,
      workerEnv: Object.fromEntries(Object.entries(workerEnv).filter(([k]) => !["CAPY_ENCRYPTION_KEY", "DATABASE_URL"].includes(k))),
    };
  } finally {
    process.removeListener("exit", killChildren);
    await Promise.all([api?.stop("SIGKILL"), ...workers.map((w) => w.process.stop("SIGKILL"))]);
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: Error) => log(`cleanup failed: ${error.message}`));
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([k, v]) => v !== undefined && k !== "log" && k !== "logDir" && k !== "workerLogLevel")) as Partial<T>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function allTerminal(meta: pg.Client): Promise<boolean> {
  const { rows } = await meta.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE state NOT IN ('completed', 'failed', 'canceled')");
  return rows[0]!.n === 0;
}

/** One pgbench database, cloned (CREATE DATABASE … TEMPLATE, fast) for the other projects. */
async function createSources(serverUrl: string, count: number, scale: number): Promise<TestDatabase[]> {
  const sources: TestDatabase[] = [];
  for (let i = 0; i < count; i++) {
    const name = uniqueName("capy_src");
    const template = i === 0 ? "template0" : sources[0]!.name;
    await withAdminClient((c) => c.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)}`), serverUrl);
    sources.push({
      name,
      url: withDatabase(serverUrl, name),
      drop: () => withAdminClient((c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`), serverUrl).then(() => {}),
    });
    if (i === 0) await run("pgbench", ["-q", "-i", "-s", String(scale), sources[0]!.url]);
  }
  return sources;
}

async function rowCounts(url: string): Promise<Record<string, number>> {
  return withAdminClient(async (client) => {
    const counts: Record<string, number> = {};
    for (const table of PGBENCH_TABLES) counts[table] = (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
    return counts;
  }, url);
}

async function databasesLike(serverUrl: string, prefix: string): Promise<string[]> {
  const { rows } = await withAdminClient(
    (c) => c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE starts_with(datname, $1) ORDER BY 1", [`${prefix}_`]),
    serverUrl,
  );
  return rows.map((r) => r.datname);
}

async function dropDatabasesLike(serverUrl: string, prefix: string): Promise<void> {
  for (const name of await databasesLike(serverUrl, prefix)) {
    await withAdminClient((c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`), serverUrl);
  }
}

/** pg_dump processes (of any worker, live or killed) dumping one of `databases`. */
async function pgDumpsOn(databases: string[]): Promise<number> {
  return (await processesNamed("pg_dump")).filter((p) => databases.includes(databaseArgument(p.cmdline) ?? "")).length;
}

async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)).split(path.sep).join("/"))
    .sort();
}

async function finalJobs(meta: pg.Client): Promise<FinalJob[]> {
  const { rows } = await meta.query(
    `SELECT j.id, j.project_id, p.database_name, j.state, j.phase, j.attempts, j.max_attempts, j.claimed_at, j.claimed_by,
            j.retry_classification, j.error, j.created_at, j.completed_at, j.cancel_requested_at
       FROM jobs j JOIN projects p ON p.id = j.project_id ORDER BY j.created_at, j.id`,
  );
  return rows.map((r) => ({
    id: r.id,
    projectId: r.project_id,
    database: r.database_name,
    state: r.state,
    phase: r.phase,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    claimedAt: r.claimed_at,
    claimedBy: r.claimed_by,
    retryClassification: r.retry_classification,
    error: r.error,
    createdAt: r.created_at,
    completedAt: r.completed_at,
    cancelRequestedAt: r.cancel_requested_at ?? null,
  }));
}

async function finalBackups(meta: pg.Client, keyring: Keyring): Promise<FinalBackup[]> {
  const { rows } = await meta.query(
    `SELECT b.id, b.job_id, b.project_id, b.backup_key, b.sha256, b.size_bytes::text, b.verification_state, b.stored_encoding, k.private_key_encrypted
       FROM backups b LEFT JOIN project_encryption_keys k ON k.id = b.encryption_key_id ORDER BY b.created_at, b.id`,
  );
  return rows.map((r) => ({
    id: r.id,
    jobId: r.job_id,
    projectId: r.project_id,
    backupKey: r.backup_key,
    sha256: r.sha256,
    sizeBytes: Number(r.size_bytes),
    verificationState: r.verification_state,
    storedEncoding: r.stored_encoding,
    identity: r.private_key_encrypted === null ? null : keyring.open(r.private_key_encrypted),
  }));
}

/**
 * The pg_restore archive of `backup` (stored at `file`) as a customer would decode it, outside
 * the store: age -d with its key's identity, then zstd -d. `scratch` prefixes temporary files.
 */
async function decodedArchive(file: string, backup: FinalBackup, scratch: string): Promise<string> {
  let current = file;
  if (backup.identity !== null) {
    await writeFile(`${scratch}.key`, `${backup.identity}\n`, { mode: 0o600 });
    await run("age", ["-d", "-i", `${scratch}.key`, "-o", `${scratch}.dec`, current]);
    current = `${scratch}.dec`;
  }
  if (backup.storedEncoding === "zstd") {
    await run("zstd", ["-q", "-d", "-f", current, "-o", `${scratch}.dump`]);
    current = `${scratch}.dump`;
  }
  return current;
}

async function finalEvents(meta: pg.Client): Promise<FinalEvent[]> {
  const { rows } = await meta.query(
    "SELECT id, seq::text, type, data->>'id' AS subject_id, data->>'state' AS state, data->>'verification_state' AS verification_state FROM events ORDER BY seq",
  );
  return rows.map((r) => ({ id: r.id, seq: Number(r.seq), type: r.type, subjectId: r.subject_id, state: r.state, verificationState: r.verification_state }));
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Exists, matches its SHA-256, and (when `restore`) restores with the source's row counts. */
async function checkArtifact(
  serverUrl: string,
  storageDir: string,
  backup: FinalBackup,
  restore: boolean,
  scratchName: string,
  sourceCounts: Record<string, number>,
): Promise<RestoreRecord> {
  const record: RestoreRecord = { backupId: backup.id, jobId: backup.jobId, exists: false, sha256Matches: false };
  const file = path.join(storageDir, backup.backupKey);
  try {
    record.sha256Matches = (await sha256Of(file)) === backup.sha256;
    record.exists = true;
  } catch (error) {
    record.error = (error as Error).message;
    return record;
  }
  if (!restore) return record;
  try {
    await withAdminClient((c) => c.query(`CREATE DATABASE ${quoteIdent(scratchName)} TEMPLATE template0`), serverUrl);
    try {
      const url = withDatabase(serverUrl, scratchName);
      // An encrypted zstd artifact (the default) is decoded first (outside the store), as a customer would.
      const scratch = path.join(os.tmpdir(), scratchName);
      try {
        await run("pg_restore", ["--exit-on-error", "--no-owner", "--no-acl", "-d", url, await decodedArchive(file, backup, scratch)]);
      } finally {
        await Promise.all([".key", ".dec", ".dump"].map((suffix) => rm(`${scratch}${suffix}`, { force: true })));
      }
      record.restored = true;
      const counts = await rowCounts(url);
      record.rowCountsMatch = PGBENCH_TABLES.every((t) => counts[t] === sourceCounts[t]);
      if (!record.rowCountsMatch) record.error = `row counts ${JSON.stringify(counts)} differ from the source's ${JSON.stringify(sourceCounts)}`;
    } finally {
      await withAdminClient((c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(scratchName)} WITH (FORCE)`), serverUrl);
    }
  } catch (error) {
    record.restored = false;
    record.error = (error as Error).message.slice(0, 500);
  }
  return record;
}

async function mapLimit<T, R>(items: T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!, index);
      }
    }),
  );
  return results;
}
