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
      phase: "done",
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
