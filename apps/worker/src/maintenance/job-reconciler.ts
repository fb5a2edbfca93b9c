// The job reconciler: Postgres is the source of truth for jobs, Redis only carries them. Every
// worker process runs it at start and every JOB_RECONCILE_INTERVAL_MS, and it repairs the two
// ways the two can disagree:
//
// - A `pending` row whose BullMQ job no worker will ever take is enqueued again: missing (Redis
//   lost its data, the enqueue after the insert failed), finished in BullMQ (completed/failed
//   while the row still waits), orphaned (a job hash in no list: a worker's move of the job
//   raced a Redis restart and the re-add), or unlocked in the active list for longer than
//   BullMQ's stalled check needs. Which list holds the job is read atomically per job (a Lua
//   script, pipelined), not inferred from the hash. A copy that exists is removed first (BullMQ
//   ignores an add whose job id exists), under a short per-job guard so that one reconciler
//   repairs it, and never while a worker holds its lock.
// - A `running` row whose heartbeat is older than JOB_HEARTBEAT_TIMEOUT_MS and whose BullMQ job
//   is not held by any worker (no `<job>:lock` key: missing, finished, or waiting after a
//   stall) lost its worker. It is reset with a fenced UPDATE that bumps fencing_token, so the
//   vanished attempt can never write again: back to `pending` (retry_classification
//   `worker_lost`) and enqueued again, or `failed` (worker_lost) when its attempts are used up,
//   or `canceled` when a cancel was requested.
//
// Every write is conditional on what was read (state, fencing_token, stale heartbeat), so any
// number of worker processes may reconcile at once: one of them wins each row, the others
// change nothing. Redis is read with one pipeline per batch of rows (one script per row), so
// a pass over thousands of rows costs a few round trips.

import type { Db } from "@capy/db";
import { enqueueJob, resetLostJob } from "@capy/jobs";
import { type BackupQueue, waitForRedisReady } from "@capy/queue";
import type { ArtifactStorage } from "@capy/storage";
import type { Redis } from "ioredis";
import { discardJobArtifacts } from "../attempts/leftovers.js";
import type { Logger } from "../logger.js";
import { type Periodic, runPeriodically } from "./periodic.js";

/**
 * A pending row younger than this (ms, by updated_at) may still be on its way into Redis: left
 * alone. Longer than the API's enqueue timeout (2 s, apps/api/src/services/enqueues.ts).
 */
export const PENDING_GRACE_MS = 5_000;

/** Default of activeUnlockedMs (ms): three of BullMQ's default stalled intervals (30 s). */
export const ACTIVE_UNLOCKED_MS = 90_000;

/** Rows read (and looked up in Redis) per round trip. */
export const RECONCILE_BATCH_SIZE = 500;

/** At start, how long the first pass waits for its Redis connection before trying anyway (ms). */
const FIRST_PASS_REDIS_WAIT_MS = 10_000;

export { WORKER_LOST_ERROR } from "@capy/jobs";

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
  /**
   * A pending row's BullMQ job seen in the active list without a lock for this long (ms, across
   * passes of one reconciler) is lost: BullMQ's stalled check (every WORKER_STALLED_INTERVAL_MS)
   * should have returned it to the queue within two intervals. Default ACTIVE_UNLOCKED_MS.
   */
  activeUnlockedMs?: number;
  /** Carries what activeUnlockedMs measures from one pass to the next (startJobReconciler keeps one). */
  memory?: ActiveUnlockedMemory;
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

/**
 * What Redis holds for a job id, by BullMQ's own bookkeeping (list membership, not just the hash):
 * - missing: no job hash;
 * - finished: completed or failed in BullMQ (finishedOn set, or in the completed/failed set);
 * - held: a worker's lock exists (whatever else holds; a lock expires by itself);
 * - queued: waiting, paused, delayed or prioritized: a worker will take it;
 * - active: in the active list without a lock: BullMQ's stalled check moves it back within two
 *   stalled intervals, unless nothing runs that check (it is lost once it stays so too long);
 * - orphaned: a hash in no list at all (e.g. left by a worker's move racing a Redis restart or a
 *   re-add): no worker will ever take it.
 */
type QueueState = "missing" | "finished" | "held" | "queued" | "active" | "orphaned";

