export { isIpLiteral, refusedAddressReason } from "./address.js";
export { type BackoffPolicy, DEFAULT_BACKOFF, retryDelayMs } from "./backoff.js";
export { deliveryHeaders, type EventEnvelope, envelopeBody } from "./envelope.js";
export {
  assertAllowedAddress,
  checkWebhookTarget,
  parseWebhookUrl,
  type ResolvedAddress,
  type Resolver,
  systemResolver,
  type TargetPolicy,
  TargetRefusedError,
} from "./policy.js";
export { type AttemptResult, DELIVERY_TIMEOUT_MS, RESPONSE_READ_LIMIT, RESPONSE_STORE_LIMIT, type SenderOptions, WebhookSender } from "./sender.js";
export { generateWebhookSecret, signatureHeader, signatureOf, WEBHOOK_SECRET_PREFIX } from "./signature.js";
