// The one application error type. Services, auth and HTTP routes throw AppError; its code maps,
// in this file only, to a tRPC error code (native /trpc and the REST adapter) and to an HTTP
// status (plain Fastify routes). Every REST error body is `{ "error": "<message>" }`.
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { isDatabaseUnavailable } from "./db-errors.js";

export const ERROR_CODES = {
  BAD_REQUEST: { trpc: "BAD_REQUEST", status: 400 },
  UNAUTHORIZED: { trpc: "UNAUTHORIZED", status: 401 },
  FORBIDDEN: { trpc: "FORBIDDEN", status: 403 },
  NOT_FOUND: { trpc: "NOT_FOUND", status: 404 },
  CONFLICT: { trpc: "CONFLICT", status: 409 },
  TOO_MANY_REQUESTS: { trpc: "TOO_MANY_REQUESTS", status: 429 },
  SERVICE_UNAVAILABLE: { trpc: "SERVICE_UNAVAILABLE", status: 503 },
  /** The metadata database cannot be reached (down, restarting, pool exhausted): retry later. */
  DATABASE_UNAVAILABLE: { trpc: "SERVICE_UNAVAILABLE", status: 503 },
  INTERNAL: { trpc: "INTERNAL_SERVER_ERROR", status: 500 },
} as const satisfies Record<string, { trpc: TRPC_ERROR_CODE_KEY; status: number }>;

export type AppErrorCode = keyof typeof ERROR_CODES;

/** What a client sees for any failure we did not anticipate: never internals or stacks. */
export const INTERNAL_MESSAGE = "internal server error";

export class AppError extends Error {
  override readonly name = "AppError";

  /** `message` is public: it is sent to the client as is. */
  constructor(
    readonly code: AppErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

/** What a client sees while the metadata database is unreachable: no host, port or driver detail. */
export const DATABASE_UNAVAILABLE_MESSAGE = "service temporarily unavailable; retry later";

/**
 * The AppError an error stands for: itself, or DATABASE_UNAVAILABLE (503) for a failure to
 * reach the metadata database, whichever layer threw it (auth, services, routes); undefined for
 * anything else (a 500).
 */
export function asAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  if (isDatabaseUnavailable(error)) return new AppError("DATABASE_UNAVAILABLE", DATABASE_UNAVAILABLE_MESSAGE, { cause: error });
  return undefined;
}

/** A Zod-like issue as it appears in errors and in JSON error bodies. */
export interface IssueLike {
  path?: readonly PropertyKey[];
  message: string;
}

/** "cron_hour: Too big: expected number to be <=23; label: …" */
export function describeIssues(issues: readonly IssueLike[]): string {
  if (issues.length === 0) return "invalid input";
  return issues
    .map((issue) => {
      const path = (issue.path ?? []).map(String).join(".");
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join("; ");
}

export interface HttpError {
  status: number;
  message: string;
}

/**
 * Status and public message for anything thrown on a plain Fastify route or hook. Fastify's own
 * client errors (body too large, bad content length, …) keep their 4xx status and message;
 * anything else is a 500 whose details stay in the log.
 */
export function toHttpError(error: unknown): HttpError {
  const appError = asAppError(error);
  if (appError) return { status: appError.status, message: appError.message };
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  if (typeof status === "number" && status >= 400 && status < 500 && error instanceof Error) {
    return { status, message: error.message };
  }
  return { status: ERROR_CODES.INTERNAL.status, message: INTERNAL_MESSAGE };
}
