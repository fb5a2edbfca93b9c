export { createProducerConnection, createWorkerConnection, type RedisConfig } from "./connection.js";
export { createBackupQueue, insertJobRow, enqueueJob, type BackupQueue, type NewJob } from "./jobs.js";
export { LeaseSemaphore } from "./lease-semaphore.js";
