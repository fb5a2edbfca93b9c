export { type BackupQueue, coalesceAdds, createBackupQueue } from "./backup-queue.js";
export { createProducerConnection, createWorkerConnection, type RedisConfig, withoutRedisCommands } from "./connection.js";
export { LeaseSemaphore } from "./lease-semaphore.js";
export { LeaseWaiters } from "./lease-waiters.js";
export { assertRedisKeepsQueueKeys, REQUIRED_MAXMEMORY_POLICY, RedisPolicyError, readMaxmemoryPolicy, waitForRedisReady } from "./redis-policy.js";
export {
  createScheduleQueue,
  latestDueAt,
  nextRunAt,
  SCHEDULE_TZ,
  type ScheduleQueue,
  type ScheduleTiming,
  scheduleIdOf,
  scheduleLockKey,
  schedulePattern,
  schedulerId,
  syncScheduler,
  withScheduleLock,
} from "./schedules.js";
export { withTimeout } from "./timeout.js";
export {
  createWebhookQueue,
  deliveryAttemptJobId,
  enqueueDeliveryAttempt,
  enqueueDeliveryAttempts,
  type QueuedDelivery,
  type WebhookQueue,
} from "./webhooks.js";
