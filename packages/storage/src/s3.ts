// S3-compatible storage on AWS SDK v3. Uploads stream through @aws-sdk/lib-storage (multipart),
// hashed on the way, and are checked against what the store reports before `put` resolves.
//
// Integrity, exactly what is verified where:
// 1. Every PutObject/UploadPart carries `x-amz-checksum-sha256` of its bytes (ChecksumAlgorithm
//    SHA256; the SDK computes it from the buffered part). AWS S3 and stores with flexible checksums
//    reject a request whose bytes do not match (BadDigest); s3rver and older stores ignore it.
// 2. After the upload completes, `verifyCompletedUpload` compares the store's ChecksumSHA256 (full
//    or composite) or, without one, its MD5 ETag with the digests UploadDigester computed from the
//    body we were given (see s3-verify.ts). A mismatch deletes the object and rejects the put.
//    Against AWS S3 this re-proves (1) end to end and that the parts were assembled in order
//    (not exercised against a live AWS here: s3rver returns no checksums; s3-verify.test.ts feeds
//    it S3-shaped reports). Against s3rver it is the only upload check, and it does catch bytes
//    altered in transit (s3rver's ETag is the MD5 of what it stored).
// 3. The object's SHA-256 (hex) is recorded as the object tag `sha256`. User metadata
//    (x-amz-meta-sha256) cannot carry it: metadata is fixed when the upload starts
//    (CreateMultipartUpload) and the digest is known only after the last byte; rewriting metadata
//    afterwards needs a server-side copy, which is limited to 5 GiB per request.
// 4. On read, `get(key, { expectedSha256 })` (the value the caller recorded from `put`) or
//    `get(key, { verifyStoredSha256: true })` (the tag) hash the stream and fail it at its end on
//    a mismatch: this catches corruption at rest, on any store. With responseChecksumValidation
//    "WHEN_SUPPORTED" the SDK also validates the full-object checksum AWS returns for single-part
//    objects (it skips composite multipart checksums).
//
// Failure: whatever fails (body stream, network, server, timeout, verification), the multipart
// upload is aborted, an object its final request may have created is deleted, the body is
// destroyed, and the original error is rethrown. If that cleanup fails too (store unreachable),
// its error rides along as the original's `cause` and `abortIncompleteUploads` (a recovery sweep)
// or a bucket lifecycle rule removes the leftover upload later.

