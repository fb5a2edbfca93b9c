// Webhook secrets and signatures. A secret is `whsec_` + 32 random bytes (base64url); the HMAC
// key is the whole secret string as UTF-8. The signature header is
// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, with one v1 per active secret
// (two during a rotation's 24 hours), which the SDK's verifyWebhookSignature checks.
import { createHmac, randomBytes } from "node:crypto";

export const WEBHOOK_SECRET_PREFIX = "whsec_";

export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(32).toString("base64url");
}

/** Hex HMAC-SHA256 of `<timestamp>.<body>` under `secret`. */
export function signatureOf(secret: string, timestamp: number, body: string): string {
  return createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex");
}

/** The X-CapyDB-Signature value: one v1 per secret, the newest first. */
export function signatureHeader(secrets: readonly string[], timestamp: number, body: string): string {
  return [`t=${timestamp}`, ...secrets.map((secret) => `v1=${signatureOf(secret, timestamp, body)}`)].join(",");
}
