import { describe, expect, it } from "vitest";
import { createStorage, FilesystemStorage, S3Storage, s3ConfigFromEnv } from "./index.js";

const minimal = { S3_BUCKET: "backups", S3_ACCESS_KEY_ID: "AKID", S3_SECRET_ACCESS_KEY: "secret" };

describe("s3ConfigFromEnv", () => {
  it("is undefined without a bucket (empty counts as unset)", () => {
    expect(s3ConfigFromEnv({})).toBeUndefined();
    expect(s3ConfigFromEnv({ S3_BUCKET: "  ", S3_ACCESS_KEY_ID: "AKID" })).toBeUndefined();
  });

  it("reads every variable", () => {
    expect(
      s3ConfigFromEnv({
        ...minimal,
        S3_ENDPOINT: "http://127.0.0.1:9000",
        S3_REGION: "eu-west-3",
        S3_FORCE_PATH_STYLE: "false",
        S3_KEY_PREFIX: "capy/prod",
      }),
    ).toEqual({
      endpoint: "http://127.0.0.1:9000",
      region: "eu-west-3",
      bucket: "backups",
      accessKeyId: "AKID",
      secretAccessKey: "secret",
      forcePathStyle: false,
      keyPrefix: "capy/prod",
    });
  });

  it("defaults the region, and path-style to on with a custom endpoint only", () => {
    expect(s3ConfigFromEnv(minimal)).toEqual({ region: "us-east-1", forcePathStyle: false, bucket: "backups", accessKeyId: "AKID", secretAccessKey: "secret" });
    expect(s3ConfigFromEnv({ ...minimal, S3_ENDPOINT: "https://s3.example.test" })?.forcePathStyle).toBe(true);
    expect(s3ConfigFromEnv({ ...minimal, S3_FORCE_PATH_STYLE: "1" })?.forcePathStyle).toBe(true);
  });

  it("names every missing or malformed variable", () => {
    expect(() => s3ConfigFromEnv({ S3_BUCKET: "b", S3_ENDPOINT: "minio:9000", S3_FORCE_PATH_STYLE: "maybe" })).toThrow(
      /S3_ENDPOINT must be an http\(s\) URL.*S3_ACCESS_KEY_ID is required.*S3_SECRET_ACCESS_KEY is required.*S3_FORCE_PATH_STYLE must be true or false/,
    );
  });
});

describe("createStorage", () => {
  it("keeps the filesystem backend for { storageDir } and for an S3 config without a bucket", () => {
    expect(createStorage({ storageDir: "./.data" })).toBeInstanceOf(FilesystemStorage);
    expect(
      createStorage({ storageDir: "./.data", s3: { region: "us-east-1", bucket: "", accessKeyId: "a", secretAccessKey: "s", forcePathStyle: true } }),
    ).toBeInstanceOf(FilesystemStorage);
    expect(createStorage({ storageDir: "./.data", s3: s3ConfigFromEnv({}) })).toBeInstanceOf(FilesystemStorage);
  });

  it("selects S3 when a bucket is configured", async () => {
    const storage = createStorage({ storageDir: "./.data", s3: s3ConfigFromEnv({ ...minimal, S3_KEY_PREFIX: "capy" }) });
    expect(storage).toBeInstanceOf(S3Storage);
    expect((storage as S3Storage).keyPrefix).toBe("capy/");
    await storage.close?.();
  });

  it("takes the multipart part size from S3_PART_SIZE_MIB, and rejects one below S3's 5 MiB minimum", async () => {
    const storage = createStorage({ storageDir: "./.data", s3: s3ConfigFromEnv({ ...minimal, S3_PART_SIZE_MIB: "32" }) }) as S3Storage;
    expect(storage.partSizeBytes).toBe(32 * 1024 * 1024);
    await storage.close?.();
    expect(() => s3ConfigFromEnv({ ...minimal, S3_PART_SIZE_MIB: "4" })).toThrow(/S3_PART_SIZE_MIB must be a whole number from 5 to 5120/);
  });
});
