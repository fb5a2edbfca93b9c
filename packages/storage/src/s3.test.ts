// S3Storage against a real S3-protocol HTTP server (s3rver in a child process: startS3Server from @capy/testing), directly
// and through a fault-injecting proxy (testing/fault-proxy.ts). No mocked SDK.
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, ListMultipartUploadsCommand, S3Client, UploadPartCommand } from "@aws-sdk/client-s3";
import { S3RVER_CREDENTIALS, type S3TestServer, startS3Server } from "@capy/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { attemptArtifactKey, attemptOfArtifactKey, jobArtifactPrefix } from "./index.js";
import { S3Storage, type S3StorageOptions } from "./s3.js";
import type { S3Config } from "./s3-config.js";
import { ChecksumMismatchError, ObjectNotFoundError } from "./storage.js";
import { drain, expectedSha256, firstDifference, flipByte, generatedBody, MiB } from "./testing/bytes.js";
import { type ContractSubject, describeStorageContract } from "./testing/contract.js";
import { type FaultProxy, startFaultProxy } from "./testing/fault-proxy.js";

const KEY_PREFIX = "capy/test";
/** S3's smallest part size: multi-part uploads with a few MiB of test data. */
const TEST_PART_SIZE = 5 * MiB;

let server: S3TestServer;
let proxy: FaultProxy;
const storages: S3Storage[] = [];

function s3Config(endpoint: string, keyPrefix: string | undefined): S3Config {
  return {
    endpoint,
    region: "us-east-1",
    bucket: server.bucket,
    ...S3RVER_CREDENTIALS,
    forcePathStyle: true,
    ...(keyPrefix !== undefined && { keyPrefix }),
  };
}

/** An S3Storage with small parts and pages, so multipart upload and pagination run on little data. */
function makeStorage(options: S3StorageOptions & { endpoint?: string; keyPrefix?: string | undefined } = {}): S3Storage {
  const { endpoint, keyPrefix, ...tuning } = options;
  const storage = new S3Storage(s3Config(endpoint ?? server.endpoint, "keyPrefix" in options ? keyPrefix : KEY_PREFIX), {
    partSizeBytes: TEST_PART_SIZE,
    queueSize: 2,
    listPageSize: 2,
    ...tuning,
  });
  storages.push(storage);
  return storage;
}

async function expectNoUploadsLeft(storage: S3Storage, key: string): Promise<void> {
  // Through the protocol (ListMultipartUploads) and, independently, on s3rver's disk.
  const listed: string[] = [];
  for await (const upload of storage.listIncompleteUploads(key)) if (upload.key === key) listed.push(upload.uploadId);
  expect(listed).toEqual([]);
  expect(await server.pendingUploadIds(storage.keyPrefix + key)).toEqual([]);
}

