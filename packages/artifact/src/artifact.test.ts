// The encoding table and the write plans, and the reader against a real filesystem store and the
// real zstd binary: every encoding reads back as the archive, stored bytes come out as stored,
// and bytes that changed or do not decompress fail the stream.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { FilesystemStorage } from "@capy/storage";
import { waitFor } from "@capy/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ArtifactChecksumError,
  ChildStage,
  openArtifact,
  parseCompressionSetting,
  resolveZstd,
  StageFailedError,
  type StoredArtifact,
  writePlan,
} from "./index.js";

const zstd = resolveZstd(process.env.PATH ?? "");
let dir: string;
let storage: FilesystemStorage;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "capy-artifact-"));
  storage = new FilesystemStorage(dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

async function store(key: string, bytes: Buffer, storedEncoding: string, recorded = sha256(bytes)): Promise<StoredArtifact> {
  await storage.put(key, Readable.from([bytes]));
  return { backupKey: key, sha256: recorded, sizeBytes: bytes.length, archiveSizeBytes: null, storedEncoding };
}

describe("BACKUP_COMPRESSION", () => {
  it("parses algorithms with their levels and defaults", () => {
    expect(parseCompressionSetting("zstd")).toEqual({ algorithm: "zstd", level: 1 });
    expect(parseCompressionSetting("zstd:3")).toEqual({ algorithm: "zstd", level: 3 });
    expect(parseCompressionSetting("gzip")).toEqual({ algorithm: "gzip", level: 6 });
    expect(parseCompressionSetting("none")).toEqual({ algorithm: "none", level: null });
  });

  it("refuses what it does not know, saying what it accepts", () => {
    expect(() => parseCompressionSetting("lz4")).toThrow('invalid compression "lz4": expected zstd[:1-19], gzip[:1-9] or none');
    expect(() => parseCompressionSetting("zstd:22")).toThrow("zstd levels are 1-19");
    expect(() => parseCompressionSetting("gzip:0")).toThrow("gzip levels are 1-9");
    expect(() => parseCompressionSetting("none:1")).toThrow("none takes no level");
  });
});

describe("writePlan", () => {
  const plan = (setting: string, pgDumpMajor: number) => writePlan(parseCompressionSetting(setting), { pgDumpMajor, zstd });

  it("pipes an uncompressed archive through zstd with pg_dump 15, and lets pg_dump 16 compress itself", () => {
    expect(plan("zstd:1", 15)).toMatchObject({ pgDumpArgs: ["-Z0"], encoding: { compression: "zstd", compressionLevel: 1, storedEncoding: "zstd" } });
    const native = plan("zstd:3", 16);
    expect(native).toMatchObject({ pgDumpArgs: ["--compress=zstd:3"], encoding: { compression: "zstd", storedEncoding: "identity" } });
    expect(native.start().stages).toEqual([]);
  });

  it("keeps gzip and none inside the archive", () => {
    expect(plan("gzip:6", 15)).toMatchObject({
      pgDumpArgs: ["-Z6"],
      encoding: { compression: "gzip", compressionLevel: 6, archiveFormat: "custom", storedEncoding: "identity" },
    });
    expect(plan("none", 15)).toMatchObject({ pgDumpArgs: ["-Z0"], encoding: { compression: "none", compressionLevel: null, storedEncoding: "identity" } });
  });
});

describe("openArtifact", () => {
  const archive = Buffer.from("PGDMP pretend archive ".repeat(5000));
  const compressed = spawnSync(zstd, ["-q", "-c"], { input: archive }).stdout;

  it("decodes a zstd artifact into the archive, and gives its stored bytes when asked", async () => {
    const artifact = await store("a/zstd.dump", compressed, "zstd");
    const decoded = await openArtifact(storage, artifact, { as: "archive", zstd });
    expect(decoded.encoding).toBe("identity");
    expect(await text(decoded.body)).toBe(archive.toString());
    const raw = await openArtifact(storage, artifact, { as: "stored", zstd });
    expect(raw).toMatchObject({ encoding: "zstd", sizeBytes: compressed.length });
    expect(Buffer.concat(await raw.body.toArray()).equals(compressed)).toBe(true);
  });

  it("reads an identity (old gzip) artifact as it is", async () => {
    const artifact = await store("a/old.dump", archive, "identity");
    const opened = await openArtifact(storage, artifact, { as: "archive", zstd });
    expect(opened).toMatchObject({ encoding: "identity", sizeBytes: archive.length });
    expect(await text(opened.body)).toBe(archive.toString());
  });

  it("fails the stream when the stored bytes changed, and when they do not decompress", async () => {
    const changed = await store("a/changed.dump", compressed, "zstd", sha256(Buffer.from("other")));
    await expect(text((await openArtifact(storage, changed, { as: "stored", zstd })).body)).rejects.toBeInstanceOf(ArtifactChecksumError);
    const garbage = Buffer.from("definitely not zstd");
    const broken = await store("a/broken.dump", garbage, "zstd");
    const error = await text((await openArtifact(storage, broken, { as: "archive", zstd })).body).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageFailedError);
    expect((error as StageFailedError).message).toMatch(/^decompression failed: zstd exited with code 1: /);
  });

  it("keeps a decoding failure that comes before anyone reads, for the reader who comes later", async () => {
    // zstd -d takes all of its input (so pipeline() no longer listens), then fails: premature end.
    const truncated = await store("a/truncated.dump", compressed.subarray(0, compressed.length - 8), "zstd");
    const opened = await openArtifact(storage, truncated, { as: "archive", zstd });
    await waitFor(() => opened.body.errored !== null, { timeoutMs: 10_000, what: "zstd -d to fail" });
    const error = await text(opened.body).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageFailedError);
    expect((error as StageFailedError).message).toMatch(/^decompression failed: zstd exited with code 1: .*premature end/);
  });

  it("writes the archive into a file with intoFile: zstd decodes straight into it, an identity artifact is copied", async () => {
    for (const [name, bytes, encoding] of [
      ["zstd", compressed, "zstd"],
      ["identity", archive, "identity"],
    ] as const) {
      const artifact = await store(`a/into-${name}.dump`, bytes, encoding);
      const file = path.join(dir, `into-${name}.dump`);
      const opened = await openArtifact(storage, artifact, { as: "archive", zstd, intoFile: file });
      expect(await opened.body.toArray()).toEqual([]);
      expect((await readFile(file)).equals(archive)).toBe(true);
      // Written by this process: private. (zstd's file takes the umask; callers use a private directory.)
      if (encoding === "identity") expect((await stat(file)).mode & 0o777).toBe(0o600);
      // A file that exists is never overwritten.
      const again = await openArtifact(storage, artifact, { as: "archive", zstd, intoFile: file });
      await expect(again.body.toArray()).rejects.toThrow();
    }
  });

  it("fails intoFile's stream when the stored bytes changed or do not decompress", async () => {
    const changed = await store("a/into-changed.dump", archive, "identity", sha256(Buffer.from("other")));
    const opened = await openArtifact(storage, changed, { as: "archive", zstd, intoFile: path.join(dir, "into-changed.dump") });
    await expect(opened.body.toArray()).rejects.toBeInstanceOf(ArtifactChecksumError);
    const broken = await store("a/into-broken.dump", Buffer.from("definitely not zstd"), "zstd");
    const file = path.join(dir, "into-broken.dump");
    const error = await (await openArtifact(storage, broken, { as: "archive", zstd, intoFile: file })).body.toArray().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageFailedError);
    // zstd removes what it wrote when it fails.
    await expect(stat(file)).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("refuses an encoding it does not know", async () => {
    const artifact = await store("a/future.dump", archive, "zstd+age");
    await expect(openArtifact(storage, artifact, { as: "archive", zstd })).rejects.toThrow('unknown stored encoding "zstd+age"');
  });
});

describe("ChildStage reading another stage's output directly", () => {
  /** `script` under sh as a stage; its error, when it fails, is kept (not thrown unhandled). */
  const shell = (purpose: string, script: string, input?: ChildStage) => {
    const stage = new ChildStage({ command: "/bin/sh", args: ["-c", script], purpose, input });
    stage.on("error", () => {});
    return stage;
  };
  const failureOf = (stage: ChildStage) => new Promise<Error>((resolve) => stage.once("error", resolve));

  it("reports the input's failure when the input died first and starved it (age -d refusing a key, then zstd -d on an empty stream)", async () => {
    const input = shell("decryption", "sleep 0.2; exit 3");
    const reader = shell("decompression", "cat > /dev/null; exit 4", input);
    input.end();
    expect((await failureOf(reader)).message).toBe("decryption failed: sh exited with code 3");
  });

  it("reports its own failure when it died first (the input then fails writing to it)", async () => {
    const input = shell("decryption", "sleep 0.3; exit 6");
    const reader = shell("decompression", "exit 5", input);
    input.end();
    expect((await failureOf(reader)).message).toBe("decompression failed: sh exited with code 5");
  });
});
