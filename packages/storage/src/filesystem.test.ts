import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { FilesystemStorage } from "./filesystem.js";
import { flipByte } from "./testing/bytes.js";
import { describeStorageContract, type ContractSubject } from "./testing/contract.js";

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
