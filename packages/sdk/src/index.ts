export { createCapyClient, type CapyClient, type CapyClientOptions, type BackupDownload } from "./client.js";
export { CapyApiError, describeError, errorStatus, parseRetryAfter, type ErrorDescription } from "./errors.js";
export type { AppRouter } from "./generated/router.js";
export type * from "./types.js";
export { verifyWebhookSignature, type VerifyWebhookSignatureOptions } from "./webhooks.js";
