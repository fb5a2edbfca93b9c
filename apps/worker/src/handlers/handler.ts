// What a job handler is; the catalogue (../catalogue.ts) holds one per job kind.
import type { Job } from "@capy/db";
import type { Logger } from "../logger.js";

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

/**
 * "ran": the job's work ran to its end. "skipped": nothing ran, the job's row had finished (or was
 * taken) before this worker could run it: a redelivery, or an add that reached Redis after the
 * job was canceled (the API answers before Redis has the job, so a cancel through another API
 * process can remove it first). Failures throw.
 */
export type HandlerResult = "ran" | "skipped";

export type JobHandler = (context: JobContext) => Promise<HandlerResult>;

/** The worker's half of a catalogue entry: the handler and the storage side of the kind's hooks. */
export interface JobRuntime {
  handler: JobHandler;
  /**
   * After the job's cancel committed (the kind's onCancel hook deleted its rows): removes what the
   * job stored; `recordedKeys` are the storage keys that hook reported. Best effort, never throws.
   */
  afterCancel(job: Job, recordedKeys: string[], log: Logger): Promise<void>;
  /**
   * After a claim took the job over from lost attempts, or a lost job was failed: removes what
   * attempts fenced off before `belowToken` left in storage. Best effort, never throws.
   */
  afterWorkerLost(job: Job, belowToken: number, log: Logger): Promise<void>;
  /**
   * Before the job's leases are taken: throws ResourceBusyError while the job must wait for
   * something else (a project restore for its safety backup), which sends it back to the queue.
   */
  beforeLeases?(job: Job): Promise<void>;
}
