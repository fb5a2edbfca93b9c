// The job row's side of one attempt. Claiming bumps fencing_token; every later write of the
// attempt names that token (and requires the row still `running`), so a stale attempt — a
// worker that lost its BullMQ lock, a redelivered job, a canceled one — matches no row and
// changes nothing.
import { CANCELED_ERROR } from "@capy/contracts";
import type { Db, Prisma } from "@capy/db";
import type { FailureReport } from "../failures/report.js";
import { AttemptCanceledError, StaleAttemptError } from "../failures/errors.js";
import { deleteJobBackups } from "./leftovers.js";

export interface Attempt {
  jobId: string;
  fencingToken: number;
  /** The row's attempt count, this one included. */
  number: number;
  /**
   * The row was still `running` when claimed: the previous attempt never finished (its worker
   * died or stalled past its lock). The claim recorded `worker_lost` for it.
   */
  tookOver: boolean;
  /** cancel_requested_at was already set: the attempt must end the job `canceled` without running. */
  cancelRequested: boolean;
}

/**
 * Claims the job for this worker in one statement, or returns null when the job has already
 * finished. A `running` job can be claimed too: BullMQ only hands it out again once the previous
 * holder lost its lock, and the new token fences that holder off. Taking over such a row records
 * `worker_lost` for the lost attempt (until this attempt's own outcome overwrites it). A row whose
 * cancel was requested is claimed without counting an attempt: it is never run, only ended.
 */
export async function claimJob(db: Db, jobId: string, workerId: string): Promise<Attempt | null> {
  // Lease timestamps use the database clock, the one any staleness check compares them with.
  const rows = await db.$queryRaw<Array<{ fencing_token: number; attempts: number; previous_state: string; cancel_requested: boolean }>>`
    WITH previous AS (SELECT id, state, attempts FROM jobs WHERE id = ${jobId} FOR UPDATE)
    UPDATE jobs
       SET state = 'running',
           attempts = jobs.attempts + CASE WHEN jobs.cancel_requested_at IS NULL THEN 1 ELSE 0 END,
           fencing_token = jobs.fencing_token + 1,
           claimed_by = ${workerId},
           claimed_at = now(),
           started_at = coalesce(jobs.started_at, now()),
           heartbeat_at = now(),
           retry_classification = CASE WHEN previous.state = 'running' THEN 'worker_lost' ELSE jobs.retry_classification END,
           error = CASE WHEN previous.state = 'running'
                        THEN 'attempt ' || previous.attempts || ' was lost: its worker stopped before finishing it'
                        ELSE jobs.error END,
           updated_at = now()
      FROM previous
     WHERE jobs.id = previous.id AND previous.state IN ('pending', 'running')
    RETURNING jobs.fencing_token, jobs.attempts, previous.state AS previous_state, (jobs.cancel_requested_at IS NOT NULL) AS cancel_requested`;
  const row = rows[0];
  return row
    ? { jobId, fencingToken: row.fencing_token, number: row.attempts, tookOver: row.previous_state === "running", cancelRequested: row.cancel_requested }
    : null;
}

/**
 * Ends a job whose lost attempt was its last allowed one (attempts >= max_attempts) as `failed`
 * with `worker_lost`, without claiming it: a job that keeps killing its workers must stop being
 * handed out. Conditional on the row being exactly as read (`running` at `fencingToken`).
 */
export async function failLostJob(db: Db, job: { id: string; fencingToken: number; attempts: number }): Promise<boolean> {
  const { count } = await db.job.updateMany({
    where: { id: job.id, fencingToken: job.fencingToken, state: "running" },
    data: {
      state: "failed",
      phase: "done",
      completedAt: new Date(),
      retryClassification: "worker_lost",
      error: `attempt ${job.attempts} was lost: its worker stopped before finishing it, and no attempts are left`,
      fencingToken: { increment: 1 },
    },
  });
  return count === 1;
}

/** The rows an attempt may write: its job, at its token, still running. */
export function ownedBy(attempt: Pick<Attempt, "jobId" | "fencingToken">) {
  return { id: attempt.jobId, fencingToken: attempt.fencingToken, state: "running" } satisfies Prisma.JobWhereInput;
}

/** Refreshes heartbeat_at; false once the attempt no longer owns the job. */
export async function touchHeartbeat(db: Db, attempt: Pick<Attempt, "jobId" | "fencingToken">): Promise<boolean> {
  return (await beat(db, attempt)) !== "lost";
}

/**
 * One heartbeat: refreshes heartbeat_at and reads cancel_requested_at in the same statement.
 * "lost" once the attempt no longer owns the job; "cancel" once its cancel was requested.
 */
export async function beat(db: Db, attempt: Pick<Attempt, "jobId" | "fencingToken">): Promise<"owned" | "lost" | "cancel"> {
  // Raw, so a heartbeat moves heartbeat_at (database clock) without touching updated_at.
  const rows = await db.$queryRaw<Array<{ cancel_requested: boolean }>>`
    UPDATE jobs SET heartbeat_at = now()
     WHERE id = ${attempt.jobId} AND fencing_token = ${attempt.fencingToken} AND state = 'running'
    RETURNING (cancel_requested_at IS NOT NULL) AS cancel_requested`;
  const row = rows[0];
  return !row ? "lost" : row.cancel_requested ? "cancel" : "owned";
}

