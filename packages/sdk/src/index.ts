export { createCapyClient, CapyApiError, errorStatus, type CapyClient, type CapyClientOptions } from "./client.js";
export type { Job, Backup, ScheduledBackup, Scope } from "@capy/contracts";
export { verifyWebhookSignature, type VerifyWebhookSignatureOptions } from "./webhooks.js";
export type { Webhook, WebhookDelivery } from "@capy/contracts";
