// @capy/jobs: the job lifecycle. The only code that inserts or changes a job row, the catalogue of
// job kinds, the transition table, and the outbox of events. See README.md.
export { JOB_KINDS, jobKind, databaseResource, CANCELED_ERROR, type JobKind, type JobKinds, type JobTarget, type RetryPolicy } from "./catalogue.js";
export { JOB_TRANSITIONS, JOB_TRANSITION_NAMES, fromStates, nextState, isTerminal, type JobTransition } from "./transitions.js";
export { insertJobRow, insertJobRows, readJobPayload, enqueueJob, releaseIdempotencyKey, type NewJob } from "./create.js";
export {
  claimJob,
  beat,
  ownedBy,
  recordStep,
  setPhase,
  progressRecorder,
  completeAttempt,
  cancelAttempt,
  failAttempt,
  failUnclaimed,
  type Attempt,
  type AttemptRef,
  type AttemptStep,
  type AttemptOutput,
  type AttemptFailure,
} from "./attempt.js";
export { cancelPendingJob, requestCancel } from "./cancel.js";
export { failLostJob, resetLostJob, WORKER_LOST_ERROR, type LostRow, type LostOutcome } from "./lost.js";
export { AttemptCanceledError, StaleAttemptError } from "./errors.js";
export {
  appendEvent,
  appendJobEvent,
  appendBackupEvent,
  listProjectEvents,
  readEventsAfter,
  serializeEvent,
  type EventScope,
  type BackupEventType,
  type ListEventsOptions,
  type Tx,
} from "./events.js";
export {
  recordVerified,
  recordVerificationFailed,
  failPendingVerification,
  deleteJobBackups,
  deleteIdleBackup,
  deleteExpiredBackup,
  LOST_BEFORE_VERIFIED,
} from "./backups.js";
export { serializeJob, serializeBackup } from "./serialize.js";
