import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { type UploadDigest, UploadDigester, withSha256Check } from "./integrity.js";
import { ChecksumMismatchError } from "./storage.js";
import { drain } from "./testing/bytes.js";

const sha256 = (data: string) => createHash("sha256").update(data).digest();
const md5 = (data: string) => createHash("md5").update(data).digest();

async function digestOf(chunks: string[], partSizeBytes: number, maxParts = 10_000): Promise<UploadDigest> {
  const digester = new UploadDigester(partSizeBytes, maxParts);
  await pipeline(Readable.from(chunks.map((chunk) => Buffer.from(chunk))), digester, async (source: AsyncIterable<unknown>) => {
    for await (const _ of source) {
      // consume
    }
  });
  return digester.digest;
}

describe("UploadDigester", () => {
  it("cuts parts where lib-storage does, whatever the chunking of the stream", async () => {
    const digest = await digestOf(["ab", "cdefg", "hij"], 4);
    expect(digest.sizeBytes).toBe(10);
    expect(digest.sha256Hex).toBe(sha256("abcdefghij").toString("hex"));
    expect(digest.md5Hex).toBe(md5("abcdefghij").toString("hex"));
    expect(digest.parts).toEqual([
      { sizeBytes: 4, sha256: sha256("abcd"), md5: md5("abcd") },
      { sizeBytes: 4, sha256: sha256("efgh"), md5: md5("efgh") },
      { sizeBytes: 2, sha256: sha256("ij"), md5: md5("ij") },
    ]);
  });

  it("ends on a part boundary without an empty extra part, and makes one empty part of an empty body", async () => {
    expect((await digestOf(["abcdefgh"], 4)).parts.map((part) => part.sizeBytes)).toEqual([4, 4]);
    expect((await digestOf(["abcd"], 4)).parts.map((part) => part.sizeBytes)).toEqual([4]);
    expect((await digestOf([], 4)).parts).toEqual([{ sizeBytes: 0, sha256: sha256(""), md5: md5("") }]);
  });

  it("fails a body that would need more parts than allowed", async () => {
    await expect(digestOf(["abcdefghi"], 4, 2)).rejects.toThrow(/exceeds 2 parts of 4 bytes/);
  });

  it("has no digest before the body ended", () => {
    expect(() => new UploadDigester(4, 10).digest).toThrow(/not fully read/);
  });
});

describe("withSha256Check", () => {
  it("passes the bytes through when they match", async () => {
    const checked = withSha256Check(Readable.from([Buffer.from("hello")]), "k", sha256("hello").toString("hex").toUpperCase());
    expect(await drain(checked)).toEqual({ sizeBytes: 5, sha256: sha256("hello").toString("hex") });
  });

  it("fails at the end with ChecksumMismatchError when they do not", async () => {
    const checked = withSha256Check(Readable.from([Buffer.from("hellO")]), "k", sha256("hello").toString("hex"));
    await expect(drain(checked)).rejects.toBeInstanceOf(ChecksumMismatchError);
  });

  it("forwards a source error", async () => {
    const source = new Readable({
      read() {
        this.destroy(new Error("disk on fire"));
      },
    });
    await expect(drain(withSha256Check(source, "k", sha256("").toString("hex")))).rejects.toThrow("disk on fire");
  });

  it("rejects a malformed expected value up front", () => {
    expect(() => withSha256Check(Readable.from([]), "k", "abc")).toThrow(TypeError);
  });
});
