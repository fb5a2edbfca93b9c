// Recognises "the metadata database cannot be reached" among the errors Prisma, its pg driver
// adapter and node-postgres throw, so errors.ts can answer 503 instead of 500. Connection-level
// failures only: a query that the database rejects (constraint, syntax) is not one of them.

/** Prisma error codes of connection failures (P1001 unreachable, P1002 timed out, P1008 operation timed out, P1017 server closed the connection, P2024 pool timeout). */
const PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024"]);

/** Kinds @prisma/adapter-pg gives socket failures (its DriverAdapterError cause). */
const ADAPTER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);

/**
 * SQLSTATEs of a server going away or refusing work: 57P01-57P03 admin/crash shutdown or
 * "cannot connect now", class 08 connection exceptions, 53300 too many connections.
 */
const SQLSTATES = new Set(["57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006", "53300"]);

const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);

const MESSAGES =
  /can't reach database server|connection terminated|timeout exceeded when trying to connect|terminating connection due to|the database system is (starting up|shutting down|in recovery mode)|connection (closed|refused)|server closed the connection|timed out fetching a new connection|client has encountered a connection error/i;

interface ErrorLike {
  code?: unknown;
  kind?: unknown;
  message?: unknown;
  cause?: unknown;
  meta?: { driverAdapterError?: unknown };
}

/** True when `error` (or anything it wraps) says the database is unreachable or went away. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const current = queue.shift();
    if (current === null || typeof current !== "object" || seen.has(current)) continue;
    seen.add(current);
    const e = current as ErrorLike;
    if (typeof e.code === "string" && (PRISMA_CODES.has(e.code) || SQLSTATES.has(e.code) || SOCKET_CODES.has(e.code))) return true;
    if (typeof e.kind === "string" && ADAPTER_KINDS.has(e.kind)) return true;
    if (typeof e.message === "string" && MESSAGES.test(e.message)) return true;
    queue.push(e.cause, e.meta?.driverAdapterError);
  }
  return false;
}
