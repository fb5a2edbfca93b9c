export { createProducerConnection, createWorkerConnection, type RedisConfig } from "./connection.js";
export { createBackupQueue, type BackupQueue } from "./backup-queue.js";
export { LeaseSemaphore } from "./lease-semaphore.js";
export { LeaseWaiters } from "./lease-waiters.js";
export { withTimeout } from "./timeout.js";
export { assertRedisKeepsQueueKeys, readMaxmemoryPolicy, RedisPolicyError, waitForRedisReady, REQUIRED_MAXMEMORY_POLICY } from "./redis-policy.js";
export {
  createScheduleQueue,
  latestDueAt,
  nextRunAt,
  schedulePattern,
  schedulerId,
  scheduleIdOf,
  syncScheduler,
  withScheduleLock,
  scheduleLockKey,
  SCHEDULE_TZ,
  type ScheduleQueue,
  type ScheduleTiming,
} from "./schedules.js";
export { createWebhookQueue, enqueueDeliveryAttempt, enqueueDeliveryAttempts, deliveryAttemptJobId, type QueuedDelivery, type WebhookQueue } from "./webhooks.js";