export interface AttemptOutput {
  stderr: string;
  /** null when stdout was not text (pg_dump's stdout is the archive). */
  stdout: string | null;
}

/**
 * Marks the job completed; throws (rolling back the caller's transaction) StaleAttemptError if it
 * is no longer ours, AttemptCanceledError if its cancel was requested meanwhile (a canceled job
 * never completes).
 */
export async function completeAttempt(tx: Prisma.TransactionClient, attempt: Pick<Attempt, "jobId" | "fencingToken">, output: AttemptOutput): Promise<void> {
  const { count } = await tx.job.updateMany({
    where: { ...ownedBy(attempt), cancelRequestedAt: null },
    data: {
      state: "completed",
      phase: "done",
      completedAt: new Date(),
      lastExitCode: 0,
      lastStderr: output.stderr,
      lastStdout: output.stdout,
      error: null,
      retryClassification: null,
    },
  });
  if (count === 0) {
    if ((await tx.job.count({ where: ownedBy(attempt) })) === 1) throw new AttemptCanceledError();
    throw new StaleAttemptError(attempt.jobId, attempt.fencingToken);
  }
}

/**
 * Ends the job `canceled` (its cancel was requested) and, for a backup job, deletes the backup
 * row it recorded, in one transaction. Returns the storage keys of the deleted backup rows, or
 * null (and changes nothing) when the attempt no longer owns the job.
 */
export async function cancelAttempt(db: Db, attempt: Pick<Attempt, "jobId" | "fencingToken">, deleteBackup: boolean): Promise<string[] | null> {
  return db.$transaction(async (tx) => {
    const { count } = await tx.job.updateMany({
      where: ownedBy(attempt),
      data: { state: "canceled", phase: "done", completedAt: new Date(), retryClassification: "canceled", error: CANCELED_ERROR },
    });
    if (count === 0) return null;
    return deleteBackup ? deleteJobBackups(tx, attempt.jobId) : [];
  });
}

/**
 * Records a failed attempt: `failed` when `terminal`, otherwise back to `pending` for the next
 * try. Returns false (and writes nothing) if the attempt no longer owns the job.
 */
export async function failAttempt(db: Db, attempt: Attempt, report: FailureReport, terminal: boolean): Promise<boolean> {
  const { count } = await db.job.updateMany({
    where: ownedBy(attempt),
    data: {
      state: terminal ? "failed" : "pending",
      // Waiting for its next attempt, or finished.
      phase: terminal ? "done" : "queued",
      completedAt: terminal ? new Date() : null,
      retryClassification: report.classification,
      error: report.message,
      lastExitCode: report.exitCode,
      lastStderr: report.stderr,
      lastStdout: report.stdout,
    },
  });
  return count === 1;
}

/** Fails a job no handler can run, without claiming it (there is no attempt to fence). */
export async function failUnclaimed(db: Db, jobId: string, message: string): Promise<void> {
  await db.job.updateMany({
    where: { id: jobId, state: { in: ["pending", "running"] } },
    data: { state: "failed", phase: "done", completedAt: new Date(), retryClassification: "permanent", error: message },
  });
}

/** Records what the attempt is doing now (`dumping`, `verifying`); false once it no longer owns the job. */
export async function setPhase(db: Db, attempt: Attempt, phase: string, progressBytes: number | null = null): Promise<boolean> {
  const { count } = await db.job.updateMany({ where: ownedBy(attempt), data: { phase, progressBytes: progressBytes === null ? null : BigInt(progressBytes) } });
  return count === 1;
}

/**
 * Records the bytes streamed so far, at most once per `intervalMs` and never two writes at once;
 * a value held back by the interval is written when it ends (so a stalled stream still shows
 * what arrived), and `flush` writes the last one. Writes are fenced like every other write of
 * the attempt; a failed write is only progress lost.
 */
export function progressRecorder(db: Db, attempt: Attempt, intervalMs = 1_000): { update(bytes: number): void; flush(): Promise<void> } {
  // Nothing is written until bytes flow (progress_bytes stays null if the dump never starts).
  let latest = 0;
  let written = 0;
  let lastWriteAt = 0;
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let flushed = false;
  const write = (): Promise<void> => {
    const bytes = latest;
    lastWriteAt = Date.now();
    const done = db.job
      .updateMany({ where: ownedBy(attempt), data: { progressBytes: BigInt(bytes) } })
      .then(
        () => {
          written = Math.max(written, bytes);
        },
        () => {},
      )
      .finally(() => {
        if (inFlight === done) inFlight = undefined;
      });
    inFlight = done;
    return done;
  };
  const schedule = () => {
    if (timer || flushed) return;
    const wait = Math.max(0, lastWriteAt + intervalMs - Date.now());
    timer = setTimeout(() => {
      timer = undefined;
      if (flushed || latest === written) return;
      if (inFlight) schedule();
      else void write();
    }, wait);
    timer.unref();
  };
  return {
    update(bytes) {
      latest = bytes;
      if (!inFlight && Date.now() - lastWriteAt >= intervalMs) void write();
      else schedule();
    },
    async flush() {
      flushed = true;
      clearTimeout(timer);
      timer = undefined;
      await inFlight;
      if (written !== latest) await write();
    },
  };
}
