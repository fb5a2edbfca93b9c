// The API's resource shapes, read off the router's outputs, so they can never drift from what
// the server answers (and need nothing beyond the router type).
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "./generated/router.js";

export type RouterInputs = inferRouterInputs<AppRouter>;
export type RouterOutputs = inferRouterOutputs<AppRouter>;

export type Job = RouterOutputs["jobs"]["get"]["job"];
export type JobState = Job["state"];
export type Backup = RouterOutputs["backups"]["list"]["backups"][number];
export type ScheduledBackup = RouterOutputs["scheduledBackups"]["list"]["scheduled_backups"][number];
export type Project = RouterOutputs["projects"]["list"]["projects"][number];
export type ApiKey = RouterOutputs["apiKeys"]["list"]["api_keys"][number];
export type AuditEvent = RouterOutputs["auditEvents"]["list"]["audit_events"][number];
export type Principal = RouterOutputs["me"]["get"]["principal"];
export type Scope = Principal["scopes"][number];
export type PreviewDatabase = RouterOutputs["previewDatabases"]["list"]["preview_databases"][number];
export type PreviewCredentials = RouterOutputs["previewDatabases"]["credentials"]["credentials"];
export type Webhook = RouterOutputs["webhooks"]["list"]["webhooks"][number];
export type WebhookDelivery = RouterOutputs["webhooks"]["deliveries"]["deliveries"][number];
export type EncryptionRecipient = RouterOutputs["encryption"]["listRecipients"]["encryption_recipients"][number];
export type EncryptionKey = RouterOutputs["encryption"]["listKeys"]["encryption_keys"][number];
