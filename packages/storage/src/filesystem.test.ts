import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { waitFor } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FilesystemStorage } from "./filesystem.js";
import { attemptArtifactKey, attemptOfArtifactKey, jobArtifactPrefix } from "./index.js";
import { ObjectNotFoundError } from "./storage.js";
import { flipByte } from "./testing/bytes.js";
import { type ContractSubject, describeStorageContract } from "./testing/contract.js";

let root: string;
let subject: ContractSubject;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "capy-storage-fs-"));
  const storage = new FilesystemStorage(root);
  subject = {
    storage,
    async expectNoLeftovers() {
      // Any ".partial" file anywhere under the root is a leftover of an unfinished put.
      const entries = await readdir(root, { recursive: true });
      expect(entries.filter((entry) => entry.endsWith(".partial"))).toEqual([]);
    },
    async corruptStoredObject(key) {
      await flipByte(path.join(root, key), 1000);
    },
  };
});

afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

describeStorageContract("filesystem", () => subject);

describe("FilesystemStorage.sweepPartials", () => {
  it("removes stale .partial files of dead writers and spares live puts and stored objects", async () => {
    const sweepRoot = await mkdtemp(path.join(tmpdir(), "capy-storage-sweep-"));
    try {
      const storage = new FilesystemStorage(sweepRoot);
      await storage.put("projects/p1/backups/done.dump", PassThrough.from(Buffer.from("complete")));
      // What a writer SIGKILLed an hour ago left: its temporary file, never renamed.
      const stale = "projects/p1/backups/dead.dump.4242.0b9e2a4c-6b1e-4a57-9d8e-1f1e2d3c4b5a.partial";
      await writeFile(path.join(sweepRoot, stale), "half a dump");
      const anHourAgo = new Date(Date.now() - 3_600_000);
      await utimes(path.join(sweepRoot, stale), anHourAgo, anHourAgo);
      // A put still in progress: its body is open, its temporary file fresh.
      const body = new PassThrough();
      const live = storage.put("projects/p2/backups/live.dump", body);
      body.write("first bytes");
      const partials = async () => (await readdir(sweepRoot, { recursive: true })).filter((entry) => entry.endsWith(".partial")).sort();
      await waitFor(async () => (await partials()).length === 2, { intervalMs: 10, what: "the live put's temporary file" });

      const swept = await storage.sweepPartials(60_000);
      expect(swept).toEqual([{ path: stale, modified: anHourAgo }]);
      expect(await partials()).toEqual([expect.stringMatching(/^projects\/p2\/backups\/live\.dump\..+\.partial$/)]);

      body.end("last bytes");
      expect(await live).toMatchObject({ key: "projects/p2/backups/live.dump", sizeBytes: 21 });
      expect(await partials()).toEqual([]);
      expect(await readFile(path.join(sweepRoot, "projects/p1/backups/done.dump"), "utf8")).toBe("complete");
      expect(await storage.sweepPartials(0)).toEqual([]);
    } finally {
      await rm(sweepRoot, { recursive: true, force: true });
    }
  });

  it("finds nothing to sweep under a root that does not exist yet", async () => {
    const missing = path.join(tmpdir(), `capy-storage-missing-${process.pid}-${Date.now()}`);
    expect(await new FilesystemStorage(missing).sweepPartials(0)).toEqual([]);
  });
});

