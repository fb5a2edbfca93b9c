// Sends one delivery attempt: a POST of the exact body with its headers, no redirects followed,
// 10 s for the whole exchange, at most 64 KiB of the response read and 1 KiB of it kept. The
// target policy is enforced again here, at connection time, on the address actually connected
// to (a guarded DNS lookup inside the connection pool), so a host that starts resolving to a
// private address after the endpoint was created is refused and nothing is sent to it.
import type { LookupAddress, LookupAllOptions, LookupOneOptions } from "node:dns";
import { Agent, request } from "undici";
import { isIpLiteral, stripBrackets } from "./address.js";
import { assertAllowedAddress, parseWebhookUrl, type Resolver, systemResolver, type TargetPolicy, TargetRefusedError } from "./policy.js";

/** 2xx within this long is a success (ms). */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** At most this much of a response body is read (bytes); the rest is discarded unread. */
export const RESPONSE_READ_LIMIT = 64 * 1024;
/** At most this much of it is kept on the delivery (bytes). */
export const RESPONSE_STORE_LIMIT = 1024;

export interface AttemptResult {
  ok: boolean;
  /** The endpoint's status; null when no response came (refused, unreachable, timed out). */
  statusCode: number | null;
  /** Time until the response's status and headers arrived, or until the attempt gave up (ms). */
  responseMs: number;
  /** Why the attempt failed; null on success. */
  error: string | null;
  /** The first RESPONSE_STORE_LIMIT bytes of the response body (UTF-8, lossy); null without one. */
  responseBody: string | null;
}

export interface SenderOptions {
  policy: TargetPolicy;
  timeoutMs?: number;
  /** DNS for the guarded lookup; the system resolver unless a test injects one. */
  resolve?: Resolver;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A net.connect `lookup` that resolves with `resolve` and refuses disallowed addresses. */
function guardedLookup(resolve: Resolver, policy: TargetPolicy) {
  return (hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback): void => {
    resolve(hostname)
      .then((addresses) => {
        if (addresses.length === 0) throw new TargetRefusedError(`host ${hostname} does not resolve`);
        for (const { address } of addresses) assertAllowedAddress(address, policy);
        if ((options as LookupAllOptions).all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      })
      .catch((error: unknown) => callback(error as NodeJS.ErrnoException, ""));
  };
}

export class WebhookSender {
  private readonly agent: Agent;
  private readonly timeoutMs: number;

  constructor(private readonly options: SenderOptions) {
    this.timeoutMs = options.timeoutMs ?? DELIVERY_TIMEOUT_MS;
    const lookup = options.policy.allowPrivateTargets ? undefined : guardedLookup(options.resolve ?? systemResolver, options.policy);
    this.agent = new Agent({
      connect: lookup ? { lookup, timeout: this.timeoutMs } : { timeout: this.timeoutMs },
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
  }

  async send(rawUrl: string, body: string, headers: Record<string, string>): Promise<AttemptResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      const url = parseWebhookUrl(rawUrl, this.options.policy);
      // Literal addresses never reach the lookup: check them here.
      const host = stripBrackets(url.hostname);
      if (isIpLiteral(host)) assertAllowedAddress(host, this.options.policy);
      const signal = AbortSignal.timeout(this.timeoutMs);
      const response = await request(url, {
        method: "POST",
        body,
        headers: { "content-type": "application/json", "user-agent": "CapyDB-Webhooks/1", ...headers },
        dispatcher: this.agent,
        signal,
      });
      const responseMs = elapsed();
      const responseBody = await readCapped(response.body);
      const ok = response.statusCode >= 200 && response.statusCode < 300;
      const error = ok
        ? null
        : response.statusCode >= 300 && response.statusCode < 400
          ? `endpoint answered ${response.statusCode} (redirects are not followed)`
          : `endpoint answered ${response.statusCode}`;
      return { ok, statusCode: response.statusCode, responseMs, error, responseBody };
    } catch (error) {
      return { ok: false, statusCode: null, responseMs: elapsed(), error: describeFailure(error, this.timeoutMs), responseBody: null };
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/** Reads at most RESPONSE_READ_LIMIT bytes, keeps the first RESPONSE_STORE_LIMIT; never throws. */
async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string | null> {
  const kept: Buffer[] = [];
  let read = 0;
  try {
    for await (const chunk of body) {
      if (read < RESPONSE_STORE_LIMIT) kept.push(chunk.subarray(0, RESPONSE_STORE_LIMIT - read));
      read += chunk.length;
      if (read >= RESPONSE_READ_LIMIT) break;
    }
  } catch {
    // A body cut short (timeout, reset) after the status arrived changes nothing: keep what came.
  } finally {
    body.destroy();
  }
  return read === 0 ? null : Buffer.concat(kept).toString("utf8");
}

/** A short public reason: no stack, no internals (it is shown to the endpoint's owner). */
function describeFailure(error: unknown, timeoutMs: number): string {
  const cause = (error as { cause?: unknown }).cause;
  const refused = [error, cause].find((e): e is TargetRefusedError => e instanceof TargetRefusedError);
  if (refused) return `refused: ${refused.message.replace(/^url: /, "")}`;
  const name = (error as { name?: string }).name;
  if (name === "TimeoutError" || name === "AbortError" || /timeout/i.test(String((error as { code?: string }).code ?? "")))
    return `timed out after ${timeoutMs} ms`;
  const code = (error as { code?: string }).code ?? (cause as { code?: string } | undefined)?.code;
  return code ? `could not connect (${code})` : `delivery failed: ${(error as Error).message ?? String(error)}`;
}
