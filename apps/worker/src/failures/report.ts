// What a failed attempt records on its job row: a retry classification, one readable line for
// `error`, and the exit code and output tails, all with secrets redacted.
import { ProcessExitError } from "../process/run.js";
import { redactSecrets } from "../redact.js";
import { classifyFailure, type FailureClass } from "./classify.js";

/** Longest `error` line kept (characters); the full output is in last_stderr. */
const MAX_ERROR_CHARS = 1_000;

export interface FailureReport {
  classification: FailureClass;
  /** One line, e.g. `pg_dump exited with code 1: pg_dump: error: … does not exist`. */
  message: string;
  exitCode: number | null;
  stderr: string | null;
  stdout: string | null;
}

export function describeFailure(error: unknown, secrets: ReadonlyArray<string | null | undefined>): FailureReport {
  // Redact before reshaping the text, so a secret is still matched literally.
  const clean = (text: string) => storable(redactSecrets(text, secrets));
  const classification = classifyFailure(error);
  // A verification failure caused by a tool (pg_restore) keeps that tool's exit code and output.
  const processError = error instanceof ProcessExitError ? error : error instanceof Error && error.cause instanceof ProcessExitError ? error.cause : null;
  if (processError) {
    const cause = error === processError ? stderrSummary(processError.stderrTail) : "";
    const message = error === processError ? processError.message : (error as Error).message;
    return {
      classification,
      message: oneLine(clean(cause ? `${message}: ${cause}` : message)),
      exitCode: processError.exitCode,
      stderr: clean(processError.stderrTail),
      stdout: processError.stdoutTail === null ? null : clean(processError.stdoutTail),
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { classification, message: oneLine(clean(message)), exitCode: null, stderr: null, stdout: null };
}

/** The line of a tool's stderr that says what went wrong: its first error, else its last line. */
export function stderrSummary(stderr: string): string {
  const lines = stderr
    .split("\n")
    .map((line) => line.trim())
    .filter(Boolean);
  return lines.find((line) => /\b(error|fatal|panic):/i.test(line)) ?? lines.at(-1) ?? "";
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > MAX_ERROR_CHARS ? `${line.slice(0, MAX_ERROR_CHARS - 1)}…` : line;
}

/** Postgres text columns cannot hold NUL characters. */
function storable(text: string): string {
  return text.replaceAll("\u0000", "");
}