import { pipeline, Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  ChecksumAlgorithm,
  CompleteMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NoSuchUpload,
  NotFound,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { assertSha256Hex, UploadDigester, withSha256Check } from "./integrity.js";
import { assertValidKey, isValidKey } from "./keys.js";
import type { S3Config } from "./s3-config.js";
import { type UploadVerification, verifyCompletedUpload } from "./s3-verify.js";
import { type ArtifactStorage, ChecksumMismatchError, type GetOptions, ObjectNotFoundError, type StoredObject } from "./storage.js";

const MiB = 1024 * 1024;

/**
 * Part size 8 MiB × 2 parts in flight. lib-storage keeps `queueSize` parts in flight plus the one
 * it is assembling (held twice while it concatenates). Measured on this machine with 16 MiB × 4,
 * buffers alive after a forced GC peaked at 145 MiB (≈ 9 parts; the SDK/HTTP layers hold some
 * sent parts a little longer) for a 320 MiB and a 1 GiB upload alike: bounded by part size ×
 * queue size, flat in the artifact size. Budget ≈ (queueSize + 5) × partSize per concurrent
 * upload, so these defaults cost ≈ 56 MiB and keep a worker under its 200 MB RSS target (16 × 4
 * measured 265 MB peak RSS on the reference database). Two parts in flight saturate a
 * pg_dump -Fc stream (tens of MB/s) on any store a worker is near.
 * The largest object is 10,000 parts × 8 MiB = 78 GiB; raise the part size (S3_PART_SIZE_MIB)
 * for bigger artifacts; memory grows with it.
 */
export const DEFAULT_PART_SIZE_BYTES = 8 * MiB;
export const DEFAULT_QUEUE_SIZE = 2;
/** S3's limits: parts per multipart upload, and the smallest part but the last (bytes). */
const S3_MAX_PARTS = 10_000;
const S3_MIN_PART_SIZE_BYTES = 5 * MiB;
/** Object tag holding the object's SHA-256 (hex). */
export const SHA256_TAG = "sha256";

export interface S3StorageOptions {
  /** Multipart part size, bytes (≥ 5 MiB). Default 16 MiB. */
  partSizeBytes?: number;
  /** Parts uploaded concurrently (≥ 1). Default 4. */
  queueSize?: number;
  /** Keys per ListObjectsV2 and uploads per ListMultipartUploads page (1–1000). Default 1000. */
  listPageSize?: number;
  /**
   * Per attempt, from sending a request to receiving its response headers, ms; covers pushing a
   * whole part. Default 300,000 (5 min: a 16 MiB part at ≥ 56 KB/s). Reading a body is not bounded.
   */
  requestTimeoutMs?: number;
  /** TCP/TLS connect limit per attempt, ms. Default 10,000. */
  connectionTimeoutMs?: number;
  /** Attempts per request, first try included (SDK standard retry with backoff). Default 3. */
  maxAttempts?: number;
}

export interface S3StoredObject extends StoredObject {
  /** Which value reported by the store confirmed the upload (see s3-verify.ts). */
  verifiedBy: UploadVerification;
}

export interface S3GetOptions extends GetOptions {
  /** Verify the stream against the `sha256` tag recorded at upload; rejects when there is none. */
  verifyStoredSha256?: boolean;
}

export interface IncompleteUpload {
  /** Storage key (without the configured keyPrefix). */
  key: string;
  uploadId: string;
  initiated: Date | undefined;
}

export class S3Storage implements ArtifactStorage {
  readonly bucket: string;
  /** "" or the configured prefix with one trailing "/". */
  readonly keyPrefix: string;
  readonly client: S3Client;
  readonly partSizeBytes: number;
  readonly queueSize: number;
  readonly #listPageSize: number;

  constructor(config: S3Config, options: S3StorageOptions = {}) {
    this.bucket = config.bucket;
    this.keyPrefix = normalizeKeyPrefix(config.keyPrefix);
    this.partSizeBytes = options.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES;
    this.queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE;
    this.#listPageSize = options.listPageSize ?? 1000;
    if (!Number.isInteger(this.partSizeBytes) || this.partSizeBytes < S3_MIN_PART_SIZE_BYTES) {
      throw new Error(`partSizeBytes must be an integer ≥ ${S3_MIN_PART_SIZE_BYTES} (S3's minimum part size)`);
    }
    if (!Number.isInteger(this.queueSize) || this.queueSize < 1) throw new Error("queueSize must be an integer ≥ 1");
    if (!Number.isInteger(this.#listPageSize) || this.#listPageSize < 1 || this.#listPageSize > 1000) {
      throw new Error("listPageSize must be an integer from 1 to 1000");
    }
    this.client = new S3Client({
      region: config.region,
      ...(config.endpoint !== undefined && { endpoint: config.endpoint }),
      forcePathStyle: config.forcePathStyle,
      credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
      // Since early 2025 the SDK adds a CRC32 checksum to every upload by default, sending stream
      // bodies as "aws-chunked" with a trailing checksum that s3rver and older S3-compatible
      // servers store verbatim (corrupting the object) or reject. "WHEN_REQUIRED" turns that
      // default off; uploads still opt into SHA-256 explicitly (ChecksumAlgorithm below), which the
      // SDK sends as a plain header because lib-storage hands it buffered parts, never streams.
      requestChecksumCalculation: "WHEN_REQUIRED",
      // Validating checksums that a store returns on GetObject costs nothing when it returns none.
      responseChecksumValidation: "WHEN_SUPPORTED",
      maxAttempts: options.maxAttempts ?? 3,
      requestHandler: {
        connectionTimeout: options.connectionTimeoutMs ?? 10_000,
        requestTimeout: options.requestTimeoutMs ?? 300_000,
        throwOnRequestTimeout: true,
      },
    });
  }

  async put(key: string, body: Readable): Promise<S3StoredObject> {
    let objectKey: string;
    try {
      objectKey = this.#objectKey(key);
    } catch (error) {
      body.destroy();
      throw error;
    }
    const digester = new UploadDigester(this.partSizeBytes, S3_MAX_PARTS);
    // A body error destroys `digester` with that error, which fails the upload's read of it.
    pipeline(body, digester, () => {});

    // Sending through this view of the client notes whether the request that makes the object
    // visible (PutObject / CompleteMultipartUpload) went out: only then may a failed put have left
    // an object to delete. (A part that fails for good needs no help to stop the upload: its
    // uploader leaves the part generator that all of lib-storage's uploaders share, which closes
    // it and, through it, destroys the body.)
    let finalRequestSent = false;
    const trackingClient = Object.create(this.client) as S3Client;
    const send = this.client.send.bind(this.client) as (command: unknown, options?: unknown) => Promise<unknown>;
    Object.defineProperty(trackingClient, "send", {
      value: (command: unknown, options?: unknown) => {
        if (command instanceof PutObjectCommand || command instanceof CompleteMultipartUploadCommand) {
          finalRequestSent = true;
        }
        return send(command, options);
      },
    });

    const upload = new Upload({
      client: trackingClient,
      params: {
        Bucket: this.bucket,
        Key: objectKey,
        Body: digester,
        ContentType: "application/octet-stream",
        ChecksumAlgorithm: ChecksumAlgorithm.SHA256,
      },
      partSize: this.partSizeBytes,
      queueSize: this.queueSize,
      // We abort ourselves: lib-storage's own abort would replace the original error with the
      // abort's when that fails too, and does not run for failures after completion.
      leavePartsOnError: true,
    });

    let report: Awaited<ReturnType<Upload["done"]>>;
    try {
      // done() settles only once every part request has settled, so nothing is in flight after.
      report = await upload.done();
    } catch (error) {
      digester.destroy();
      body.destroy();
      await this.#cleanUp(error, objectKey, { uploadId: upload.uploadId, deleteObject: finalRequestSent });
      throw error;
    }

    try {
      const digest = digester.digest;
      const verifiedBy = verifyCompletedUpload(key, report, digest, upload.uploadId !== undefined);
      await this.client.send(
        new PutObjectTaggingCommand({
          Bucket: this.bucket,
          Key: objectKey,
          Tagging: { TagSet: [{ Key: SHA256_TAG, Value: digest.sha256Hex }] },
        }),
      );
      return { key, sizeBytes: digest.sizeBytes, sha256: digest.sha256Hex, verifiedBy };
    } catch (error) {
      await this.#cleanUp(error, objectKey, { deleteObject: true });
      throw error;
    }
  }

  async get(key: string, options: S3GetOptions = {}): Promise<Readable> {
    const objectKey = this.#objectKey(key);
    let expected = options.expectedSha256?.toLowerCase();
    if (expected !== undefined) assertSha256Hex(expected);
    if (options.verifyStoredSha256) {
      const stored = await this.storedSha256(key);
      if (stored === undefined) throw new Error(`stored object ${key} has no "${SHA256_TAG}" tag to verify against`);
      if (expected !== undefined && expected !== stored) {
        throw new ChecksumMismatchError(key, expected, stored, `"${SHA256_TAG}" tag`);
      }
      expected = stored;
    }
    let body: unknown;
    try {
      body = (await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }))).Body;
    } catch (error) {
      throw notFoundAsObjectNotFound(error, key);
    }
    if (!(body instanceof Readable)) throw new Error(`GetObject ${key} returned no Node.js stream`);
    return expected === undefined ? body : withSha256Check(body, key, expected);
  }

  /** The SHA-256 (hex) recorded as the object's `sha256` tag at upload, if any. */
  async storedSha256(key: string): Promise<string | undefined> {
    try {
      const { TagSet } = await this.client.send(new GetObjectTaggingCommand({ Bucket: this.bucket, Key: this.#objectKey(key) }));
      return TagSet?.find((tag) => tag.Key === SHA256_TAG)?.Value?.toLowerCase();
    } catch (error) {
      throw notFoundAsObjectNotFound(error, key);
    }
  }

  async size(key: string): Promise<number> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.#objectKey(key) }));
      return head.ContentLength ?? 0;
    } catch (error) {
      throw notFoundAsObjectNotFound(error, key);
    }
  }

  async delete(key: string): Promise<void> {
    // S3 answers 204 for a missing key too, so this is idempotent as it stands.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.#objectKey(key) }));
  }

  async *list(prefix: string): AsyncIterable<string> {
    let continuationToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.keyPrefix + prefix,
          MaxKeys: this.#listPageSize,
          ContinuationToken: continuationToken,
        }),
      );
      for (const object of page.Contents ?? []) {
        const key = object.Key?.slice(this.keyPrefix.length);
        // Skip "folder" placeholders and keys written by other tools that no backend could hold.
        if (key !== undefined && isValidKey(key)) yield key;
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
  }

  /**
   * Multipart uploads under the key prefix (and `prefix`) that were started and never completed
   * or aborted, e.g. by a worker that died mid-upload. Their parts are invisible but billed.
   */
  async *listIncompleteUploads(prefix = ""): AsyncIterable<IncompleteUpload> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.bucket,
          Prefix: this.keyPrefix + prefix,
          MaxUploads: this.#listPageSize,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }),
      );
      for (const upload of page.Uploads ?? []) {
        if (upload.Key === undefined || upload.UploadId === undefined) continue;
        yield { key: upload.Key.slice(this.keyPrefix.length), uploadId: upload.UploadId, initiated: upload.Initiated };
      }
      if (!page.IsTruncated || page.NextKeyMarker === undefined) return;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  /**
   * Recovery sweep: aborts incomplete multipart uploads initiated at least `olderThanMs` ms before
   * `now`, and returns them. Pick `olderThanMs` above the longest an upload can take (a live upload
   * older than that would be broken); a bucket lifecycle rule (AbortIncompleteMultipartUpload)
   * is the store-side safety net for the same thing.
   */
  async abortIncompleteUploads(olderThanMs: number, options: { now?: Date; prefix?: string } = {}): Promise<IncompleteUpload[]> {
    const cutoffMs = (options.now ?? new Date()).getTime() - olderThanMs;
    const stale: IncompleteUpload[] = [];
    for await (const upload of this.listIncompleteUploads(options.prefix)) {
      // An upload without a start time is left alone: it cannot be shown to be stale.
      if (upload.initiated !== undefined && upload.initiated.getTime() <= cutoffMs) stale.push(upload);
    }
    for (const upload of stale) await this.#abortUpload(this.keyPrefix + upload.key, upload.uploadId);
    return stale;
  }

  async discardIncomplete(prefix: string, shouldDiscard: (key: string) => boolean = () => true): Promise<string[]> {
    const discarded: string[] = [];
    for await (const upload of this.listIncompleteUploads(prefix)) {
      if (!shouldDiscard(upload.key)) continue;
      await this.#abortUpload(this.keyPrefix + upload.key, upload.uploadId);
      discarded.push(upload.key);
    }
    return discarded;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  #objectKey(key: string): string {
    assertValidKey(key);
    return this.keyPrefix + key;
  }

  async #abortUpload(objectKey: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: objectKey, UploadId: uploadId }));
    } catch (error) {
      // Already completed or aborted (by a concurrent sweep, or the failed request did land).
      if (!(error instanceof NoSuchUpload)) throw error;
    }
  }

  /** Best-effort removal of what a failed put left; failures are attached to `error` as its cause. */
  async #cleanUp(error: unknown, objectKey: string, what: { uploadId?: string | undefined; deleteObject: boolean }): Promise<void> {
    const failures: unknown[] = [];
    if (what.uploadId !== undefined) {
      await this.#abortUpload(objectKey, what.uploadId).catch((failure: unknown) => failures.push(failure));
    }
    if (what.deleteObject) {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey })).catch((failure: unknown) => failures.push(failure));
    }
    if (failures.length > 0 && error instanceof Error && error.cause === undefined) {
      error.cause = failures.length === 1 ? failures[0] : new AggregateError(failures, "cleanup after a failed upload failed");
    }
  }
}

function normalizeKeyPrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? "").replace(/^\/+|\/+$/g, "");
  if (trimmed === "") return "";
  if (!isValidKey(trimmed)) throw new Error(`invalid S3 key prefix "${prefix}"`);
  return `${trimmed}/`;
}

/** ObjectNotFoundError for "no such key" answers (a GET's NoSuchKey, a HEAD's bodiless 404). */
function notFoundAsObjectNotFound(error: unknown, key: string): unknown {
  const notFound =
    error instanceof NoSuchKey ||
    error instanceof NotFound ||
    (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404 && error.name !== "NoSuchBucket");
  return notFound ? new ObjectNotFoundError(key) : error;
}
