export { createBackupRuntime, type BackupDependencies } from "./backup.js";
export { createVerifyRuntime, type VerifyDependencies } from "./verify.js";
export type { JobContext, JobHandler, JobRuntime } from "./handler.js";
