// The job row's side of one attempt. Claiming bumps fencing_token; every later write of the
// attempt names that token (and requires the row still `running`), so a stale attempt — a
// worker that lost its BullMQ lock, a redelivered job, a canceled one — matches no row and
// changes nothing. Each state change is one conditional statement whose states come from the
// transition table; a terminal one appends its job.* event in the same transaction.
import type { Db, Prisma } from "@capy/db";
import { recordVerificationFailed } from "./backups.js";
import { CANCELED_ERROR, jobKind } from "./catalogue.js";
import { AttemptCanceledError, StaleAttemptError } from "./errors.js";
import { appendJobEvent, type Tx } from "./events.js";
import { fromStates } from "./transitions.js";

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

export type AttemptRef = Pick<Attempt, "jobId" | "fencingToken">;

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
     WHERE jobs.id = previous.id AND previous.state = ANY(${fromStates("claim")})
    RETURNING jobs.fencing_token, jobs.attempts, previous.state AS previous_state, (jobs.cancel_requested_at IS NOT NULL) AS cancel_requested`;
  const row = rows[0];
  return row
    ? { jobId, fencingToken: row.fencing_token, number: row.attempts, tookOver: row.previous_state === "running", cancelRequested: row.cancel_requested }
    : null;
}

/** The rows an attempt may write: its job, at its token, still running. */
export function ownedBy(attempt: AttemptRef) {
  return { id: attempt.jobId, fencingToken: attempt.fencingToken, state: { in: fromStates("progress") } } satisfies Prisma.JobWhereInput;
}

/**
 * One heartbeat: refreshes heartbeat_at and reads cancel_requested_at in the same statement.
 * "lost" once the attempt no longer owns the job; "cancel" once its cancel was requested.
 */
export async function beat(db: Db, attempt: AttemptRef): Promise<"owned" | "lost" | "cancel"> {
  // Raw, so a heartbeat moves heartbeat_at (database clock) without touching updated_at.
  const rows = await db.$queryRaw<Array<{ cancel_requested: boolean }>>`
    UPDATE jobs SET heartbeat_at = now()
     WHERE id = ${attempt.jobId} AND fencing_token = ${attempt.fencingToken} AND state = ANY(${fromStates("heartbeat")})
    RETURNING (cancel_requested_at IS NOT NULL) AS cancel_requested`;
  const row = rows[0];
  return !row ? "lost" : row.cancel_requested ? "cancel" : "owned";
}

/** What the attempt is doing, as the job row shows it; every field optional. */
export interface AttemptStep {
  phase?: string;
  progressBytes?: number | null;
  lastStderr?: string;
}

/** Records the attempt's phase/progress (fenced); false once it no longer owns the job. */
export async function recordStep(db: Db | Tx, attempt: AttemptRef, step: AttemptStep): Promise<boolean> {
  const { progressBytes, ...rest } = step;
  const data: Prisma.JobUpdateManyMutationInput = {
    ...rest,
    ...(progressBytes === undefined ? {} : { progressBytes: progressBytes === null ? null : BigInt(progressBytes) }),
  };
  const { count } = await db.job.updateMany({ where: ownedBy(attempt), data });
  return count === 1;
}

/** Records what the attempt is doing now (`dumping`, `verifying`); false once it no longer owns the job. */
export function setPhase(db: Db, attempt: AttemptRef, phase: string, progressBytes: number | null = null): Promise<boolean> {
  return recordStep(db, attempt, { phase, progressBytes });
}

export interface AttemptOutput {
  stderr: string;
  /** null when stdout was not text (pg_dump's stdout is the archive). */
  stdout: string | null;
}

/**
 * Marks the job completed, with job.completed; throws (rolling back the caller's transaction)
 * StaleAttemptError if it is no longer ours, AttemptCanceledError if its cancel was requested
 * meanwhile (a canceled job never completes).
 */
export async function completeAttempt(tx: Tx, attempt: AttemptRef, output: AttemptOutput): Promise<void> {
  const { count } = await tx.job.updateMany({
    where: { ...ownedBy(attempt), state: { in: fromStates("complete") }, cancelRequestedAt: null },
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
  await appendJobEvent(tx, await tx.job.findUniqueOrThrow({ where: { id: attempt.jobId } }));
}

/**
 * Ends the job `canceled` (its cancel was requested), runs its kind's cancel hook and appends
 * job.canceled, in one transaction. Returns the storage keys the hook reported (to remove after
 * commit), or null (and changes nothing) when the attempt no longer owns the job.
 */
export async function cancelAttempt(db: Db, attempt: AttemptRef): Promise<string[] | null> {
  return db.$transaction(async (tx) => {
    const { count } = await tx.job.updateMany({
      where: { ...ownedBy(attempt), state: { in: fromStates("cancelRunning") } },
      data: { state: "canceled", phase: "done", completedAt: new Date(), retryClassification: "canceled", error: CANCELED_ERROR },
    });
    if (count === 0) return null;
    return endWithHook(tx, attempt.jobId, (job) => jobKind(job.type).onCancel(tx, job));
  });
}

/** What a failed attempt records: its classification, one readable line, exit code and output tails. */
export interface AttemptFailure {
  classification: string;
  message: string;
  exitCode: number | null;
  stderr: string | null;
  stdout: string | null;
}

/**
 * Records a failed attempt: `failed` (with job.failed) when `terminal`, otherwise back to
 * `pending` for the next try. `verifyingBackupId`: the attempt failed while verifying that
 * backup; a terminal failure records its verification failed too (backup.verification_failed).
 * Returns false (and writes nothing) if the attempt no longer owns the job.
 */
export async function failAttempt(
  db: Db,
  attempt: AttemptRef,
  report: AttemptFailure,
  terminal: boolean,
  verifyingBackupId: string | null = null,
): Promise<boolean> {
  return db.$transaction(async (tx) => {
    const { count } = await tx.job.updateMany({
      where: { ...ownedBy(attempt), state: { in: fromStates(terminal ? "fail" : "retry") } },
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
    if (count === 0) return false;
    if (!terminal) return true;
    if (verifyingBackupId) await recordVerificationFailed(tx, verifyingBackupId, report.message);
    await appendJobEvent(tx, await tx.job.findUniqueOrThrow({ where: { id: attempt.jobId } }));
    return true;
  });
}

/** Fails a job no handler can run, without claiming it (there is no attempt to fence). */
export async function failUnclaimed(db: Db, jobId: string, message: string): Promise<void> {
  await db.$transaction(async (tx) => {
    const { count } = await tx.job.updateMany({
      where: { id: jobId, state: { in: fromStates("failUnclaimed") } },
      data: { state: "failed", phase: "done", completedAt: new Date(), retryClassification: "permanent", error: message },
    });
    if (count === 1) await appendJobEvent(tx, await tx.job.findUniqueOrThrow({ where: { id: jobId } }));
  });
}

/**
 * After a terminal statement matched: runs the kind's hook on the ended row, then appends its
 * job.* event (last, see events.ts), and returns what the hook returned.
 */
export async function endWithHook<T>(tx: Tx, jobId: string, hook: (job: Prisma.JobGetPayload<object>) => Promise<T>): Promise<T> {
  const job = await tx.job.findUniqueOrThrow({ where: { id: jobId } });
  const result = await hook(job);
  await appendJobEvent(tx, job);
  return result;
}

/**
 * Records the bytes streamed so far, at most once per `intervalMs` and never two writes at once;
 * a value held back by the interval is written when it ends (so a stalled stream still shows
 * what arrived), and `flush` writes the last one. Writes are fenced like every other write of
 * the attempt; a failed write is only progress lost.
 */
export function progressRecorder(db: Db, attempt: AttemptRef, intervalMs = 1_000): { update(bytes: number): void; flush(): Promise<void> } {
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
    const done = recordStep(db, attempt, { progressBytes: bytes })
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