async function expectNothingStored(storage: S3Storage, key: string): Promise<void> {
  await expect(storage.size(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
  await expectNoUploadsLeft(storage, key);
}

beforeAll(async () => {
  server = await startS3Server();
  proxy = await startFaultProxy(server.port);
});

afterAll(async () => {
  await Promise.all(storages.map((storage) => storage.close()));
  await proxy?.close();
  await server?.close();
});

afterEach(() => proxy.clear());

let contractSubject: ContractSubject | undefined;
describeStorageContract("s3 (s3rver)", () => {
  if (contractSubject) return contractSubject;
  const storage = makeStorage();
  contractSubject = {
    storage,
    expectNoLeftovers: (key) => expectNoUploadsLeft(storage, key),
    corruptStoredObject: (key) => flipByte(server.objectPath(storage.keyPrefix + key), 1000),
  };
  return contractSubject;
});

describe("S3Storage", () => {
  it("uploads with the default 8 MiB parts, 2 at a time, and verifies the result", async () => {
    const storage = makeStorage({ endpoint: proxy.endpoint, partSizeBytes: undefined, queueSize: undefined });
    expect([storage.partSizeBytes, storage.queueSize]).toEqual([8 * MiB, 2]);
    const key = "defaults/large.dump";
    const sizeBytes = 40 * MiB + 1;
    const stored = await storage.put(key, generatedBody(key, sizeBytes).stream);
    expect(stored).toEqual({ key, sizeBytes, sha256: expectedSha256(key, sizeBytes), verifiedBy: "etag-md5" });
    const operations = proxy.log.map((request) => request.operation);
    expect(operations).toEqual(["CreateMultipartUpload", ...Array(6).fill("UploadPart"), "CompleteMultipartUpload", "PutObjectTagging"]);
    // The upload is created as a SHA-256 one and each part carries its SHA-256 as a plain header
    // (what AWS S3 verifies and needs to complete such an upload), never as aws-chunked.
    expect(proxy.log[0]).toMatchObject({ operation: "CreateMultipartUpload", checksumAlgorithm: "SHA256" });
    const parts = proxy.log.filter((request) => request.operation === "UploadPart");
    expect(parts.every((request) => request.checksumSha256 !== undefined && request.contentEncoding === undefined)).toBe(true);
    const firstPart = parts.find((request) => request.partNumber === 1);
    expect(firstPart?.checksumSha256).toBe(Buffer.from(expectedSha256(key, 8 * MiB), "hex").toString("base64"));
    expect(await firstDifference(await storage.get(key), key, sizeBytes)).toBe(-1);
  });

  it("sends a body of at most one part as a single PutObject", async () => {
    const storage = makeStorage({ endpoint: proxy.endpoint });
    const stored = await storage.put("single/exact-part", generatedBody("exact", TEST_PART_SIZE).stream);
    expect(stored.verifiedBy).toBe("etag-md5");
    expect(proxy.log.map((request) => request.operation)).toEqual(["PutObject", "PutObjectTagging"]);
    expect(proxy.log[0]).toMatchObject({ checksumSha256: Buffer.from(stored.sha256, "hex").toString("base64") });
    expect(proxy.log[0]?.contentEncoding).toBeUndefined();
  });

  it("stores keys under the key prefix and lists them without it", async () => {
    const storage = makeStorage({ keyPrefix: "/tenant-a/" });
    const unprefixed = makeStorage({ keyPrefix: undefined });
    expect(storage.keyPrefix).toBe("tenant-a/");
    await storage.put("projects/p1/backups/b1.dump", generatedBody("p", 10).stream);
    const raw: string[] = [];
    for await (const key of unprefixed.list("tenant-a/")) raw.push(key);
    expect(raw).toEqual(["tenant-a/projects/p1/backups/b1.dump"]);
    const listed: string[] = [];
    for await (const key of storage.list("projects/")) listed.push(key);
    expect(listed).toEqual(["projects/p1/backups/b1.dump"]);
    expect(() => makeStorage({ keyPrefix: "../up" })).toThrow(/invalid S3 key prefix/);
  });

  it("records the sha256 as an object tag and verifies readers against it on request", async () => {
    const storage = makeStorage();
    const key = "tagged/object.dump";
    const stored = await storage.put(key, generatedBody(key, 6 * MiB).stream);
    expect(await storage.storedSha256(key)).toBe(stored.sha256);
    expect(await drain(await storage.get(key, { verifyStoredSha256: true }))).toEqual({ sizeBytes: 6 * MiB, sha256: stored.sha256 });
    // A caller's recorded value that contradicts the tag fails before any byte is read.
    await expect(storage.get(key, { verifyStoredSha256: true, expectedSha256: "ab".repeat(32) })).rejects.toBeInstanceOf(ChecksumMismatchError);
    await flipByte(server.objectPath(storage.keyPrefix + key), 5 * MiB + 7);
    await expect(drain(await storage.get(key, { verifyStoredSha256: true }))).rejects.toBeInstanceOf(ChecksumMismatchError);
    await expect(storage.storedSha256("tagged/missing")).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  describe("rejects an upload whose bytes were altered in transit, and keeps nothing", () => {
    // s3rver ignores x-amz-checksum-sha256, so the corrupted request is accepted; the ETag it
    // returns is the MD5 of what it stored, which no longer matches what we sent.
    for (const [name, target, sizeBytes] of [
      ["a single PutObject", "PutObject", 3 * MiB],
      ["part 2 of a multipart upload", { partNumber: 2 }, 12 * MiB],
    ] as const) {
      it(name, async () => {
        const storage = makeStorage({ endpoint: proxy.endpoint });
        const key = `corrupted/${sizeBytes}.dump`;
        proxy.inject({ kind: "corrupt-body", target });
        const error = await storage.put(key, generatedBody(key, sizeBytes).stream).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(ChecksumMismatchError);
        expect(error).toMatchObject({ key, what: "ETag" });
        await expectNothingStored(storage, key);
      });
    }
  });

  it("aborts the multipart upload and stops reading the body when a part fails for good", async () => {
    const storage = makeStorage({ endpoint: proxy.endpoint, maxAttempts: 2 });
    const key = "failing/server-error.dump";
    const sizeBytes = 20 * TEST_PART_SIZE;
    proxy.inject({ kind: "server-error", target: { partNumber: 2 } });
    const body = generatedBody(key, sizeBytes);
    await expect(storage.put(key, body.stream)).rejects.toMatchObject({ name: "InternalError" });
    expect(proxy.log.filter((request) => request.partNumber === 2)).toHaveLength(2); // both attempts
    expect(proxy.log.map((request) => request.operation)).toContain("AbortMultipartUpload");
    expect(proxy.log.map((request) => request.operation)).not.toContain("CompleteMultipartUpload");
    // The upload stops reading at the failure instead of sending the remaining parts (3 or 4 of
    // the 20 parts are read in practice; 6 leaves room for the SDK's retry delay).
    expect(body.producedBytes).toBeLessThanOrEqual(6 * TEST_PART_SIZE);
    expect(body.stream.destroyed).toBe(true);
    await expectNothingStored(storage, key);
  });

  it("rejects and keeps nothing when the connection drops during a single PutObject", async () => {
    const storage = makeStorage({ endpoint: proxy.endpoint, maxAttempts: 2 });
    const key = "failing/reset.dump";
    proxy.inject({ kind: "connection-reset", target: "PutObject" });
    await expect(storage.put(key, generatedBody(key, 1 * MiB).stream)).rejects.toThrow();
    // The final request was sent (and may have landed), so the object is deleted to be sure.
    expect(proxy.log.map((request) => request.operation)).toContain("DeleteObject");
    await expectNothingStored(storage, key);
  });

  it("gives up on a store that takes a part and never answers, and aborts the upload", async () => {
    const storage = makeStorage({ endpoint: proxy.endpoint, maxAttempts: 1, requestTimeoutMs: 500 });
    const key = "failing/hung.dump";
    proxy.inject({ kind: "no-response", target: { partNumber: 1 } });
    await expect(storage.put(key, generatedBody(key, 3 * TEST_PART_SIZE).stream)).rejects.toMatchObject({
      name: "TimeoutError",
    });
    expect(proxy.log.map((request) => request.operation)).toContain("AbortMultipartUpload");
    await expectNothingStored(storage, key);
  });

  it("lists incomplete uploads page by page and aborts only those older than the cut-off", async () => {
    const storage = makeStorage();
    const other = makeStorage({ keyPrefix: "other-tenant" });
    // Uploads a crashed worker would leave: created, one part sent, never completed.
    const strays = ["crashed/a.dump", "crashed/b.dump", "crashed/c.dump"];
    for (const key of strays) await startStrayUpload(storage.client, storage.keyPrefix + key);
    const foreign = await startStrayUpload(other.client, `${other.keyPrefix}crashed/x.dump`);

    const listed: string[] = [];
    for await (const upload of storage.listIncompleteUploads("crashed/")) {
      expect(upload.initiated).toBeInstanceOf(Date);
      listed.push(upload.key);
    }
    expect(listed.sort()).toEqual(strays); // 3 uploads over pages of 2

    const now = new Date();
    expect(await storage.abortIncompleteUploads(60 * 60_000, { now })).toEqual([]);
    const twoHoursLater = new Date(now.getTime() + 2 * 60 * 60_000);
    const aborted = await storage.abortIncompleteUploads(60 * 60_000, { now: twoHoursLater });
    expect(aborted.map((upload) => upload.key).sort()).toEqual(strays);
    for (const key of strays) await expectNoUploadsLeft(storage, key);
    // Another key prefix is another tenant's: untouched.
    expect(await server.pendingUploadIds(`${other.keyPrefix}crashed/x.dump`)).toEqual([foreign]);
    await other.client.send(new AbortMultipartUploadCommand({ Bucket: server.bucket, Key: `${other.keyPrefix}crashed/x.dump`, UploadId: foreign }));
  });

  it("discards the incomplete uploads of chosen keys under a prefix, whatever their age", async () => {
    const storage = makeStorage();
    const first = attemptArtifactKey("p1", "job_7", 1, "bkp_a");
    const second = attemptArtifactKey("p1", "job_7", 2, "bkp_b");
    const otherJob = attemptArtifactKey("p1", "job_70", 1, "bkp_x");
    for (const key of [first, second, otherJob]) await startStrayUpload(storage.client, storage.keyPrefix + key);

    const prefix = jobArtifactPrefix("p1", "job_7");
    expect(await storage.discardIncomplete(prefix, (key) => (attemptOfArtifactKey(key) ?? Infinity) < 2)).toEqual([first]);
    await expectNoUploadsLeft(storage, first);
    expect(await storage.discardIncomplete(prefix)).toEqual([second]);
    await expectNoUploadsLeft(storage, second);
    // Another job's prefix only shares text with this one: untouched.
    expect(await storage.discardIncomplete(jobArtifactPrefix("p1", "job_70"))).toEqual([otherJob]);
  });

  it("validates its tuning", () => {
    expect(() => makeStorage({ partSizeBytes: 5 * MiB - 1 })).toThrow(/partSizeBytes/);
    expect(() => makeStorage({ queueSize: 0 })).toThrow(/queueSize/);
    expect(() => makeStorage({ listPageSize: 1001 })).toThrow(/listPageSize/);
  });
});

describe("stock s3rver 3.7.1 (why the @capy/testing harness adds two operations)", () => {
  let stock: S3TestServer;
  let client: S3Client;

  beforeAll(async () => {
    stock = await startS3Server({ multipartCleanup: false });
    client = new S3Client({
      endpoint: stock.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: S3RVER_CREDENTIALS,
      maxAttempts: 1,
    });
  });

  afterAll(async () => {
    client?.destroy();
    await stock?.close();
  });

  it("answers AbortMultipartUpload with 405 and ListMultipartUploads with 501", async () => {
    const uploadId = await startStrayUpload(client, "stray.dump", stock.bucket);
    await expect(client.send(new AbortMultipartUploadCommand({ Bucket: stock.bucket, Key: "stray.dump", UploadId: uploadId }))).rejects.toMatchObject({
      name: "MethodNotAllowed",
      $metadata: { httpStatusCode: 405 },
    });
    await expect(client.send(new ListMultipartUploadsCommand({ Bucket: stock.bucket }))).rejects.toMatchObject({
      name: "NotImplemented",
      $metadata: { httpStatusCode: 501 },
    });
    expect(await stock.pendingUploadIds("stray.dump")).toEqual([uploadId]);
  });
});

/** Starts a multipart upload and sends one 5 MiB part, like a worker that died mid-upload. */
async function startStrayUpload(client: S3Client, objectKey: string, bucket = server.bucket): Promise<string> {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: objectKey }));
  if (!UploadId) throw new Error("CreateMultipartUpload returned no UploadId");
  await client.send(new UploadPartCommand({ Bucket: bucket, Key: objectKey, UploadId, PartNumber: 1, Body: Buffer.alloc(TEST_PART_SIZE, 7) }));
  return UploadId;
}
