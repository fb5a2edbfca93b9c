import { describe, expect, it } from "vitest";
import { ProcessExitError } from "../process/run.js";
import { classifyFailure } from "./classify.js";
import {
  ConfigurationError,
  DumpTimeoutError,
  LeaseLostError,
  ShutdownInterruptError,
  StorageError,
  VerificationFailedError,
  VerificationTimeoutError,
} from "./errors.js";
import { describeFailure } from "./report.js";

const pgDumpFailure = (message: string, exitCode: number | null = 1, signal: NodeJS.Signals | null = null) =>
  new ProcessExitError("pg_dump", exitCode, signal, `pg_dump: error: ${message}\n`, null);

const server = 'connection to server at "db.internal" (10.0.0.5), port 5432 failed:';

describe("classifyFailure", () => {
  it.each([
    ["a wrong password", `${server} FATAL:  password authentication failed for user "app"`],
    ["another rejected authentication", `${server} FATAL:  Ident authentication failed for user "app"`],
    ["a missing password", `${server} fe_sendauth: no password supplied`],
    ["a refusing pg_hba.conf", `${server} FATAL:  no pg_hba.conf entry for host "10.0.0.9", user "app", database "app"`],
    ["a missing database", `${server} FATAL:  database "shop" does not exist`],
    ["a missing role", `${server} FATAL:  role "app" does not exist`],
    ["a missing privilege", "query failed: ERROR:  permission denied for table secrets"],
    ["a pg_dump older than the server", "aborting because of server version mismatch"],
  ])("calls %s permanent", (_name, message) => {
    expect(classifyFailure(pgDumpFailure(message))).toBe("permanent");
  });

  it("calls invalid configuration permanent", () => {
    expect(classifyFailure(new ConfigurationError("CAPY_ENCRYPTION_KEY is not set"))).toBe("permanent");
  });

  it.each([
    ["a refused connection", `${server} Connection refused\n\tIs the server running on that host and accepting TCP/IP connections?`],
    ["a reset connection", "could not receive data from server: Connection reset by peer"],
    ["a connect timeout", `${server} timeout expired`],
    ["too many connections", `${server} FATAL:  sorry, too many clients already`],
    ["reserved connection slots", `${server} FATAL:  remaining connection slots are reserved for non-replication superuser connections`],
    ["a server starting up", `${server} FATAL:  the database system is starting up`],
    ["a server crash mid-dump", 'Dumping the contents of table "t" failed: PQgetResult() failed.\nserver closed the connection unexpectedly'],
    ["an unrecognised error", "something nobody has seen before"],
  ])("calls %s transient", (_name, message) => {
    expect(classifyFailure(pgDumpFailure(message))).toBe("transient");
  });

  it("calls pg_dump killed by a signal transient", () => {
    expect(classifyFailure(new ProcessExitError("pg_dump", null, "SIGKILL", "", null))).toBe("transient");
  });

  it("calls storage failures transient, whatever their message", () => {
    const cause = Object.assign(new Error("EACCES: permission denied, open '/data/x.dump'"), { code: "EACCES" });
    expect(classifyFailure(new StorageError(cause))).toBe("transient");
    expect(classifyFailure(new StorageError(new Error("ENOSPC: no space left on device")))).toBe("transient");
  });

  it("calls a shutdown interruption transient", () => {
    expect(classifyFailure(new ShutdownInterruptError())).toBe("transient");
  });

  it("calls a failed verification `verification`, even when its words look transient, and a slow one `timeout`", () => {
    expect(classifyFailure(new VerificationFailedError("restored copy differs from the source: connection refused"))).toBe("verification");
    expect(classifyFailure(new VerificationTimeoutError(500))).toBe("timeout");
  });
});

describe("classifyFailure of connection trouble (issue 5)", () => {
  it.each([
    ["too many connections", `${server} FATAL:  too many connections for role "app"`],
    ["too many clients", `${server} FATAL:  sorry, too many clients already`],
    ["a connection reset", `${server} could not receive data from server: Connection reset by peer`],
    [
      "could not connect",
      'pg_dump: error: could not connect to server: No such file or directory\n\tIs the server running locally and accepting connections on Unix domain socket "/run/postgresql/.s.PGSQL.5432"?',
    ],
    [
      "a server gone mid-dump",
      'pg_dump: error: Dumping the contents of table "orders" failed: PQgetResult() failed.\npg_dump: error: Error message from server: server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally',
    ],
    ["a connect timeout", `${server} timeout expired`],
    ["an administrator's termination", "pg_dump: error: query failed: FATAL:  terminating connection due to administrator command"],
    ["a server shutting down", `${server} FATAL:  the database system is shutting down`],
    // A permanent-looking word inside connection trouble does not make it permanent.
    [
      "a refused connection whose host name says 'permission denied'",
      'connection to server at "permission-denied.internal" (10.0.0.5), port 5432 failed: Connection refused',
    ],
  ])("calls %s transient", (_name, message) => {
    expect(classifyFailure(pgDumpFailure(message))).toBe("transient");
  });

  it("still calls a rejected login permanent when the message also names the connection", () => {
    expect(classifyFailure(pgDumpFailure(`${server} FATAL:  password authentication failed for user "app"\nconnection to server closed`))).toBe("permanent");
    expect(classifyFailure(pgDumpFailure(`${server} FATAL:  database "shop" does not exist`))).toBe("permanent");
  });

  it("calls a dump past DUMP_TIMEOUT_MS `timeout`, and a lost lease transient", () => {
    expect(classifyFailure(new DumpTimeoutError(21_600_000))).toBe("timeout");
    expect(describeFailure(new DumpTimeoutError(500), []).message).toBe("pg_dump timed out after 500 ms (DUMP_TIMEOUT_MS) and was stopped");
    expect(classifyFailure(new LeaseLostError("database:cls_1/app"))).toBe("transient");
  });
});

describe("describeFailure of a verification failure caused by pg_restore", () => {
  it("keeps pg_restore's exit code and output under the verification's own message", () => {
    const restore = new ProcessExitError("pg_restore", 1, null, 'pg_restore: error: could not execute query: ERROR:  type "x" does not exist\n', null);
    const report = describeFailure(new VerificationFailedError("artifact does not restore: pg_restore failed", { cause: restore }), []);
    expect(report).toEqual({
      classification: "verification",
      message: "artifact does not restore: pg_restore failed",
      exitCode: 1,
      stderr: 'pg_restore: error: could not execute query: ERROR:  type "x" does not exist\n',
      stdout: null,
    });
  });
});
