export { refusedAddressReason, isIpLiteral } from "./address.js";
export {
  checkWebhookTarget,
  parseWebhookUrl,
  assertAllowedAddress,
  systemResolver,
  TargetRefusedError,
  type TargetPolicy,
  type Resolver,
  type ResolvedAddress,
} from "./policy.js";
export { generateWebhookSecret, signatureHeader, signatureOf, WEBHOOK_SECRET_PREFIX } from "./signature.js";
export { retryDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from "./backoff.js";
export { WebhookSender, DELIVERY_TIMEOUT_MS, RESPONSE_READ_LIMIT, RESPONSE_STORE_LIMIT, type AttemptResult, type SenderOptions } from "./sender.js";
export { envelopeBody, deliveryHeaders, type EventEnvelope } from "./envelope.js";
