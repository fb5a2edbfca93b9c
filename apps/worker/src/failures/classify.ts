// Retry decisions. A failure is `permanent` only when trying again cannot change the outcome;
// everything else is `transient`. Retries are bounded by max_attempts, so an unrecognised
// failure costs a few extra attempts, whereas calling a temporary failure permanent would lose
// a backup that the next attempt would have taken.
import type { RetryClassification } from "@capy/contracts";
import { ProcessExitError } from "../process/run.js";
import {
  ConfigurationError,
  DumpTimeoutError,
  LeaseLostError,
  RestoreTimeoutError,
  ShutdownInterruptError,
  StorageError,
  VerificationFailedError,
  VerificationTimeoutError,
} from "./errors.js";

export type FailureClass = Extract<RetryClassification, "permanent" | "transient" | "verification" | "timeout">;

/** Messages (from libpq, the server or pg_dump) that the same request will keep getting. */
const PERMANENT_PATTERNS: readonly RegExp[] = [
  /authentication failed/i, // password, SCRAM, ident or peer authentication rejected
  /no password supplied/i, // the server wants a password the project does not have
  /no pg_hba\.conf entry/i, // the server refuses this client outright
  /database ".*" does not exist/i,
  /role ".*" does not exist/i,
  /permission denied/i, // the project's role may not read something the dump needs
  /server version mismatch/i, // pg_dump is older than the server: PG_BIN_DIR needs a newer one
];

/** Messages of failures that a later attempt may not meet: the connection, not the request. */
const TRANSIENT_PATTERNS: readonly RegExp[] = [
  /connection refused/i,
  /connection reset/i,
  /could not connect to server/i,
  /server closed the connection unexpectedly/i,
  /timeout expired/i,
  /too many (clients|connections)/i,
  /remaining connection slots are reserved/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
  /terminating connection due to administrator command/i,
  /could not receive data from server/i,
  /could not send data to server/i,
  /no route to host|network is unreachable|could not translate host name/i,
];

/** Server answers that settle the matter even when a connection phrase is also present. */
const AUTHORITATIVE_PERMANENT: readonly RegExp[] = [
  /authentication failed/i,
  /database ".*" does not exist/i,
  /role ".*" does not exist/i,
  /no pg_hba\.conf entry/i,
];

export function classifyFailure(error: unknown): FailureClass {
  // A backup that fails its verification fails for good; so does one too slow to verify in time.
  if (error instanceof VerificationFailedError) return "verification";
  if (error instanceof VerificationTimeoutError) return "timeout";
  // A dump past DUMP_TIMEOUT_MS is not retried (see DumpTimeoutError).
  if (error instanceof DumpTimeoutError || error instanceof RestoreTimeoutError) return "timeout";
  if (error instanceof ConfigurationError) return "permanent";
  // Storage trouble (disk full, I/O errors, an unreachable bucket) and shutdowns pass.
  if (error instanceof StorageError || error instanceof ShutdownInterruptError || error instanceof LeaseLostError) return "transient";
  // Connection trouble (refused, reset, timeouts, too many connections, a server restarting) is
  // transient by name, even if a permanent-looking phrase appears beside it.
  const connectionText = error instanceof ProcessExitError ? error.stderrTail : error instanceof Error ? error.message : String(error);
  if (TRANSIENT_PATTERNS.some((pattern) => pattern.test(connectionText)) && !AUTHORITATIVE_PERMANENT.some((pattern) => pattern.test(connectionText)))
    return "transient";
  const text = error instanceof ProcessExitError ? error.stderrTail : error instanceof Error ? error.message : String(error);
  return PERMANENT_PATTERNS.some((pattern) => pattern.test(text)) ? "permanent" : "transient";
}
