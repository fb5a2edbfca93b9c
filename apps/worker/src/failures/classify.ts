// Retry decisions. A failure is `permanent` only when trying again cannot change the outcome;
// everything else is `transient`. Retries are bounded by max_attempts, so an unrecognised
// failure costs a few extra attempts, whereas calling a temporary failure permanent would lose
// a backup that the next attempt would have taken.
import type { RetryClassification } from "@capy/contracts";
import { ProcessExitError } from "../process/run.js";
import { ConfigurationError, ShutdownInterruptError, StorageError, VerificationFailedError, VerificationTimeoutError } from "./errors.js";

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

export function classifyFailure(error: unknown): FailureClass {
  // A backup that fails its verification fails for good; so does one too slow to verify in time.
  if (error instanceof VerificationFailedError) return "verification";
  if (error instanceof VerificationTimeoutError) return "timeout";
  if (error instanceof ConfigurationError) return "permanent";
  // Storage trouble (disk full, I/O errors, an unreachable bucket) and shutdowns pass.
  if (error instanceof StorageError || error instanceof ShutdownInterruptError) return "transient";
  const text = error instanceof ProcessExitError ? error.stderrTail : error instanceof Error ? error.message : String(error);
  return PERMANENT_PATTERNS.some((pattern) => pattern.test(text)) ? "permanent" : "transient";
}
