// Prisma rows (camelCase, Date, BigInt) to the public snake_case shapes of @capy/contracts:
// ISO-8601 UTC strings, absent values as null. Routers declare the contracts as .output(), so a
// row that drifts from them fails loudly instead of reaching a client.
import {
  type ApiKey,
  type AuditEvent,
  isoTimestamp,
  isoTimestampOrNull,
  type Project,
  type ScheduledBackup,
  type Webhook,
  type WebhookDelivery,
} from "@capy/contracts";
import type {
  ApiKey as ApiKeyRow,
  AuditEvent as AuditEventRow,
  WebhookDelivery as DeliveryRow,
  Project as ProjectRow,
  ScheduledBackup as ScheduleRow,
  Webhook as WebhookRow,
} from "@capy/db";
import { nextRunAt } from "@capy/queue";

// Jobs and backups are serialized by @capy/jobs (events carry the same shapes).
export { serializeBackup, serializeEvent, serializeJob, serializePreview } from "@capy/jobs";

/** `now` decides next_run_at (computed from the row, the truth, not read back from Redis). */
export function serializeSchedule(schedule: ScheduleRow, now = new Date()): ScheduledBackup {
  return {
    id: schedule.id,
    organization_id: schedule.organizationId,
    project_id: schedule.projectId,
    label: schedule.label,
    cron_hour: schedule.cronHour,
    cron_minute: schedule.cronMinute,
    is_active: schedule.isActive,
    retention_days: schedule.retentionDays,
    last_job_id: schedule.lastJobId,
    last_run_at: isoTimestampOrNull(schedule.lastRunAt),
    created_at: isoTimestamp(schedule.createdAt),
    updated_at: isoTimestamp(schedule.updatedAt),
    next_run_at: isoTimestampOrNull(nextRunAt(schedule, now)),
  };
}

/** Never the hash: only the display prefix identifies the key. */
export function serializeApiKey(key: ApiKeyRow, now = new Date()): ApiKey {
  return {
    id: key.id,
    name: key.name,
    key_prefix: key.keyPrefix,
    organization_id: key.organizationId,
    project_id: key.projectId,
    scopes: key.scopes,
    is_active: key.revokedAt === null && (key.expiresAt === null || key.expiresAt > now),
    expires_at: isoTimestampOrNull(key.expiresAt),
    revoked_at: isoTimestampOrNull(key.revokedAt),
    last_used_at: isoTimestampOrNull(key.lastUsedAt),
    created_at: isoTimestamp(key.createdAt),
  };
}

export function serializeAuditEvent(event: AuditEventRow): AuditEvent {
  const metadata = event.metadata;
  return {
    id: event.id,
    organization_id: event.organizationId,
    project_id: event.projectId,
    actor_type: event.actorType as AuditEvent["actor_type"],
    actor_id: event.actorId,
    action: event.action,
    target_type: event.targetType,
    target_id: event.targetId,
    metadata: metadata !== null && typeof metadata === "object" && !Array.isArray(metadata) ? (metadata as Record<string, unknown>) : {},
    created_at: isoTimestamp(event.createdAt),
  };
}

export function serializeProject(project: ProjectRow): Project {
  return {
    id: project.id,
    organization_id: project.organizationId,
    name: project.name,
    database_name: project.databaseName,
    created_at: isoTimestamp(project.createdAt),
  };
}

/** Never the secret: it is shown by create and rotate-secret only. */
export function serializeWebhook(webhook: WebhookRow): Webhook {
  return {
    id: webhook.id,
    organization_id: webhook.organizationId,
    project_id: webhook.projectId,
    url: webhook.url,
    events: webhook.events,
    description: webhook.description,
    is_active: webhook.isActive,
    health: webhook.health as Webhook["health"],
    created_at: isoTimestamp(webhook.createdAt),
    updated_at: isoTimestamp(webhook.updatedAt),
  };
}

export function serializeDelivery(delivery: DeliveryRow): WebhookDelivery {
  return {
    id: delivery.id,
    webhook_id: delivery.webhookId,
    event_id: delivery.eventId,
    event_type: delivery.eventType,
    state: delivery.state as WebhookDelivery["state"],
    attempts: delivery.attempts,
    last_status_code: delivery.lastStatusCode,
    last_error: delivery.lastError,
    last_response_ms: delivery.lastResponseMs,
    last_response_body: delivery.lastResponseBody,
    next_attempt_at: delivery.state === "pending" ? isoTimestampOrNull(delivery.nextAttemptAt) : null,
    created_at: isoTimestamp(delivery.createdAt),
    delivered_at: isoTimestampOrNull(delivery.deliveredAt),
  };
}
