// pg_dump against a private server with password authentication: the password reaches pg_dump
// only through the passfile, which is gone afterwards, and the archive lands whole in storage.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parsePostgresUrl } from "@capy/db";
import { FilesystemStorage, type StoredObject } from "@capy/storage";
import { startPrivatePostgres, type PrivatePostgres } from "@capy/testing";
import { classifyFailure } from "../failures/classify.js";
import { ConfigurationError, StorageError } from "../failures/errors.js";
import { ProcessExitError, ProcessRunner, type ProcessSpec, type StartOptions } from "../process/run.js";
import { dumpToStorage, pgDumpSpec, type DumpTarget } from "./pg-dump.js";
import { resolvePgTool } from "./tools.js";

/** Remembers every command it was asked to run, as the real runner would run it. */
class RecordingRunner extends ProcessRunner {
  readonly specs: ProcessSpec[] = [];

  override start(spec: ProcessSpec, options: StartOptions) {
    this.specs.push(spec);
    return super.start(spec, options);
  }
}

// `:` and `\` need escaping in a passfile; the rest must simply survive.
const PASSWORD = "s3cret:with\\odd 'chars'";
const pgDump = resolvePgTool("pg_dump", { binDir: undefined, searchPath: process.env.PATH ?? "" });

let server: PrivatePostgres;
let target: DumpTarget;
let storageDir: string;
let storage: FilesystemStorage;

beforeAll(async () => {
  server = await startPrivatePostgres({ password: PASSWORD });
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    await client.query("CREATE TABLE items AS SELECT g AS id, md5(g::text) AS name FROM generate_series(1, 1000) g");
  } finally {
    await client.end();
  }
  const { host, port, user, database } = parsePostgresUrl(server.url);
  target = { host, port, user, database, password: PASSWORD };
  storageDir = await mkdtemp(path.join(os.tmpdir(), "capy-dump-test-"));
  storage = new FilesystemStorage(storageDir);
});

afterAll(async () => {
  await server?.stop();
  if (storageDir) await rm(storageDir, { recursive: true, force: true });
});

function expectNoPassword(spec: ProcessSpec): void {
  expect(spec.args.join(" ")).not.toContain(PASSWORD);
  for (const value of Object.values(spec.env)) expect(value).not.toContain(PASSWORD);
  expect(Object.keys(spec.env)).not.toContain("PGPASSWORD");
}

describe("pgDumpSpec", () => {
  it("connects with discrete arguments and a passfile, never the password", () => {
    const spec = pgDumpSpec("/usr/bin/pg_dump", target, "/tmp/x/pgpass");
    expect(spec.args).toEqual(["-Fc", "--no-password", "-h", target.host, "-p", String(target.port), "-U", "postgres", "-d", "postgres"]);
    expect(spec.env).toEqual({ PGPASSFILE: "/tmp/x/pgpass", PGCONNECT_TIMEOUT: "10", PGAPPNAME: "capy-backups", LC_ALL: "C" });
    expectNoPassword(spec);
  });

  it("refuses database names libpq would read as connection strings", () => {
    for (const database of ["host=evil dbname=x", "postgresql://evil/x"]) {
      expect(() => pgDumpSpec("/usr/bin/pg_dump", { ...target, database }, "/tmp/x/pgpass")).toThrow(ConfigurationError);
    }
  });
});

describe("dumpToStorage", () => {
  it("streams the archive into storage with the password only in a passfile that is gone afterwards", async () => {
    const runner = new RecordingRunner();
    const key = "projects/prj_test/backups/bkp_ok.dump";
    const result = await dumpToStorage({ runner, pgDump, target, storage, key, signal: new AbortController().signal });

    const artifact = await readFile(path.join(storageDir, key));
    expect(artifact.subarray(0, 5).toString()).toBe("PGDMP"); // custom-format archive
    expect(result.stored).toEqual({ key, sizeBytes: artifact.length, sha256: createHash("sha256").update(artifact).digest("hex") });

    const [spec] = runner.specs;
    expectNoPassword(spec!);
    expect(existsSync(spec!.env.PGPASSFILE!)).toBe(false);
    expect(existsSync(path.dirname(spec!.env.PGPASSFILE!))).toBe(false);
    expect(runner.running).toBe(0);
  });

  it("fails with pg_dump's own message on a wrong password, and still removes the passfile", async () => {
    const runner = new RecordingRunner();
    const key = "projects/prj_test/backups/bkp_wrong.dump";
    const error = await dumpToStorage({ runner, pgDump, target: { ...target, password: "wrong" }, storage, key, signal: new AbortController().signal }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProcessExitError);
    expect((error as ProcessExitError).exitCode).toBe(1);
    expect((error as ProcessExitError).stderrTail).toContain('password authentication failed for user "postgres"');
    expect(classifyFailure(error)).toBe("permanent");
    expect(existsSync(runner.specs[0]!.env.PGPASSFILE!)).toBe(false);
  });

  it("stops pg_dump and reports a storage failure when storage gives up", async () => {
    // Fails on the first bytes, as a full disk would.
    class FullDisk extends FilesystemStorage {
      override async put(_key: string, body: Readable): Promise<StoredObject> {
        body.destroy();
        throw new Error("ENOSPC: no space left on device");
      }
    }
    const failing = new FullDisk(storageDir);
    const runner = new RecordingRunner();
    const error = await dumpToStorage({ runner, pgDump, target, storage: failing, key: "projects/prj_test/backups/bkp_full.dump", signal: new AbortController().signal }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toBe("storage failed: ENOSPC: no space left on device");
    expect(classifyFailure(error)).toBe("transient");
    expect(runner.running).toBe(0);
    expect(existsSync(runner.specs[0]!.env.PGPASSFILE!)).toBe(false);
  });
});