// One atomic read per job, so a job moving between lists is never seen in none of them.
// KEYS: job hash, its lock, wait, paused, active, delayed, prioritized, completed, failed.
// Returns { state, processedOn }. LPOS is O(list length): a pass over n pending rows with a
// queue n deep costs O(n^2) comparisons in Redis (3,000 x 3,000 is tens of ms, split over batches).
const JOB_QUEUE_STATE = `
local fields = redis.call('HMGET', KEYS[1], 'name', 'finishedOn', 'processedOn')
if redis.call('EXISTS', KEYS[2]) == 1 then return {'held', fields[3]} end
if not fields[1] then return {'missing', false} end
if fields[2] then return {'finished', fields[3]} end
local id = ARGV[1]
if redis.call('LPOS', KEYS[3], id) or redis.call('LPOS', KEYS[4], id)
  or redis.call('ZSCORE', KEYS[6], id) or redis.call('ZSCORE', KEYS[7], id) then
  return {'queued', fields[3]}
end
if redis.call('ZSCORE', KEYS[8], id) or redis.call('ZSCORE', KEYS[9], id) then return {'finished', fields[3]} end
if redis.call('LPOS', KEYS[5], id) then return {'active', fields[3]} end
return {'orphaned', fields[3]}
`;

type JobStateCommand = (
  jobKey: string,
  lockKey: string,
  wait: string,
  paused: string,
  active: string,
  delayed: string,
  prioritized: string,
  completed: string,
  failed: string,
  id: string,
) => unknown;

interface LookedUp {
  state: QueueState;
  /** BullMQ's processedOn (ms): when a worker last took the job. */
  processedOn: string | null;
}

async function lookUp(redis: Redis, queue: BackupQueue, ids: readonly string[]): Promise<Map<string, LookedUp>> {
  if (!("capyJobQueueState" in redis)) redis.defineCommand("capyJobQueueState", { numberOfKeys: 9, lua: JOB_QUEUE_STATE });
  const pipeline = redis.pipeline() as ReturnType<Redis["pipeline"]> & { capyJobQueueState: JobStateCommand };
  const keys = ["wait", "paused", "active", "delayed", "prioritized", "completed", "failed"].map((name) => queue.toKey(name));
  for (const id of ids) {
    pipeline.capyJobQueueState(queue.toKey(id), `${queue.toKey(id)}:lock`, ...(keys as [string, string, string, string, string, string, string]), id);
  }
  const replies = (await pipeline.exec()) ?? [];
  const states = new Map<string, LookedUp>();
  ids.forEach((id, index) => {
    const [error, reply] = replies[index] ?? [];
    if (error) throw error;
    const [state, processedOn] = reply as [QueueState, string | null];
    states.set(id, { state, processedOn: processedOn || null });
  });
  return states;
}

/**
 * Remembers, across passes of one reconciler, since when a job has been seen active without a
 * lock (ms, by this process's clock), keyed by job id and BullMQ's processedOn (a new run of the
 * job starts the count again).
 */
export type ActiveUnlockedMemory = Map<string, number>;

/** Removes whatever copy BullMQ holds (unless a worker locked it meanwhile) and adds the job again. */
async function reEnqueue(queue: BackupQueue, redis: Redis, job: { id: string; type: string }, state: QueueState): Promise<boolean> {
  if (state === "held" || state === "queued") return false;
  // One reconciler repairs a job at a time (every worker runs one): a second one that read the
  // same state before the first re-added it must not remove the fresh copy (a worker may have
  // taken and even finished it), nor count as a second repair a job it saw missing between the
  // first one's remove and add. The guard outlives a pass (ms) and expires by itself.
  const guard = await redis.set(`${queue.toKey(job.id)}:reconcile`, "1", "PX", REPAIR_GUARD_MS, "NX");
  if (guard !== "OK") return false;
  // Re-read under the guard: a worker may have taken (locked) or re-queued it since.
  const now = (await lookUp(redis, queue, [job.id])).get(job.id)!.state;
  if (now !== state) return false;
  // 0 when locked (a worker took it meanwhile): leave that copy alone.
  if (state !== "missing" && (await queue.remove(job.id)) !== 1) return false;
  // BullMQ ignores an add whose job id exists: idempotent when several processes add at once.
  await enqueueJob(queue, job);
  return true;
}

