// The metadata database may be briefly unreachable (a restart, a failover, a dropped
// connection). A worker's status writes (claim, phase, failure, completion, cancel) then retry
// with capped exponential backoff and jitter for a bounded time, so a short outage converges once
// the database is back instead of leaving the job behind. A longer outage gives up: the attempt
// fails, its heartbeat stops, and the job reconciler puts the row back once its heartbeat is stale.
import type { Logger } from "../logger.js";

/** How long a status write keeps retrying through an outage (ms). */
export const DB_RETRY_MAX_MS = 60_000;
/** First pause between tries; doubles each time (ms). */
const DB_RETRY_BASE_MS = 100;
/** Longest pause between tries (ms). */
const DB_RETRY_CAP_MS = 5_000;

/** Node socket errors, PostgreSQL's connection SQLSTATEs, Prisma's and the pg driver's messages. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "57P01", // admin_shutdown (terminating connection due to administrator command)
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down)
  "53300", // too_many_connections
  "08000",
  "08001",
  "08003",
  "08004",
  "08006",
  "P1001", // Prisma: can't reach database server
  "P1002", // Prisma: server reached but timed out
  "P1017", // Prisma: server has closed the connection
  "P2024", // Prisma: timed out fetching a connection from the pool
]);

const CONNECTION_MESSAGES = [
  /connection terminated/i,
  /connection refused/i,
  /connection reset/i,
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE/,
  /can't reach database server/i,
  /server has closed the connection/i,
  /server closed the connection unexpectedly/i,
  /terminating connection due to administrator command/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
  /too many clients already/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i,
];

/** True when `error` (or anything in its cause chain) says the connection, not the query, failed. */
export function isConnectionError(error: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current && typeof current === "object" && !seen.has(current)) {
    seen.add(current);
    const { code, message, kind, originalCode } = current as { code?: unknown; message?: unknown; kind?: unknown; originalCode?: unknown };
    for (const value of [code, originalCode]) if (typeof value === "string" && CONNECTION_CODES.has(value)) return true;
    // @prisma/adapter-pg wraps driver errors as { kind: "postgres", code } or names the kind.
    if (typeof kind === "string" && /DatabaseNotReachable|ConnectionClosed|SocketTimeout|TooManyConnections/i.test(kind)) return true;
    if (typeof message === "string" && CONNECTION_MESSAGES.some((pattern) => pattern.test(message))) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

export interface DbRetryOptions {
  log: Logger;
  /** What is being written, for the log ("claim", "complete", …). */
  what: string;
  /** Give up after this long (ms). */
  maxMs?: number;
  /** Stop retrying early (the attempt was stopped); the last error is thrown. */
  signal?: AbortSignal;
}

/**
 * Runs `write`, retrying it while it fails with a connection error, for at most `maxMs`. Other
 * errors are thrown at once. `write` must be safe to repeat: every status write is conditional
 * (fenced by the attempt's token), so a repeat of a write that did land matches nothing.
 */
export async function retryOnDisconnect<T>(write: () => Promise<T>, { log, what, maxMs = DB_RETRY_MAX_MS, signal }: DbRetryOptions): Promise<T> {
  const deadline = Date.now() + maxMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await write();
      if (attempt > 0) log.info({ write: what, tries: attempt + 1 }, "metadata database reachable again; write succeeded");
      return result;
    } catch (error) {
      if (!isConnectionError(error) || signal?.aborted) throw error;
      const pause = Math.min(DB_RETRY_CAP_MS, DB_RETRY_BASE_MS * 2 ** attempt) * (0.5 + Math.random() / 2);
      if (Date.now() + pause > deadline) {
        log.error(
          { write: what, tries: attempt + 1, err: error instanceof Error ? error.message : String(error) },
          "metadata database unreachable; giving up on the write",
        );
        throw error;
      }
      log.warn(
        { write: what, tries: attempt + 1, retry_in_ms: Math.round(pause), err: error instanceof Error ? error.message : String(error) },
        "metadata database unreachable; retrying the write",
      );
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}