describe("FilesystemStorage.putWritten", () => {
  /** A writer as a dump's last stage is one: `sh -c script`, its stdout the file storage gives it. */
  const shellWriter = (script: string, seen: { signal?: AbortSignal } = {}) => {
    return (fd: number, signal: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        seen.signal = signal;
        const child = spawn("sh", ["-c", script], { stdio: ["ignore", fd, "inherit"], signal });
        child.on("error", reject);
        child.on("close", (code, killedBy) => (code === 0 ? resolve() : reject(new Error(`writer ended with ${code ?? killedBy}`))));
      });
  };
  const partials = async () => (await readdir(root, { recursive: true })).filter((entry) => entry.endsWith(".partial"));
  let source: string;
  let bytes: Buffer;

  beforeAll(async () => {
    bytes = randomBytes(3_000_000);
    source = path.join(root, "writer-source.bin");
    await writeFile(source, bytes);
  });

  it("stores what a child process writes into its file, hashed as the bytes land, visible only once whole", async () => {
    const storage = new FilesystemStorage(root);
    const key = "projects/p1/backups/written.dump";
    const progress: number[] = [];
    // A pause mid-way: the reader catches up with the writer and must wait for more.
    const writer = shellWriter(`head -c 1000000 '${source}'; sleep 0.2; tail -c +1000001 '${source}'`);
    const stored = await storage.putWritten(
      key,
      async (fd, signal) => {
        await writer(fd, signal);
        await expect(storage.size(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
      },
      (n) => progress.push(n),
    );
    expect(stored).toEqual({ key, sizeBytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") });
    expect((await readFile(path.join(root, key))).equals(bytes)).toBe(true);
    expect(progress.at(-1)).toBe(bytes.length);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(await partials()).toEqual([]);
  });

  it("passes a writer's failure on unchanged and keeps nothing of what it wrote", async () => {
    const storage = new FilesystemStorage(root);
    const key = "projects/p1/backups/writer-failed.dump";
    const writer = shellWriter(`head -c 500000 '${source}'; exit 3`);
    let failure: unknown;
    const error = await storage
      .putWritten(key, (fd, signal) =>
        writer(fd, signal).catch((e: unknown) => {
          failure = e;
          throw e;
        }),
      )
      .catch((e: unknown) => e);
    expect(error).toBe(failure);
    expect((error as Error).message).toBe("writer ended with 3");
    await expect(storage.size(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(await partials()).toEqual([]);
  });

  it("stops the writer, and waits for it, when reading back fails", async () => {
    const storage = new FilesystemStorage(root);
    const key = "projects/p1/backups/read-failed.dump";
    const seen: { signal?: AbortSignal } = {};
    // Without the stop, this writer would outlast the test's timeout.
    const writer = shellWriter(`head -c 1000 '${source}'; exec sleep 60`, seen);
    const error = await storage
      .putWritten(key, writer, () => {
        throw new Error("EIO: i/o error, read");
      })
      .catch((e: unknown) => e);
    expect((error as Error).message).toBe("EIO: i/o error, read");
    expect(seen.signal?.aborted).toBe(true);
    await expect(storage.size(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(await partials()).toEqual([]);
  });
});

describe("FilesystemStorage.discardIncomplete", () => {
  it("removes the unfinished writes of chosen keys under a prefix, whatever their age, and nothing else", async () => {
    const discardRoot = await mkdtemp(path.join(tmpdir(), "capy-storage-discard-"));
    try {
      const storage = new FilesystemStorage(discardRoot);
      const prefix = attemptArtifactKey("p1", "job_1", 1, "bkp_a").replace(/[^/]+$/, "");
      expect(prefix).toBe(jobArtifactPrefix("p1", "job_1"));
      await storage.put(attemptArtifactKey("p1", "job_1", 3, "bkp_c"), PassThrough.from(Buffer.from("complete")));
      // Fresh leftovers of attempts 1 and 2, one of another job (job_10 shares the text prefix "job_1").
      const leftover = (key: string) => `${key}.4242.0b9e2a4c-6b1e-4a57-9d8e-1f1e2d3c4b5a.partial`;
      const first = attemptArtifactKey("p1", "job_1", 1, "bkp_a");
      const second = attemptArtifactKey("p1", "job_1", 2, "bkp_b");
      const other = attemptArtifactKey("p1", "job_10", 1, "bkp_x");
      for (const key of [first, second, other]) {
        await mkdir(path.dirname(path.join(discardRoot, key)), { recursive: true });
        await writeFile(path.join(discardRoot, leftover(key)), "half a dump");
      }

      const olderThan2 = (key: string) => (attemptOfArtifactKey(key) ?? Infinity) < 2;
      expect(await storage.discardIncomplete(prefix, olderThan2)).toEqual([first]);
      expect(await storage.discardIncomplete(prefix)).toEqual([second]);
      const remaining = (await readdir(discardRoot, { recursive: true })).filter((entry) => entry.endsWith(".partial"));
      expect(remaining).toEqual([leftover(other)]);
      expect(await readFile(path.join(discardRoot, attemptArtifactKey("p1", "job_1", 3, "bkp_c")), "utf8")).toBe("complete");
      expect(await storage.discardIncomplete(jobArtifactPrefix("p9", "job_9"))).toEqual([]);
    } finally {
      await rm(discardRoot, { recursive: true, force: true });
    }
  });
});
