// Failures of SDK calls, whichever transport raised them (the tRPC client, or plain fetch for the
// artifact download), reduced to what a program or a person needs: the HTTP status, the API's
// message, and when a rate-limited caller may retry.
import { TRPCClientError } from "@trpc/client";

export class CapyApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** Seconds until a rate-limited (429) call may be retried (the Retry-After header). */
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
    this.name = "CapyApiError";
  }
}

/** What the tRPC client keeps of the HTTP answer to a failed call. */
interface ResponseMeta {
  response?: { status?: number; headers?: { get(name: string): string | null } };
  responseJSON?: unknown;
}

const responseOf = (error: TRPCClientError<never>) => (error.meta as ResponseMeta | undefined)?.response;

/** Retry-After in seconds (delta-seconds or an HTTP date), or null. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}

/** HTTP status of a failed call, whichever transport raised it; undefined for network failures. */
export function errorStatus(error: unknown): number | undefined {
  if (error instanceof CapyApiError) return error.status;
  if (error instanceof TRPCClientError) {
    return (error.data as { httpStatus?: number } | undefined)?.httpStatus ?? responseOf(error)?.status;
  }
  return undefined;
}

export interface ErrorDescription {
  /** The HTTP status; undefined when the server was not reached. */
  status: number | undefined;
  /** The API's `{ error }` message, or what went wrong on the way. */
  message: string;
  /** For 429: seconds until a retry may succeed, when the server said. */
  retryAfterSeconds: number | null;
}

/** Status, message and Retry-After of any failure an SDK call can throw. */
export function describeError(error: unknown): ErrorDescription {
  if (error instanceof CapyApiError) return { status: error.status, message: error.message, retryAfterSeconds: error.retryAfterSeconds };
  if (error instanceof TRPCClientError) {
    const meta = error.meta as ResponseMeta | undefined;
    // Answers made outside tRPC (the rate limiter, the body limit) carry the REST `{ error }` body.
    const body = meta?.responseJSON as { error?: unknown } | undefined;
    const message = typeof body?.error === "string" ? body.error : error.message;
    return { status: errorStatus(error), message, retryAfterSeconds: parseRetryAfter(meta?.response?.headers?.get("retry-after")) };
  }
  return { status: undefined, message: error instanceof Error ? error.message : String(error), retryAfterSeconds: null };
}
