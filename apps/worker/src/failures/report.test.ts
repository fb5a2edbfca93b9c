import { describe, expect, it } from "vitest";
import { ProcessExitError } from "../process/run.js";
import { REDACTED } from "../redact.js";
import { ConfigurationError } from "./errors.js";
import { describeFailure, stderrSummary } from "./report.js";

describe("describeFailure", () => {
  it("turns a pg_dump failure into one readable line plus its output", () => {
    const stderr = 'pg_dump: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "shop" does not exist\n';
    const report = describeFailure(new ProcessExitError("pg_dump", 1, null, stderr, null), []);
    expect(report).toEqual({
      classification: "permanent",
      message: 'pg_dump exited with code 1: pg_dump: error: connection to server at "127.0.0.1", port 5432 failed: FATAL: database "shop" does not exist',
      exitCode: 1,
      stderr,
      stdout: null,
    });
  });

  it("redacts secrets from the message and the output tails", () => {
    const stderr = "pg_dump: error: invalid connection option: password=hunter2 (hunter2)\n\u0000";
    const report = describeFailure(new ProcessExitError("pg_dump", 1, null, stderr, "hunter2 on stdout"), ["hunter2"]);
    for (const text of [report.message, report.stderr, report.stdout]) {
      expect(text).not.toContain("hunter2");
      expect(text).toContain(REDACTED);
    }
    expect(report.stderr).not.toContain("\u0000");
  });

  it("names the signal when pg_dump was killed", () => {
    const report = describeFailure(new ProcessExitError("pg_dump", null, "SIGKILL", "", null), []);
    expect(report.message).toBe("pg_dump was killed by SIGKILL");
    expect(report.exitCode).toBeNull();
  });

  it("describes other errors by their message alone", () => {
    const report = describeFailure(new ConfigurationError("CAPY_ENCRYPTION_KEY is not set"), []);
    expect(report).toEqual({ classification: "permanent", message: "CAPY_ENCRYPTION_KEY is not set", exitCode: null, stderr: null, stdout: null });
  });
});

describe("stderrSummary", () => {
  it("picks the first error line over warnings and details", () => {
    const stderr = "pg_dump: warning: something minor\npg_dump: error: query failed: ERROR:  boom\npg_dump: detail: Query was: SELECT 1\n";
    expect(stderrSummary(stderr)).toBe("pg_dump: error: query failed: ERROR:  boom");
  });

  it("falls back to the last line", () => {
    expect(stderrSummary("first\nlast\n\n")).toBe("last");
    expect(stderrSummary("")).toBe("");
  });
});
