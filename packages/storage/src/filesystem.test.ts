import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { waitFor } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FilesystemStorage } from "./filesystem.js";
import { attemptArtifactKey, attemptOfArtifactKey, jobArtifactPrefix } from "./index.js";
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
