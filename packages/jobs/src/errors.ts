// What the lifecycle's fenced writes report when they match no row.

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

/** The job's cancel was requested (cancel_requested_at): the attempt stopped and ends `canceled`. */
export class AttemptCanceledError extends Error {
  override readonly name = "AttemptCanceledError";

  constructor() {
    super("canceled by request");
  }
}
