// The behaviour every ArtifactStorage backend must have, written once and run against each
// backend's test file: `describeStorageContract("filesystem", () => subject)`.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type ArtifactStorage, ChecksumMismatchError, ObjectNotFoundError } from "../storage.js";
import { drain, expectedSha256, firstDifference, generatedBody, KiB, MiB } from "./bytes.js";

export interface ContractSubject {
  storage: ArtifactStorage;
  /** Fails the test when the backend still holds partial state for `key` (temporary files, incomplete multipart uploads). */
  expectNoLeftovers(key: string): Promise<void>;
  /** Flips one byte of the stored object behind the backend's back, as a failing disk would. */
  corruptStoredObject(key: string): Promise<void>;
}

/** Several MiB and not a multiple of any part size, so S3 uploads it as 3 parts of 5 MiB. */
const LARGE_BYTES = 12 * MiB + 4097;

async function listAll(storage: ArtifactStorage, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of storage.list(prefix)) keys.push(key);
  return keys.sort();
}

/**
 * Registers the contract tests. `subject` is called inside each test, so the backend (and its
 * server) may be created in the caller's beforeAll.
 */
export function describeStorageContract(name: string, subject: () => ContractSubject): void {
  describe(`${name}: ArtifactStorage contract`, () => {
    const run = randomUUID().slice(0, 8);
    let counter = 0;
    const uniqueKey = (label: string) => `contract-${run}/${label}-${counter++}.dump`;

    it("streams a multi-MiB body in and back out byte-identical, with matching size and sha256", async () => {
      const { storage } = subject();
      const key = uniqueKey("large");
      const body = generatedBody(key, LARGE_BYTES);
      const stored = await storage.put(key, body.stream);
      expect(stored).toMatchObject({ key, sizeBytes: LARGE_BYTES, sha256: expectedSha256(key, LARGE_BYTES) });
      expect(await storage.size(key)).toBe(LARGE_BYTES);
      expect(await firstDifference(await storage.get(key), key, LARGE_BYTES)).toBe(-1);
      expect(await drain(await storage.get(key, { expectedSha256: stored.sha256 }))).toEqual({
        sizeBytes: LARGE_BYTES,
        sha256: stored.sha256,
      });
    });

    it("stores empty and small bodies", async () => {
      const { storage } = subject();
      for (const sizeBytes of [0, 1, 100 * KiB]) {
        const key = uniqueKey(`small-${sizeBytes}`);
        const stored = await storage.put(key, generatedBody(key, sizeBytes).stream);
        expect(stored.sizeBytes).toBe(sizeBytes);
        expect(stored.sha256).toBe(expectedSha256(key, sizeBytes));
        expect(await storage.size(key)).toBe(sizeBytes);
        expect(await firstDifference(await storage.get(key, { expectedSha256: stored.sha256 }), key, sizeBytes)).toBe(-1);
      }
    });

    it("replaces the object when a key is written again", async () => {
      const { storage } = subject();
      const key = uniqueKey("overwrite");
      await storage.put(key, generatedBody("first", 2 * KiB).stream);
      const second = await storage.put(key, generatedBody("second", 3 * KiB).stream);
      expect(await storage.size(key)).toBe(3 * KiB);
      expect((await drain(await storage.get(key))).sha256).toBe(second.sha256);
    });

    it("rejects get and size of a missing key with ObjectNotFoundError", async () => {
      const { storage } = subject();
      const key = uniqueKey("missing");
      await expect(storage.get(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(storage.get(key, { expectedSha256: "0".repeat(64) })).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(storage.size(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(storage.size(key)).rejects.toMatchObject({ key });
    });

    it("deletes idempotently", async () => {
      const { storage } = subject();
      const key = uniqueKey("delete");
      await storage.put(key, generatedBody(key, 10 * KiB).stream);
      await storage.delete(key);
      await expect(storage.size(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(storage.get(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
      await storage.delete(key);
      await storage.delete(uniqueKey("never-written"));
      expect(await listAll(storage, key)).toEqual([]);
    });

    it("lists exactly the keys that start with a prefix", async () => {
      const { storage } = subject();
      const base = `contract-${run}/list-${counter++}`;
      const keys = [`${base}/a/1`, `${base}/a/2`, `${base}/a/deeper/3`, `${base}/ab/4`, `${base}/b/5`];
      for (const key of keys) await storage.put(key, generatedBody(key, 10).stream);
      expect(await listAll(storage, `${base}/a/`)).toEqual([`${base}/a/1`, `${base}/a/2`, `${base}/a/deeper/3`]);
      // A plain string prefix, not a directory: "a" also matches "ab/…".
      expect(await listAll(storage, `${base}/a`)).toEqual([`${base}/a/1`, `${base}/a/2`, `${base}/a/deeper/3`, `${base}/ab/4`]);
      expect(await listAll(storage, `${base}/`)).toEqual([...keys].sort());
      expect(await listAll(storage, `${base}/nothing-here/`)).toEqual([]);
    });

    for (const failAfterBytes of [11 * MiB, 1 * KiB]) {
      it(`leaves nothing behind when the body fails after ${failAfterBytes} bytes`, async () => {
        const { storage, expectNoLeftovers } = subject();
        const key = uniqueKey(`failing-${failAfterBytes}`);
        const body = generatedBody(key, LARGE_BYTES, { failAfterBytes });
        await expect(storage.put(key, body.stream)).rejects.toThrow(`generated body failed after ${failAfterBytes} bytes`);
        await expect(storage.size(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
        await expect(storage.get(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
        expect(await listAll(storage, key)).toEqual([]);
        await expectNoLeftovers(key);
      });
    }

    it("rejects invalid keys everywhere and destroys the body it was given", async () => {
      const { storage } = subject();
      for (const key of ["", "../escape", "a//b", "a/./b", "with space", "trailing/"]) {
        const body = generatedBody(key, 10);
        await expect(storage.put(key, body.stream)).rejects.toThrow(/invalid storage key/);
        expect(body.stream.destroyed).toBe(true);
        await expect(storage.get(key)).rejects.toThrow(/invalid storage key/);
        await expect(storage.size(key)).rejects.toThrow(/invalid storage key/);
        await expect(storage.delete(key)).rejects.toThrow(/invalid storage key/);
      }
    });

    it("reports the sha256 of what it stored and fails a reader that expects other bytes", async () => {
      const { storage } = subject();
      const key = uniqueKey("checksum");
      const stored = await storage.put(key, generatedBody(key, 3 * MiB).stream);
      expect(stored.sha256).toBe(expectedSha256(key, 3 * MiB));
      const wrong = expectedSha256("other bytes", 3 * MiB);
      const error = await drain(await storage.get(key, { expectedSha256: wrong })).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ChecksumMismatchError);
      expect(error).toMatchObject({ key, expected: wrong, actual: stored.sha256 });
      await expect(storage.get(key, { expectedSha256: "not-a-sha256" })).rejects.toThrow(TypeError);
    });

    it("detects corruption at rest when the reader gives the recorded sha256", async () => {
      const { storage, corruptStoredObject } = subject();
      const key = uniqueKey("rot");
      const stored = await storage.put(key, generatedBody(key, 2 * MiB + 3).stream);
      await corruptStoredObject(key);
      expect(await storage.size(key)).toBe(2 * MiB + 3);
      expect(await firstDifference(await storage.get(key), key, 2 * MiB + 3)).toBeGreaterThanOrEqual(0);
      await expect(drain(await storage.get(key, { expectedSha256: stored.sha256 }))).rejects.toBeInstanceOf(ChecksumMismatchError);
    });
  });
}
