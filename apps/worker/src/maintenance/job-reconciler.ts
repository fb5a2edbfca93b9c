// The job reconciler: Postgres is the source of truth for jobs, Redis only carries them. Every
// worker process runs it at start and every JOB_RECONCILE_INTERVAL_MS, and it repairs the two
// ways the two can disagree:
//
// - A `pending` row whose BullMQ job is missing (Redis lost its data, the enqueue after the
//   insert failed) or already finished in BullMQ (completed/failed while the row still waits) is
//   enqueued again; a finished BullMQ job is removed first, since BullMQ ignores an add whose
//   job id exists.
// - A `running` row whose heartbeat is older than JOB_HEARTBEAT_TIMEOUT_MS and whose BullMQ job
//   is not held by any worker (no `<job>:lock` key: missing, finished, or waiting after a
//   stall) lost its worker. It is reset with a fenced UPDATE that bumps fencing_token, so the
//   vanished attempt can never write again: back to `pending` (retry_classification
//   `worker_lost`) and enqueued again, or `failed` (worker_lost) when its attempts are used up,
//   or `canceled` when a cancel was requested.
//
// Every write is conditional on what was read (state, fencing_token, stale heartbeat), so any
// number of worker processes may reconcile at once: one of them wins each row, the others
// change nothing. Redis is read with one pipeline per batch of rows (two commands per row), so
// a pass over thousands of rows costs a few round trips.
import type { Redis } from "ioredis";
import type { Db } from "@capy/db";
import { enqueueJob, waitForRedisReady, type BackupQueue } from "@capy/queue";
import type { ArtifactStorage } from "@capy/storage";
import { discardCanceledBackup, failPendingVerification, LOST_BEFORE_VERIFIED } from "../jobs/leftovers.js";
import type { Logger } from "../logger.js";

/** A pending row younger than this (ms, by updated_at) may still be on its way into Redis: left alone. */
export const PENDING_GRACE_MS = 5_000;

/** Rows read (and looked up in Redis) per round trip. */
export const RECONCILE_BATCH_SIZE = 500;

/** At start, how long the first pass waits for its Redis connection before trying anyway (ms). */
const FIRST_PASS_REDIS_WAIT_MS = 10_000;

export const WORKER_LOST_ERROR = "worker lost: the attempt stopped sending heartbeats";

export interface JobReconcilerDeps {
  db: Db;
  /** The backup queue (enqueueJob, remove, key names). */
  queue: BackupQueue;
  /** A producer connection (fails fast while Redis is down) for the pipelined lookups. */
  redis: Redis;
  /** A running row is lost once heartbeat_at is older than this (ms). */
  heartbeatTimeoutMs: number;
  /** Where a canceled job's artifacts are removed from (without it they are left to the operator). */
  storage?: ArtifactStorage;
  log: Logger;
  /** Overrides PENDING_GRACE_MS (ms). */
  pendingGraceMs?: number;
  batchSize?: number;
}

export interface ReconcileResult {
  /** Pending rows (re-)enqueued. */
  requeued: number;
  /** Running rows reset to pending (worker_lost) and enqueued. */
  recovered: number;
  /** Running rows failed (worker_lost, attempts used up). */
  failed: number;
  /** Running rows with a cancel request ended canceled. */
  canceled: number;
}

/** What Redis holds for a job id. */
type QueueState = "missing" | "finished" | "held" | "live";