/** How long one reconciler's repair of a job keeps others off it (ms). */
const REPAIR_GUARD_MS = 10_000;

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
  const activeUnlockedMs = deps.activeUnlockedMs ?? ACTIVE_UNLOCKED_MS;
  const memory = deps.memory ?? new Map<string, number>();
  const seenActive = new Set<string>();

  // Pending rows, keyset-paginated by id. Ages use the database clock (the one that wrote them).
  for (let after = ""; ; ) {
    const rows = await db.$queryRaw<PendingRow[]>`
      SELECT id, type FROM jobs
       WHERE state = 'pending' AND id > ${after}
         AND updated_at < now() - ${graceMs}::double precision * interval '1 millisecond'
       ORDER BY id LIMIT ${batchSize}`;
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    const states = await lookUp(
      redis,
      queue,
      rows.map((row) => row.id),
    );
    for (const row of rows) {
      const { state, processedOn } = states.get(row.id)!;
      if (state === "active") {
        // Unlocked in the active list: normally a dead worker's job that BullMQ's stalled check is
        // about to return to the queue. Lost only once it stays so for activeUnlockedMs.
        const key = `${row.id}:${processedOn ?? "-"}`;
        const firstSeen = memory.get(key) ?? Date.now();
        memory.set(key, firstSeen);
        seenActive.add(key);
        if (Date.now() - firstSeen < activeUnlockedMs) continue;
      }
      try {
        if (await reEnqueue(queue, redis, row, state)) {
          result.requeued++;
          log.warn({ job_id: row.id, queue_state: state }, "pending job was not in the queue; enqueued it again");
        }
      } catch (error) {
        // Redis failed mid-repair; the row is still pending, so the next pass looks again.
        log.warn({ job_id: row.id, queue_state: state, err: (error as Error).message }, "could not re-enqueue a pending job; next pass retries");
      }
    }
    if (rows.length < batchSize) break;
  }
  // Forget jobs no longer seen active without a lock (taken, re-queued, finished).
  for (const key of memory.keys()) if (!seenActive.has(key)) memory.delete(key);

  // Running rows whose heartbeat is stale.
  for (let after = ""; ; ) {
    const rows = await db.$queryRaw<RunningRow[]>`
      SELECT id, type, project_id, fencing_token FROM jobs
       WHERE state = 'running' AND id > ${after}
         AND coalesce(heartbeat_at, claimed_at, updated_at) < now() - ${deps.heartbeatTimeoutMs}::double precision * interval '1 millisecond'
       ORDER BY id LIMIT ${batchSize}`;
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.id;
    const states = await lookUp(
      redis,
      queue,
      rows.map((row) => row.id),
    );
    for (const row of rows) {
      const { state } = states.get(row.id)!;
      // A worker holds the BullMQ job: it is alive (its heartbeat is late, e.g. the database was
      // slow); BullMQ's own stall detection takes over if it dies.
      if (state === "held") continue;
      const reset = await resetLostJob(db, row, deps.heartbeatTimeoutMs);
      if (reset === undefined) continue; // another process, or a new claim, got there first
      const outcome = reset.state;
      log.warn({ job_id: row.id, queue_state: state, outcome, fencing_token: row.fencing_token }, "running job lost its worker");
      if (outcome === "pending") {
        result.recovered++;
        try {
          // Active without a lock is left to BullMQ's stalled check (and then the pending pass).
          if (state !== "active") await reEnqueue(queue, redis, row, state);
        } catch (error) {
          // The row is pending now: the pending pass of a later run enqueues it.
          log.warn({ job_id: row.id, err: (error as Error).message }, "could not re-enqueue a recovered job; next pass retries");
        }
      } else {
        // The kind's hooks settled its rows in the reset's transaction (a lost backup's pending
        // verification failed, a canceled one's backup rows deleted); storage is settled now.
        if (reset.state === "failed") result.failed++;
        else {
          result.canceled++;
          if (deps.storage) await discardJobArtifacts(deps.storage, { id: row.id, projectId: row.project_id }, reset.keys, log);
        }
        // Nothing left to run: drop a waiting copy so no worker picks it up (it would find the row finished anyway).
        if (state !== "missing") await queue.remove(row.id).catch(() => 0);
      }
    }
    if (rows.length < batchSize) break;
  }
  return result;
}

export interface JobReconcilerOptions extends JobReconcilerDeps {
  /** Between passes (ms, JOB_RECONCILE_INTERVAL_MS). */
  intervalMs: number;
}

export type JobReconciler = Periodic;

/**
 * Reconciles now and then every `intervalMs` until stopped. Passes never overlap; a failed pass
 * (Redis or Postgres unreachable) is logged and retried at the next interval. The timer does not
 * keep the process alive.
 */
export function startJobReconciler(options: JobReconcilerOptions): JobReconciler {
  const log = options.log.child({ component: "job-reconciler" });
  const memory: ActiveUnlockedMemory = options.memory ?? new Map();
  let first = true;

  const pass = async (): Promise<void> => {
    const startedAt = Date.now();
    try {
      // The connection is new at start; the first pass waits for it rather than fail at once.
      if (first) {
        first = false;
        await waitForRedisReady(options.redis, FIRST_PASS_REDIS_WAIT_MS);
      }
      const result = await reconcileJobs({ ...options, log, memory });
      if (result.requeued + result.recovered + result.failed + result.canceled > 0) {
        log.info({ ...result, duration_ms: Date.now() - startedAt }, "jobs reconciled");
      }
    } catch (error) {
      log.warn({ err: (error as Error).message }, "job reconciliation failed; retrying at the next interval");
    }
  };
  return runPeriodically(pass, options.intervalMs);
}
