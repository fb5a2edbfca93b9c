// The job row's side of one attempt. Claiming bumps fencing_token; every later write of the
// attempt names that token (and requires the row still `running`), so a stale attempt — a
// worker that lost its BullMQ lock, a redelivered job, a canceled one — matches no row and
// changes nothing.
import type { Db, Prisma } from "@capy/db";
import type { FailureReport } from "../failures/report.js";
import { StaleAttemptError } from "../failures/errors.js";

export interface Attempt {
  jobId: string;
  fencingToken: number;
  /** The row's attempt count, this one included. */
  number: number;
}

/**
 * Claims the job for this worker in one statement, or returns null when the job has already
 * finished. A `running` job can be claimed too: BullMQ only hands it out again once the previous
 * holder lost its lock, and the new token fences that holder off.
 */
export async function claimJob(db: Db, jobId: string, workerId: string): Promise<Attempt | null> {
  // Lease timestamps use the database clock, the one any staleness check compares them with.
  const rows = await db.$queryRaw<Array<{ fencing_token: number; attempts: number }>>`
    UPDATE jobs
       SET state = 'running',
           attempts = attempts + 1,
           fencing_token = fencing_token + 1,
           claimed_by = ${workerId},
           claimed_at = now(),
           started_at = coalesce(started_at, now()),
           heartbeat_at = now(),
           updated_at = now()
     WHERE id = ${jobId} AND state IN ('pending', 'running')
    RETURNING fencing_token, attempts`;
  const row = rows[0];
  return row ? { jobId, fencingToken: row.fencing_token, number: row.attempts } : null;
}

/** The rows an attempt may write: its job, at its token, still running. */
export function ownedBy(attempt: Attempt) {
  return { id: attempt.jobId, fencingToken: attempt.fencingToken, state: "running" } satisfies Prisma.JobWhereInput;
}

/** Refreshes heartbeat_at; false once the attempt no longer owns the job. */
export async function touchHeartbeat(db: Db, attempt: Attempt): Promise<boolean> {
  // Raw, so a heartbeat moves heartbeat_at (database clock) without touching updated_at.
  const count = await db.$executeRaw`
    UPDATE jobs SET heartbeat_at = now()
     WHERE id = ${attempt.jobId} AND fencing_token = ${attempt.fencingToken} AND state = 'running'`;
  return count === 1;
}

export interface AttemptOutput {
  stderr: string;
  /** null when stdout was not text (pg_dump's stdout is the archive). */
  stdout: string | null;
}

/** Marks the job completed; throws StaleAttemptError (rolling back the caller's transaction) if it is no longer ours. */
export async function completeAttempt(tx: Prisma.TransactionClient, attempt: Attempt, output: AttemptOutput): Promise<void> {
  const { count } = await tx.job.updateMany({
    where: ownedBy(attempt),
    data: {
      state: "completed",
      completedAt: new Date(),
      lastExitCode: 0,
      lastStderr: output.stderr,
      lastStdout: output.stdout,
      error: null,
      retryClassification: null,
    },
  });
  if (count === 0) throw new StaleAttemptError(attempt.jobId, attempt.fencingToken);
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
    data: { state: "failed", completedAt: new Date(), retryClassification: "permanent", error: message },
  });
}