async function lookUp(redis: Redis, queue: BackupQueue, ids: readonly string[]): Promise<Map<string, QueueState>> {
  const pipeline = redis.pipeline();
  for (const id of ids) {
    // `name` is in every job hash; `finishedOn` once it completed or failed.
    pipeline.hmget(queue.toKey(id), "name", "finishedOn");
    // Held by a live worker: BullMQ's lock, renewed while the processor runs.
    pipeline.exists(`${queue.toKey(id)}:lock`);
  }
  const replies = (await pipeline.exec()) ?? [];
  const states = new Map<string, QueueState>();
  ids.forEach((id, index) => {
    const [hashError, hash] = replies[index * 2] ?? [];
    const [lockError, lock] = replies[index * 2 + 1] ?? [];
    if (hashError) throw hashError;
    if (lockError) throw lockError;
    const [name, finishedOn] = (hash as Array<string | null>) ?? [null, null];
    const state: QueueState = lock === 1 ? "held" : name === null ? "missing" : finishedOn !== null ? "finished" : "live";
    states.set(id, state);
  });
  return states;
}

/** Adds the job back to BullMQ unless a live copy is there; a finished copy is removed first. */
async function ensureEnqueued(queue: BackupQueue, job: { id: string; type: string }, state: QueueState): Promise<boolean> {
  if (state === "live" || state === "held") return false;
  if (state === "finished") await queue.remove(job.id);
  await enqueueJob(queue, job);
  return true;
}

interface PendingRow {
  id: string;
  type: string;
}

interface RunningRow {
  id: string;
  type: string;
  project_id: string;
  fencing_token: number;
}

/** One pass over every pending and running row. */
export async function reconcileJobs(deps: JobReconcilerDeps): Promise<ReconcileResult> {
  const { db, queue, redis, log } = deps;
  const graceMs = deps.pendingGraceMs ?? PENDING_GRACE_MS;
  const batchSize = deps.batchSize ?? RECONCILE_BATCH_SIZE;
  const result: ReconcileResult = { requeued: 0, recovered: 0, failed: 0, canceled: 0 };

  // Pending rows, keyset-paginated by id. Ages use the database clock (the one that wrote them).
  for (let after = ""; ; ) {
    const rows = await db.$queryRaw<PendingRow[]>`
      SELECT id, type FROM jobs
       WHERE state = 'pending' AND id > ${after}
         AND updated_at < now() - ${graceMs}::double precision * interval '1 millisecond'
       ORDER BY id LIMIT ${batchSize}`;
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    const states = await lookUp(redis, queue, rows.map((row) => row.id));
    for (const row of rows) {
      const state = states.get(row.id)!;
      try {
        if (await ensureEnqueued(queue, row, state)) {
          result.requeued++;
          log.warn({ job_id: row.id, queue_state: state }, "pending job was not in the queue; enqueued it again");
        }
      } catch (error) {
        // Another process re-enqueued it and a worker already holds it (remove refuses a locked job).
        log.warn({ job_id: row.id, err: (error as Error).message }, "could not re-enqueue a pending job; next pass retries");
      }
    }
    if (rows.length < batchSize) break;
  }

  // Running rows whose heartbeat is stale.
  for (let after = ""; ; ) {
    const rows = await db.$queryRaw<RunningRow[]>`
      SELECT id, type, project_id, fencing_token FROM jobs
       WHERE state = 'running' AND id > ${after}
         AND coalesce(heartbeat_at, claimed_at, updated_at) < now() - ${deps.heartbeatTimeoutMs}::double precision * interval '1 millisecond'
       ORDER BY id LIMIT ${batchSize}`;
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    const states = await lookUp(redis, queue, rows.map((row) => row.id));
    for (const row of rows) {
      const state = states.get(row.id)!;
      // A worker holds the BullMQ job: it is alive (its heartbeat is late, e.g. the database was
      // slow); BullMQ's own stall detection takes over if it dies.
      if (state === "held") continue;
      const outcome = await resetLostRow(db, row, deps.heartbeatTimeoutMs);
      if (outcome === undefined) continue; // another process, or a new claim, got there first
      log.warn({ job_id: row.id, queue_state: state, outcome, fencing_token: row.fencing_token }, "running job lost its worker");
      if (outcome === "pending") {
        result.recovered++;
        try {
          await ensureEnqueued(queue, row, state);
        } catch (error) {
          // The row is pending now: the pending pass of a later run enqueues it.
          log.warn({ job_id: row.id, err: (error as Error).message }, "could not re-enqueue a recovered job; next pass retries");
        }
      } else {
        // The job's backup, if its dump was recorded, must not stay `pending` verification (failed)
        // or survive a cancel.
        if (outcome === "failed") {
          result.failed++;
          await failPendingVerification(db, row.id, LOST_BEFORE_VERIFIED);
        } else {
          result.canceled++;
          if (deps.storage) await discardCanceledBackup(db, deps.storage, { id: row.id, projectId: row.project_id }, log);
        }
        // Nothing left to run: drop a waiting copy so no worker picks it up (it would find the row finished anyway).
        if (state === "live" || state === "finished") await queue.remove(row.id).catch(() => 0);
      }
    }
    if (rows.length < batchSize) break;
  }
  return result;
}

