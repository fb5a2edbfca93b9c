// Failures the job handlers raise themselves; the classifier turns them (and process errors)
// into a retry decision.

/** The worker or the project is misconfigured: retrying cannot help (e.g. no encryption key). */
export class ConfigurationError extends Error {
  override readonly name = "ConfigurationError";
}

/** Writing or removing an artifact failed: storage trouble is usually temporary. */
export class StorageError extends Error {
  override readonly name = "StorageError";

  constructor(cause: unknown) {
    super(`storage failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * A newer attempt owns the job (its fencing token moved on) or the job left `running`
 * (e.g. it was canceled): this attempt's results must be thrown away, never written.
 */
export class StaleAttemptError extends Error {
  override readonly name = "StaleAttemptError";

  constructor(jobId: string, fencingToken: number) {
    super(`attempt ${fencingToken} of job ${jobId} no longer owns the job`);
  }
}

/** The worker is shutting down and stopped the attempt; the job should simply run again. */
export class ShutdownInterruptError extends Error {
  override readonly name = "ShutdownInterruptError";

  constructor() {
    super("interrupted: the worker shut down before the job finished");
  }
}

/**
 * The backup did not prove itself: its artifact is not the one recorded, does not restore, or
 * restores to something other than the source held. Retrying cannot change that.
 */
export class VerificationFailedError extends Error {
  override readonly name = "VerificationFailedError";
}

/** The restore (or the inventory of the restored copy) took longer than VERIFY_TIMEOUT_MS. */
export class VerificationTimeoutError extends Error {
  override readonly name = "VerificationTimeoutError";

  constructor(timeoutMs: number) {
    super(`verification timed out after ${timeoutMs} ms (VERIFY_TIMEOUT_MS); pg_restore was stopped`);
  }
}
