// @capy/jobs: the job lifecycle. The only code that inserts or changes a job row, the catalogue of
// job kinds, the transition table, and the outbox of events. See README.md.

export { encryptionIdentityLookup } from "./artifact-keys.js";
export {
  type Attempt,
  type AttemptFailure,
  type AttemptOutput,
  type AttemptRef,
  type AttemptStep,
  beat,
  cancelAttempt,
  claimJob,
  completeAttempt,
  failAttempt,
  failUnclaimed,
  ownedBy,
  progressRecorder,
  recordStep,
  setPhase,
} from "./attempt.js";
export {
  deleteExpiredBackup,
  deleteIdleBackup,
  deleteJobBackups,
  failPendingVerification,
  LOST_BEFORE_VERIFIED,
  recordVerificationFailed,
  recordVerified,
} from "./backups.js";
export { cancelPendingJob, requestCancel } from "./cancel.js";
export { CANCELED_ERROR, databaseResource, JOB_KINDS, type JobKind, type JobKinds, type JobTarget, jobKind, type RetryPolicy } from "./catalogue.js";
export { enqueueJob, insertJobRow, insertJobRowAlone, insertJobRows, type NewJob, readJobPayload, releaseIdempotencyKey } from "./create.js";
export { AttemptCanceledError, StaleAttemptError } from "./errors.js";
export {
  appendBackupEvent,
  appendEvent,
  appendJobEvent,
  appendPreviewEvent,
  type BackupEventType,
  type EventScope,
  type ListEventsOptions,
  listProjectEvents,
  readEventsAfter,
  serializeEvent,
  type Tx,
} from "./events.js";
export { failLostJob, type LostOutcome, type LostRow, resetLostJob, WORKER_LOST_ERROR } from "./lost.js";
export { serializeBackup, serializeJob, serializePreview } from "./serialize.js";
export { fromStates, isTerminal, JOB_TRANSITION_NAMES, JOB_TRANSITIONS, type JobTransition, nextState } from "./transitions.js";
