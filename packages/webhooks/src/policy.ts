// Where webhooks may point, checked when an endpoint is created or changed and again on every
// delivery (DNS can change in between). Both switches are off by default; `pnpm dev` and the
// tests turn them on to reach receivers on 127.0.0.1 over plain HTTP.
import { lookup as dnsLookup } from "node:dns/promises";
import { isIpLiteral, refusedAddressReason, stripBrackets } from "./address.js";

export interface TargetPolicy {
  /** WEBHOOK_ALLOW_INSECURE=1: http:// URLs are accepted too. */
  allowInsecure: boolean;
  /** WEBHOOK_ALLOW_PRIVATE_TARGETS=1: loopback, private, link-local, … addresses are reachable. */
  allowPrivateTargets: boolean;
}

export interface ResolvedAddress {
  address: string;
  family: number;
}

/** Every address a host name resolves to (dns.lookup with `all`); injectable for tests. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** A webhook URL the policy refuses; the message is public (it becomes a 400's `error`). */
export class TargetRefusedError extends Error {
  override readonly name = "TargetRefusedError";
}

const MAX_URL_LENGTH = 2_048;

/** The URL, parsed, when its scheme, form and credentials are acceptable (no DNS). */
export function parseWebhookUrl(raw: string, policy: TargetPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetRefusedError("url: not a valid URL");
  }
  if (raw.length > MAX_URL_LENGTH) throw new TargetRefusedError(`url: at most ${MAX_URL_LENGTH} characters`);
  const schemes = policy.allowInsecure ? ["https:", "http:"] : ["https:"];
  if (!schemes.includes(url.protocol)) throw new TargetRefusedError(policy.allowInsecure ? "url: must be http or https" : "url: must use https");
  if (url.username || url.password) throw new TargetRefusedError("url: must not carry credentials");
  if (url.hostname === "") throw new TargetRefusedError("url: has no host");
  return url;
}

/** Refuses an address the policy does not allow; the message names it (it is the caller's own URL). */
export function assertAllowedAddress(address: string, policy: TargetPolicy): void {
  if (policy.allowPrivateTargets) return;
  const reason = refusedAddressReason(address);
  if (reason) throw new TargetRefusedError(`url: resolves to a non-public address (${address}, ${reason})`);
}

/**
 * Checks a URL completely: form, scheme, and every address its host resolves to. Used at
 * creation; deliveries check again at connection time (see sender.ts).
 */
export async function checkWebhookTarget(raw: string, policy: TargetPolicy, resolve: Resolver = systemResolver): Promise<URL> {
  const url = parseWebhookUrl(raw, policy);
  const host = stripBrackets(url.hostname);
  if (isIpLiteral(host)) {
    assertAllowedAddress(host, policy);
    return url;
  }
  if (policy.allowPrivateTargets) return url;
  const addresses = await resolve(host).catch(() => {
    throw new TargetRefusedError(`url: host ${host} does not resolve`);
  });
  if (addresses.length === 0) throw new TargetRefusedError(`url: host ${host} does not resolve`);
  for (const { address } of addresses) assertAllowedAddress(address, policy);
  return url;
}
