// Verifying webhook deliveries: X-CapyDB-Signature is `t=<unix seconds>,v1=<hex>[,v1=<hex>…]`,
// each v1 the HMAC-SHA256 of "<t>.<raw body>" under one of the endpoint's secrets (two during a
// secret rotation). Web Crypto only (globalThis.crypto.subtle), so the same function runs in
// Node 20+, browsers, Deno, Bun and edge runtimes, and the SDK's main entry stays browser-safe.
// crypto.subtle.verify compares the MAC in constant time.

export interface VerifyWebhookSignatureOptions {
  /** The endpoint's secret (`whsec_…`), as shown at creation or rotation. */
  secret: string;
  /** The X-CapyDB-Signature header value (null/undefined when missing: not verified). */
  header: string | null | undefined;
  /** The raw request body exactly as received: verify before parsing it. */
  body: string | Uint8Array;
  /** Largest accepted distance between `t` and now (seconds; default 300), against replays. */
  toleranceSeconds?: number;
  /** The current time (ms since the epoch); for tests. */
  now?: number;
}

const encoder = new TextEncoder();

function parseHeader(header: string): { timestamp: number; signatures: Uint8Array<ArrayBuffer>[] } | undefined {
  let timestamp: number | undefined;
  const signatures: Uint8Array<ArrayBuffer>[] = [];
  for (const part of header.split(",")) {
    const [key, value] = part.trim().split("=", 2) as [string, string | undefined];
    if (key === "t" && value && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    else if (key === "v1" && value && /^[0-9a-f]{64}$/i.test(value)) signatures.push(hexBytes(value));
  }
  return timestamp === undefined || signatures.length === 0 ? undefined : { timestamp, signatures };
}

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i += 1) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/**
 * True when the header carries a valid signature of `body` by `secret` (any of its v1 values)
 * with a timestamp within the tolerance; false otherwise (missing or malformed header, tampered
 * body, other secret, replayed or stale delivery).
 */
export async function verifyWebhookSignature(options: VerifyWebhookSignatureOptions): Promise<boolean> {
  const parsed = options.header ? parseHeader(options.header) : undefined;
  if (!parsed) return false;
  const tolerance = options.toleranceSeconds ?? 300;
  const nowSeconds = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(nowSeconds - parsed.timestamp) > tolerance) return false;
  const body = typeof options.body === "string" ? encoder.encode(options.body) : options.body;
  const prefix = encoder.encode(`${parsed.timestamp}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix);
  signed.set(body, prefix.length);
  const key = await globalThis.crypto.subtle.importKey("raw", encoder.encode(options.secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  let valid = false;
  // Every candidate is checked (no early exit), so timing does not reveal which one matched.
  for (const signature of parsed.signatures) {
    if (await globalThis.crypto.subtle.verify("HMAC", key, signature, signed)) valid = true;
  }
  return valid;
}
