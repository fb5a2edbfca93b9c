// After an upload completes, compare what the store says it stored with what we hashed while
// sending it (UploadDigest). Pure functions, so every branch is testable without a server.
//
// What a store reports, and so what can be checked:
// - AWS S3 (and stores with "flexible checksums"): we send `x-amz-checksum-sha256` with every
//   PutObject/UploadPart and S3 rejects a request whose bytes do not match (BadDigest), so a
//   corrupted request never lands. The response then carries ChecksumSHA256: for a single PUT the
//   object's SHA-256, for a multipart upload the COMPOSITE value base64(SHA-256(concatenated raw part
//   SHA-256s)) + "-<parts>". We recompute both from our own part boundaries; equality proves the
//   store assembled exactly the parts we hashed, in order.
// - Stores without checksums (s3rver, older S3-compatible servers): only the ETag. For a single
//   PUT without SSE-KMS/SSE-C it is the MD5 of the object; for multipart, S3-style stores report
//   MD5(concatenated raw part MD5s) + "-<parts>", while s3rver reports the MD5 of the whole object.
//   An MD5 ETag that matches neither is a corrupted upload.
// - Anything else (opaque ETag, no checksum): nothing to compare; reported as "unverified".
import { createHash } from "node:crypto";
import type { UploadDigest } from "./integrity.js";
import { ChecksumMismatchError } from "./storage.js";

/** Which server-reported value confirmed the upload. */
export type UploadVerification = "checksum-sha256" | "etag-md5" | "unverified";

export interface CompletedUploadReport {
  ETag?: string;
  ChecksumSHA256?: string;
}

const MD5_ETAG = /^([0-9a-f]{32})(?:-(\d+))?$/;

/** base64(SHA-256 of the concatenated raw part SHA-256s), S3's COMPOSITE multipart checksum. */
export function compositeSha256(parts: UploadDigest["parts"]): string {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part.sha256);
  return hash.digest("base64");
}

/** hex(MD5 of the concatenated raw part MD5s), the S3 multipart ETag without its "-<parts>" suffix. */
export function multipartMd5(parts: UploadDigest["parts"]): string {
  const hash = createHash("md5");
  for (const part of parts) hash.update(part.md5);
  return hash.digest("hex");
}

/**
 * Throws ChecksumMismatchError when the store's report contradicts the bytes we sent; otherwise
 * says which value confirmed them. `multipart` is whether the upload went as a multipart upload.
 */
export function verifyCompletedUpload(key: string, report: CompletedUploadReport, digest: UploadDigest, multipart: boolean): UploadVerification {
  const objectSha256 = Buffer.from(digest.sha256Hex, "hex").toString("base64");
  const partCount = digest.parts.length;

  if (report.ChecksumSHA256) {
    const [value, suffix] = report.ChecksumSHA256.split("-", 2);
    // A full-object value (single PUT) or the composite value of our parts (multipart; the
    // "-<parts>" suffix, when present, must name our part count).
    const matches = multipart
      ? (value === compositeSha256(digest.parts) && (suffix === undefined || Number(suffix) === partCount)) || (suffix === undefined && value === objectSha256)
      : suffix === undefined && value === objectSha256;
    if (!matches) {
      const expected = multipart ? `${compositeSha256(digest.parts)}-${partCount}` : objectSha256;
      throw new ChecksumMismatchError(key, expected, report.ChecksumSHA256, "ChecksumSHA256");
    }
    return "checksum-sha256";
  }

  const etag = report.ETag?.replace(/"/g, "").toLowerCase();
  const md5Etag = etag === undefined ? null : MD5_ETAG.exec(etag);
  if (!md5Etag) return "unverified";
  const [, md5, suffix] = md5Etag;
  const matches =
    suffix === undefined
      ? md5 === digest.md5Hex // single PUT, or s3rver's whole-object MD5 for multipart
      : multipart && Number(suffix) === partCount && md5 === multipartMd5(digest.parts);
  if (!matches) {
    const expected = multipart ? `${multipartMd5(digest.parts)}-${partCount} or ${digest.md5Hex}` : digest.md5Hex;
    throw new ChecksumMismatchError(key, expected, etag ?? "", "ETag");
  }
  return "etag-md5";
}
