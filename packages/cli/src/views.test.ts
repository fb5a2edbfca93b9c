// Pure rendering and error mapping, without a server: the parts the end-to-end CLI test cannot
// reach on demand (a pg_dump stderr tail, progress fields, non-API answers).

import type { Job } from "@capy/contracts";
import { CapyApiError } from "@capy/sdk";
import { TRPCClientError } from "@trpc/client";
import { describe, expect, it } from "vitest";
import { nextRun } from "./commands/schedule.js";
import { safeFilename } from "./download.js";
import { describeFailure, EXIT } from "./errors.js";
import { failureReport, statusText } from "./jobs-view.js";
import { humanBytes, humanDuration } from "./output.js";

const job: Job = {
  id: "job_1",
  type: "backup",
  state: "failed",
  attempts: 3,
  max_attempts: 3,
  claimed_at: null,
  claimed_by: "worker-1",
  cluster_id: "cls_1",
  locked_resource: "database:cls_1/shop",
  preview_database_id: null,
  retry_classification: "transient",
  last_exit_code: 1,
  last_stdout: null,
  last_stderr: Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join("\n"),
  error: "pg_dump exited with code 1",
  started_at: null,
  completed_at: null,
  organization_id: "org_1",
  project_id: "prj_1",
  created_at: "2026-01-01T00:00:00.000Z",
  updated_at: "2026-01-01T00:00:00.000Z",
};

describe("job views", () => {
  it("reports a failed job with its error, exit code and the last 20 stderr lines", () => {
    const report = failureReport(job);
    expect(report.split("\n")[0]).toBe("job job_1 failed after 3/3 attempts (transient): pg_dump exited with code 1");
    expect(report).toContain("exit code: 1\nstderr (last lines):\n  line 11\n");
    expect(report).not.toContain("line 10\n");
    expect(report.endsWith("  line 30")).toBe(true);
  });

  it("shows phase and bytes when a job exposes them, and degrades without", () => {
    expect(statusText({ ...job, state: "pending", attempts: 0 })).toBe("pending (queued)");
    expect(statusText({ ...job, state: "running", attempts: 1 })).toBe("running (attempt 1/3)");
    expect(statusText({ ...job, state: "running", attempts: 1, phase: "dumping", progress_bytes: 5 * 1024 * 1024 })).toBe(
      "running (attempt 1/3, dumping, 5.0 MiB)",
    );
    expect(statusText({ ...job, state: "completed" })).toBe("completed");
  });

  it("formats sizes and durations", () => {
    expect([humanBytes(0), humanBytes(1023), humanBytes(1536), humanBytes(200 * 1024 ** 3), humanBytes(null)]).toEqual([
      "0 B",
      "1023 B",
      "1.5 KiB",
      "200 GiB",
      "-",
    ]);
    expect([humanDuration(4_000), humanDuration(65_000), humanDuration(3_700_000)]).toEqual(["4s", "1m05s", "1h01m"]);
  });

  it("never writes outside the current directory because of a server-sent file name", () => {
    expect(safeFilename("../../etc/passwd", "bkp_1")).toBe("passwd");
    expect(safeFilename("..", "bkp_1")).toBe("bkp_1.dump");
    expect(safeFilename(null, "bkp_1")).toBe("bkp_1.dump");
    expect(safeFilename("shop-2026.dump", "bkp_1")).toBe("shop-2026.dump");
  });
});

describe("describeFailure", () => {
  const url = "http://capy.test";
  const trpcError = (status: number, message: string) => TRPCClientError.from({ error: { code: -32000, message, data: { httpStatus: status } } });

  it("maps statuses to distinct exit codes", () => {
    expect(describeFailure(trpcError(401, "invalid API key"), url).exitCode).toBe(EXIT.UNAUTHORIZED);
    expect(describeFailure(trpcError(403, "missing scope jobs:read"), url)).toEqual({
      message: "permission denied (403): missing scope jobs:read. The API key lacks the scope this command needs.",
      exitCode: EXIT.FORBIDDEN,
    });
    expect(describeFailure(new CapyApiError("backup not found", 404), url)).toEqual({ message: "not found (404): backup not found", exitCode: EXIT.NOT_FOUND });
    expect(describeFailure(trpcError(409, "conflict"), url)).toEqual({ message: "the Capy API answered 409: conflict", exitCode: EXIT.ERROR });
  });

  it("reads status, message and Retry-After from a non-tRPC answer", () => {
    const error = TRPCClientError.from(new Error("Unexpected response"), {
      meta: { response: new Response(null, { status: 429, headers: { "retry-after": "42" } }), responseJSON: { error: "rate limit exceeded" } },
    });
    expect(describeFailure(error, url)).toEqual({ message: "rate limited (429): rate limit exceeded. Retry after 42 s.", exitCode: EXIT.RATE_LIMITED });
  });

  it("names the URL when the server cannot be reached", () => {
    const refused = new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }) });
    expect(describeFailure(TRPCClientError.from(refused), url)).toEqual({
      message: "cannot reach the Capy API at http://capy.test: connection refused",
      exitCode: EXIT.UNREACHABLE,
    });
  });

  it("explains an answer that is not the API's", () => {
    const failure = describeFailure(TRPCClientError.from(new SyntaxError("Unexpected token '<'")), url);
    expect(failure.exitCode).toBe(EXIT.ERROR);
    expect(failure.message).toMatch(/^unexpected answer from http:\/\/capy.test \(is CAPY_API_URL the Capy API's base URL\?\)/);
  });
});

describe("nextRun", () => {
  it("is later today when the time has not passed, else tomorrow (UTC)", () => {
    const now = new Date("2026-03-31T10:30:00Z");
    expect(nextRun(11, 0, now).toISOString()).toBe("2026-03-31T11:00:00.000Z");
    expect(nextRun(10, 30, now).toISOString()).toBe("2026-04-01T10:30:00.000Z");
    expect(nextRun(3, 5, now).toISOString()).toBe("2026-04-01T03:05:00.000Z");
  });
});
