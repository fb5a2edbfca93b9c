// One vitest run = one tag (CAPY_TEST_RUN, set by the global setup before the test processes
// fork, so they inherit it). Database names and Redis prefixes made by the helpers carry it, and
// the global teardown drops every database of the run, its template too, and deletes its keys,
// even those a failed or interrupted test file never got to remove; the next run removes those
// of a run killed before its teardown (global-setup.ts). Outside vitest (benchmarks) there is
// no tag.
import { randomBytes } from "node:crypto";

const TEST_RUN_ENV = "CAPY_TEST_RUN";

/** A run's tag, as a regular expression's source: "r" and 8 hex digits (beginTestRun). */
export const RUN_TAG_PATTERN = "r[0-9a-f]{8}";

export function currentTestRun(): string | undefined {
  return process.env[TEST_RUN_ENV] || undefined;
}

/** Starts a run: a fresh tag for this process and the test processes it forks. */
export function beginTestRun(): string {
  const run = `r${randomBytes(4).toString("hex")}`;
  process.env[TEST_RUN_ENV] = run;
  return run;
}