/**
 * The fenced reset of a lost attempt: only if the row is still running under the token read
 * and its heartbeat is still stale (no new claim in between). Returns the new state, or
 * undefined when the row changed meanwhile.
 */
async function resetLostRow(db: Db, row: RunningRow, heartbeatTimeoutMs: number): Promise<"pending" | "failed" | "canceled" | undefined> {
  const updated = await db.$queryRaw<Array<{ state: "pending" | "failed" | "canceled" }>>`
    UPDATE jobs
       SET state = CASE WHEN cancel_requested_at IS NOT NULL THEN 'canceled'
                        WHEN attempts >= max_attempts THEN 'failed'
                        ELSE 'pending' END,
           phase = CASE WHEN cancel_requested_at IS NULL AND attempts < max_attempts THEN 'queued' ELSE 'done' END,
           completed_at = CASE WHEN cancel_requested_at IS NULL AND attempts < max_attempts THEN NULL ELSE now() END,
           retry_classification = CASE WHEN cancel_requested_at IS NOT NULL THEN 'canceled' ELSE 'worker_lost' END,
           error = CASE WHEN cancel_requested_at IS NOT NULL THEN 'canceled by request' ELSE ${WORKER_LOST_ERROR} END,
           fencing_token = fencing_token + 1,
           updated_at = now()
     WHERE id = ${row.id} AND state = 'running' AND fencing_token = ${row.fencing_token}
       AND coalesce(heartbeat_at, claimed_at, updated_at) < now() - ${heartbeatTimeoutMs}::double precision * interval '1 millisecond'
    RETURNING state`;
  return updated[0]?.state;
}

export interface JobReconcilerOptions extends JobReconcilerDeps {
  /** Between passes (ms, JOB_RECONCILE_INTERVAL_MS). */
  intervalMs: number;
}

export interface JobReconciler {
  /** No further passes; resolves once the one in progress (if any) has finished. */
  stop(): Promise<void>;
}

/**
 * Reconciles now and then every `intervalMs` until stopped. Passes never overlap; a failed pass
 * (Redis or Postgres unreachable) is logged and retried at the next interval. The timer does not
 * keep the process alive.
 */
export function startJobReconciler(options: JobReconcilerOptions): JobReconciler {
  const log = options.log.child({ component: "job-reconciler" });
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const pass = async (): Promise<void> => {
    const startedAt = Date.now();
    try {
      const result = await reconcileJobs({ ...options, log });
      if (result.requeued + result.recovered + result.failed + result.canceled > 0) {
        log.info({ ...result, duration_ms: Date.now() - startedAt }, "jobs reconciled");
      }
    } catch (error) {
      log.warn({ err: (error as Error).message }, "job reconciliation failed; retrying at the next interval");
    }
  };
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      running = pass().finally(schedule);
    }, options.intervalMs);
    timer.unref();
  };
  // The connection is new at start; the first pass waits for it rather than fail at once.
  running = waitForRedisReady(options.redis, FIRST_PASS_REDIS_WAIT_MS)
    .then(() => (stopped ? undefined : pass()))
    .finally(schedule);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
