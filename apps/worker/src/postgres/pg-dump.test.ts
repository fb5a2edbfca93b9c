// pg_dump against a private server with password authentication: the password reaches pg_dump
// only through the passfile, which is gone afterwards, and the archive lands whole in storage.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import {
  type ChildStage,
  encryptingPlan,
  findExecutable,
  parseCompressionSetting,
  pathDirs,
  resolveAge,
  resolveZstd,
  StageFailedError,
  type WritePlan,
  writePlan,
} from "@capy/artifact";
import { parsePostgresUrl } from "@capy/db";
import { FilesystemStorage, type StoredObject } from "@capy/storage";
import { type PrivatePostgres, run, startPrivatePostgres, waitFor } from "@capy/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyFailure } from "../failures/classify.js";
import { ConfigurationError, StorageError } from "../failures/errors.js";
import { ProcessExitError, ProcessRunner, type ProcessSpec, type StartOptions } from "../process/run.js";
import { type DumpTarget, dumpToStorage, pgDumpSpec, withStdoutBuffer } from "./pg-dump.js";
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
const zstd = resolveZstd(process.env.PATH ?? "");
const stdbuf = findExecutable("stdbuf", pathDirs(process.env.PATH ?? ""));
/** pg_dump 15 here: gzip inside the archive, or zstd around an uncompressed one. */
const gzipPlan = writePlan(parseCompressionSetting("gzip:6"), { pgDumpMajor: 15, zstd });
const zstdPlan = writePlan(parseCompressionSetting("zstd:1"), { pgDumpMajor: 15, zstd });

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

  it("runs pg_dump through stdbuf with a 1 MiB stdout buffer when there is a stdbuf, named pg_dump in errors", () => {
    const spec = pgDumpSpec("/usr/bin/pg_dump", target, "/tmp/x/pgpass");
    expect(withStdoutBuffer(spec, "/usr/bin/stdbuf")).toEqual({
      ...spec,
      command: "/usr/bin/stdbuf",
      args: ["-o", "1M", "/usr/bin/pg_dump", ...spec.args],
      name: "pg_dump",
    });
    expect(withStdoutBuffer(spec, null)).toBe(spec);
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
    const result = await dumpToStorage({ runner, pgDump, plan: gzipPlan, target, storage, key, signal: new AbortController().signal });

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
    const error = await dumpToStorage({
      runner,
      pgDump,
      plan: zstdPlan,
      target: { ...target, password: "wrong" },
      storage,
      key,
      signal: new AbortController().signal,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProcessExitError);
    expect((error as ProcessExitError).exitCode).toBe(1);
    expect((error as ProcessExitError).stderrTail).toContain('password authentication failed for user "postgres"');
    expect(classifyFailure(error)).toBe("permanent");
    expect(existsSync(runner.specs[0]!.env.PGPASSFILE!)).toBe(false);
  });

  it.each([
    ["reading the stream (put, as S3 does)", "put"],
    ["reading back what the last stage wrote (putWritten)", "putWritten"],
  ] as const)("stops pg_dump and reports a storage failure when storage gives up %s", async (_how, method) => {
    // Fails on the first bytes, as a full disk would.
    const enospc = new Error("ENOSPC: no space left on device");
    class FullDisk extends FilesystemStorage {
      override async put(_key: string, body: Readable): Promise<StoredObject> {
        body.destroy();
        throw enospc;
      }

      override putWritten(key: string, write: (fd: number, signal: AbortSignal) => Promise<void>): Promise<StoredObject> {
        return super.putWritten(key, write, () => {
          throw enospc;
        });
      }
    }
    const failing = method === "put" ? Object.assign(new FullDisk(storageDir), { putWritten: undefined }) : new FullDisk(storageDir);
    const runner = new RecordingRunner();
    const key = `projects/prj_test/backups/bkp_full_${method}.dump`;
    const error = await dumpToStorage({ runner, pgDump, plan: zstdPlan, target, storage: failing, key, signal: new AbortController().signal }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StorageError);
    expect((error as Error).message).toBe("storage failed: ENOSPC: no space left on device");
    expect(classifyFailure(error)).toBe("transient");
    expect(runner.running).toBe(0);
    expect(existsSync(runner.specs[0]!.env.PGPASSFILE!)).toBe(false);
    expect(existsSync(path.join(storageDir, key))).toBe(false);
  });

  it("lets the last process write the file storage keeps: pg_dump, zstd or age, never this process", async () => {
    class CountingStorage extends FilesystemStorage {
      puts = 0;

      override put(key: string, body: Readable): Promise<StoredObject> {
        this.puts++;
        return super.put(key, body);
      }
    }
    const counting = new CountingStorage(storageDir);
    const age = resolveAge(process.env.PATH ?? "").age;
    const recipient = (await run("age-keygen", [])).stdout.match(/public key: (age1\w+)/)![1]!;
    const plans = { gzip: gzipPlan, zstd: zstdPlan, "zstd+age": encryptingPlan(zstdPlan, age) };
    // What each artifact starts with: the archive's, zstd's and age's magic.
    const magic = { gzip: "PGDMP", zstd: "\x28\xb5\x2f\xfd", "zstd+age": "age-encryption.org/v1" };
    for (const [name, plan] of Object.entries(plans) as [keyof typeof plans, WritePlan][]) {
      const key = `projects/prj_test/backups/bkp_written_${name.replace("+", "_")}.dump`;
      const progress: number[] = [];
      const result = await dumpToStorage({
        runner: new RecordingRunner(),
        pgDump,
        plan,
        recipients: [recipient],
        target,
        storage: counting,
        key,
        signal: new AbortController().signal,
        onProgress: (bytes) => progress.push(bytes),
      });
      const stored = await readFile(path.join(storageDir, key));
      expect(stored.subarray(0, magic[name].length).toString("latin1")).toBe(magic[name]);
      expect(result.stored).toEqual({ key, sizeBytes: stored.length, sha256: createHash("sha256").update(stored).digest("hex") });
      expect(progress.at(-1)).toBe(stored.length);
    }
    expect(counting.puts).toBe(0);
  });

  it("reports a plan that cannot start as itself, not as storage's failure, and stores nothing", async () => {
    const age = resolveAge(process.env.PATH ?? "").age;
    const runner = new RecordingRunner();
    const key = "projects/prj_test/backups/bkp_no_recipients.dump";
    const plan = encryptingPlan(zstdPlan, age);
    const error = await dumpToStorage({ runner, pgDump, plan, recipients: [], target, storage, key, signal: new AbortController().signal }).catch(
      (e: unknown) => e,
    );
    expect(error).not.toBeInstanceOf(StorageError);
    expect((error as Error).message).toBe("an encrypted artifact needs at least one recipient");
    expect(runner.specs).toEqual([]);
    expect(existsSync(path.join(storageDir, key))).toBe(false);
  });

  it("compresses with zstd around an uncompressed archive, recording how", async () => {
    const runner = new RecordingRunner();
    const key = "projects/prj_test/backups/bkp_zstd.dump";
    const result = await dumpToStorage({ runner, pgDump, plan: zstdPlan, target, storage, key, signal: new AbortController().signal });

    expect(runner.specs[0]!.args.slice(0, 2)).toEqual(["-Fc", "-Z0"]);
    const stored = await readFile(path.join(storageDir, key));
    expect(stored.readUInt32LE(0)).toBe(0xfd2fb528); // the zstd frame magic number
    expect(result.stored).toEqual({ key, sizeBytes: stored.length, sha256: createHash("sha256").update(stored).digest("hex") });
    const decoded = path.join(storageDir, "decoded.dump");
    await run(zstd, ["-q", "-d", "-f", path.join(storageDir, key), "-o", decoded]);
    const archive = await readFile(decoded);
    expect(archive.subarray(0, 5).toString()).toBe("PGDMP");
    // Uncounted (pg_dump wrote into zstd directly); verification records it.
    expect(archive.length).toBeGreaterThan(stored.length);
    expect(result).toMatchObject({
      archiveSizeBytes: null,
      encoding: { compression: "zstd", compressionLevel: 1, archiveFormat: "custom", storedEncoding: "zstd" },
    });
    expect(runner.running).toBe(0);
  });

  it("through stdbuf: the archive pg_dump writes alone, and a failure is still pg_dump's", async () => {
    /** The rows of a stored zstd artifact, as pg_restore prints them. */
    const dataOf = async (key: string) => {
      const decoded = path.join(storageDir, `${path.basename(key)}.decoded`);
      await run(zstd, ["-q", "-d", "-f", path.join(storageDir, key), "-o", decoded]);
      // Less the \restrict key each pg_restore script is given at random.
      return (await run("pg_restore", ["--data-only", "-f", "-", decoded])).stdout.replace(/^\\(un)?restrict .*$/gm, "");
    };
    const signal = new AbortController().signal;
    const runner = new RecordingRunner();
    await dumpToStorage({ runner, pgDump, stdbuf, plan: zstdPlan, target, storage, key: "projects/prj_test/backups/bkp_stdbuf.dump", signal });
    await dumpToStorage({ runner, pgDump, plan: zstdPlan, target, storage, key: "projects/prj_test/backups/bkp_plain.dump", signal });
    expect(runner.specs.map((spec) => spec.command)).toEqual([stdbuf, pgDump]);
    const rows = await dataOf("projects/prj_test/backups/bkp_stdbuf.dump");
    expect(rows).toContain("COPY public.items (id, name) FROM stdin;");
    expect(rows).toBe(await dataOf("projects/prj_test/backups/bkp_plain.dump"));

    const key = "projects/prj_test/backups/bkp_stdbuf_wrong.dump";
    const error = await dumpToStorage({ runner, pgDump, stdbuf, plan: zstdPlan, target: { ...target, password: "wrong" }, storage, key, signal }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ProcessExitError);
    expect((error as ProcessExitError).message).toBe("pg_dump exited with code 1");
    expect((error as ProcessExitError).stderrTail).toContain("password authentication failed");
  });

  it("fails with the compressor's own error when zstd is killed mid-dump, stopping pg_dump", async () => {
    // pg_dump waits for this lock, so zstd is killed while the dump is under way.
    const blocker = new pg.Client({ connectionString: server.url });
    await blocker.connect();
    await blocker.query("BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE");
    let stage: ChildStage | null = null;
    const spied: WritePlan = {
      ...zstdPlan,
      start: (recipients, output) => {
        const write = zstdPlan.start(recipients, output);
        stage = write.direct;
        return write;
      },
    };
    const runner = new RecordingRunner();
    const key = "projects/prj_test/backups/bkp_zstd_killed.dump";
    const dumping = dumpToStorage({ runner, pgDump, plan: spied, target, storage, key, signal: new AbortController().signal }).catch((e: unknown) => e);
    try {
      await waitFor(async () => (stage?.pid !== undefined && runner.running === 1 ? true : undefined), { timeoutMs: 10_000, what: "zstd and pg_dump running" });
      process.kill(stage!.pid!, "SIGKILL");
      const error = await dumping;
      expect(error).toBeInstanceOf(StageFailedError);
      expect((error as Error).message).toBe("compression failed: zstd was killed by SIGKILL");
      expect(classifyFailure(error)).toBe("transient");
      expect(runner.running).toBe(0);
      // Nothing under the key: storage saw its body fail.
      expect(existsSync(path.join(storageDir, key))).toBe(false);
    } finally {
      await blocker.query("ROLLBACK");
      await blocker.end();
    }
  });
});
