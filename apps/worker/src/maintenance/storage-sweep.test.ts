// The storage recovery sweep against real backends: s3rver (startS3Server) and a temp directory.
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { FilesystemStorage, type S3Config, S3Storage } from "@capy/storage";
import { S3RVER_CREDENTIALS, type S3TestServer, startS3Server, waitFor } from "@capy/testing";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadWorkerEnv } from "../env.js";
import { startStorageSweep, sweepStorageOnce } from "./storage-sweep.js";

const MiB = 1024 * 1024;
const HOUR = 3_600_000;

function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

let server: S3TestServer;
let root: string;

beforeAll(async () => {
  server = await startS3Server();
  root = await mkdtemp(path.join(tmpdir(), "capy-sweep-"));
});

afterAll(async () => {
  await server?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

function s3Config(endpoint = server.endpoint): S3Config {
  return { endpoint, region: "us-east-1", bucket: server.bucket, ...S3RVER_CREDENTIALS, forcePathStyle: true, keyPrefix: "sweep" };
}

describe("sweepStorageOnce", () => {
  it("S3: aborts incomplete multipart uploads older than the minimum age, never younger ones", async () => {
    const storage = new S3Storage(s3Config(), { partSizeBytes: 5 * MiB, queueSize: 1 });
    try {
      // An upload in flight: one part sent, the body still open (a writer that stopped mid-upload).
      const body = new PassThrough();
      const put = storage.put("projects/p1/backups/b1.dump", body);
      const settled = put.then(
        () => "stored",
        (error: Error) => error.name,
      );
      body.write(Buffer.alloc(6 * MiB, 1));
      const [pending] = await waitFor(
        async () => {
          const uploads = await server.pendingUploads("sweep/");
          return uploads.length > 0 ? uploads : undefined;
        },
        { what: "a multipart upload to start" },
      );
      expect(pending?.key).toBe("sweep/projects/p1/backups/b1.dump");

      // Younger than 6 h: spared.
      expect(await sweepStorageOnce(storage, 6 * HOUR)).toEqual({ backend: "s3", removed: [] });
      expect(await server.pendingUploadIds()).toEqual([pending?.uploadId]);
      // Seven hours later it is a leftover.
      expect(await sweepStorageOnce(storage, 6 * HOUR, new Date(Date.now() + 7 * HOUR))).toEqual({
        backend: "s3",
        removed: ["projects/p1/backups/b1.dump"],
      });
      expect(await server.pendingUploads()).toEqual([]);

      // The writer (had it survived) fails instead of completing: nothing becomes visible.
      body.end(Buffer.alloc(1 * MiB, 2));
      expect(await settled).not.toBe("stored");
      expect(await server.objectKeys("sweep/")).toEqual([]);
    } finally {
      await storage.close();
    }
  });

  it("filesystem: removes .partial files older than the minimum age", async () => {
    const storage = new FilesystemStorage(path.join(root, "once"));
    const dir = path.join(storage.root, "projects/p1/backups");
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "b1.dump.123.x.partial"), "half");
    expect(await sweepStorageOnce(storage, 6 * HOUR)).toEqual({ backend: "filesystem", removed: [] });
    expect(await sweepStorageOnce(storage, 6 * HOUR, new Date(Date.now() + 7 * HOUR))).toEqual({
      backend: "filesystem",
      removed: ["projects/p1/backups/b1.dump.123.x.partial"],
    });
    expect(await readdir(dir)).toEqual([]);
  });
});

describe("startStorageSweep", () => {
  it("sweeps at start and then every interval until stopped", async () => {
    const storage = new FilesystemStorage(path.join(root, "periodic"));
    const dir = path.join(storage.root, "projects/p1/backups");
    await mkdir(dir, { recursive: true });
    const leaveStale = async (name: string) => {
      const file = path.join(dir, name);
      await writeFile(file, "half");
      const old = new Date(Date.now() - 2 * HOUR);
      await utimes(file, old, old);
    };
    await leaveStale("first.dump.1.a.partial");
    const { log, lines } = capturingLogger();
    const sweep = startStorageSweep({ storage, intervalMs: 50, minAgeMs: HOUR, log });
    try {
      await sweep.idle();
      expect(lines[0]).toMatchObject({ msg: "storage sweep finished", backend: "filesystem", removed_count: 1, component: "storage-sweep" });
      await leaveStale("second.dump.2.b.partial");
      await waitFor(async () => (await readdir(dir)).length === 0, { what: "the periodic sweep" });
      expect(lines.filter((line) => line.removed_count === 1).map((line) => line.removed)).toEqual([
        ["projects/p1/backups/first.dump.1.a.partial"],
        ["projects/p1/backups/second.dump.2.b.partial"],
      ]);
    } finally {
      await sweep.stop();
    }
  });

  it("logs a failed sweep (store unreachable) and keeps the worker going", async () => {
    const storage = new S3Storage(s3Config("http://127.0.0.1:9"), { maxAttempts: 1, connectionTimeoutMs: 1_000 });
    const { log, lines } = capturingLogger();
    const sweep = startStorageSweep({ storage, intervalMs: 60_000, minAgeMs: HOUR, log });
    try {
      await sweep.idle();
      expect(lines).toEqual([expect.objectContaining({ level: 40, msg: "storage sweep failed; retrying at the next interval" })]);
    } finally {
      await sweep.stop();
      await storage.close();
    }
  });
});

describe("sweep settings", () => {
  it("default to every 10 minutes, removing leftovers older than 6 hours", () => {
    expect(loadWorkerEnv({})).toMatchObject({ STORAGE_SWEEP_INTERVAL_MS: 600_000, STORAGE_SWEEP_MIN_AGE_MS: 21_600_000 });
    expect(loadWorkerEnv({ STORAGE_SWEEP_INTERVAL_MS: "60000", STORAGE_SWEEP_MIN_AGE_MS: "1000" })).toMatchObject({
      STORAGE_SWEEP_INTERVAL_MS: 60_000,
      STORAGE_SWEEP_MIN_AGE_MS: 1_000,
    });
    expect(() => loadWorkerEnv({ STORAGE_SWEEP_INTERVAL_MS: "0" })).toThrow(/STORAGE_SWEEP_INTERVAL_MS/);
    expect(() => loadWorkerEnv({ STORAGE_SWEEP_MIN_AGE_MS: "-1" })).toThrow(/STORAGE_SWEEP_MIN_AGE_MS/);
  });
});
