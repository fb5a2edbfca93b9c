// The post-upload comparison against store reports shaped like AWS S3's (full and COMPOSITE
// ChecksumSHA256, "md5-of-part-md5s-N" ETags), which s3rver cannot produce. Expected values are
// built here from the documented formulas, apart from s3-verify.ts.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { UploadDigest } from "./integrity.js";
import { verifyCompletedUpload } from "./s3-verify.js";
import { ChecksumMismatchError } from "./storage.js";

const hash = (algorithm: "sha256" | "md5", ...data: Buffer[]) => {
  const h = createHash(algorithm);
  for (const item of data) h.update(item);
  return h.digest();
};

const partBytes = [Buffer.from("first part bytes"), Buffer.from("second part"), Buffer.from("last")];
const whole = Buffer.concat(partBytes);
const multipart: UploadDigest = {
  sizeBytes: whole.length,
  sha256Hex: hash("sha256", whole).toString("hex"),
  md5Hex: hash("md5", whole).toString("hex"),
  parts: partBytes.map((bytes) => ({ sizeBytes: bytes.length, sha256: hash("sha256", bytes), md5: hash("md5", bytes) })),
};
const single: UploadDigest = { ...multipart, parts: [{ sizeBytes: whole.length, sha256: hash("sha256", whole), md5: hash("md5", whole) }] };

// AWS: COMPOSITE = base64(SHA-256(part digests concatenated)) + "-<parts>"; ETag = hex(MD5(part MD5s)) + "-<parts>".
const composite = `${hash("sha256", ...multipart.parts.map((part) => part.sha256)).toString("base64")}-3`;
const s3MultipartEtag = `"${hash("md5", ...multipart.parts.map((part) => part.md5)).toString("hex")}-3"`;
const fullSha256 = hash("sha256", whole).toString("base64");
const fullMd5Etag = `"${hash("md5", whole).toString("hex")}"`;

describe("verifyCompletedUpload", () => {
  it("accepts what AWS S3 reports for a multipart upload: the composite SHA-256", () => {
    expect(verifyCompletedUpload("k", { ChecksumSHA256: composite, ETag: s3MultipartEtag }, multipart, true)).toBe("checksum-sha256");
    // Stores that omit the "-<parts>" suffix.
    expect(verifyCompletedUpload("k", { ChecksumSHA256: composite.split("-")[0] }, multipart, true)).toBe("checksum-sha256");
  });

  it("accepts the full-object SHA-256 of a single PUT", () => {
    expect(verifyCompletedUpload("k", { ChecksumSHA256: fullSha256, ETag: fullMd5Etag }, single, false)).toBe("checksum-sha256");
  });

  it("rejects a checksum that does not match, even when the ETag would", () => {
    const reversedParts = `${hash("sha256", ...[...multipart.parts].reverse().map((part) => part.sha256)).toString("base64")}-3`;
    const mismatch = (report: { ChecksumSHA256: string; ETag?: string }, digest: UploadDigest, isMultipart: boolean) =>
      expect(() => verifyCompletedUpload("k", report, digest, isMultipart)).toThrow(ChecksumMismatchError);
    mismatch({ ChecksumSHA256: reversedParts, ETag: s3MultipartEtag }, multipart, true);
    mismatch({ ChecksumSHA256: composite.replace("-3", "-2") }, multipart, true);
    mismatch({ ChecksumSHA256: composite, ETag: fullMd5Etag }, single, false);
    mismatch({ ChecksumSHA256: hash("sha256", Buffer.from("x")).toString("base64"), ETag: fullMd5Etag }, single, false);
  });

  it("falls back to the ETag: MD5 for single PUTs, md5-of-md5s-N (S3) or whole MD5 (s3rver) for multipart", () => {
    expect(verifyCompletedUpload("k", { ETag: fullMd5Etag }, single, false)).toBe("etag-md5");
    expect(verifyCompletedUpload("k", { ETag: s3MultipartEtag }, multipart, true)).toBe("etag-md5");
    expect(verifyCompletedUpload("k", { ETag: fullMd5Etag }, multipart, true)).toBe("etag-md5");
  });

  it("rejects an MD5 ETag that matches neither form", () => {
    const wrong = `"${hash("md5", Buffer.from("tampered")).toString("hex")}"`;
    expect(() => verifyCompletedUpload("k", { ETag: wrong }, single, false)).toThrow(ChecksumMismatchError);
    expect(() => verifyCompletedUpload("k", { ETag: wrong }, multipart, true)).toThrow(ChecksumMismatchError);
    expect(() => verifyCompletedUpload("k", { ETag: s3MultipartEtag.replace("-3", "-4") }, multipart, true)).toThrow(ChecksumMismatchError);
    // A multipart-style ETag for what we sent as one PUT cannot be ours.
    expect(() => verifyCompletedUpload("k", { ETag: s3MultipartEtag }, single, false)).toThrow(ChecksumMismatchError);
  });

  it("reports 'unverified' when the store gives nothing comparable", () => {
    expect(verifyCompletedUpload("k", {}, single, false)).toBe("unverified");
    expect(verifyCompletedUpload("k", { ETag: '"opaque-etag-from-an-encrypting-store"' }, multipart, true)).toBe("unverified");
  });
});
