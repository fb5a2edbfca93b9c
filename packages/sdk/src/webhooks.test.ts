// verifyWebhookSignature against headers made by the platform's signer (@capy/webhooks): valid
// and rotated signatures pass; tampering, the wrong secret, stale or future timestamps and
// malformed headers fail.

import { generateWebhookSecret, signatureHeader } from "@capy/webhooks";
import { describe, expect, it } from "vitest";
import { verifyWebhookSignature } from "./webhooks.js";

const secret = generateWebhookSecret();
const body = JSON.stringify({ id: "evt_1", type: "job.completed", created_at: "2026-11-30T14:00:00.000Z", data: { job: { id: "job_1" } } });
const now = Date.now();
const t = Math.floor(now / 1000);

describe("verifyWebhookSignature", () => {
  it("accepts a valid signature, of a string or of bytes", async () => {
    const header = signatureHeader([secret], t, body);
    await expect(verifyWebhookSignature({ secret, header, body })).resolves.toBe(true);
    await expect(verifyWebhookSignature({ secret, header, body: new TextEncoder().encode(body) })).resolves.toBe(true);
  });

  it("rejects a tampered body, the wrong secret and a missing or malformed header", async () => {
    const header = signatureHeader([secret], t, body);
    await expect(verifyWebhookSignature({ secret, header, body: body.replace("job_1", "job_2") })).resolves.toBe(false);
    await expect(verifyWebhookSignature({ secret: generateWebhookSecret(), header, body })).resolves.toBe(false);
    await expect(verifyWebhookSignature({ secret, header: undefined, body })).resolves.toBe(false);
    await expect(verifyWebhookSignature({ secret, header: `t=${t}`, body })).resolves.toBe(false);
    await expect(verifyWebhookSignature({ secret, header: header.replace(/^t=\d+/, `t=${t + 1}`), body })).resolves.toBe(false);
    await expect(verifyWebhookSignature({ secret, header: "v1=zz,t=abc", body })).resolves.toBe(false);
  });

  it("rejects timestamps outside the tolerance, either way", async () => {
    const old = signatureHeader([secret], t - 301, body);
    const future = signatureHeader([secret], t + 301, body);
    await expect(verifyWebhookSignature({ secret, header: old, body, now })).resolves.toBe(false);
    await expect(verifyWebhookSignature({ secret, header: future, body, now })).resolves.toBe(false);
    await expect(verifyWebhookSignature({ secret, header: old, body, now, toleranceSeconds: 600 })).resolves.toBe(true);
  });

  it("accepts either secret while a rotation signs with both", async () => {
    const next = generateWebhookSecret();
    const header = signatureHeader([next, secret], t, body);
    expect(header.match(/v1=/g)).toHaveLength(2);
    await expect(verifyWebhookSignature({ secret, header, body })).resolves.toBe(true);
    await expect(verifyWebhookSignature({ secret: next, header, body })).resolves.toBe(true);
    await expect(verifyWebhookSignature({ secret: generateWebhookSecret(), header, body })).resolves.toBe(false);
  });
});
