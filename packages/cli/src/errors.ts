// Every failure the CLI can end with, mapped once to a message and an exit code. Nothing here
// prints a stack trace: unknown errors are reduced to their message.

import { describeError } from "@capy/sdk";
import { TRPCClientError } from "@trpc/client";
import { InvalidArgumentError } from "commander";

export const EXIT = {
  OK: 0,
  /** Any other API or local failure (400, 409, 500, I/O …). */
  ERROR: 1,
  /** Bad flags or arguments, missing configuration. */
  USAGE: 2,
  /** The job ended failed or canceled (create --wait, jobs watch). */
  JOB_FAILED: 3,
  /** 401: missing, invalid, expired or revoked API key. */
  UNAUTHORIZED: 4,
  /** 403: the key lacks a scope. */
  FORBIDDEN: 5,
  /** 404: unknown id, or not visible to this key. */
  NOT_FOUND: 6,
  /** 429: rate limited. */
  RATE_LIMITED: 7,
  /** The API could not be reached at all. */
  UNREACHABLE: 8,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  other error (bad request, conflict, server error, local I/O)
  2  usage error (bad flag, missing --project / API URL)
  3  the job failed or was canceled (backups create --wait, jobs watch)
  4  401: missing or invalid API key
  5  403: the API key lacks a required scope
  6  404: not found
  7  429: rate limited
  8  the Capy API could not be reached`;

/** A failure the CLI itself decided on, with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = "CliError";
  }
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  ECONNRESET: "connection reset",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  UND_ERR_SOCKET: "connection closed unexpectedly",
  CERT_HAS_EXPIRED: "TLS certificate has expired",
  DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed TLS certificate",
};

/** The first network error code found along the cause chain (fetch wraps them in TypeError). */
function networkCode(error: unknown): string | undefined {
  for (let current: unknown = error, depth = 0; current && depth < 8; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && (code in NETWORK_CODES || code.startsWith("E"))) return code;
    const nested = (current as { errors?: unknown[] }).errors;
    if (Array.isArray(nested) && nested.length > 0) return networkCode(nested[0]);
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** The message of the innermost cause (e.g. "bad port"), for failures without an error code. */
function rootMessage(error: unknown): string | undefined {
  let message: string | undefined;
  for (let current: unknown = error, depth = 0; current && depth < 8; depth++) {
    if (current instanceof Error && current.message) message = current.message;
    current = (current as { cause?: unknown }).cause;
  }
  return message;
}

function isFetchFailure(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current && depth < 8; depth++) {
    if (current instanceof TypeError && current.message === "fetch failed") return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Turns anything thrown while running a command into the line to print and the exit code. */
export function describeFailure(error: unknown, apiUrl: string | undefined): { message: string; exitCode: number } {
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode };
  if (error instanceof InvalidArgumentError) return { message: error.message, exitCode: EXIT.USAGE };

  // The SDK reads status, message and Retry-After whichever way the API answered (tRPC error, or
  // the REST `{ error }` of answers made before tRPC runs: rate limits, auth hooks).
  const { status, message: detail, retryAfterSeconds } = describeError(error);
  if (status !== undefined && status >= 400) {
    switch (status) {
      case 401:
        return {
          message: `authentication failed (401): ${detail}. Check CAPY_API_KEY / --api-key: the key may be mistyped, expired or revoked.`,
          exitCode: EXIT.UNAUTHORIZED,
        };
      case 403:
        return { message: `permission denied (403): ${detail}. The API key lacks the scope this command needs.`, exitCode: EXIT.FORBIDDEN };
      case 404:
        return { message: `not found (404): ${detail}`, exitCode: EXIT.NOT_FOUND };
      case 429:
        return {
          message: `rate limited (429): ${detail}${retryAfterSeconds !== null ? `. Retry after ${retryAfterSeconds} s.` : ". Retry later."}`,
          exitCode: EXIT.RATE_LIMITED,
        };
      default:
        return { message: `the Capy API answered ${status}: ${detail}`, exitCode: EXIT.ERROR };
    }
  }

  const code = networkCode(error);
  if (isFetchFailure(error) || (code !== undefined && code in NETWORK_CODES)) {
    const reason = code ? (NETWORK_CODES[code] ?? code) : (rootMessage(error) ?? "network error");
    return { message: `cannot reach the Capy API at ${apiUrl ?? "(no URL)"}: ${reason}`, exitCode: EXIT.UNREACHABLE };
  }
  if (error instanceof TRPCClientError) {
    // No HTTP status: the answer was not the API's (e.g. an HTML page from a proxy, or the wrong URL).
    return {
      message: `unexpected answer from ${apiUrl ?? "the API"} (is CAPY_API_URL the Capy API's base URL?): ${detail}`,
      exitCode: EXIT.ERROR,
    };
  }
  return { message: detail, exitCode: EXIT.ERROR };
}
