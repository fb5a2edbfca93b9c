// What a job handler is, and the table of them keyed by the contracts' job catalogue: a key
// that is not a catalogued job type does not compile.
import type { JOB_KINDS } from "@capy/contracts";
import type { Logger } from "../logger.js";

export type CataloguedJobType = keyof typeof JOB_KINDS;

export interface JobContext {
  /** The job row's id (also the BullMQ job id). */
  jobId: string;
  /** Carries job_id on every line. */
  log: Logger;
  /**
   * Aborted when the worker stops the job early (shutdown past its grace period). The handler
   * then stops its work and throws ShutdownInterruptError, and the job goes back to the queue.
   */
  signal: AbortSignal;
  /** No retry follows if this attempt fails (BullMQ's attempts are used up). */
  finalAttempt: boolean;
}

export type JobHandler = (context: JobContext) => Promise<void>;

/** The job types this worker runs. Jobs of any other type are failed permanently. */
export type HandlerTable = { readonly [Type in CataloguedJobType]?: JobHandler };

export function handlerFor(table: HandlerTable, type: string): JobHandler | undefined {
  return Object.hasOwn(table, type) ? table[type as CataloguedJobType] : undefined;
}
