// Failures the job handlers raise themselves; the classifier turns them (and process errors)
// into a retry decision.
export { AttemptCanceledError, StaleAttemptError } from "@capy/jobs";

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

/**
 * pg_dump ran past DUMP_TIMEOUT_MS and was stopped. Not retried: the next attempt would most
 * likely take as long again, holding the database's lock and one of the cluster's dump slots for
 * another DUMP_TIMEOUT_MS while other jobs wait; the limit (or the database) needs a look first.
 */
export class DumpTimeoutError extends Error {
  override readonly name = "DumpTimeoutError";

  constructor(timeoutMs: number) {
    super(`pg_dump timed out after ${timeoutMs} ms (DUMP_TIMEOUT_MS) and was stopped`);
  }
}

/**
 * A lease this attempt holds (the database's lock, a dump slot) could not be renewed because
 * another holder took the permit after ours expired: two attempts may now overlap, so this one
 * stops. Retried: its job runs again once the other holder is done.
 */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";

  constructor(resource: string) {
    super(`lost the lease on ${resource} to another holder; the attempt was stopped`);
  }
}

/**
 * The job's database lock or a dump slot of its cluster is taken: the job waits in the queue
 * (delayed, no attempt used) and is tried again shortly.
 */
export class ResourceBusyError extends Error {
  override readonly name = "ResourceBusyError";

  constructor(readonly resource: string) {
    super(`${resource} is busy`);
  }
}
