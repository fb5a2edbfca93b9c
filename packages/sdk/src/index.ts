export { type BackupDownload, type CapyClient, type CapyClientOptions, createCapyClient } from "./client.js";
export { CapyApiError, describeError, type ErrorDescription, errorStatus, parseRetryAfter } from "./errors.js";
export type { AppRouter } from "./generated/router.js";
export type * from "./types.js";
export { type VerifyWebhookSignatureOptions, verifyWebhookSignature } from "./webhooks.js";
